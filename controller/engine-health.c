/*
 * engine-health: health probes of the members, on the engine's loop.
 *
 * One prober per member that is probed (config_member_probed()): a
 * repeating libev timer sends one probe every interval_ms by packet-out on
 * the member's port, from the bridge's probe identity
 * (config_probe_source()); the probers of a bridge are spread evenly over
 * the interval.  A reply (packet-in from the flow that flowgen installs
 * for the identity's MAC, through the meter of the member's port,
 * engine-meter.c) or the lack of one within the timeout is fed to the
 * member's health state machine (health.h); its verdict, and whether the
 * member's MAC is known, become the member's health in the alias model.
 *
 * The probe type "arp" resolves the member's address: an ARP probe for an
 * IPv4 ip, an ND probe (Neighbor Solicitation) for an IPv6 one.  TCP
 * probes are SYNs from the identity's IP to the member's port: a SYN-ACK
 * is alive (vmacd resets the connection), RST or silence is dead; a
 * member with an IPv6 ip is probed with ND instead.  probepkt.h describes
 * the packets.
 */
#include "engine-private.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "config.h"
#include "dp-packet.h"
#include "flow.h"
#include "flowgen.h"
#include "hash.h"
#include "health.h"
#include "probemeter.h"
#include "probepkt.h"
#include "probesched.h"
#include "ofswitch.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(health_io);

/* Buckets of probe send lateness (upper bounds, ms), for the API: counters
 * that a reader can difference over any window. */
static const double late_bucket_ms[] = { 0.1, 0.5, 1, 2, 5, 10, 20 };
#define N_LATE_BUCKETS (ARRAY_SIZE(late_bucket_ms) + 1)
/* Their names in the API (formatting them per read was a third of the
 * cost of an alias view). */
static const char *const late_bucket_names[N_LATE_BUCKETS]
    = { "lt_0.1ms", "lt_0.5ms", "lt_1ms",  "lt_2ms",
        "lt_5ms",   "lt_10ms",  "lt_20ms", "ge_20ms" };

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* First TCP source port of the probes; each prober has its own. */
#define PROBE_TCP_SPORT_BASE 49152

struct prober {
    struct hmap_node node;  /* In eng->probers, by alias + member. */
    struct hmap_node tnode; /* In eng->probe_targets. */
    struct engine *eng;
    char *alias, *member;         /* Names (the key). */
    size_t alias_idx, member_idx; /* In the current config. */

    /* Target (a change of any of these restarts the state). */
    char *bridge, *port;
    struct in6_addr ip; /* IPv4 as ::ffff:a.b.c.d (prober_nd()). */
    struct cfg_probe probe;

    struct health h;
    struct probesched_entry send; /* Every interval (probesched). */
    uint64_t period_ns;           /* Current: the master's or a backup's. */
    ev_timer timeout;             /* One-shot per probe. */
    ev_timer wake;                /* health_next_wakeup(). */
    bool outstanding;
    double sent_at; /* ev_time() of the outstanding probe. */
    uint32_t tcp_seq;
    uint16_t tcp_sport;
    bool arp_refresh; /* TCP: next probe also sends an ARP. */

    /* The member's MAC: configured, or learned from ARP replies. */
    bool has_mac;
    struct eth_addr mac;
    bool mac_configured;
    uint64_t n_mac_changes, n_mac_mismatch;

    bool owns_port; /* Carries its port's reply flows. */
    bool port_arp;  /* A prober on the port uses ARP (or TCP), */
    bool port_nd;   /* ND, */
    bool port_tcp;  /* TCP. */

    double last_rtt_ms; /* -1 when none yet. */
    uint64_t n_sent, n_replies, n_timeouts, n_refused;

    /* Send timing: how late each probe left against its schedule. */
    double late_max_ms, late_sum_ms; /* Over 'n_late' sends. */
    uint64_t n_late;
    uint64_t late_hist[N_LATE_BUCKETS]; /* Sends by lateness bucket. */
};

static void prober_send_cb(struct probesched_entry *, int64_t late_ns);
static void prober_timeout_cb(struct ev_loop *, ev_timer *, int revents);
static void prober_wake_cb(struct ev_loop *, ev_timer *, int revents);

static uint32_t
prober_hash(const char *alias, const char *member)
{
    return hash_string(member, hash_string(alias, 0));
}

static uint32_t
target_hash(const char *bridge, const char *port, const struct in6_addr *ip)
{
    return hash_bytes(ip, sizeof *ip,
                      hash_string(port, hash_string(bridge, 0)));
}

/* Does 'p' probe an IPv6 address (with ND)? */
static bool
prober_nd(const struct prober *p)
{
    return !IN6_IS_ADDR_V4MAPPED(&p->ip);
}

