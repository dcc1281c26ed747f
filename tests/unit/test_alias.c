/*
 * Unit tests for the alias election model: scripts of events and the
 * expected transcript of elections.
 *
 * Script lines: "TIME VERB MEMBER".  Verbs: up (port present, link up),
 * down (link down), absent (port gone), sick / well (health), unverified /
 * verified, drain / undrain, move (MEMBER may be "-" for "best other"),
 * elect (no member).
 * Each "elect" appends "TIME: OLD -> NEW (reason)" when the master changed,
 * else "TIME: MASTER (reason)", plus " wake=T" when a wakeup is asked for.
 * Each "move" appends "TIME: move MEMBER = RESULT".
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alias.h"
#include "config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"

#define MAX_MEMBERS 4

struct harness {
    struct cfg_alias cfg;
    struct cfg_member members[MAX_MEMBERS];
    struct alias_state *st;
    struct ds log;
};

/* Sets up an alias whose members are given as "name:priority" strings. */
static void
harness_init(struct harness *h, bool preempt, unsigned int delay_ms, ...)
{
    va_list args;
    const char *spec;

    memset(h, 0, sizeof *h);
    h->cfg.name = "web";
    h->cfg.preempt = preempt;
    h->cfg.preempt_delay_ms = delay_ms;
    h->cfg.members = h->members;
    va_start(args, delay_ms);
    while ((spec = va_arg(args, const char *)) != NULL) {
        struct cfg_member *m = &h->members[h->cfg.n_members++];
        assert_true(h->cfg.n_members <= MAX_MEMBERS);
        char *colon = strchr(spec, ':');
        assert_non_null(colon);
        m->name = xmemdup0(spec, colon - spec);
        m->priority = atoi(colon + 1);
        m->bridge = "br0";
        m->port = m->name;
    }
    va_end(args);
    h->st = alias_state_create(&h->cfg);
    ds_init(&h->log);
}

static void
harness_destroy(struct harness *h)
{
    alias_state_destroy(h->st);
    for (size_t i = 0; i < h->cfg.n_members; i++) {
        free(h->members[i].name);
    }
    ds_destroy(&h->log);
}

static int
member_index(const struct harness *h, const char *name)
{
    for (size_t i = 0; i < h->cfg.n_members; i++) {
        if (!strcmp(h->members[i].name, name)) {
            return i;
        }
    }
    fail_msg("unknown member %s", name);
    return -1;
}

static const char *
member_name(const struct harness *h, int i)
{
    return i < 0 ? "-" : h->members[i].name;
}

static void
run_line(struct harness *h, const char *line)
{
    long long now;
    char verb[16], who[16] = "";
    int n = sscanf(line, "%lld %15s %15s", &now, verb, who);

    assert_true(n >= 2);
    if (!strcmp(verb, "elect")) {
        struct alias_election r;
        alias_state_elect(h->st, now, &r);
        assert_int_equal(r.new_master, alias_state_master(h->st));
        if (r.changed) {
            ds_put_format(&h->log, "%lld: %s -> %s (%s)", now,
                          member_name(h, r.old_master),
                          member_name(h, r.new_master), r.reason);
        } else {
            assert_int_equal(r.old_master, r.new_master);
            ds_put_format(&h->log, "%lld: %s (%s)", now,
                          member_name(h, r.new_master), r.reason);
        }
        if (r.next_wakeup != LLONG_MAX) {
            ds_put_format(&h->log, " wake=%lld", r.next_wakeup);
        }
        ds_put_char(&h->log, '\n');
        return;
    }

    assert_int_equal(n, 3);
    if (!strcmp(verb, "move")) {
        int target = strcmp(who, "-") ? member_index(h, who) : -1;
        int error = alias_state_move(h->st, target, now);
        ds_put_format(&h->log, "%lld: move %s = %s\n", now, who,
                      error == 0        ? "0"
                      : error == EINVAL ? "EINVAL"
                      : error == ENOENT ? "ENOENT"
                                        : "?");
        return;
    }

    size_t i = member_index(h, who);
    if (!strcmp(verb, "up")) {
        alias_state_set_port(h->st, i, true, true, now);
    } else if (!strcmp(verb, "down")) {
        alias_state_set_port(h->st, i, true, false, now);
    } else if (!strcmp(verb, "absent")) {
        alias_state_set_port(h->st, i, false, false, now);
    } else if (!strcmp(verb, "sick")) {
        alias_state_set_health(h->st, i, false, now);
    } else if (!strcmp(verb, "well")) {
        alias_state_set_health(h->st, i, true, now);
    } else if (!strcmp(verb, "unverified")) {
        alias_state_set_verified(h->st, i, false, now);
    } else if (!strcmp(verb, "verified")) {
        alias_state_set_verified(h->st, i, true, now);
    } else if (!strcmp(verb, "drain")) {
        alias_state_set_drained(h->st, i, true, now);
    } else if (!strcmp(verb, "undrain")) {
        alias_state_set_drained(h->st, i, false, now);
    } else {
        fail_msg("unknown verb %s", verb);
    }
}

