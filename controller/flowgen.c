/*
 * flowgen: the desired flows and groups of one bridge.  flows/README.md
 * describes the pipeline built here; keep the two in step.
 */
#include "flowgen.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "alias.h"
#include "config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "probepkt.h"

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
};

/* Context while generating one alias on one bridge. */
struct fg_ctx {
    const struct cfg_alias *alias;
    int table;        /* Base table T. */
    int nd_table;     /* T + 1. */
    const char *fall; /* "NORMAL" or "goto_table:N". */
    uint64_t cookie;
    struct flowgen_out *out;
    const struct flowgen_opts *opts;
    size_t alias_idx;

    /* Member ports that exist on this bridge (n_members entries, -1 for
     * none) and uplink ports of this bridge that exist. */
    int64_t *member_port;
    uint32_t *uplinks;
    size_t n_uplinks;

    char vmac[ETH_ADDR_STRLEN + 1];

    /* The master is a member on another bridge: this bridge sends the
     * alias's traffic to its uplinks and leaves what arrives from the
     * uplinks for the alias to the master's bridge. */
    bool remote_master;
};

void
flowgen_out_init(struct flowgen_out *out)
{
    svec_init(&out->flows);
    svec_init(&out->groups);
}

void
flowgen_out_destroy(struct flowgen_out *out)
{
    if (out) {
        svec_destroy(&out->flows);
        svec_destroy(&out->groups);
    }
}

uint64_t
flowgen_cookie(const struct config *cfg, uint32_t alias_id)
{
    return ((uint64_t) cfg->cookie_prefix << 32) | alias_id;
}

static void
fg_format_ip6(const struct in6_addr *a, char buf[INET6_ADDRSTRLEN])
{
    inet_ntop(AF_INET6, a, buf, INET6_ADDRSTRLEN);
}

/* Appends one flow "table=TABLE,priority=PRIO,cookie=C," + FORMAT. */
static void OVS_PRINTF_FORMAT(5, 6)
    fg_flow(struct svec *flows, int table, int prio, uint64_t cookie,
            const char *format, ...)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    va_list args;

    ds_put_format(&s, "table=%d,priority=%d,cookie=0x%" PRIx64 ",", table,
                  prio, cookie);
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    svec_add_nocopy(flows, ds_steal_cstr(&s));
}

#define FG_FLOW(CTX, TABLE, PRIO, ...)                                        \
    fg_flow(&(CTX)->out->flows, TABLE, PRIO, (CTX)->cookie, __VA_ARGS__)

/* Guard: nobody but the switch speaks for the alias, except on uplinks. */
static void
fg_guard(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;
    char ip6[INET6_ADDRSTRLEN];

    FG_FLOW(c, c->table, FG_PRIO_GUARD, "dl_src=%s,actions=drop", c->vmac);
    for (size_t i = 0; i < a->n_ip4; i++) {
        FG_FLOW(c, c->table, FG_PRIO_GUARD,
                "arp,arp_spa=" IP_FMT ",actions=drop", IP_ARGS(a->ip4[i]));
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        fg_format_ip6(&a->ip6[i], ip6);
        FG_FLOW(c, c->table, FG_PRIO_GUARD,
                "icmp6,icmp_type=136,nd_target=%s,actions=drop", ip6);
    }

    for (size_t u = 0; u < c->n_uplinks; u++) {
        uint32_t up = c->uplinks[u];

        FG_FLOW(c, c->table, FG_PRIO_GUARD_EXEMPT,
                "in_port=%" PRIu32 ",dl_src=%s,actions=%s", up, c->vmac,
                c->fall);
        for (size_t i = 0; i < a->n_ip4; i++) {
            FG_FLOW(c, c->table, FG_PRIO_GUARD_EXEMPT,
                    "in_port=%" PRIu32 ",arp,arp_spa=" IP_FMT ",actions=%s",
                    up, IP_ARGS(a->ip4[i]), c->fall);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            fg_format_ip6(&a->ip6[i], ip6);
            FG_FLOW(c, c->table, FG_PRIO_GUARD_EXEMPT,
                    "in_port=%" PRIu32
                    ",icmp6,icmp_type=136,nd_target=%s,actions=%s",
                    up, ip6, c->fall);
        }
    }
}

