/*
 * engine-events: what the parts the engine wires tell it (switches:
 * bridges ready and lost, port status, messages; probes: verdicts and
 * what they need to send; meters; the announcer's rounds), turned into
 * marks on the engine's state (engine-core.h) and a scheduled run.
 */
#include "engine-core.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "alias.h"
#include "announce.h"
#include "announcer.h"
#include "config.h"
#include "dp-packet.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowtab.h"
#include "meters.h"
#include "ofchan.h"
#include "ofswitch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/vlog.h"
#include "probes.h"
#include "ratelog.h"
#include "switches.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine_events);

/* Switches. */

static void
sw_ready(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    ebridge_connect(ebridge_get(eng, bridge));

    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64,
             switches_dpid(eng->sw, bridge));
    json_object_set_new(ev, "datapath_id", json_string(dpid));
    engine_publish(eng, "bridge_connected", ev);
    /* The election waits for flows_read(). */
}

static void
sw_lost(void *eng_, const char *bridge, const char *reason)
{
    struct engine *eng = eng_;
    struct ebridge *br = ebridge_find(eng, bridge);
    if (!br) {
        return;
    }
    ebridge_disconnect(br, NULL);
    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    json_object_set_new(ev, "reason", json_string(reason));
    engine_publish(eng, "bridge_disconnected", ev);
    if (ovs_list_is_empty(&br->recs)) {
        ebridge_destroy(br); /* Nothing of vmacd's uses it. */
    }
    engine_schedule_update(eng, ev_time(), "bridge disconnected");
}

static void
sw_port_changed(void *eng_, const char *bridge, const char *port)
{
    struct engine *eng = eng_;
    double t = ev_time();
    struct ebridge *br = ebridge_find(eng, bridge);
    const struct ofswitch_port *op = switches_port(eng->sw, bridge, port);

    if (br) {
        struct eport *p = eport_find(br, port);
        if (p) {
            eport_sync(br, p, true);
        }
        if (config_is_uplink(eng->cfg, bridge, port)) {
            ebridge_update_inputs(br);
        }
    }

    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    json_object_set_new(ev, "port", json_string(port));
    json_object_set_new(ev, "present", json_boolean(op != NULL));
    if (op) {
        json_object_set_new(ev, "link_down", json_boolean(op->link_down));
        json_object_set_new(ev, "admin_down", json_boolean(op->admin_down));
    }
    engine_publish(eng, "port_status", ev);
    engine_schedule_update(eng, t, "port status");
}

static void
sw_message(void *eng_, const char *bridge, enum ofptype type,
           const struct ofp_header *oh)
{
    struct engine *eng = eng_;
    const struct ebridge *br = ebridge_find(eng, bridge);

    if (type == OFPTYPE_PACKET_IN) {
        probes_packet_in(eng->probes, bridge, oh); /* Probe replies. */
    } else if (type == OFPTYPE_ERROR) {
        if (meters_handle_error(eng->meters, bridge, oh)
            || (br && br->ft && flowtab_handle_error(br->ft, oh))) {
            return;
        }
        enum ofperr err = ofperr_decode_msg(oh, NULL);
        RL_WARN("%s: OpenFlow error for xid %#" PRIx32 ": %s",
                bridge, ntohl(oh->xid),
                err ? ofperr_to_string(err) : "undecodable");
    } else {
        /* Nothing of vmacd's asks for these (FLOW_REMOVED, ROLE_STATUS,
         * TABLE_STATUS, REQUESTFORWARD...). */
        RL_DBG("%s: ignoring %s", bridge, ofptype_get_name(type));
    }
}

const struct switches_callbacks engine_switches_cbs = {
    .ready = sw_ready,
    .lost = sw_lost,
    .port_changed = sw_port_changed,
    .message = sw_message,
};

/* Probes. */

static bool
pr_port_up(void *eng_, const char *bridge, const char *port, uint32_t *ofport)
{
    struct engine *eng = eng_;
    const struct ofswitch_port *op = switches_port(eng->sw, bridge, port);
    const struct ebridge *br = ebridge_find(eng, bridge);
    if (!op || op->link_down || op->admin_down || !br || !br->ft) {
        return false;
    }
    *ofport = op->number;
    return true;
}

static const char *
pr_port_name(void *eng_, const char *bridge, uint32_t ofport)
{
    struct engine *eng = eng_;
    const struct ofswitch_port *op
        = switches_port_by_number(eng->sw, bridge, ofport);
    return op ? op->name : NULL;
}

static int
pr_send(void *eng_, const char *bridge, uint32_t ofport,
        const struct dp_packet *pkt)
{
    struct engine *eng = eng_;
    return switches_packet_out(eng->sw, bridge, ofport, pkt);
}

static void
pr_receive_pending(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    if (chan) {
        ofchan_receive_pending(chan, 1 << 20);
    }
}

static uint64_t
pr_tx_mark(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    return chan ? ofchan_tx_mark(chan) : 0;
}

static bool
pr_delivered(void *eng_, const char *bridge, uint64_t mark)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    return chan && ofchan_tx_delivered(chan, mark);
}

