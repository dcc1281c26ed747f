/*
 * ofswitch: one connected OpenFlow switch (see ofswitch.h).
 *
 * States: NEGOTIATING (ofchan HELLO) -> HANDSHAKE (features and port desc
 * requested) -> READY.  A reply that fails to decode closes the connection.
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
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
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

    struct ofswitch_port *ports; /* Sorted by number. */
    struct shash by_name;        /* Port name -> index in 'ports' + 1. */
    size_t n_ports, allocated_ports;
    struct ofswitch_port *new_ports; /* PORT_DESC being received. */
    size_t n_new_ports, allocated_new_ports;
};

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
    shash_init(&sw->by_name);
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
    shash_destroy(&sw->by_name);
    free(sw->ports);
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

static struct ofswitch_port *
port_find(struct ofswitch_port *ports, size_t n, uint32_t number)
{
    struct ofswitch_port key = { .number = number };
    return bsearch(&key, ports, n, sizeof *ports, port_cmp);
}

/* Rebuilds the name index after 'ports' changed. */
static void
index_rebuild(struct ofswitch *sw)
{
    shash_clear(&sw->by_name);
    for (size_t i = 0; i < sw->n_ports; i++) {
        shash_add_once(&sw->by_name, sw->ports[i].name,
                       (void *) (uintptr_t) (i + 1));
    }
}

static void
sw_maybe_ready(struct ofswitch *sw)
{
    if (sw->state != SW_HANDSHAKE || !sw->have_features || !sw->have_ports) {
        return;
    }
    const struct ofswitch_port *local
        = port_find(sw->ports, sw->n_ports, OFPP_LOCAL);
    if (!local) {
        RL_WARN("%s: switch has no LOCAL port; cannot name it",
                sw->peer);
        ofchan_close(sw->chan, "no LOCAL port");
        return;
    }
    ovs_strlcpy(sw->name, local->name, sizeof sw->name);
    sw->state = SW_READY;
    VLOG_INFO("%s: bridge %s ready (datapath id %016" PRIx64
              ", %zu ports, %s)",
              sw->peer, sw->name, sw->dpid, sw->n_ports,
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
        RL_WARN("%s: bad features reply: %s", sw->peer,
                ofperr_to_string(err));
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
    free(sw->ports);
    sw->ports = sw->new_ports;
    sw->n_ports = sw->n_new_ports;
    sw->allocated_ports = sw->allocated_new_ports;
    sw->new_ports = NULL;
    sw->n_new_ports = sw->allocated_new_ports = 0;
    qsort(sw->ports, sw->n_ports, sizeof *sw->ports, port_cmp);
    index_rebuild(sw);
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
        RL_WARN("%s: bad PORT_STATUS: %s", sw->peer,
                ofperr_to_string(err));
        ofchan_close(sw->chan, "bad port status");
        return;
    }
    struct ofswitch_port np;
    port_from_phy(&np, &ps.desc);

    struct ofswitch_port *p = port_find(sw->ports, sw->n_ports, np.number);
    if (ps.reason == OFPPR_DELETE) {
        if (!p) {
            return;
        }
        size_t i = p - sw->ports;
        memmove(p, p + 1, (sw->n_ports - i - 1) * sizeof *p);
        sw->n_ports--;
        index_rebuild(sw);
    } else if (p) {
        if (!memcmp(p, &np, sizeof np)) {
            return;
        }
        if (strcmp(p->name, np.name)) {
            /* Renamed in place: report the old name as changed too. */
            char old[16];
            ovs_strlcpy(old, p->name, sizeof old);
            *p = np;
            index_rebuild(sw);
            if (sw->state == SW_READY) {
                sw->cbs->port_changed(sw, old, sw->aux);
            }
        } else {
            *p = np;
        }
    } else {
        if (sw->n_ports >= MAX_PORTS) {
            RL_WARN("%s: too many ports", sw->peer);
            return;
        }
        if (sw->n_ports >= sw->allocated_ports) {
            sw->ports = x2nrealloc(sw->ports, &sw->allocated_ports,
                                   sizeof *sw->ports);
        }
        sw->ports[sw->n_ports++] = np;
        qsort(sw->ports, sw->n_ports, sizeof *sw->ports, port_cmp);
        index_rebuild(sw);
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

const struct ofswitch_port *
ofswitch_port_by_name(const struct ofswitch *sw, const char *name)
{
    uintptr_t i = (uintptr_t) shash_find_data(&sw->by_name, name);
    return i ? &sw->ports[i - 1] : NULL;
}

const struct ofswitch_port *
ofswitch_port_by_number(const struct ofswitch *sw, uint32_t number)
{
    return port_find(sw->ports, sw->n_ports, number);
}

size_t
ofswitch_ports(const struct ofswitch *sw, const struct ofswitch_port **ports)
{
    *ports = sw->ports;
    return sw->n_ports;
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
    json_object_set_new(
        o, "openflow_version",
        json_string(ofputil_version_to_string(ofchan_version(sw->chan))));
    json_t *ports = json_array();
    for (size_t i = 0; i < sw->n_ports; i++) {
        json_array_append_new(ports, ofswitch_port_to_json(&sw->ports[i]));
    }
    json_object_set_new(o, "ports", ports);
    return o;
}