/* ARP responder: a request for the alias is turned into the reply in place
 * and sent back out of its in_port. */
static void
fg_arp_responder(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;

    for (size_t i = 0; i < a->n_ip4; i++) {
        ovs_be32 ip = a->ip4[i];

        FG_FLOW(c, c->table, FG_PRIO_RESPOND,
                "arp,arp_op=1,arp_tpa=" IP_FMT ",actions="
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                "set_field:%s->eth_src,"
                "load:0x2->NXM_OF_ARP_OP[],"
                "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                "set_field:%s->arp_sha,"
                "set_field:" IP_FMT "->arp_spa,"
                "IN_PORT",
                IP_ARGS(ip), c->vmac, c->vmac, IP_ARGS(ip));
        for (size_t m = 0; m < a->n_members; m++) {
            if (c->member_port[m] >= 0) {
                FG_FLOW(c, c->table, FG_PRIO_RESPOND_EXEMPT,
                        "in_port=%" PRId64 ",arp,arp_op=1,arp_tpa=" IP_FMT
                        ",actions=%s",
                        c->member_port[m], IP_ARGS(ip), c->fall);
            }
        }
    }
}

/* ND responder: an NS for the alias becomes an NA in two steps (nd_tll can
 * only be set once the packet is an NA). */
static void
fg_nd_responder(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;
    char ip6[INET6_ADDRSTRLEN];

    for (size_t i = 0; i < a->n_ip6; i++) {
        fg_format_ip6(&a->ip6[i], ip6);

        FG_FLOW(c, c->table, FG_PRIO_RESPOND,
                "icmp6,icmp_type=135,nd_target=%s,actions="
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                "set_field:%s->eth_src,"
                "move:NXM_NX_IPV6_SRC[]->NXM_NX_IPV6_DST[],"
                "set_field:%s->ipv6_src,"
                "set_field:136->icmpv6_type,"
                "set_field:0x60000000->nd_reserved,"
                "set_field:2->nd_options_type,"
                "set_field:255->nw_ttl,"
                "resubmit(,%d)",
                ip6, c->vmac, ip6, c->nd_table);
        FG_FLOW(c, c->nd_table, FG_PRIO_RESPOND,
                "icmp6,icmp_type=136,nd_target=%s,actions="
                "set_field:%s->nd_tll,IN_PORT",
                ip6, c->vmac);
        FG_FLOW(c, c->table, FG_PRIO_ND_DAD,
                "icmp6,ipv6_src=::,icmp_type=135,nd_target=%s,actions=%s", ip6,
                c->fall);
        FG_FLOW(c, c->table, FG_PRIO_ND_NO_SLL,
                "icmp6,icmp_type=135,nd_target=%s,"
                "nd_sll=00:00:00:00:00:00,actions=drop",
                ip6);
        for (size_t m = 0; m < a->n_members; m++) {
            if (c->member_port[m] >= 0) {
                FG_FLOW(c, c->table, FG_PRIO_RESPOND_EXEMPT,
                        "in_port=%" PRId64
                        ",icmp6,icmp_type=135,nd_target=%s,actions=%s",
                        c->member_port[m], ip6, c->fall);
            }
        }
    }
}

/* Steer: traffic for the alias goes to the alias's group, except from the
 * members themselves. */
