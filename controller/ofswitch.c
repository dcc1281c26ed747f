/*
 * ofswitch: one connected OpenFlow switch (see ofswitch.h).
 *
 * States: NEGOTIATING (ofchan HELLO) -> HANDSHAKE (features and port desc
 * requested) -> READY.  A reply that fails to decode closes the connection.
 *
 * Ports are kept in two hash maps, by number and by name, so that a
 * PORT_STATUS costs O(1) however many ports the switch has; only the dumps
 * (ofswitch_ports(), ofswitch_to_json()) sort them.
 */
#include "ofswitch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ofchan.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "hash.h"
#include "ifname.h"
#include "packets.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofswitch);

#define HANDSHAKE_TIMEOUT_MS 10000
#define MAX_PORTS 65536

enum ofswitch_state {
    SW_NEGOTIATING,
    SW_HANDSHAKE,
    SW_READY,
};

/* One port, in both maps. */
struct sw_port {
    struct hmap_node by_number; /* In ofswitch->by_number. */
    struct hmap_node by_name;   /* In ofswitch->by_name. */
    struct ofswitch_port p;
};

struct ofswitch {
    struct ofchan *chan;
    char *peer;
    const struct ofswitch_callbacks *cbs;
    void *aux;
    void *owner_data;

    enum ofswitch_state state;
    bool have_features, have_ports;
    uint64_t dpid;
    char name[16];

    struct hmap by_number;        /* struct sw_port, by port number. */
    struct hmap by_name;          /* struct sw_port, by name (a name twice: the
                                   * lookup finds one of them). */
    struct ofswitch_port *sorted; /* Cache for ofswitch_ports(), or NULL. */
    struct ofswitch_port *new_ports; /* PORT_DESC being received. */
    size_t n_new_ports, allocated_new_ports;
};

static void ports_clear(struct ofswitch *);
static void sw_chan_connected(struct ofchan *, void *aux);
static void sw_chan_message(struct ofchan *, enum ofptype,
                            const struct ofp_header *, void *aux);
static void sw_chan_closed(struct ofchan *, const char *reason, void *aux);

static const struct ofchan_callbacks sw_chan_cbs = {
    .connected = sw_chan_connected,
    .message = sw_chan_message,
    .closed = sw_chan_closed,
};

struct ofswitch *
ofswitch_create(struct ev_loop *loop, int fd, const char *peer,
                const struct ofchan_options *opts,
                const struct ofswitch_callbacks *cbs, void *aux)
{
    struct ofswitch *sw = xzalloc(sizeof *sw);
    sw->peer = xstrdup(peer);
    sw->cbs = cbs;
    sw->aux = aux;
    sw->state = SW_NEGOTIATING;
    hmap_init(&sw->by_number);
    hmap_init(&sw->by_name);
    sw->chan = ofchan_create(loop, fd, peer, opts, &sw_chan_cbs, sw);
    return sw;
}

void
ofswitch_destroy(struct ofswitch *sw)
{
    if (!sw) {
        return;
    }
    ofchan_destroy(sw->chan);
    ports_clear(sw);
    hmap_destroy(&sw->by_number);
    hmap_destroy(&sw->by_name);
    free(sw->new_ports);
    free(sw->peer);
    free(sw);
}

static void
port_from_phy(struct ofswitch_port *p, const struct ofputil_phy_port *pp)
{
    memset(p, 0, sizeof *p);
    p->number = (OVS_FORCE uint32_t) pp->port_no;
    ovs_strlcpy(p->name, pp->name, sizeof p->name);
    p->mac = pp->hw_addr;
    p->admin_down = (pp->config & OFPUTIL_PC_PORT_DOWN) != 0;
    p->link_down = (pp->state & OFPUTIL_PS_LINK_DOWN) != 0;
}

static int
port_cmp(const void *a_, const void *b_)
{
    const struct ofswitch_port *a = a_, *b = b_;
    return a->number < b->number ? -1 : a->number > b->number;
}

static struct sw_port *
port_find(const struct ofswitch *sw, uint32_t number)
{
    struct sw_port *sp;
    HMAP_FOR_EACH_WITH_HASH (sp, by_number, hash_int(number, 0),
                             &sw->by_number) {
        if (sp->p.number == number) {
            return sp;
        }
    }
    return NULL;
}

