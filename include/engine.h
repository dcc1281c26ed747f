/*
 * engine: vmacd's core.  Holds the configuration, the alias models, the
 * connected switches and their flow tables, and wires them together:
 *
 *   config ──> alias model (election) ──> flowgen ──> flowtab (bundle)
 *                   ^                                    │
 *                   └── port status, connects ───────────┘
 *
 * Every change (a port event, a connect, a reload, an API write) ends in
 * engine_recompute(): elect, regenerate the desired flows of the affected
 * bridges, and hand them to their flow tables.
 */
#ifndef VMACD_ENGINE_H
#define VMACD_ENGINE_H 1

#include <ev.h>
#include <jansson.h>

struct config;
struct engine;
struct api;

/* Takes ownership of 'cfg'.  Opens the OpenFlow listeners and connectors.
 * Returns NULL and sets '*errp' on failure (cfg then freed too). */
struct engine *engine_create(struct ev_loop *, struct config *cfg,
                             char **errp);
void engine_destroy(struct engine *);

/* Registers the API's routes and sends events to it. */
void engine_attach_api(struct engine *, struct api *);

/* Replaces the configuration (ownership taken), keeping connections and
 * the state of aliases and members that still exist.  OpenFlow listen and
 * API socket changes need a restart (logged). */
void engine_reload(struct engine *, struct config *);

const struct config *engine_config(const struct engine *);

/* Calls 'cb' with the new configuration (borrowed) after every change of
 * it (reload, API write). */
typedef void engine_config_cb(const struct config *, void *aux);
void engine_on_config(struct engine *, engine_config_cb *, void *aux);

/* API writes persist the configuration to 'path' (atomically, before they
 * reply).  Without a path (vmacd started without --config), writes that
 * change the configuration are refused with 409 "no_config_file". */
void engine_set_config_path(struct engine *, const char *path);

#endif /* engine.h */
