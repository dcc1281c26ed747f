/*
 * probes: the health probes of the members (see probes.h).
 */
#include "probes.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dp-packet.h"
#include "flow.h"
#include "hash.h"
#include "health.h"
#include "probemeter.h"
#include "probepkt.h"
#include "probesched.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(probes);

/* Buckets of probe send lateness (upper bounds, ms), for the API: counters
 * that a reader can difference over any window. */
static const double late_bucket_ms[] = { 0.1, 0.5, 1, 2, 5, 10, 20 };
#define N_LATE_BUCKETS (ARRAY_SIZE(late_bucket_ms) + 1)
/* Their names in the API (formatting them per read was a third of the
 * cost of an alias view). */
static const char *const late_bucket_names[N_LATE_BUCKETS]
    = { "lt_0.1ms", "lt_0.5ms", "lt_1ms",  "lt_2ms",
        "lt_5ms",   "lt_10ms",  "lt_20ms", "ge_20ms" };

/* First TCP source port of the probes; each prober has its own. */
#define PROBE_TCP_SPORT_BASE 49152

struct prober {
    struct hmap_node node;  /* In probes->probers, by alias + member. */
    struct hmap_node tnode; /* In probes->targets. */
    struct hmap_node pnode; /* In probes->by_port. */
    struct probes *ps;
    char *alias, *member; /* Names (the key). */

    /* Target (a change of any of these restarts the state). */
    char *bridge, *port;
    struct in6_addr ip; /* IPv4 as ::ffff:a.b.c.d (prober_nd()). */
    struct cfg_probe probe;

    bool is_master;  /* Its member is the alias's master... */
    bool no_master;  /* ...or the alias has none. */

    struct health h;
    struct probesched_entry send; /* Every interval (probesched). */
    uint64_t period_ns;           /* Current: the master's or a backup's. */
    uint64_t phase;               /* Per bridge, for the first send. */
    ev_timer timeout;             /* One-shot per probe. */
    ev_timer wake;                /* health_next_wakeup(). */
    bool outstanding;
    double sent_at; /* ev_time() of the outstanding probe. */
    uint64_t sent_mark; /* Its place in the bridge's stream (tx_mark). */
    uint32_t tcp_seq;
    uint16_t tcp_sport;
    bool arp_refresh; /* TCP: next probe also sends an ARP. */

    /* The member's MAC: configured, or learned from ARP replies. */
    bool has_mac;
    struct eth_addr mac;
    bool mac_configured;
    uint64_t n_mac_changes, n_mac_mismatch;

    double last_rtt_ms; /* -1 when none yet. */
    uint64_t n_sent, n_replies, n_timeouts, n_refused;
    uint64_t n_stalled; /* Unanswered while the switch took nothing. */

    /* Send timing: how late each probe left against its schedule. */
    double late_max_ms, late_sum_ms; /* Over 'n_late' sends. */
    uint64_t n_late;
    uint64_t late_hist[N_LATE_BUCKETS]; /* Sends by lateness bucket. */
};

struct probes {
    struct ev_loop *loop;
    const struct probes_callbacks *cbs;
    void *aux;
    const struct config *cfg;
    struct hmap probers;   /* By alias + member name. */
    struct hmap targets;   /* Same, by bridge + port + IP. */
    struct hmap by_port;   /* Same, by bridge + port. */
    struct shash phases;   /* Bridge -> probers started there (uintptr). */
    struct probesched *sched;
    uint64_t n_packet_ins, n_packet_ins_bad;
};

static void prober_send_cb(struct probesched_entry *, int64_t late_ns);
static void prober_timeout_cb(struct ev_loop *, ev_timer *, int revents);
static void prober_wake_cb(struct ev_loop *, ev_timer *, int revents);

static long long
now_ms(const struct probes *ps)
{
    return (long long) (ev_now(ps->loop) * 1000.0);
}

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

