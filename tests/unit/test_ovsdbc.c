/* Unit tests of ovsdbc: the snapshot model (built by hand), and the client
 * with its thread against a private ovsdb-server (no root needed; skipped
 * when ovsdb-server is not installed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <jansson.h>

#include "cfgtest.h"
#include "config.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "util.h"

extern char **environ;

#define SCHEMA "/usr/share/openvswitch/vswitch.ovsschema"

/* The snapshot model. */

static void
set_iface(struct ovsdbc_iface *i, struct ovsdbc_port *port, const char *name,
          int64_t ofport, const char *iface_id)
{
    i->name = xstrdup(name);
    i->ofport = ofport;
    i->iface_id = iface_id ? xstrdup(iface_id) : NULL;
    i->port = port;
}

/* br0: ports "a" (ifaces a: vm-1), "b" (b: vm-2, b2: vm-1), "c" (tag 10,
 * no iface-id); br1: port "z". */
static struct ovsdbc_snap *
make_snap(void)
{
    struct ovsdbc_snap *s = xzalloc(sizeof *s);
    ovs_refcount_init(&s->ref);
    s->seq = 1;
    s->has_ovs_row = true;
    s->cur_cfg = s->next_cfg = 3;
    s->n_bridges = 2;
    s->bridges = xcalloc(2, sizeof *s->bridges);

    struct ovsdbc_bridge *br = &s->bridges[0];
    br->name = xstrdup("br0");
    br->has_datapath_id = true;
    br->datapath_id = 0xaa;
    br->fail_mode = OVSDBC_FAIL_SECURE;
    br->n_controllers = 1;
    br->controllers = xmalloc(sizeof *br->controllers);
    br->controllers[0] = xstrdup("unix:/run/vmacd/openflow.sock");
    br->n_ports = 3;
    br->ports = xcalloc(3, sizeof *br->ports);
    const char *names[] = { "a", "b", "c" };
    for (size_t p = 0; p < 3; p++) {
        struct ovsdbc_port *port = &br->ports[p];
        port->name = xstrdup(names[p]);
        port->tag = -1;
        port->bridge = br;
    }
    br->ports[0].n_ifaces = 1;
    br->ports[0].ifaces = xcalloc(1, sizeof *br->ports[0].ifaces);
    set_iface(&br->ports[0].ifaces[0], &br->ports[0], "a", 1, "vm-1");
    br->ports[1].n_ifaces = 2;
    br->ports[1].ifaces = xcalloc(2, sizeof *br->ports[1].ifaces);
    set_iface(&br->ports[1].ifaces[0], &br->ports[1], "b", 2, "vm-2");
    set_iface(&br->ports[1].ifaces[1], &br->ports[1], "b2", -1, "vm-1");
    br->ports[2].tag = 10;
    br->ports[2].vlan_mode = OVSDBC_VLAN_ACCESS;
    br->ports[2].n_trunks = 2;
    br->ports[2].trunks = xmalloc(2 * sizeof *br->ports[2].trunks);
    br->ports[2].trunks[0] = 10;
    br->ports[2].trunks[1] = 20;
    br->ports[2].n_ifaces = 1;
    br->ports[2].ifaces = xcalloc(1, sizeof *br->ports[2].ifaces);
    set_iface(&br->ports[2].ifaces[0], &br->ports[2], "c", 3, NULL);
    br->ports[2].ifaces[0].has_attached_mac = true;
    br->ports[2].ifaces[0].attached_mac
        = (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 00, 0c);

    br = &s->bridges[1];
    br->name = xstrdup("br1");
    br->n_ports = 1;
    br->ports = xcalloc(1, sizeof *br->ports);
    br->ports[0].name = xstrdup("z");
    br->ports[0].tag = -1;
    br->ports[0].bridge = br;
    return s;
}

