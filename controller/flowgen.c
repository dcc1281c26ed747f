/*
 * flowgen: the desired flows and groups of one alias on one bridge, built
 * in binary (match_set_*() and ofpact_put_*()), from its input record
 * alone.  flows/README.md describes the pipeline built here; keep the two
 * in step, and flows/pipeline.txt with them (tests/unit/test_flowgen.c).
 */
#include "flowgen.h"

#include <string.h>

#include "config.h"
#include "flow.h"
#include "flowset.h"
#include "openflow/openflow.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "probepkt.h"
#include "util.h"

/* Priorities in the base table T (and T+1 for the ND second step). */
enum {
    FG_PRIO_BASE = 0,
    FG_PRIO_RETURN = 190,         /* Member -> anyone, from the alias. */
    FG_PRIO_STEER = 200,          /* Anyone -> alias: to the group. */
    FG_PRIO_STEER_EXEMPT = 210,   /* Member -> alias: fall through. */
    FG_PRIO_RETURN_NS = 250,      /* Member's own NS from the alias. */
    FG_PRIO_RESPOND = 300,        /* ARP request / NS for the alias. */
    FG_PRIO_ND_NO_SLL = 305,      /* NS without SLL option: drop. */
    FG_PRIO_ND_DAD = 306,         /* DAD NS (from ::): fall through. */
    FG_PRIO_RESPOND_EXEMPT = 310, /* ARP/NS from a member port. */
    FG_PRIO_UPLINK_REMOTE = 320,  /* Master elsewhere: from the uplink,
                                   * drop what is for the alias. */
    FG_PRIO_GUARD = 400,          /* Claims of the alias: drop. */
    FG_PRIO_GUARD_EXEMPT = 410,   /* ... unless from an uplink. */
    FG_PRIO_PROBE_GUARD = 415,    /* Probe identity: drop the rest. */
    FG_PRIO_PROBE = 420,          /* Probe replies, probe ARP responder. */
    FG_PRIO_CLASSIFY = 500,       /* VLAN classification into reg13. */
};

/* ICMPv6 types and the NA flags the ND responder sets (solicited,
 * override). */
#define FG_ND_NS 135
#define FG_ND_NA 136
#define FG_NA_FLAGS_SO 0x60000000
/* Probe replies to vmacd carry at most this much of the packet. */
#define FG_PROBE_MAX_LEN 128

/* Input records. */

void
flowgen_input_init(struct flowgen_input *in, const struct cfg_alias *alias,
                   const struct flowgen_bridge *br)
{
    size_t n = MAX(alias->n_members, 1);
    *in = (struct flowgen_input){
        .alias = alias,
        .br = br,
        .br_version = br->version,
        .order = xcalloc(n, sizeof *in->order),
        .members = xcalloc(n, sizeof *in->members),
        .carry = xmalloc(MAX(br->n_uplinks, 1)),
    };
    for (size_t m = 0; m < alias->n_members; m++) {
        in->members[m].ofport = -1;
    }
    memset(in->carry, FLOWGEN_CARRY_UNTAGGED, MAX(br->n_uplinks, 1));
}

void
flowgen_input_copy(struct flowgen_input *dst, const struct flowgen_input *src)
{
    size_t n = MAX(src->alias->n_members, 1);
    *dst = *src;
    dst->order = xmemdup(src->order, n * sizeof *src->order);
    dst->members = xmemdup(src->members, n * sizeof *src->members);
    dst->carry = xmemdup(src->carry, MAX(src->br->n_uplinks, 1));
}

void
flowgen_input_destroy(struct flowgen_input *in)
{
    if (in) {
        free(in->order);
        free(in->members);
        free(in->carry);
        in->order = NULL;
        in->members = NULL;
        in->carry = NULL;
    }
}

/* Both say the same about the alias and the bridge? */
static bool
same_context(const struct flowgen_input *a, const struct flowgen_input *b)
{
    return (a->alias == b->alias && a->br == b->br
            && a->br_version == b->br_version
            && a->remote_master == b->remote_master);
}

