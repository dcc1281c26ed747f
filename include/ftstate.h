/*
 * ftstate: sets of OpenFlow flows and groups in canonical form, for
 * flowtab's desired-vs-installed comparison.  Pure data, no I/O.
 *
 * A flow is identified by its key ("table=T,priority=P,MATCH") and compared
 * by its value ("cookie=0x..,actions=..."); a group by "group_id=N" and its
 * type and buckets.  Canonical text comes from encoding for the negotiated
 * protocol and decoding back (ftcanon_*), so what vmacd wants compares equal
 * to what a switch reports.
 *
 * Flows and groups are grouped in *parts*, one per owner (vmacd: one per
 * alias, by alias id = group id = low half of the cookie; 0 for the base
 * flows).  Parts are immutable once built and refcounted, so a state (a set
 * of parts) is copied cheaply and two states share the parts that did not
 * change: comparing states only looks inside parts that differ.
 */
#ifndef VMACD_FTSTATE_H
#define VMACD_FTSTATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/hmap.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/types.h"

struct match;
struct ofpact;
struct ovs_list;
struct svec;

/* One flow or group. */
struct ft_entry {
    struct hmap_node node; /* In its part's flows/groups, by key. */
    char *key;
    char *value;
    char *line;                 /* Desired only: the ovs-ofctl text. */
    struct hmap_node line_node; /* In the part's 'lines', if 'line'. */
};

struct ft_part {
    int refcnt;
    uint32_t id;
    struct hmap flows;  /* struct ft_entry, by key. */
    struct hmap groups; /* struct ft_entry, by key. */
    struct hmap lines;  /* Desired parts: entries by line. */
};

struct ft_slot {
    struct hmap_node node; /* In ft_state->slots, by id. */
    struct ft_part *part;
};

struct ft_state {
    int refcnt;
    struct hmap slots; /* struct ft_slot. */
    uint64_t generation;
};

/* Canonical forms.  Each returns a malloc'd string. */
char *ftcanon_flow_key(uint8_t table_id, int priority, const struct match *);
char *ftcanon_flow_value(ovs_be64 cookie, const struct ofpact *, size_t len);
char *ftcanon_group_value(uint8_t type, const struct ovs_list *buckets);
char *ftcanon_group_key(uint32_t group_id);
/* Parse 'line' (ovs-ofctl add-flow / add-group syntax), encode, decode and
 * set '*keyp'/'*valuep'.  Return NULL or an error message. */
char *ftcanon_flow(const char *line, enum ofputil_protocol, char **keyp,
                   char **valuep);
char *ftcanon_group(const char *line, enum ofp_version, char **keyp,
                    char **valuep);

/* Parts. */
struct ft_part *ftpart_create(uint32_t id);
struct ft_part *ftpart_ref(struct ft_part *);
void ftpart_unref(struct ft_part *);
/* Take ownership of the strings; return NULL (strings freed) if 'key' is
 * already there. */
struct ft_entry *ftpart_add_flow(struct ft_part *, char *key, char *value,
                                 char *line);
struct ft_entry *ftpart_add_group(struct ft_part *, char *key, char *value,
                                  char *line);
const struct ft_entry *ftpart_find(const struct hmap *entries,
                                   const char *key);

/* Builds desired part 'id' from ovs-ofctl lines.  Canonical forms of lines
 * that 'prev' (the part's previous version, or NULL) had are reused; if
 * 'prev' has exactly these lines, '*partp' is a new reference to 'prev'.
 * Returns NULL or an error (then '*partp' is NULL). */
char *ftpart_build(uint32_t id, const struct svec *flows,
                   const struct svec *groups, struct ft_part *prev,
                   enum ofputil_protocol, struct ft_part **partp)
    __attribute__((warn_unused_result));

/* States. */
struct ft_state *ftstate_create(uint64_t generation);
struct ft_state *ftstate_ref(struct ft_state *);
void ftstate_unref(struct ft_state *);
/* A new state with the same parts (shared). */
struct ft_state *ftstate_clone(const struct ft_state *, uint64_t generation);
struct ft_part *ftstate_get(const struct ft_state *, uint32_t id);
/* Puts 'part' (reference taken over) in place of part 'part->id'. */
void ftstate_put(struct ft_state *, struct ft_part *part);
void ftstate_remove(struct ft_state *, uint32_t id);
size_t ftstate_n_flows(const struct ft_state *);
size_t ftstate_n_groups(const struct ft_state *);

#define FTSTATE_FOR_EACH_SLOT(SLOT, STATE)                                    \
    HMAP_FOR_EACH (SLOT, node, &(STATE)->slots)

#endif /* ftstate.h */