static struct sw_port *
port_find_name(const struct ofswitch *sw, const char *name)
{
    struct sw_port *sp;
    HMAP_FOR_EACH_WITH_HASH (sp, by_name, hash_string(name, 0), &sw->by_name) {
        if (!strcmp(sp->p.name, name)) {
            return sp;
        }
    }
    return NULL;
}

static void
ports_changed(struct ofswitch *sw)
{
    free(sw->sorted);
    sw->sorted = NULL;
}

static void
port_insert(struct ofswitch *sw, const struct ofswitch_port *p)
{
    struct sw_port *sp = xmalloc(sizeof *sp);
    sp->p = *p;
    hmap_insert(&sw->by_number, &sp->by_number, hash_int(p->number, 0));
    hmap_insert(&sw->by_name, &sp->by_name, hash_string(p->name, 0));
    ports_changed(sw);
}

static void
port_remove(struct ofswitch *sw, struct sw_port *sp)
{
    hmap_remove(&sw->by_number, &sp->by_number);
    hmap_remove(&sw->by_name, &sp->by_name);
    free(sp);
    ports_changed(sw);
}

/* Replaces 'sp''s description with 'p' (same number). */
static void
port_update(struct ofswitch *sw, struct sw_port *sp,
            const struct ofswitch_port *p)
{
    if (strcmp(sp->p.name, p->name)) {
        hmap_remove(&sw->by_name, &sp->by_name);
        hmap_insert(&sw->by_name, &sp->by_name, hash_string(p->name, 0));
    }
    sp->p = *p;
    ports_changed(sw);
}

static void
ports_clear(struct ofswitch *sw)
{
    struct sw_port *sp;
    HMAP_FOR_EACH_POP (sp, by_number, &sw->by_number) {
        free(sp);
    }
    hmap_clear(&sw->by_name);
    ports_changed(sw);
}

static void
sw_maybe_ready(struct ofswitch *sw)
{
    if (sw->state != SW_HANDSHAKE || !sw->have_features || !sw->have_ports) {
        return;
    }
    const struct sw_port *local = port_find(sw, OFPP_LOCAL);
    if (!local) {
        RL_WARN("%s: switch has no LOCAL port; cannot name it", sw->peer);
        ofchan_close(sw->chan, "no LOCAL port");
        return;
    }
    ovs_strlcpy(sw->name, local->p.name, sizeof sw->name);
    sw->state = SW_READY;
    /* The name is the switch's word: escaped until switches.c checked
     * it. */
    char esc[4 * IFNAME_MAX_LEN + 1];
    VLOG_INFO("%s: bridge %s ready (datapath id %016" PRIx64
              ", %zu ports, %s)",
              sw->peer, ifname_escape(sw->name, esc, sizeof esc), sw->dpid,
              hmap_count(&sw->by_number),
              ofputil_version_to_string(ofchan_version(sw->chan)));
    sw->cbs->ready(sw, sw->aux);
}

static void
sw_features_reply(struct ofchan *chan, const struct ofp_header *oh,
                  enum ofptype type, int error, bool final OVS_UNUSED,
                  void *sw_)
{
    struct ofswitch *sw = sw_;

    if (!oh) {
        ofchan_close(chan, error == ETIMEDOUT ? "features request timed out"
                                              : "closed");
        return;
    }
    if (type != OFPTYPE_FEATURES_REPLY) {
        RL_WARN("%s: features request failed", sw->peer);
        ofchan_close(chan, "features request failed");
        return;
    }
    struct ofputil_switch_features f;
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    enum ofperr err = ofputil_pull_switch_features(&b, &f);
    if (err) {
        RL_WARN("%s: bad features reply: %s", sw->peer, ofperr_to_string(err));
        ofchan_close(chan, "bad features reply");
        return;
    }
    sw->dpid = f.datapath_id;
    sw->have_features = true;
    sw_maybe_ready(sw);
}

/* Appends the ports in multipart reply 'oh' to sw->new_ports.  Returns
 * false on a decoding error. */
static bool
sw_pull_ports(struct ofswitch *sw, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    enum ofpraw raw;
    if (ofpraw_pull(&raw, &b)) {
        return false;
    }
    for (;;) {
        struct ofputil_phy_port pp;
        int retval = ofputil_pull_phy_port(oh->version, &b, &pp);
        if (retval == EOF) {
            return true;
        } else if (retval) {
            return false;
        }
        if (sw->n_new_ports >= MAX_PORTS) {
            return false;
        }
        if (sw->n_new_ports >= sw->allocated_new_ports) {
            sw->new_ports = x2nrealloc(sw->new_ports, &sw->allocated_new_ports,
                                       sizeof *sw->new_ports);
        }
        port_from_phy(&sw->new_ports[sw->n_new_ports++], &pp);
    }
}