/* The address of member 'm' as a prober keeps it. */
static struct in6_addr
member_target(const struct cfg_member *m)
{
    return m->ip_is_v6 ? m->ip6 : in6_addr_mapped_ipv4(m->ip4);
}

static struct prober *
prober_find(const struct engine *eng, const char *alias, const char *member)
{
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, prober_hash(alias, member),
                             &eng->probers) {
        if (!strcmp(p->alias, alias) && !strcmp(p->member, member)) {
            return p;
        }
    }
    return NULL;
}

void
engine_health_init(struct engine *eng)
{
    hmap_init(&eng->probers);
    hmap_init(&eng->probe_targets);
    engine_meter_init(eng);
    char *error;
    eng->probesched = probesched_create(eng->loop, &error);
    if (!eng->probesched) {
        /* Without a timerfd no probe is sent: members follow link state
         * only (health stays "unknown", which counts as healthy). */
        VLOG_ERR("health probes disabled: %s", error);
        free(error);
    }
}

static void
prober_destroy(struct prober *p)
{
    struct engine *eng = p->eng;
    if (eng->probesched) {
        probesched_stop(eng->probesched, &p->send);
    }
    ev_timer_stop(eng->loop, &p->timeout);
    ev_timer_stop(eng->loop, &p->wake);
    hmap_remove(&eng->probers, &p->node);
    hmap_remove(&eng->probe_targets, &p->tnode);
    free(p->alias);
    free(p->member);
    free(p->bridge);
    free(p->port);
    free(p);
}

void
engine_health_destroy(struct engine *eng)
{
    struct prober *p;
    HMAP_FOR_EACH_SAFE (p, node, &eng->probers) {
        prober_destroy(p);
    }
    hmap_destroy(&eng->probers);
    hmap_destroy(&eng->probe_targets);
    probesched_destroy(eng->probesched);
    eng->probesched = NULL;
    engine_meter_destroy(eng);
}

/* The member's health as the alias model sees it.  While its link is
 * down the alias model already knows why the member is out (and keeps it
 * at the end of the group's buckets): health only speaks for members whose
 * link is up. */
static bool
prober_usable(const struct prober *p)
{
    return (
        p->has_mac
        && (health_ok(&p->h) || (p->h.state == HEALTH_DOWN && !p->h.link_up)));
}

static void
prober_arm_wake(struct prober *p)
{
    long long at = health_next_wakeup(&p->h);
    ev_timer_stop(p->eng->loop, &p->wake);
    if (at != LLONG_MAX) {
        double delay = MAX(at - engine_now_ms(p->eng), 0) / 1000.0;
        ev_timer_set(&p->wake, delay, 0.);
        ev_timer_start(p->eng->loop, &p->wake);
    }
}

/* Reports a change of the member's health state or MAC to the alias model,
 * the log and the event stream. */
static void
prober_changed(struct prober *p, enum health_state old, const char *reason)
{
    struct engine *eng = p->eng;
    double t = ev_time();
    bool ok = prober_usable(p);

    alias_state_set_health(eng->states[p->alias_idx], p->member_idx, ok,
                           engine_now_ms(eng));
    if (old != p->h.state) {
        VLOG_INFO("alias %s: member %s probe state %s -> %s (%s)", p->alias,
                  p->member, health_state_name(old),
                  health_state_name(p->h.state), reason);
        json_t *ev = json_object();
        json_object_set_new(ev, "alias", json_string(p->alias));
        json_object_set_new(ev, "member", json_string(p->member));
        json_object_set_new(ev, "old", json_string(health_state_name(old)));
        json_object_set_new(ev, "new",
                            json_string(health_state_name(p->h.state)));
        json_object_set_new(ev, "reason", json_string(reason));
        if (p->h.state == HEALTH_HELD) {
            json_object_set_new(ev, "hold_ms", json_integer(p->h.hold_ms));
        }
        engine_publish(eng, "member_state", ev);
    }
    prober_arm_wake(p);
    engine_schedule_update(eng, t, reason);
}

static void
prober_result(struct prober *p, bool ok)
{
    enum health_state old = p->h.state;
    if (health_probe_result(&p->h, ok, engine_now_ms(p->eng))) {
        prober_changed(p, old, p->h.reason);
    }
}

/* Sending. */

/* The connection and port the prober sends on, or NULL. */
static struct ofchan *
prober_chan(const struct prober *p, uint32_t *port)
{
    const struct bridge *br = engine_bridge_find(p->eng, p->bridge);
    if (!br || !br->conn || !br->conn->ft) {
        return NULL;
    }
    const struct ofswitch_port *op
        = ofswitch_port_by_name(br->conn->sw, p->port);
    if (!op || op->link_down || op->admin_down) {
        return NULL;
    }
    *port = op->number;
    return ofswitch_chan(br->conn->sw);
}

