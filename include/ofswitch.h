/*
 * ofswitch: one connected OpenFlow switch (an OVS bridge).
 *
 * Wraps an ofchan: after version negotiation it asks for the features
 * (datapath id), sets the switch config (miss_send_len), and reads the port
 * table (PORT_DESC), which PORT_STATUS keeps current.  The switch is
 * "ready" once both replies came back; its name is the LOCAL port's name.
 * Other messages go to the owner.
 */
#ifndef VMACD_OFSWITCH_H
#define VMACD_OFSWITCH_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"

struct ofchan;
struct ofchan_options;
struct ofswitch;

struct ofswitch_port {
    uint32_t number; /* OpenFlow port number. */
    char name[16];
    struct eth_addr mac;
    bool admin_down; /* OFPPC_PORT_DOWN. */
    bool link_down;  /* OFPPS_LINK_DOWN. */
};

struct ofswitch_callbacks {
    /* Features and port table known: the switch has a name and dpid. */
    void (*ready)(struct ofswitch *, void *aux);
    /* Port 'name' was added, removed or changed state. */
    void (*port_changed)(struct ofswitch *, const char *name, void *aux);
    /* A message not handled here (PACKET_IN, untracked errors...). */
    void (*message)(struct ofswitch *, enum ofptype, const struct ofp_header *,
                    void *aux);
    /* The connection ended; the owner must ofswitch_destroy() it (it may do
     * so inside this callback). */
    void (*closed)(struct ofswitch *, const char *reason, void *aux);
};

struct ofswitch *ofswitch_create(struct ev_loop *, int fd, const char *peer,
                                 const struct ofchan_options *,
                                 const struct ofswitch_callbacks *, void *aux);
void ofswitch_destroy(struct ofswitch *);

struct ofchan *ofswitch_chan(const struct ofswitch *);
bool ofswitch_is_ready(const struct ofswitch *);
const char *ofswitch_name(const struct ofswitch *); /* "" before ready. */
const char *ofswitch_peer(const struct ofswitch *);
uint64_t ofswitch_dpid(const struct ofswitch *);

/* The CN of the switch's verified TLS certificate, or NULL on a connection
 * without TLS (ofchan_peer_cn()); e.g. to pin a bridge to a certificate. */
const char *ofswitch_peer_cn(const struct ofswitch *);

/* Opaque token the owner may attach (e.g. the active connector). */
void ofswitch_set_owner_data(struct ofswitch *, void *);
void *ofswitch_get_owner_data(const struct ofswitch *);

const struct ofswitch_port *ofswitch_port_by_name(const struct ofswitch *,
                                                  const char *name);
const struct ofswitch_port *ofswitch_port_by_number(const struct ofswitch *,
                                                    uint32_t number);
/* Ports sorted by number; returns the count.  O(n log n) after a port
 * change (a cache); '*ports' is valid until the next change. */
size_t ofswitch_ports(const struct ofswitch *,
                      const struct ofswitch_port **ports);

/* {"name", "datapath_id", "connected", "peer", "peer_cn" (TLS only),
 *  "openflow_version", "ports": [...]} */
json_t *ofswitch_to_json(const struct ofswitch *);
json_t *ofswitch_port_to_json(const struct ofswitch_port *);

#endif /* ofswitch.h */
