/*
 * probemeter: the OpenFlow meters that limit the health probes' replies to
 * vmacd, one per probed port (pure: computed from the config alone).
 *
 * Ids.  On each bridge, the ports of the probed members
 * (config_member_probe_type()), taken in config order (aliases, then their
 * members; a port that several members share counts once, where it first
 * appears), get the meters probe_source.meter_id, meter_id + 1, ... in
 * that order.  The ids depend only on the config, so a restarted vmacd
 * finds its meters under the same ids; removing a probed port renumbers
 * the ports after it on that bridge.  The config refuses a meter_id whose
 * range would pass the largest meter id (OFPM13_MAX).
 *
 * Rates.  A port's meter passes probe_source.rate_pps packets/s when that
 * is set.  Otherwise (0, automatic): 4 per probe interval (interval_ms) of
 * every member probed on the port (an ARP reply and a SYN-ACK, or an NA,
 * per probe, twice over), plus PROBEMETER_PORT_HEADROOM_PPS.  The meters of
 * one bridge together pass at most PROBEMETER_MAX_BRIDGE_PPS: automatic rates
 * beyond it are scaled down in proportion (the config refuses an explicit
 * rate_pps that does not fit).
 */
#ifndef VMACD_PROBEMETER_H
#define VMACD_PROBEMETER_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/shash.h"

struct cfg_alias;
struct config;

#define PROBEMETER_PORT_HEADROOM_PPS 10
#define PROBEMETER_MAX_BRIDGE_PPS 1000000

/* The meter of one probed port. */
struct probemeter {
    char *port;
    uint32_t id;
    unsigned int rate_pps;
    double probes_pps; /* Probes sent on the port per second, at most. */

    /* The first member probed on the port (config order), which carries
     * the port's probe reply flows (flowgen.h). */
    const struct cfg_alias *alias;
    size_t alias_idx;  /* Its position in the config. */
    size_t member_idx; /* Into alias->members. */

    /* The probes sent on the port (config_member_probe_type()). */
    bool arp; /* ARP: an IPv4 member (ARP or TCP probes). */
    bool nd;  /* ND: an IPv6 member. */
    bool tcp; /* TCP SYNs. */
};

/* The meters of one bridge: ids base .. base + n - 1, in that order. */
struct probemeter_bridge {
    char *name;
    uint32_t base;             /* probe_source.meter_id. */
    size_t n;                  /* Probed ports. */
    struct probemeter *meters; /* n, meters[k].id == base + k. */
    size_t allocated;          /* Of 'meters'. */
    uint64_t total_pps;        /* Sum of the rates. */
    struct shash by_port;      /* Port name -> index + 1. */
};

/* The meters of every bridge with a probed port. */
struct probemeter_plan {
    struct shash bridges; /* Name -> struct probemeter_bridge. */
};

struct probemeter_plan *probemeter_plan_create(const struct config *);
/* The plan of 'cfg' with alias 'extra' in place of 'skip' (or, if 'skip'
 * is NULL or not in 'cfg', after the last alias); 'extra' may be NULL
 * (then 'skip' is left out). */
struct probemeter_plan *probemeter_plan_create_with(
    const struct config *, const struct cfg_alias *skip,
    const struct cfg_alias *extra);
/* The same with the probed members on the ports 'port_of' says instead of
 * their configured "port" (for members given by "iface_id", whose port is
 * found in OVSDB); "" leaves a member out. */
struct probemeter_ports {
    const char *(*port)(void *aux, const struct cfg_alias *, size_t member);
    void *aux;
};
struct probemeter_plan *probemeter_plan_create_on(
    const struct config *, const struct cfg_alias *skip,
    const struct cfg_alias *extra, const struct probemeter_ports *);
void probemeter_plan_destroy(struct probemeter_plan *); /* NULL-safe. */

/* The bridge's meters, or NULL if it has no probed port. */
const struct probemeter_bridge *
probemeter_bridge_find(const struct probemeter_plan *, const char *bridge);

/* The meter of port 'port' on 'bridge', or NULL if it is not probed. */
const struct probemeter *probemeter_find(const struct probemeter_plan *,
                                         const char *bridge, const char *port);

/* Is 'id' one of the meters of 'b' (NULL: none)? */
static inline bool
probemeter_bridge_has(const struct probemeter_bridge *b, uint32_t id)
{
    return b && id >= b->base && id - b->base < b->n;
}

#endif /* probemeter.h */