/* Before a probe counts as missed: its reply may be waiting unread on the
 * bridge's connection when the loop was busy past the deadline (a large
 * API reply, a reload), and silence must not be concluded from vmacd's own
 * delay.  Reads what the switch has sent so far; returns true if the probe
 * is still unanswered. */
static bool
prober_still_unanswered(struct prober *p)
{
    const struct bridge *br = engine_bridge_find(p->eng, p->bridge);
    if (p->outstanding && br && br->conn && br->conn->sw) {
        ofchan_receive_pending(ofswitch_chan(br->conn->sw), 1 << 20);
    }
    return p->outstanding;
}

static void
prober_send_cb(struct probesched_entry *e, int64_t late_ns)
{
    struct prober *p = CONTAINER_OF(e, struct prober, send);
    struct engine *eng = p->eng;
    struct ev_loop *loop = eng->loop;
    double late_ms = late_ns / 1e6;

    p->late_max_ms = MAX(p->late_max_ms, late_ms);
    p->late_sum_ms += late_ms;
    p->n_late++;
    size_t b = 0;
    while (b < N_LATE_BUCKETS - 1 && late_ms >= late_bucket_ms[b]) {
        b++;
    }
    p->late_hist[b]++;

    if (prober_still_unanswered(p)) {
        /* timeout_ms >= interval_ms: the previous probe is a miss now. */
        ev_timer_stop(loop, &p->timeout);
        p->outstanding = false;
        p->n_timeouts++;
        p->arp_refresh = true;
        prober_result(p, false);
    }

    uint32_t port;
    struct ofchan *chan = prober_chan(p, &port);
    if (!chan) {
        return; /* Not connected, absent or link down. */
    }
    const struct cfg_probe_source *ps
        = config_probe_source(eng->cfg, p->bridge);
    struct dp_packet pkt;
    uint64_t stub[128 / 8];
    dp_packet_use_stub(&pkt, stub, sizeof stub);

    bool tcp = p->probe.type == CFG_PROBE_TCP && p->has_mac && ps->has_ip;
    if (prober_nd(p)) {
        probepkt_nd(&pkt, ps->mac, &p->ip);
        engine_packet_out(chan, &pkt, port);
    } else {
        ovs_be32 ip4 = in6_addr_get_mapped_ipv4(&p->ip);
        if (!tcp || p->arp_refresh) {
            probepkt_arp(&pkt, ps->mac, ip4);
            engine_packet_out(chan, &pkt, port);
            p->arp_refresh = false;
        }
        if (tcp) {
            p->tcp_seq = random_uint32();
            probepkt_tcp(&pkt, ps->mac, p->mac, ps->ip4, ip4, p->tcp_sport,
                         p->probe.tcp_port, p->tcp_seq, 0, TCP_SYN);
            engine_packet_out(chan, &pkt, port);
        }
    }
    dp_packet_uninit(&pkt);

    p->n_sent++;
    p->outstanding = true;
    p->sent_at = ev_time();
    if (p->probe.timeout_ms < p->probe.interval_ms) {
        /* libev times relative timers from the loop's cached time, which
         * is as old as this loop iteration (older still if the process
         * was stopped meanwhile): the timeout counts from now. */
        ev_now_update(loop);
        ev_timer_set(&p->timeout, p->probe.timeout_ms / 1000.0, 0.);
        ev_timer_start(loop, &p->timeout);
    }
}

static void
prober_timeout_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                  int revents OVS_UNUSED)
{
    struct prober *p = CONTAINER_OF(w, struct prober, timeout);
    if (prober_still_unanswered(p)) {
        p->outstanding = false;
        p->n_timeouts++;
        p->arp_refresh = true;
        prober_result(p, false);
    }
}

static void
prober_wake_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
               int revents OVS_UNUSED)
{
    struct prober *p = CONTAINER_OF(w, struct prober, wake);
    enum health_state old = p->h.state;
    if (health_run(&p->h, engine_now_ms(p->eng))) {
        prober_changed(p, old, p->h.reason);
    } else {
        prober_arm_wake(p);
    }
}

/* Building the probers from the config. */

static bool
target_equal(const struct prober *p, const struct cfg_member *m)
{
    struct in6_addr ip = member_target(m);
    return (!strcmp(p->bridge, m->bridge) && !strcmp(p->port, m->port)
            && ipv6_addr_equals(&p->ip, &ip) && p->probe.type == m->probe.type
            && p->probe.tcp_port == m->probe.tcp_port
            && p->probe.fall == m->probe.fall
            && p->probe.rise == m->probe.rise);
}