static void
fg_steer(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;
    char ip6[INET6_ADDRSTRLEN];

    for (size_t i = 0; i < a->n_ip4; i++) {
        FG_FLOW(c, c->table, FG_PRIO_STEER,
                "ip,nw_dst=" IP_FMT ",actions=group:%" PRIu32,
                IP_ARGS(a->ip4[i]), a->id);
        for (size_t m = 0; m < a->n_members; m++) {
            if (c->member_port[m] >= 0) {
                FG_FLOW(c, c->table, FG_PRIO_STEER_EXEMPT,
                        "in_port=%" PRId64 ",ip,nw_dst=" IP_FMT ",actions=%s",
                        c->member_port[m], IP_ARGS(a->ip4[i]), c->fall);
            }
        }
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        fg_format_ip6(&a->ip6[i], ip6);
        FG_FLOW(c, c->table, FG_PRIO_STEER,
                "ipv6,ipv6_dst=%s,actions=group:%" PRIu32, ip6, a->id);
        for (size_t m = 0; m < a->n_members; m++) {
            if (c->member_port[m] >= 0) {
                FG_FLOW(c, c->table, FG_PRIO_STEER_EXEMPT,
                        "in_port=%" PRId64 ",ipv6,ipv6_dst=%s,actions=%s",
                        c->member_port[m], ip6, c->fall);
            }
        }
    }
}

/* Return: what members send from the alias leaves with the VMAC. */
static void
fg_return(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;
    char ip6[INET6_ADDRSTRLEN];

    for (size_t m = 0; m < a->n_members; m++) {
        int64_t port = c->member_port[m];

        if (port < 0) {
            continue;
        }
        for (size_t i = 0; i < a->n_ip4; i++) {
            FG_FLOW(c, c->table, FG_PRIO_RETURN,
                    "in_port=%" PRId64 ",ip,nw_src=" IP_FMT
                    ",actions=set_field:%s->eth_src,%s",
                    port, IP_ARGS(a->ip4[i]), c->vmac, c->fall);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            fg_format_ip6(&a->ip6[i], ip6);
            FG_FLOW(c, c->table, FG_PRIO_RETURN,
                    "in_port=%" PRId64 ",ipv6,ipv6_src=%s"
                    ",actions=set_field:%s->eth_src,%s",
                    port, ip6, c->vmac, c->fall);
            FG_FLOW(c, c->table, FG_PRIO_RETURN_NS,
                    "in_port=%" PRId64 ",icmp6,ipv6_src=%s,icmp_type=135"
                    ",actions=set_field:%s->eth_src,set_field:%s->nd_sll,%s",
                    port, ip6, c->vmac, c->vmac, c->fall);
        }
    }
}

/* Master on another bridge: what arrives from an uplink for the alias (ARP
 * requests, NS, traffic flooded by the physical switch) is the master
 * bridge's to answer and deliver; answering here too would teach the
 * physical switch the VMAC on this host's uplink, and delivering would
 * duplicate. */
static void
fg_uplink_remote(const struct fg_ctx *c)
{
    const struct cfg_alias *a = c->alias;
    char ip6[INET6_ADDRSTRLEN];

    for (size_t u = 0; u < c->n_uplinks; u++) {
        uint32_t up = c->uplinks[u];

        for (size_t i = 0; i < a->n_ip4; i++) {
            FG_FLOW(c, c->table, FG_PRIO_UPLINK_REMOTE,
                    "in_port=%" PRIu32 ",arp,arp_op=1,arp_tpa=" IP_FMT
                    ",actions=drop",
                    up, IP_ARGS(a->ip4[i]));
            FG_FLOW(c, c->table, FG_PRIO_UPLINK_REMOTE,
                    "in_port=%" PRIu32 ",ip,nw_dst=" IP_FMT ",actions=drop",
                    up, IP_ARGS(a->ip4[i]));
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            fg_format_ip6(&a->ip6[i], ip6);
            FG_FLOW(c, c->table, FG_PRIO_UPLINK_REMOTE,
                    "in_port=%" PRIu32 ",icmp6,icmp_type=135,nd_target=%s"
                    ",actions=drop",
                    up, ip6);
            FG_FLOW(c, c->table, FG_PRIO_UPLINK_REMOTE,
                    "in_port=%" PRIu32 ",ipv6,ipv6_dst=%s,actions=drop", up,
                    ip6);
        }
    }
}