static uint32_t
port_hash(const char *bridge, const char *port)
{
    return hash_string(port, hash_string(bridge, 0));
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
prober_find(const struct probes *ps, const char *alias, const char *member)
{
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, prober_hash(alias, member),
                             &ps->probers) {
        if (!strcmp(p->alias, alias) && !strcmp(p->member, member)) {
            return p;
        }
    }
    return NULL;
}

struct probes *
probes_create(struct ev_loop *loop, const struct probes_callbacks *cbs,
              void *aux)
{
    struct probes *ps = xzalloc(sizeof *ps);
    ps->loop = loop;
    ps->cbs = cbs;
    ps->aux = aux;
    hmap_init(&ps->probers);
    hmap_init(&ps->targets);
    hmap_init(&ps->by_port);
    shash_init(&ps->phases);
    char *error;
    ps->sched = probesched_create(loop, &error);
    if (!ps->sched) {
        /* Without a timerfd no probe is sent: members follow link state
         * only (health stays "unknown", which counts as healthy). */
        VLOG_ERR("health probes disabled: %s", error);
        free(error);
    }
    return ps;
}

static void
prober_destroy(struct prober *p)
{
    struct probes *ps = p->ps;
    if (ps->sched) {
        probesched_stop(ps->sched, &p->send);
    }
    ev_timer_stop(ps->loop, &p->timeout);
    ev_timer_stop(ps->loop, &p->wake);
    hmap_remove(&ps->probers, &p->node);
    hmap_remove(&ps->targets, &p->tnode);
    hmap_remove(&ps->by_port, &p->pnode);
    free(p->alias);
    free(p->member);
    free(p->bridge);
    free(p->port);
    free(p);
}

void
probes_destroy(struct probes *ps)
{
    if (!ps) {
        return;
    }
    struct prober *p;
    HMAP_FOR_EACH_SAFE (p, node, &ps->probers) {
        prober_destroy(p);
    }
    hmap_destroy(&ps->probers);
    hmap_destroy(&ps->targets);
    hmap_destroy(&ps->by_port);
    shash_destroy(&ps->phases);
    probesched_destroy(ps->sched);
    free(ps);
}

void
probes_set_config(struct probes *ps, const struct config *cfg)
{
    ps->cfg = cfg;
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
    ev_timer_stop(p->ps->loop, &p->wake);
    if (at != LLONG_MAX) {
        double delay = MAX(at - now_ms(p->ps), 0) / 1000.0;
        ev_timer_set(&p->wake, delay, 0.);
        ev_timer_start(p->ps->loop, &p->wake);
    }
}

/* Reports a change of the member's health state or MAC to the owner, the
 * log and the event stream. */
static void
prober_changed(struct prober *p, enum health_state old, const char *reason)
{
    struct probes *ps = p->ps;
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
        ps->cbs->publish(ps->aux, "member_state", ev);
    }
    prober_arm_wake(p);
    ps->cbs->changed(ps->aux, p->alias, p->member, reason);
}

static void
prober_result(struct prober *p, bool ok)
{
    enum health_state old = p->h.state;
    if (health_probe_result(&p->h, ok, now_ms(p->ps))) {
        prober_changed(p, old, p->h.reason);
    }
}

/* Sending. */

/* Before a probe counts as missed: its reply may be waiting unread on the
 * bridge's connection when the loop was busy past the deadline (a large
 * API reply, a reload), and silence must not be concluded from vmacd's own
 * delay.  Reads what the switch has sent so far; returns true if the probe
 * is still unanswered. */
static bool
prober_still_unanswered(struct prober *p)
{
    if (p->outstanding) {
        p->ps->cbs->receive_pending(p->ps->aux, p->bridge);
    }
    return p->outstanding;
}

/* The outstanding probe went unanswered.  If the switch has not even
 * taken it off the connection (stopped, or busy with a large bundle ahead
 * of it), the member had no chance to answer: no verdict. */
static void
prober_missed(struct prober *p)
{
    ev_timer_stop(p->ps->loop, &p->timeout);
    p->outstanding = false;
    p->arp_refresh = true;
    if (!p->ps->cbs->delivered(p->ps->aux, p->bridge, p->sent_mark)) {
        p->n_stalled++;
        return;
    }
    p->n_timeouts++;
    prober_result(p, false);
}

