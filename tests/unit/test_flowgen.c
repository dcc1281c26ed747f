/*
 * Unit tests for flowgen: exact lines for one alias, every line parses with
 * libopenvswitch for OpenFlow 1.3+, group buckets follow the election,
 * output is deterministic.
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
#include "config.h"
#include "flowgen.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/util.h"
#include "openvswitch/match.h"

/* Two aliases: "web" (v4 + v6, both members on br0) and "db" (v4 only;
 * d1 on br0, d2 on br1, d3 on br0 without a known MAC). */
struct fixture {
    struct config cfg;
    struct cfg_bridge bridges[2];
    char *uplinks0[1];
    struct cfg_alias aliases[2];
    struct cfg_member web_members[2];
    struct cfg_member db_members[3];
    ovs_be32 web_ip4[1];
    struct in6_addr web_ip6[1];
    ovs_be32 db_ip4[1];
    struct alias_state *states[2];
};

static struct eth_addr
mac(const char *s)
{
    struct eth_addr ea;
    assert_true(eth_addr_from_string(s, &ea));
    return ea;
}

static void
member_init(struct cfg_member *m, const char *name, const char *bridge,
            const char *port, const char *mac_s, int priority)
{
    memset(m, 0, sizeof *m);
    m->name = CONST_CAST(char *, name);
    m->bridge = CONST_CAST(char *, bridge);
    m->port = CONST_CAST(char *, port);
    if (mac_s) {
        m->has_mac = true;
        m->mac = mac(mac_s);
    }
    m->priority = priority;
}

static void
fixture_init(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->cfg.origin = "test";
    f->cfg.base_table = 0;
    f->cfg.next_table = -1;
    f->cfg.cookie_prefix = 0x766d6163;

    f->uplinks0[0] = "up0";
    f->bridges[0] = (struct cfg_bridge){
        .name = "br0",
        .n_uplinks = 1,
        .uplinks = f->uplinks0,
    };
    f->bridges[1] = (struct cfg_bridge){ .name = "br1" };
    f->cfg.bridges = f->bridges;
    f->cfg.n_bridges = 2;

    f->web_ip4[0] = inet_addr("192.0.2.100");
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::100", &f->web_ip6[0]), 1);
    member_init(&f->web_members[0], "m1", "br0", "m1-p", "02:00:00:00:00:11",
                150);
    member_init(&f->web_members[1], "m2", "br0", "m2-p", "02:00:00:00:00:12",
                100);
    f->aliases[0] = (struct cfg_alias){
        .name = "web",
        .n_ip4 = 1,
        .ip4 = f->web_ip4,
        .n_ip6 = 1,
        .ip6 = f->web_ip6,
        .vmac = mac("02:00:5e:00:01:01"),
        .preempt = true,
        .n_members = 2,
        .members = f->web_members,
        .id = 0x1001,
    };

    f->db_ip4[0] = inet_addr("198.51.100.7");
    member_init(&f->db_members[0], "d1", "br0", "d1-p", "02:00:00:00:00:21",
                100);
    member_init(&f->db_members[1], "d2", "br1", "d2-p", "02:00:00:00:00:22",
                200);
    member_init(&f->db_members[2], "d3", "br0", "d3-p", NULL, 150);
    f->aliases[1] = (struct cfg_alias){
        .name = "db",
        .n_ip4 = 1,
        .ip4 = f->db_ip4,
        .vmac = mac("02:00:5e:00:01:02"),
        .preempt = true,
        .n_members = 3,
        .members = f->db_members,
        .id = 0x2002,
    };
    f->cfg.aliases = f->aliases;
    f->cfg.n_aliases = 2;

    for (size_t i = 0; i < 2; i++) {
        const struct cfg_alias *a = &f->aliases[i];
        struct alias_election r;

        f->states[i] = alias_state_create(a);
        for (size_t m = 0; m < a->n_members; m++) {
            alias_state_set_port(f->states[i], m, true, true, 0);
        }
        alias_state_elect(f->states[i], 0, &r);
    }
}

static void
fixture_destroy(struct fixture *f)
{
    for (size_t i = 0; i < 2; i++) {
        alias_state_destroy(f->states[i]);
    }
}