static void
sw_port_desc_reply(struct ofchan *chan, const struct ofp_header *oh,
                   enum ofptype type, int error, bool final, void *sw_)
{
    struct ofswitch *sw = sw_;

    if (!oh) {
        ofchan_close(chan, error == ETIMEDOUT ? "port desc request timed out"
                                              : "closed");
        return;
    }
    if (type != OFPTYPE_PORT_DESC_STATS_REPLY || !sw_pull_ports(sw, oh)) {
        RL_WARN("%s: port desc request failed or reply "
                "undecodable",
                sw->peer);
        ofchan_close(chan, "bad port desc reply");
        return;
    }
    if (!final) {
        return;
    }
    ports_clear(sw);
    for (size_t i = 0; i < sw->n_new_ports; i++) {
        const struct ofswitch_port *np = &sw->new_ports[i];
        struct sw_port *sp = port_find(sw, np->number);
        if (sp) {
            /* A number listed twice: the last description wins. */
            port_update(sw, sp, np);
        } else {
            port_insert(sw, np);
        }
    }
    free(sw->new_ports);
    sw->new_ports = NULL;
    sw->n_new_ports = sw->allocated_new_ports = 0;
    sw->have_ports = true;
    sw_maybe_ready(sw);
}

static void
sw_chan_connected(struct ofchan *chan, void *sw_)
{
    struct ofswitch *sw = sw_;
    enum ofp_version v = ofchan_version(chan);

    sw->state = SW_HANDSHAKE;
    struct ofpbuf *req = ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST, v, 0);
    if (ofchan_request(chan, req, sw_features_reply, sw,
                       HANDSHAKE_TIMEOUT_MS)) {
        return;
    }

    /* Full packets up to 1,500 bytes in packet-ins (probe replies). */
    struct ofputil_switch_config sc = {
        .frag = OFPUTIL_FRAG_NORMAL,
        .invalid_ttl_to_controller = -1,
        .miss_send_len = 1500,
    };
    if (ofchan_send(chan, ofputil_encode_set_config(&sc, v))) {
        return;
    }
    ofchan_request(chan, ofputil_encode_port_desc_stats_request(v, OFPP_ANY),
                   sw_port_desc_reply, sw, HANDSHAKE_TIMEOUT_MS);
}

static void
sw_port_status(struct ofswitch *sw, const struct ofp_header *oh)
{
    struct ofputil_port_status ps;
    enum ofperr err = ofputil_decode_port_status(oh, &ps);
    if (err) {
        RL_WARN("%s: bad PORT_STATUS: %s", sw->peer, ofperr_to_string(err));
        ofchan_close(sw->chan, "bad port status");
        return;
    }
    struct ofswitch_port np;
    port_from_phy(&np, &ps.desc);

    struct sw_port *sp = port_find(sw, np.number);
    if (ps.reason == OFPPR_DELETE) {
        if (!sp) {
            return;
        }
        port_remove(sw, sp);
    } else if (sp) {
        if (!memcmp(&sp->p, &np, sizeof np)) {
            return;
        }
        if (strcmp(sp->p.name, np.name)) {
            /* Renamed in place: report the old name as changed too. */
            char old[16];
            ovs_strlcpy(old, sp->p.name, sizeof old);
            port_update(sw, sp, &np);
            if (sw->state == SW_READY) {
                sw->cbs->port_changed(sw, old, sw->aux);
            }
        } else {
            port_update(sw, sp, &np);
        }
    } else {
        if (hmap_count(&sw->by_number) >= MAX_PORTS) {
            RL_WARN("%s: too many ports", sw->peer);
            return;
        }
        port_insert(sw, &np);
    }
    VLOG_DBG("%s: port %s (%" PRIu32 ") %s%s%s", sw->peer, np.name, np.number,
             ps.reason == OFPPR_DELETE ? "deleted"
             : ps.reason == OFPPR_ADD  ? "added"
                                       : "modified",
             np.link_down ? ", link down" : "",
             np.admin_down ? ", admin down" : "");
    if (sw->state == SW_READY) {
        sw->cbs->port_changed(sw, np.name, sw->aux);
    }
}

