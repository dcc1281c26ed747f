/*
 * Unit tests for flowgen and flowset: the flows of one alias are exactly
 * the pipeline's (the lines ovs-ofctl would load, compared in binary),
 * every kind of flow and group survives the trip through a switch and back
 * unchanged (so reconciling compares equal), groups follow the election,
 * the inputs say when flows or groups change, and flows/pipeline.txt is
 * the output for vmacd.example.json (VMACD_UPDATE_GOLDEN=1 rewrites it).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alias.h"
#include "byte-order.h"
#include "flow.h"
#include "config.h"
#include "fgtest.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowset.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "probemeter.h"
#include "svec.h"
#include "verror.h"

/* Two aliases: "web" (v4 + v6, both members on br0) and "db" (v4 only; d1
 * on br0, d2 on br1, d3 on br0 probed and its MAC not learned yet). */
static const char fixture_json[] = "{"
    "\"bridges\": [{\"name\": \"br0\", \"uplinks\": [\"up0\"]},"
    "              {\"name\": \"br1\"}],"
    "\"aliases\": ["
    " {\"name\": \"web\", \"addresses\": [\"192.0.2.100\", \"2001:db8::100\"],"
    "  \"vmac\": \"02:00:5e:00:01:01\","
    "  \"members\": ["
    "   {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
    "    \"mac\": \"02:00:00:00:00:11\", \"priority\": 150},"
    "   {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
    "    \"mac\": \"02:00:00:00:00:12\", \"priority\": 100}]},"
    " {\"name\": \"db\", \"addresses\": [\"198.51.100.7\"],"
    "  \"vmac\": \"02:00:5e:00:01:02\","
    "  \"members\": ["
    "   {\"name\": \"d1\", \"bridge\": \"br0\", \"port\": \"d1-p\","
    "    \"mac\": \"02:00:00:00:00:21\"},"
    "   {\"name\": \"d2\", \"bridge\": \"br1\", \"port\": \"d2-p\","
    "    \"mac\": \"02:00:00:00:00:22\", \"priority\": 200},"
    "   {\"name\": \"d3\", \"bridge\": \"br0\", \"port\": \"d3-p\","
    "    \"ip\": \"198.51.100.23\", \"priority\": 150}]}]}";

struct fixture {
    struct config *cfg;
    struct probemeter_plan *plan;
    struct alias_state *states[2]; /* web, db. */
    const char *missing;           /* A port that does not exist. */
    bool golden;                   /* The ports of flows/pipeline.txt. */
    struct flowinput_env env;
};

/* Port numbers (one table for every bridge: names are unique), and those
 * of flows/pipeline.txt for vmacd.example.json. */
static int64_t
env_port(const void *f_, const char *name)
{
    static const struct port {
        const char *name;
        int64_t port;
    } ports[] = {
        { "m1-p", 1 }, { "m2-p", 2 }, { "up0", 3 },
        { "d1-p", 4 }, { "d3-p", 5 }, { "d2-p", 9 },
    }, golden_ports[] = {
        { "m1-p", 1 }, { "m2-p", 2 }, { "db1-p", 3 }, { "up0", 4 },
        { "db2-p", 1 },
    };
    const struct fixture *f = f_;
    const struct port *table = f->golden ? golden_ports : ports;
    size_t n = f->golden ? ARRAY_SIZE(golden_ports) : ARRAY_SIZE(ports);

    if (f->missing && !strcmp(f->missing, name)) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(table[i].name, name)) {
            return table[i].port;
        }
    }
    return -1;
}

/* Configured MACs only (none learned). */
static bool
env_mac(const void *f OVS_UNUSED, const struct cfg_alias *a, size_t m,
        struct eth_addr *mac)
{
    *mac = a->members[m].mac;
    return a->members[m].has_mac;
}

static void
fixture_load(struct fixture *f, struct config *cfg)
{
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->plan = probemeter_plan_create(cfg);
    f->env = (struct flowinput_env){
        .port = env_port,
        .mac = env_mac,
        .aux = f,
        .plan = f->plan,
    };
    for (size_t i = 0; i < cfg->n_aliases && i < 2; i++) {
        const struct cfg_alias *a = cfg->aliases[i];
        struct alias_election r;
        f->states[i] = alias_state_create(a);
        for (size_t m = 0; m < a->n_members; m++) {
            alias_state_set_port(f->states[i], m, true, true, 0);
        }
        alias_state_elect(f->states[i], 0, &r);
    }
}

