/* Unit tests of probesched: periodic entries on a timerfd in a libev
 * loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>
#include <ev.h>

#include "probesched.h"
#include "util.h"

struct counter {
    struct probesched_entry e;
    struct probesched *s;
    int calls;
    int stop_after; /* Stops itself after this many calls (0: no). */
    uint64_t first_ns, last_ns;
};

static void
count_cb(struct probesched_entry *e, int64_t late_ns)
{
    struct counter *c = CONTAINER_OF(e, struct counter, e);
    assert_true(late_ns >= 0);
    uint64_t now = probesched_now_ns();
    if (!c->calls) {
        c->first_ns = now;
    }
    c->last_ns = now;
    if (++c->calls == c->stop_after) {
        probesched_stop(c->s, e);
    }
}

static void
run_for(struct ev_loop *loop, double seconds)
{
    double end = ev_time() + seconds;
    while (ev_time() < end) {
        ev_run(loop, EVRUN_ONCE);
    }
}

static void
test_periodic(void **state)
{
    (void) state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char *error;
    struct probesched *s = probesched_create(loop, &error);
    assert_non_null(s);

    struct counter a = { .s = s }, b = { .s = s, .stop_after = 5 };
    struct counter c = { .s = s };
    probesched_start(s, &a.e, 0, 5000000, count_cb);       /* 5 ms. */
    probesched_start(s, &b.e, 1000000, 5000000, count_cb); /* Stops. */
    probesched_start(s, &c.e, 0, 5000000, count_cb);
    probesched_stop(s, &c.e); /* Never. */
    run_for(loop, 0.2);

    /* About 40 calls in 200 ms, never a catch-up burst. */
    assert_in_range(a.calls, 25, 41);
    uint64_t span = a.last_ns - a.first_ns;
    assert_true(span >= (uint64_t) (a.calls - 1) * 5000000 - 1000000);
    assert_int_equal(b.calls, 5);
    assert_int_equal(c.calls, 0);

    /* Restarting an active entry does not duplicate it. */
    int before = a.calls;
    probesched_start(s, &a.e, 0, 50000000, count_cb); /* 50 ms. */
    run_for(loop, 0.12);
    assert_in_range(a.calls - before, 2, 4);

    probesched_destroy(s);
    ev_loop_destroy(loop);
}

/* Entries with calls >= 1 decline in not_twice(). */
static bool
not_twice(const struct probesched_entry *e)
{
    return CONTAINER_OF(e, struct counter, e)->calls < 1;
}

static void
busy_wait_ns(uint64_t ns)
{
    uint64_t end = probesched_now_ns() + ns;
    while (probesched_now_ns() < end) {
        continue;
    }
}

static void
test_run_due_without_the_loop(void **state)
{
    (void) state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    char *error;
    struct probesched *s = probesched_create(loop, &error);
    assert_non_null(s);
    assert_int_equal(probesched_run_due(NULL, NULL), 0);

    /* Nothing due yet: nothing runs. */
    struct counter a = { .s = s }, b = { .s = s }, c = { .s = s };
    probesched_start(s, &a.e, 1000000, 100000000, count_cb);  /* 1 ms. */
    probesched_start(s, &b.e, 2000000, 100000000, count_cb);  /* 2 ms. */
    probesched_start(s, &c.e, 50000000, 100000000, count_cb); /* 50 ms. */
    assert_int_equal(probesched_run_due(s, NULL), 0);

    /* While the loop is held: the due ones run, in order, once each; the
     * one due later does not. */
    busy_wait_ns(3000000);
    assert_int_equal(probesched_run_due(s, NULL), 2);
    assert_int_equal(a.calls, 1);
    assert_int_equal(b.calls, 1);
    assert_true(a.last_ns <= b.last_ns);
    assert_int_equal(c.calls, 0);
    assert_int_equal(probesched_run_due(s, NULL), 0);

    /* 'ready' declines: that entry stays due and runs from the loop. */
    probesched_start(s, &a.e, 0, 100000000, count_cb);
    assert_int_equal(probesched_run_due(s, not_twice), 0);
    assert_int_equal(a.calls, 1);
    run_for(loop, 0.01);
    assert_int_equal(a.calls, 2);

    probesched_destroy(s);
    ev_loop_destroy(loop);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_periodic),
        cmocka_unit_test(test_run_due_without_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