/* Port numbers on br0 and br1 (the same table, names are unique). */
static bool
lookup(void *aux, const char *name, uint32_t *port)
{
    static const struct {
        const char *name;
        uint32_t port;
    } ports[] = {
        { "m1-p", 1 }, { "m2-p", 2 }, { "up0", 3 },
        { "d1-p", 4 }, { "d3-p", 5 }, { "d2-p", 9 },
    };
    const char *missing = aux;

    if (missing && !strcmp(missing, name)) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
        if (!strcmp(ports[i].name, name)) {
            *port = ports[i].port;
            return true;
        }
    }
    return false;
}

#define VMAC "02:00:5e:00:01:01"
#define C "cookie=0x766d616300001001,"
#define FLOW(PRIO, REST) "table=0,priority=" #PRIO "," C REST

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
    "table=1,priority=300," C "icmp6,icmp_type=136,"
    "nd_target=2001:db8::100,actions=set_field:" VMAC "->nd_tll,IN_PORT",
    FLOW(306, "icmp6,ipv6_src=::,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(305, "icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "nd_sll=00:00:00:00:00:00,actions=drop"),
    FLOW(310, "in_port=1,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(310, "in_port=2,icmp6,icmp_type=135,nd_target=2001:db8::100,"
              "actions=NORMAL"),
    FLOW(200, "ip,nw_dst=192.0.2.100,actions=group:4097"),
    FLOW(210, "in_port=1,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(210, "in_port=2,ip,nw_dst=192.0.2.100,actions=NORMAL"),
    FLOW(200, "ipv6,ipv6_dst=2001:db8::100,actions=group:4097"),
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

#define WEB_BUCKET1                                                           \
    ",bucket=watch_port:1,actions=set_field:02:00:00:00:00:11->eth_dst,"      \
    "output:1"
#define WEB_BUCKET2                                                           \
    ",bucket=watch_port:2,actions=set_field:02:00:00:00:00:12->eth_dst,"      \
    "output:2"

/* Returns the lines of 'v' that contain 'needle', in order. */
static void
grep(const struct svec *v, const char *needle, struct svec *out)
{
    for (size_t i = 0; i < v->n; i++) {
        if (strstr(v->names[i], needle)) {
            svec_add(out, v->names[i]);
        }
    }
}

static void
assert_lines(const struct svec *got, const char *const *want, size_t n)
{
    for (size_t i = 0; i < got->n && i < n; i++) {
        if (strcmp(got->names[i], want[i])) {
            fail_msg("line %zu differs:\n  got:  %s\n  want: %s", i,
                     got->names[i], want[i]);
        }
    }
    assert_int_equal(got->n, n);
}

/* Every line must parse with libopenvswitch and be usable with OpenFlow 1.3
 * and 1.5. */
static void
assert_parses(const struct flowgen_out *out)
{
    const enum ofputil_protocol need = OFPUTIL_P_OF13_OXM | OFPUTIL_P_OF15_OXM;

    for (size_t i = 0; i < out->flows.n; i++) {
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_flow_mod_str(&fm, out->flows.names[i], NULL,
                                             NULL, OFPFC_ADD, &usable);
        if (error) {
            fail_msg("%s: %s", out->flows.names[i], error);
        }
        if ((usable & need) != need) {
            fail_msg("%s: not usable with OpenFlow 1.3/1.5 (0x%x)",
                     out->flows.names[i], (unsigned int) usable);
        }
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
    }
    for (size_t i = 0; i < out->groups.n; i++) {
        struct ofputil_group_mod gm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_group_mod_str(
            &gm, OFPGC11_ADD, out->groups.names[i], NULL, NULL, &usable);
        if (error) {
            fail_msg("%s: %s", out->groups.names[i], error);
        }
        if ((usable & need) != need) {
            fail_msg("%s: not usable with OpenFlow 1.3/1.5 (0x%x)",
                     out->groups.names[i], (unsigned int) usable);
        }
        ofputil_uninit_group_mod(&gm);
    }
}

static void
test_web_exact(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    struct svec web = SVEC_EMPTY_INITIALIZER;

    fixture_init(&f);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);

    assert_true(out.flows.n > 0);
    assert_string_equal(out.flows.names[0],
                        "table=0,priority=0,cookie=0x766d616300000000,"
                        "actions=NORMAL");
    grep(&out.flows, C, &web);
    assert_lines(&web, web_flows, ARRAY_SIZE(web_flows));

    /* Groups: web (m1 master first), then db, whose master d2 is on br1:
     * br0 sends db's traffic to its uplink, addressed to db's VMAC. */
    assert_int_equal(out.groups.n, 2);
    assert_string_equal(
        out.groups.names[0],
        "group_id=4097,type=fast_failover" WEB_BUCKET1 WEB_BUCKET2);
    assert_string_equal(out.groups.names[1],
                        "group_id=8194,type=fast_failover,"
                        "bucket=watch_port:3,actions=set_field:"
                        "02:00:5e:00:01:02->eth_dst,output:3");
    assert_parses(&out);

    svec_destroy(&web);
    flowgen_out_destroy(&out);
    fixture_destroy(&f);
}

