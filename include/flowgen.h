/*
 * flowgen: the flows and groups vmacd wants on one bridge, as binary parts
 * (flowset.h).  Pure: every function is a function of its input record
 * alone, with no lookup or callback anywhere else; equal inputs give equal
 * parts.  The pipeline is documented in flows/README.md, and
 * flows/pipeline.txt is its output for vmacd.example.json (a unit test
 * keeps the two equal).
 *
 * The engine computes one input record per (alias, bridge) from the
 * config, the bridge's ports, the election and the health probes, and
 * keeps the record each part was made from: flowgen_flows_changed() and
 * flowgen_group_changed() say whether a new record would give other flows
 * or another group.  They read exactly what the generators read, so that
 * a master change (only the group's inputs) regenerates no flow.
 *
 * VLANs (flows/README.md, "VLANs").  On a VLAN-aware bridge (some port in
 * the Open vSwitch database has a tag, trunks or a vlan_mode) the base part
 * classifies every frame by its VLAN into reg13 and the alias's flows that
 * depend on where a frame comes from match the alias's VLAN; on any other
 * bridge the flows are exactly those without VLANs.
 */
#ifndef VMACD_FLOWGEN_H
#define VMACD_FLOWGEN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/types.h"
#include "packets.h"

struct cfg_alias;
struct fs_part;

/* A port's VLAN mode as Open vSwitch applies it (Port vlan_mode; when it is
 * unset, ACCESS for a port with a tag and TRUNK for one without). */
enum flowgen_vlan_mode {
    FLOWGEN_VLAN_ACCESS,
    FLOWGEN_VLAN_TRUNK,
    FLOWGEN_VLAN_NATIVE_TAGGED,
    FLOWGEN_VLAN_NATIVE_UNTAGGED,
    FLOWGEN_VLAN_DOT1Q_TUNNEL,
};

/* A port's VLAN settings (Port tag, trunks, vlan_mode). */
struct flowgen_vlan {
    enum flowgen_vlan_mode mode;
    int tag;          /* 0..4095, or -1: none. */
    size_t n_trunks;  /* 0: every VLAN (a trunk's or native port's). */
    uint16_t *trunks; /* Ascending. */
};

/* One OpenFlow port of a VLAN-aware bridge, for the classification. */
struct flowgen_vport {
    uint32_t ofport;
    struct flowgen_vlan vlan; /* 'trunks' owned by the flowgen_bridge. */
};

/* How an uplink carries the alias's VLAN. */
enum flowgen_carry {
    FLOWGEN_CARRY_NONE,     /* Not at all: no bucket, no announcement. */
    FLOWGEN_CARRY_UNTAGGED, /* Untagged (its access VLAN, or VLAN 0). */
    FLOWGEN_CARRY_TAGGED,   /* Tagged (a trunk of it). */
};

/* reg13 holds the VLAN class of a frame on a VLAN-aware bridge: 0 (not
 * classified, or not admitted on its port), or FLOWGEN_CLASS | VID. */
#define FLOWGEN_REG_CLASS 13
#define FLOWGEN_CLASS 0x1000

/* What every alias's flows on one bridge share. */
struct flowgen_bridge {
    uint8_t table;          /* Base table T (the ND responder uses T+1). */
    int next_table;         /* -1: fall through to NORMAL. */
    uint32_t cookie_prefix; /* High half of the cookies (for the text). */
    struct eth_addr probe_mac; /* The bridge's probe identity. */
    bool probe_has_ip;
    ovs_be32 probe_ip4;
    size_t n_uplinks;
    uint32_t *uplinks; /* OpenFlow ports of the uplinks that exist. */
    bool vlan_aware;   /* Some port has a tag, trunks or a vlan_mode. */
    uint64_t version;  /* Bumped by the owner whenever the above change. */

    /* On a VLAN-aware bridge only (else empty).  They do not bump
     * 'version': the classification is the base part's alone, and each
     * record keeps what it takes from the uplinks' VLANs (its 'carry'). */
    size_t n_vports;
    struct flowgen_vport *vports; /* Every port the database knows, by
                                   * OpenFlow number. */
    struct flowgen_vlan *uplink_vlans; /* n_uplinks, as 'uplinks'. */
};

/* One member of the alias, as seen on the bridge. */
struct flowgen_member {
    int64_t ofport;      /* On this bridge, or -1 (elsewhere, or absent). */
    bool has_mac;        /* Known: configured or learned by the probes. */
    struct eth_addr mac; /* When has_mac. */
    /* The probe reply flows of the member's port, if this member carries
     * them (the first probed member of the port, in config order). */
    bool probe_owner;
    bool probe_arp, probe_nd, probe_tcp; /* Replies the port gets. */
    uint32_t meter_id;                   /* The port's meter. */
};

/* The input record of one alias on one bridge. */
struct flowgen_input {
    const struct cfg_alias *alias;
    const struct flowgen_bridge *br;
    uint64_t br_version; /* br->version when the record was made. */
    bool remote_master;  /* The master is a member on another bridge. */
    /* The alias's VLAN (0..4095; 0: untagged) and how each of the
     * bridge's uplinks carries it (br->n_uplinks entries of enum
     * flowgen_carry); used on a VLAN-aware bridge only. */
    uint16_t vlan;
    uint8_t *carry;
    size_t n_order;      /* Election order (bucket order), as indexes */
    size_t *order;       /* into alias->members. */
    struct flowgen_member *members; /* alias->n_members. */
};

/* Record lifecycle: init makes empty arrays for 'alias' (every uplink
 * carrying the alias untagged, as without VLANs); copy deep-copies;
 * destroy frees the arrays (NULL-safe, may be called twice). */
void flowgen_input_init(struct flowgen_input *, const struct cfg_alias *,
                        const struct flowgen_bridge *);
void flowgen_input_copy(struct flowgen_input *dst,
                        const struct flowgen_input *src);
void flowgen_input_destroy(struct flowgen_input *);

/* Would 'new' give other flows (other group) than 'old'? */
bool flowgen_flows_changed(const struct flowgen_input *old,
                           const struct flowgen_input *new);
bool flowgen_group_changed(const struct flowgen_input *old,
                           const struct flowgen_input *new);

/* The alias's flows (part id = alias id) and its group (part id = alias id
 * | FLOWSET_GROUP_PART), or NULL when there are none. */
struct fs_part *flowgen_alias_flows(const struct flowgen_input *);
struct fs_part *flowgen_alias_group(const struct flowgen_input *);

/* The flows that belong to no alias (part 0): the base flow (what vmacd
 * does not own falls through), on a VLAN-aware bridge the classification
 * of every port (flows/README.md, "VLANs") and, when members on the
 * bridge are probed ('probed'; 'nd': some over ND), the guard flows of the
 * probe identity (flows/README.md, "Health probes"). */
struct fs_part *flowgen_base(const struct flowgen_bridge *, bool probed,
                             bool nd);

/* The cookie of part 'id' ((cookie_prefix << 32) | id; part 0: the flows
 * that belong to no alias). */
uint64_t flowgen_cookie(uint32_t cookie_prefix, uint32_t id);

#endif /* flowgen.h */