static struct prober *
prober_create(struct engine *eng, const struct cfg_alias *a,
              const struct cfg_member *m)
{
    struct prober *p = xzalloc(sizeof *p);
    p->eng = eng;
    p->alias = xstrdup(a->name);
    p->member = xstrdup(m->name);
    p->bridge = xstrdup(m->bridge);
    p->port = xstrdup(m->port);
    p->ip = member_target(m);
    p->probe = m->probe;
    p->last_rtt_ms = -1;
    health_init(&p->h, m->probe.fall, m->probe.rise, true, engine_now_ms(eng));
    ev_init(&p->timeout, prober_timeout_cb);
    ev_init(&p->wake, prober_wake_cb);
    hmap_insert(&eng->probers, &p->node, prober_hash(p->alias, p->member));
    hmap_insert(&eng->probe_targets, &p->tnode,
                target_hash(p->bridge, p->port, &p->ip));
    return p;
}

/* The probe period 'p' should have now: interval_ms while its member is
 * the master (or the alias has none), backup_interval_ms otherwise. */
static uint64_t
prober_period_ns(const struct prober *p)
{
    const struct engine *eng = p->eng;
    int master = alias_state_master(eng->states[p->alias_idx]);
    unsigned int ms = p->probe.interval_ms;
    if (p->probe.backup_interval_ms && master >= 0
        && (size_t) master != p->member_idx) {
        ms = p->probe.backup_interval_ms;
    }
    return (uint64_t) ms * 1000000;
}

void
engine_health_periods(struct engine *eng)
{
    struct prober *p;
    if (!eng->probesched) {
        return;
    }
    HMAP_FOR_EACH (p, node, &eng->probers) {
        uint64_t period = prober_period_ns(p);
        if (period != p->period_ns) {
            /* A new master is probed at once (or once its outstanding
             * probe has had its time), then every interval. */
            uint64_t delay = period;
            if (period < p->period_ns) {
                delay = p->outstanding
                            ? (uint64_t) p->probe.timeout_ms * 1000000 + 1
                            : 0;
            }
            probesched_start(eng->probesched, &p->send, delay, period,
                             prober_send_cb);
            p->period_ns = period;
        }
    }
}

