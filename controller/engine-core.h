/*
 * engine core: the engine's state, shared by the files of its core
 * (engine.c: bridges, records, the run, the lifecycle; engine-alias.c:
 * aliases, writes, reload; engine-events.c: what switches, probes, meters
 * and the announcer report; engine-wait.c: waiting for a generation).
 * The API's handlers (engine-api.c, engine-write.c) do not see it; they
 * use engine-private.h.
 */
#ifndef VMACD_ENGINE_CORE_H
#define VMACD_ENGINE_CORE_H 1

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine-private.h"
#include "flowgen.h"
#include "flowinput.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "sset.h"

struct alias_state;
struct announcer;
struct hooks;
struct cfg_alias;
struct config;
struct flowtab;
struct fs_part;
struct meters;
struct ovsdbc_snap;
struct probemeter_plan;
struct probes;
struct switches;

struct ebridge;
struct ealias;

/* A member of an alias, as the engine places it. */
struct emember {
    struct ovs_list port_node; /* In its eport's 'users'. */
    struct ealias *ea;
    size_t idx;
};

/* A port of a bridge that members use. */
struct eport {
    struct hmap_node node; /* In ebridge->ports, by name. */
    char *name;
    struct ovs_list users; /* struct emember. */
    int vlan;              /* flowinput_port_vlan(), as last seen. */
};

/* One alias on one bridge. */
struct erec {
    struct ovs_list alias_node; /* In ealias->recs. */
    struct ovs_list br_node;    /* In ebridge->recs. */
    struct ovs_list dirty_node; /* In engine->dirty_recs, if 'dirty'. */
    bool dirty;
    struct ealias *ea;
    struct ebridge *br;
    bool generated;          /* 'in' and the parts are valid. */
    struct flowgen_input in; /* What the parts were made from. */
    struct fs_part *flows;   /* Part ea->cfg->id (or NULL: none). */
    struct fs_part *group;   /* Part id | FLOWSET_GROUP_PART. */
    uint32_t id;             /* The alias id the parts carry. */
};

struct ealias {
    struct hmap_node node; /* In engine->aliases, by name. */
    struct engine *eng;
    struct cfg_alias *orig; /* The config's alias (a reference)... */
    struct cfg_alias *cfg;  /* ...and what runs: the same, or a copy with
                             * the ports found for members given by
                             * "iface_id" (engine-ovsdb.c); a reference. */
    char **port_errors;     /* Per member: why it has no port, or NULL. */
    /* VLANs (engine-ovsdb.c, ealias_update_vlan()): the alias's
     * (flowinput_alias_vlan(), or FLOWINPUT_VLAN_UNKNOWN), whether members
     * are on others; per member (cfg->n_members) its port's VLAN, its
     * standing and, when that keeps it from being live, why. */
    int vlan;
    bool vlan_conflict;
    int *member_vlans;
    enum flowinput_member_vlan *member_vlan;
    char **vlan_errors;
    char *announce_skipped;     /* Uplinks the last round left out, logged. */
    struct ovs_list iface_node; /* In engine->iface_aliases, if 'orig' has
                                 * members given by "iface_id". */
    struct alias_state *st;
    struct emember *members; /* cfg->n_members. */
    struct ovs_list recs;    /* struct erec. */
    bool dirty;
    struct ovs_list dirty_node; /* In engine->dirty_aliases. */
    ev_timer wakeup;            /* Election again (preempt delay). */
    int master;                 /* As of the last election. */

    /* A master change waiting for the new master's bridge to apply it. */
    bool change_pending;
    uint64_t change_generation;
    double change_event_time; /* ev_time() of the triggering event. */
    int change_old, change_new;
    char *change_reason;
    bool adopted;                 /* Master taken from the switch. */
    struct ebridge *pending_br;   /* Where it waits, or NULL. */
    struct ovs_list pending_node; /* In pending_br->pending. */
};

struct ebridge {
    struct hmap_node node; /* In engine->bridges, by name. */
    struct engine *eng;
    char *name;
    struct flowgen_bridge fg;
    struct flowtab *ft;   /* While connected (and matched in OVSDB). */
    char *identity_error; /* Why vmacd does not write to the connected
                           * switch (engine-ovsdb.c), or NULL. */
    bool reading;         /* Its installed flows are being read. */
    bool was_connected;   /* Written to before (a reconnect). */
    struct ovs_list recs; /* struct erec. */
    struct hmap ports;    /* struct eport. */
    bool probed, nd;      /* Base part inputs (the meter plan's). */
    bool base_dirty;
    bool dirty; /* Parts set and not committed. */
    struct ovs_list dirty_node;
    uint64_t handed, applied; /* Generations. */
    bool announce_on_apply;
    struct ovs_list pending; /* struct ealias, change pending here. */
};

struct engine_waiter {
    struct ovs_list node; /* In engine->waiters. */
    struct engine *eng;
    uint64_t generation;
    ev_timer timer; /* Timeout, or 0 s: "run now". */
    engine_applied_cb *cb;
    void *aux;
};

struct engine {
    struct ev_loop *loop;
    struct config *cfg;
    struct switches *sw;
    struct probes *probes;
    struct meters *meters;
    struct announcer *ann;
    struct hooks *hooks; /* Aliases' "notify" programs. */
    struct api *api;
    struct store *store;
    struct probemeter_plan *plan;
    double started;