bool
flowgen_flows_changed(const struct flowgen_input *old,
                      const struct flowgen_input *new)
{
    if (!same_context(old, new)
        || (new->br->vlan_aware && old->vlan != new->vlan)) {
        return true;
    }
    for (size_t m = 0; m < new->alias->n_members; m++) {
        const struct flowgen_member *x = &old->members[m];
        const struct flowgen_member *y = &new->members[m];
        if (x->ofport != y->ofport || x->probe_owner != y->probe_owner
            || (y->probe_owner
                && (x->probe_arp != y->probe_arp || x->probe_nd != y->probe_nd
                    || x->probe_tcp != y->probe_tcp
                    || x->meter_id != y->meter_id))) {
            return true;
        }
    }
    return false;
}

bool
flowgen_group_changed(const struct flowgen_input *old,
                      const struct flowgen_input *new)
{
    if (!same_context(old, new) || old->n_order != new->n_order
        || memcmp(old->order, new->order, new->n_order * sizeof *new->order)) {
        return true;
    }
    /* The uplink buckets of a remote master carry the alias's VLAN. */
    if (new->remote_master && new->br->vlan_aware
        && (old->vlan != new->vlan
            || memcmp(old->carry, new->carry, new->br->n_uplinks))) {
        return true;
    }
    for (size_t m = 0; m < new->alias->n_members; m++) {
        const struct flowgen_member *x = &old->members[m];
        const struct flowgen_member *y = &new->members[m];
        if (x->ofport != y->ofport || x->has_mac != y->has_mac
            || (y->has_mac && !eth_addr_equals(x->mac, y->mac))) {
            return true;
        }
    }
    return false;
}

uint64_t
flowgen_cookie(uint32_t cookie_prefix, uint32_t id)
{
    return ((uint64_t) cookie_prefix << 32) | id;
}

/* Building blocks. */

/* One alias on one bridge while its flows are made. */
struct fg {
    const struct flowgen_input *in;
    const struct flowgen_bridge *br;
    const struct cfg_alias *a;
    struct flowset_builder *b;
    struct ofpbuf acts; /* The actions of the flow being made. */
    uint64_t stub[512 / 8];
};

static void
fg_init(struct fg *g, const struct flowgen_bridge *br, uint32_t part_id)
{
    g->br = br;
    g->b = flowset_builder_create(part_id);
    ofpbuf_use_stub(&g->acts, g->stub, sizeof g->stub);
}

static struct fs_part *
fg_finish(struct fg *g)
{
    ofpbuf_uninit(&g->acts);
    return flowset_builder_finish(g->b);
}

/* Starts the actions of a new flow. */
static struct ofpbuf *
fg_acts(struct fg *g)
{
    ofpbuf_clear(&g->acts);
    return &g->acts;
}

/* Adds the flow with the actions put since fg_acts(). */
static void
fg_flow(struct fg *g, uint8_t table, uint16_t priority,
        const struct match *m)
{
    flowset_builder_add_flow(g->b, table, priority, m, g->acts.data,
                             g->acts.size);
}

/* Adds a flow whose actions are "drop" (none). */
static void
fg_drop(struct fg *g, uint8_t table, uint16_t priority, const struct match *m)
{
    fg_acts(g);
    fg_flow(g, table, priority, m);
}

static void
put_set(struct ofpbuf *a, enum mf_field_id id, const void *value)
{
    ofpact_put_set_field(a, mf_from_id(id), value, NULL);
}

/* Puts the fall-through action F: NORMAL or goto_table (on a VLAN-aware
 * bridge after clearing reg13, so that the next pipeline starts with the
 * register it expects). */
static void
put_fall(struct ofpbuf *a, const struct flowgen_bridge *br)
{
    if (br->next_table >= 0) {
        if (br->vlan_aware) {
            ovs_be32 zero = 0;
            put_set(a, MFF_REG0 + FLOWGEN_REG_CLASS, &zero);
        }
        ofpact_put_GOTO_TABLE(a)->table_id = br->next_table;
    } else {
        ofpact_put_OUTPUT(a)->port = OFPP_NORMAL;
    }
}

/* Adds a flow whose actions are F. */
static void
fg_fall(struct fg *g, uint8_t table, uint16_t priority, const struct match *m)
{
    put_fall(fg_acts(g), g->br);
    fg_flow(g, table, priority, m);
}

static void
put_output(struct ofpbuf *a, ofp_port_t port)
{
    ofpact_put_OUTPUT(a)->port = port;
}

static void
put_move(struct ofpbuf *a, enum mf_field_id src, enum mf_field_id dst)
{
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(a);
    move->src.field = mf_from_id(src);
    move->src.ofs = 0;
    move->src.n_bits = move->src.field->n_bits;
    move->dst.field = mf_from_id(dst);
    move->dst.ofs = 0;
    move->dst.n_bits = move->dst.field->n_bits;
}