void
engine_health_sync(struct engine *eng)
{
    const struct config *cfg = eng->cfg;
    struct hmap old = HMAP_INITIALIZER(&old);

    /* Take the old probers aside; keep those whose target is the same. */
    hmap_swap(&old, &eng->probers);
    struct prober *p;
    HMAP_FOR_EACH (p, node, &old) {
        if (eng->probesched) {
            probesched_stop(eng->probesched, &p->send);
        }
        ev_timer_stop(eng->loop, &p->timeout);
        p->outstanding = false;
    }

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        for (size_t j = 0; j < a->n_members; j++) {
            const struct cfg_member *m = &a->members[j];
            if (!config_member_probed(m)) {
                /* Not probed: usable when its MAC is configured. */
                if (!m->has_mac) {
                    alias_state_set_health(eng->states[i], j, false,
                                           engine_now_ms(eng));
                }
                continue;
            }
            /* A TCP probe needs an IPv4 ip and the bridge's
             * probe_source.ip. */
            struct cfg_member em = *m;
            if (m->probe.type == CFG_PROBE_TCP && m->ip_is_v6) {
                VLOG_WARN("alias %s: member %s: tcp probes need an IPv4 "
                          "ip; probing its IPv6 ip with ND",
                          a->name, m->name);
                em.probe.type = CFG_PROBE_ARP;
                em.probe.tcp_port = 0;
            } else if (m->probe.type == CFG_PROBE_TCP
                       && !config_probe_source(cfg, m->bridge)->has_ip) {
                VLOG_WARN("alias %s: member %s: no probe_source.ip on "
                          "bridge %s for its tcp probe; probing with ARP",
                          a->name, m->name, m->bridge);
                em.probe.type = CFG_PROBE_ARP;
                em.probe.tcp_port = 0;
            }
            m = &em;
            p = NULL;
            struct prober *q;
            HMAP_FOR_EACH_WITH_HASH (q, node, prober_hash(a->name, m->name),
                                     &old) {
                if (!strcmp(q->alias, a->name)
                    && !strcmp(q->member, m->name)) {
                    p = q;
                    break;
                }
            }
            if (p && target_equal(p, m)) {
                hmap_remove(&old, &p->node);
                hmap_insert(&eng->probers, &p->node,
                            prober_hash(p->alias, p->member));
                p->probe = m->probe;
            } else {
                p = prober_create(eng, a, m);
            }
            p->alias_idx = i;
            p->member_idx = j;
            p->mac_configured = m->has_mac;
            if (m->has_mac) {
                p->has_mac = true;
                p->mac = m->mac;
            }
            alias_state_set_health(eng->states[i], j, prober_usable(p),
                                   engine_now_ms(eng));
        }
    }
    HMAP_FOR_EACH_SAFE (p, node, &old) {
        hmap_insert(&eng->probers, &p->node, prober_hash(p->alias, p->member));
        prober_destroy(p);
    }
    hmap_destroy(&old);

    /* Spread each bridge's probers evenly over their interval: the k-th of
     * n starts k/n of an interval late.  Probers are taken in config
     * order, so the result is deterministic. */
    struct shash count = SHASH_INITIALIZER(&count);
    for (size_t pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < cfg->n_aliases; i++) {
            const struct cfg_alias *a = &cfg->aliases[i];
            for (size_t j = 0; j < a->n_members; j++) {
                const struct cfg_member *m = &a->members[j];
                if (!config_member_probed(m)) {
                    continue;
                }
                struct shash_node *sn = shash_find(&count, m->bridge);
                if (!sn) {
                    sn = shash_add(&count, m->bridge,
                                   xzalloc(2 * sizeof(size_t)));
                }
                size_t *c = sn->data; /* [0] = total, [1] = next. */
                if (pass == 0) {
                    c[0]++;
                    continue;
                }
                p = prober_find(eng, a->name, m->name);
                size_t k = c[1]++;
                p->tcp_sport = PROBE_TCP_SPORT_BASE + (k % 16384);
                if (eng->probesched) {
                    /* Spread over the interval; the master's probes go
                     * at interval_ms, the others' at backup_interval_ms
                     * (engine_health_periods()). */
                    uint64_t period = prober_period_ns(p);
                    probesched_start(eng->probesched, &p->send,
                                     period * k / c[0] + 1000000, period,
                                     prober_send_cb);
                    p->period_ns = period;
                }
                prober_arm_wake(p);
            }
        }
    }
    shash_destroy_free_data(&count);

    /* The first prober of each bridge port (config order) carries the
     * port's probe reply flows. */
    struct shash owners = SHASH_INITIALIZER(&owners);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        for (size_t j = 0; j < a->n_members; j++) {
            p = prober_find(eng, a->name, a->members[j].name);
            if (!p) {
                continue;
            }
            char *key = xasprintf("%s/%s", p->bridge, p->port);
            struct prober *owner = shash_find_data(&owners, key);
            bool nd = prober_nd(p);
            bool tcp = p->probe.type == CFG_PROBE_TCP;
            p->owns_port = !owner;
            p->port_arp = !nd;
            p->port_nd = nd;
            p->port_tcp = tcp;
            if (owner) {
                owner->port_arp |= !nd;
                owner->port_nd |= nd;
                owner->port_tcp |= tcp;
            } else {
                shash_add(&owners, key, p);
            }
            free(key);
        }
    }
    shash_destroy(&owners);

    engine_meter_sync(eng); /* One reply meter per probed port. */
}

/* Link events: the ports of the members on bridge 'br'. */
void
engine_health_ports(struct engine *eng, const struct bridge *br)
{
    bool connected = br->conn && br->conn->ft;
    long long now = engine_now_ms(eng);
    struct prober *p;

    HMAP_FOR_EACH (p, node, &eng->probers) {
        if (strcmp(p->bridge, br->name)) {
            continue;
        }
        const struct ofswitch_port *op
            = connected ? ofswitch_port_by_name(br->conn->sw, p->port) : NULL;
        bool up = op && !op->link_down && !op->admin_down;
        if (!connected) {
            /* Lost connection: no verdict either way; keep the state. */
            continue;
        }
        /* The link also decides whether a DOWN member is usable (see
         * prober_usable()): a member whose link returns stays out until
         * 'rise' probes are answered, even when its state does not
         * change. */
        enum health_state old = p->h.state;
        bool was_usable = prober_usable(p);
        if (health_link(&p->h, up, now) || prober_usable(p) != was_usable) {
            prober_changed(p, old,
                           old != p->h.state ? p->h.reason
                           : up              ? "link up"
                                             : "link down");
        }
        if (!up) {
            ev_timer_stop(eng->loop, &p->timeout);
            p->outstanding = false;
        }
    }
}

/* Packet-ins. */

