/* Unit tests for the hooks module: real processes in libev's default
 * loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>

#include "config.h"
#include "hooks.h"

static char dir[] = "/tmp/test_hooks.XXXXXX";

static char *
write_script(const char *name, const char *body)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    return path;
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Runs the loop until 'h' has nothing running or queued, at most
 * 'max_s' seconds. */
static void
run_until_idle(struct ev_loop *loop, struct hooks *h, double max_s)
{
    double deadline = ev_time() + max_s;
    struct hooks_stats st;
    for (;;) {
        hooks_get_stats(h, &st);
        if ((!st.running && !st.queued) || ev_time() > deadline) {
            break;
        }
        ev_run(loop, EVRUN_ONCE);
    }
    hooks_get_stats(h, &st);
    assert_int_equal(st.running, 0);
    assert_int_equal(st.queued, 0);
}

static const struct hooks_event event = {
    .alias = "web",
    .old_master = "m1",
    .new_master = "m2",
    .reason = "m1: port down",
    .bridge = "br0",
    .event_time = 1700000000.25,
    .applied_ms = 3,
};

/* Runs 'prog' once for 'event' to its end and returns the counters. */
static struct hooks_stats
run_once(const char *prog, unsigned int timeout_ms)
{
    struct ev_loop *loop = ev_default_loop(0);
    struct cfg_notify nt
        = { .program = (char *) prog, .timeout_ms = timeout_ms };
    struct hooks *h = hooks_create(loop);
    hooks_run(h, &nt, &event);
    run_until_idle(loop, h, 10);
    struct hooks_stats st;
    hooks_get_stats(h, &st);
    hooks_destroy(h);
    assert_int_equal(st.started, 1);
    return st;
}

static void
test_env(void **state OVS_UNUSED)
{
    char *out = NULL;
    assert_true(asprintf(&out, "%s/env.out", dir) > 0);
    char *body = NULL;
    assert_true(asprintf(&body,
                         "env | sort > %s.tmp; mv %s.tmp %s; "
                         "echo hello; echo oops >&2",
                         out, out, out)
                > 0);
    char *prog = write_script("env.sh", body);
    struct hooks_stats st = run_once(prog, 5000);
    assert_int_equal(st.failed, 0);

    const char *env = read_file(out);
    assert_non_null(env);
    assert_string_equal(env, "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"
                             "PWD=/\n"
                             "VMACD_ALIAS=web\n"
                             "VMACD_APPLIED_MS=3\n"
                             "VMACD_BRIDGE=br0\n"
                             "VMACD_EVENT_TIME=1700000000.250000\n"
                             "VMACD_NEW_MASTER=m2\n"
                             "VMACD_OLD_MASTER=m1\n"
                             "VMACD_REASON=m1: port down\n");
    free(prog);
    free(body);
    free(out);
}

/* Whether 'pid' runs (a zombie that its new parent has not reaped yet
 * does not). */
static bool
alive(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", (long) pid);
    FILE *f = fopen(path, "r");
    if (!f) {
        return false;
    }
    char line[512];
    bool ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    const char *paren = ok ? strrchr(line, ')') : NULL;
    return paren && paren[1] == ' ' && paren[2] != 'Z' && paren[2] != 'X';
}

static void
test_timeout(void **state OVS_UNUSED)
{
    struct ev_loop *loop = ev_default_loop(0);
    char *pidf = NULL;
    assert_true(asprintf(&pidf, "%s/sleep.pid", dir) > 0);
    char *body = NULL;
    assert_true(asprintf(&body, "sleep 1000 & echo $! > %s; wait", pidf) > 0);
    char *prog = write_script("sleep.sh", body);
    struct cfg_notify nt = { .program = prog, .timeout_ms = 300 };

    struct hooks *h = hooks_create(loop);
    double t0 = ev_time();
    hooks_run(h, &nt, &event);
    run_until_idle(loop, h, 10);
    assert_true(ev_time() - t0 < 5);
    struct hooks_stats st;
    hooks_get_stats(h, &st);
    assert_int_equal(st.timed_out, 1);

    /* The whole group went: the sleep too. */
    const char *s = read_file(pidf);
    assert_non_null(s);
    pid_t pid = atoi(s);
    assert_true(pid > 0);
    for (int i = 0; i < 100 && alive(pid); i++) {
        usleep(10000);
    }
    assert_false(alive(pid));
    hooks_destroy(h);
    free(prog);
    free(body);
    free(pidf);
}

static void
test_queue_bound(void **state OVS_UNUSED)
{
    struct ev_loop *loop = ev_default_loop(0);
    char *prog = write_script("wait.sh", "sleep 1000");
    struct cfg_notify nt = { .program = prog, .timeout_ms = 600000 };

    struct hooks *h = hooks_create(loop);
    for (int i = 0; i < HOOKS_MAX_RUNNING + HOOKS_MAX_QUEUED + 5; i++) {
        hooks_run(h, &nt, &event);
    }
    struct hooks_stats st;
    hooks_get_stats(h, &st);
    assert_int_equal(st.started, HOOKS_MAX_RUNNING);
    assert_int_equal(st.running, HOOKS_MAX_RUNNING);
    assert_int_equal(st.queued, HOOKS_MAX_QUEUED);
    assert_int_equal(st.dropped, 5);
    /* Destroying kills and reaps the running ones. */
    hooks_destroy(h);
    free(prog);
}

static void
test_output_bounded(void **state OVS_UNUSED)
{
    char *prog
        = write_script("loud.sh", "head -c 1000000 /dev/zero | tr '\\0' x; "
                                  "exit 3");
    struct hooks_stats st = run_once(prog, 10000);
    assert_int_equal(st.failed, 1);
    assert_int_equal(st.timed_out, 0);
    free(prog);
}

int
main(void)
{
    if (!mkdtemp(dir)) {
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_output_bounded),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {
        fprintf(stderr, "test_hooks: could not remove %s\n", dir);
    }
    return rc;
}