static void
test_cookie(void **state OVS_UNUSED)
{
    struct fixture f;

    fixture_init(&f);
    assert_true(flowgen_cookie(&f.cfg, 0x1001) == 0x766d616300001001ULL);
    assert_true(flowgen_cookie(&f.cfg, 0) == 0x766d616300000000ULL);
    f.cfg.cookie_prefix = 0xffffffff;
    assert_true(flowgen_cookie(&f.cfg, 0x7fffffff) == 0xffffffff7fffffffULL);
    fixture_destroy(&f);
}

static void
test_group_follows_election(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    struct alias_election r;

    fixture_init(&f);

    /* Planned move to m2: m2's bucket comes first. */
    assert_int_equal(alias_state_move(f.states[0], 1, 10), 0);
    alias_state_elect(f.states[0], 10, &r);
    assert_true(r.changed);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    assert_string_equal(
        out.groups.names[0],
        "group_id=4097,type=fast_failover" WEB_BUCKET2 WEB_BUCKET1);
    flowgen_out_destroy(&out);

    /* m2 drained: m1 only. */
    alias_state_set_drained(f.states[0], 1, true, 20);
    alias_state_elect(f.states[0], 20, &r);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    assert_string_equal(out.groups.names[0],
                        "group_id=4097,type=fast_failover" WEB_BUCKET1);
    flowgen_out_destroy(&out);

    /* m1 link down too: m1 stays as a last-resort bucket. */
    alias_state_set_port(f.states[0], 0, true, false, 30);
    alias_state_elect(f.states[0], 30, &r);
    assert_int_equal(r.new_master, -1);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    assert_string_equal(out.groups.names[0],
                        "group_id=4097,type=fast_failover" WEB_BUCKET1);
    flowgen_out_destroy(&out);

    /* m1 port gone: a group without buckets (drop), still valid. */
    alias_state_set_port(f.states[0], 0, false, false, 40);
    alias_state_elect(f.states[0], 40, &r);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    assert_string_equal(out.groups.names[0],
                        "group_id=4097,type=fast_failover");
    assert_parses(&out);
    flowgen_out_destroy(&out);

    fixture_destroy(&f);
}