static void
prober_send_cb(struct probesched_entry *e, int64_t late_ns)
{
    struct prober *p = CONTAINER_OF(e, struct prober, send);
    struct probes *ps = p->ps;
    struct ev_loop *loop = ps->loop;
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
        prober_missed(p);
    }

    uint32_t port;
    if (!ps->cbs->port_up(ps->aux, p->bridge, p->port, &port)) {
        return; /* Not connected, absent or link down. */
    }
    const struct cfg_probe_source *ps_src
        = config_probe_source(ps->cfg, p->bridge);
    struct dp_packet pkt;
    uint64_t stub[128 / 8];
    dp_packet_use_stub(&pkt, stub, sizeof stub);

    bool tcp = p->probe.type == CFG_PROBE_TCP && p->has_mac && ps_src->has_ip;
    if (prober_nd(p)) {
        probepkt_nd(&pkt, ps_src->mac, &p->ip);
        ps->cbs->send(ps->aux, p->bridge, port, &pkt);
    } else {
        ovs_be32 ip4 = in6_addr_get_mapped_ipv4(&p->ip);
        if (!tcp || p->arp_refresh) {
            probepkt_arp(&pkt, ps_src->mac, ip4);
            ps->cbs->send(ps->aux, p->bridge, port, &pkt);
            p->arp_refresh = false;
        }
        if (tcp) {
            p->tcp_seq = random_uint32();
            probepkt_tcp(&pkt, ps_src->mac, p->mac, ps_src->ip4, ip4,
                         p->tcp_sport, p->probe.tcp_port, p->tcp_seq, 0,
                         TCP_SYN);
            ps->cbs->send(ps->aux, p->bridge, port, &pkt);
        }
    }
    dp_packet_uninit(&pkt);

    p->n_sent++;
    p->outstanding = true;
    p->sent_at = ev_time();
    p->sent_mark = ps->cbs->tx_mark(ps->aux, p->bridge);
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
        prober_missed(p);
    }
}

static void
prober_wake_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
               int revents OVS_UNUSED)
{
    struct prober *p = CONTAINER_OF(w, struct prober, wake);
    enum health_state old = p->h.state;
    if (health_run(&p->h, now_ms(p->ps))) {
        prober_changed(p, old, p->h.reason);
    } else {
        prober_arm_wake(p);
    }
}

/* Building the probers from the config. */

/* The member's probe settings with the type it is really probed with. */
static struct cfg_probe
effective_probe(const struct config *cfg, const struct cfg_alias *a,
                const struct cfg_member *m)
{
    struct cfg_probe probe = m->probe;
    enum cfg_probe_type type = config_member_probe_type(cfg, m);
    if (type != probe.type && m->ip_is_v6) {
        VLOG_WARN("alias %s: member %s: tcp probes need an IPv4 ip; probing "
                  "its IPv6 ip with ND",
                  a->name, m->name);
    } else if (type != probe.type) {
        VLOG_WARN("alias %s: member %s: no probe_source.ip on bridge %s for "
                  "its tcp probe; probing with ARP",
                  a->name, m->name, m->bridge);
    }
    if (type != probe.type) {
        probe.type = type;
        probe.tcp_port = 0;
    }
    return probe;
}

static bool
target_equal(const struct prober *p, const struct cfg_member *m,
             const struct cfg_probe *probe)
{
    struct in6_addr ip = member_target(m);
    return (!strcmp(p->bridge, m->bridge) && !strcmp(p->port, m->port)
            && ipv6_addr_equals(&p->ip, &ip) && p->probe.type == probe->type
            && p->probe.tcp_port == probe->tcp_port
            && p->probe.fall == probe->fall && p->probe.rise == probe->rise);
}

/* The probe period 'p' should have now: interval_ms while its member is
 * the master (or the alias has none), backup_interval_ms otherwise. */
