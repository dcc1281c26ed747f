/*
 * Unit tests for oflimit, the bounds shared by the OpenFlow peers: peer
 * room with handshakes, the total of queued bytes, and which peer is
 * dropped when the total would be passed (the one stuck the longest, not
 * the one that is busy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oflimit.h"
#include "openvswitch/vlog.h"
#include "util.h"

struct peer {
    struct oflimit_peer lim;
    const char *name;
    bool dropped;
};

static const char *
peer_name(const struct oflimit_peer *lim)
{
    return CONTAINER_OF(lim, struct peer, lim)->name;
}

/* As a channel does: frees its queue at once. */
static void
peer_drop(struct oflimit_peer *lim, const char *reason OVS_UNUSED)
{
    struct peer *p = CONTAINER_OF(lim, struct peer, lim);
    p->dropped = true;
    oflimit_peer_unqueue(lim, lim->queued, 0);
}

static void
peer_init(struct oflimit *l, struct peer *p, const char *name)
{
    memset(p, 0, sizeof *p);
    p->name = name;
    p->lim.name = peer_name;
    p->lim.drop = peer_drop;
    oflimit_peer_register(l, &p->lim);
}

static long long
get(const struct oflimit *l, const char *key)
{
    json_t *j = oflimit_to_json(l);
    long long v = json_integer_value(json_object_get(j, key));
    json_decref(j);
    return v;
}

static void
test_peer_room(void **state OVS_UNUSED)
{
    struct oflimit_config cfg = { 2, 1000, 1000 };
    struct oflimit *l = oflimit_create(&cfg);
    struct peer a;

    assert_true(oflimit_peer_room(l));
    peer_init(l, &a, "a");
    oflimit_handshake_begin(l);
    assert_false(oflimit_peer_room(l));
    oflimit_count_refused(l);
    oflimit_handshake_end(l);
    assert_true(oflimit_peer_room(l));
    assert_int_equal(get(l, "peers"), 1);
    assert_int_equal(get(l, "peers_refused"), 1);
    oflimit_peer_unregister(&a.lim);
    assert_int_equal(get(l, "peers"), 0);

    /* No limit: always room. */
    assert_true(oflimit_peer_room(NULL));
    oflimit_destroy(l);
}

static void
test_total_drops_the_stuck_peer(void **state OVS_UNUSED)
{
    struct oflimit_config cfg = { 10, 1000, 1000 };
    struct oflimit *l = oflimit_create(&cfg);
    struct peer stuck, busy, other;
    peer_init(l, &stuck, "stuck");
    peer_init(l, &busy, "busy");
    peer_init(l, &other, "other");

    /* 'stuck' queued 300 bytes at t=1 and never sent anything; 'busy'
     * queues a lot but keeps sending. */
    assert_true(oflimit_peer_queue(&stuck.lim, 300, 1.0));
    assert_true(oflimit_peer_queue(&busy.lim, 600, 2.0));
    oflimit_peer_unqueue(&busy.lim, 100, 5.0); /* Progress at t=5. */
    assert_true(oflimit_peer_queue(&busy.lim, 150, 5.0));
    assert_int_equal(get(l, "queued_bytes"), 950);

    /* 'other' needs 100: 'stuck' goes, although 'busy' holds more. */
    assert_true(oflimit_peer_queue(&other.lim, 100, 6.0));
    assert_true(stuck.dropped);
    assert_false(busy.dropped);
    assert_int_equal(get(l, "queued_bytes"), 750);
    assert_int_equal(get(l, "dropped_total_queue"), 1);

    /* When the one that would pass is itself the one stuck the longest,
     * it is the one refused. */
    assert_false(oflimit_peer_queue(&busy.lim, 400, 7.0));
    assert_false(busy.dropped);
    assert_int_equal(get(l, "dropped_total_queue"), 2);

    /* Unregistering gives the bytes back. */
    oflimit_peer_unregister(&busy.lim);
    assert_int_equal(get(l, "queued_bytes"), 100);
    oflimit_peer_unregister(&stuck.lim);
    oflimit_peer_unregister(&other.lim);
    assert_int_equal(get(l, "queued_bytes"), 0);
    oflimit_destroy(l);
}

static void
test_reconfigure_and_default(void **state OVS_UNUSED)
{
    struct oflimit_config cfg = { 1, 1000, 500 };
    struct oflimit *l = oflimit_create(&cfg);
    assert_null(oflimit_default());
    oflimit_set_default(l);
    assert_ptr_equal(oflimit_default(), l);
    struct oflimit_config more = { 3, 2000, 800 };
    oflimit_reconfigure(l, &more);
    assert_int_equal(oflimit_config(l)->max_peers, 3);
    assert_int_equal(get(l, "max_peer_queue_bytes"), 800);
    oflimit_destroy(l);
    assert_null(oflimit_default());
}

int
main(void)
{
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_room),
        cmocka_unit_test(test_total_drops_the_stuck_peer),
        cmocka_unit_test(test_reconfigure_and_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