static void
test_snap_model(void **state OVS_UNUSED)
{
    struct ovsdbc_snap *s = make_snap();
    const struct ovsdbc_bridge *br0 = ovsdbc_snap_bridge(s, "br0");
    assert_non_null(br0);
    assert_ptr_equal(ovsdbc_snap_bridge(s, "br1"), &s->bridges[1]);
    assert_null(ovsdbc_snap_bridge(s, "br2"));
    assert_null(ovsdbc_snap_bridge(NULL, "br0"));
    assert_ptr_equal(ovsdbc_snap_bridge_by_dpid(s, 0xaa), br0);
    assert_null(ovsdbc_snap_bridge_by_dpid(s, 0)); /* br1 has none. */
    assert_string_equal(ovsdbc_bridge_port(br0, "c")->name, "c");
    assert_null(ovsdbc_bridge_port(br0, "d"));
    assert_null(ovsdbc_bridge_port(&s->bridges[1], "a"));
    const struct ovsdbc_iface *i = ovsdbc_bridge_iface(br0, "b2");
    assert_non_null(i);
    assert_string_equal(i->port->name, "b");
    assert_ptr_equal(i->port->bridge, br0);

    /* iface-id: one, two (a duplicate), none. */
    const struct ovsdbc_iface *first;
    assert_int_equal(ovsdbc_bridge_find_iface_id(br0, "vm-2", &first), 1);
    assert_string_equal(first->name, "b");
    assert_int_equal(ovsdbc_bridge_find_iface_id(br0, "vm-1", &first), 2);
    assert_string_equal(first->name, "a");
    assert_int_equal(ovsdbc_bridge_find_iface_id(br0, "vm-9", &first), 0);
    assert_null(first);
    assert_int_equal(
        ovsdbc_bridge_find_iface_id(&s->bridges[1], "vm-1", &first), 0);

    /* Equality looks at content, not at seq. */
    struct ovsdbc_snap *t = make_snap();
    t->seq = 7;
    assert_true(ovsdbc_snap_equal(s, t));
    t->bridges[0].ports[1].ifaces[1].ofport = 4;
    assert_false(ovsdbc_snap_equal(s, t));
    t->bridges[0].ports[1].ifaces[1].ofport = -1;
    t->bridges[0].ports[2].trunks[1] = 30;
    assert_false(ovsdbc_snap_equal(s, t));
    t->bridges[0].ports[2].trunks[1] = 20;
    t->bridges[0].fail_mode = OVSDBC_FAIL_UNSET;
    assert_false(ovsdbc_snap_equal(s, t));
    t->bridges[0].fail_mode = OVSDBC_FAIL_SECURE;
    t->cur_cfg = 2;
    assert_false(ovsdbc_snap_equal(s, t));
    t->cur_cfg = 3;
    assert_true(ovsdbc_snap_equal(s, t));
    assert_false(ovsdbc_snap_equal(s, NULL));
    assert_true(ovsdbc_snap_equal(NULL, NULL));

    /* References. */
    assert_ptr_equal(ovsdbc_snap_ref(t), t);
    ovsdbc_snap_unref(t);
    ovsdbc_snap_unref(t);
    ovsdbc_snap_unref(NULL);

    /* JSON. */
    json_t *j = ovsdbc_snap_to_json(s);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    json_t *bj = json_array_get(json_object_get(j, "bridges"), 0);
    assert_string_equal(json_string_value(json_object_get(bj, "datapath_id")),
                        "00000000000000aa");
    assert_string_equal(json_string_value(json_object_get(bj, "fail_mode")),
                        "secure");
    json_t *c = json_array_get(json_object_get(bj, "ports"), 2);
    assert_int_equal(json_integer_value(json_object_get(c, "tag")), 10);
    assert_string_equal(json_string_value(json_object_get(c, "vlan_mode")),
                        "access");
    assert_int_equal(json_array_size(json_object_get(c, "trunks")), 2);
    json_t *ci = json_array_get(json_object_get(c, "interfaces"), 0);
    assert_true(json_is_null(json_object_get(ci, "iface_id")));
    assert_string_equal(json_string_value(json_object_get(ci, "attached_mac")),
                        "02:00:00:00:00:0c");
    json_t *b2 = json_array_get(
        json_object_get(json_array_get(json_object_get(bj, "ports"), 1),
                        "interfaces"),
        1);
    assert_true(json_is_null(json_object_get(b2, "ofport")));
    json_t *br1 = json_array_get(json_object_get(j, "bridges"), 1);
    assert_true(json_is_null(json_object_get(br1, "datapath_id")));
    assert_string_equal(json_string_value(json_object_get(br1, "fail_mode")),
                        "standalone");
    assert_false(json_is_true(json_object_get(br1, "fail_mode_set")));
    free(text);
    json_decref(j);
    ovsdbc_snap_unref(s);
}