/* The alias's fast_failover group: one bucket per usable member, in
 * election order; with the master on another bridge, one bucket per uplink
 * that sends to the VMAC, which the physical network delivers to the
 * master's bridge. */
static void
fg_group(const struct fg_ctx *c, const struct alias_state *st)
{
    const struct cfg_alias *a = c->alias;
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t *order = xcalloc(a->n_members ? a->n_members : 1, sizeof *order);
    size_t n = st ? alias_state_order(st, order, a->n_members) : 0;

    ds_put_format(&s, "group_id=%" PRIu32 ",type=fast_failover", a->id);
    if (c->remote_master) {
        n = 0;
        for (size_t u = 0; u < c->n_uplinks; u++) {
            ds_put_format(&s,
                          ",bucket=watch_port:%" PRIu32
                          ",actions=set_field:%s->eth_dst,output:%" PRIu32,
                          c->uplinks[u], c->vmac, c->uplinks[u]);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct cfg_member *m = &a->members[order[i]];
        int64_t port = c->member_port[order[i]];

        struct eth_addr mac = m->mac;
        bool has_mac = (c->opts && c->opts->member_mac ? c->opts->member_mac(
                            c->opts->aux, c->alias_idx, order[i], &mac)
                                                       : m->has_mac);
        if (port >= 0 && has_mac) {
            ds_put_format(&s,
                          ",bucket=watch_port:%" PRId64
                          ",actions=set_field:" ETH_ADDR_FMT
                          "->eth_dst,output:%" PRId64,
                          port, ETH_ADDR_ARGS(mac), port);
        }
    }
    svec_add_nocopy(&c->out->groups, ds_steal_cstr(&s));
    free(order);
}

static const struct cfg_bridge *
fg_find_bridge(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        if (!strcmp(cfg->bridges[i].name, name)) {
            return &cfg->bridges[i];
        }
    }
    return NULL;
}

static char *
fg_fall(const struct config *cfg)
{
    return (cfg->next_table >= 0 ? xasprintf("goto_table:%d", cfg->next_table)
                                 : xstrdup("NORMAL"));
}

void
flowgen_base(const struct config *cfg, struct flowgen_out *out)
{
    char *fall = fg_fall(cfg);
    fg_flow(&out->flows, cfg->base_table, FG_PRIO_BASE, flowgen_cookie(cfg, 0),
            "actions=%s", fall);
    free(fall);
}

bool
flowgen_carries(const struct cfg_alias *a, const char *bridge)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].bridge, bridge)) {
            return true;
        }
    }
    for (size_t b = 0; b < a->n_access_bridges; b++) {
        if (!strcmp(a->access_bridges[b], bridge)) {
            return true;
        }
    }
    return false;
}

static void fg_probe_replies(const struct fg_ctx *, const struct config *,
                             const char *bridge);

void
flowgen_alias(const struct config *cfg, const char *bridge, size_t idx,
              flowgen_port_lookup *lookup, void *aux,
              const struct alias_state *state, struct flowgen_out *out)
{
    flowgen_alias_ex(cfg, bridge, idx, lookup, aux, state, NULL, out);
}

