/*
 * engine internals: what the API's handlers (engine-api.c, engine-write.c)
 * may ask of and tell the engine core (engine.c).  The core's state stays
 * in engine.c; these are its queries and commands.
 */
#ifndef VMACD_ENGINE_PRIVATE_H
#define VMACD_ENGINE_PRIVATE_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

struct alias_state;
struct api;
struct api_request;
struct cfg_alias;
struct flowtab;
struct hooks;
struct ovsdbc_snap;
struct probes;
struct store;
struct switches;
struct verror;

/* The parts the core wires (for reads). */
struct switches *engine_switches(const struct engine *);
struct probes *engine_probes(const struct engine *);
const struct hooks *engine_hooks(const struct engine *);
struct store *engine_store(const struct engine *);
const struct probemeter_plan *engine_meter_plan(const struct engine *);
double engine_started(const struct engine *);

/* An alias's runtime, by name (NULL: no such alias). */
const struct alias_state *engine_alias_state(const struct engine *,
                                             const char *alias);
uint64_t engine_alias_announced(const struct engine *, const char *alias);

/* A bridge the engine knows (carries an alias or is connected). */
const struct flowtab *engine_bridge_flowtab(const struct engine *,
                                            const char *bridge);
void engine_bridge_generations(const struct engine *, const char *bridge,
                               uint64_t *handed, uint64_t *applied);
/* {"status": "ok" or "degraded", "problems": [...]}: bridges vmacd does
 * not write to, and (fail_mode "check") carrying bridges that are not
 * secure. */
json_t *engine_health_to_json(const struct engine *);
/* The Open vSwitch database as last synced, or NULL. */
const struct ovsdbc_snap *engine_ovsdb_snapshot(const struct engine *);
/* Why vmacd does not write to the connected switch 'bridge' (it is not
 * the bridge the Open vSwitch database names so), or NULL. */
const char *engine_bridge_identity_error(const struct engine *,
                                         const char *bridge);
/* The port member 'm' of 'alias' runs on (for one given by "iface_id", the
 * one found in OVSDB, "" when none: then '*error' says why), or NULL for
 * no such alias. */
const char *engine_member_port(const struct engine *, const char *alias,
                               size_t m, const char **error);
/* VLANs (flows/README.md, "VLANs"): the VLAN of alias 'alias' (-1: none
 * known, as without a database) and in '*conflict' whether members are on
 * others; the VLAN of its member 'm''s port (-1: unknown) and in '*error'
 * why VLANs keep that member from being live (or NULL); whether 'bridge'
 * is VLAN-aware. */
int engine_alias_vlan(const struct engine *, const char *alias,
                      bool *conflict);
int engine_member_vlan(const struct engine *, const char *alias, size_t m,
                       const char **error);
bool engine_bridge_vlan_aware(const struct engine *, const char *bridge);
/* Does 'bridge' carry alias 'a' (a member there, or an access bridge)? */
bool engine_carries(const struct cfg_alias *a, const char *bridge);

/* Writes.  engine_alias_put() applies 'a' (reference taken: a new alias or
 * one replacing its namesake); engine_alias_remove() removes the alias
 * named 'name'.  Both return the generation that carries the change
 * (engine_when_applied()). */
uint64_t engine_alias_put(struct engine *, struct cfg_alias *a);
uint64_t engine_alias_remove(struct engine *, const char *name);
/* Planned move (alias_state_move()); 0 or an errno and 'e'. */
int engine_alias_move(struct engine *, const char *alias, int member,
                      struct verror *e) OVS_WARN_UNUSED_RESULT;
/* A burst of announcements now; 0 or an errno and 'e'. */
int engine_announce_now(struct engine *, const char *alias,
                        struct verror *e) OVS_WARN_UNUSED_RESULT;
/* The generation the next update will carry. */
uint64_t engine_next_generation(const struct engine *);

/* Publishes an event to the API's stream (if any); steals 'event'. */
void engine_publish(struct engine *, const char *type, json_t *event);

/* Calls 'cb' once every connected bridge has applied 'generation' (or
 * everything handed to it up to it), or after 'timeout' seconds, whichever
 * comes first, never before engine_when_applied() returns.  'pending'
 * lists (as a JSON array of names, borrowed) the bridges that have not
 * applied it: disconnected ones, and on timeout connected ones that lag.
 * The waiter is freed after 'cb' returns; engine_waiter_cancel() frees it
 * without calling 'cb'. */
struct engine_waiter;
typedef void engine_applied_cb(struct engine *, const json_t *pending,
                               void *aux);
struct engine_waiter *engine_when_applied(struct engine *, uint64_t generation,
                                          double timeout, engine_applied_cb *,
                                          void *aux);
void engine_waiter_cancel(struct engine_waiter *);

/* engine-api.c */
void engine_api_routes(struct engine *, struct api *);
json_t *engine_alias_to_json(struct engine *, const struct cfg_alias *);
/* The alias named by the request's "name" path parameter, or NULL after
 * replying 404. */
const struct cfg_alias *engine_alias_or_404(struct engine *,
                                            struct api_request *);
/* Replies with 'e' (verror.h): its kind as the error code, the status
 * from it (cfgedit_status() for config errors). */
void engine_reply_verror(struct api_request *, unsigned int status,
                         const struct verror *);

/* engine-write.c */
void engine_write_routes(struct engine *, struct api *);

#endif /* engine-private.h */