static uint64_t
prober_period_ns(const struct prober *p)
{
    unsigned int ms = p->probe.interval_ms;
    if (p->probe.backup_interval_ms && !p->is_master && !p->no_master) {
        ms = p->probe.backup_interval_ms;
    }
    return (uint64_t) ms * 1000000;
}

/* The k-th prober started on a bridge begins this far (a fraction of its
 * period) into it: 0, 1/2, 1/4, 3/4, 1/8... (van der Corput), so probers
 * added one by one stay spread evenly. */
static double
spread(uint64_t k)
{
    double f = 0, scale = 0.5;
    for (; k; k >>= 1, scale /= 2) {
        if (k & 1) {
            f += scale;
        }
    }
    return f;
}

static struct prober *
prober_create(struct probes *ps, const struct cfg_alias *a,
              const struct cfg_member *m, const struct cfg_probe *probe)
{
    struct prober *p = xzalloc(sizeof *p);
    p->ps = ps;
    p->alias = xstrdup(a->name);
    p->member = xstrdup(m->name);
    p->bridge = xstrdup(m->bridge);
    p->port = xstrdup(m->port);
    p->ip = member_target(m);
    p->probe = *probe;
    p->no_master = true;
    p->last_rtt_ms = -1;
    health_init(&p->h, probe->fall, probe->rise, true, now_ms(ps));
    ev_init(&p->timeout, prober_timeout_cb);
    ev_init(&p->wake, prober_wake_cb);
    hmap_insert(&ps->probers, &p->node, prober_hash(p->alias, p->member));
    hmap_insert(&ps->targets, &p->tnode,
                target_hash(p->bridge, p->port, &p->ip));
    hmap_insert(&ps->by_port, &p->pnode, port_hash(p->bridge, p->port));

    /* Its place on the bridge: phase and TCP source port. */
    struct shash_node *sn = shash_find(&ps->phases, p->bridge);
    if (!sn) {
        sn = shash_add(&ps->phases, p->bridge, (void *) (uintptr_t) 0);
    }
    uint64_t k = (uintptr_t) sn->data;
    sn->data = (void *) (uintptr_t) (k + 1);
    p->phase = k;
    p->tcp_sport = PROBE_TCP_SPORT_BASE + (k % 16384);
    return p;
}

static void
prober_start(struct prober *p)
{
    struct probes *ps = p->ps;
    if (ps->sched) {
        uint64_t period = prober_period_ns(p);
        probesched_start(ps->sched, &p->send,
                         period * spread(p->phase) + 1000000, period,
                         prober_send_cb);
        p->period_ns = period;
    }
    prober_arm_wake(p);
}

void
probes_sync_alias(struct probes *ps, const struct cfg_alias *old,
                  const struct cfg_alias *new)
{
    struct hmap keep = HMAP_INITIALIZER(&keep);

    /* Take the old probers aside. */
    for (size_t j = 0; old && j < old->n_members; j++) {
        struct prober *p = prober_find(ps, old->name, old->members[j].name);
        if (p) {
            hmap_remove(&ps->probers, &p->node);
            hmap_insert(&keep, &p->node, prober_hash(p->alias, p->member));
        }
    }

    for (size_t j = 0; new && j < new->n_members; j++) {
        const struct cfg_member *m = &new->members[j];
        if (config_member_probe_type(ps->cfg, m) == CFG_PROBE_NONE) {
            continue;
        }
        struct cfg_probe probe = effective_probe(ps->cfg, new, m);
        struct prober *p = NULL, *q;
        HMAP_FOR_EACH_WITH_HASH (q, node, prober_hash(new->name, m->name),
                                 &keep) {
            if (!strcmp(q->alias, new->name) && !strcmp(q->member, m->name)) {
                p = q;
                break;
            }
        }
        if (p && target_equal(p, m, &probe)) {
            hmap_remove(&keep, &p->node);
            hmap_insert(&ps->probers, &p->node,
                        prober_hash(p->alias, p->member));
            bool restart = (p->probe.interval_ms != probe.interval_ms
                            || p->probe.backup_interval_ms
                                   != probe.backup_interval_ms);
            p->probe = probe;
            if (restart) {
                prober_start(p);
            }
        } else {
            p = prober_create(ps, new, m, &probe);
            prober_start(p);
        }
        p->mac_configured = m->has_mac;
        if (m->has_mac) {
            p->has_mac = true;
            p->mac = m->mac;
        }
    }

    struct prober *p;
    HMAP_FOR_EACH_SAFE (p, node, &keep) {
        hmap_remove(&keep, &p->node);
        hmap_insert(&ps->probers, &p->node, prober_hash(p->alias, p->member));
        prober_destroy(p);
    }
    hmap_destroy(&keep);
}