void
flowgen_alias_ex(const struct config *cfg, const char *bridge, size_t idx,
                 flowgen_port_lookup *lookup, void *aux,
                 const struct alias_state *state,
                 const struct flowgen_opts *opts, struct flowgen_out *out)
{
    const struct cfg_alias *a = &cfg->aliases[idx];
    if (!flowgen_carries(a, bridge)) {
        return;
    }

    /* Uplink ports of this bridge that exist. */
    const struct cfg_bridge *br = fg_find_bridge(cfg, bridge);
    size_t n_uplinks = 0;
    uint32_t *uplinks
        = xcalloc(br && br->n_uplinks ? br->n_uplinks : 1, sizeof *uplinks);
    for (size_t i = 0; br && i < br->n_uplinks; i++) {
        uint32_t port;
        if (lookup(aux, br->uplinks[i], &port)) {
            uplinks[n_uplinks++] = port;
        }
    }

    char *fall = fg_fall(cfg);
    struct fg_ctx c = {
        .alias = a,
        .table = cfg->base_table,
        .nd_table = cfg->base_table + 1,
        .fall = fall,
        .cookie = flowgen_cookie(cfg, a->id),
        .out = out,
        .opts = opts,
        .alias_idx = idx,
        .uplinks = uplinks,
        .n_uplinks = n_uplinks,
    };
    c.member_port
        = xcalloc(a->n_members ? a->n_members : 1, sizeof *c.member_port);
    for (size_t m = 0; m < a->n_members; m++) {
        const struct cfg_member *mb = &a->members[m];
        uint32_t port;

        c.member_port[m] = -1;
        if (!strcmp(mb->bridge, bridge) && lookup(aux, mb->port, &port)) {
            c.member_port[m] = port;
        }
    }

    /* An access bridge (no member here) always sends to the master's
     * bridge. */
    int master = state ? alias_state_master(state) : -1;
    c.remote_master = master >= 0 && strcmp(a->members[master].bridge, bridge);
    snprintf(c.vmac, sizeof c.vmac, ETH_ADDR_FMT, ETH_ADDR_ARGS(a->vmac));
    bool flows = !opts || opts->what != FLOWGEN_GROUP;
    bool group = !opts || opts->what != FLOWGEN_FLOWS;
    if (flows) {
        if (c.remote_master) {
            fg_uplink_remote(&c);
        }
        fg_guard(&c);
        fg_arp_responder(&c);
        fg_nd_responder(&c);
        fg_steer(&c);
        fg_return(&c);
        if (opts && opts->probe_owner) {
            fg_probe_replies(&c, cfg, bridge);
        }
    }
    if (group) {
        fg_group(&c, state);
    }

    free(c.member_port);
    free(uplinks);
    free(fall);
}

void
flowgen_bridge(const struct config *cfg, const char *bridge,
               flowgen_port_lookup *lookup, void *aux,
               struct alias_state *const *states, struct flowgen_out *out)
{
    flowgen_base(cfg, out);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        flowgen_alias(cfg, bridge, i, lookup, aux, states[i], out);
    }
}

void
flowgen_probes(const struct config *cfg, const char *bridge,
               struct flowgen_out *out)
{
    const struct cfg_probe_source *ps = config_probe_source(cfg, bridge);
    bool any = false, nd = false;

    for (size_t i = 0; i < cfg->n_aliases && !nd; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        for (size_t m = 0; m < a->n_members && !nd; m++) {
            const struct cfg_member *mb = &a->members[m];
            if (!strcmp(mb->bridge, bridge) && config_member_probed(mb)) {
                any = true;
                nd = mb->ip_is_v6;
            }
        }
    }
    if (!any) {
        return;
    }

    uint64_t cookie = flowgen_cookie(cfg, 0);
    int table = cfg->base_table;
    char pmac[ETH_ADDR_STRLEN + 1];
    snprintf(pmac, sizeof pmac, ETH_ADDR_FMT, ETH_ADDR_ARGS(ps->mac));