    struct hmap aliases; /* struct ealias. */
    struct hmap bridges; /* struct ebridge. */
    struct ovs_list dirty_aliases, dirty_recs, dirty_bridges;

    uint64_t generation;
    ev_timer update; /* engine_run() in this loop iteration. */
    double pending_event_time;
    char *pending_reason;

    /* When a master moves to another bridge, that bridge commits first;
     * the others get the new state once it applied (or after
     * STAGE_TIMEOUT), so no bridge steers to the uplink before the new
     * master's bridge delivers. */
    struct sset staged;
    ev_timer stage_timer;

    struct ovs_list waiters; /* struct engine_waiter. */

    /* The Open vSwitch database, when the config has "ovsdb"
     * (engine-ovsdb.c): its newest synced snapshot, or NULL. */
    struct ovsdbc_snap *snap;
    struct ovs_list iface_aliases; /* struct ealias, by 'iface_node'. */

    /* The bridges looked after (engine_keep_bridges()) and who hears of
     * them (engine_on_bridges()). */
    struct sset kept;
    engine_bridges_cb *bridges_cb;
    void *bridges_aux;
};

static inline long long
engine_now_ms(const struct engine *eng)
{
    return (long long) (ev_now(eng->loop) * 1000.0);
}

/* engine.c: marks for the next run, which engine_schedule_update() asks
 * for (in this loop iteration; 'event_time' is the ev_time() of the event
 * that caused it, for the applied-after log). */
void ealias_mark(struct ealias *);
void erec_mark(struct erec *);
void engine_schedule_update(struct engine *, double event_time,
                            const char *reason);

/* engine.c: bridges, their member ports and the records on them. */
struct ebridge *ebridge_find(const struct engine *, const char *name);
struct ebridge *ebridge_get(struct engine *, const char *name);
void ebridge_destroy(struct ebridge *);
void ebridge_connect(struct ebridge *);
void ebridge_disconnect(struct ebridge *, const char *identity_error);
void ebridge_update_inputs(struct ebridge *);
void ebridge_update_probed(struct ebridge *);
struct eport *eport_find(const struct ebridge *, const char *name);
struct eport *eport_get(struct ebridge *, const char *name);
void eport_sync(struct ebridge *, struct eport *, bool probe);
struct erec *erec_find(const struct ealias *, const struct ebridge *);
void erec_create(struct ealias *, struct ebridge *);
void erec_destroy(struct erec *);
/* Tells the switches which bridges to keep (configured or carrying). */
void engine_keep_bridges(struct engine *);
/* Tells the switches the configured bridges' pins ("datapath_id",
 * "peer_cn") and how soon to forget the others (forget_bridges_s). */
void engine_pin_bridges(struct engine *);

/* engine-alias.c. */
struct ealias *ealias_find(const struct engine *, const char *name);
int engine_member_index(const struct cfg_alias *, const char *member);
const char *ealias_member_name(const struct ealias *, int m);
void ealias_member_sync(struct ealias *, size_t m);
void ealias_create(struct engine *, struct cfg_alias *);
void ealias_replace(struct ealias *, struct cfg_alias *);
void ealias_reresolve(struct ealias *);
void ealias_destroy(struct ealias *);
void ealias_clear_pending(struct ealias *);
void ealias_elect(struct ealias *, long long now, double event_time,
                  uint64_t generation);

/* engine-ovsdb.c: the ports of members given by "iface_id" ('*errors'
 * gets n_members messages or NULLs, freed with engine_port_errors_free())
 * and whether vmacd may write to bridge 'br''s switch (NULL, or why not;
 * malloc'd). */
struct cfg_alias *engine_resolve_alias(const struct engine *,
                                       struct cfg_alias *orig, char ***errors);
void engine_port_errors_free(char **errors, size_t n);
bool engine_alias_has_iface_ids(const struct cfg_alias *);
char *ebridge_identity_error(const struct ebridge *);
/* engine-ovsdb.c: VLANs.  The environment's VLAN callbacks read the
 * newest snapshot (flowinput.h); engine_vlan_env() is an environment with
 * only those.  ealias_update_vlan() recomputes ea's VLAN and its members'
 * standing; with 'sync', members whose standing changed are fed to the
 * alias model again (else the caller syncs every member) and the alias is
 * marked when anything changed. */
bool engine_port_vlan(const struct engine *, const char *bridge,
                      const char *port, struct flowgen_vlan *,
                      bool *configured);
void engine_bridge_vlans(const struct engine *, const char *bridge,
                         flowinput_vlan_cb *, void *ctx);
struct flowinput_env engine_vlan_env(const struct engine *);
void ealias_update_vlan(struct ealias *, bool sync);
void ealias_vlan_free(struct ealias *);

/* engine-events.c: the callbacks of the parts the engine wires. */
extern const struct switches_callbacks engine_switches_cbs;
extern const struct probes_callbacks engine_probes_cbs;
extern const struct meters_callbacks engine_meters_cbs;
int engine_announce_round(void *eng, const char *alias);

/* engine-wait.c: fires the waiters whose generation got applied, or all
 * of them (on destruction). */
void engine_check_applied(struct engine *);
void engine_fire_waiters(struct engine *);

#endif /* engine-core.h */
