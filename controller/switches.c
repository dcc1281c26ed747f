/*
 * switches: connections and bridges (see switches.h).
 *
 * A connection is NEW until its switch is ready, then SERVING its bridge,
 * or HELD while the bridge's serving connection is asked whether it is
 * still alive (a barrier round trip), after which it serves or is refused.
 */
#include "switches.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "dp-packet.h"
#include "hash.h"
#include "ifname.h"
#include "ofchan.h"
#include "oflisten.h"
#include "ofswitch.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-packet.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "svec.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(switches);

enum sconn_state {
    SCONN_NEW,
    SCONN_HELD,
    SCONN_SERVING,
};

struct sconn {
    struct ovs_list node; /* In switches->conns. */
    struct switches *ss;
    struct ofswitch *sw;
    struct oflisten_active *active; /* Where it came from, if active. */
    enum sconn_state state;
    struct swbridge *br;  /* SERVING: the bridge. */
    struct sconn *holder; /* HELD: the connection asked. */
};

struct swbridge {
    struct hmap_node node; /* In switches->bridges, by name. */
    struct switches *ss;
    char *name;
    struct sconn *conn; /* Serving connection, or NULL. */
    uint64_t dpid;      /* Last seen. */
    unsigned int n_connects;
    double connected_at;
    bool kept;         /* Configured or carrying: never forgotten. */
    uint64_t pin_dpid; /* 0: any datapath. */
    char *pin_cn;      /* NULL: any connection. */
    double lost_at;    /* When its last connection ended. */
    ev_timer forget;

    /* The connections refused for it: how many, and the last one. */
    uint64_t n_refused;
    struct refusal {
        char *peer;
        uint64_t dpid;
        char *cn; /* NULL: no TLS. */
        char *reason;
        double at;
    } last_refused;
};

struct switches {
    struct ev_loop *loop;
    struct ofchan_options opts;
    const struct switches_callbacks *cbs;
    void *aux;
    struct oflisten *ol;
    struct ovs_list conns; /* struct sconn. */
    struct hmap bridges;   /* struct swbridge. */
    uint64_t refused;
    unsigned int forget_s;
};

static void conn_new(int fd, const char *peer, struct oflisten_active *,
                     void *ss_);
static void forget_cb(struct ev_loop *, ev_timer *, int revents);

struct switches *
switches_create(struct ev_loop *loop, const struct ofchan_options *opts,
                const struct switches_callbacks *cbs, void *aux)
{
    struct switches *ss = xzalloc(sizeof *ss);
    ss->loop = loop;
    ss->opts = *opts;
    ss->cbs = cbs;
    ss->aux = aux;
    ovs_list_init(&ss->conns);
    hmap_init(&ss->bridges);
    ss->forget_s = SWITCHES_FORGET_S;
    ss->ol = oflisten_create(loop, conn_new, ss);
    return ss;
}

static void
conn_destroy(struct sconn *c)
{
    ovs_list_remove(&c->node);
    ofswitch_destroy(c->sw);
    free(c);
}

static void
refusal_clear(struct refusal *r)
{
    free(r->peer);
    free(r->cn);
    free(r->reason);
    memset(r, 0, sizeof *r);
}

static void
bridge_destroy(struct swbridge *br)
{
    ev_timer_stop(br->ss->loop, &br->forget);
    hmap_remove(&br->ss->bridges, &br->node);
    refusal_clear(&br->last_refused);
    free(br->pin_cn);
    free(br->name);
    free(br);
}

void
switches_destroy(struct switches *ss)
{
    if (!ss) {
        return;
    }
    struct sconn *c;
    LIST_FOR_EACH_SAFE (c, node, &ss->conns) {
        conn_destroy(c);
    }
    oflisten_destroy(ss->ol);
    struct swbridge *br;
    HMAP_FOR_EACH_SAFE (br, node, &ss->bridges) {
        bridge_destroy(br);
    }
    hmap_destroy(&ss->bridges);
    free(ss);
}

int
switches_add_target(struct switches *ss, const char *target, struct verror *e)
{
    char *msg = NULL;
    int error = oflisten_add(ss->ol, target, &msg);
    if (error) {
        verror_set(e, error, VERR_INVALID, NULL, "%s", msg);
        free(msg);
    }
    return error;
}

/* Bridges. */

