/*
 * flowtab: vmacd's flows and groups on one switch, desired vs installed.
 *
 * The owner says what it wants (flows and groups as ovs-ofctl text, from
 * flowgen); flowtab compares that with what is installed and sends only
 * the difference, in one atomic, ordered OpenFlow bundle, followed by a
 * barrier.  "Applied" means the barrier reply came back after a
 * successful commit.  On start it reads the switch's flows in vmacd's
 * cookie space, and the groups they use, so that a (re)connect reconciles
 * without touching flows that are already right (their counters keep
 * running).  Identity is compared in canonical form: each desired line is
 * encoded for the negotiated version and decoded back, so it compares
 * equal to what the switch reports.
 *
 * Only one bundle is in flight at a time; a newer desired state waits and
 * is diffed against the result.  A failed commit triggers a re-read of the
 * switch and another attempt, with backoff.
 */
#ifndef VMACD_FLOWTAB_H
#define VMACD_FLOWTAB_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"

struct ofchan;
struct ofp_header;
struct svec;
struct flowtab;

struct flowtab_result {
    bool ok;
    unsigned int n_add, n_modify, n_delete; /* Flow mods sent. */
    unsigned int n_group_mods;
    uint64_t generation; /* Of the desired state now installed. */
};

/* Called when a desired state was applied (or failed: 'ok' false). */
typedef void flowtab_applied_func(struct flowtab *,
                                  const struct flowtab_result *, void *aux);

struct flowtab *flowtab_create(struct ev_loop *, struct ofchan *,
                               uint64_t cookie, uint64_t cookie_mask,
                               flowtab_applied_func *, void *aux);
void flowtab_destroy(struct flowtab *);

/* Reads the installed state from the switch, then syncs. */
void flowtab_start(struct flowtab *);

/* Called once the installed state has been read from the switch, before
 * the first sync (so the owner can adopt what it finds). */
typedef void flowtab_read_func(struct flowtab *, void *aux);
void flowtab_set_read_callback(struct flowtab *, flowtab_read_func *);

/* The watch_port of the first bucket of installed group 'group_id'.
 * Returns false if the group is not installed or has no bucket. */
bool flowtab_group_first_port(const struct flowtab *, uint32_t group_id,
                              uint32_t *port);

/* The desired state, by parts.  A part holds the flows and groups of one
 * owner (vmacd: an alias, by its id, which is also its group id and the low
 * half of its flows' cookie; 0 for the base flows); flows read back from
 * the switch are sorted into parts by that cookie half.
 *
 * flowtab_set_part() replaces part 'id' with these lines (ovs-ofctl
 * add-flow / add-group syntax); empty lists remove it.  Lines it had
 * before keep their canonical forms; the same lines as before change
 * nothing.  Returns NULL or a malloc'd message if a line does not parse
 * (then the part is unchanged).  flowtab_keep_parts() removes the parts
 * for which 'keep' says false.  flowtab_commit() makes what was set the
 * desired state 'generation' and syncs it (later, from the loop). */
/* Groups read back from a switch go to part (group_id | FLOWTAB_GROUP_PART),
 * so an owner puts its groups in such parts (group ids stay below
 * 0x80000000). */
#define FLOWTAB_GROUP_PART 0x80000000u

char *flowtab_set_part(struct flowtab *, uint32_t id, const struct svec *flows,
                       const struct svec *groups)
    __attribute__((warn_unused_result));
void flowtab_keep_parts(struct flowtab *, bool (*keep)(uint32_t id, void *aux),
                        void *aux);
void flowtab_commit(struct flowtab *, uint64_t generation);

/* Is the installed state known and equal to the desired one? */
bool flowtab_is_synced(const struct flowtab *);

/* An OFPT_ERROR whose xid no request tracks: returns true if it answers a
 * message of the bundle in flight (it is then logged with that message). */
bool flowtab_handle_error(struct flowtab *, const struct ofp_header *);

/* Installed state as ovs-ofctl-like text, sorted. */
json_t *flowtab_to_json(const struct flowtab *);

struct flowtab_stats {
    size_t n_flows, n_groups;
    uint64_t bundles, flow_mods, group_mods, failures;
};
void flowtab_get_stats(const struct flowtab *, struct flowtab_stats *);

#endif /* flowtab.h */