/* Runs 'script' (lines separated by '\n') and checks the transcript. */
static void
check_script(struct harness *h, const char *script, const char *expected)
{
    char *copy = xstrdup(script);
    char *save = NULL;

    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        run_line(h, line);
    }
    free(copy);
    if (strcmp(ds_cstr(&h->log), expected)) {
        fail_msg("transcript differs.\n--- expected:\n%s--- actual:\n%s",
                 expected, ds_cstr(&h->log));
    }
}

static void
test_preempt(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 elect\n"
                 "5 up m2\n"
                 "5 elect\n"
                 "10 up m1\n"
                 "10 elect\n"
                 "11 elect\n"
                 "20 down m1\n"
                 "20 elect\n"
                 "30 up m1\n"
                 "30 elect\n"
                 "40 down m1\n"
                 "40 absent m2\n"
                 "40 elect\n"
                 "50 up m2\n"
                 "50 elect\n",
                 "0: - (no live member)\n"
                 "5: - -> m2 (initial)\n"
                 "10: m2 -> m1 (preempt)\n"
                 "11: m1 (stable)\n"
                 "20: m1 -> m2 (master link down)\n"
                 "30: m2 -> m1 (preempt)\n"
                 "40: m1 -> - (no live member)\n"
                 "50: - -> m2 (member up)\n");
    assert_string_equal(alias_state_name(h.st), "master");
    harness_destroy(&h);
}

static void
test_nopreempt(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, false, 0, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 up m2\n"
                 "0 elect\n"
                 "10 up m1\n"
                 "10 elect\n"
                 "5000 elect\n"
                 "6000 down m2\n"
                 "6000 elect\n"
                 "7000 up m2\n"
                 "7000 elect\n",
                 "0: - -> m2 (initial)\n"
                 "10: m2 (held)\n"
                 "5000: m2 (held)\n"
                 "6000: m2 -> m1 (master link down)\n"
                 "7000: m1 (stable)\n");
    harness_destroy(&h);
}

static void
test_preempt_delay(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 1000, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 up m2\n"
                 "0 elect\n"
                 "100 up m1\n"
                 "100 elect\n"
                 /* m1 flaps during the delay: its delay starts again. */
                 "600 down m1\n"
                 "600 elect\n"
                 "700 up m1\n"
                 "700 elect\n"
                 "1100 elect\n"
                 "1699 elect\n"
                 "1700 elect\n"
                 "1800 elect\n",
                 "0: - -> m2 (initial)\n"
                 "100: m2 (preempt pending) wake=1100\n"
                 "600: m2 (stable)\n"
                 "700: m2 (preempt pending) wake=1700\n"
                 "1100: m2 (preempt pending) wake=1700\n"
                 "1699: m2 (preempt pending) wake=1700\n"
                 "1700: m2 -> m1 (preempt)\n"
                 "1800: m1 (stable)\n");
    assert_string_equal(alias_state_name(h.st), "master");
    harness_destroy(&h);
}

/* A failure of the master during the delay fails over at once; several
 * better members each wait their own delay. */
static void
test_preempt_delay_failover(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 1000, "a:200", "b:150", "c:100", NULL);
    check_script(&h,
                 "0 up c\n"
                 "0 elect\n"
                 "100 up b\n"
                 "100 elect\n"
                 "500 up a\n"
                 "500 elect\n"
                 "1100 elect\n"
                 "1500 elect\n"
                 "1600 up c\n"
                 "1600 elect\n",
                 "0: - -> c (initial)\n"
                 "100: c (preempt pending) wake=1100\n"
                 "500: c (preempt pending) wake=1100\n"
                 "1100: c -> b (preempt) wake=1500\n"
                 "1500: b -> a (preempt)\n"
                 "1600: a (stable)\n");
    harness_destroy(&h);

    harness_init(&h, true, 1000, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 up m2\n"
                 "0 elect\n"
                 "100 up m1\n"
                 "100 elect\n"
                 "200 sick m2\n"
                 "200 elect\n",
                 "0: - -> m2 (initial)\n"
                 "100: m2 (preempt pending) wake=1100\n"
                 "200: m2 -> m1 (master unhealthy)\n");
    harness_destroy(&h);
}

