/*
 * flowinput: the input records of flowgen (flowgen.h), computed from the
 * config, the bridge's ports, the election and what the health probes
 * learned.  The one place that says what flowgen's inputs are made of: the
 * engine calls it with the live switches and probes, tests with fixed
 * ones.  Pure: it reads the environment only through 'env'.
 */
#ifndef VMACD_FLOWINPUT_H
#define VMACD_FLOWINPUT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowgen.h"

struct alias_state;
struct cfg_alias;
struct config;
struct eth_addr;
struct probemeter_plan;

/* Called by flowinput_env's 'bridge_vlans' for each port. */
typedef void flowinput_vlan_cb(void *ctx, uint32_t ofport,
                               const struct flowgen_vlan *, bool configured);

struct flowinput_env {
    /* The OpenFlow port of 'port' on the bridge, or -1 if it has none. */
    int64_t (*port)(const void *aux, const char *port);
    /* The known MAC of member 'member' of 'alias' (learned by the probes
     * or configured); false if it is unknown. */
    bool (*mac)(const void *aux, const struct cfg_alias *alias, size_t member,
                struct eth_addr *mac);
    /* VLANs, from the Open vSwitch database (both NULL, or a database
     * that knows nothing: no VLANs, the flows as without them).
     *
     * 'port_vlan': the VLAN settings of OpenFlow port 'port' (an interface
     * name) on bridge 'bridge', as Open vSwitch applies them (flowgen.h;
     * 'vlan->trunks' borrowed until the environment changes), and in
     * '*configured' whether the port sets a tag, trunks or a vlan_mode at
     * all; false if the database does not know the port (no "ovsdb", not
     * synced yet, no such interface, no OpenFlow number yet).
     * 'bridge_vlans': the same for every OpenFlow port of 'bridge' the
     * database knows, through 'cb'. */
    bool (*port_vlan)(const void *aux, const char *bridge, const char *port,
                      struct flowgen_vlan *vlan, bool *configured);
    void (*bridge_vlans)(const void *aux, const char *bridge,
                         flowinput_vlan_cb *cb, void *ctx);
    const void *aux;
    const struct probemeter_plan *plan; /* The probe reply meters. */
};

/* The bridge-wide inputs of bridge 'bridge' (its version is left as it
 * was; the caller bumps it when the result differs, see
 * flowinput_bridge_equal()).  flowinput_bridge_destroy() frees the
 * uplinks. */
void flowinput_bridge(const struct config *, const char *bridge,
                      const struct flowinput_env *, struct flowgen_bridge *);
bool flowinput_bridge_equal(const struct flowgen_bridge *,
                            const struct flowgen_bridge *);
void flowinput_bridge_destroy(struct flowgen_bridge *);

/* What differs between two results of flowinput_bridge() that
 * flowinput_bridge_equal() does not see (they leave 'version' alone): the
 * ports' classification (the base part's input) and the uplinks' VLANs
 * (each record's 'carry'). */
enum {
    FLOWINPUT_VLAN_PORTS = 1 << 0,
    FLOWINPUT_VLAN_UPLINKS = 1 << 1,
};
unsigned int flowinput_bridge_vlan_changes(const struct flowgen_bridge *,
                                           const struct flowgen_bridge *);

/* The VLAN a member on port 'port' of 'bridge' is in: 0..4095 (0:
 * untagged), FLOWINPUT_VLAN_UNKNOWN (the database does not know the port),
 * or FLOWINPUT_VLAN_UNUSABLE (a native-tagged or dot1q-tunnel port, or a
 * trunk without untagged frames: a member there would get frames with
 * another tagging than the flows give it). */
#define FLOWINPUT_VLAN_UNKNOWN (-1)
#define FLOWINPUT_VLAN_UNUSABLE (-2)
int flowinput_port_vlan(const struct flowinput_env *, const char *bridge,
                        const char *port);

/* How a port with settings 'vlan' sends frames of VLAN 'vid' as NORMAL
 * does (VLAN 0: untagged, as without VLANs). */
enum flowgen_carry flowinput_carry(const struct flowgen_vlan *vlan,
                                   uint16_t vid);

/* Where a member stands with respect to its alias's VLAN. */
enum flowinput_member_vlan {
    FLOWINPUT_MEMBER_VLAN_OK,       /* In the alias's VLAN (or unknown). */
    FLOWINPUT_MEMBER_VLAN_OTHER,    /* On another VLAN: not live. */
    FLOWINPUT_MEMBER_VLAN_UNUSABLE, /* FLOWINPUT_VLAN_UNUSABLE: not live. */
};

/* The VLAN of alias 'a' (flows/README.md, "An alias's VLAN"): that of its
 * highest-priority member (ties by name) whose port's VLAN is known and
 * usable, or FLOWINPUT_VLAN_UNKNOWN when there is none.  Uses only the
 * environment's 'port_vlan'.  With 'vlans' and 'status' (a->n_members
 * entries each), also each member's flowinput_port_vlan() and where it
 * stands. */
int flowinput_alias_vlan(const struct cfg_alias *a,
                         const struct flowinput_env *, int *vlans,
                         enum flowinput_member_vlan *status);

/* The record of 'alias' on bridge 'bridge' (with inputs 'br'), elected as
 * 'st' says; 'in' is initialized here (flowgen_input_destroy() frees it). */
void flowinput_alias(const struct cfg_alias *alias, const char *bridge,
                     const struct flowgen_bridge *br,
                     const struct alias_state *st,
                     const struct flowinput_env *, struct flowgen_input *in);

#endif /* flowinput.h */