/* Matches.  Each starts from "match everything". */

static void
m_arp(struct match *m)
{
    match_init_catchall(m);
    match_set_dl_type(m, htons(ETH_TYPE_ARP));
}

static void
m_ip(struct match *m)
{
    match_init_catchall(m);
    match_set_dl_type(m, htons(ETH_TYPE_IP));
}

static void
m_ipv6(struct match *m)
{
    match_init_catchall(m);
    match_set_dl_type(m, htons(ETH_TYPE_IPV6));
}

static void
m_icmp6(struct match *m, uint8_t type)
{
    m_ipv6(m);
    match_set_nw_proto(m, IPPROTO_ICMPV6);
    match_set_icmp_type(m, type);
}

static void
m_in_port(struct match *m, int64_t port)
{
    match_set_in_port(m, u16_to_ofp(port));
}

/* Frames with (without) a VLAN header. */
static void
m_tagged(struct match *m, bool tagged)
{
    match_set_dl_tci_masked(m, tagged ? htons(VLAN_CFI) : 0, htons(VLAN_CFI));
}

static void
m_reg_class(struct match *m, uint32_t class)
{
    match_set_reg(m, FLOWGEN_REG_CLASS, class);
}

/* On a VLAN-aware bridge: only frames in the alias's VLAN. */
static void
m_class(struct match *m, const struct flowgen_input *in)
{
    if (in->br->vlan_aware) {
        m_reg_class(m, FLOWGEN_CLASS | in->vlan);
    }
}

/* The ARP responder's actions for 'ip' at 'mac': the request becomes the
 * reply in place and goes back out of its port. */
static void
put_arp_reply(struct ofpbuf *a, struct eth_addr mac, ovs_be32 ip)
{
    ovs_be16 reply = htons(ARP_OP_REPLY);
    put_move(a, MFF_ETH_SRC, MFF_ETH_DST);
    put_set(a, MFF_ETH_SRC, &mac);
    put_set(a, MFF_ARP_OP, &reply);
    put_move(a, MFF_ARP_SHA, MFF_ARP_THA);
    put_move(a, MFF_ARP_SPA, MFF_ARP_TPA);
    put_set(a, MFF_ARP_SHA, &mac);
    put_set(a, MFF_ARP_SPA, &ip);
    put_output(a, OFPP_IN_PORT);
}

/* Probe replies go to vmacd through the port's meter. */
static void
put_to_vmacd(struct ofpbuf *a, uint32_t meter_id)
{
    ofpact_put_METER(a)->meter_id = meter_id;
    struct ofpact_output *out = ofpact_put_OUTPUT(a);
    out->port = OFPP_CONTROLLER;
    out->max_len = FG_PROBE_MAX_LEN;
}

/* The alias's flows, by pipeline stage. */

/* Master on another bridge: what arrives from an uplink for the alias (ARP
 * requests, NS, traffic flooded by the physical switch) is the master
 * bridge's to answer and deliver; answering here too would teach the
 * physical switch the VMAC on this host's uplink, and delivering would
 * duplicate. */
static void
fg_uplink_remote(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    struct match m;

    for (size_t u = 0; u < g->br->n_uplinks; u++) {
        uint32_t up = g->br->uplinks[u];
        for (size_t i = 0; i < a->n_ip4; i++) {
            m_arp(&m);
            m_in_port(&m, up);
            m_class(&m, g->in);
            match_set_nw_proto(&m, ARP_OP_REQUEST);
            match_set_nw_dst(&m, a->ip4[i]);
            fg_drop(g, g->br->table, FG_PRIO_UPLINK_REMOTE, &m);
            m_ip(&m);
            m_in_port(&m, up);
            m_class(&m, g->in);
            match_set_nw_dst(&m, a->ip4[i]);
            fg_drop(g, g->br->table, FG_PRIO_UPLINK_REMOTE, &m);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            m_icmp6(&m, FG_ND_NS);
            m_in_port(&m, up);
            m_class(&m, g->in);
            match_set_nd_target(&m, &a->ip6[i]);
            fg_drop(g, g->br->table, FG_PRIO_UPLINK_REMOTE, &m);
            m_ipv6(&m);
            m_in_port(&m, up);
            m_class(&m, g->in);
            match_set_ipv6_dst(&m, &a->ip6[i]);
            fg_drop(g, g->br->table, FG_PRIO_UPLINK_REMOTE, &m);
        }
    }
}

