/*
 * engine internals, shared by engine.c (state and wiring), engine-api.c
 * (the API's handlers) and engine-announce.c (GARP/NA bursts).
 */
#ifndef VMACD_ENGINE_PRIVATE_H
#define VMACD_ENGINE_PRIVATE_H 1

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "ofchan.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "sset.h"

struct alias_inputs;
struct api_request;
struct probesched;
struct probemeter_plan;
struct alias_state;
struct eth_addr;
struct ofp_header;
struct flowgen_probe_port;
struct flowtab;
struct oflisten;
struct oflisten_active;
struct ofswitch;

/* One OpenFlow connection (ready or not). */
struct conn {
    struct ovs_list node; /* In engine->conns. */
    struct engine *eng;
    struct ofswitch *sw;
    struct oflisten_active *active; /* Where it came from, if active. */
    struct flowtab *ft;             /* Once ready. */
    struct bridge *br;              /* Once ready. */
    double connected_at;
};

/* A bridge, by name: known from the config or from a connection. */
struct bridge {
    struct hmap_node node; /* In engine->bridges, by name. */
    char *name;
    struct conn *conn;           /* Serving connection, or NULL. */
    uint64_t dpid;               /* Last seen. */
    uint64_t generation;         /* Last desired state handed over. */
    uint64_t applied_generation; /* Last one applied. */
    bool announce_on_apply;      /* Announce its masters when applied. */
    unsigned int n_connects;
    double last_apply_ms; /* Last bundle's event-to-barrier. */

    /* What each alias's flows on this bridge were last generated from
     * (engine.c, bridge_sync_parts()): an alias is regenerated only when
     * these inputs change, or the config or the connection does. */
    uint64_t parts_cfg_seq;     /* engine->cfg_seq they belong to. */
    unsigned int parts_connect; /* n_connects they belong to. */
    size_t n_inputs;
    struct alias_inputs *inputs;
};

/* Runtime of one alias, parallel to cfg->aliases. */
struct alias_rt {
    struct engine *eng;
    size_t idx;
    ev_timer wakeup; /* Election again (preempt delay). */

    /* A master change waiting for its flows to be applied. */
    bool change_pending;
    uint64_t change_generation;
    double change_event_time; /* ev_time() of the triggering event. */
    int change_old, change_new;
    char *change_reason;
    bool adopted;        /* Master taken from the switch. */
    char *master_bridge; /* Bridge of the master, last update. */

    /* Announcements. */
    ev_timer burst; /* count x interval. */
    unsigned int burst_left;
    ev_timer refresh;     /* Every refresh_s. */
    uint64_t n_announced; /* Packets sent. */
};

struct engine {
    struct ev_loop *loop;
    struct config *cfg;
    struct oflisten *ol;
    struct ofchan_options chan_opts;
    struct ovs_list conns;       /* struct conn. */
    struct hmap bridges;         /* struct bridge. */
    struct alias_rt *rts;        /* cfg->n_aliases. */
    struct alias_state **states; /* cfg->n_aliases. */
    uint64_t generation;
    uint64_t cfg_seq;     /* Bumped whenever 'cfg' changes. */
    uint32_t *ids_sorted; /* Alias ids, sorted (lookups). */
    ev_timer update;      /* Deferred engine_update(). */

    /* When a master moves to another bridge, that bridge commits first;
     * the others get the new state once it applied (or after
     * 'stage_timer'), so no bridge steers to the uplink before the new
     * master's bridge delivers. */
    struct sset staged; /* Bridges committing first. */
    ev_timer stage_timer;
    double pending_event_time; /* Earliest event since last update. */
    char *pending_reason;
    struct api *api;
    double started;
    engine_config_cb *config_cb; /* engine_on_config(). */
    void *config_cb_aux;

    /* engine-health.c: one prober per probed (alias, member). */
    struct hmap probers;       /* By alias + member name. */
    struct hmap probe_targets; /* Same, by bridge + port + IP. */
    uint64_t n_packet_ins, n_packet_ins_bad;
    struct probesched *probesched; /* When probes are sent. */

    /* engine-meter.c: the probe reply meters, one per probed port. */
    struct probemeter_plan *meter_plan; /* Wanted, from 'cfg'. */
    struct shash meters_sent; /* Bridge name -> struct meters_sent. */

    /* engine-write.c: API writes. */
    char *config_path;       /* Where writes persist, or NULL. */
    struct ovs_list waiters; /* struct engine_waiter. */
};

struct bridge *engine_bridge_find(const struct engine *, const char *name);
/* Index of the alias named 'name' in the current config, or -1. */
int engine_alias_index(const struct engine *, const char *name);
/* Is 'id' the id of an alias of the current config? */
bool engine_has_alias_id(const struct engine *, uint32_t id);
long long engine_now_ms(const struct engine *);

/* Schedules an election + flow regeneration in this loop iteration;
 * 'event_time' is when the triggering event arrived (ev_time()). */
void engine_schedule_update(struct engine *, double event_time,
                            const char *reason);

