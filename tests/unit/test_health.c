/*
 * Unit tests of the health state machine: event scripts with expected
 * transcripts.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "health.h"

/* Runs 'script' on 'h': one event per token, "t=N" sets the time, "ok",
 * "miss", "down", "up" (link), "run" (timers), "forget"; after each token
 * that changed the state, appends "@T:STATE(REASON) " to 'out' ("?" after
 * STATE while unverified). */
static void
run_script(struct health *h, const char *script, char *out, size_t size)
{
    char buf[1024];
    long long now = 0;

    snprintf(buf, sizeof buf, "%s", script);
    out[0] = '\0';
    for (char *tok = strtok(buf, " "); tok; tok = strtok(NULL, " ")) {
        bool changed = false;
        if (!strncmp(tok, "t=", 2)) {
            now = atoll(tok + 2);
            continue;
        } else if (!strcmp(tok, "ok")) {
            changed = health_probe_result(h, true, now);
        } else if (!strcmp(tok, "miss")) {
            changed = health_probe_result(h, false, now);
        } else if (!strcmp(tok, "down")) {
            changed = health_link(h, false, now);
        } else if (!strcmp(tok, "up")) {
            changed = health_link(h, true, now);
        } else if (!strcmp(tok, "run")) {
            changed = health_run(h, now);
        } else if (!strcmp(tok, "forget")) {
            changed = health_forget(h, "bridge reconnected", now);
        } else {
            fail_msg("bad token %s", tok);
        }
        if (changed) {
            size_t len = strlen(out);
            snprintf(out + len, size - len, "@%lld:%s%s(%s) ", now,
                     health_state_name(h->state),
                     health_verified(h) ? "" : "?", h->reason);
        }
    }
}

static void
test_fall_and_rise(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 3, 2, true, 0);
    assert_true(health_ok(&h));
    assert_string_equal(health_state_name(h.state), "unknown");
    run_script(&h,
               "t=10 ok t=20 ok t=30 miss t=40 miss t=50 ok "
               "t=60 miss t=70 miss t=80 miss t=90 ok t=100 miss "
               "t=110 ok t=120 ok",
               out, sizeof out);
    assert_string_equal(out, "@20:up(probes answered) "
                             "@80:down(probe timeout) "
                             "@120:up(probes answered) ");
    assert_true(health_ok(&h));
    assert_int_equal(h.n_flaps_total, 1);
}

/* A forgotten verdict: UP becomes unverified UNKNOWN (still ok), and the
 * next verdict either way verifies it; DOWN and HELD are kept. */
static void
test_forget(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 2, 2, true, 0);
    run_script(&h,
               "t=10 ok t=20 ok t=30 forget t=40 ok t=50 ok "
               "t=60 forget t=70 miss t=80 miss t=90 forget",
               out, sizeof out);
    assert_string_equal(out, "@20:up(probes answered) "
                             "@30:unknown?(bridge reconnected) "
                             "@50:up(probes answered) "
                             "@60:unknown?(bridge reconnected) "
                             "@80:down(probe timeout) ");
    assert_false(health_ok(&h));
    assert_true(health_verified(&h));

    /* Unknown from the start: just unverified, once. */
    health_init(&h, 2, 2, true, 0);
    assert_true(health_forget(&h, "takeover", 5));
    assert_false(health_forget(&h, "takeover", 6));
    assert_true(health_ok(&h) && !health_verified(&h));
}

static void
test_unknown_falls_without_rising(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 2, 3, true, 0);
    run_script(&h, "t=1 miss t=2 miss", out, sizeof out);
    assert_string_equal(out, "@2:down(probe timeout) ");
    assert_false(health_ok(&h));
}

static void
test_link_down_and_results_while_down(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 3, 2, true, 0);
    run_script(&h,
               "t=0 ok ok t=100 down t=110 ok ok ok t=200 up "
               "t=210 ok t=220 ok",
               out, sizeof out);
    assert_string_equal(out, "@0:up(probes answered) @100:down(link down) "
                             "@220:up(probes answered) ");
}

static void
test_unprobed_follows_link(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 3, 3, false, 0);
    run_script(&h, "t=0 down t=5000 up", out, sizeof out);
    assert_string_equal(out, "@0:down(link down) @5000:up(link up) ");
}

static void
test_flap_damping(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    /* Five link losses within 10 s: held for 1 s after the last flap. */
    health_init(&h, 1, 1, false, 0);
    run_script(&h,
               "t=0 down t=50 up t=100 down t=150 up t=200 down "
               "t=250 up t=300 down t=350 up t=400 down t=450 up "
               "t=1399 run t=1400 run",
               out, sizeof out);
    assert_string_equal(out, "@0:down(link down) @50:up(link up) "
                             "@100:down(link down) @150:up(link up) "
                             "@200:down(link down) @250:up(link up) "
                             "@300:down(link down) @350:up(link up) "
                             "@400:held(flapping) "
                             "@1400:up(hold expired) ");
    assert_int_equal(h.hold_ms, 1000);

    /* Flapping again: the hold doubles; a flap while held restarts it. */
    run_script(&h,
               "t=2000 down t=2050 up t=2500 down t=2600 up t=3000 run "
               "t=4499 run t=4500 run",
               out, sizeof out);
    assert_string_equal(out, "@2000:held(flapping) "
                             "@4500:up(hold expired) ");
    assert_int_equal(h.hold_ms, 2000);
    assert_int_equal(health_next_wakeup(&h), 4500 + HEALTH_STABLE_MS);

    /* Stable for HEALTH_STABLE_MS: the doubling is forgotten. */
    run_script(&h, "t=64500 run", out, sizeof out);
    assert_int_equal(h.n_holds, 0);
    assert_int_equal(health_next_wakeup(&h), LLONG_MAX);
}

static void
test_probed_hold_needs_rise(void **state)
{
    (void) state;
    struct health h;
    char out[1024];

    health_init(&h, 1, 2, true, 0);
    run_script(&h,
               "t=0 ok ok miss ok ok miss ok ok miss ok ok miss "
               "t=100 ok ok miss t=200 ok ok t=1100 run t=1200 ok "
               "t=1210 ok",
               out, sizeof out);
    assert_string_equal(out, "@0:up(probes answered) "
                             "@0:down(probe timeout) "
                             "@0:up(probes answered) "
                             "@0:down(probe timeout) "
                             "@0:up(probes answered) "
                             "@0:down(probe timeout) "
                             "@0:up(probes answered) "
                             "@0:down(probe timeout) "
                             "@100:up(probes answered) "
                             "@100:held(flapping) "
                             "@1100:down(hold expired) "
                             "@1210:up(probes answered) ");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fall_and_rise),
        cmocka_unit_test(test_forget),
        cmocka_unit_test(test_unknown_falls_without_rising),
        cmocka_unit_test(test_link_down_and_results_while_down),
        cmocka_unit_test(test_unprobed_follows_link),
        cmocka_unit_test(test_flap_damping),
        cmocka_unit_test(test_probed_hold_needs_rise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
