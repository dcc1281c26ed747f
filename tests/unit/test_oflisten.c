/*
 * Unit tests for the oflisten module: target parsing, passive unix and TCP
 * listeners, and active connections that retry until a listener appears.
 * Everything runs on a libev loop in this process, in a temporary
 * directory, with deadlines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "oflisten.h"
#include "openvswitch/vlog.h"
#include "util.h"

#define DEADLINE 5.0 /* Seconds. */
#define MAX_CONNS 8

struct conn_rec {
    int fd;
    char *peer;
    struct oflisten_active *active;
};

struct fixture {
    struct ev_loop *loop;
    ev_timer tick;
    char dir[64];
    int n_conns;
    struct conn_rec conns[MAX_CONNS];
};

static void
tick_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w OVS_UNUSED,
        int revents OVS_UNUSED)
{
}

static void
on_conn(int fd, const char *peer, struct oflisten_active *active, void *f_)
{
    struct fixture *f = f_;
    assert_true(f->n_conns < MAX_CONNS);
    struct conn_rec *c = &f->conns[f->n_conns++];
    c->fd = fd;
    c->peer = xstrdup(peer);
    c->active = active;
}

static int
setup(void **state)
{
    struct fixture *f = xzalloc(sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    ev_timer_init(&f->tick, tick_cb, 0.01, 0.01);
    ev_timer_start(f->loop, &f->tick);
    snprintf(f->dir, sizeof f->dir, "/tmp/test-oflisten-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    *state = f;
    return 0;
}

static void
close_conns(struct fixture *f)
{
    for (int i = 0; i < f->n_conns; i++) {
        close(f->conns[i].fd);
        free(f->conns[i].peer);
    }
    f->n_conns = 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    close_conns(f);
    ev_timer_stop(f->loop, &f->tick);
    ev_loop_destroy(f->loop);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static char *
path_in(const struct fixture *f, const char *name)
{
    return xasprintf("%s/%s", f->dir, name);
}

static void
run_until_conns(struct fixture *f, int n, double timeout)
{
    double deadline = ev_time() + timeout;
    while (f->n_conns < n && ev_time() < deadline) {
        ev_run(f->loop, EVRUN_ONCE);
    }
    assert_int_equal(f->n_conns, n);
}

static void
run_for(struct fixture *f, double seconds)
{
    double end = ev_time() + seconds;
    while (ev_time() < end) {
        ev_run(f->loop, EVRUN_ONCE);
    }
}

/* A plain blocking client connection to unix socket 'path', or -1. */
static int
unix_connect(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A bound, not listening, then closed unix socket: a stale file. */
static void
make_stale_socket(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, path, sizeof sun.sun_path);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close(fd);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
}

/* Target parsing. */

static void
expect_target(const char *target, int kind, int family, const char *addr,
              int port)
{
    struct sockaddr_storage ss;
    unsigned int len = 0;
    int k = -1;

    if (oflisten_parse_target(target, &k, &ss, &len)) {
        fail_msg("\"%s\" refused", target);
    }
    assert_int_equal(k, kind);
    assert_int_equal(ss.ss_family, family);
    if (family == AF_INET) {
        const struct sockaddr_in *sin = (const void *) &ss;
        char buf[INET_ADDRSTRLEN];
        assert_int_equal(len, sizeof *sin);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        assert_string_equal(buf, addr);
        assert_int_equal(ntohs(sin->sin_port), port);
    } else if (family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *) &ss;
        char buf[INET6_ADDRSTRLEN];
        assert_int_equal(len, sizeof *sin6);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        assert_string_equal(buf, addr);
        assert_int_equal(ntohs(sin6->sin6_port), port);
    } else {
        const struct sockaddr_un *sun = (const void *) &ss;
        assert_string_equal(sun->sun_path, addr);
    }
}

static void
test_parse_good(void **state OVS_UNUSED)
{
    expect_target("ptcp:6653", OFLISTEN_PTCP, AF_INET, "127.0.0.1", 6653);
    expect_target("ptcp:6653:127.0.0.1", OFLISTEN_PTCP, AF_INET, "127.0.0.1",
                  6653);
    expect_target("ptcp:0:0.0.0.0", OFLISTEN_PTCP, AF_INET, "0.0.0.0", 0);
    expect_target("ptcp:6633:[::1]", OFLISTEN_PTCP, AF_INET6, "::1", 6633);
    expect_target("ptcp:65535:[2001:db8::1]", OFLISTEN_PTCP, AF_INET6,
                  "2001:db8::1", 65535);
    expect_target("tcp:192.0.2.1:6653", OFLISTEN_TCP, AF_INET, "192.0.2.1",
                  6653);
    expect_target("tcp:[2001:db8::2]:1", OFLISTEN_TCP, AF_INET6, "2001:db8::2",
                  1);
    expect_target("punix:/run/of.sock", OFLISTEN_PUNIX, AF_UNIX,
                  "/run/of.sock", 0);
    expect_target("unix:relative.sock", OFLISTEN_UNIX, AF_UNIX,
                  "relative.sock", 0);

    /* The longest path that fits a unix socket address. */
    struct sockaddr_un sun;
    char path[sizeof sun.sun_path];
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    char *target = xasprintf("unix:%s", path);
    expect_target(target, OFLISTEN_UNIX, AF_UNIX, path, 0);
    free(target);
}

static void
test_parse_bad(void **state OVS_UNUSED)
{
    struct sockaddr_un sun;
    char path[sizeof sun.sun_path + 1];
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    char *too_long = xasprintf("punix:%s", path);

    const char *bad[] = {
        "",
        "6653",
        "ptcp",
        "ptcp:",
        "ptcp:abc",
        "ptcp:6653x",
        "ptcp:65536",
        "ptcp:-1",
        "ptcp:6653:",
        "ptcp:6653:localhost",
        "ptcp:6653:192.0.2.256",
        "tcp:",
        "tcp:192.0.2.1",
        "tcp:192.0.2.1:",
        "tcp:192.0.2.1:0",
        "tcp:192.0.2.1:65536",
        "tcp:example.com:6653",
        "tcp:[2001:db8::1:6653",
        "punix:",
        "unix:",
        too_long,
        "ssl:192.0.2.1",
        "pssl:",
        "pssl:x",
        "PTCP:6653",
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct sockaddr_storage ss;
        unsigned int len;
        int kind;
        if (!oflisten_parse_target(bad[i], &kind, &ss, &len)) {
            fail_msg("\"%s\" accepted", bad[i]);
        }
    }

    /* oflisten_add() refuses them with a message and changes nothing. */
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct oflisten *ol = oflisten_create(loop, on_conn, NULL);
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *error;
        assert_int_equal(oflisten_add(ol, bad[i], &error), EINVAL);
        assert_non_null(error);
        assert_non_null(strstr(error, "invalid OpenFlow target"));
        free(error);
    }
    oflisten_destroy(ol);
    oflisten_destroy(NULL);
    ev_loop_destroy(loop);
    free(too_long);
}

/* Passive unix. */

static void
test_punix_accepts(void **state)
{
    struct fixture *f = *state;
    char *path = path_in(f, "of.sock");
    char *target = xasprintf("punix:%s", path);
    char *error;

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, target, &error), 0);
    assert_null(error);

    int c1 = unix_connect(path);
    int c2 = unix_connect(path);
    assert_true(c1 >= 0 && c2 >= 0);
    run_until_conns(f, 2, DEADLINE);
    for (int i = 0; i < 2; i++) {
        assert_null(f->conns[i].active);
        assert_non_null(strstr(f->conns[i].peer, target));
    }
    /* The accepted sockets are the clients' peers. */
    assert_int_equal(write(c1, "x", 1), 1);
    char buf;
    double deadline = ev_time() + DEADLINE;
    ssize_t n;
    while ((n = read(f->conns[0].fd, &buf, 1)) < 0 && ev_time() < deadline) {
        assert_true(errno == EAGAIN);
        run_for(f, 0.01);
    }
    assert_int_equal(n, 1);

    /* Destroying the listener removes its socket file. */
    oflisten_destroy(ol);
    struct stat st;
    assert_int_equal(stat(path, &st), -1);
    assert_int_equal(errno, ENOENT);
    close(c1);
    close(c2);
    free(target);
    free(path);
}