/* Publishes an event to the API's stream (if any); steals 'event'. */
void engine_publish(struct engine *, const char *type, json_t *event);

/* engine-announce.c */
/* Sends 'pkt' out of OpenFlow port 'port' by packet-out (in_port
 * CONTROLLER).  Returns false if the channel refused it. */
struct dp_packet;
bool engine_packet_out(struct ofchan *, const struct dp_packet *,
                       uint32_t port);
void engine_announce_start(struct alias_rt *);
void engine_announce_init(struct alias_rt *);
void engine_announce_stop(struct alias_rt *);
void engine_announce_rearm(struct alias_rt *);
int engine_announce_now(struct engine *, size_t alias_idx, char **errp);

/* engine-health.c: health probes (ARP / TCP SYN by packet-out, replies by
 * packet-in), their state machines (health.h), and the learned MACs.
 * engine_health_sync() (re)builds the probers from eng->cfg, keeping the
 * state of members whose probe target did not change, and feeds every
 * member's health into the new alias states; engine.c calls it whenever
 * the alias states are (re)created. */
void engine_health_init(struct engine *);
void engine_health_sync(struct engine *);
/* Probes masters at interval_ms and the other members at
 * backup_interval_ms; engine_update() calls it after each election. */
void engine_health_periods(struct engine *);
void engine_health_destroy(struct engine *);
void engine_health_ports(struct engine *, const struct bridge *);
void engine_health_packet_in(struct conn *, const struct ofp_header *);
bool engine_member_mac(const struct engine *, size_t alias, size_t member,
                       struct eth_addr *);
/* Does the member carry its port's probe reply flows (see
 * flowgen_opts.probe_owner)?  '*port': as there. */
bool engine_probe_port_owner(const struct engine *, size_t alias,
                             size_t member, struct flowgen_probe_port *port);
/* Sends the probes that are due now (only those whose previous probe was
 * answered), for code that holds the loop for milliseconds: building a
 * large API reply calls it between members.  Sending is all it does: no
 * health verdict, no change to the alias model. */
void engine_health_yield(struct engine *);
/* All probers together, for GET /v1/status: counts and the send-lateness
 * histogram (cheap: no per-member objects). */
json_t *engine_health_status_json(const struct engine *);
json_t *engine_health_to_json(const struct engine *, size_t alias,
                              size_t member);

/* engine-meter.c: the probe reply meters (probemeter.h says which), on
 * the switches.  A meter is added (OFPMC13_ADD; if it exists, as after a
 * restart of vmacd, OFPMC13_MODIFY) when its bridge connects, before the
 * flow table is read, and by engine_meter_sync() when the config creates
 * it or changes its rate, before the flows that use it are generated: a
 * connection's messages are processed in order.  A meter the config no
 * longer wants is deleted (OFPMC13_DELETE, which would also delete the
 * flows that still use it) once the bridge applied a generation computed
 * after that, i.e. after the bundle that moved its flows away. */
void engine_meter_init(struct engine *);
void engine_meter_destroy(struct engine *);
/* The config changed (engine_health_sync() calls it). */
void engine_meter_sync(struct engine *);
void engine_meter_conn_ready(struct conn *);
/* Handles an OFPT_ERROR about a meter mod; returns false for others. */
bool engine_meter_error(struct conn *, const struct ofp_header *);
/* 'conn''s bridge applied 'generation' (its flow table's barrier). */
void engine_meter_applied(struct conn *, uint64_t generation);
/* The meter of the probed port 'port' on 'bridge', or NULL. */
struct probemeter;
const struct probemeter *
engine_meter_find(const struct engine *, const char *bridge, const char *port);

/* engine-api.c */
void engine_api_routes(struct engine *, struct api *);
json_t *engine_alias_to_json(struct engine *, size_t idx);
/* The index of the alias named by the request's "name" path parameter, or
 * -1 after replying 404. */
int engine_alias_or_404(struct engine *, struct api_request *);

/* engine-write.c: the API's writes, persistence, and waiting for the
 * switches to apply a generation. */
void engine_write_init(struct engine *);
void engine_write_destroy(struct engine *);
void engine_write_routes(struct engine *, struct api *);

/* Calls 'cb' once every connected bridge has applied 'generation' (or a
 * later one), or after 'timeout' seconds, whichever comes first, never
 * before engine_when_applied() returns.  'pending' lists (as a JSON array
 * of names, borrowed) the bridges that have not applied it: disconnected
 * ones, and on timeout connected ones that lag.  The waiter is freed after
 * 'cb' returns; engine_waiter_cancel() frees it without calling 'cb'. */
struct engine_waiter;
typedef void engine_applied_cb(struct engine *, const json_t *pending,
                               void *aux);
struct engine_waiter *engine_when_applied(struct engine *, uint64_t generation,
                                          double timeout, engine_applied_cb *,
                                          void *aux);
void engine_waiter_cancel(struct engine_waiter *);

/* Runs the waiters whose condition holds now; engine.c calls it whenever a
 * bridge applied a generation or went away. */
void engine_check_applied(struct engine *);

#endif /* engine-private.h */