/* The guard matches, each optionally from one port. */
static void
guard_vmac(struct match *m, const struct cfg_alias *a, int64_t port)
{
    match_init_catchall(m);
    if (port >= 0) {
        m_in_port(m, port);
    }
    match_set_dl_src(m, a->vmac);
}

/* The claims of an address are only the alias's in its VLAN (a host in
 * another may use the same address). */
static void
guard_arp(struct match *m, const struct flowgen_input *in, ovs_be32 ip,
          int64_t port)
{
    m_arp(m);
    if (port >= 0) {
        m_in_port(m, port);
    }
    m_class(m, in);
    match_set_nw_src(m, ip);
}

static void
guard_na(struct match *m, const struct flowgen_input *in,
         const struct in6_addr *ip6, int64_t port)
{
    m_icmp6(m, FG_ND_NA);
    if (port >= 0) {
        m_in_port(m, port);
    }
    m_class(m, in);
    match_set_nd_target(m, ip6);
}

/* Guard: nobody but the switch speaks for the alias, except on uplinks. */
static void
fg_guard(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    uint8_t t = g->br->table;
    struct match m;

    guard_vmac(&m, a, -1);
    fg_drop(g, t, FG_PRIO_GUARD, &m);
    for (size_t i = 0; i < a->n_ip4; i++) {
        guard_arp(&m, g->in, a->ip4[i], -1);
        fg_drop(g, t, FG_PRIO_GUARD, &m);
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        guard_na(&m, g->in, &a->ip6[i], -1);
        fg_drop(g, t, FG_PRIO_GUARD, &m);
    }

    for (size_t u = 0; u < g->br->n_uplinks; u++) {
        uint32_t up = g->br->uplinks[u];
        guard_vmac(&m, a, up);
        fg_fall(g, t, FG_PRIO_GUARD_EXEMPT, &m);
        for (size_t i = 0; i < a->n_ip4; i++) {
            guard_arp(&m, g->in, a->ip4[i], up);
            fg_fall(g, t, FG_PRIO_GUARD_EXEMPT, &m);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            guard_na(&m, g->in, &a->ip6[i], up);
            fg_fall(g, t, FG_PRIO_GUARD_EXEMPT, &m);
        }
    }
}

/* ARP responder: a request for the alias is turned into the reply in place
 * and sent back out of its in_port; members' own requests pass. */
static void
fg_arp_responder(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    uint8_t t = g->br->table;
    struct match m;

    for (size_t i = 0; i < a->n_ip4; i++) {
        m_arp(&m);
        m_class(&m, g->in);
        match_set_nw_proto(&m, ARP_OP_REQUEST);
        match_set_nw_dst(&m, a->ip4[i]);
        put_arp_reply(fg_acts(g), a->vmac, a->ip4[i]);
        fg_flow(g, t, FG_PRIO_RESPOND, &m);
        for (size_t k = 0; k < a->n_members; k++) {
            int64_t port = g->in->members[k].ofport;
            if (port >= 0) {
                m_arp(&m);
                m_in_port(&m, port);
                match_set_nw_proto(&m, ARP_OP_REQUEST);
                match_set_nw_dst(&m, a->ip4[i]);
                fg_fall(g, t, FG_PRIO_RESPOND_EXEMPT, &m);
            }
        }
    }
}

/* ND responder: an NS for the alias becomes an NA in two steps (nd_tll can
 * only be set once the packet is an NA). */