static struct swbridge *
bridge_find(const struct switches *ss, const char *name)
{
    struct swbridge *br;
    HMAP_FOR_EACH_WITH_HASH (br, node, hash_string(name, 0), &ss->bridges) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static struct swbridge *
bridge_get(struct switches *ss, const char *name)
{
    struct swbridge *br = bridge_find(ss, name);
    if (!br) {
        br = xzalloc(sizeof *br);
        br->ss = ss;
        br->name = xstrdup(name);
        ev_init(&br->forget, forget_cb);
        hmap_insert(&ss->bridges, &br->node, hash_string(name, 0));
    }
    return br;
}

static bool
bridge_is_kept(const struct swbridge *br)
{
    return br->kept || br->pin_dpid || br->pin_cn;
}

/* A disconnected bridge that nothing keeps goes 'forget_s' seconds after
 * it disconnected. */
static void
bridge_arm_forget(struct swbridge *br)
{
    struct switches *ss = br->ss;
    ev_timer_stop(ss->loop, &br->forget);
    if (!br->conn && !bridge_is_kept(br)) {
        double left = br->lost_at + ss->forget_s - ev_now(ss->loop);
        ev_timer_set(&br->forget, MAX(left, 0.), 0.);
        ev_timer_start(ss->loop, &br->forget);
    }
}

static void
forget_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w, int revents OVS_UNUSED)
{
    struct swbridge *br = CONTAINER_OF(w, struct swbridge, forget);
    if (!br->conn && !bridge_is_kept(br)) {
        VLOG_INFO("bridge %s: forgotten (disconnected for %u s and not "
                  "configured)",
                  br->name, br->ss->forget_s);
        bridge_destroy(br);
    }
}

static void
arm_all(struct switches *ss)
{
    struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        bridge_arm_forget(br);
    }
}

void
switches_keep(struct switches *ss, const char *const *names, size_t n)
{
    struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        br->kept = false;
    }
    for (size_t i = 0; i < n; i++) {
        bridge_get(ss, names[i])->kept = true;
    }
    arm_all(ss);
}

void
switches_set_forget_s(struct switches *ss, unsigned int s)
{
    if (s != ss->forget_s) {
        ss->forget_s = s;
        arm_all(ss);
    }
}

/* The serving connection of datapath 'dpid', or NULL. */
static struct sconn *
serving_dpid(const struct switches *ss, uint64_t dpid)
{
    struct sconn *c;
    LIST_FOR_EACH (c, node, &ss->conns) {
        if (c->state == SCONN_SERVING && ofswitch_dpid(c->sw) == dpid) {
            return c;
        }
    }
    return NULL;
}

static void
conn_serve(struct sconn *c)
{
    struct switches *ss = c->ss;
    struct swbridge *br = bridge_get(ss, ofswitch_name(c->sw));
    c->state = SCONN_SERVING;
    c->holder = NULL;
    c->br = br;
    br->conn = c;
    br->dpid = ofswitch_dpid(c->sw);
    br->n_connects++;
    br->connected_at = ev_time();
    ev_timer_stop(ss->loop, &br->forget);
    VLOG_INFO("%s: serves bridge %s (datapath %016" PRIx64 ")",
              ofswitch_peer(c->sw), br->name, br->dpid);
    ss->cbs->ready(ss->aux, br->name);
}

/* Refuses connection 'c' for 'why'; 'br' (if nonnull) is the bridge it
 * claimed, which shows the refusal. */
static void
conn_refuse(struct sconn *c, struct swbridge *br, const char *why)
{
    c->ss->refused++;
    RL_WARN("%s: refused: %s", ofswitch_peer(c->sw), why);
    if (br) {
        const char *cn = ofswitch_peer_cn(c->sw);
        br->n_refused++;
        refusal_clear(&br->last_refused);
        br->last_refused = (struct refusal){
            .peer = xstrdup(ofswitch_peer(c->sw)),
            .dpid = ofswitch_dpid(c->sw),
            .cn = nullable_xstrdup(cn),
            .reason = xstrdup(why),
            .at = ev_time(),
        };
    }
    ofchan_close(ofswitch_chan(c->sw), why);
}

/* The bridge other than 'name' that is pinned to datapath 'dpid', or
 * NULL. */