void
probes_set_master(struct probes *ps, const struct cfg_alias *a, int master)
{
    for (size_t j = 0; j < a->n_members; j++) {
        struct prober *p = prober_find(ps, a->name, a->members[j].name);
        if (!p) {
            continue;
        }
        p->is_master = (int) j == master;
        p->no_master = master < 0;
        uint64_t period = prober_period_ns(p);
        if (ps->sched && period != p->period_ns) {
            /* A new master is probed at once (or once its outstanding
             * probe has had its time), then every interval. */
            uint64_t delay = period;
            if (period < p->period_ns) {
                delay = p->outstanding
                            ? (uint64_t) p->probe.timeout_ms * 1000000 + 1
                            : 0;
            }
            probesched_start(ps->sched, &p->send, delay, period,
                             prober_send_cb);
            p->period_ns = period;
        }
    }
}

/* Link events. */

void
probes_port(struct probes *ps, const char *bridge, const char *port,
            bool connected, bool up)
{
    if (!connected) {
        /* Lost connection: no verdict either way; keep the state. */
        return;
    }
    long long now = now_ms(ps);
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, pnode, port_hash(bridge, port),
                             &ps->by_port) {
        if (strcmp(p->bridge, bridge) || strcmp(p->port, port)) {
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
            ev_timer_stop(ps->loop, &p->timeout);
            p->outstanding = false;
        }
    }
}

void
probes_port_forget(struct probes *ps, const char *bridge, const char *port,
                   const char *reason)
{
    long long now = now_ms(ps);
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, pnode, port_hash(bridge, port),
                             &ps->by_port) {
        if (!strcmp(p->bridge, bridge) && !strcmp(p->port, port)) {
            enum health_state old = p->h.state;
            if (health_forget(&p->h, reason, now)) {
                prober_changed(p, old, reason);
            }
        }
    }
}

bool
probes_member_verified(const struct probes *ps, const char *alias,
                       const char *member)
{
    const struct prober *p = prober_find(ps, alias, member);
    return !p || health_verified(&p->h);
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
        RL_WARN("alias %s: member %s answers from " ETH_ADDR_FMT
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
    p->ps->cbs->publish(p->ps->aux, "member_mac", ev);
    prober_changed(p, p->h.state, "member mac learned");
}

static void
prober_reply(struct prober *p, bool ok)
{
    if (!p->outstanding) {
        return; /* Late or duplicate. */
    }
    p->outstanding = false;
    ev_timer_stop(p->ps->loop, &p->timeout);
    p->last_rtt_ms = (ev_time() - p->sent_at) * 1000.0;
    p->n_replies += ok;
    p->n_refused += !ok;
    prober_result(p, ok);
}

/* An answer to an address resolution probe (ARP or ND) for 'target' from
 * 'mac' on 'port' of 'bridge': every prober of that target learns the MAC
 * and, unless it probes over TCP, counts a success. */
static void
handle_resolution(struct probes *ps, const char *bridge, const char *port,
                  const struct in6_addr *target, struct eth_addr mac)
{
    bool matched = false;
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, tnode, target_hash(bridge, port, target),
                             &ps->targets) {
        if (!strcmp(p->bridge, bridge) && !strcmp(p->port, port)
            && ipv6_addr_equals(&p->ip, target)) {
            matched = true;
            prober_learn_mac(p, mac);
            if (p->probe.type == CFG_PROBE_ARP) {
                prober_reply(p, true);
            }
        }
    }
    if (!matched) {
        ps->n_packet_ins_bad++; /* E.g. left over from an old config. */
    }
}