static void
fg_nd_responder(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    uint8_t t = g->br->table;
    struct match m;

    for (size_t i = 0; i < a->n_ip6; i++) {
        const struct in6_addr *ip6 = &a->ip6[i];
        uint8_t na = FG_ND_NA, opt_tll = 2, ttl = 255;
        ovs_be32 flags = htonl(FG_NA_FLAGS_SO);

        m_icmp6(&m, FG_ND_NS);
        m_class(&m, g->in);
        match_set_nd_target(&m, ip6);
        struct ofpbuf *acts = fg_acts(g);
        put_move(acts, MFF_ETH_SRC, MFF_ETH_DST);
        put_set(acts, MFF_ETH_SRC, &a->vmac);
        put_move(acts, MFF_IPV6_SRC, MFF_IPV6_DST);
        put_set(acts, MFF_IPV6_SRC, ip6);
        put_set(acts, MFF_ICMPV6_TYPE, &na);
        put_set(acts, MFF_ND_RESERVED, &flags);
        put_set(acts, MFF_ND_OPTIONS_TYPE, &opt_tll);
        put_set(acts, MFF_IP_TTL, &ttl);
        struct ofpact_resubmit *r = ofpact_put_RESUBMIT(acts);
        r->in_port = OFPP_IN_PORT;
        r->table_id = t + 1;
        fg_flow(g, t, FG_PRIO_RESPOND, &m);

        m_icmp6(&m, FG_ND_NA);
        match_set_nd_target(&m, ip6);
        acts = fg_acts(g);
        put_set(acts, MFF_ND_TLL, &a->vmac);
        put_output(acts, OFPP_IN_PORT);
        fg_flow(g, t + 1, FG_PRIO_RESPOND, &m);

        m_icmp6(&m, FG_ND_NS);
        m_class(&m, g->in);
        match_set_ipv6_src(&m, &in6addr_any);
        match_set_nd_target(&m, ip6);
        fg_fall(g, t, FG_PRIO_ND_DAD, &m);

        m_icmp6(&m, FG_ND_NS);
        m_class(&m, g->in);
        match_set_nd_target(&m, ip6);
        match_set_arp_sha(&m, eth_addr_zero);
        fg_drop(g, t, FG_PRIO_ND_NO_SLL, &m);

        for (size_t k = 0; k < a->n_members; k++) {
            int64_t port = g->in->members[k].ofport;
            if (port >= 0) {
                m_icmp6(&m, FG_ND_NS);
                m_in_port(&m, port);
                match_set_nd_target(&m, ip6);
                fg_fall(g, t, FG_PRIO_RESPOND_EXEMPT, &m);
            }
        }
    }
}

/* The steer flows on match 'm' (an address of the alias) to the alias's
 * group, and the members' exemptions from them.  On a VLAN-aware bridge
 * two, so that the group always gets an untagged frame: a frame of the
 * alias's VLAN that came tagged (from a trunk) loses its tag first. */
static void
fg_steer_addr(struct fg *g, const struct match *m)
{
    uint8_t t = g->br->table;
    struct match s;

    if (g->br->vlan_aware) {
        for (int tagged = 1; tagged >= 0; tagged--) {
            s = *m;
            m_class(&s, g->in);
            m_tagged(&s, tagged);
            struct ofpbuf *acts = fg_acts(g);
            if (tagged) {
                ofpact_put_STRIP_VLAN(acts);
            }
            ofpact_put_GROUP(acts)->group_id = g->a->id;
            fg_flow(g, t, FG_PRIO_STEER, &s);
        }
    } else {
        ofpact_put_GROUP(fg_acts(g))->group_id = g->a->id;
        fg_flow(g, t, FG_PRIO_STEER, m);
    }
    for (size_t k = 0; k < g->a->n_members; k++) {
        int64_t port = g->in->members[k].ofport;
        if (port >= 0) {
            s = *m;
            m_in_port(&s, port);
            fg_fall(g, t, FG_PRIO_STEER_EXEMPT, &s);
        }
    }
}

/* Steer: traffic for the alias goes to the alias's group, except from the
 * members themselves. */
static void
fg_steer(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    struct match m;

    for (size_t i = 0; i < a->n_ip4; i++) {
        m_ip(&m);
        match_set_nw_dst(&m, a->ip4[i]);
        fg_steer_addr(g, &m);
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        m_ipv6(&m);
        match_set_ipv6_dst(&m, &a->ip6[i]);
        fg_steer_addr(g, &m);
    }
}