static struct swbridge *
pinned_elsewhere(const struct switches *ss, const char *name, uint64_t dpid)
{
    struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        if (br->pin_dpid == dpid && strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

/* Does switch 'sw' break a pin of 'br' (NULL: none)?  Returns why, to
 * free, or NULL. */
static char *
pin_broken(const struct swbridge *br, const struct ofswitch *sw)
{
    uint64_t dpid = ofswitch_dpid(sw);
    const char *cn = ofswitch_peer_cn(sw);
    if (!br) {
        return NULL;
    }
    if (br->pin_dpid && br->pin_dpid != dpid) {
        return xasprintf("bridge %s is pinned to datapath %016" PRIx64
                         ", not %016" PRIx64,
                         br->name, br->pin_dpid, dpid);
    }
    if (br->pin_cn && !cn) {
        return xasprintf("bridge %s is pinned to certificate CN \"%s\"; "
                         "this connection has no TLS certificate",
                         br->name, br->pin_cn);
    }
    if (br->pin_cn && strcmp(br->pin_cn, cn)) {
        return xasprintf("bridge %s is pinned to certificate CN \"%s\", "
                         "not \"%s\"",
                         br->name, br->pin_cn, cn);
    }
    return NULL;
}

/* May ready connection 'c' serve the bridge it names?  If not, refuses it
 * and returns false. */
static bool
conn_admit(struct sconn *c)
{
    struct switches *ss = c->ss;
    const char *name = ofswitch_name(c->sw);
    uint64_t dpid = ofswitch_dpid(c->sw);

    const char *rule = ifname_problem(name);
    if (rule) {
        char esc[4 * IFNAME_MAX_LEN + 1];
        char *why
            = xasprintf("bridge name \"%s\" (datapath %016" PRIx64
                        ") is not a valid interface name (%s)",
                        ifname_escape(name, esc, sizeof esc), dpid, rule);
        conn_refuse(c, NULL, why);
        free(why);
        return false;
    }

    struct swbridge *br = bridge_find(ss, name);
    char *why = pin_broken(br, c->sw);
    if (!why) {
        struct swbridge *other = pinned_elsewhere(ss, name, dpid);
        if (other) {
            why = xasprintf("datapath %016" PRIx64 " is pinned to bridge "
                            "%s, not %s",
                            dpid, other->name, name);
            br = other;
        }
    }
    if (why) {
        conn_refuse(c, br, why);
        free(why);
        return false;
    }
    return true;
}

void
switches_pin(struct switches *ss, const struct switches_pin *pins, size_t n)
{
    struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        br->pin_dpid = 0;
        free(br->pin_cn);
        br->pin_cn = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (pins[i].dpid || pins[i].peer_cn) {
            br = bridge_get(ss, pins[i].name);
            br->pin_dpid = pins[i].dpid;
            br->pin_cn = nullable_xstrdup(pins[i].peer_cn);
        }
    }
    /* Serving connections that the new pins refuse. */
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        if (!br->conn) {
            continue;
        }
        char *why = pin_broken(br, br->conn->sw);
        struct swbridge *other
            = why ? NULL : pinned_elsewhere(ss, br->name, br->dpid);
        if (other) {
            why = xasprintf("datapath %016" PRIx64 " is pinned to bridge "
                            "%s, not %s",
                            br->dpid, other->name, br->name);
        }
        if (why) {
            conn_refuse(br->conn, br, why);
            free(why);
        }
    }
    arm_all(ss);
}

/* The serving connection 'holder' answered the liveness probe asked for
 * by the held connection 'c' (or did not: 'reply' NULL). */
static void
probe_reply(struct ofchan *chan OVS_UNUSED, const struct ofp_header *reply,
            enum ofptype type OVS_UNUSED, int error OVS_UNUSED,
            bool final OVS_UNUSED, void *c_)
{
    struct sconn *c = c_;
    struct sconn *holder = c->holder;
    if (c->state != SCONN_HELD) {
        return;
    }
    if (reply) {
        char *why = xasprintf("bridge %s (datapath %016" PRIx64 ") is "
                              "already served by %s, which is alive",
                              ofswitch_name(c->sw), ofswitch_dpid(c->sw),
                              ofswitch_peer(holder->sw));
        struct swbridge *br = bridge_find(c->ss, ofswitch_name(c->sw));
        conn_refuse(c, br ? br : holder->br, why);
        free(why);
        return;
    }
    /* The pins may have changed while it was held. */
    if (!conn_admit(c)) {
        return;
    }
    VLOG_WARN("%s: bridge %s connected again from %s and the old "
              "connection does not answer: closing it",
              ofswitch_peer(holder->sw), ofswitch_name(c->sw),
              ofswitch_peer(c->sw));
    if (holder->state == SCONN_SERVING && holder->br->conn == holder) {
        struct swbridge *br = holder->br;
        br->conn = NULL;
        br->lost_at = ev_now(c->ss->loop);
        holder->br = NULL;
        holder->state = SCONN_NEW;
        c->ss->cbs->lost(c->ss->aux, br->name,
                         "replaced by a newer "
                         "connection");
    }
    ofchan_close(ofswitch_chan(holder->sw), "replaced by a newer connection");
    conn_serve(c);
}

