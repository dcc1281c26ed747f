/*
 * flowset: OpenFlow flows and groups in binary form, in immutable,
 * refcounted parts (pure data, no I/O).
 *
 * A flow is (table, priority, match) -> actions.  Its key is the table,
 * priority and match, its value the actions.  A match is kept as the
 * values of a minimatch under an interned mask, and actions as an interned
 * ofpacts buffer: a pipeline has few distinct masks and most action lists
 * repeat (drop, NORMAL, one alias's VMAC rewrite on every member port), so
 * a flow costs its match values and a few words.  Interned masks and
 * actions compare by address; a flow's key compares by its hash, mask and
 * values, bit for bit.
 *
 * Actions are interned with every ofpact's 'raw' (the wire encoding it was
 * decoded from, if any) cleared, so that actions built by flowgen and the
 * same actions decoded from a switch's flow stats are one interned buffer.
 * flowgen builds matches and actions in the form that decoding the
 * switch's reply gives (tests/unit/test_flowgen.c checks every kind of
 * flow by an encode/decode round trip for each OpenFlow version vmacd
 * speaks), so what vmacd wants compares equal to what a switch reports
 * without text or re-encoding.
 *
 * A part holds the flows of one owner, or one group.  vmacd's owners are
 * an alias's flows (part id = alias id, the low half of their cookie), an
 * alias's group (part id = group id | FLOWSET_GROUP_PART) and the base
 * flows (part 0).  Parts are built once (flowset_builder) and never
 * change, so a part can be desired and installed at once and comparing
 * two states only looks inside parts that are not the same object.
 *
 * Not thread-safe: the intern tables are the process's.
 */
#ifndef VMACD_FLOWSET_H
#define VMACD_FLOWSET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct ds;
struct match;
struct ofpact;
struct ofpbuf;
struct ovs_list;

/* Part ids of groups: the group id with this bit set (group ids stay
 * below it). */
#define FLOWSET_GROUP_PART 0x80000000u

/* One flow of a part (read-only outside flowset.c). */
struct fs_flow {
    uint32_t hash; /* Of table, priority and match. */
    uint16_t priority;
    uint8_t table_id;
    uint8_t n_values;               /* Of 'values'. */
    const struct fs_mask *mask;     /* Interned; its map is the match's. */
    const struct fs_actions *acts;  /* Interned. */
    uint64_t values[];              /* The match's masked values. */
};

/* One bucket of a group. */
struct fs_bucket {
    ofp_port_t watch_port; /* OFPP_ANY: none. */
    uint32_t watch_group;  /* OFPG_ANY: none. */
    uint16_t weight;       /* Select groups only (else 0). */
    const struct fs_actions *acts;
};

/* The group of a group part. */
struct fs_group {
    uint32_t group_id;
    uint8_t type; /* OFPGT11_*. */
    size_t n_buckets;
    struct fs_bucket buckets[];
};

/* A bucket as given to flowset_builder_set_group(). */
struct fs_bucket_spec {
    ofp_port_t watch_port;
    uint32_t watch_group;
    uint16_t weight;
    const struct ofpact *ofpacts;
    size_t ofpacts_len;
};

struct fs_part;

/* Building a part. */
struct flowset_builder;
struct flowset_builder *flowset_builder_create(uint32_t id);
/* Adds a flow (copies 'match' and the actions).  A second flow with the
 * key of one already added is ignored (the first one wins). */
void flowset_builder_add_flow(struct flowset_builder *, uint8_t table_id,
                              uint16_t priority, const struct match *,
                              const struct ofpact *, size_t ofpacts_len);
/* Makes the part a group part (its id should be group_id |
 * FLOWSET_GROUP_PART).  Replaces a group set before. */
void flowset_builder_set_group(struct flowset_builder *, uint32_t group_id,
                               uint8_t type, const struct fs_bucket_spec *,
                               size_t n_buckets);
/* The same from decoded buckets (struct ofputil_bucket list). */
void flowset_builder_set_group_list(struct flowset_builder *,
                                    uint32_t group_id, uint8_t type,
                                    const struct ovs_list *buckets);
size_t flowset_builder_n_flows(const struct flowset_builder *);
/* Frees the builder and returns the part (refcount 1), or NULL if it has
 * neither flow nor group. */
struct fs_part *flowset_builder_finish(struct flowset_builder *);
/* Frees a builder without making a part.  NULL-safe. */
void flowset_builder_destroy(struct flowset_builder *);

/* Parts. */
struct fs_part *fs_part_ref(const struct fs_part *);
void fs_part_unref(struct fs_part *); /* NULL-safe. */
uint32_t fs_part_id(const struct fs_part *);
size_t fs_part_n_flows(const struct fs_part *);
/* Flows in the order they were added. */
const struct fs_flow *fs_part_flow(const struct fs_part *, size_t i);
/* The group, or NULL for a flow part. */
const struct fs_group *fs_part_group(const struct fs_part *);
/* Same flows (as sets) and same group?  NULL parts equal empty ones. */
bool fs_part_equal(const struct fs_part *, const struct fs_part *);
/* The flow of 'p' with the key of 'f', or NULL. */
const struct fs_flow *fs_part_find(const struct fs_part *,
                                   const struct fs_flow *f);

/* Flows and groups. */
bool fs_flow_key_equal(const struct fs_flow *, const struct fs_flow *);
bool fs_group_equal(const struct fs_group *, const struct fs_group *);
/* The actions of a flow or bucket. */
const struct ofpact *fs_actions_get(const struct fs_actions *, size_t *len);
/* 'match' gets the flow's match. */
void fs_flow_get_match(const struct fs_flow *, struct match *);

/* Encodings.  'cookie' is the flow's (vmacd: its part's). */
struct ofpbuf *fs_flow_encode(const struct fs_flow *, ovs_be64 cookie,
                              uint16_t command, enum ofputil_protocol);
struct ofpbuf *fs_group_encode(const struct fs_group *, uint16_t command,
                               enum ofp_version);

/* Text in ovs-ofctl add-flow / add-group syntax (what 'ovs-ofctl
 * add-flow' and 'add-group' accept back):
 * "table=T,priority=P,cookie=0xC,MATCH,actions=A" and
 * "group_id=G,type=T,bucket=watch_port:P,actions=A,...". */
void fs_flow_format(const struct fs_flow *, uint64_t cookie, struct ds *);
void fs_group_format(const struct fs_group *, struct ds *);
/* Actions as ovs-ofctl shows them ("drop" for none). */
void fs_actions_format(const struct fs_actions *, struct ds *);

/* Interned objects alive (for tests and memory dumps). */
void flowset_intern_counts(size_t *n_masks, size_t *n_actions);

#endif /* flowset.h */