static void
prober_learn_mac(struct prober *p, struct eth_addr mac)
{
    if (p->has_mac && eth_addr_equals(p->mac, mac)) {
        return;
    }
    if (p->mac_configured) {
        p->n_mac_mismatch++;
        VLOG_WARN_RL(&rl,
                     "alias %s: member %s answers from " ETH_ADDR_FMT
                     ", not its configured mac " ETH_ADDR_FMT,
                     p->alias, p->member, ETH_ADDR_ARGS(mac),
                     ETH_ADDR_ARGS(p->mac));
        return;
    }
    if (p->has_mac) {
        VLOG_INFO("alias %s: member %s changed its MAC " ETH_ADDR_FMT
                  " -> " ETH_ADDR_FMT,
                  p->alias, p->member, ETH_ADDR_ARGS(p->mac),
                  ETH_ADDR_ARGS(mac));
        p->n_mac_changes++;
    } else {
        VLOG_INFO("alias %s: member %s has MAC " ETH_ADDR_FMT " (learned)",
                  p->alias, p->member, ETH_ADDR_ARGS(mac));
    }
    p->has_mac = true;
    p->mac = mac;

    json_t *ev = json_object();
    json_object_set_new(ev, "alias", json_string(p->alias));
    json_object_set_new(ev, "member", json_string(p->member));
    char text[ETH_ADDR_STRLEN + 1];
    snprintf(text, sizeof text, ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
    json_object_set_new(ev, "mac", json_string(text));
    engine_publish(p->eng, "member_mac", ev);
    prober_changed(p, p->h.state, "member mac learned");
}

static void
prober_reply(struct prober *p, bool ok)
{
    if (!p->outstanding) {
        return; /* Late or duplicate. */
    }
    p->outstanding = false;
    ev_timer_stop(p->eng->loop, &p->timeout);
    p->last_rtt_ms = (ev_time() - p->sent_at) * 1000.0;
    p->n_replies += ok;
    p->n_refused += !ok;
    prober_result(p, ok);
}

/* An answer to an address resolution probe (ARP or ND) for 'target' from
 * 'mac' on 'port' of 'br': every prober of that target learns the MAC and,
 * unless it probes over TCP, counts a success. */
static void
handle_resolution(struct engine *eng, const struct bridge *br,
                  const char *port, const struct in6_addr *target,
                  struct eth_addr mac)
{
    bool matched = false;
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, tnode, target_hash(br->name, port, target),
                             &eng->probe_targets) {
        if (!strcmp(p->bridge, br->name) && !strcmp(p->port, port)
            && ipv6_addr_equals(&p->ip, target)) {
            matched = true;
            prober_learn_mac(p, mac);
            if (p->probe.type == CFG_PROBE_ARP) {
                prober_reply(p, true);
            }
        }
    }
    if (!matched) {
        eng->n_packet_ins_bad++; /* E.g. left over from an old config. */
    }
}

static void
handle_tcp(struct engine *eng, struct conn *conn, const char *port,
           uint32_t ofport, const struct flow *flow,
           const struct dp_packet *pkt)
{
    const struct bridge *br = conn->br;
    const struct cfg_probe_source *ps
        = config_probe_source(eng->cfg, br->name);
    const struct tcp_header *tcp = dp_packet_l4(pkt);
    if (!ps->has_ip || flow->nw_dst != ps->ip4 || !tcp
        || dp_packet_l4_size(pkt) < TCP_HEADER_LEN) {
        eng->n_packet_ins_bad++;
        return;
    }
    uint16_t flags = ntohs(flow->tcp_flags);
    uint32_t ack = ntohl(get_16aligned_be32(&tcp->tcp_ack));
    bool matched = false;
    struct in6_addr src = in6_addr_mapped_ipv4(flow->nw_src);
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, tnode, target_hash(br->name, port, &src),
                             &eng->probe_targets) {
        if (strcmp(p->bridge, br->name) || strcmp(p->port, port)
            || !ipv6_addr_equals(&p->ip, &src)
            || p->probe.type != CFG_PROBE_TCP
            || ntohs(flow->tp_src) != p->probe.tcp_port
            || ntohs(flow->tp_dst) != p->tcp_sport || !(flags & TCP_ACK)
            || ack != p->tcp_seq + 1) {
            continue;
        }
        matched = true;
        if ((flags & (TCP_SYN | TCP_RST)) == TCP_SYN) {
            /* Alive: reset the half-open connection. */
            struct dp_packet rst;
            uint64_t stub[128 / 8];
            dp_packet_use_stub(&rst, stub, sizeof stub);
            probepkt_tcp(&rst, ps->mac, flow->dl_src, ps->ip4, flow->nw_src,
                         p->tcp_sport, p->probe.tcp_port, ack, 0, TCP_RST);
            engine_packet_out(ofswitch_chan(conn->sw), &rst, ofport);
            dp_packet_uninit(&rst);
            prober_reply(p, true);
        } else if (flags & TCP_RST) {
            prober_reply(p, false); /* Port closed. */
        }
    }
    if (!matched) {
        eng->n_packet_ins_bad++;
    }
}

