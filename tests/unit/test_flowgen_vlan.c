/*
 * Unit tests for flowgen and flowinput on VLAN-aware bridges
 * (flows/README.md, "VLANs"): the classification of every kind of port
 * into reg13, the alias's flows that match its VLAN class, the steer
 * flows split by tagging, the remote master's bucket that tags on a trunk,
 * next_table clearing reg13, the alias's VLAN and its members' standing,
 * which inputs change which parts, the trip through a switch, and
 * flows/pipeline-vlan.txt (the output for vmacd.example.json on the
 * VLAN-aware ports of its header; VMACD_UPDATE_GOLDEN=1 rewrites it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "alias.h"
#include "config.h"
#include "fgtest.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowset.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "probemeter.h"
#include "svec.h"
#include "verror.h"

/* Two aliases: "web" (v4 + v6, both members on br0) and "db" (d1 on br0,
 * its master d2 on br1). */
static const char fixture_json[]
    = "{"
      "\"bridges\": [{\"name\": \"br0\", \"uplinks\": [\"up0\", \"up1\", "
      "              \"up2\"]},"
      "              {\"name\": \"br1\", \"uplinks\": [\"up9\"]}],"
      "\"aliases\": ["
      " {\"name\": \"web\", \"addresses\": [\"192.0.2.100\", "
      "\"2001:db8::100\"],"
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
      "    \"mac\": \"02:00:00:00:00:22\", \"priority\": 200}]}]}";

/* A port as the Open vSwitch database has it. */
struct vport {
    const char *bridge, *name;
    int64_t ofport;
    bool configured; /* Some of tag, trunks, vlan_mode set. */
    enum flowgen_vlan_mode mode;
    int tag;
    size_t n_trunks;
    uint16_t trunks[4];
};

#define ACCESS(BR, NAME, PORT, TAG)                                           \
    (struct vport)                                                            \
    {                                                                         \
        .bridge = BR, .name = NAME, .ofport = PORT, .configured = true,       \
        .mode = FLOWGEN_VLAN_ACCESS, .tag = TAG                               \
    }
#define NONE(BR, NAME, PORT)                                                  \
    (struct vport)                                                            \
    {                                                                         \
        .bridge = BR, .name = NAME, .ofport = PORT,                           \
        .mode = FLOWGEN_VLAN_TRUNK, .tag = -1                                 \
    }

/* Every kind of port on br0 (m1-p... the alias's); br1 has d2-p. */
static const struct vport fixture_ports[] = {
    ACCESS("br0", "m1-p", 1, 10),
    ACCESS("br0", "m2-p", 2, 10),
    { "br0", "up0", 3, true, FLOWGEN_VLAN_TRUNK, -1, 2, { 10, 20 } },
    ACCESS("br0", "up1", 4, 20),
    ACCESS("br0", "up2", 5, 10),
    ACCESS("br0", "d1-p", 6, 10),
    { "br0", "c1", 7, true, FLOWGEN_VLAN_NATIVE_UNTAGGED, 30, 1, { 10 } },
    { "br0", "c2", 8, true, FLOWGEN_VLAN_NATIVE_TAGGED, 40, 0, { 0 } },
    { "br0", "c3", 9, true, FLOWGEN_VLAN_DOT1Q_TUNNEL, 50, 0, { 0 } },
    { "br0", "c4", 10, true, FLOWGEN_VLAN_TRUNK, -1, 2, { 0, 20 } },
    NONE("br0", "br0", 65534),
    ACCESS("br1", "d2-p", 1, 10),
    NONE("br1", "up9", 2),
    NONE("br1", "br1", 65534),
};

/* The golden file's: vmacd.example.json's ports, VLAN-aware. */
static const struct vport golden_ports[] = {
    ACCESS("br0", "m1-p", 1, 10),
    ACCESS("br0", "m2-p", 2, 10),
    ACCESS("br0", "db1-p", 3, 20),
    { "br0", "up0", 4, true, FLOWGEN_VLAN_TRUNK, -1, 2, { 10, 20 } },
    ACCESS("br0", "c3-p", 5, 10),
    NONE("br0", "br0", 65534),
    ACCESS("br1", "db2-p", 1, 20),
    NONE("br1", "br1", 65534),
};

#define MAX_PORTS 16

struct fixture {
    struct config *cfg;
    struct probemeter_plan *plan;
    struct alias_state *states[2]; /* web, db. */
    struct vport ports[MAX_PORTS]; /* The database (tests change it). */
    size_t n_ports;
    const char *bridge; /* Of the env being used (for env_port()). */
    struct flowinput_env env;
};

static const struct vport *
find_port(const struct fixture *f, const char *bridge, const char *name)
{
    for (size_t i = 0; i < f->n_ports; i++) {
        if (!strcmp(f->ports[i].bridge, bridge)
            && !strcmp(f->ports[i].name, name)) {
            return &f->ports[i];
        }
    }
    return NULL;
}

static int64_t
env_port(const void *f_, const char *name)
{
    const struct fixture *f = f_;
    const struct vport *p = find_port(f, f->bridge, name);
    return p ? p->ofport : -1;
}