static void
test_tie_by_name(void **state OVS_UNUSED)
{
    struct harness h;

    /* Same priority: "alpha" < "beta" wins whatever the config order. */
    harness_init(&h, true, 0, "beta:100", "alpha:100", NULL);
    check_script(&h,
                 "0 up beta\n"
                 "0 up alpha\n"
                 "0 elect\n"
                 "10 down alpha\n"
                 "10 elect\n"
                 "20 up alpha\n"
                 "20 elect\n",
                 "0: - -> alpha (initial)\n"
                 "10: alpha -> beta (master link down)\n"
                 "20: beta -> alpha (preempt)\n");
    harness_destroy(&h);
}

static void
test_all_down_and_reasons(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "m1:150", "m2:100", "m3:50", NULL);
    assert_string_equal(alias_member_state_name(h.st, 0), "unknown");
    assert_null(alias_member_state_name(h.st, 3));
    check_script(&h,
                 "0 up m1\n"
                 "0 up m2\n"
                 "0 up m3\n"
                 "0 elect\n"
                 "10 drain m1\n"
                 "10 elect\n"
                 "20 absent m2\n"
                 "20 elect\n"
                 "30 sick m3\n"
                 "30 elect\n"
                 "40 well m3\n"
                 "40 elect\n"
                 "50 undrain m1\n"
                 "50 elect\n",
                 "0: - -> m1 (initial)\n"
                 "10: m1 -> m2 (master drained)\n"
                 "20: m2 -> m3 (master port absent)\n"
                 "30: m3 -> - (no live member)\n"
                 "40: - -> m3 (member up)\n"
                 "50: m3 -> m1 (preempt)\n");
    assert_string_equal(alias_member_state_name(h.st, 0), "up");
    assert_string_equal(alias_member_state_name(h.st, 1), "down");
    alias_state_set_drained(h.st, 1, true, 60);
    assert_string_equal(alias_member_state_name(h.st, 1), "drained");
    alias_state_set_health(h.st, 2, false, 60);
    assert_string_equal(alias_member_state_name(h.st, 2), "down");

    /* Out-of-range inputs are ignored (and logged). */
    alias_state_set_port(h.st, 7, false, false, 70);
    alias_state_set_health(h.st, 7, false, 70);
    alias_state_set_drained(h.st, 7, true, 70);
    struct alias_election r;
    alias_state_elect(h.st, 70, &r);
    assert_false(r.changed);
    assert_int_equal(r.new_master, 0);
    harness_destroy(&h);
}

static void
test_move(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "m1:150", "m2:100", "m3:50", NULL);
    check_script(&h,
                 "0 up m1\n"
                 "0 up m2\n"
                 "0 elect\n"
                 "10 move m3\n"
                 "10 move m2\n"
                 "10 elect\n"
                 /* The preempt must not undo the move. */
                 "20 elect\n"
                 "30 down m1\n"
                 "30 up m1\n"
                 "30 elect\n"
                 /* The moved-to member fails: normal election again. */
                 "40 down m2\n"
                 "40 elect\n"
                 "50 up m2\n"
                 "50 elect\n"
                 /* "Best other" is m2; a move and back reports nothing. */
                 "60 move -\n"
                 "60 move m1\n"
                 "60 elect\n"
                 "70 down m2\n"
                 "70 move -\n",
                 "0: - -> m1 (initial)\n"
                 "10: move m3 = EINVAL\n"
                 "10: move m2 = 0\n"
                 "10: m1 -> m2 (move)\n"
                 "20: m2 (moved)\n"
                 "30: m2 (moved)\n"
                 "40: m2 -> m1 (master link down)\n"
                 "50: m1 (stable)\n"
                 "60: move - = 0\n"
                 "60: move m1 = 0\n"
                 "60: m1 (moved)\n"
                 "70: move - = EINVAL\n");
    assert_int_equal(alias_state_move(h.st, 3, 80), ENOENT);
    assert_int_equal(alias_state_move(h.st, -2, 80), ENOENT);
    assert_int_equal(alias_state_master(h.st), 0);
    assert_string_equal(alias_state_name(h.st), "override");
    harness_destroy(&h);
}

static void
test_move_from_none(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 move -\n"
                 "0 up m2\n"
                 "0 move -\n"
                 "0 up m1\n"
                 "0 elect\n"
                 "10 elect\n",
                 "0: move - = EINVAL\n"
                 "0: move - = 0\n"
                 "0: - -> m2 (move)\n"
                 "10: m2 (moved)\n");
    harness_destroy(&h);
}

/* A member whose verdict was forgotten (its bridge reconnected) does not
 * take the role back from a verified one until verified, but is better
 * than nothing; an unverified master keeps the role; a preempt delay
 * counts from the verdict. */
