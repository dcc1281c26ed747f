/*
 * Unit tests for probemeter (one probe reply meter per probed port: ids in
 * config order, rates, the bridge total) and for the flows that use the
 * meters (flowgen through flowinput), and for the config's checks of the
 * meter range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "alias.h"
#include "cfgtest.h"
#include "config.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowset.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "svec.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/util.h"
#include "probemeter.h"

/* Single quotes become double quotes (readable JSON in C strings). */

static struct config *
parse(const char *json, char **errp)
{
    char *text = strdup(json);
    assert_non_null(text);
    for (char *c = text; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    *errp = NULL;
    struct config *cfg = cfgtest_parse(text, "t.json", errp);
    free(text);
    return cfg;
}

static struct config *
parse_ok(const char *json)
{
    char *err;
    struct config *cfg = parse(json, &err);
    if (!cfg) {
        fail_msg("unexpected error: %s", err);
    }
    return cfg;
}

static void
expect_error(const char *json, const char *want)
{
    char *err;
    struct config *cfg = parse(json, &err);
    if (cfg) {
        config_destroy(cfg);
        fail_msg("unexpectedly accepted: %s", json);
    }
    if (!strstr(err, want)) {
        fail_msg("error\n  %s\ndoes not contain\n  %s", err, want);
    }
    free(err);
}

/* JSON built from pieces (kept as written). */
/* clang-format off */
#define M(NAME, BR, PORT, REST)                                               \
    "{'name': '" NAME "', 'bridge': '" BR "', 'port': '" PORT "'" REST "}"

/* br0 (meters from 100): p1 (m1, 100 ms), p2 (m2 at 10 ms and d1 at 100
 * ms), p3 not probed (no ip), p5 not probed (type none), p6 (d3); br1
 * (from 200, rate_pps 500): p4; br2 (not listed: defaults): p7. */
static const char sample[]
    = "{'bridges': [{'name': 'br0', 'probe_source': {'meter_id': 100}},"
      "  {'name': 'br1', 'probe_source': {'meter_id': 200, 'rate_pps': 500}}],"
      " 'aliases': [{'name': 'web', 'addresses': ['192.0.2.100'],"
      "  'vmac': '02:00:5e:00:01:01', 'probe': {'interval_ms': 100},"
      "  'members': [" M("m1", "br0", "p1", ", 'ip': '192.0.2.11'") ","
      M("m2", "br0", "p2", ", 'ip': '192.0.2.12',"
                           " 'probe': {'interval_ms': 10}")
      "," M("m3", "br0", "p3", ", 'mac': '02:00:00:00:00:13'") ","
      M("m4", "br1", "p4", ", 'ip': '192.0.2.14'") "]},"
      " {'name': 'db', 'addresses': ['192.0.2.200'],"
      "  'vmac': '02:00:5e:00:01:02',"
      "  'members': [" M("d1", "br0", "p2", ", 'ip': '192.0.2.22'") ","
      M("d2", "br0", "p5", ", 'ip': '192.0.2.25', 'probe': {'type': 'none'},"
                           " 'mac': '02:00:00:00:00:25'")
      "," M("d3", "br0", "p6", ", 'ip': '192.0.2.26'") ","
      M("d4", "br2", "p7", ", 'ip': '192.0.2.27'") "]}]}";
/* clang-format on */

static void
assert_meter(const struct probemeter_plan *plan, const char *bridge,
             const char *port, uint32_t id, unsigned int rate)
{
    const struct probemeter *m = probemeter_find(plan, bridge, port);
    if (!m) {
        fail_msg("no meter for %s/%s", bridge, port);
    }
    assert_string_equal(m->port, port);
    assert_int_equal(m->id, id);
    assert_int_equal(m->rate_pps, rate);
}

static void
test_ids_and_rates(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(sample);
    struct probemeter_plan *plan = probemeter_plan_create(cfg);

    /* Config order, one meter per port; 4 per probe interval + 10. */
    assert_meter(plan, "br0", "p1", 100, 4 * 10 + 10);
    assert_meter(plan, "br0", "p2", 101, 4 * (100 + 10) + 10);
    assert_meter(plan, "br0", "p6", 102, 4 * 10 + 10);
    assert_null(probemeter_find(plan, "br0", "p3"));
    assert_null(probemeter_find(plan, "br0", "p5"));
    const struct probemeter_bridge *b = probemeter_bridge_find(plan, "br0");
    assert_int_equal(b->n, 3);
    assert_int_equal(b->total_pps, 50 + 450 + 50);
    assert_true(probemeter_bridge_has(b, 100));
    assert_true(probemeter_bridge_has(b, 102));
    assert_false(probemeter_bridge_has(b, 99));
    assert_false(probemeter_bridge_has(b, 103));
    assert_false(probemeter_bridge_has(NULL, 100));
    /* The first member probed on the port. */
    const struct probemeter *p2 = probemeter_find(plan, "br0", "p2");
    assert_int_equal(p2->alias_idx, 0);
    assert_int_equal(p2->member_idx, 1);

    /* rate_pps is per port. */
    assert_meter(plan, "br1", "p4", 200, 500);
    /* A bridge that is not listed: the default first id. */
    assert_meter(plan, "br2", "p7", 0x766d, 50);
    assert_null(probemeter_bridge_find(plan, "br9"));
    assert_null(probemeter_find(plan, "br9", "p1"));
    assert_null(probemeter_find(NULL, "br0", "p1"));

    probemeter_plan_destroy(plan);
    probemeter_plan_destroy(NULL);
    config_destroy(cfg);
}

/* Removing a probed port renumbers the ports after it; the same config
 * always gives the same ids. */
static void
test_renumbering(void **state OVS_UNUSED)
{
    /* clang-format off */
    static const char two[]
        = "{'bridges': [{'name': 'br0', 'probe_source': {'meter_id': 100}}],"
          " 'aliases': [{'name': 'web', 'addresses': ['192.0.2.100'],"
          "  'vmac': '02:00:5e:00:01:01', 'members': ["
          M("m2", "br0", "p2", ", 'ip': '192.0.2.12'") ","
          M("m3", "br0", "p3", ", 'ip': '192.0.2.13'") "]}]}";
    /* clang-format on */
    struct config *cfg = parse_ok(two);
    struct probemeter_plan *plan = probemeter_plan_create(cfg);
    assert_meter(plan, "br0", "p2", 100, 50);
    assert_meter(plan, "br0", "p3", 101, 50);
    probemeter_plan_destroy(plan);
    plan = probemeter_plan_create(cfg);
    assert_meter(plan, "br0", "p3", 101, 50);
    probemeter_plan_destroy(plan);
    config_destroy(cfg);
}

/* Automatic rates beyond the bridge's total are scaled down. */
static void
test_bridge_total(void **state OVS_UNUSED)
{
    /* 2500 ports probed every 10 ms: 410 pps each, 1025000 in all. */
    json_t *members = json_array();
    for (int i = 0; i < 2500; i++) {
        char name[16], port[16], ip[32];
        snprintf(name, sizeof name, "m%d", i);
        snprintf(port, sizeof port, "p%d", i);
        snprintf(ip, sizeof ip, "10.%d.%d.1", i / 256, i % 256);
        json_array_append_new(members, json_pack("{s:s, s:s, s:s, s:s}",
                                                 "name", name, "bridge", "br0",
                                                 "port", port, "ip", ip));
    }
    json_t *root = json_pack("{s:[{s:s, s:[s], s:s, s:{s:i}, s:o}]}",
                             "aliases", "name", "big", "addresses",
                             "192.0.2.100", "vmac", "02:00:5e:00:01:01",
                             "probe", "interval_ms", 10, "members", members);
    assert_non_null(root);
    char *err = NULL;
    struct config *cfg = cfgtest_parse_json(root, "t.json", &err);
    json_decref(root);
    if (!cfg) {
        fail_msg("unexpected error: %s", err);
    }

    struct probemeter_plan *plan = probemeter_plan_create(cfg);
    const struct probemeter_bridge *b = probemeter_bridge_find(plan, "br0");
    assert_int_equal(b->n, 2500);
    assert_int_equal(b->total_pps, PROBEMETER_MAX_BRIDGE_PPS);
    for (size_t k = 0; k < b->n; k++) {
        assert_int_equal(b->meters[k].id, 0x766d + k);
        assert_int_equal(b->meters[k].rate_pps, 400);
    }
    probemeter_plan_destroy(plan);
    config_destroy(cfg);
}

/* clang-format off */
#define THREE_PORTS(PS)                                                       \
    "{'bridges': [{'name': 'br0', 'probe_source': {" PS "}}],"                \
    " 'aliases': [{'name': 'web', 'addresses': ['192.0.2.100'],"              \
    "  'vmac': '02:00:5e:00:01:01', 'members': ["                             \
    M("m1", "br0", "p1", ", 'ip': '192.0.2.11'") ","                          \
    M("m2", "br0", "p2", ", 'ip': '192.0.2.12'") "]},"                        \
    " {'name': 'db', 'addresses': ['192.0.2.200'],"                           \
    "  'vmac': '02:00:5e:00:01:02', 'members': ["                             \
    M("d1", "br0", "p1", ", 'ip': '192.0.2.21'") ","                          \
    M("d3", "br0", "p3", ", 'ip': '192.0.2.23'") "]}]}"
/* clang-format on */

/* The config refuses meters that do not fit, naming the member. */
static void
test_config_checks(void **state OVS_UNUSED)
{
    /* 0xffff0000 - 2: three ports fit exactly. */
    config_destroy(parse_ok(THREE_PORTS("'meter_id': 4294901758")));
    expect_error(THREE_PORTS("'meter_id': 4294901759"),
                 "t.json: aliases[1].members[1]: port \"p3\" would get "
                 "probe meter 4294901761 on bridge br0 "
                 "(probe_source.meter_id 4294901759 + 2), past the largest "
                 "meter id 4294901760 (0xffff0000): with one meter per "
                 "probed port (3), the bridge's probe_source.meter_id must "
                 "be at most 4294901758");
    expect_error(THREE_PORTS("'meter_id': 4294901760"),
                 "t.json: aliases[0].members[1]: port \"p2\" would get "
                 "probe meter 4294901761");

    config_destroy(parse_ok(THREE_PORTS("'rate_pps': 333333")));
    expect_error(THREE_PORTS("'rate_pps': 400000"),
                 "t.json: aliases[1].members[1]: port \"p3\" is probed port "
                 "number 3 on bridge br0, whose probe meters at "
                 "probe_source.rate_pps 400000 each would pass 1200000 "
                 "packets/s, more than 1000000 in all; lower rate_pps (at "
                 "most 333333 for its 3 probed ports) or set it to 0 "
                 "(automatic)");
}

/* Ports p1..p7 are OpenFlow ports 1..7. */
static int64_t
env_port(const void *aux OVS_UNUSED, const char *name)
{
    if (name[0] == 'p' && name[1] >= '1' && name[1] <= '7' && !name[2]) {
        return name[1] - '0';
    }
    return -1;
}

static bool
env_mac(const void *aux OVS_UNUSED, const struct cfg_alias *a, size_t m,
        struct eth_addr *mac)
{
    *mac = a->members[m].mac;
    return a->members[m].has_mac;
}

/* The probe reply flow of 'in_port' in 'flows', or NULL. */
static const char *
reply_flow(const struct svec *flows, int in_port)
{
    char match[64];
    snprintf(match, sizeof match, "arp,in_port=%d,dl_dst=", in_port);
    for (size_t i = 0; i < flows->n; i++) {
        if (strstr(flows->names[i], match)
            && strstr(flows->names[i], "arp_op=2")) {
            return flows->names[i];
        }
    }
    return NULL;
}

static void
test_flows_use_their_port_meter(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(sample);
    struct probemeter_plan *plan = probemeter_plan_create(cfg);
    struct flowinput_env env = {
        .port = env_port,
        .mac = env_mac,
        .plan = plan,
    };
    struct flowgen_bridge br = { 0 };
    flowinput_bridge(cfg, "br0", &env, &br);
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct alias_state *st = alias_state_create(cfg->aliases[i]);
        struct alias_election r;
        for (size_t m = 0; m < cfg->aliases[i]->n_members; m++) {
            alias_state_set_port(st, m, true, true, 0);
        }
        alias_state_elect(st, 0, &r);
        struct flowgen_input in;
        flowinput_alias(cfg->aliases[i], "br0", &br, st, &env, &in);
        struct fs_part *p = flowgen_alias_flows(&in);
        for (size_t k = 0; k < fs_part_n_flows(p); k++) {
            struct ds s = DS_EMPTY_INITIALIZER;
            fs_flow_format(fs_part_flow(p, k), 0, &s);
            svec_add_nocopy(&lines, ds_steal_cstr(&s));
        }
        fs_part_unref(p);
        flowgen_input_destroy(&in);
        alias_state_destroy(st);
    }
    flowinput_bridge_destroy(&br);
    struct svec *out = &lines;

    /* p1, p2 (shared by web and db: once) and p6, each with its own
     * meter; nothing for the ports that are not probed. */
    static const struct {
        int port;
        const char *meter;
    } want[]
        = { { 1, "meter:100," }, { 2, "meter:101," }, { 6, "meter:102," } };
    size_t n_replies = 0;
    for (size_t i = 0; i < out->n; i++) {
        n_replies += strstr(out->names[i], "arp_op=2,actions=meter:") != NULL;
    }
    assert_int_equal(n_replies, ARRAY_SIZE(want));
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        const char *f = reply_flow(out, want[i].port);
        if (!f || !strstr(f, want[i].meter)) {
            fail_msg("port %d: want %s in %s", want[i].port, want[i].meter,
                     f ? f : "(no flow)");
        }
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error
            = parse_ofp_flow_mod_str(&fm, f, NULL, NULL, OFPFC_ADD, &usable);
        if (error) {
            fail_msg("%s: %s", f, error);
        }
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
    }
    assert_null(reply_flow(out, 3));
    assert_null(reply_flow(out, 5));

    svec_destroy(&lines);
    probemeter_plan_destroy(plan);
    config_destroy(cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_and_rates),
        cmocka_unit_test(test_renumbering),
        cmocka_unit_test(test_bridge_total),
        cmocka_unit_test(test_config_checks),
        cmocka_unit_test(test_flows_use_their_port_meter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