static struct config *
parse(const char *json)
{
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    if (config_parse_string(json, "test", &cfg, &e)) {
        fail_msg("config: %s", e.message);
    }
    return cfg;
}

static void
fixture_init(struct fixture *f)
{
    fixture_load(f, parse(fixture_json));
}

static void
fixture_destroy(struct fixture *f)
{
    for (size_t i = 0; i < 2; i++) {
        alias_state_destroy(f->states[i]);
    }
    probemeter_plan_destroy(f->plan);
    config_destroy(f->cfg);
}

/* The bridge inputs and the alias's parts on 'bridge'. */
struct gen {
    struct flowgen_bridge br;
    struct flowgen_input in;
    struct fs_part *flows, *group;
};

static void
gen(struct fixture *f, const char *bridge, size_t alias, struct gen *g)
{
    memset(g, 0, sizeof *g);
    flowinput_bridge(f->cfg, bridge, &f->env, &g->br);
    flowinput_alias(f->cfg->aliases[alias], bridge, &g->br, f->states[alias],
                    &f->env, &g->in);
    g->flows = flowgen_alias_flows(&g->in);
    g->group = flowgen_alias_group(&g->in);
}

static void
gen_destroy(struct gen *g)
{
    fs_part_unref(g->flows);
    fs_part_unref(g->group);
    flowgen_input_destroy(&g->in);
    flowinput_bridge_destroy(&g->br);
}

/* The pipeline of web on br0 (the ports above), as the config's
 * documentation in flows/README.md gives it. */
#define VMAC "02:00:5e:00:01:01"
#define FLOW(PRIO, REST) "table=0,priority=" #PRIO "," REST