/* The client against a private ovsdb-server. */

struct server {
    char dir[64];
    pid_t pid;
};

static bool
have_ovsdb_server(void)
{
    return !access("/usr/sbin/ovsdb-server", X_OK)
           && !access("/usr/bin/ovs-vsctl", X_OK) && !access(SCHEMA, R_OK);
}

static void
run_cmd(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *cmd = xvasprintf(fmt, args);
    va_end(args);
    int rc = system(cmd);
    if (rc) {
        fail_msg("%s: exit %d", cmd, rc);
    }
    free(cmd);
}

static void
server_start(struct server *s)
{
    char db[96], remote[128], ctl[96], log[96];
    snprintf(db, sizeof db, "%s/conf.db", s->dir);
    snprintf(remote, sizeof remote, "--remote=punix:%s/db.sock", s->dir);
    snprintf(ctl, sizeof ctl, "--unixctl=%s/ctl", s->dir);
    snprintf(log, sizeof log, "--log-file=%s/log", s->dir);
    char *argv[] = { "ovsdb-server",
                     db,
                     remote,
                     ctl,
                     log,
                     "--no-chdir",
                     "-vconsole:off",
                     "--syslog-method=null",
                     NULL };
    /* Its output goes nowhere: it must not hold the test's pipes. */
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    for (int fd = 0; fd <= 2; fd++) {
        posix_spawn_file_actions_addopen(&fa, fd, "/dev/null", O_RDWR, 0);
    }
    assert_int_equal(posix_spawn(&s->pid, "/usr/sbin/ovsdb-server", &fa, NULL,
                                 argv, environ),
                     0);
    posix_spawn_file_actions_destroy(&fa);
    /* Ready once ovs-vsctl gets an answer (at most 10 s). */
    char *cmd = xasprintf("for i in $(seq 100); do ovs-vsctl --timeout=1 "
                          "--db=unix:%s/db.sock --no-wait show >/dev/null "
                          "2>&1 && exit 0; sleep 0.1; done; exit 1",
                          s->dir);
    int rc = system(cmd);
    free(cmd);
    assert_int_equal(rc, 0);
}

static void
server_kill(struct server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}

static void
vsctl(const struct server *s, const char *args)
{
    run_cmd("ovs-vsctl --timeout=10 --db=unix:%s/db.sock --no-wait %s", s->dir,
            args);
}

/* What the callbacks saw. */
struct seen {
    unsigned int n_changed;
    unsigned int n_done;
    uint64_t last_id;
    enum ovsdbc_write_result last_result;
    char last_error[256];
};

static void
changed_cb(struct ovsdbc *c OVS_UNUSED, void *seen_)
{
    struct seen *seen = seen_;
    seen->n_changed++;
}

static void
write_done_cb(struct ovsdbc *c OVS_UNUSED, uint64_t id,
              enum ovsdbc_write_result r, const char *error, void *seen_)
{
    struct seen *seen = seen_;
    seen->n_done++;
    seen->last_id = id;
    seen->last_result = r;
    snprintf(seen->last_error, sizeof seen->last_error, "%s",
             error ? error : "");
}

static const struct ovsdbc_cbs cbs = {
    .changed = changed_cb,
    .write_done = write_done_cb,
};