static void
test_unverified(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 up m1\n"
                 "0 up m2\n"
                 "0 elect\n"
                 "10 absent m1\n"
                 "10 elect\n"
                 /* m1's bridge is back, its probes have no verdict yet. */
                 "20 unverified m1\n"
                 "20 up m1\n"
                 "20 elect\n"
                 "50 verified m1\n"
                 "50 elect\n"
                 /* Both unverified (a takeover): the master stays, and
                  * only a verified better member preempts it. */
                 "60 unverified m1\n"
                 "60 unverified m2\n"
                 "60 move m2\n"
                 "60 elect\n"
                 "61 absent m2\n"
                 "61 elect\n"
                 "62 up m2\n"
                 "62 elect\n"
                 "70 verified m2\n"
                 "70 elect\n"
                 "80 verified m1\n"
                 "80 elect\n"
                 /* The last one standing may be unverified. */
                 "90 unverified m2\n"
                 "90 absent m1\n"
                 "90 elect\n",
                 "0: - -> m1 (initial)\n"
                 "10: m1 -> m2 (master port absent)\n"
                 "20: m2 (stable)\n"
                 "50: m2 -> m1 (preempt)\n"
                 "60: move m2 = 0\n"
                 "60: m1 -> m2 (move)\n"
                 "61: m2 -> m1 (master port absent)\n"
                 "62: m1 (stable)\n"
                 "70: m1 (held)\n"
                 "80: m1 (stable)\n"
                 "90: m1 -> m2 (master port absent)\n");
    harness_destroy(&h);

    harness_init(&h, true, 100, "m1:150", "m2:100", NULL);
    check_script(&h,
                 "0 up m2\n"
                 "0 elect\n"
                 "0 unverified m1\n"
                 "0 up m1\n"
                 "0 elect\n"
                 "500 verified m1\n"
                 "500 elect\n"
                 "600 elect\n",
                 "0: - -> m2 (initial)\n"
                 "0: m2 (stable)\n"
                 "500: m2 (preempt pending) wake=600\n"
                 "600: m2 -> m1 (preempt)\n");
    harness_destroy(&h);
}

static void
check_order(const struct harness *h, size_t max, const char *expected)
{
    size_t order[MAX_MEMBERS];
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n = alias_state_order(h->st, order, max);

    assert_true(n <= max);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "%s%s", i ? " " : "", member_name(h, order[i]));
    }
    assert_string_equal(ds_cstr(&s), expected);
    ds_destroy(&s);
}

static void
test_order(void **state OVS_UNUSED)
{
    struct harness h;

    harness_init(&h, true, 0, "d:10", "c:100", "b:100", "a:200", NULL);
    check_order(&h, MAX_MEMBERS, "");
    check_script(&h,
                 "0 up a\n"
                 "0 up b\n"
                 "0 up c\n"
                 "0 up d\n"
                 "0 elect\n"
                 "0 move d\n"
                 "0 elect\n",
                 "0: - -> a (initial)\n"
                 "0: move d = 0\n"
                 "0: a -> d (move)\n");
    /* Master first, then priority desc, ties by name. */
    check_order(&h, MAX_MEMBERS, "d a b c");
    check_order(&h, 2, "d a");
    check_order(&h, 0, "");

    /* Link down: listed after the eligible ones.  Drained, unhealthy and
     * absent: never listed. */
    alias_state_set_port(h.st, 3, true, false, 10); /* a */
    check_order(&h, MAX_MEMBERS, "d b c a");
    alias_state_set_drained(h.st, 2, true, 10); /* b */
    check_order(&h, MAX_MEMBERS, "d c a");
    alias_state_set_health(h.st, 1, false, 10); /* c */
    check_order(&h, MAX_MEMBERS, "d a");
    alias_state_set_port(h.st, 3, false, false, 10); /* a */
    check_order(&h, MAX_MEMBERS, "d");
    /* Unverified members after the verified ones. */
    alias_state_set_health(h.st, 1, true, 20);   /* c */
    alias_state_set_drained(h.st, 2, false, 20); /* b */
    alias_state_set_verified(h.st, 2, false, 20);
    check_order(&h, MAX_MEMBERS, "d c b");
    harness_destroy(&h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preempt),
        cmocka_unit_test(test_nopreempt),
        cmocka_unit_test(test_preempt_delay),
        cmocka_unit_test(test_preempt_delay_failover),
        cmocka_unit_test(test_tie_by_name),
        cmocka_unit_test(test_all_down_and_reasons),
        cmocka_unit_test(test_move),
        cmocka_unit_test(test_move_from_none),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_unverified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