void
engine_health_packet_in(struct conn *conn, const struct ofp_header *oh)
{
    struct engine *eng = conn->eng;
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;

    eng->n_packet_ins++;
    if (!conn->br || conn->br->conn != conn) {
        eng->n_packet_ins_bad++;
        return;
    }
    enum ofperr err = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                               &total_len, &buffer_id, NULL);
    if (err) {
        eng->n_packet_ins_bad++;
        VLOG_WARN_RL(&rl, "%s: undecodable packet-in: %s",
                     ofswitch_peer(conn->sw), ofperr_to_string(err));
        return;
    }
    if (pin.packet_len < ETH_HEADER_LEN || pin.packet_len > 1600) {
        eng->n_packet_ins_bad++;
        return;
    }
    uint32_t ofport = ofp_to_u16(pin.flow_metadata.flow.in_port.ofp_port);
    const struct ofswitch_port *op = ofswitch_port_by_number(conn->sw, ofport);
    const struct cfg_probe_source *ps
        = config_probe_source(eng->cfg, conn->br->name);
    struct dp_packet pkt;
    struct flow flow;
    dp_packet_use_const(&pkt, pin.packet, pin.packet_len);
    flow_extract(&pkt, &flow);
    if (!op || !eth_addr_equals(flow.dl_dst, ps->mac)) {
        eng->n_packet_ins_bad++;
        VLOG_DBG_RL(&rl, "%s: packet-in not for the probe identity",
                    ofswitch_peer(conn->sw));
        return;
    }
    const char *error = NULL;
    struct in6_addr target;
    struct eth_addr mac;
    if (flow.dl_type == htons(ETH_TYPE_ARP)) {
        ovs_be32 ip;
        error = probepkt_arp_reply(&flow, ps->mac, &ip, &mac);
        target = in6_addr_mapped_ipv4(ip);
    } else if (flow.dl_type == htons(ETH_TYPE_IPV6)) {
        error = probepkt_nd_reply(&pkt, &flow, ps->mac, &target, &mac);
    } else if (flow.dl_type == htons(ETH_TYPE_IP)
               && flow.nw_proto == IPPROTO_TCP) {
        handle_tcp(eng, conn, op->name, ofport, &flow, &pkt);
        return;
    } else {
        error = "neither ARP, ND nor TCP";
    }
    if (error) {
        eng->n_packet_ins_bad++;
        VLOG_WARN_RL(&rl, "%s: bad probe reply from port %s: %s",
                     conn->br->name, op->name, error);
        return;
    }
    handle_resolution(eng, conn->br, op->name, &target, mac);
}

/* For flowgen and the API. */

bool
engine_member_mac(const struct engine *eng, size_t alias, size_t member,
                  struct eth_addr *mac)
{
    const struct cfg_member *m = &eng->cfg->aliases[alias].members[member];
    if (config_member_probed(m)) {
        const struct prober *p
            = prober_find(eng, eng->cfg->aliases[alias].name, m->name);
        if (p && p->has_mac) {
            *mac = p->mac;
            return true;
        }
        return false;
    }
    *mac = m->mac;
    return m->has_mac;
}

/* A prober may send during engine_health_yield() only if its previous
 * probe is answered: the verdict on an unanswered one (reading pending
 * input, feeding the state machine) is left to the loop. */
static bool
prober_ready(const struct probesched_entry *e)
{
    return !CONTAINER_OF(e, struct prober, send)->outstanding;
}

void
engine_health_yield(struct engine *eng)
{
    probesched_run_due(eng->probesched, prober_ready);
}

json_t *
engine_health_status_json(const struct engine *eng)
{
    uint64_t hist[N_LATE_BUCKETS] = { 0 };
    uint64_t sent = 0, replies = 0, timeouts = 0;
    double late_max = 0;
    const struct prober *p;
    HMAP_FOR_EACH (p, node, &eng->probers) {
        for (size_t b = 0; b < N_LATE_BUCKETS; b++) {
            hist[b] += p->late_hist[b];
        }
        sent += p->n_sent;
        replies += p->n_replies;
        timeouts += p->n_timeouts;
        late_max = MAX(late_max, p->late_max_ms);
    }
    json_t *o = json_object();
    json_object_set_new(o, "probers", json_integer(hmap_count(&eng->probers)));
    json_object_set_new(o, "sent", json_integer(sent));
    json_object_set_new(o, "replies", json_integer(replies));
    json_object_set_new(o, "timeouts", json_integer(timeouts));
    json_object_set_new(o, "send_late_max_ms", json_real(late_max));
    json_t *h = json_object();
    for (size_t b = 0; b < N_LATE_BUCKETS; b++) {
        json_object_set_new(h, late_bucket_names[b], json_integer(hist[b]));
    }
    json_object_set_new(o, "send_late_histogram", h);
    return o;
}