    /* Nothing else reaches the identity or leaves with its MAC: it is
     * never learned and never flooded. */
    fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
            "dl_dst=%s,actions=drop", pmac);
    fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
            "dl_src=%s,actions=drop", pmac);
    if (ps->has_ip) {
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "arp,arp_spa=" IP_FMT ",actions=drop", IP_ARGS(ps->ip4));
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "arp,arp_tpa=" IP_FMT ",actions=drop", IP_ARGS(ps->ip4));
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "ip,nw_src=" IP_FMT ",actions=drop", IP_ARGS(ps->ip4));
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "ip,nw_dst=" IP_FMT ",actions=drop", IP_ARGS(ps->ip4));
    }
    if (nd) {
        /* The link-local address ND probes come from. */
        struct in6_addr lla;
        char lla_s[INET6_ADDRSTRLEN];
        probepkt_nd_source(ps->mac, &lla);
        fg_format_ip6(&lla, lla_s);
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "icmp6,icmp_type=135,nd_target=%s,actions=drop", lla_s);
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "icmp6,icmp_type=136,nd_target=%s,actions=drop", lla_s);
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "ipv6,ipv6_src=%s,actions=drop", lla_s);
        fg_flow(&out->flows, table, FG_PRIO_PROBE_GUARD, cookie,
                "ipv6,ipv6_dst=%s,actions=drop", lla_s);
    }
}

/* The probe reply flows of the member ports this alias owns (see
 * flowgen_opts.probe_owner): replies to the probe identity go to vmacd, at
 * most at the rate of the port's own meter. */
static void
fg_probe_replies(const struct fg_ctx *c, const struct config *cfg,
                 const char *bridge)
{
    const struct cfg_probe_source *ps = config_probe_source(cfg, bridge);
    char pmac[ETH_ADDR_STRLEN + 1];
    snprintf(pmac, sizeof pmac, ETH_ADDR_FMT, ETH_ADDR_ARGS(ps->mac));
    struct in6_addr lla;
    char lla_s[INET6_ADDRSTRLEN];
    probepkt_nd_source(ps->mac, &lla);
    fg_format_ip6(&lla, lla_s);

    for (size_t m = 0; m < c->alias->n_members; m++) {
        int64_t port = c->member_port[m];
        struct flowgen_probe_port pp;
        if (port < 0
            || !c->opts->probe_owner(c->opts->aux, c->alias_idx, m, &pp)) {
            continue;
        }
        uint32_t meter = pp.meter_id;
        if (pp.arp) {
            FG_FLOW(c, c->table, FG_PRIO_PROBE,
                    "in_port=%" PRId64
                    ",arp,dl_dst=%s,arp_op=2,actions=meter:%" PRIu32
                    ",controller(max_len=128)",
                    port, pmac, meter);
        }
        if (pp.nd) {
            /* The solicited NAs to the identity's link-local address. */
            FG_FLOW(c, c->table, FG_PRIO_PROBE,
                    "in_port=%" PRId64
                    ",icmp6,dl_dst=%s,ipv6_dst=%s,icmp_type=136"
                    ",actions=meter:%" PRIu32 ",controller(max_len=128)",
                    port, pmac, lla_s, meter);
        }
        if (!pp.tcp || !ps->has_ip) {
            continue;
        }
        FG_FLOW(c, c->table, FG_PRIO_PROBE,
                "in_port=%" PRId64 ",tcp,dl_dst=%s,nw_dst=" IP_FMT
                ",actions=meter:%" PRIu32 ",controller(max_len=128)",
                port, pmac, IP_ARGS(ps->ip4), meter);
        /* A member answering a TCP probe resolves the identity's IP. */
        FG_FLOW(c, c->table, FG_PRIO_PROBE,
                "in_port=%" PRId64 ",arp,arp_op=1,arp_tpa=" IP_FMT ",actions="
                "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],"
                "set_field:%s->eth_src,"
                "load:0x2->NXM_OF_ARP_OP[],"
                "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],"
                "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],"
                "set_field:%s->arp_sha,"
                "set_field:" IP_FMT "->arp_spa,"
                "IN_PORT",
                port, IP_ARGS(ps->ip4), pmac, pmac, IP_ARGS(ps->ip4));
    }
}