static void
test_missing_port_and_other_bridge(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    struct svec web = SVEC_EMPTY_INITIALIZER;

    fixture_init(&f);

    /* m2-p does not exist on the bridge: no per-port flows, no bucket. */
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, "m2-p", f.states, &out);
    grep(&out.flows, C, &web);
    for (size_t i = 0; i < web.n; i++) {
        assert_null(strstr(web.names[i], "in_port=2,"));
    }
    assert_int_equal(web.n, ARRAY_SIZE(web_flows) - 7);
    assert_string_equal(out.groups.names[0],
                        "group_id=4097,type=fast_failover" WEB_BUCKET1);
    svec_destroy(&web);
    flowgen_out_destroy(&out);

    /* br1: only db has a member there; web produces nothing.  No uplinks,
     * so no guard exemptions. */
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br1", lookup, NULL, f.states, &out);
    for (size_t i = 0; i < out.flows.n; i++) {
        assert_null(strstr(out.flows.names[i], C));
        assert_null(strstr(out.flows.names[i], "priority=410"));
    }
    assert_int_equal(out.groups.n, 1);
    assert_string_equal(out.groups.names[0],
                        "group_id=8194,type=fast_failover,"
                        "bucket=watch_port:9,actions=set_field:"
                        "02:00:00:00:00:22->eth_dst,output:9");
    assert_parses(&out);
    flowgen_out_destroy(&out);

    /* A bridge with no alias: just the base flow. */
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br9", lookup, NULL, f.states, &out);
    assert_int_equal(out.flows.n, 1);
    assert_int_equal(out.groups.n, 0);
    flowgen_out_destroy(&out);

    fixture_destroy(&f);
}

/* db's master d2 is on br1: br0 leaves what arrives from its uplink for
 * db to br1 (drops it), and keeps answering its local clients; when d2 goes
 * away and d1 (on br0) takes over, br0 delivers locally again. */
static void
test_remote_master(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    struct svec db = SVEC_EMPTY_INITIALIZER;
    struct alias_election r;

    fixture_init(&f);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    grep(&out.flows, "cookie=0x766d616300002002,", &db);
    static const char *const want[] = {
        "priority=320,cookie=0x766d616300002002,in_port=3,arp,arp_op=1,"
        "arp_tpa=198.51.100.7,actions=drop",
        "priority=320,cookie=0x766d616300002002,in_port=3,ip,"
        "nw_dst=198.51.100.7,actions=drop",
    };
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        bool found = false;
        for (size_t j = 0; j < db.n; j++) {
            found |= strstr(db.names[j], want[i]) != NULL;
        }
        assert_true(found);
    }
    /* The local ARP responder stays. */
    bool responder = false;
    for (size_t j = 0; j < db.n; j++) {
        responder |= strstr(db.names[j], "priority=300,") != NULL;
    }
    assert_true(responder);
    /* web's master is local: no uplink drops for it. */
    for (size_t j = 0; j < out.flows.n; j++) {
        assert_false(strstr(out.flows.names[j], "priority=320,") != NULL
                     && strstr(out.flows.names[j], C) != NULL);
    }
    assert_parses(&out);
    svec_destroy(&db);
    flowgen_out_destroy(&out);

    /* d2 (br1) goes down: d3 has no MAC but is eligible (prio 150) ... the
     * election picks d3, on br0: local again, and d3 has no bucket, d1 has
     * one. */
    alias_state_set_port(f.states[1], 1, false, false, 1);
    alias_state_elect(f.states[1], 1, &r);
    assert_true(r.changed);
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);
    for (size_t j = 0; j < out.flows.n; j++) {
        assert_null(strstr(out.flows.names[j], "priority=320,"));
    }
    assert_string_equal(out.groups.names[1],
                        "group_id=8194,type=fast_failover,"
                        "bucket=watch_port:4,actions=set_field:"
                        "02:00:00:00:00:21->eth_dst,output:4");
    flowgen_out_destroy(&out);
    fixture_destroy(&f);
}

/* An access bridge carries an alias without a member of it: it answers
 * ARP locally and sends the alias's traffic to its uplink. */
static void
test_access_bridge(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    char *access[] = { "br1" };
    char *uplinks1[] = { "up0" };

    fixture_init(&f);
    f.aliases[0].access_bridges = access;
    f.aliases[0].n_access_bridges = 1;
    f.bridges[1].uplinks = uplinks1;
    f.bridges[1].n_uplinks = 1;

    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br1", lookup, NULL, f.states, &out);
    bool responder = false, uplink_drop = false;
    for (size_t j = 0; j < out.flows.n; j++) {
        const char *l = out.flows.names[j];
        if (strstr(l, C)) {
            responder |= strstr(l, "priority=300,") && strstr(l, "arp_op=1");
            uplink_drop |= strstr(l, "priority=320,") != NULL;
            /* No member here: no per-member flows. */
            assert_null(strstr(l, "in_port=1,"));
            assert_null(strstr(l, "in_port=2,"));
        }
    }
    assert_true(responder);
    assert_true(uplink_drop);
    assert_int_equal(out.groups.n, 2);
    assert_string_equal(out.groups.names[0],
                        "group_id=4097,type=fast_failover,"
                        "bucket=watch_port:3,actions=set_field:" VMAC
                        "->eth_dst,output:3");
    assert_parses(&out);
    flowgen_out_destroy(&out);
    fixture_destroy(&f);
}