static void
handle_tcp(struct probes *ps, const char *bridge, const char *port,
           uint32_t ofport, const struct flow *flow,
           const struct dp_packet *pkt)
{
    const struct cfg_probe_source *src = config_probe_source(ps->cfg, bridge);
    const struct tcp_header *tcp = dp_packet_l4(pkt);
    if (!src->has_ip || flow->nw_dst != src->ip4 || !tcp
        || dp_packet_l4_size(pkt) < TCP_HEADER_LEN) {
        ps->n_packet_ins_bad++;
        return;
    }
    uint16_t flags = ntohs(flow->tcp_flags);
    uint32_t ack = ntohl(get_16aligned_be32(&tcp->tcp_ack));
    bool matched = false;
    struct in6_addr ip = in6_addr_mapped_ipv4(flow->nw_src);
    struct prober *p;
    HMAP_FOR_EACH_WITH_HASH (p, tnode, target_hash(bridge, port, &ip),
                             &ps->targets) {
        if (strcmp(p->bridge, bridge) || strcmp(p->port, port)
            || !ipv6_addr_equals(&p->ip, &ip)
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
            probepkt_tcp(&rst, src->mac, flow->dl_src, src->ip4, flow->nw_src,
                         p->tcp_sport, p->probe.tcp_port, ack, 0, TCP_RST);
            ps->cbs->send(ps->aux, bridge, ofport, &rst);
            dp_packet_uninit(&rst);
            prober_reply(p, true);
        } else if (flags & TCP_RST) {
            prober_reply(p, false); /* Port closed. */
        }
    }
    if (!matched) {
        ps->n_packet_ins_bad++;
    }
}

void
probes_packet_in(struct probes *ps, const char *bridge,
                 const struct ofp_header *oh)
{
    struct ofputil_packet_in pin;
    size_t total_len;
    uint32_t buffer_id;

    ps->n_packet_ins++;
    enum ofperr err = ofputil_decode_packet_in(oh, true, NULL, NULL, &pin,
                                               &total_len, &buffer_id, NULL);
    if (err) {
        ps->n_packet_ins_bad++;
        RL_WARN("%s: undecodable packet-in: %s", bridge,
                ofperr_to_string(err));
        return;
    }
    if (pin.packet_len < ETH_HEADER_LEN || pin.packet_len > 1600) {
        ps->n_packet_ins_bad++;
        return;
    }
    uint32_t ofport = ofp_to_u16(pin.flow_metadata.flow.in_port.ofp_port);
    const char *port = ps->cbs->port_name(ps->aux, bridge, ofport);
    const struct cfg_probe_source *src = config_probe_source(ps->cfg, bridge);
    struct dp_packet pkt;
    struct flow flow;
    dp_packet_use_const(&pkt, pin.packet, pin.packet_len);
    flow_extract(&pkt, &flow);
    if (!port || !eth_addr_equals(flow.dl_dst, src->mac)) {
        ps->n_packet_ins_bad++;
        RL_DBG("%s: packet-in not for the probe identity", bridge);
        return;
    }
    const char *error = NULL;
    struct in6_addr target;
    struct eth_addr mac;
    if (flow.dl_type == htons(ETH_TYPE_ARP)) {
        ovs_be32 ip;
        error = probepkt_arp_reply(&flow, src->mac, &ip, &mac);
        target = in6_addr_mapped_ipv4(ip);
    } else if (flow.dl_type == htons(ETH_TYPE_IPV6)) {
        error = probepkt_nd_reply(&pkt, &flow, src->mac, &target, &mac);
    } else if (flow.dl_type == htons(ETH_TYPE_IP)
               && flow.nw_proto == IPPROTO_TCP) {
        handle_tcp(ps, bridge, port, ofport, &flow, &pkt);
        return;
    } else {
        error = "neither ARP, ND nor TCP";
    }
    if (error) {
        ps->n_packet_ins_bad++;
        RL_WARN("%s: bad probe reply from port %s: %s", bridge,
                port, error);
        return;
    }
    handle_resolution(ps, bridge, port, &target, mac);
}