static void
conn_ready(struct ofswitch *sw, void *c_)
{
    struct sconn *c = c_;
    struct switches *ss = c->ss;
    const char *name = ofswitch_name(sw);
    uint64_t dpid = ofswitch_dpid(sw);

    if (!conn_admit(c)) {
        return;
    }
    struct swbridge *br = bridge_find(ss, name);
    struct sconn *old = br && br->conn ? br->conn : serving_dpid(ss, dpid);
    if (!old) {
        conn_serve(c);
        return;
    }
    /* Is the serving connection still alive? */
    c->state = SCONN_HELD;
    c->holder = old;
    struct ofchan *chan = ofswitch_chan(old->sw);
    if (ofchan_request(chan,
                       ofputil_encode_barrier_request(ofchan_version(chan)),
                       probe_reply, c, SWITCHES_PROBE_MS)) {
        probe_reply(chan, NULL, 0, ECONNRESET, true, c);
    }
}

static void
conn_port_changed(struct ofswitch *sw OVS_UNUSED, const char *port, void *c_)
{
    struct sconn *c = c_;
    if (c->state == SCONN_SERVING) {
        c->ss->cbs->port_changed(c->ss->aux, c->br->name, port);
    }
}

static void
conn_message(struct ofswitch *sw, enum ofptype type,
             const struct ofp_header *oh, void *c_)
{
    struct sconn *c = c_;
    if (c->state == SCONN_SERVING) {
        c->ss->cbs->message(c->ss->aux, c->br->name, type, oh);
    } else {
        RL_DBG("%s: %s before serving a bridge: ignored", ofswitch_peer(sw),
               ofptype_get_name(type));
    }
}

/* Forgets the probes that held connections asked of 'c'. */
static void
release_held(struct sconn *c)
{
    struct sconn *h;
    LIST_FOR_EACH (h, node, &c->ss->conns) {
        if (h->state == SCONN_HELD && h->holder == c) {
            ofchan_forget_requests(ofswitch_chan(c->sw), h);
            probe_reply(NULL, NULL, 0, ECONNRESET, true, h);
        }
    }
}

static void
conn_closed(struct ofswitch *sw, const char *reason, void *c_)
{
    struct sconn *c = c_;
    struct switches *ss = c->ss;

    if (c->state == SCONN_HELD) {
        ofchan_forget_requests(ofswitch_chan(c->holder->sw), c);
    }
    if (c->state == SCONN_SERVING && c->br->conn == c) {
        struct swbridge *br = c->br;
        RL_WARN("bridge %s disconnected (%s): its flows stay in "
                "place",
                br->name, reason);
        br->conn = NULL;
        br->lost_at = ev_now(ss->loop);
        c->state = SCONN_NEW;
        bridge_arm_forget(br);
        ss->cbs->lost(ss->aux, br->name, reason);
        release_held(c); /* A held newcomer may serve now. */
    } else {
        RL_INFO("%s: connection closed (%s)", ofswitch_peer(sw), reason);
    }
    oflisten_active_lost(c->active);
    conn_destroy(c);
}

static const struct ofswitch_callbacks conn_cbs = {
    .ready = conn_ready,
    .port_changed = conn_port_changed,
    .message = conn_message,
    .closed = conn_closed,
};

static void
conn_new(int fd, const char *peer, struct oflisten_active *active, void *ss_)
{
    struct switches *ss = ss_;
    struct sconn *c = xzalloc(sizeof *c);

    c->ss = ss;
    c->active = active;
    c->state = SCONN_NEW;
    ovs_list_push_back(&ss->conns, &c->node);
    c->sw = ofswitch_create(ss->loop, fd, peer, &ss->opts, &conn_cbs, c);
    VLOG_INFO("%s: new OpenFlow connection", peer);
}

/* Accessors. */

static const struct ofswitch *
serving(const struct switches *ss, const char *bridge)
{
    const struct swbridge *br = bridge_find(ss, bridge);
    return br && br->conn ? br->conn->sw : NULL;
}

struct ofchan *
switches_chan(const struct switches *ss, const char *bridge)
{
    const struct ofswitch *sw = serving(ss, bridge);
    return sw ? ofswitch_chan(sw) : NULL;
}