static void
test_punix_refuses_live_socket(void **state)
{
    struct fixture *f = *state;
    char *path = path_in(f, "of.sock");
    char *target = xasprintf("punix:%s", path);
    char *error;

    struct oflisten *a = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(a, target, &error), 0);

    struct oflisten *b = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(b, target, &error), EADDRINUSE);
    assert_non_null(error);
    assert_non_null(strstr(error, "another process listens"));
    free(error);
    oflisten_destroy(b);

    /* The liveness check was a connection to the first listener, closed
     * at once: its owner sees a connection that ends (EOF). */
    run_until_conns(f, 1, DEADLINE);
    char buf;
    double deadline = ev_time() + DEADLINE;
    ssize_t n;
    while ((n = read(f->conns[0].fd, &buf, 1)) < 0 && ev_time() < deadline) {
        assert_true(errno == EAGAIN);
        run_for(f, 0.01);
    }
    assert_int_equal(n, 0);

    /* The first listener still works. */
    int c = unix_connect(path);
    assert_true(c >= 0);
    run_until_conns(f, 2, DEADLINE);
    close(c);
    oflisten_destroy(a);
    free(target);
    free(path);
}

static void
test_punix_replaces_stale_socket(void **state)
{
    struct fixture *f = *state;
    char *path = path_in(f, "of.sock");
    char *target = xasprintf("punix:%s", path);
    char *error;

    make_stale_socket(path);
    assert_int_equal(unix_connect(path), -1);

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, target, &error), 0);
    assert_null(error);
    int c = unix_connect(path);
    assert_true(c >= 0);
    run_until_conns(f, 1, DEADLINE);
    close(c);
    oflisten_destroy(ol);
    free(target);
    free(path);
}