static void
pr_changed(void *eng_, const char *alias, const char *member,
           const char *reason)
{
    struct engine *eng = eng_;
    struct ealias *ea = ealias_find(eng, alias);
    int m = ea ? engine_member_index(ea->cfg, member) : -1;
    if (m >= 0) {
        ealias_member_sync(ea, m);
        ealias_mark(ea);
        engine_schedule_update(eng, ev_time(), reason);
    }
}

static void
pr_publish(void *eng_, const char *type, json_t *event)
{
    engine_publish(eng_, type, event);
}

const struct probes_callbacks engine_probes_cbs = {
    .port_up = pr_port_up,
    .port_name = pr_port_name,
    .send = pr_send,
    .tx_mark = pr_tx_mark,
    .delivered = pr_delivered,
    .receive_pending = pr_receive_pending,
    .changed = pr_changed,
    .publish = pr_publish,
};

static struct ofchan *
mt_chan(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    const struct ebridge *br = ebridge_find(eng, bridge);
    return br && br->ft ? switches_chan(eng->sw, bridge) : NULL;
}

const struct meters_callbacks engine_meters_cbs = {
    .chan = mt_chan,
};

/* Announcements. */

/* How uplink 'u' of 'br' carries 'ea''s VLAN: on a bridge without VLANs,
 * untagged. */
static enum flowgen_carry
uplink_carry(const struct ebridge *br, size_t u, const struct ealias *ea)
{
    return (br->fg.vlan_aware
                ? flowinput_carry(&br->fg.uplink_vlans[u], MAX(ea->vlan, 0))
                : FLOWGEN_CARRY_UNTAGGED);
}

/* Logs, once for each set of them, the uplinks of 'br' that a round of
 * 'ea' left out because they do not carry its VLAN ('skipped', a list of
 * names, or empty). */
static void
note_skipped(struct ealias *ea, const struct ebridge *br, struct ds *skipped)
{
    const char *now = ds_cstr(skipped);
    if (!ea->announce_skipped || strcmp(ea->announce_skipped, now)) {
        if (now[0]) {
            VLOG_INFO("alias %s: no announcements out of uplink(s) %s of "
                      "%s: they do not carry its VLAN %d",
                      ea->cfg->name, now, br->name, MAX(ea->vlan, 0));
        }
        free(ea->announce_skipped);
        ea->announce_skipped = xstrdup(now);
    }
}

/* Announcements: one round, every address of the alias on every uplink of
 * the master's bridge that carries its VLAN (tagged on a trunk of it,
 * untagged on an access uplink of it or without VLANs). */
int
engine_announce_round(void *eng_, const char *alias)
{
    struct engine *eng = eng_;
    struct ealias *ea = ealias_find(eng, alias);
    int m = ea ? alias_state_master(ea->st) : -1;
    if (m < 0) {
        return -ENOENT;
    }
    const struct cfg_alias *a = ea->cfg;
    const char *bridge = a->members[m].bridge;
    const struct ebridge *br = ebridge_find(eng, bridge);
    if (!br || !br->ft) {
        return -ENOTCONN;
    }
    struct dp_packet pkt;
    dp_packet_init(&pkt, 128);
    struct ds skipped = DS_EMPTY_INITIALIZER;
    int n = 0;
    for (size_t u = 0; u < br->fg.n_uplinks; u++) {
        uint32_t port = br->fg.uplinks[u];
        enum flowgen_carry carry = uplink_carry(br, u, ea);
        if (carry == FLOWGEN_CARRY_NONE) {
            const struct ofswitch_port *op
                = switches_port_by_number(eng->sw, bridge, port);
            ds_put_format(&skipped, "%s%s", skipped.length ? "," : "",
                          op ? op->name : "?");
            continue;
        }
        for (size_t i = 0; i < a->n_ip4 + a->n_ip6; i++) {
            if (i < a->n_ip4) {
                announce_build_garp(&pkt, a->vmac, a->ip4[i]);
            } else {
                announce_build_una(&pkt, a->vmac, &a->ip6[i - a->n_ip4]);
            }
            if (carry == FLOWGEN_CARRY_TAGGED) {
                announce_tag(&pkt, ea->vlan);
            }
            n += !switches_packet_out(eng->sw, bridge, port, &pkt);
        }
    }
    note_skipped(ea, br, &skipped);
    ds_destroy(&skipped);
    dp_packet_uninit(&pkt);
    return n;
}

int
engine_announce_now(struct engine *eng, const char *alias, struct verror *e)
{
    const struct ealias *ea = ealias_find(eng, alias);
    int m = ea ? alias_state_master(ea->st) : -1;
    if (m < 0) {
        return verror_set(e, ENOENT, VERR_CONFLICT, "name",
                          "alias %s has no master", alias);
    }
    const char *bridge = ea->cfg->members[m].bridge;
    if (!switches_is_connected(eng->sw, bridge)) {
        return verror_set(e, ENOTCONN, VERR_CONFLICT, "name",
                          "bridge %s of the master is not connected", bridge);
    }
    announcer_start(eng->ann, ea->cfg);
    return 0;
}
