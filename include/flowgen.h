/*
 * flowgen: the desired OpenFlow flows and groups of one bridge (pure).
 *
 * Given the config, the bridge's port numbers (through a lookup callback)
 * and the election state of every alias, flowgen_bridge() produces flow and
 * group lines in ovs-ofctl syntax (add-flow / add-group), in a
 * deterministic order: identical config and state give identical output.
 * The pipeline is documented in flows/README.md.
 */
#ifndef VMACD_FLOWGEN_H
#define VMACD_FLOWGEN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "svec.h"

struct alias_state;
struct config;
struct eth_addr;

/* Output of flowgen_bridge(). */
struct flowgen_out {
    struct svec flows;  /* "table=T,priority=P,cookie=0x...,MATCH,actions=A" */
    struct svec groups; /* "group_id=G,type=fast_failover[,bucket=...]..." */
};

void flowgen_out_init(struct flowgen_out *);
void flowgen_out_destroy(struct flowgen_out *); /* NULL-safe. */

/* Port lookup on the bridge: returns true and sets '*ofp_port' if a port
 * named 'port_name' exists. */
typedef bool flowgen_port_lookup(void *aux, const char *port_name,
                                 uint32_t *ofp_port);

/* Appends to 'out' the flows and groups wanted on bridge 'bridge'.
 * 'states[i]' belongs to cfg->aliases[i].  Only aliases with at least one
 * member on 'bridge' produce flows (members on other bridges are ignored);
 * the base table-miss flow is always produced. */
/* The same, in pieces: the base flow (cookie id 0), and the flows and group
 * of alias number 'idx' (nothing if the bridge does not carry it).
 * flowgen_bridge() is the base followed by every alias in order. */
void flowgen_base(const struct config *, struct flowgen_out *);
void flowgen_alias(const struct config *, const char *bridge, size_t idx,
                   flowgen_port_lookup *, void *aux,
                   const struct alias_state *, struct flowgen_out *);

/* Does 'bridge' carry alias 'a' (a member there, or an access bridge)? */
struct cfg_alias;
bool flowgen_carries(const struct cfg_alias *a, const char *bridge);

void flowgen_bridge(const struct config *cfg, const char *bridge,
                    flowgen_port_lookup *lookup, void *aux,
                    struct alias_state *const *states,
                    struct flowgen_out *out);

/* The probes of the members on one port (flowgen_opts.probe_owner). */
struct flowgen_probe_port {
    bool arp;          /* A member is probed with ARP (or TCP over IPv4). */
    bool nd;           /* A member is probed with ND (an IPv6 ip). */
    bool tcp;          /* A member is probed over TCP. */
    uint32_t meter_id; /* The port's meter (probemeter.h), which the reply
                        * flows go through. */
};

/* Optional inputs of flowgen_alias_ex(). */
struct flowgen_opts {
    /* The MAC of member 'member' of alias 'alias' (learned by the health
     * probes); returns false if it is unknown (the member gets no bucket).
     * NULL: the config's "mac". */
    bool (*member_mac)(void *aux, size_t alias, size_t member,
                       struct eth_addr *mac);

    /* Does member 'member' of alias 'alias' carry the probe reply flows of
     * its port (the first probed member on each port, in config order,
     * does)?  '*port' says which probes the port's members get and the
     * port's meter.  NULL: no probe flows. */
    bool (*probe_owner)(void *aux, size_t alias, size_t member,
                        struct flowgen_probe_port *port);
    void *aux;

    /* What to generate: both (default), only the flows, or only the group
     * (they change for different reasons: a master change touches only the
     * group). */
    enum { FLOWGEN_ALL, FLOWGEN_FLOWS, FLOWGEN_GROUP } what;
};

/* flowgen_alias() with options ('opts' may be NULL: none). */
void flowgen_alias_ex(const struct config *, const char *bridge, size_t idx,
                      flowgen_port_lookup *, void *aux,
                      const struct alias_state *,
                      const struct flowgen_opts *opts, struct flowgen_out *);

/* The guard flows of the probe identity of 'bridge' (config_probe_source()),
 * with the base flow's cookie (id 0), when a member on 'bridge' is probed:
 * anything to or from the identity (its MAC, its IPv4 address, and its
 * link-local IPv6 address when a member there is probed with ND) is
 * dropped, except the replies from the probed members' ports that
 * flowgen_alias_ex() sends to vmacd through each port's meter (with the
 * cookie of the alias whose member owns the port).  They depend only on
 * the config.  See flows/README.md, "Health probes". */
void flowgen_probes(const struct config *, const char *bridge,
                    struct flowgen_out *);

/* The cookie of alias 'alias_id' ((cookie_prefix << 32) | alias_id); id 0
 * gives the cookie of the flows that belong to no alias. */
uint64_t flowgen_cookie(const struct config *, uint32_t alias_id);

#endif /* flowgen.h */
