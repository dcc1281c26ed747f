/*
 * flowtab: vmacd's flows and groups on one switch, desired vs installed,
 * by parts (flowset.h).
 *
 * The owner puts the parts it wants (flowtab_set_part(): O(1), the part
 * becomes dirty) and commits a generation; flowtab compares each dirty
 * part with the installed one, in binary, and sends only the difference,
 * in one atomic, ordered OpenFlow bundle followed by a barrier.  "Applied"
 * means the barrier reply came back after a successful commit.  A large
 * difference (a first install) is streamed: messages are encoded while the
 * connection's send queue stays under FLOWTAB_QUEUE_BYTES.
 *
 * On start it reads the switch's flows in vmacd's cookie space (sorted
 * into parts by the low half of the cookie) and the groups they use (in
 * part group_id | FLOWSET_GROUP_PART), decoded once into parts, so that a
 * (re)connect reconciles without touching flows that are already right
 * (their counters keep running).  Installed parts nobody wants are
 * deleted at the first commit; groups that no flow of vmacd's uses and no
 * part wants are not vmacd's and stay.
 *
 * Only one bundle is in flight at a time; parts set meanwhile wait for the
 * next.  A failed commit triggers a re-read of the switch and another
 * attempt, with backoff.
 */
#ifndef VMACD_FLOWTAB_H
#define VMACD_FLOWTAB_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct fs_part;
struct ofchan;
struct ofp_header;
struct flowtab;

/* Bound of the send queue while a bundle is streamed. */
#define FLOWTAB_QUEUE_BYTES (1u << 20)

struct flowtab_result {
    bool ok;
    unsigned int n_add, n_modify, n_delete; /* Flow mods sent. */
    unsigned int n_group_mods;
    uint64_t generation; /* Of the desired state now installed. */
};

/* Called when a desired state was applied (or failed: 'ok' false). */
typedef void flowtab_applied_func(struct flowtab *,
                                  const struct flowtab_result *, void *aux);
/* Called once the installed state has been read from the switch, before
 * the first sync (so the owner can adopt what it finds). */
typedef void flowtab_read_func(struct flowtab *, void *aux);

/* Flows with cookie (cookie_prefix << 32) | id belong to part 'id'. */
struct flowtab *flowtab_create(struct ev_loop *, struct ofchan *,
                               uint32_t cookie_prefix,
                               flowtab_applied_func *, flowtab_read_func *,
                               void *aux);
void flowtab_destroy(struct flowtab *); /* NULL-safe. */

/* Reads the installed state from the switch, then syncs. */
void flowtab_start(struct flowtab *);

/* The desired state.  flowtab_set_part() puts 'part' (reference taken;
 * NULL: no such part) as part 'id'.  flowtab_commit() makes what was set
 * the desired state 'generation' and syncs it (later, from the loop). */
void flowtab_set_part(struct flowtab *, uint32_t id, struct fs_part *part);
const struct fs_part *flowtab_get_part(const struct flowtab *, uint32_t id);
void flowtab_commit(struct flowtab *, uint64_t generation);

/* The watch_port of the first bucket of installed group 'group_id'.
 * Returns false if the group is not installed or has no bucket. */
bool flowtab_group_first_port(const struct flowtab *, uint32_t group_id,
                              uint32_t *port);

/* Is the installed state known and equal to the desired one? */
bool flowtab_is_synced(const struct flowtab *);

/* An OFPT_ERROR whose xid no request tracks: returns true if it answers a
 * message of the bundle in flight (it is then logged with that message). */
bool flowtab_handle_error(struct flowtab *, const struct ofp_header *);

/* Installed state as ovs-ofctl text, sorted:
 * {"synced", "flows": [...], "groups": [...]}. */
json_t *flowtab_to_json(const struct flowtab *);

struct flowtab_stats {
    size_t n_flows, n_groups;
    uint64_t bundles, flow_mods, group_mods, failures;
};
void flowtab_get_stats(const struct flowtab *, struct flowtab_stats *);

#endif /* flowtab.h */