json_t *
engine_health_to_json(const struct engine *eng, size_t alias, size_t member)
{
    const struct cfg_alias *a = &eng->cfg->aliases[alias];
    const struct cfg_member *m = &a->members[member];
    json_t *o = json_object();
    const struct prober *p
        = (config_member_probed(m) ? prober_find(eng, a->name, m->name)
                                   : NULL);
    if (!p) {
        json_object_set_new(o, "type", json_string("none"));
        json_object_set_new(o, "state", json_string("none"));
        return o;
    }
    long long now = engine_now_ms(eng);
    json_object_set_new(o, "type",
                        json_string(p->probe.type == CFG_PROBE_TCP ? "tcp"
                                    : prober_nd(p)                 ? "nd"
                                                                   : "arp"));
    json_object_set_new(o, "state",
                        json_string(health_state_name(p->h.state)));
    json_object_set_new(o, "reason", json_string(p->h.reason));
    json_object_set_new(o, "since_ms", json_integer(now - p->h.since));
    json_object_set_new(o, "misses", json_integer(p->h.misses));
    json_object_set_new(o, "successes", json_integer(p->h.successes));
    json_object_set_new(o, "last_rtt_ms",
                        p->last_rtt_ms >= 0 ? json_real(p->last_rtt_ms)
                                            : json_null());
    json_object_set_new(o, "period_ms", json_integer(p->period_ns / 1000000));
    json_object_set_new(o, "send_late_max_ms", json_real(p->late_max_ms));
    json_t *hist = json_object();
    for (size_t b = 0; b < N_LATE_BUCKETS; b++) {
        json_object_set_new(hist, late_bucket_names[b],
                            json_integer(p->late_hist[b]));
    }
    json_object_set_new(o, "send_late_histogram", hist);
    json_object_set_new(
        o, "send_late_mean_ms",
        json_real(p->n_late ? p->late_sum_ms / p->n_late : 0.0));
    json_object_set_new(o, "sent", json_integer(p->n_sent));
    json_object_set_new(o, "replies", json_integer(p->n_replies));
    json_object_set_new(o, "timeouts", json_integer(p->n_timeouts));
    json_object_set_new(o, "refused", json_integer(p->n_refused));
    json_object_set_new(o, "flaps", json_integer(p->h.n_flaps_total));
    json_object_set_new(o, "hold_ms", json_integer(p->h.hold_ms));
    json_object_set_new(o, "held_for_ms",
                        json_integer(p->h.state == HEALTH_HELD
                                         ? MAX(p->h.held_until - now, 0)
                                         : 0));
    if (p->has_mac) {
        char text[ETH_ADDR_STRLEN + 1];
        snprintf(text, sizeof text, ETH_ADDR_FMT, ETH_ADDR_ARGS(p->mac));
        json_object_set_new(o, "mac", json_string(text));
    } else {
        json_object_set_new(o, "mac", json_null());
    }
    json_object_set_new(o, "mac_learned", json_boolean(!p->mac_configured));
    json_object_set_new(o, "mac_changes", json_integer(p->n_mac_changes));
    /* The meter its replies go through (one per probed port). */
    const struct probemeter *pm = engine_meter_find(eng, p->bridge, p->port);
    json_object_set_new(o, "meter_id",
                        pm ? json_integer(pm->id) : json_null());
    json_object_set_new(o, "meter_rate_pps",
                        pm ? json_integer(pm->rate_pps) : json_null());
    return o;
}

bool
engine_probe_port_owner(const struct engine *eng, size_t alias, size_t member,
                        struct flowgen_probe_port *pp)
{
    const struct cfg_alias *a = &eng->cfg->aliases[alias];
    const struct prober *p
        = prober_find(eng, a->name, a->members[member].name);
    const struct probemeter *m
        = p ? engine_meter_find(eng, p->bridge, p->port) : NULL;
    *pp = (struct flowgen_probe_port){
        .arp = p && p->port_arp,
        .nd = p && p->port_nd,
        .tcp = p && p->port_tcp,
        .meter_id = m ? m->id : 0,
    };
    return p && p->owns_port && m;
}
