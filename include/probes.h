/*
 * probes: the health probes of the members, on the engine's loop.
 *
 * One prober per probed member (config_member_probe_type() is not
 * CFG_PROBE_NONE), named by its alias and member names: probesched sends
 * one probe every interval (interval_ms for the alias's master and while
 * the alias has none, backup_interval_ms for the others) on the member's
 * port from its bridge's probe identity; the reply (a packet-in through
 * the port's meter, flowgen's probe flows) or its absence within
 * timeout_ms feeds the member's health state machine (health.h).  A
 * prober's verdict and the MAC it learns make the member usable or not
 * for the alias model ("changed" callback); it owns no other state.
 *
 * The probe type "arp" resolves the member's address: an ARP probe for an
 * IPv4 ip, an ND probe (Neighbor Solicitation) for an IPv6 one.  TCP
 * probes are SYNs from the identity's IP to the member's port: a SYN-ACK
 * is alive (the connection is then reset), RST or silence is dead.
 * probepkt.h describes the packets.
 *
 * New probers start at phases spread over their interval (per bridge), so
 * the probes of one bridge do not leave in bursts.
 */
#ifndef VMACD_PROBES_H
#define VMACD_PROBES_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct cfg_alias;
struct config;
struct dp_packet;
struct eth_addr;
struct ofp_header;
struct probemeter;
struct probes;

struct probes_callbacks {
    /* The OpenFlow number of 'port' on 'bridge' if it exists, its link is
     * up and the bridge is connected. */
    bool (*port_up)(void *aux, const char *bridge, const char *port,
                    uint32_t *ofport);
    /* The name of OpenFlow port 'ofport' on 'bridge', or NULL. */
    const char *(*port_name)(void *aux, const char *bridge, uint32_t ofport);
    /* Sends 'pkt' out of OpenFlow port 'ofport' of 'bridge'. */
    int (*send)(void *aux, const char *bridge, uint32_t ofport,
                const struct dp_packet *pkt);
    /* The position in 'bridge''s connection after what was sent so far,
     * and whether the switch has taken everything up to 'mark'. */
    uint64_t (*tx_mark)(void *aux, const char *bridge);
    bool (*delivered)(void *aux, const char *bridge, uint64_t mark);
    /* Reads now what 'bridge' sent that the loop has not read yet. */
    void (*receive_pending)(void *aux, const char *bridge);
    /* Member 'member' of alias 'alias' became usable or unusable, or its
     * MAC changed ('reason' says why). */
    void (*changed)(void *aux, const char *alias, const char *member,
                    const char *reason);
    /* An event for the API's stream ('event' stolen). */
    void (*publish)(void *aux, const char *type, json_t *event);
};

struct probes *probes_create(struct ev_loop *, const struct probes_callbacks *,
                             void *aux);
void probes_destroy(struct probes *); /* NULL-safe. */

/* The config the probers belong to (probe identities, effective probe
 * types).  Set it before syncing aliases, and again after a reload. */
void probes_set_config(struct probes *, const struct config *);

/* Makes the probers of one alias those of 'new' (NULL: none), given
 * those of 'old' (NULL: none), keeping the state of members whose probe
 * target (bridge, port, ip, type, fall, rise) did not change. */
void probes_sync_alias(struct probes *, const struct cfg_alias *old,
                       const struct cfg_alias *new);

/* The link of 'port' on 'bridge' is up or down ('connected' false: the
 * bridge is gone, which is no verdict either way). */
void probes_port(struct probes *, const char *bridge, const char *port,
                 bool connected, bool up);

/* The members probed on 'port' of 'bridge' lose their verdict (the bridge
 * reconnected: they may have restarted meanwhile): UP ones become unknown
 * and "unverified" until their probes decide again (health_forget()). */
void probes_port_forget(struct probes *, const char *bridge,
                        const char *port, const char *reason);
/* False while the member's verdict is forgotten (see above). */
bool probes_member_verified(const struct probes *, const char *alias,
                            const char *member);

/* Member 'master' (index, -1: none) is the master of 'alias' now. */
void probes_set_master(struct probes *, const struct cfg_alias *,
                       int master);

/* A packet-in from 'bridge' (probe replies). */
void probes_packet_in(struct probes *, const char *bridge,
                      const struct ofp_header *);

/* Sends the probes due now (only those whose previous probe was answered),
 * for code that holds the loop for milliseconds: building a large API
 * reply calls it between members.  Sending is all it does. */
void probes_yield(struct probes *);

/* The member as the alias model sees it: probed ('*probed'), usable (its
 * verdict and a known MAC) and its MAC. */
bool probes_member_usable(const struct probes *, const char *alias,
                          const char *member, bool *probed);
bool probes_member_mac(const struct probes *, const char *alias,
                       const char *member, struct eth_addr *);

/* For the API: one member's probe state (with the meter its replies go
 * through, or NULL), and every prober together (counts and the
 * send-lateness histogram). */
json_t *probes_member_to_json(const struct probes *, const char *alias,
                              const char *member, const struct probemeter *);
json_t *probes_status_json(const struct probes *);

#endif /* probes.h */