static bool
env_mac(const void *f OVS_UNUSED, const struct cfg_alias *a, size_t m,
        struct eth_addr *mac)
{
    *mac = a->members[m].mac;
    return a->members[m].has_mac;
}

static void
vlan_of(const struct vport *p, struct flowgen_vlan *v)
{
    *v = (struct flowgen_vlan){
        .mode = p->mode,
        .tag = p->tag,
        .n_trunks = p->n_trunks,
        .trunks = CONST_CAST(uint16_t *, p->trunks),
    };
}

static bool
env_port_vlan(const void *f_, const char *bridge, const char *name,
              struct flowgen_vlan *v, bool *configured)
{
    const struct vport *p = find_port(f_, bridge, name);
    if (!p) {
        return false;
    }
    vlan_of(p, v);
    *configured = p->configured;
    return true;
}

static void
env_bridge_vlans(const void *f_, const char *bridge, flowinput_vlan_cb *cb,
                 void *ctx)
{
    const struct fixture *f = f_;
    for (size_t i = 0; i < f->n_ports; i++) {
        const struct vport *p = &f->ports[i];
        if (!strcmp(p->bridge, bridge)) {
            struct flowgen_vlan v;
            vlan_of(p, &v);
            cb(ctx, p->ofport, &v, p->configured);
        }
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

/* Loads 'cfg' with the database 'ports', every member up and elected. */
static void
fixture_load(struct fixture *f, struct config *cfg, const struct vport *ports,
             size_t n_ports)
{
    memset(f, 0, sizeof *f);
    f->cfg = cfg;
    f->plan = probemeter_plan_create(cfg);
    assert_true(n_ports <= MAX_PORTS);
    memcpy(f->ports, ports, n_ports * sizeof *ports);
    f->n_ports = n_ports;
    f->env = (struct flowinput_env){
        .port = env_port,
        .mac = env_mac,
        .port_vlan = env_port_vlan,
        .bridge_vlans = env_bridge_vlans,
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

static void
fixture_init(struct fixture *f)
{
    fixture_load(f, parse(fixture_json), fixture_ports,
                 ARRAY_SIZE(fixture_ports));
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

/* Does 'bridge' carry alias 'a' (a member there)? */
static bool
carries(const struct cfg_alias *a, const char *bridge)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].bridge, bridge)) {
            return true;
        }
    }
    return false;
}

static struct vport *
port_mut(struct fixture *f, const char *bridge, const char *name)
{
    return CONST_CAST(struct vport *, find_port(f, bridge, name));
}

/* The bridge inputs and the alias's parts on 'bridge'. */
struct gen {
    struct flowgen_bridge br;
    struct flowgen_input in;
    struct fs_part *flows, *group;
};

static void
gen_bridge(struct fixture *f, const char *bridge, struct flowgen_bridge *br)
{
    memset(br, 0, sizeof *br);
    f->bridge = bridge;
    flowinput_bridge(f->cfg, bridge, &f->env, br);
}

