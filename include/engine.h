/*
 * engine: vmacd's core.  It owns the configuration and one input record
 * per (alias, bridge), and wires the parts that own everything else:
 *
 *   config (file, API writes) ──┐
 *   switches: ports, connects ──┼─> dirty aliases ─> election ─> dirty
 *   probes: health, MACs ───────┘   (alias.h)        records ─> flowgen
 *                                                     (pure) ─> flowtab
 *                                                     (diff, bundle)
 *
 * An event marks only what it touches: a port's members, a probed
 * member's alias, an API write's alias, a (re)connected bridge's records.
 * Once per loop iteration the engine elects the dirty aliases, recomputes
 * the input records of their (and other dirty) records, regenerates the
 * flows or the group of a record only when its inputs say they changed,
 * and commits the bridges whose parts changed, each in one bundle.  The
 * cost of a change is that of what it touches, not of the config.
 */
#ifndef VMACD_ENGINE_H
#define VMACD_ENGINE_H 1

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>

#include "openvswitch/compiler.h"

struct api;
struct config;
struct engine;
struct store;
struct verror;

/* Takes ownership of 'cfg'.  Opens the OpenFlow listeners and connectors.
 * Returns 0 with '*engp', or an errno and 'e' (cfg then freed too). */
int engine_create(struct ev_loop *, struct config *cfg, struct engine **engp,
                  struct verror *e) OVS_WARN_UNUSED_RESULT;
void engine_destroy(struct engine *); /* NULL-safe. */

/* Registers the API's routes, sends events to it, and persists API writes
 * in 'store' (NULL: vmacd has no config file; writes are refused). */
void engine_attach_api(struct engine *, struct api *, struct store *);

/* Replaces the configuration (ownership taken), keeping connections and
 * the state of aliases and members that still exist; aliases that did not
 * change are not touched.  OpenFlow listen and API socket changes need a
 * restart (logged). */
void engine_reload(struct engine *, struct config *);

/* The running config (for the store's compactions). */
const struct config *engine_config(const struct engine *);

/* The state as the API shows it, for SIGUSR1's dump and systemd's STATUS:
 * {"status": GET /v1/status, "aliases": GET /v1/aliases's array,
 * "bridges": GET /v1/bridges's array}; 'brief': "status" only (cheap). */
json_t *engine_state_dump(struct engine *, bool brief);

/* Is 'name' a bridge vmacd knows: listed in the config's "bridges", or
 * connected now?  (A member on another bridge is a likely typo.) */
bool engine_bridge_known(const struct engine *, const char *name);

/* The Open vSwitch database's newest synced snapshot (ovsdbc.h; a
 * reference is taken), when the config has "ovsdb": the ports of members
 * given by "iface_id" and which connected switches vmacd may write to
 * follow it (docs/config.md, "ovsdb"). */
struct ovsdbc_snap;
void engine_set_ovsdb(struct engine *, const struct ovsdbc_snap *);

/* Calls 'cb' with the set of bridges the engine looks after (those the
 * config lists and those that carry an alias; borrowed) whenever it
 * changes, and once now. */
struct sset;
typedef void engine_bridges_cb(const struct sset *bridges, void *aux);
void engine_on_bridges(struct engine *, engine_bridges_cb *, void *aux);

#endif /* engine.h */
