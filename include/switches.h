/*
 * switches: the OpenFlow switches vmacd talks to, as bridges by name.
 *
 * Owns the listeners and connectors (oflisten), every connection
 * (ofswitch) and the bridge table.  A bridge is named after its LOCAL
 * port; one connection at a time serves it.  Identity rules:
 *
 *   - A connection for a bridge (by name or datapath id) that a live
 *     connection already serves does not replace it: the old one is asked
 *     for a barrier reply first; the newcomer is refused (logged, counted)
 *     if the old one answers within SWITCHES_PROBE_MS, and takes over if
 *     it does not (a switch that restarted while its old connection was
 *     not yet known to be dead).
 *   - A bridge's name must be a valid interface name (ifname.h): a switch
 *     that names its bridge "", "..", "../x" or with control bytes is
 *     refused.
 *   - A bridge pinned to a datapath id (switches_pin()) accepts only that
 *     datapath, and that datapath serves no other bridge.  A bridge
 *     pinned to a certificate CN accepts only a TLS connection whose
 *     verified certificate has that CN.  A pin set while a connection
 *     that breaks it serves the bridge closes that connection.
 *   - A disconnected bridge that nothing configured (switches_pin() or
 *     switches_keep()) is forgotten switches_set_forget_s() seconds later
 *     (default SWITCHES_FORGET_S).
 *
 * Every refusal is logged (rate-limited) and counted; one for a known
 * bridge is also shown in its JSON ("refused").
 *
 * The owner hears about bridges through callbacks, always from the loop,
 * and reads their state through the accessors below.
 */
#ifndef VMACD_SWITCHES_H
#define VMACD_SWITCHES_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/compiler.h"
#include "openvswitch/ofp-msgs.h"

struct dp_packet;
struct ofchan;
struct ofchan_options;
struct ofp_header;
struct ofswitch_port;
struct switches;
struct verror;

#define SWITCHES_PROBE_MS 2000
#define SWITCHES_FORGET_S 60

struct switches_callbacks {
    /* Bridge 'bridge' is connected and its port table known. */
    void (*ready)(void *aux, const char *bridge);
    /* Its connection ended ('reason'); its flows stay on the switch. */
    void (*lost)(void *aux, const char *bridge, const char *reason);
    /* Port 'port' of 'bridge' appeared, went or changed state. */
    void (*port_changed)(void *aux, const char *bridge, const char *port);
    /* Any other message from a bridge's serving connection (PACKET_IN,
     * an error for an untracked xid...). */
    void (*message)(void *aux, const char *bridge, enum ofptype,
                    const struct ofp_header *);
};

struct switches *switches_create(struct ev_loop *,
                                 const struct ofchan_options *,
                                 const struct switches_callbacks *, void *aux);
void switches_destroy(struct switches *); /* NULL-safe. */

/* Adds a listen or connect target (oflisten.h). */
int switches_add_target(struct switches *, const char *target,
                        struct verror *) OVS_WARN_UNUSED_RESULT;

/* Bridges that are never forgotten (configured, or carrying aliases).
 * Replaces the set of kept names. */
void switches_keep(struct switches *, const char *const *names, size_t n);

/* What pins a configured bridge to its switch. */
struct switches_pin {
    const char *name;
    uint64_t dpid;       /* 0: any datapath. */
    const char *peer_cn; /* NULL: any connection, with TLS or not. */
};
/* Replaces every bridge's pins (and keeps the pinned bridges, as
 * switches_keep() does, until the next switches_pin()).  A serving
 * connection that breaks its bridge's new pin is closed. */
void switches_pin(struct switches *, const struct switches_pin *, size_t n);

/* A disconnected bridge that is not kept is forgotten 's' seconds after
 * it disconnected (counted from then, also when 's' changes). */
void switches_set_forget_s(struct switches *, unsigned int s);

/* A bridge's serving connection, once ready; NULL otherwise. */
struct ofchan *switches_chan(const struct switches *, const char *bridge);
bool switches_is_connected(const struct switches *, const char *bridge);
const struct ofswitch_port *
switches_port(const struct switches *, const char *bridge, const char *port);
const struct ofswitch_port *switches_port_by_number(const struct switches *,
                                                    const char *bridge,
                                                    uint32_t number);
/* Sends 'pkt' out of OpenFlow port 'port' of 'bridge' by packet-out (in
 * port CONTROLLER).  Returns 0, ENOTCONN or the channel's error. */
int switches_packet_out(struct switches *, const char *bridge, uint32_t port,
                        const struct dp_packet *);

/* Counters. */
struct switches_stats {
    size_t n_bridges, n_connected, n_connections;
    uint64_t refused; /* Newcomers refused by the identity rules. */
};
void switches_get_stats(const struct switches *, struct switches_stats *);

/* The bridges (sorted by name) as the API shows them: name, datapath_id,
 * connected, connects, peer, ports...  (ofswitch_to_json() for connected
 * ones), "pinned": {"datapath_id", "peer_cn"} if pinned, and "refused":
 * {"count", "last": {"peer", "datapath_id", "peer_cn", "reason", "at"}}
 * once a connection for it was refused.  switches_bridge_to_json() returns
 * NULL for an unknown name. */
json_t *switches_bridge_to_json(const struct switches *, const char *bridge);
/* Calls 'cb' for every known bridge, sorted by name. */
void switches_for_each(const struct switches *,
                       void (*cb)(const char *bridge, void *aux), void *aux);
bool switches_knows(const struct switches *, const char *bridge);
uint64_t switches_dpid(const struct switches *, const char *bridge);
unsigned int switches_n_connects(const struct switches *, const char *bridge);
double switches_connected_since(const struct switches *, const char *bridge);

#endif /* switches.h */