bool
switches_is_connected(const struct switches *ss, const char *bridge)
{
    return serving(ss, bridge) != NULL;
}

const struct ofswitch_port *
switches_port(const struct switches *ss, const char *bridge, const char *port)
{
    const struct ofswitch *sw = serving(ss, bridge);
    return sw ? ofswitch_port_by_name(sw, port) : NULL;
}

const struct ofswitch_port *
switches_port_by_number(const struct switches *ss, const char *bridge,
                        uint32_t number)
{
    const struct ofswitch *sw = serving(ss, bridge);
    return sw ? ofswitch_port_by_number(sw, number) : NULL;
}

int
switches_packet_out(struct switches *ss, const char *bridge, uint32_t port,
                    const struct dp_packet *pkt)
{
    struct ofchan *chan = switches_chan(ss, bridge);
    if (!chan) {
        return ENOTCONN;
    }
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
    return ofchan_send(chan, msg);
}

void
switches_get_stats(const struct switches *ss, struct switches_stats *st)
{
    *st = (struct switches_stats){
        .n_bridges = hmap_count(&ss->bridges),
        .n_connections = ovs_list_size(&ss->conns),
        .refused = ss->refused,
    };
    const struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        st->n_connected += br->conn != NULL;
    }
}

bool
switches_knows(const struct switches *ss, const char *bridge)
{
    return bridge_find(ss, bridge) != NULL;
}

uint64_t
switches_dpid(const struct switches *ss, const char *bridge)
{
    const struct swbridge *br = bridge_find(ss, bridge);
    return br ? br->dpid : 0;
}

unsigned int
switches_n_connects(const struct switches *ss, const char *bridge)
{
    const struct swbridge *br = bridge_find(ss, bridge);
    return br ? br->n_connects : 0;
}

double
switches_connected_since(const struct switches *ss, const char *bridge)
{
    const struct swbridge *br = bridge_find(ss, bridge);
    return br && br->conn ? br->connected_at : 0;
}

json_t *
switches_bridge_to_json(const struct switches *ss, const char *bridge)
{
    const struct swbridge *br = bridge_find(ss, bridge);
    if (!br) {
        return NULL;
    }
    json_t *o;
    char dpid[17];
    if (br->conn) {
        o = ofswitch_to_json(br->conn->sw);
    } else {
        snprintf(dpid, sizeof dpid, "%016" PRIx64, br->dpid);
        o = json_object();
        json_object_set_new(o, "name", json_string(br->name));
        json_object_set_new(o, "datapath_id", json_string(dpid));
        json_object_set_new(o, "connected", json_false());
        json_object_set_new(o, "ports", json_array());
    }
    if (br->pin_dpid || br->pin_cn) {
        json_t *pin = json_object();
        if (br->pin_dpid) {
            snprintf(dpid, sizeof dpid, "%016" PRIx64, br->pin_dpid);
            json_object_set_new(pin, "datapath_id", json_string(dpid));
        }
        if (br->pin_cn) {
            json_object_set_new(pin, "peer_cn", json_string(br->pin_cn));
        }
        json_object_set_new(o, "pinned", pin);
    }
    if (br->n_refused) {
        const struct refusal *r = &br->last_refused;
        json_t *last = json_object();
        snprintf(dpid, sizeof dpid, "%016" PRIx64, r->dpid);
        json_object_set_new(last, "peer", json_string(r->peer));
        json_object_set_new(last, "datapath_id", json_string(dpid));
        if (r->cn) {
            json_object_set_new(last, "peer_cn", json_string(r->cn));
        }
        json_object_set_new(last, "reason", json_string(r->reason));
        json_object_set_new(last, "at", json_real(r->at));
        json_object_set_new(o, "refused",
                            json_pack("{s:I, s:o}", "count",
                                      (json_int_t) br->n_refused, "last",
                                      last));
    }
    return o;
}

void
switches_for_each(const struct switches *ss,
                  void (*cb)(const char *bridge, void *aux), void *aux)
{
    struct svec names = SVEC_EMPTY_INITIALIZER;
    const struct swbridge *br;
    HMAP_FOR_EACH (br, node, &ss->bridges) {
        svec_add(&names, br->name);
    }
    svec_sort(&names);
    const char *name;
    size_t i;
    SVEC_FOR_EACH (i, name, &names) {
        cb(name, aux);
    }
    svec_destroy(&names);
}