/* Return: what members send from the alias leaves with the VMAC. */
static void
fg_return(struct fg *g)
{
    const struct cfg_alias *a = g->a;
    uint8_t t = g->br->table;
    struct match m;

    for (size_t k = 0; k < a->n_members; k++) {
        int64_t port = g->in->members[k].ofport;
        if (port < 0) {
            continue;
        }
        for (size_t i = 0; i < a->n_ip4; i++) {
            m_ip(&m);
            m_in_port(&m, port);
            match_set_nw_src(&m, a->ip4[i]);
            struct ofpbuf *acts = fg_acts(g);
            put_set(acts, MFF_ETH_SRC, &a->vmac);
            put_fall(acts, g->br);
            fg_flow(g, t, FG_PRIO_RETURN, &m);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            m_ipv6(&m);
            m_in_port(&m, port);
            match_set_ipv6_src(&m, &a->ip6[i]);
            struct ofpbuf *acts = fg_acts(g);
            put_set(acts, MFF_ETH_SRC, &a->vmac);
            put_fall(acts, g->br);
            fg_flow(g, t, FG_PRIO_RETURN, &m);

            m_icmp6(&m, FG_ND_NS);
            m_in_port(&m, port);
            match_set_ipv6_src(&m, &a->ip6[i]);
            acts = fg_acts(g);
            put_set(acts, MFF_ETH_SRC, &a->vmac);
            put_set(acts, MFF_ND_SLL, &a->vmac);
            put_fall(acts, g->br);
            fg_flow(g, t, FG_PRIO_RETURN_NS, &m);
        }
    }
}

/* The probe reply flows of the member ports whose probes this alias's
 * members own: replies to the probe identity go to vmacd, at most at the
 * rate of the port's own meter. */
static void
fg_probe_replies(struct fg *g)
{
    const struct flowgen_bridge *br = g->br;
    uint8_t t = br->table;
    struct in6_addr lla;
    struct match m;

    probepkt_nd_source(br->probe_mac, &lla);
    for (size_t k = 0; k < g->a->n_members; k++) {
        const struct flowgen_member *mb = &g->in->members[k];
        if (mb->ofport < 0 || !mb->probe_owner) {
            continue;
        }
        if (mb->probe_arp) {
            m_arp(&m);
            m_in_port(&m, mb->ofport);
            match_set_dl_dst(&m, br->probe_mac);
            match_set_nw_proto(&m, ARP_OP_REPLY);
            put_to_vmacd(fg_acts(g), mb->meter_id);
            fg_flow(g, t, FG_PRIO_PROBE, &m);
        }
        if (mb->probe_nd) {
            /* The solicited NAs to the identity's link-local address. */
            m_icmp6(&m, FG_ND_NA);
            m_in_port(&m, mb->ofport);
            match_set_dl_dst(&m, br->probe_mac);
            match_set_ipv6_dst(&m, &lla);
            put_to_vmacd(fg_acts(g), mb->meter_id);
            fg_flow(g, t, FG_PRIO_PROBE, &m);
        }
        if (!mb->probe_tcp || !br->probe_has_ip) {
            continue;
        }
        m_ip(&m);
        match_set_nw_proto(&m, IPPROTO_TCP);
        m_in_port(&m, mb->ofport);
        match_set_dl_dst(&m, br->probe_mac);
        match_set_nw_dst(&m, br->probe_ip4);
        put_to_vmacd(fg_acts(g), mb->meter_id);
        fg_flow(g, t, FG_PRIO_PROBE, &m);
        /* A member answering a TCP probe resolves the identity's IP. */
        m_arp(&m);
        m_in_port(&m, mb->ofport);
        match_set_nw_proto(&m, ARP_OP_REQUEST);
        match_set_nw_dst(&m, br->probe_ip4);
        put_arp_reply(fg_acts(g), br->probe_mac, br->probe_ip4);
        fg_flow(g, t, FG_PRIO_PROBE, &m);
    }
}

struct fs_part *
flowgen_alias_flows(const struct flowgen_input *in)
{
    struct fg g = { .in = in, .a = in->alias };
    fg_init(&g, in->br, in->alias->id);
    if (in->remote_master) {
        fg_uplink_remote(&g);
    }
    fg_guard(&g);
    fg_arp_responder(&g);
    fg_nd_responder(&g);
    fg_steer(&g);
    fg_return(&g);
    fg_probe_replies(&g);
    return fg_finish(&g);
}

/* The alias's fast_failover group: one bucket per usable member, in
 * election order; with the master on another bridge, one bucket per uplink
 * that sends to the VMAC, which the physical network delivers to the
 * master's bridge (on a VLAN-aware bridge, tagged with the alias's VLAN to
 * an uplink that trunks it, and none to one that does not carry it). */