static const char *const web_flows[] = {
    FLOW(400, "dl_src=" VMAC ",actions=drop"),
    FLOW(400, "arp,arp_spa=192.0.2.100,actions=drop"),
    FLOW(400, "icmp6,icmp_type=136,nd_target=2001:db8::100,actions=drop"),
    FLOW(410, "in_port=3,dl_src=" VMAC ",actions=NORMAL"),
    FLOW(410, "in_port=3,arp,arp_spa=192.0.2.100,actions=NORMAL"),
    FLOW(410, "in_port=3,icmp6,icmp_type=136,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(300, "arp,arp_op=1,arp_tpa=192.0.2.100,actions="
              "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
              "set_field:" VMAC "->eth_src,"
              "load:0x2->NXM_OF_ARP_OP[],"
              "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
              "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
              "set_field:" VMAC "->arp_sha,"
              "set_field:192.0.2.100->arp_spa,IN_PORT"),
    FLOW(310, "in_port=1,arp,arp_op=1,arp_tpa=192.0.2.100,actions=NORMAL"),
    FLOW(310, "in_port=2,arp,arp_op=1,arp_tpa=192.0.2.100,actions=NORMAL"),
    FLOW(300, "icmp6,icmp_type=135,nd_target=2001:db8::100,actions="
              "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
              "set_field:" VMAC "->eth_src,"
              "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
              "set_field:2001:db8::100->ipv6_src,"
              "set_field:136->icmpv6_type,"
              "set_field:0x60000000->nd_reserved,"
              "set_field:2->nd_options_type,"
              "set_field:255->nw_ttl,resubmit(,1)"),
    "table=1,priority=300,icmp6,icmp_type=136,"
    "nd_target=2001:db8::100,actions=set_field:" VMAC "->nd_tll,IN_PORT",
    FLOW(306, "icmp6,ipv6_src=::,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(305, "icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "nd_sll=00:00:00:00:00:00,actions=drop"),
    FLOW(310, "in_port=1,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(310, "in_port=2,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(200, "ip,nw_dst=192.0.2.100,actions=group:%d"),
    FLOW(210, "in_port=1,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(210, "in_port=2,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(200, "ipv6,ipv6_dst=2001:db8::100,actions=group:%d"),
    FLOW(210, "in_port=1,ipv6,ipv6_dst=2001:db8::100,actions=NORMAL"),
    FLOW(210, "in_port=2,ipv6,ipv6_dst=2001:db8::100,actions=NORMAL"),
    FLOW(190, "in_port=1,ip,nw_src=192.0.2.100,"
              "actions=set_field:" VMAC "->eth_src,NORMAL"),
    FLOW(190, "in_port=1,ipv6,ipv6_src=2001:db8::100,"
              "actions=set_field:" VMAC "->eth_src,NORMAL"),
    FLOW(250, "in_port=1,icmp6,ipv6_src=2001:db8::100,icmp_type=135,"
              "actions=set_field:" VMAC "->eth_src,"
              "set_field:" VMAC "->nd_sll,NORMAL"),
    FLOW(190, "in_port=2,ip,nw_src=192.0.2.100,"
              "actions=set_field:" VMAC "->eth_src,NORMAL"),
    FLOW(190, "in_port=2,ipv6,ipv6_src=2001:db8::100,"
              "actions=set_field:" VMAC "->eth_src,NORMAL"),
    FLOW(250, "in_port=2,icmp6,ipv6_src=2001:db8::100,icmp_type=135,"
              "actions=set_field:" VMAC "->eth_src,"
              "set_field:" VMAC "->nd_sll,NORMAL"),
};

/* web_flows with the group id filled in, skipping lines that contain
 * 'skip' (NULL: none).  Frees with svec_destroy(). */
static void
web_lines(uint32_t id, const char *skip, struct svec *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(web_flows); i++) {
        if (!skip || !strstr(web_flows[i], skip)) {
            svec_add_nocopy(out, xasprintf(web_flows[i], (int) id));
        }
    }
}

static void
assert_web_flows(const struct fs_part *got, uint32_t id, const char *skip)
{
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    web_lines(id, skip, &lines);
    fgtest_assert_flows(got, (const char *const *) lines.names, lines.n);
    svec_destroy(&lines);
}

#define WEB_BUCKET1                                                           \
    ",bucket=watch_port:1,actions=set_field:02:00:00:00:00:11->eth_dst,"      \
    "output:1"
#define WEB_BUCKET2                                                           \
    ",bucket=watch_port:2,actions=set_field:02:00:00:00:00:12->eth_dst,"      \
    "output:2"

static char *
web_group(uint32_t id, const char *buckets)
{
    return xasprintf("group_id=%" PRIu32 ",type=fast_failover%s", id,
                     buckets);
}

static void
test_web_exact(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;

    fixture_init(&f);
    uint32_t id = f.cfg->aliases[0]->id;
    gen(&f, "br0", 0, &g);
    assert_int_equal(fs_part_id(g.flows), id);
    assert_web_flows(g.flows, id, NULL);
    char *grp = web_group(id, WEB_BUCKET1 WEB_BUCKET2);
    fgtest_assert_group(g.group, grp);
    free(grp);
    gen_destroy(&g);

    /* db, whose master d2 is on br1: br0 sends db's traffic to its uplink,
     * addressed to db's VMAC. */
    gen(&f, "br0", 1, &g);
    char *line = xasprintf("group_id=%" PRIu32 ",type=fast_failover,"
                           "bucket=watch_port:3,actions=set_field:"
                           "02:00:5e:00:01:02->eth_dst,output:3",
                           f.cfg->aliases[1]->id);
    fgtest_assert_group(g.group, line);
    free(line);
    gen_destroy(&g);
    fixture_destroy(&f);
}

static void
test_cookie(void **state OVS_UNUSED)
{
    assert_true(flowgen_cookie(0x766d6163, 0x1001) == 0x766d616300001001ULL);
    assert_true(flowgen_cookie(0x766d6163, 0) == 0x766d616300000000ULL);
    assert_true(flowgen_cookie(0xffffffff, 0x7fffffff)
                == 0xffffffff7fffffffULL);
}

static void
test_group_follows_election(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;
    struct alias_election r;
    char *grp;

    fixture_init(&f);
    uint32_t id = f.cfg->aliases[0]->id;

    /* Planned move to m2: m2's bucket comes first. */
    assert_int_equal(alias_state_move(f.states[0], 1, 10), 0);
    alias_state_elect(f.states[0], 10, &r);
    assert_true(r.changed);
    gen(&f, "br0", 0, &g);
    fgtest_assert_group(g.group, grp = web_group(id, WEB_BUCKET2 WEB_BUCKET1));
    free(grp);
    gen_destroy(&g);

    /* m2 drained: m1 only. */
    alias_state_set_drained(f.states[0], 1, true, 20);
    alias_state_elect(f.states[0], 20, &r);
    gen(&f, "br0", 0, &g);
    fgtest_assert_group(g.group, grp = web_group(id, WEB_BUCKET1));
    free(grp);
    gen_destroy(&g);

    /* m1 link down too: m1 stays as a last-resort bucket. */
    alias_state_set_port(f.states[0], 0, true, false, 30);
    alias_state_elect(f.states[0], 30, &r);
    assert_int_equal(r.new_master, -1);
    gen(&f, "br0", 0, &g);
    fgtest_assert_group(g.group, grp = web_group(id, WEB_BUCKET1));
    free(grp);
    gen_destroy(&g);

    /* m1 port gone: a group without buckets (drop), still valid. */
    alias_state_set_port(f.states[0], 0, false, false, 40);
    alias_state_elect(f.states[0], 40, &r);
    gen(&f, "br0", 0, &g);
    fgtest_assert_group(g.group, grp = web_group(id, ""));
    free(grp);
    gen_destroy(&g);

    fixture_destroy(&f);
}

static void
test_missing_port_and_other_bridge(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;

    fixture_init(&f);
    uint32_t id = f.cfg->aliases[0]->id;

    /* m2-p does not exist on the bridge: no per-port flows, no bucket. */
    f.missing = "m2-p";
    gen(&f, "br0", 0, &g);
    assert_web_flows(g.flows, id, "in_port=2,");
    char *grp = web_group(id, WEB_BUCKET1);
    fgtest_assert_group(g.group, grp);
    free(grp);
    gen_destroy(&g);
    f.missing = NULL;

    /* br1: db's master d2 is there, with its bucket; no uplinks, so no
     * guard exemptions. */
    gen(&f, "br1", 1, &g);
    for (size_t i = 0; i < fs_part_n_flows(g.flows); i++) {
        assert_int_not_equal(fs_part_flow(g.flows, i)->priority, 410);
    }
    char *line = xasprintf("group_id=%" PRIu32 ",type=fast_failover,"
                           "bucket=watch_port:9,actions=set_field:"
                           "02:00:00:00:00:22->eth_dst,output:9",
                           f.cfg->aliases[1]->id);
    fgtest_assert_group(g.group, line);
    free(line);
    gen_destroy(&g);

    /* A bridge with no alias: just the base flow. */
    struct flowgen_bridge br = { 0 };
    flowinput_bridge(f.cfg, "br9", &f.env, &br);
    struct fs_part *base = flowgen_base(&br, false, false);
    static const char *const base_lines[] = {
        "table=0,priority=0,actions=NORMAL",
    };
    fgtest_assert_flows(base, base_lines, 1);
    fs_part_unref(base);
    flowinput_bridge_destroy(&br);
    fixture_destroy(&f);
}

/* db's master d2 is on br1: br0 leaves what arrives from its uplink for
 * db to br1 (drops it), and keeps answering its local clients; when d2 goes
 * away and d3 (on br0) takes over, br0 delivers locally again. */
static void
test_remote_master(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;
    struct alias_election r;

    fixture_init(&f);
    gen(&f, "br0", 1, &g);
    assert_true(fgtest_has_flow(g.flows, "table=0,priority=320,in_port=3,arp,"
                                         "arp_op=1,arp_tpa=198.51.100.7,"
                                         "actions=drop"));
    assert_true(fgtest_has_flow(g.flows, "table=0,priority=320,in_port=3,ip,"
                                         "nw_dst=198.51.100.7,actions=drop"));
    assert_true(fgtest_has_priority(g.flows, 300)); /* The local responder. */
    gen_destroy(&g);

    /* web's master is local: no uplink drops for it. */
    gen(&f, "br0", 0, &g);
    assert_false(fgtest_has_priority(g.flows, 320));
    gen_destroy(&g);

    /* d2 (br1) goes away: d3 (prio 150, no MAC yet) is master, on br0:
     * local again; d3 has no bucket, d1 has one. */
    alias_state_set_port(f.states[1], 1, false, false, 1);
    alias_state_elect(f.states[1], 1, &r);
    assert_true(r.changed);
    gen(&f, "br0", 1, &g);
    assert_false(fgtest_has_priority(g.flows, 320));
    char *line = xasprintf("group_id=%" PRIu32 ",type=fast_failover,"
                           "bucket=watch_port:4,actions=set_field:"
                           "02:00:00:00:00:21->eth_dst,output:4",
                           f.cfg->aliases[1]->id);
    fgtest_assert_group(g.group, line);
    free(line);
    gen_destroy(&g);
    fixture_destroy(&f);
}

/* An access bridge carries an alias without a member of it: it answers
 * ARP locally and sends the alias's traffic to its uplink. */
static void
test_access_bridge(void **state OVS_UNUSED)
{
    static const char json[] = "{"
        "\"bridges\": [{\"name\": \"br0\"},"
        "              {\"name\": \"br1\", \"uplinks\": [\"up0\"]}],"
        "\"aliases\": ["
        " {\"name\": \"web\","
        "  \"addresses\": [\"192.0.2.100\", \"2001:db8::100\"],"
        "  \"vmac\": \"02:00:5e:00:01:01\", \"access_bridges\": [\"br1\"],"
        "  \"members\": ["
        "   {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
        "    \"mac\": \"02:00:00:00:00:11\", \"priority\": 150},"
        "   {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
        "    \"mac\": \"02:00:00:00:00:12\", \"priority\": 100}]}]}";
    struct fixture f;
    fixture_load(&f, parse(json));

    struct gen g;
    gen(&f, "br1", 0, &g);
    assert_true(fgtest_has_priority(g.flows, 300));
    assert_true(fgtest_has_priority(g.flows, 320));
    for (size_t i = 0; i < fs_part_n_flows(g.flows); i++) {
        /* No member here: no per-member flows, only the uplink's (3). */
        struct match m;
        fs_flow_get_match(fs_part_flow(g.flows, i), &m);
        assert_true(!m.wc.masks.in_port.ofp_port
                    || m.flow.in_port.ofp_port == u16_to_ofp(3));
    }
    char *line = xasprintf("group_id=%" PRIu32 ",type=fast_failover,"
                           "bucket=watch_port:3,actions=set_field:" VMAC
                           "->eth_dst,output:3",
                           f.cfg->aliases[0]->id);
    fgtest_assert_group(g.group, line);
    free(line);
    gen_destroy(&g);
    fixture_destroy(&f);
}

static void
test_next_table(void **state OVS_UNUSED)
{
    char *text = xasprintf("{\"openflow\": {\"base_table\": 10, "
                           "\"next_table\": 20}, %s",
                           fixture_json + 1);
    struct fixture f;
    fixture_load(&f, parse(text));
    free(text);

    struct gen g;
    gen(&f, "br0", 0, &g);
    struct fs_part *base = flowgen_base(&g.br, false, false);
    static const char *const base_lines[] = {
        "table=10,priority=0,actions=goto_table:20",
    };
    fgtest_assert_flows(base, base_lines, 1);
    fs_part_unref(base);

    struct svec lines = SVEC_EMPTY_INITIALIZER;
    fgtest_part_lines(g.flows, 0, &lines);
    for (size_t i = 0; i < lines.n; i++) {
        const char *s = lines.names[i];
        assert_null(strstr(s, "NORMAL"));
        assert_true(!strncmp(s, "table=10,", 9)
                    || !strncmp(s, "table=11,", 9));
        if (strstr(s, "resubmit")) {
            assert_non_null(strstr(s, "resubmit(,11)"));
        }
    }
    svec_destroy(&lines);
    gen_destroy(&g);
    fixture_destroy(&f);
}

static void
test_deterministic(void **state OVS_UNUSED)
{
    struct fixture f1, f2;
    struct gen g1, g2;

    fixture_init(&f1);
    fixture_init(&f2);
    gen(&f1, "br0", 0, &g1);
    gen(&f2, "br0", 0, &g2);
    struct svec l1 = SVEC_EMPTY_INITIALIZER, l2 = SVEC_EMPTY_INITIALIZER;
    fgtest_part_lines(g1.flows, 0, &l1);
    fgtest_part_lines(g2.flows, 0, &l2);
    assert_true(svec_equal(&l1, &l2));
    assert_true(fs_part_equal(g1.flows, g2.flows));
    assert_true(fs_part_equal(g1.group, g2.group));

    /* No duplicate flows. */
    svec_sort(&l1);
    assert_null(svec_get_duplicate(&l1));

    svec_destroy(&l1);
    svec_destroy(&l2);
    gen_destroy(&g1);
    gen_destroy(&g2);
    fixture_destroy(&f1);
    fixture_destroy(&f2);
}

/* The inputs say which of flows and group a change touches. */
static void
test_changed(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;
    struct flowgen_input in2;
    struct alias_election r;

    fixture_init(&f);
    gen(&f, "br0", 0, &g);
    const struct cfg_alias *a = f.cfg->aliases[0];

    /* The same input: nothing. */
    flowinput_alias(a, "br0", &g.br, f.states[0], &f.env, &in2);
    assert_false(flowgen_flows_changed(&g.in, &in2));
    assert_false(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);

    /* A master change on the same bridge: the group only. */
    assert_int_equal(alias_state_move(f.states[0], 1, 10), 0);
    alias_state_elect(f.states[0], 10, &r);
    flowinput_alias(a, "br0", &g.br, f.states[0], &f.env, &in2);
    assert_false(flowgen_flows_changed(&g.in, &in2));
    assert_true(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);

    /* A port gone: both. */
    f.missing = "m2-p";
    flowinput_alias(a, "br0", &g.br, f.states[0], &f.env, &in2);
    assert_true(flowgen_flows_changed(&g.in, &in2));
    assert_true(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);
    f.missing = NULL;

    /* The bridge's inputs changed (its version): both. */
    g.br.version++;
    flowinput_alias(a, "br0", &g.br, f.states[0], &f.env, &in2);
    assert_true(flowgen_flows_changed(&g.in, &in2));
    assert_true(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);

    gen_destroy(&g);
    fixture_destroy(&f);
}

#define PMAC "02:76:6d:61:63:70"
#define PLLA "fe80::76:6dff:fe61:6370" /* PMAC's link-local address. */

/* A member whose ip is IPv6 is probed with ND: the probe identity's guard
 * flows include its link-local address, and the member's port sends the
 * solicited NAs to that address to vmacd, through the port's meter. */
static void
test_probe_flows_ipv6(void **state OVS_UNUSED)
{
    static const char json[] = "{"
        "\"bridges\": [{\"name\": \"br0\", \"uplinks\": [\"up0\"],"
        "  \"probe_source\": {\"mac\": \"" PMAC "\", \"meter_id\": 100}}],"
        "\"aliases\": ["
        " {\"name\": \"web\","
        "  \"addresses\": [\"192.0.2.100\", \"2001:db8::100\"],"
        "  \"vmac\": \"02:00:5e:00:01:01\","
        "  \"members\": ["
        "   {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
        "    \"mac\": \"02:00:00:00:00:11\", \"ip\": \"2001:db8::11\","
        "    \"priority\": 150},"
        "   {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
        "    \"mac\": \"02:00:00:00:00:12\", \"ip\": \"192.0.2.12\","
        "    \"priority\": 100}]}]}";
    struct fixture f;
    fixture_load(&f, parse(json));

    struct gen g;
    gen(&f, "br0", 0, &g);
    struct fs_part *base = flowgen_base(&g.br, true, true);
#define PFLOW(REST) "table=0,priority=415," REST
    static const char *const guards[] = {
        "table=0,priority=0,actions=NORMAL",
        PFLOW("dl_dst=" PMAC ",actions=drop"),
        PFLOW("dl_src=" PMAC ",actions=drop"),
        PFLOW("icmp6,icmp_type=135,nd_target=" PLLA ",actions=drop"),
        PFLOW("icmp6,icmp_type=136,nd_target=" PLLA ",actions=drop"),
        PFLOW("ipv6,ipv6_src=" PLLA ",actions=drop"),
        PFLOW("ipv6,ipv6_dst=" PLLA ",actions=drop"),
    };
#undef PFLOW
    fgtest_assert_flows(base, guards, ARRAY_SIZE(guards));
    fs_part_unref(base);

    /* One reply flow per port, each for its member's probes, through the
     * port's meter (100 + its rank). */
    assert_true(fgtest_has_flow(g.flows,
                                "table=0,priority=420,in_port=1,icmp6,"
                                "dl_dst=" PMAC ",ipv6_dst=" PLLA
                                ",icmp_type=136,actions=meter:100,"
                                "controller(max_len=128)"));
    assert_true(fgtest_has_flow(g.flows, "table=0,priority=420,in_port=2,arp,"
                                         "dl_dst=" PMAC ",arp_op=2,actions="
                                         "meter:101,controller(max_len=128)"));

    /* Besides them, exactly the pipeline. */
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    web_lines(f.cfg->aliases[0]->id, NULL, &lines);
    svec_add(&lines, "table=0,priority=420,in_port=1,icmp6,dl_dst=" PMAC
                     ",ipv6_dst=" PLLA ",icmp_type=136,actions=meter:100,"
                     "controller(max_len=128)");
    svec_add(&lines, "table=0,priority=420,in_port=2,arp,dl_dst=" PMAC
                     ",arp_op=2,actions=meter:101,controller(max_len=128)");
    fgtest_assert_flows(g.flows, (const char *const *) lines.names, lines.n);
    svec_destroy(&lines);
    gen_destroy(&g);
    fixture_destroy(&f);
}

static void
roundtrip_all(struct fixture *f, const char *bridge)
{
    static const enum ofputil_protocol protocols[] = {
        OFPUTIL_P_OF13_OXM,
        OFPUTIL_P_OF14_OXM,
        OFPUTIL_P_OF15_OXM,
    };
    for (size_t i = 0; i < f->cfg->n_aliases && i < 2; i++) {
        struct gen g;
        gen(f, bridge, i, &g);
        struct fs_part *base = flowgen_base(&g.br, true, true);
        for (size_t k = 0; k < ARRAY_SIZE(protocols); k++) {
            if (g.flows) {
                fgtest_assert_roundtrip(g.flows, protocols[k]);
            }
            fgtest_assert_roundtrip(g.group, protocols[k]);
            fgtest_assert_roundtrip(base, protocols[k]);
        }
        fs_part_unref(base);
        gen_destroy(&g);
    }
}

/* Every kind of flow and group: local and remote masters, uplinks, ARP,
 * ND and TCP probes, next_table. */
static void
test_roundtrip(void **state OVS_UNUSED)
{
    struct fixture f;
    fixture_init(&f);
    roundtrip_all(&f, "br0");
    roundtrip_all(&f, "br1");
    fixture_destroy(&f);

    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    assert_int_equal(config_load("vmacd.example.json", &cfg, &e), 0);
    fixture_load(&f, cfg);
    roundtrip_all(&f, "br0");
    roundtrip_all(&f, "br1");
    fixture_destroy(&f);

    char *text = xasprintf("{\"openflow\": {\"base_table\": 10, "
                           "\"next_table\": 20}, %s",
                           fixture_json + 1);
    fixture_load(&f, parse(text));
    free(text);
    roundtrip_all(&f, "br0");
    fixture_destroy(&f);
}

/* The golden file: the pipeline of vmacd.example.json on its bridges,
 * with the ports of flows/pipeline.txt's header, every member up, no MAC
 * learned (members without a configured one get no bucket). */
#define GOLDEN "flows/pipeline.txt"

static void
golden_text(struct ds *s)
{
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    assert_int_equal(config_load("vmacd.example.json", &cfg, &e), 0);
    struct fixture f;
    fixture_load(&f, cfg);
    f.golden = true;

    ds_put_cstr(s,
                "# The flows and groups vmacd wants (controller/flowgen.c) "
                "for\n"
                "# vmacd.example.json, in ovs-ofctl add-flow(s) and "
                "add-group(s) syntax,\n"
                "# with every member up and no MAC learned yet (db2 has no "
                "configured mac,\n"
                "# so it gets no bucket until its probes learn it), on "
                "bridges whose ports are\n"
                "#   br0: m1-p = 1, m2-p = 2, db1-p = 3, up0 = 4\n"
                "#   br1: db2-p = 1\n"
                "# Written by tests/unit/test_flowgen.c, which fails when "
                "flowgen's output\n"
                "# differs: regenerate with 'make golden' and review the "
                "diff.\n"
                "# flows/README.md explains every line.  To load by hand "
                "(groups first):\n"
                "#   grep '^group_id=' flows/pipeline.txt | ovs-ofctl -O "
                "OpenFlow15 add-groups br0 -\n"
                "#   grep '^table=' flows/pipeline.txt | ovs-ofctl -O "
                "OpenFlow15 add-flows br0 -\n");
    static const char *const bridges[] = { "br0", "br1" };
    for (size_t b = 0; b < ARRAY_SIZE(bridges); b++) {
        struct gen g;
        memset(&g, 0, sizeof g);
        flowinput_bridge(cfg, bridges[b], &f.env, &g.br);
        ds_put_format(s, "\n# Bridge %s.\n", bridges[b]);
        bool probed = false, nd = false;
        for (size_t i = 0; i < cfg->n_aliases; i++) {
            const struct cfg_alias *a = cfg->aliases[i];
            for (size_t m = 0; m < a->n_members; m++) {
                if (!strcmp(a->members[m].bridge, bridges[b])
                    && config_member_probe_type(cfg, &a->members[m])
                           != CFG_PROBE_NONE) {
                    probed = true;
                    nd |= a->members[m].ip_is_v6;
                }
            }
        }
        struct fs_part *base = flowgen_base(&g.br, probed, nd);
        struct svec lines = SVEC_EMPTY_INITIALIZER;
        fgtest_part_lines(base, cfg->cookie_prefix, &lines);
        fs_part_unref(base);
        struct svec groups = SVEC_EMPTY_INITIALIZER;
        for (size_t i = 0; i < cfg->n_aliases && i < 2; i++) {
            const struct cfg_alias *a = cfg->aliases[i];
            bool carried = false;
            for (size_t m = 0; m < a->n_members; m++) {
                carried |= !strcmp(a->members[m].bridge, bridges[b]);
            }
            if (!carried) {
                continue;
            }
            flowinput_alias(a, bridges[b], &g.br, f.states[i], &f.env,
                            &g.in);
            struct fs_part *flows = flowgen_alias_flows(&g.in);
            struct fs_part *group = flowgen_alias_group(&g.in);
            fgtest_part_lines(flows, cfg->cookie_prefix, &lines);
            svec_add_nocopy(&groups, fgtest_group_line(group));
            fs_part_unref(flows);
            fs_part_unref(group);
            flowgen_input_destroy(&g.in);
        }
        for (size_t i = 0; i < lines.n; i++) {
            ds_put_format(s, "%s\n", lines.names[i]);
        }
        for (size_t i = 0; i < groups.n; i++) {
            ds_put_format(s, "%s\n", groups.names[i]);
        }
        svec_destroy(&lines);
        svec_destroy(&groups);
        flowinput_bridge_destroy(&g.br);
    }
    fixture_destroy(&f);
}

static void
test_golden(void **state OVS_UNUSED)
{
    struct ds want = DS_EMPTY_INITIALIZER;
    golden_text(&want);
    fgtest_golden(GOLDEN, ds_cstr(&want), "vmacd.example.json");
    ds_destroy(&want);
}

/* Masks and action lists are shared, and go with their last user. */
static void
test_interning(void **state OVS_UNUSED)
{
    size_t masks0, acts0;
    flowset_intern_counts(&masks0, &acts0);

    struct fixture f;
    fixture_init(&f);
    struct gen g1, g2;
    gen(&f, "br0", 0, &g1);
    size_t masks1, acts1;
    flowset_intern_counts(&masks1, &acts1);
    assert_true(masks1 > masks0);
    /* Fewer action lists than flows: NORMAL, drop and the rewrites
     * repeat. */
    assert_true(acts1 - acts0 < fs_part_n_flows(g1.flows));

    /* The same again adds nothing. */
    gen(&f, "br0", 0, &g2);
    size_t masks2, acts2;
    flowset_intern_counts(&masks2, &acts2);
    assert_int_equal(masks2, masks1);
    assert_int_equal(acts2, acts1);
    gen_destroy(&g1);
    gen_destroy(&g2);
    fixture_destroy(&f);

    size_t masks3, acts3;
    flowset_intern_counts(&masks3, &acts3);
    assert_int_equal(masks3, masks0);
    assert_int_equal(acts3, acts0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_web_exact),
        cmocka_unit_test(test_cookie),
        cmocka_unit_test(test_group_follows_election),
        cmocka_unit_test(test_missing_port_and_other_bridge),
        cmocka_unit_test(test_remote_master),
        cmocka_unit_test(test_access_bridge),
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_changed),
        cmocka_unit_test(test_probe_flows_ipv6),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_interning),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