static void
test_punix_refuses_regular_file(void **state)
{
    struct fixture *f = *state;
    char *path = path_in(f, "file");
    char *target = xasprintf("punix:%s", path);
    char *error;

    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs("keep me\n", file);
    fclose(file);

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, target, &error), EEXIST);
    assert_non_null(strstr(error, "not a socket"));
    free(error);
    oflisten_destroy(ol);

    /* Untouched. */
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_size, 8);
    free(target);
    free(path);
}

static void
test_punix_bad_directory(void **state)
{
    struct fixture *f = *state;
    char *target = xasprintf("punix:%s/missing/of.sock", f->dir);
    char *error;

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, target, &error), ENOENT);
    assert_non_null(strstr(error, target));
    free(error);
    oflisten_destroy(ol);
    free(target);
}

/* Active unix. */

static void
test_active_unix_retries(void **state)
{
    struct fixture *f = *state;
    char *path = path_in(f, "switch.sock");
    char *active = xasprintf("unix:%s", path);
    char *passive = xasprintf("punix:%s", path);
    char *error;

    /* Nobody listens yet: the target is accepted and retried. */
    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, active, &error), 0);
    assert_null(error);
    run_for(f, 0.2);
    assert_int_equal(f->n_conns, 0);

    /* The "switch" starts listening (another oflisten, passive). */
    struct oflisten *sw = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(sw, passive, &error), 0);

    /* First retry after 1 s: both sides see the connection. */
    run_until_conns(f, 2, DEADLINE);
    struct oflisten_active *a = NULL;
    int n_passive = 0;
    for (int i = 0; i < 2; i++) {
        if (f->conns[i].active) {
            a = f->conns[i].active;
            assert_string_equal(f->conns[i].peer, active);
        } else {
            n_passive++;
        }
    }
    assert_non_null(a);
    assert_int_equal(n_passive, 1);

    /* Losing the connection: reconnect after the backoff (1 s again, as
     * it was reset by the success). */
    close_conns(f);
    double lost = ev_time();
    oflisten_active_lost(a);
    oflisten_active_lost(a); /* Twice: still one reconnection. */
    run_until_conns(f, 2, DEADLINE);
    assert_true(ev_time() - lost >= 0.9);
    assert_true(ev_time() - lost < 3.0);
    run_for(f, 0.1);
    assert_int_equal(f->n_conns, 2);

    oflisten_destroy(ol);
    oflisten_destroy(sw);
    free(passive);
    free(active);
    free(path);
}

/* TCP: a listener on a free loopback port and an active connection to
 * it. */

static int
free_tcp_port(void)
{
    struct sockaddr_in sin
        = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(bind(fd, (struct sockaddr *) &sin, sizeof sin), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *) &sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static void
test_tcp(void **state)
{
    struct fixture *f = *state;
    int port = free_tcp_port();
    char *passive = xasprintf("ptcp:%d:127.0.0.1", port);
    char *active = xasprintf("tcp:127.0.0.1:%d", port);
    char *error;

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, passive, &error), 0);

    /* The same port again is in use. */
    struct oflisten *other = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(other, passive, &error), EADDRINUSE);
    assert_non_null(error);
    free(error);
    oflisten_destroy(other);

    assert_int_equal(oflisten_add(ol, active, &error), 0);
    run_until_conns(f, 2, DEADLINE);
    bool seen_active = false, seen_passive = false;
    for (int i = 0; i < 2; i++) {
        if (f->conns[i].active) {
            seen_active = true;
            assert_string_equal(f->conns[i].peer, active);
        } else {
            seen_passive = true;
            assert_non_null(strstr(f->conns[i].peer, "tcp:127.0.0.1:"));
        }
    }
    assert_true(seen_active && seen_passive);
    oflisten_destroy(ol);
    free(passive);
    free(active);
}

/* An active TCP target that refuses: no connection, no crash, and the
 * listener can be destroyed while a retry is pending. */
static void
test_tcp_refused(void **state)
{
    struct fixture *f = *state;
    char *active = xasprintf("tcp:127.0.0.1:%d", free_tcp_port());
    char *error;

    struct oflisten *ol = oflisten_create(f->loop, on_conn, f);
    assert_int_equal(oflisten_add(ol, active, &error), 0);
    run_for(f, 0.3);
    assert_int_equal(f->n_conns, 0);
    oflisten_destroy(ol);
    free(active);
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    if (getenv("TEST_VERBOSE")) {
        vlog_set_levels(NULL, VLF_CONSOLE, VLL_DBG);
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_good),
        cmocka_unit_test(test_parse_bad),
        cmocka_unit_test_setup_teardown(test_punix_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_punix_refuses_live_socket, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_punix_replaces_stale_socket,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_punix_refuses_regular_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_punix_bad_directory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_active_unix_retries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