/* FLOWGEN_FLOWS and FLOWGEN_GROUP split flowgen_alias()'s output. */
static void
test_flows_and_group_apart(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out all, flows, group;

    fixture_init(&f);
    flowgen_out_init(&all);
    flowgen_out_init(&flows);
    flowgen_out_init(&group);
    flowgen_alias(&f.cfg, "br0", 0, lookup, NULL, f.states[0], &all);
    struct flowgen_opts o = { .what = FLOWGEN_FLOWS };
    flowgen_alias_ex(&f.cfg, "br0", 0, lookup, NULL, f.states[0], &o, &flows);
    o.what = FLOWGEN_GROUP;
    flowgen_alias_ex(&f.cfg, "br0", 0, lookup, NULL, f.states[0], &o, &group);

    assert_int_equal(flows.groups.n, 0);
    assert_int_equal(group.flows.n, 0);
    assert_int_equal(flows.flows.n, all.flows.n);
    assert_int_equal(group.groups.n, all.groups.n);
    for (size_t i = 0; i < all.flows.n; i++) {
        assert_string_equal(flows.flows.names[i], all.flows.names[i]);
    }
    assert_string_equal(group.groups.names[0], all.groups.names[0]);

    flowgen_out_destroy(&all);
    flowgen_out_destroy(&flows);
    flowgen_out_destroy(&group);
    fixture_destroy(&f);
}

static void
test_next_table(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;

    fixture_init(&f);
    f.cfg.base_table = 10;
    f.cfg.next_table = 20;
    flowgen_out_init(&out);
    flowgen_bridge(&f.cfg, "br0", lookup, NULL, f.states, &out);

    assert_string_equal(out.flows.names[0],
                        "table=10,priority=0,cookie=0x766d616300000000,"
                        "actions=goto_table:20");
    for (size_t i = 0; i < out.flows.n; i++) {
        const char *s = out.flows.names[i];
        assert_null(strstr(s, "NORMAL"));
        assert_true(!strncmp(s, "table=10,", 9)
                    || !strncmp(s, "table=11,", 9));
        if (strstr(s, "resubmit")) {
            assert_non_null(strstr(s, "resubmit(,11)"));
        }
    }
    assert_parses(&out);
    flowgen_out_destroy(&out);
    fixture_destroy(&f);
}

static void
test_deterministic(void **state OVS_UNUSED)
{
    struct fixture f1, f2;
    struct flowgen_out o1, o2;

    fixture_init(&f1);
    fixture_init(&f2);
    flowgen_out_init(&o1);
    flowgen_out_init(&o2);
    flowgen_bridge(&f1.cfg, "br0", lookup, NULL, f1.states, &o1);
    flowgen_bridge(&f2.cfg, "br0", lookup, NULL, f2.states, &o2);
    assert_true(svec_equal(&o1.flows, &o2.flows));
    assert_true(svec_equal(&o1.groups, &o2.groups));

    /* No duplicate flows. */
    struct svec sorted = SVEC_EMPTY_INITIALIZER;
    svec_clone(&sorted, &o1.flows);
    svec_sort(&sorted);
    assert_null(svec_get_duplicate(&sorted));
    svec_destroy(&sorted);

    flowgen_out_destroy(&o1);
    flowgen_out_destroy(&o2);
    flowgen_out_destroy(NULL);
    fixture_destroy(&f1);
    fixture_destroy(&f2);
}

#define PMAC "02:76:6d:61:63:70"
#define PLLA "fe80::76:6dff:fe61:6370" /* PMAC's link-local address. */