static void
timeout_cb(struct ev_loop *loop, ev_timer *w OVS_UNUSED,
           int revents OVS_UNUSED)
{
    ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop until 'cond(aux)' holds, at most 'seconds'; returns
 * whether it held. */
static bool
run_until(struct ev_loop *loop, bool (*cond)(void *), void *aux,
          double seconds)
{
    double deadline = ev_time() + seconds;
    while (!cond(aux)) {
        double left = deadline - ev_time();
        if (left <= 0) {
            return false;
        }
        ev_timer t;
        ev_timer_init(&t, timeout_cb, MIN(left, 0.05), 0);
        ev_timer_start(loop, &t);
        ev_run(loop, EVRUN_ONCE);
        ev_timer_stop(loop, &t);
    }
    return true;
}

struct client_state {
    struct ovsdbc *c;
    struct seen *seen;
    enum ovsdbc_state state;
    unsigned int n_done;
    const char *bridge;
    enum ovsdbc_fail_mode fail_mode;
    const char *port;
};

static bool
in_state(void *cs_)
{
    struct client_state *cs = cs_;
    return ovsdbc_status(cs->c)->state == cs->state;
}

static bool
has_error(void *cs_)
{
    struct client_state *cs = cs_;
    return ovsdbc_status(cs->c)->last_error != 0;
}

static bool
writes_done(void *cs_)
{
    struct client_state *cs = cs_;
    return cs->seen->n_done >= cs->n_done;
}

static bool
bridge_mode(void *cs_)
{
    struct client_state *cs = cs_;
    const struct ovsdbc_bridge *br
        = ovsdbc_snap_bridge(ovsdbc_snapshot(cs->c), cs->bridge);
    return br && br->fail_mode == cs->fail_mode;
}

static bool
has_port(void *cs_)
{
    struct client_state *cs = cs_;
    return ovsdbc_bridge_port(
               ovsdbc_snap_bridge(ovsdbc_snapshot(cs->c), cs->bridge),
               cs->port)
           != NULL;
}

/* The server of test_client(), stopped by its teardown even when the test
 * fails half-way. */
static struct server server;

static int
teardown_server(void **state OVS_UNUSED)
{
    server_kill(&server);
    if (server.dir[0]) {
        run_cmd("rm -rf %s", server.dir);
        server.dir[0] = '\0';
    }
    return 0;
}

static void
test_client(void **state OVS_UNUSED)
{
    if (!have_ovsdb_server()) {
        skip();
    }
    struct server *sv = &server;
    snprintf(sv->dir, sizeof sv->dir, "/tmp/test_ovsdbc_XXXXXX");
    assert_non_null(mkdtemp(sv->dir));
    run_cmd("ovsdb-tool create %s/conf.db %s", sv->dir, SCHEMA);
    server_start(sv);
    vsctl(sv, "init -- add-br br0 -- set bridge br0 "
              "datapath_id=00000000000000aa -- add-port br0 p1 tag=10 "
              "-- set interface p1 ofport=5 external_ids:iface-id=vm-1 "
              "external_ids:attached-mac=\\\"02:00:00:00:00:01\\\" "
              "-- add-port br0 up0 trunks=10,20 vlan_mode=trunk "
              "-- set-controller br0 unix:/nowhere.sock");

    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct seen seen = { .n_changed = 0 };
    char remote[sizeof sv->dir + 32];
    snprintf(remote, sizeof remote, "unix:%s/db.sock", sv->dir);
    struct ovsdbc_options opts = { .remote = remote };
    struct ovsdbc *c = ovsdbc_create(loop, &opts, &cbs, &seen);
    struct client_state cs = { .c = c, .seen = &seen };
    assert_string_equal(ovsdbc_remote(c), remote);

    /* Synced: the snapshot says what the database holds. */
    cs.state = OVSDBC_SYNCED;
    assert_true(run_until(loop, in_state, &cs, 10));
    assert_true(seen.n_changed >= 1);
    const struct ovsdbc_snap *snap = ovsdbc_snapshot(c);
    assert_non_null(snap);
    assert_int_equal(snap->seq, 1);
    assert_true(snap->has_ovs_row);
    const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(snap, "br0");
    assert_non_null(br);
    assert_true(br->has_datapath_id);
    assert_int_equal(br->datapath_id, 0xaa);
    assert_int_equal(br->fail_mode, OVSDBC_FAIL_UNSET);
    assert_int_equal(br->n_controllers, 1);
    assert_string_equal(br->controllers[0], "unix:/nowhere.sock");
    const struct ovsdbc_port *p1 = ovsdbc_bridge_port(br, "p1");
    assert_int_equal(p1->tag, 10);
    assert_int_equal(p1->n_ifaces, 1);
    assert_int_equal(p1->ifaces[0].ofport, 5);
    assert_string_equal(p1->ifaces[0].iface_id, "vm-1");
    assert_true(p1->ifaces[0].has_attached_mac);
    const struct ovsdbc_port *up0 = ovsdbc_bridge_port(br, "up0");
    assert_int_equal(up0->tag, -1);
    assert_int_equal(up0->vlan_mode, OVSDBC_VLAN_TRUNK);
    assert_int_equal(up0->n_trunks, 2);
    assert_int_equal(up0->ifaces[0].ofport, -1); /* No vswitchd. */
    assert_int_equal(ovsdbc_status(c)->n_connects, 1);

    /* A snapshot kept by a consumer stays as it was. */
    struct ovsdbc_snap *kept = ovsdbc_snap_ref(snap);

    /* A write: the result, then the database shows it. */
    uint64_t id;
    assert_int_equal(ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id),
                     0);
    assert_int_equal(ovsdbc_n_writes(c), 1);
    assert_int_equal(seen.n_done, 0); /* Never from inside the call. */
    cs.n_done = 1;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_id, id);
    assert_int_equal(seen.last_result, OVSDBC_WRITE_OK);
    assert_int_equal(ovsdbc_n_writes(c), 0);
    cs.bridge = "br0";
    cs.fail_mode = OVSDBC_FAIL_SECURE;
    assert_true(run_until(loop, bridge_mode, &cs, 10));
    assert_int_equal(ovsdbc_snapshot(c)->seq, 2);
    assert_int_equal(ovsdbc_snap_bridge(kept, "br0")->fail_mode,
                     OVSDBC_FAIL_UNSET);
    ovsdbc_snap_unref(kept);
    run_cmd("test \"$(ovs-vsctl --db=unix:%s/db.sock get bridge br0 "
            "fail_mode)\" = secure",
            sv->dir);

    /* Writing what is already there is fine; a missing bridge is not. */
    assert_int_equal(ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id),
                     0);
    cs.n_done = 2;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_result, OVSDBC_WRITE_OK);
    assert_int_equal(ovsdbc_set_fail_mode(c, "br9", OVSDBC_FAIL_SECURE, &id),
                     0);
    cs.n_done = 3;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_id, id);
    assert_int_equal(seen.last_result, OVSDBC_WRITE_ERROR);
    assert_string_equal(seen.last_error, "no bridge named br9");

    /* Others' changes arrive. */
    vsctl(sv, "add-port br0 vnet0 -- set interface vnet0 "
              "external_ids:iface-id=vm-1");
    cs.port = "vnet0";
    assert_true(run_until(loop, has_port, &cs, 10));
    const struct ovsdbc_iface *first;
    assert_int_equal(
        ovsdbc_bridge_find_iface_id(
            ovsdbc_snap_bridge(ovsdbc_snapshot(c), "br0"), "vm-1", &first),
        2);
    uint64_t seq = ovsdbc_snapshot(c)->seq;

    /* The server goes away: the snapshot stays, marked by the status. */
    server_kill(sv);
    cs.state = OVSDBC_CONNECTING;
    assert_true(run_until(loop, in_state, &cs, 10));
    assert_int_equal(ovsdbc_status(c)->n_disconnects, 1);
    assert_non_null(ovsdbc_snapshot(c));
    assert_int_equal(ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id),
                     0);
    cs.n_done = 4;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_result, OVSDBC_WRITE_TRY_AGAIN);
    assert_string_equal(seen.last_error, "not connected to the database");
    assert_true(ovsdbc_status(c)->last_error != 0);

    /* Back.  Bridge datapath_id is an ephemeral column (ovs-vswitchd
     * writes it again after a server restart; there is none here): the
     * only change, so one new snapshot. */
    struct ovsdbc_snap *before = ovsdbc_snap_ref(ovsdbc_snapshot(c));
    server_start(sv);
    cs.state = OVSDBC_SYNCED;
    assert_true(run_until(loop, in_state, &cs, 20));
    assert_int_equal(ovsdbc_status(c)->n_connects, 2);
    assert_int_equal(ovsdbc_snapshot(c)->seq, seq + 1);
    br = ovsdbc_snap_bridge(ovsdbc_snapshot(c), "br0");
    assert_false(br->has_datapath_id);
    assert_true(ovsdbc_snap_bridge(before, "br0")->has_datapath_id);
    before->bridges[0].has_datapath_id = false;
    before->bridges[0].datapath_id = 0;
    assert_true(ovsdbc_snap_equal(before, ovsdbc_snapshot(c)));
    ovsdbc_snap_unref(before);

    /* Another restart finds the same contents: no new snapshot. */
    server_kill(sv);
    cs.state = OVSDBC_CONNECTING;
    assert_true(run_until(loop, in_state, &cs, 10));
    server_start(sv);
    cs.state = OVSDBC_SYNCED;
    assert_true(run_until(loop, in_state, &cs, 20));
    assert_int_equal(ovsdbc_status(c)->n_connects, 3);
    assert_int_equal(ovsdbc_snapshot(c)->seq, seq + 1);

    /* At most OVSDBC_MAX_WRITES in flight. */
    for (int i = 0; i < OVSDBC_MAX_WRITES; i++) {
        assert_int_equal(
            ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id), 0);
    }
    assert_int_equal(ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id),
                     EAGAIN);
    cs.n_done = 4 + OVSDBC_MAX_WRITES;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_result, OVSDBC_WRITE_OK);
    assert_int_equal(ovsdbc_n_writes(c), 0);

    /* Destroyed with writes in flight: no callback, nothing leaks. */
    assert_int_equal(
        ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_STANDALONE, &id), 0);
    ovsdbc_destroy(c);
    ovsdbc_destroy(NULL);
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(seen.n_done, 4 + OVSDBC_MAX_WRITES);

    ev_loop_destroy(loop);
}