static void
sw_chan_message(struct ofchan *chan OVS_UNUSED, enum ofptype type,
                const struct ofp_header *oh, void *sw_)
{
    struct ofswitch *sw = sw_;

    if (type == OFPTYPE_PORT_STATUS) {
        sw_port_status(sw, oh);
    } else {
        sw->cbs->message(sw, type, oh, sw->aux);
    }
}

static void
sw_chan_closed(struct ofchan *chan OVS_UNUSED, const char *reason, void *sw_)
{
    struct ofswitch *sw = sw_;
    sw->cbs->closed(sw, reason, sw->aux);
}

struct ofchan *
ofswitch_chan(const struct ofswitch *sw)
{
    return sw->chan;
}

bool
ofswitch_is_ready(const struct ofswitch *sw)
{
    return sw->state == SW_READY;
}

const char *
ofswitch_name(const struct ofswitch *sw)
{
    return sw->name;
}

const char *
ofswitch_peer(const struct ofswitch *sw)
{
    return sw->peer;
}

uint64_t
ofswitch_dpid(const struct ofswitch *sw)
{
    return sw->dpid;
}

void
ofswitch_set_owner_data(struct ofswitch *sw, void *data)
{
    sw->owner_data = data;
}

void *
ofswitch_get_owner_data(const struct ofswitch *sw)
{
    return sw->owner_data;
}

const char *
ofswitch_peer_cn(const struct ofswitch *sw)
{
    return ofchan_peer_cn(sw->chan);
}

const struct ofswitch_port *
ofswitch_port_by_name(const struct ofswitch *sw, const char *name)
{
    const struct sw_port *sp = port_find_name(sw, name);
    return sp ? &sp->p : NULL;
}

const struct ofswitch_port *
ofswitch_port_by_number(const struct ofswitch *sw, uint32_t number)
{
    const struct sw_port *sp = port_find(sw, number);
    return sp ? &sp->p : NULL;
}

size_t
ofswitch_ports(const struct ofswitch *sw_, const struct ofswitch_port **ports)
{
    /* The sorted copy is a cache: building it changes nothing visible. */
    struct ofswitch *sw = CONST_CAST(struct ofswitch *, sw_);
    size_t n = hmap_count(&sw->by_number);
    if (!sw->sorted) {
        sw->sorted = xmalloc(MAX(n, 1) * sizeof *sw->sorted);
        size_t i = 0;
        const struct sw_port *sp;
        HMAP_FOR_EACH (sp, by_number, &sw->by_number) {
            sw->sorted[i++] = sp->p;
        }
        qsort(sw->sorted, n, sizeof *sw->sorted, port_cmp);
    }
    *ports = sw->sorted;
    return n;
}

json_t *
ofswitch_port_to_json(const struct ofswitch_port *p)
{
    char mac[ETH_ADDR_STRLEN + 1];
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(p->mac));

    json_t *port = json_object();
    json_object_set_new(port, "name", json_string(p->name));
    if (p->number == OFPP_LOCAL) {
        json_object_set_new(port, "number", json_string("LOCAL"));
    } else {
        json_object_set_new(port, "number", json_integer(p->number));
    }
    json_object_set_new(port, "mac", json_string(mac));
    json_object_set_new(port, "link_down", json_boolean(p->link_down));
    json_object_set_new(port, "admin_down", json_boolean(p->admin_down));
    return port;
}

json_t *
ofswitch_to_json(const struct ofswitch *sw)
{
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64, sw->dpid);

    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(sw->name));
    json_object_set_new(o, "datapath_id", json_string(dpid));
    json_object_set_new(o, "connected", json_boolean(sw->state == SW_READY));
    json_object_set_new(o, "peer", json_string(sw->peer));
    const char *cn = ofswitch_peer_cn(sw);
    if (cn) {
        json_object_set_new(o, "peer_cn", json_string(cn));
    }
    json_object_set_new(
        o, "openflow_version",
        json_string(ofputil_version_to_string(ofchan_version(sw->chan))));
    const struct ofswitch_port *sorted;
    size_t n = ofswitch_ports(sw, &sorted);
    json_t *ports = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(ports, ofswitch_port_to_json(&sorted[i]));
    }
    json_object_set_new(o, "ports", ports);
    return o;
}