/* As the engine does for one member per port: the port's probes follow
 * the member's address, meter 100 + member index. */
static bool
probe_owner(void *aux, size_t alias, size_t member,
            struct flowgen_probe_port *port)
{
    const struct config *cfg = aux;
    const struct cfg_member *m = &cfg->aliases[alias].members[member];
    *port = (struct flowgen_probe_port){
        .arp = !m->ip_is_v6,
        .nd = m->ip_is_v6,
        .meter_id = 100 + member,
    };
    return config_member_probed(m);
}

/* A member whose ip is IPv6 is probed with ND: the probe identity's guard
 * flows include its link-local address, and the member's port sends the
 * solicited NAs to that address to vmacd, through the port's meter. */
static void
test_probe_flows_ipv6(void **state OVS_UNUSED)
{
    struct fixture f;
    struct flowgen_out out;
    struct svec probe = SVEC_EMPTY_INITIALIZER;

    fixture_init(&f);
    f.bridges[0].probe_source.mac = mac(PMAC);
    struct cfg_member *m1 = &f.web_members[0], *m2 = &f.web_members[1];
    m1->has_ip = m1->ip_is_v6 = true;
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::11", &m1->ip6), 1);
    m2->has_ip = true;
    m2->ip4 = inet_addr("192.0.2.12");
    m2->probe.type = CFG_PROBE_NONE;

    /* m1 alone is probed (it was not, with an IPv6 ip, before ND probes):
     * the guard flows are there. */
    assert_true(config_member_probed(m1));
    assert_false(config_member_probed(m2));
    flowgen_out_init(&out);
    flowgen_probes(&f.cfg, "br0", &out);
#define PFLOW(REST) "table=0,priority=415,cookie=0x766d616300000000," REST
    static const char *const guards[] = {
        PFLOW("dl_dst=" PMAC ",actions=drop"),
        PFLOW("dl_src=" PMAC ",actions=drop"),
        PFLOW("icmp6,icmp_type=135,nd_target=" PLLA ",actions=drop"),
        PFLOW("icmp6,icmp_type=136,nd_target=" PLLA ",actions=drop"),
        PFLOW("ipv6,ipv6_src=" PLLA ",actions=drop"),
        PFLOW("ipv6,ipv6_dst=" PLLA ",actions=drop"),
    };
#undef PFLOW
    assert_lines(&out.flows, guards, ARRAY_SIZE(guards));
    assert_parses(&out);
    flowgen_out_destroy(&out);

    /* m2 probed with ARP too: one reply flow per port, each for its
     * member's probes. */
    m2->probe.type = CFG_PROBE_ARP;
    struct flowgen_opts opts = { .probe_owner = probe_owner, .aux = &f.cfg };
    flowgen_out_init(&out);
    flowgen_alias_ex(&f.cfg, "br0", 0, lookup, NULL, f.states[0], &opts, &out);
    grep(&out.flows, "priority=420,", &probe);
    static const char *const replies[] = {
        FLOW(420, "in_port=1,icmp6,dl_dst=" PMAC ",ipv6_dst=" PLLA
                  ",icmp_type=136,actions=meter:100,"
                  "controller(max_len=128)"),
        FLOW(420, "in_port=2,arp,dl_dst=" PMAC ",arp_op=2,actions=meter:101,"
                  "controller(max_len=128)"),
    };
    assert_lines(&probe, replies, ARRAY_SIZE(replies));
    assert_parses(&out);
    svec_destroy(&probe);
    flowgen_out_destroy(&out);

    /* Only the member ports' own flows, nothing else changes. */
    flowgen_out_init(&out);
    flowgen_alias(&f.cfg, "br0", 0, lookup, NULL, f.states[0], &out);
    struct svec web = SVEC_EMPTY_INITIALIZER;
    grep(&out.flows, C, &web);
    assert_lines(&web, web_flows, ARRAY_SIZE(web_flows));
    svec_destroy(&web);
    flowgen_out_destroy(&out);
    fixture_destroy(&f);
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
        cmocka_unit_test(test_flows_and_group_apart),
        cmocka_unit_test(test_next_table),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_probe_flows_ipv6),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