/* A remote nobody listens on: the status says why, writes are refused
 * as try-again. */
static void
test_unreachable(void **state OVS_UNUSED)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct seen seen = { .n_changed = 0 };
    struct ovsdbc_options opts = { .remote = "unix:/nonexistent/db.sock" };
    struct ovsdbc *c = ovsdbc_create(loop, &opts, &cbs, &seen);
    struct client_state cs = { .c = c, .seen = &seen };

    uint64_t id;
    assert_int_equal(ovsdbc_set_fail_mode(c, "br0", OVSDBC_FAIL_SECURE, &id),
                     0);
    cs.n_done = 1;
    assert_true(run_until(loop, writes_done, &cs, 10));
    assert_int_equal(seen.last_result, OVSDBC_WRITE_TRY_AGAIN);
    assert_true(run_until(loop, has_error, &cs, 10));
    assert_int_equal(ovsdbc_status(c)->state, OVSDBC_CONNECTING);
    assert_int_equal(ovsdbc_status(c)->last_error, ENOENT);
    assert_null(ovsdbc_snapshot(c));
    assert_int_equal(ovsdbc_status(c)->n_connects, 0);
    ovsdbc_destroy(c);
    ev_loop_destroy(loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snap_model),
        cmocka_unit_test_teardown(test_client, teardown_server),
        cmocka_unit_test(test_unreachable),
    };
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    ovsdbc_exit();
    return rc;
}