static void
gen(struct fixture *f, const char *bridge, size_t alias, struct gen *g)
{
    memset(g, 0, sizeof *g);
    gen_bridge(f, bridge, &g->br);
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

#define VMAC "02:00:5e:00:01:01"
#define FLOW(PRIO, REST) "table=0,priority=" #PRIO "," REST
#define CLASSIFY(REST, LOAD)                                                  \
    FLOW(500, "reg13=0," REST ",actions=" LOAD ",resubmit(,0)")

/* Every kind of port, classified as NORMAL admits frames on it. */
static void
test_classification(void **state OVS_UNUSED)
{
    static const char *const want[] = {
        /* Access ports: untagged frames are in their VLAN. */
        CLASSIFY("in_port=1,vlan_tci=0x0000/0x1000",
                 "load:0x100a->NXM_NX_REG13[]"),
        CLASSIFY("in_port=2,vlan_tci=0x0000/0x1000",
                 "load:0x100a->NXM_NX_REG13[]"),
        /* A trunk of 10 and 20: those tags only. */
        CLASSIFY("in_port=3,dl_vlan=10", "load:0x100a->NXM_NX_REG13[]"),
        CLASSIFY("in_port=3,dl_vlan=20", "load:0x1014->NXM_NX_REG13[]"),
        CLASSIFY("in_port=4,vlan_tci=0x0000/0x1000",
                 "load:0x1014->NXM_NX_REG13[]"),
        CLASSIFY("in_port=5,vlan_tci=0x0000/0x1000",
                 "load:0x100a->NXM_NX_REG13[]"),
        CLASSIFY("in_port=6,vlan_tci=0x0000/0x1000",
                 "load:0x100a->NXM_NX_REG13[]"),
        /* native-untagged 30, trunks 10: untagged is 30, and it always
         * trunks its native VLAN. */
        CLASSIFY("in_port=7,vlan_tci=0x0000/0x1000",
                 "load:0x101e->NXM_NX_REG13[]"),
        CLASSIFY("in_port=7,dl_vlan=10", "load:0x100a->NXM_NX_REG13[]"),
        CLASSIFY("in_port=7,dl_vlan=30", "load:0x101e->NXM_NX_REG13[]"),
        /* native-tagged 40, every VLAN. */
        CLASSIFY("in_port=8,vlan_tci=0x0000/0x1000",
                 "load:0x1028->NXM_NX_REG13[]"),
        CLASSIFY("in_port=8,vlan_tci=0x1000/0x1000",
                 "move:NXM_OF_VLAN_TCI[0..11]->NXM_NX_REG13[0..11],"
                 "load:1->NXM_NX_REG13[12]"),
        /* dot1q-tunnel (port 9): none.  A trunk of 0 and 20: untagged
         * frames are VLAN 0. */
        CLASSIFY("in_port=10,vlan_tci=0x0000/0x1000",
                 "load:0x1000->NXM_NX_REG13[]"),
        CLASSIFY("in_port=10,dl_vlan=20", "load:0x1014->NXM_NX_REG13[]"),
        /* LOCAL, no settings: a trunk of every VLAN. */
        CLASSIFY("in_port=LOCAL,vlan_tci=0x1000/0x1000",
                 "move:NXM_OF_VLAN_TCI[0..11]->NXM_NX_REG13[0..11],"
                 "load:1->NXM_NX_REG13[12]"),
        CLASSIFY("in_port=LOCAL,vlan_tci=0x0000/0x1000",
                 "load:0x1000->NXM_NX_REG13[]"),
        FLOW(0, "actions=NORMAL"),
    };
    struct fixture f;
    struct flowgen_bridge br;

    fixture_init(&f);
    gen_bridge(&f, "br0", &br);
    assert_true(br.vlan_aware);
    struct fs_part *base = flowgen_base(&br, false, false);
    fgtest_assert_flows(base, want, ARRAY_SIZE(want));
    fs_part_unref(base);
    flowinput_bridge_destroy(&br);
    fixture_destroy(&f);
}

/* web on br0 (VLAN 10): what depends on where a frame comes from matches
 * its class; steer pops the tag of a frame that came tagged. */
#define C "reg13=0x100a,"
static const char *const web_flows[] = {
    FLOW(400, "dl_src=" VMAC ",actions=drop"),
    FLOW(400, C "arp,arp_spa=192.0.2.100,actions=drop"),
    FLOW(400, C "icmp6,icmp_type=136,nd_target=2001:db8::100,actions=drop"),
#define UPLINK_GUARDS(U)                                                      \
    FLOW(410, "in_port=" U ",dl_src=" VMAC ",actions=NORMAL"),                \
        FLOW(410, C "in_port=" U ",arp,arp_spa=192.0.2.100,actions=NORMAL"),  \
        FLOW(410, C "in_port=" U ",icmp6,icmp_type=136,"                      \
                    "nd_target=2001:db8::100,actions=NORMAL")
    UPLINK_GUARDS("3"),
    UPLINK_GUARDS("4"),
    UPLINK_GUARDS("5"),
    FLOW(300, C "arp,arp_op=1,arp_tpa=192.0.2.100,actions="
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                "set_field:" VMAC "->eth_src,"
                "load:0x2->NXM_OF_ARP_OP[],"
                "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                "set_field:" VMAC "->arp_sha,"
                "set_field:192.0.2.100->arp_spa,IN_PORT"),
    FLOW(310, "in_port=1,arp,arp_op=1,arp_tpa=192.0.2.100,actions=NORMAL"),
    FLOW(310, "in_port=2,arp,arp_op=1,arp_tpa=192.0.2.100,actions=NORMAL"),
    FLOW(300, C "icmp6,icmp_type=135,nd_target=2001:db8::100,actions="
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
    FLOW(306, C "icmp6,ipv6_src=::,icmp_type=135,nd_target=2001:db8::100,"
                "actions=NORMAL"),
    FLOW(305, C "icmp6,icmp_type=135,nd_target=2001:db8::100,"
                "nd_sll=00:00:00:00:00:00,actions=drop"),
    FLOW(310, "in_port=1,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(310, "in_port=2,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(200, C "vlan_tci=0x1000/0x1000,ip,nw_dst=192.0.2.100,"
                "actions=pop_vlan,group:%d"),
    FLOW(200, C "vlan_tci=0x0000/0x1000,ip,nw_dst=192.0.2.100,"
                "actions=group:%d"),
    FLOW(210, "in_port=1,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(210, "in_port=2,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(200, C "vlan_tci=0x1000/0x1000,ipv6,ipv6_dst=2001:db8::100,"
                "actions=pop_vlan,group:%d"),
    FLOW(200, C "vlan_tci=0x0000/0x1000,ipv6,ipv6_dst=2001:db8::100,"
                "actions=group:%d"),
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
#undef C

/* web_flows with the group id in, each "REPLACE" made "WITH". */
static void
web_lines(uint32_t id, const char *replace, const char *with, struct svec *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(web_flows); i++) {
        char *line = xasprintf(web_flows[i], (int) id, (int) id);
        const char *at = replace ? strstr(line, replace) : NULL;
        if (at) {
            char *l = xasprintf("%.*s%s%s", (int) (at - line), line, with,
                                at + strlen(replace));
            free(line);
            line = l;
        }
        svec_add_nocopy(out, line);
    }
}

static void
assert_web_flows(const struct fs_part *got, uint32_t id, const char *replace,
                 const char *with)
{
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    web_lines(id, replace, with, &lines);
    fgtest_assert_flows(got, (const char *const *) lines.names, lines.n);
    svec_destroy(&lines);
}

#define WEB_GROUP                                                             \
    "type=fast_failover,bucket=watch_port:1,actions="                         \
    "set_field:02:00:00:00:00:11->eth_dst,output:1,bucket=watch_port:2,"      \
    "actions=set_field:02:00:00:00:00:12->eth_dst,output:2"

static void
test_alias_flows(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;

    fixture_init(&f);
    uint32_t id = f.cfg->aliases[0]->id;
    gen(&f, "br0", 0, &g);
    assert_int_equal(g.in.vlan, 10);
    assert_web_flows(g.flows, id, NULL, NULL);
    /* Local members on access ports of the VLAN: buckets as ever. */
    char *grp = xasprintf("group_id=%" PRIu32 "," WEB_GROUP, id);
    fgtest_assert_group(g.group, grp);
    free(grp);
    gen_destroy(&g);

    /* Both members on VLAN 20 now: the same flows for class 0x1014. */
    port_mut(&f, "br0", "m1-p")->tag = 20;
    port_mut(&f, "br0", "m2-p")->tag = 20;
    gen(&f, "br0", 0, &g);
    assert_int_equal(g.in.vlan, 20);
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    web_lines(id, NULL, NULL, &lines);
    for (size_t i = 0; i < lines.n; i++) {
        char *at = strstr(lines.names[i], "reg13=0x100a");
        if (at) {
            memcpy(at, "reg13=0x1014", 12);
        }
    }
    fgtest_assert_flows(g.flows, (const char *const *) lines.names, lines.n);
    svec_destroy(&lines);
    gen_destroy(&g);
    fixture_destroy(&f);
}

/* db's master d2 is on br1: br0's group sends to the uplinks that carry
 * VLAN 10, tagged to the trunk up0, untagged to the access uplink up2,
 * not at all to up1 (VLAN 20); what comes from the uplinks for db in
 * VLAN 10 is br1's to answer. */
static void
test_remote_master(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;

    fixture_init(&f);
    gen(&f, "br0", 1, &g);
    assert_true(g.in.remote_master);
    assert_int_equal(g.in.vlan, 10);
    char *grp = xasprintf(
        "group_id=%" PRIu32 ",type=fast_failover,"
        "bucket=watch_port:3,actions=push_vlan:0x8100,"
        "set_field:4106->vlan_vid,set_field:02:00:5e:00:01:02->eth_dst,"
        "output:3,"
        "bucket=watch_port:5,actions=set_field:02:00:5e:00:01:02->eth_dst,"
        "output:5",
        f.cfg->aliases[1]->id);
    fgtest_assert_group(g.group, grp);
    free(grp);
    for (int u = 3; u <= 5; u++) {
        char *line = xasprintf("table=0,priority=320,reg13=0x100a,"
                               "in_port=%d,arp,arp_op=1,"
                               "arp_tpa=198.51.100.7,actions=drop",
                               u);
        assert_true(fgtest_has_flow(g.flows, line));
        free(line);
        line = xasprintf("table=0,priority=320,reg13=0x100a,in_port=%d,ip,"
                         "nw_dst=198.51.100.7,actions=drop",
                         u);
        assert_true(fgtest_has_flow(g.flows, line));
        free(line);
    }
    /* Traffic from the trunk loses its tag before the group tags it
     * again for the uplink (NORMAL would not send it back out). */
    char *line = xasprintf("table=0,priority=200,reg13=0x100a,"
                           "vlan_tci=0x1000/0x1000,ip,nw_dst=198.51.100.7,"
                           "actions=pop_vlan,group:%" PRIu32,
                           f.cfg->aliases[1]->id);
    assert_true(fgtest_has_flow(g.flows, line));
    free(line);
    gen_destroy(&g);

    /* br1: d2 is there, the group to it; br1's uplink up9 has no settings
     * (a trunk of every VLAN). */
    gen(&f, "br1", 1, &g);
    assert_false(g.in.remote_master);
    grp = xasprintf("group_id=%" PRIu32 ",type=fast_failover,"
                    "bucket=watch_port:1,actions=set_field:"
                    "02:00:00:00:00:22->eth_dst,output:1",
                    f.cfg->aliases[1]->id);
    fgtest_assert_group(g.group, grp);
    free(grp);
    assert_int_equal(g.in.carry[0], FLOWGEN_CARRY_TAGGED);
    gen_destroy(&g);
    fixture_destroy(&f);
}

/* With next_table, F clears reg13 first, everywhere: the next pipeline
 * starts with the register it expects. */
static void
test_next_table(void **state OVS_UNUSED)
{
    char *text = xasprintf("{\"openflow\": {\"next_table\": 5}, %s",
                           fixture_json + 1);
    struct fixture f;
    fixture_load(&f, parse(text), fixture_ports, ARRAY_SIZE(fixture_ports));
    free(text);

    struct gen g;
    gen(&f, "br0", 0, &g);
    assert_web_flows(g.flows, f.cfg->aliases[0]->id, "NORMAL",
                     "set_field:0->reg13,goto_table:5");
    struct fs_part *base = flowgen_base(&g.br, false, false);
    assert_true(fgtest_has_flow(base, "table=0,priority=0,actions="
                                      "set_field:0->reg13,goto_table:5"));
    fs_part_unref(base);
    gen_destroy(&g);
    fixture_destroy(&f);
}

/* A database whose ports set no VLAN: the flows of a bridge without
 * VLANs, exactly. */
static void
test_no_vlans(void **state OVS_UNUSED)
{
    static const struct vport plain[] = {
        NONE("br0", "m1-p", 1),
        NONE("br0", "m2-p", 2),
        NONE("br0", "up0", 3),
        NONE("br0", "br0", 65534),
    };
    struct fixture f, f0;
    fixture_load(&f, parse(fixture_json), plain, ARRAY_SIZE(plain));
    fixture_load(&f0, parse(fixture_json), plain, ARRAY_SIZE(plain));
    f0.env.port_vlan = NULL;
    f0.env.bridge_vlans = NULL;

    struct gen g, g0;
    gen(&f, "br0", 0, &g);
    gen(&f0, "br0", 0, &g0);
    assert_false(g.br.vlan_aware);
    assert_int_equal(g.br.n_vports, 0);
    fgtest_assert_parts_equal(g.flows, g0.flows);
    fgtest_assert_parts_equal(g.group, g0.group);
    struct fs_part *base = flowgen_base(&g.br, false, false);
    struct fs_part *base0 = flowgen_base(&g0.br, false, false);
    fgtest_assert_parts_equal(base, base0);
    fs_part_unref(base);
    fs_part_unref(base0);
    gen_destroy(&g);
    gen_destroy(&g0);

    /* db, remote: its uplink bucket untagged, as without VLANs. */
    gen(&f, "br0", 1, &g);
    gen(&f0, "br0", 1, &g0);
    fgtest_assert_parts_equal(g.group, g0.group);
    gen_destroy(&g);
    gen_destroy(&g0);
    fixture_destroy(&f);
    fixture_destroy(&f0);
}

/* The alias's VLAN: its highest-priority member's (ties by name) whose
 * port is known and usable; the others on another VLAN, or on a port
 * members cannot use, are flagged. */
static void
test_alias_vlan(void **state OVS_UNUSED)
{
    struct fixture f;
    fixture_init(&f);
    const struct cfg_alias *web = f.cfg->aliases[0];
    const struct cfg_alias *db = f.cfg->aliases[1];
    int vlans[2];
    enum flowinput_member_vlan st[2];

    assert_int_equal(flowinput_alias_vlan(web, &f.env, vlans, st), 10);
    assert_int_equal(vlans[0], 10);
    assert_int_equal(vlans[1], 10);
    assert_int_equal(st[0], FLOWINPUT_MEMBER_VLAN_OK);
    assert_int_equal(st[1], FLOWINPUT_MEMBER_VLAN_OK);
    /* Across bridges: d2 (br1, priority 200) decides. */
    assert_int_equal(flowinput_alias_vlan(db, &f.env, NULL, NULL), 10);
    port_mut(&f, "br1", "d2-p")->tag = 30;
    assert_int_equal(flowinput_alias_vlan(db, &f.env, vlans, st), 30);
    assert_int_equal(st[0], FLOWINPUT_MEMBER_VLAN_OTHER);
    assert_int_equal(st[1], FLOWINPUT_MEMBER_VLAN_OK);

    /* m2 on VLAN 20: m1 (150) decides, m2 is on another VLAN. */
    port_mut(&f, "br0", "m2-p")->tag = 20;
    assert_int_equal(flowinput_alias_vlan(web, &f.env, vlans, st), 10);
    assert_int_equal(vlans[1], 20);
    assert_int_equal(st[1], FLOWINPUT_MEMBER_VLAN_OTHER);

    /* m1 on a native-tagged port: unusable; m2 decides. */
    struct vport *m1 = port_mut(&f, "br0", "m1-p");
    m1->mode = FLOWGEN_VLAN_NATIVE_TAGGED;
    assert_int_equal(flowinput_alias_vlan(web, &f.env, vlans, st), 20);
    assert_int_equal(vlans[0], FLOWINPUT_VLAN_UNUSABLE);
    assert_int_equal(st[0], FLOWINPUT_MEMBER_VLAN_UNUSABLE);
    assert_int_equal(st[1], FLOWINPUT_MEMBER_VLAN_OK);
    m1->mode = FLOWGEN_VLAN_DOT1Q_TUNNEL;
    assert_int_equal(flowinput_port_vlan(&f.env, "br0", "m1-p"),
                     FLOWINPUT_VLAN_UNUSABLE);
    /* A trunk that carries no untagged frames: unusable; one with VLAN 0,
     * or with none listed (every VLAN): VLAN 0. */
    *m1 = (struct vport){ "br0", "m1-p", 1,     true, FLOWGEN_VLAN_TRUNK,
                          -1,    1,      { 10 } };
    assert_int_equal(flowinput_port_vlan(&f.env, "br0", "m1-p"),
                     FLOWINPUT_VLAN_UNUSABLE);
    m1->trunks[0] = 0;
    assert_int_equal(flowinput_port_vlan(&f.env, "br0", "m1-p"), 0);
    m1->n_trunks = 0;
    assert_int_equal(flowinput_port_vlan(&f.env, "br0", "m1-p"), 0);
    /* native-untagged: its native VLAN. */
    *m1 = (struct vport){
        "br0", "m1-p", 1, true, FLOWGEN_VLAN_NATIVE_UNTAGGED, 40, 1, { 10 }
    };
    assert_int_equal(flowinput_port_vlan(&f.env, "br0", "m1-p"), 40);

    /* m1's port unknown to the database: m2 decides, m1 is not flagged. */
    m1->name = "gone";
    assert_int_equal(flowinput_alias_vlan(web, &f.env, vlans, st), 20);
    assert_int_equal(vlans[0], FLOWINPUT_VLAN_UNKNOWN);
    assert_int_equal(st[0], FLOWINPUT_MEMBER_VLAN_OK);

    /* No member port known: none. */
    port_mut(&f, "br0", "m2-p")->name = "gone2";
    assert_int_equal(flowinput_alias_vlan(web, &f.env, vlans, st),
                     FLOWINPUT_VLAN_UNKNOWN);
    assert_int_equal(st[1], FLOWINPUT_MEMBER_VLAN_OK);
    fixture_destroy(&f);

    /* Ties by name: two members of priority 100 on VLANs 7 and 8. */
    static const char json[]
        = "{\"aliases\": [{\"name\": \"t\","
          "\"addresses\": [\"192.0.2.9\"], \"vmac\": \"02:00:5e:00:01:09\","
          "\"members\": ["
          "{\"name\": \"zz\", \"bridge\": \"br0\", \"port\": \"p2\","
          " \"mac\": \"02:00:00:00:00:02\"},"
          "{\"name\": \"aa\", \"bridge\": \"br0\", \"port\": \"p1\","
          " \"mac\": \"02:00:00:00:00:01\"}]}]}";
    static const struct vport tie[] = {
        ACCESS("br0", "p1", 1, 7),
        ACCESS("br0", "p2", 2, 8),
    };
    fixture_load(&f, parse(json), tie, ARRAY_SIZE(tie));
    assert_int_equal(
        flowinput_alias_vlan(f.cfg->aliases[0], &f.env, vlans, st), 7);
    assert_int_equal(st[0], FLOWINPUT_MEMBER_VLAN_OTHER);
    fixture_destroy(&f);
}

/* Which inputs change which parts. */
static void
test_changed(void **state OVS_UNUSED)
{
    struct fixture f;
    struct gen g;
    struct flowgen_input in2;
    struct flowgen_bridge br2;

    fixture_init(&f);
    gen(&f, "br0", 1, &g); /* db, remote. */
    const struct cfg_alias *db = f.cfg->aliases[1];

    /* The same: nothing. */
    flowinput_alias(db, "br0", &g.br, f.states[1], &f.env, &in2);
    assert_false(flowgen_flows_changed(&g.in, &in2));
    assert_false(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);

    /* A client port's tag: the classification only, no record. */
    port_mut(&f, "br0", "c1")->tag = 31;
    gen_bridge(&f, "br0", &br2);
    assert_true(flowinput_bridge_equal(&g.br, &br2));
    assert_int_equal(flowinput_bridge_vlan_changes(&g.br, &br2),
                     FLOWINPUT_VLAN_PORTS);
    flowinput_bridge_destroy(&br2);

    /* up1 carries VLAN 10 now: the uplinks' VLANs; the group of the
     * remote master, not its flows. */
    port_mut(&f, "br0", "up1")->tag = 10;
    gen_bridge(&f, "br0", &br2);
    assert_true(flowinput_bridge_equal(&g.br, &br2));
    assert_int_equal(flowinput_bridge_vlan_changes(&g.br, &br2),
                     FLOWINPUT_VLAN_PORTS | FLOWINPUT_VLAN_UPLINKS);
    br2.version = g.br.version;
    flowinput_alias(db, "br0", &br2, f.states[1], &f.env, &in2);
    in2.br = &g.br; /* The same bridge, for the comparison. */
    assert_int_equal(in2.carry[1], FLOWGEN_CARRY_UNTAGGED);
    assert_false(flowgen_flows_changed(&g.in, &in2));
    assert_true(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);
    flowinput_bridge_destroy(&br2);
    port_mut(&f, "br0", "up1")->tag = 20;

    /* The alias's VLAN (d2's port): its flows and its group. */
    port_mut(&f, "br1", "d2-p")->tag = 20;
    flowinput_alias(db, "br0", &g.br, f.states[1], &f.env, &in2);
    assert_int_equal(in2.vlan, 20);
    assert_true(flowgen_flows_changed(&g.in, &in2));
    assert_true(flowgen_group_changed(&g.in, &in2));
    flowgen_input_destroy(&in2);
    gen_destroy(&g);

    /* The first VLAN setting on a bridge makes it VLAN-aware: every
     * record (the bridge's version). */
    static const struct vport plain[] = {
        NONE("br0", "m1-p", 1),
        NONE("br0", "m2-p", 2),
        NONE("br0", "up0", 3),
    };
    struct fixture f2;
    fixture_load(&f2, parse(fixture_json), plain, ARRAY_SIZE(plain));
    gen_bridge(&f2, "br0", &br2);
    assert_false(br2.vlan_aware);
    port_mut(&f2, "br0", "up0")->configured = true;
    gen_bridge(&f2, "br0", &g.br);
    assert_true(g.br.vlan_aware);
    assert_false(flowinput_bridge_equal(&g.br, &br2));
    flowinput_bridge_destroy(&g.br);
    flowinput_bridge_destroy(&br2);
    fixture_destroy(&f2);
    fixture_destroy(&f);
}

/* Every VLAN flow and group survives the trip through a switch. */
static void
test_roundtrip(void **state OVS_UNUSED)
{
    static const enum ofputil_protocol protocols[] = {
        OFPUTIL_P_OF13_OXM,
        OFPUTIL_P_OF14_OXM,
        OFPUTIL_P_OF15_OXM,
    };
    char *text = xasprintf("{\"openflow\": {\"next_table\": 5}, %s",
                           fixture_json + 1);
    struct config *cfgs[] = { parse(fixture_json), parse(text) };
    free(text);
    for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
        struct fixture f;
        fixture_load(&f, cfgs[c], fixture_ports, ARRAY_SIZE(fixture_ports));
        for (size_t b = 0; b < 2; b++) {
            for (size_t i = 0; i < 2; i++) {
                struct gen g;
                gen(&f, b ? "br1" : "br0", i, &g);
                struct fs_part *base = flowgen_base(&g.br, true, true);
                for (size_t k = 0; k < ARRAY_SIZE(protocols); k++) {
                    fgtest_assert_roundtrip(g.flows, protocols[k]);
                    fgtest_assert_roundtrip(g.group, protocols[k]);
                    fgtest_assert_roundtrip(base, protocols[k]);
                }
                fs_part_unref(base);
                gen_destroy(&g);
            }
        }
        fixture_destroy(&f);
    }
}

/* The golden file: vmacd.example.json on the VLAN-aware ports of its
 * header, every member up, no MAC learned. */
#define GOLDEN "flows/pipeline-vlan.txt"

static const char golden_header[]
    = "# The flows and groups vmacd wants (controller/flowgen.c) for\n"
      "# vmacd.example.json on VLAN-aware bridges (flows/README.md, "
      "\"VLANs\"), in\n"
      "# ovs-ofctl add-flow(s) and add-group(s) syntax, with every member up "
      "and no\n"
      "# MAC learned yet, on bridges whose ports the Open vSwitch database "
      "gives as\n"
      "#   br0: m1-p = 1, m2-p = 2 (access, tag 10), db1-p = 3 (access, tag "
      "20),\n"
      "#        up0 = 4 (the uplink: vlan_mode trunk, trunks 10,20),\n"
      "#        c3-p = 5 (a client, access, tag 10), LOCAL (no VLAN "
      "settings:\n"
      "#        a trunk of every VLAN)\n"
      "#   br1: db2-p = 1 (access, tag 20), LOCAL (no VLAN settings)\n"
      "# so web is in VLAN 10 (reg13 class 0x100a) and db in VLAN 20 "
      "(0x1014).\n"
      "# Written by tests/unit/test_flowgen_vlan.c, which fails when "
      "flowgen's\n"
      "# output differs: regenerate with 'make golden' and review the "
      "diff.  The\n"
      "# design was checked by hand with real packets on Open vSwitch 3.1\n"
      "# (flows/README.md).  To load by hand (groups first):\n"
      "#   grep '^group_id=' flows/pipeline-vlan.txt | ovs-ofctl -O "
      "OpenFlow15 add-groups br0 -\n"
      "#   grep '^table=' flows/pipeline-vlan.txt | ovs-ofctl -O OpenFlow15 "
      "add-flows br0 -\n";

static bool
golden_probed(const struct config *cfg, const char *bridge, bool *nd)
{
    bool probed = false;
    *nd = false;
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = cfg->aliases[i];
        for (size_t m = 0; m < a->n_members; m++) {
            if (!strcmp(a->members[m].bridge, bridge)
                && config_member_probe_type(cfg, &a->members[m])
                       != CFG_PROBE_NONE) {
                probed = true;
                *nd |= a->members[m].ip_is_v6;
            }
        }
    }
    return probed;
}

/* The announcements of alias 'a' on its master's bridge: one line per
 * uplink, as comments. */
static void
golden_announcements(struct ds *s, const struct flowgen_input *in,
                     const char *bridge)
{
    const struct flowgen_bridge *br = in->br;
    ds_put_format(s,
                  "# Announcements of %s (packet-outs of GARP/NA), VLAN "
                  "%u:\n",
                  in->alias->name, in->vlan);
    for (size_t u = 0; u < br->n_uplinks; u++) {
        const char *how = (in->carry[u] == FLOWGEN_CARRY_TAGGED ? "tagged"
                           : in->carry[u] == FLOWGEN_CARRY_UNTAGGED
                               ? "untagged"
                               : "none (the uplink does not carry it)");
        ds_put_format(s, "#   %s port %" PRIu32 ": %s\n", bridge,
                      br->uplinks[u], how);
    }
}

/* The parts of alias 'i' on 'bridge', elected as 'st': its flows into
 * 'lines', its group into 'groups'. */
static void
golden_alias(struct fixture *f, const struct flowgen_bridge *br,
             const char *bridge, size_t i, const struct alias_state *st,
             struct svec *lines, struct svec *groups, struct ds *ann)
{
    const struct cfg_alias *a = f->cfg->aliases[i];
    struct flowgen_input in;
    flowinput_alias(a, bridge, br, st, &f->env, &in);
    struct fs_part *flows = flowgen_alias_flows(&in);
    struct fs_part *group = flowgen_alias_group(&in);
    fgtest_part_lines(flows, f->cfg->cookie_prefix, lines);
    svec_add_nocopy(groups, fgtest_group_line(group));
    int m = alias_state_master(st);
    if (ann && m >= 0 && !strcmp(a->members[m].bridge, bridge)) {
        golden_announcements(ann, &in, bridge);
    }
    fs_part_unref(flows);
    fs_part_unref(group);
    flowgen_input_destroy(&in);
}

static void
golden_put(struct ds *s, struct svec *lines, struct svec *groups)
{
    for (size_t i = 0; i < lines->n; i++) {
        ds_put_format(s, "%s\n", lines->names[i]);
    }
    for (size_t i = 0; i < groups->n; i++) {
        ds_put_format(s, "%s\n", groups->names[i]);
    }
    svec_clear(lines);
    svec_clear(groups);
}

static void
golden_text(struct ds *s)
{
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    assert_int_equal(config_load("vmacd.example.json", &cfg, &e), 0);
    struct fixture f;
    fixture_load(&f, cfg, golden_ports, ARRAY_SIZE(golden_ports));
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    struct svec groups = SVEC_EMPTY_INITIALIZER;
    struct ds ann = DS_EMPTY_INITIALIZER;

    ds_put_cstr(s, golden_header);
    static const char *const bridges[] = { "br0", "br1" };
    for (size_t b = 0; b < ARRAY_SIZE(bridges); b++) {
        struct flowgen_bridge br;
        gen_bridge(&f, bridges[b], &br);
        assert_true(br.vlan_aware);
        ds_put_format(s,
                      "\n# Bridge %s: the classification, then as "
                      "without VLANs.\n",
                      bridges[b]);
        bool nd, probed = golden_probed(cfg, bridges[b], &nd);
        struct fs_part *base = flowgen_base(&br, probed, nd);
        fgtest_part_lines(base, cfg->cookie_prefix, &lines);
        fs_part_unref(base);
        for (size_t i = 0; i < cfg->n_aliases && i < 2; i++) {
            if (carries(cfg->aliases[i], bridges[b])) {
                golden_alias(&f, &br, bridges[b], i, f.states[i], &lines,
                             &groups, &ann);
            }
        }
        golden_put(s, &lines, &groups);
        flowinput_bridge_destroy(&br);
    }

    /* db's master on br1 (db1's port gone): br0 is a remote master's
     * bridge, its bucket to the trunk tags. */
    const struct cfg_alias *db = cfg->aliases[1];
    struct alias_state *st = alias_state_create(db);
    struct alias_election r;
    alias_state_set_port(st, 0, false, false, 0);
    alias_state_set_port(st, 1, true, true, 0);
    alias_state_elect(st, 0, &r);
    assert_int_equal(alias_state_master(st), 1);
    struct flowgen_bridge br;
    gen_bridge(&f, "br0", &br);
    ds_put_cstr(s, "\n# Bridge br0 when db's master is db2 on br1 (db1's "
                   "port gone): db's flows\n"
                   "# and group (its bucket to the trunk tags the "
                   "frame).\n");
    golden_alias(&f, &br, "br0", 1, st, &lines, &groups, NULL);
    golden_put(s, &lines, &groups);
    flowinput_bridge_destroy(&br);
    alias_state_destroy(st);

    ds_put_format(s, "\n%s", ds_cstr(&ann));
    ds_destroy(&ann);
    svec_destroy(&lines);
    svec_destroy(&groups);
    fixture_destroy(&f);
}

static void
test_golden(void **state OVS_UNUSED)
{
    struct ds want = DS_EMPTY_INITIALIZER;
    golden_text(&want);
    fgtest_golden(GOLDEN, ds_cstr(&want),
                  "vmacd.example.json on VLAN-aware bridges");
    ds_destroy(&want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_alias_flows),
        cmocka_unit_test(test_remote_master),
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_no_vlans),
        cmocka_unit_test(test_alias_vlan),
        cmocka_unit_test(test_changed),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
