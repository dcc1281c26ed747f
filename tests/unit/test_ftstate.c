/* Unit tests of ftstate: canonical forms, parts and states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ftstate.h"
#include "openvswitch/ofp-protocol.h"
#include "svec.h"

static const enum ofputil_protocol P13 = OFPUTIL_P_OF13_OXM;
static const enum ofputil_protocol P15 = OFPUTIL_P_OF15_OXM;

/* Two spellings of the same flow have the same canonical form. */
static void
test_canonical_equal(void **state)
{
    (void) state;
    static const char *const pairs[][2] = {
        { "table=0,priority=300,cookie=0x1,arp,arp_op=1,arp_tpa=192.0.2.1,"
          "actions=load:0x2->NXM_OF_ARP_OP[],IN_PORT",
          "cookie=0x1,priority=300,arp,arp_tpa=192.0.2.1,arp_op=1,"
          "actions=load:0x2->NXM_OF_ARP_OP[],in_port" },
        { "table=0,priority=200,cookie=0x2,ip,nw_dst=192.0.2.100,"
          "actions=group:7",
          "priority=200,cookie=0x2,ip,nw_dst=192.0.2.100/32,"
          "actions=group:7" },
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (int v = 0; v < 2; v++) {
            enum ofputil_protocol p = v ? P15 : P13;
            char *k1, *v1, *k2, *v2;
            assert_null(ftcanon_flow(pairs[i][0], p, &k1, &v1));
            assert_null(ftcanon_flow(pairs[i][1], p, &k2, &v2));
            assert_string_equal(k1, k2);
            assert_string_equal(v1, v2);
            free(k1);
            free(v1);
            free(k2);
            free(v2);
        }
    }

    /* Different actions, same key. */
    char *k1, *v1, *k2, *v2;
    assert_null(
        ftcanon_flow("priority=5,cookie=0x1,ip,actions=drop", P15, &k1, &v1));
    assert_null(ftcanon_flow("priority=5,cookie=0x1,ip,actions=NORMAL", P15,
                             &k2, &v2));
    assert_string_equal(k1, k2);
    assert_string_not_equal(v1, v2);
    free(k1);
    free(v1);
    free(k2);
    free(v2);

    /* Groups. */
    assert_null(ftcanon_group("group_id=9,type=fast_failover,"
                              "bucket=watch_port:1,actions=output:1",
                              OFP15_VERSION, &k1, &v1));
    assert_string_equal(k1, "group_id=9");
    assert_non_null(strstr(v1, "watch_port:1"));
    free(k1);
    free(v1);

    /* Errors name the line. */
    char *error
        = ftcanon_flow("priority=1,nonsense=3,actions=drop", P15, &k1, &v1);
    assert_non_null(error);
    assert_non_null(strstr(error, "nonsense"));
    free(error);
}

static void
lines(struct svec *v, const char *const *l, size_t n)
{
    svec_init(v);
    for (size_t i = 0; i < n; i++) {
        svec_add(v, l[i]);
    }
}

/* Building a part twice from the same lines gives the same part; a change
 * gives a new one that keeps the unchanged entries' canonical forms. */
static void
test_part_build(void **state)
{
    (void) state;
    static const char *const f1[] = {
        "priority=10,cookie=0x5,ip,nw_dst=192.0.2.5,actions=group:5",
        "priority=9,cookie=0x5,arp,arp_tpa=192.0.2.5,actions=drop",
    };
    static const char *const g1[] = {
        "group_id=5,type=fast_failover,bucket=watch_port:1,actions=output:1",
    };
    struct svec flows, groups, none = SVEC_EMPTY_INITIALIZER;
    lines(&flows, f1, sizeof f1 / sizeof f1[0]);
    lines(&groups, g1, sizeof g1 / sizeof g1[0]);

    struct ft_part *a, *b, *c;
    assert_null(ftpart_build(5, &flows, &groups, NULL, P15, &a));
    assert_int_equal(hmap_count(&a->flows), 2);
    assert_int_equal(hmap_count(&a->groups), 1);
    assert_null(ftpart_build(5, &flows, &groups, a, P15, &b));
    assert_ptr_equal(a, b);
    assert_int_equal(a->refcnt, 2);
    ftpart_unref(b);

    /* One flow fewer: a new part. */
    struct svec fewer;
    lines(&fewer, f1, 1);
    assert_null(ftpart_build(5, &fewer, &groups, a, P15, &c));
    assert_ptr_not_equal(a, c);
    assert_int_equal(hmap_count(&c->flows), 1);
    ftpart_unref(c);

    /* A bad line: error, no part. */
    svec_add(&fewer, "priority=1,actions=frobnicate");
    char *err = ftpart_build(5, &fewer, &none, a, P15, &c);
    assert_non_null(err);
    free(err);
    assert_null(c);

    ftpart_unref(a);
    svec_destroy(&flows);
    svec_destroy(&groups);
    svec_destroy(&fewer);
}

static void
test_states(void **state)
{
    (void) state;
    struct ft_state *s = ftstate_create(1);
    struct ft_part *p1 = ftpart_create(1), *p2 = ftpart_create(2);
    ftpart_add_flow(p1, strdup("k1"), strdup("v1"), NULL);
    ftpart_add_flow(p1, strdup("k2"), strdup("v2"), NULL);
    assert_null(ftpart_add_flow(p1, strdup("k2"), strdup("v3"), NULL));
    ftpart_add_group(p2, strdup("group_id=2"), strdup("g"), NULL);
    ftstate_put(s, p1);
    ftstate_put(s, p2);
    assert_int_equal(ftstate_n_flows(s), 2);
    assert_int_equal(ftstate_n_groups(s), 1);
    assert_ptr_equal(ftstate_get(s, 1), p1);
    assert_null(ftstate_get(s, 3));

    /* A clone shares the parts; changing it leaves the original alone. */
    struct ft_state *c = ftstate_clone(s, 2);
    assert_ptr_equal(ftstate_get(c, 1), p1);
    assert_int_equal(p1->refcnt, 2);
    ftstate_remove(c, 1);
    assert_null(ftstate_get(c, 1));
    assert_ptr_equal(ftstate_get(s, 1), p1);
    assert_int_equal(p1->refcnt, 1);
    struct ft_part *p1b = ftpart_create(1);
    ftstate_put(c, p1b);
    assert_ptr_equal(ftstate_get(c, 1), p1b);
    assert_int_equal(ftstate_n_flows(c), 0);

    ftstate_unref(c);
    ftstate_unref(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_canonical_equal),
        cmocka_unit_test(test_part_build),
        cmocka_unit_test(test_states),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