struct fs_part *
flowgen_alias_group(const struct flowgen_input *in)
{
    const struct cfg_alias *a = in->alias;
    const struct flowgen_bridge *br = in->br;
    size_t n_max = MAX(a->n_members, br->n_uplinks);
    struct fs_bucket_spec *specs = xcalloc(MAX(n_max, 1), sizeof *specs);
    struct ofpbuf *acts = xcalloc(MAX(n_max, 1), sizeof *acts);
    size_t n = 0;

    if (in->remote_master) {
        for (size_t u = 0; u < br->n_uplinks; u++) {
            enum flowgen_carry carry = (br->vlan_aware ? in->carry[u]
                                                       : FLOWGEN_CARRY_UNTAGGED);
            if (carry == FLOWGEN_CARRY_NONE) {
                continue;
            }
            ofpbuf_init(&acts[n], 64);
            if (carry == FLOWGEN_CARRY_TAGGED) {
                ovs_be16 vid = htons(OFPVID12_PRESENT | in->vlan);
                ofpact_put_PUSH_VLAN(&acts[n])->ethertype
                    = htons(ETH_TYPE_VLAN_8021Q);
                put_set(&acts[n], MFF_VLAN_VID, &vid);
            }
            put_set(&acts[n], MFF_ETH_DST, &a->vmac);
            put_output(&acts[n], u16_to_ofp(br->uplinks[u]));
            specs[n] = (struct fs_bucket_spec){
                .watch_port = u16_to_ofp(br->uplinks[u]),
                .watch_group = OFPG_ANY,
                .ofpacts = acts[n].data,
                .ofpacts_len = acts[n].size,
            };
            n++;
        }
    } else {
        for (size_t i = 0; i < in->n_order; i++) {
            const struct flowgen_member *mb = &in->members[in->order[i]];
            if (mb->ofport < 0 || !mb->has_mac) {
                continue;
            }
            ofpbuf_init(&acts[n], 64);
            put_set(&acts[n], MFF_ETH_DST, &mb->mac);
            put_output(&acts[n], u16_to_ofp(mb->ofport));
            specs[n] = (struct fs_bucket_spec){
                .watch_port = u16_to_ofp(mb->ofport),
                .watch_group = OFPG_ANY,
                .ofpacts = acts[n].data,
                .ofpacts_len = acts[n].size,
            };
            n++;
        }
    }

    struct flowset_builder *b
        = flowset_builder_create(a->id | FLOWSET_GROUP_PART);
    flowset_builder_set_group(b, a->id, OFPGT11_FF, specs, n);
    for (size_t i = 0; i < n; i++) {
        ofpbuf_uninit(&acts[i]);
    }
    free(acts);
    free(specs);
    return flowset_builder_finish(b);
}

/* Classification of the frames from port 'vp': what NORMAL admits on it
 * gets reg13 = FLOWGEN_CLASS | its VLAN, and table T again. */
static void
fg_class_flow(struct fg *g, const struct match *m, bool move, uint16_t vid)
{
    struct ofpbuf *a = fg_acts(g);
    if (move) {
        /* The frame's own VID, and the "classified" bit. */
        struct ofpact_reg_move *mv = ofpact_put_REG_MOVE(a);
        mv->src.field = mf_from_id(MFF_VLAN_TCI);
        mv->src.ofs = 0;
        mv->src.n_bits = 12;
        mv->dst.field = mf_from_id(MFF_REG0 + FLOWGEN_REG_CLASS);
        mv->dst.ofs = 0;
        mv->dst.n_bits = 12;
        ovs_be32 bit = htonl(FLOWGEN_CLASS);
        ofpact_put_set_field(a, mf_from_id(MFF_REG0 + FLOWGEN_REG_CLASS),
                             &bit, &bit);
    } else {
        ovs_be32 class = htonl(FLOWGEN_CLASS | vid);
        put_set(a, MFF_REG0 + FLOWGEN_REG_CLASS, &class);
    }
    struct ofpact_resubmit *r = ofpact_put_RESUBMIT(a);
    r->in_port = OFPP_IN_PORT;
    r->table_id = g->br->table;
    fg_flow(g, g->br->table, FG_PRIO_CLASSIFY, m);
}

/* Starts a classification match: not classified yet, from 'ofport'. */
static void
m_unclassified(struct match *m, uint32_t ofport)
{
    match_init_catchall(m);
    m_reg_class(m, 0);
    m_in_port(m, ofport);
}

/* The classification of one port, as Open vSwitch's NORMAL admits frames
 * on it (ofproto-dpif-xlate.c, input_vid_is_valid()). */