/* Queries. */

bool
probes_member_usable(const struct probes *ps, const char *alias,
                     const char *member, bool *probed)
{
    const struct prober *p = prober_find(ps, alias, member);
    *probed = p != NULL;
    return p && prober_usable(p);
}

bool
probes_member_mac(const struct probes *ps, const char *alias,
                  const char *member, struct eth_addr *mac)
{
    const struct prober *p = prober_find(ps, alias, member);
    if (p && p->has_mac) {
        *mac = p->mac;
        return true;
    }
    return false;
}

/* A prober may send during probes_yield() only if its previous probe is
 * answered: the verdict on an unanswered one (reading pending input,
 * feeding the state machine) is left to the loop. */
static bool
prober_ready(const struct probesched_entry *e)
{
    return !CONTAINER_OF(e, struct prober, send)->outstanding;
}

void
probes_yield(struct probes *ps)
{
    probesched_run_due(ps->sched, prober_ready);
}

json_t *
probes_status_json(const struct probes *ps)
{
    uint64_t hist[N_LATE_BUCKETS] = { 0 };
    uint64_t sent = 0, replies = 0, timeouts = 0, stalled = 0;
    double late_max = 0;
    const struct prober *p;
    HMAP_FOR_EACH (p, node, &ps->probers) {
        for (size_t b = 0; b < N_LATE_BUCKETS; b++) {
            hist[b] += p->late_hist[b];
        }
        sent += p->n_sent;
        replies += p->n_replies;
        timeouts += p->n_timeouts;
        stalled += p->n_stalled;
        late_max = MAX(late_max, p->late_max_ms);
    }
    json_t *o = json_object();
    json_object_set_new(o, "probers", json_integer(hmap_count(&ps->probers)));
    json_object_set_new(o, "sent", json_integer(sent));
    json_object_set_new(o, "replies", json_integer(replies));
    json_object_set_new(o, "timeouts", json_integer(timeouts));
    json_object_set_new(o, "stalled", json_integer(stalled));
    json_object_set_new(o, "send_late_max_ms", json_real(late_max));
    json_t *h = json_object();
    for (size_t b = 0; b < N_LATE_BUCKETS; b++) {
        json_object_set_new(h, late_bucket_names[b], json_integer(hist[b]));
    }
    json_object_set_new(o, "send_late_histogram", h);
    json_object_set_new(o, "packet_ins", json_integer(ps->n_packet_ins));
    json_object_set_new(o, "packet_ins_bad",
                        json_integer(ps->n_packet_ins_bad));
    return o;
}

json_t *
probes_member_to_json(const struct probes *ps, const char *alias,
                      const char *member, const struct probemeter *pm)
{
    json_t *o = json_object();
    const struct prober *p = prober_find(ps, alias, member);
    if (!p) {
        json_object_set_new(o, "type", json_string("none"));
        json_object_set_new(o, "state", json_string("none"));
        return o;
    }
    long long now = now_ms(ps);
    json_object_set_new(o, "type",
                        json_string(p->probe.type == CFG_PROBE_TCP ? "tcp"
                                    : prober_nd(p)                 ? "nd"
                                                                   : "arp"));
    json_object_set_new(o, "state",
                        json_string(health_state_name(p->h.state)));
    json_object_set_new(o, "verified",
                        json_boolean(health_verified(&p->h)));
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
    json_object_set_new(o, "stalled", json_integer(p->n_stalled));
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
    json_object_set_new(o, "meter_id",
                        pm ? json_integer(pm->id) : json_null());
    json_object_set_new(o, "meter_rate_pps",
                        pm ? json_integer(pm->rate_pps) : json_null());
    return o;
}
