/*
 * engine-announce: gratuitous ARP / unsolicited NA bursts for an alias,
 * sent by packet-out on the uplink ports of the master's bridge, 'count'
 * times 'interval_ms' apart, on master change, on (re)connect, on demand
 * and every 'refresh_s'.
 */
#include "engine-private.h"

#include <errno.h>
#include <string.h>

#include "alias.h"
#include "announce.h"
#include "config.h"
#include "dp-packet.h"
#include "ofchan.h"
#include "ofswitch.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(announce_tx);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

static void burst_cb(struct ev_loop *, ev_timer *, int revents);
static void refresh_cb(struct ev_loop *, ev_timer *, int revents);

void
engine_announce_init(struct alias_rt *rt)
{
    ev_init(&rt->burst, burst_cb);
    ev_init(&rt->refresh, refresh_cb);
}

void
engine_announce_stop(struct alias_rt *rt)
{
    ev_timer_stop(rt->eng->loop, &rt->burst);
    ev_timer_stop(rt->eng->loop, &rt->refresh);
}

bool
engine_packet_out(struct ofchan *chan, const struct dp_packet *pkt,
                  uint32_t port)
{
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    ofpact_put_OUTPUT(&ofpacts)->port = u16_to_ofp(port);

    struct ofputil_packet_out po = {
        .packet = dp_packet_data(pkt),
        .packet_len = dp_packet_size(pkt),
        .buffer_id = UINT32_MAX,
        .ofpacts = ofpacts.data,
        .ofpacts_len = ofpacts.size,
    };
    match_init_catchall(&po.flow_metadata);
    match_set_in_port(&po.flow_metadata, OFPP_CONTROLLER);
    struct ofpbuf *msg = ofputil_encode_packet_out(&po, ofchan_protocol(chan));
    ofpbuf_uninit(&ofpacts);
    return !ofchan_send(chan, msg);
}

/* Sends one round (every address of the alias, on every uplink of the
 * master's bridge).  Returns the number of packets sent, or -errno. */
static int
announce_round(struct engine *eng, size_t idx)
{
    const struct cfg_alias *a = &eng->cfg->aliases[idx];
    int m = alias_state_master(eng->states[idx]);
    if (m < 0) {
        return -ENOENT;
    }
    const struct cfg_bridge *cb
        = config_find_bridge(eng->cfg, a->members[m].bridge);
    const struct bridge *br = engine_bridge_find(eng, a->members[m].bridge);
    if (!br || !br->conn || !br->conn->ft) {
        return -ENOTCONN;
    }
    if (!cb || !cb->n_uplinks) {
        return 0;
    }

    struct dp_packet pkt;
    dp_packet_init(&pkt, 128);
    int n = 0;
    for (size_t u = 0; u < cb->n_uplinks; u++) {
        const struct ofswitch_port *p
            = ofswitch_port_by_name(br->conn->sw, cb->uplinks[u]);
        if (!p) {
            continue;
        }
        for (size_t i = 0; i < a->n_ip4; i++) {
            announce_build_garp(&pkt, a->vmac, a->ip4[i]);
            n += engine_packet_out(ofswitch_chan(br->conn->sw), &pkt,
                                   p->number);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            announce_build_una(&pkt, a->vmac, &a->ip6[i]);
            n += engine_packet_out(ofswitch_chan(br->conn->sw), &pkt,
                                   p->number);
        }
    }
    dp_packet_uninit(&pkt);
    return n;
}

static void
burst_cb(struct ev_loop *loop, ev_timer *w, int revents OVS_UNUSED)
{
    struct alias_rt *rt = CONTAINER_OF(w, struct alias_rt, burst);
    int n = announce_round(rt->eng, rt->idx);

    if (n > 0) {
        rt->n_announced += n;
    } else if (n < 0) {
        VLOG_DBG_RL(&rl, "alias %s: announcement skipped (%s)",
                    rt->eng->cfg->aliases[rt->idx].name, ovs_strerror(-n));
    }
    if (rt->burst_left > 0 && --rt->burst_left > 0) {
        const struct cfg_alias *a = &rt->eng->cfg->aliases[rt->idx];
        ev_timer_set(w, a->announce.interval_ms / 1000.0, 0.);
        ev_timer_start(loop, w);
    }
}

static void
refresh_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
           int revents OVS_UNUSED)
{
    struct alias_rt *rt = CONTAINER_OF(w, struct alias_rt, refresh);
    engine_announce_start(rt);
}

/* Starts a burst now (restarting one in progress) and re-arms the periodic
 * refresh. */
void
engine_announce_start(struct alias_rt *rt)
{
    const struct cfg_alias *a = &rt->eng->cfg->aliases[rt->idx];
    struct ev_loop *loop = rt->eng->loop;

    ev_timer_stop(loop, &rt->burst);
    rt->burst_left = a->announce.count;
    if (rt->burst_left) {
        ev_timer_set(&rt->burst, 0., 0.);
        ev_timer_start(loop, &rt->burst);
    }
    ev_timer_stop(loop, &rt->refresh);
    if (a->announce.refresh_s) {
        ev_timer_set(&rt->refresh, a->announce.refresh_s, 0.);
        ev_timer_start(loop, &rt->refresh);
    }
}

/* Re-arms only the periodic refresh (e.g. after a reload that kept the
 * master). */
void
engine_announce_rearm(struct alias_rt *rt)
{
    const struct cfg_alias *a = &rt->eng->cfg->aliases[rt->idx];
    struct ev_loop *loop = rt->eng->loop;

    ev_timer_stop(loop, &rt->refresh);
    if (a->announce.refresh_s) {
        ev_timer_set(&rt->refresh, a->announce.refresh_s, 0.);
        ev_timer_start(loop, &rt->refresh);
    }
}

/* For the API: a burst now.  Returns 0 or an errno with '*errp'. */
int
engine_announce_now(struct engine *eng, size_t idx, char **errp)
{
    const struct cfg_alias *a = &eng->cfg->aliases[idx];
    int m = alias_state_master(eng->states[idx]);
    if (m < 0) {
        *errp = xasprintf("alias %s has no master", a->name);
        return ENOENT;
    }
    const struct bridge *br = engine_bridge_find(eng, a->members[m].bridge);
    if (!br || !br->conn) {
        *errp = xasprintf("bridge %s of the master is not connected",
                          a->members[m].bridge);
        return ENOTCONN;
    }
    engine_announce_start(&eng->rts[idx]);
    *errp = NULL;
    return 0;
}