static void
fg_classify_port(struct fg *g, const struct flowgen_vport *vp)
{
    const struct flowgen_vlan *v = &vp->vlan;
    uint16_t native = v->tag >= 0 ? v->tag : 0;
    struct match m;

    switch (v->mode) {
    case FLOWGEN_VLAN_ACCESS:
        m_unclassified(&m, vp->ofport);
        m_tagged(&m, false);
        fg_class_flow(g, &m, false, native);
        break;

    case FLOWGEN_VLAN_TRUNK:
        if (!v->n_trunks) {
            m_unclassified(&m, vp->ofport);
            m_tagged(&m, true);
            fg_class_flow(g, &m, true, 0);
            m_unclassified(&m, vp->ofport);
            m_tagged(&m, false);
            fg_class_flow(g, &m, false, 0);
        }
        for (size_t i = 0; i < v->n_trunks; i++) {
            /* VLAN 0 on a trunk: untagged frames. */
            m_unclassified(&m, vp->ofport);
            if (v->trunks[i]) {
                match_set_dl_vlan(&m, htons(v->trunks[i]), 0);
            } else {
                m_tagged(&m, false);
            }
            fg_class_flow(g, &m, false, v->trunks[i]);
        }
        break;

    case FLOWGEN_VLAN_NATIVE_TAGGED:
    case FLOWGEN_VLAN_NATIVE_UNTAGGED:
        /* Untagged frames are in the native VLAN; tagged ones as on a
         * trunk, which always carries the native VLAN and never VLAN 0. */
        m_unclassified(&m, vp->ofport);
        m_tagged(&m, false);
        fg_class_flow(g, &m, false, native);
        if (!v->n_trunks) {
            m_unclassified(&m, vp->ofport);
            m_tagged(&m, true);
            fg_class_flow(g, &m, true, 0);
            break;
        }
        bool has_native = false;
        for (size_t i = 0; i < v->n_trunks; i++) {
            uint16_t vid = v->trunks[i];
            has_native |= vid == native;
            if (vid) {
                m_unclassified(&m, vp->ofport);
                match_set_dl_vlan(&m, htons(vid), 0);
                fg_class_flow(g, &m, false, vid);
            }
        }
        if (!has_native && native) {
            m_unclassified(&m, vp->ofport);
            match_set_dl_vlan(&m, htons(native), 0);
            fg_class_flow(g, &m, false, native);
        }
        break;

    case FLOWGEN_VLAN_DOT1Q_TUNNEL:
    default:
        /* Not classified: NORMAL handles it, no alias sees it. */
        break;
    }
}

struct fs_part *
flowgen_base(const struct flowgen_bridge *br, bool probed, bool nd)
{
    struct fg g;
    struct match m;
    uint8_t t = br->table;

    fg_init(&g, br, 0);
    for (size_t i = 0; br->vlan_aware && i < br->n_vports; i++) {
        fg_classify_port(&g, &br->vports[i]);
    }
    match_init_catchall(&m);
    fg_fall(&g, t, FG_PRIO_BASE, &m);
    if (!probed) {
        return fg_finish(&g);
    }

    /* Nothing else reaches the identity or leaves with its MAC: it is
     * never learned and never flooded. */
    match_init_catchall(&m);
    match_set_dl_dst(&m, br->probe_mac);
    fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
    match_init_catchall(&m);
    match_set_dl_src(&m, br->probe_mac);
    fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
    if (br->probe_has_ip) {
        m_arp(&m);
        match_set_nw_src(&m, br->probe_ip4);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_arp(&m);
        match_set_nw_dst(&m, br->probe_ip4);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_ip(&m);
        match_set_nw_src(&m, br->probe_ip4);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_ip(&m);
        match_set_nw_dst(&m, br->probe_ip4);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
    }
    if (nd) {
        /* The link-local address ND probes come from. */
        struct in6_addr lla;
        probepkt_nd_source(br->probe_mac, &lla);
        m_icmp6(&m, FG_ND_NS);
        match_set_nd_target(&m, &lla);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_icmp6(&m, FG_ND_NA);
        match_set_nd_target(&m, &lla);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_ipv6(&m);
        match_set_ipv6_src(&m, &lla);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
        m_ipv6(&m);
        match_set_ipv6_dst(&m, &lla);
        fg_drop(&g, t, FG_PRIO_PROBE_GUARD, &m);
    }
    return fg_finish(&g);
}
