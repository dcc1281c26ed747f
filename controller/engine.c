/*
 * engine: vmacd's core (see engine.h).
 *
 * State, all of it here:
 *   - one 'struct ealias' per alias: its config (a reference), its
 *     election state (alias.h), a pending master change, its records;
 *   - one 'struct ebridge' per bridge that carries an alias or is
 *     connected: the bridge-wide flowgen inputs, its flow table while
 *     connected, its records, the member ports on it;
 *   - one 'struct erec' per (alias, bridge) it is carried on: the input
 *     record its flows and group were made from, and those parts;
 *   - three dirty lists (aliases to elect, records to recompute, bridges
 *     to commit), filled by events and emptied by engine_run().
 * The parts it wires (switches, probes, meters, announcer, API) own their
 * own state; they tell the engine what happened through callbacks and the
 * engine asks them through their interfaces.
 */
#include "engine-private.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "announce.h"
#include "announcer.h"
#include "api.h"
#include "config.h"
#include "dp-packet.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowset.h"
#include "flowtab.h"
#include "hash.h"
#include "meters.h"
#include "ofchan.h"
#include "ofswitch.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/vlog.h"
#include "probemeter.h"
#include "probes.h"
#include "sset.h"
#include "svec.h"
#include "switches.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* How long the other bridges wait for the bridge that gains a master. */
#define STAGE_TIMEOUT 1.0

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
};

/* One alias on one bridge. */
struct erec {
    struct ovs_list alias_node; /* In ealias->recs. */
    struct ovs_list br_node;    /* In ebridge->recs. */
    struct ovs_list dirty_node; /* In engine->dirty_recs, if 'dirty'. */
    bool dirty;
    struct ealias *ea;
    struct ebridge *br;
    bool generated;           /* 'in' and the parts are valid. */
    struct flowgen_input in;  /* What the parts were made from. */
    struct fs_part *flows;    /* Part ea->cfg->id (or NULL: none). */
    struct fs_part *group;    /* Part id | FLOWSET_GROUP_PART. */
    uint32_t id;              /* The alias id the parts carry. */
};

struct ealias {
    struct hmap_node node; /* In engine->aliases, by name. */
    struct engine *eng;
    struct cfg_alias *cfg; /* A reference. */
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
    struct flowtab *ft;    /* While connected. */
    bool reading;          /* Its installed flows are being read. */
    struct ovs_list recs;  /* struct erec. */
    struct hmap ports;     /* struct eport. */
    bool probed, nd;       /* Base part inputs (the meter plan's). */
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
};

static void engine_check_applied(struct engine *);
static void keep_configured_bridges(struct engine *);
static void schedule_update(struct engine *, double event_time,
                            const char *reason);

static long long
now_ms(const struct engine *eng)
{
    return (long long) (ev_now(eng->loop) * 1000.0);
}

const struct config *
engine_config(const struct engine *eng)
{
    return eng->cfg;
}

void
engine_publish(struct engine *eng, const char *type, json_t *event)
{
    if (!eng->api) {
        json_decref(event);
        return;
    }
    json_object_set_new(event, "type", json_string(type));
    json_object_set_new(event, "time", json_real(ev_time()));
    api_publish_event(eng->api, event);
}

bool
engine_carries(const struct cfg_alias *a, const char *bridge)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].bridge, bridge)) {
            return true;
        }
    }
    for (size_t b = 0; b < a->n_access_bridges; b++) {
        if (!strcmp(a->access_bridges[b], bridge)) {
            return true;
        }
    }
    return false;
}

/* Dirty lists. */

static void
alias_mark(struct ealias *ea)
{
    if (!ea->dirty) {
        ea->dirty = true;
        ovs_list_push_back(&ea->eng->dirty_aliases, &ea->dirty_node);
    }
}

static void
rec_mark(struct erec *rec)
{
    if (!rec->dirty) {
        rec->dirty = true;
        ovs_list_push_back(&rec->ea->eng->dirty_recs, &rec->dirty_node);
    }
}

static void
bridge_mark(struct ebridge *br)
{
    if (!br->dirty) {
        br->dirty = true;
        ovs_list_push_back(&br->eng->dirty_bridges, &br->dirty_node);
    }
}

/* Bridges. */

static struct ebridge *
bridge_find(const struct engine *eng, const char *name)
{
    struct ebridge *br;
    HMAP_FOR_EACH_WITH_HASH (br, node, hash_string(name, 0), &eng->bridges) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static int64_t
env_port(const void *br_, const char *port)
{
    const struct ebridge *br = br_;
    const struct ofswitch_port *p = switches_port(br->eng->sw, br->name,
                                                  port);
    return p ? (int64_t) p->number : -1;
}

/* The member's known MAC: learned by its probes, or configured. */
static bool
member_mac(const struct engine *eng, const struct cfg_alias *a, size_t m,
           struct eth_addr *mac)
{
    const struct cfg_member *mb = &a->members[m];
    if (config_member_probe_type(eng->cfg, mb) != CFG_PROBE_NONE) {
        return probes_member_mac(eng->probes, a->name, mb->name, mac);
    }
    *mac = mb->mac;
    return mb->has_mac;
}

static bool
env_mac(const void *br_, const struct cfg_alias *a, size_t m,
        struct eth_addr *mac)
{
    const struct ebridge *br = br_;
    return member_mac(br->eng, a, m, mac);
}

static struct flowinput_env
bridge_env(const struct ebridge *br)
{
    return (struct flowinput_env){
        .port = env_port,
        .mac = env_mac,
        .aux = br,
        .plan = br->eng->plan,
    };
}

/* Recomputes the bridge-wide inputs; a change makes every record on the
 * bridge dirty. */
static void
bridge_update_inputs(struct ebridge *br)
{
    struct flowinput_env env = bridge_env(br);
    struct flowgen_bridge fg = { .version = br->fg.version };
    flowinput_bridge(br->eng->cfg, br->name, &env, &fg);
    if (!flowinput_bridge_equal(&fg, &br->fg)) {
        flowinput_bridge_destroy(&br->fg);
        br->fg = fg;
        br->fg.version++;
        br->base_dirty = true;
        bridge_mark(br);
        struct erec *rec;
        LIST_FOR_EACH (rec, br_node, &br->recs) {
            rec_mark(rec);
        }
    } else {
        flowinput_bridge_destroy(&fg);
    }
}

/* The base part's inputs from the meter plan. */
static void
bridge_update_probed(struct ebridge *br)
{
    const struct probemeter_bridge *b
        = probemeter_bridge_find(br->eng->plan, br->name);
    bool nd = false;
    for (size_t k = 0; b && k < b->n; k++) {
        nd |= b->meters[k].nd;
    }
    if ((b != NULL) != br->probed || nd != br->nd) {
        br->probed = b != NULL;
        br->nd = nd;
        br->base_dirty = true;
        bridge_mark(br);
    }
}

static struct ebridge *
bridge_get(struct engine *eng, const char *name)
{
    struct ebridge *br = bridge_find(eng, name);
    if (!br) {
        br = xzalloc(sizeof *br);
        br->eng = eng;
        br->name = xstrdup(name);
        ovs_list_init(&br->recs);
        hmap_init(&br->ports);
        ovs_list_init(&br->pending);
        hmap_insert(&eng->bridges, &br->node, hash_string(name, 0));
        bridge_update_inputs(br);
        bridge_update_probed(br);
    }
    return br;
}

static void
bridge_destroy(struct ebridge *br)
{
    struct engine *eng = br->eng;
    flowtab_destroy(br->ft);
    if (br->dirty) {
        ovs_list_remove(&br->dirty_node);
    }
    struct eport *p;
    HMAP_FOR_EACH_POP (p, node, &br->ports) {
        free(p->name);
        free(p);
    }
    hmap_destroy(&br->ports);
    flowinput_bridge_destroy(&br->fg);
    hmap_remove(&eng->bridges, &br->node);
    free(br->name);
    free(br);
}

static struct eport *
port_find(const struct ebridge *br, const char *name)
{
    struct eport *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, hash_string(name, 0), &br->ports) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

static struct eport *
port_get(struct ebridge *br, const char *name)
{
    struct eport *p = port_find(br, name);
    if (!p) {
        p = xzalloc(sizeof *p);
        p->name = xstrdup(name);
        ovs_list_init(&p->users);
        hmap_insert(&br->ports, &p->node, hash_string(name, 0));
    }
    return p;
}

/* Aliases. */

static struct ealias *
alias_find(const struct engine *eng, const char *name)
{
    struct ealias *ea;
    HMAP_FOR_EACH_WITH_HASH (ea, node, hash_string(name, 0), &eng->aliases) {
        if (!strcmp(ea->cfg->name, name)) {
            return ea;
        }
    }
    return NULL;
}

static int
member_index(const struct cfg_alias *a, const char *name)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].name, name)) {
            return m;
        }
    }
    return -1;
}

static const char *
member_name(const struct ealias *ea, int m)
{
    return m < 0 ? "(none)" : ea->cfg->members[m].name;
}

/* Feeds the alias model with member 'm''s port and health as the switch
 * and the probes see them now. */
static void
member_sync(struct ealias *ea, size_t m)
{
    struct engine *eng = ea->eng;
    const struct cfg_member *mb = &ea->cfg->members[m];
    const struct ofswitch_port *p = switches_port(eng->sw, mb->bridge,
                                                  mb->port);
    long long now = now_ms(eng);
    alias_state_set_port(ea->st, m, p != NULL,
                         p && !p->link_down && !p->admin_down, now);
    bool probed;
    bool usable = probes_member_usable(eng->probes, ea->cfg->name, mb->name,
                                       &probed);
    alias_state_set_health(ea->st, m, probed ? usable : mb->has_mac, now);
    alias_state_set_drained(ea->st, m, mb->drained, now);
}

static void
rec_unset_parts(struct erec *rec)
{
    if (rec->br->ft) {
        flowtab_set_part(rec->br->ft, rec->id, NULL);
        flowtab_set_part(rec->br->ft, rec->id | FLOWSET_GROUP_PART, NULL);
        bridge_mark(rec->br);
    }
}

static void
rec_destroy(struct erec *rec)
{
    rec_unset_parts(rec);
    if (rec->dirty) {
        ovs_list_remove(&rec->dirty_node);
    }
    ovs_list_remove(&rec->alias_node);
    ovs_list_remove(&rec->br_node);
    flowgen_input_destroy(&rec->in);
    fs_part_unref(rec->flows);
    fs_part_unref(rec->group);
    free(rec);
}

static struct erec *
rec_find(const struct ealias *ea, const struct ebridge *br)
{
    struct erec *rec;
    LIST_FOR_EACH (rec, alias_node, &ea->recs) {
        if (rec->br == br) {
            return rec;
        }
    }
    return NULL;
}

static void
rec_create(struct ealias *ea, struct ebridge *br)
{
    struct erec *rec = xzalloc(sizeof *rec);
    rec->ea = ea;
    rec->br = br;
    rec->id = ea->cfg->id;
    ovs_list_push_back(&ea->recs, &rec->alias_node);
    ovs_list_push_back(&br->recs, &rec->br_node);
    rec_mark(rec);
}

/* Makes ea's records and port index those of ea->cfg: records on the
 * bridges that carry it, none elsewhere. */
static void
alias_place(struct ealias *ea)
{
    struct engine *eng = ea->eng;
    const struct cfg_alias *a = ea->cfg;

    struct erec *rec;
    LIST_FOR_EACH_SAFE (rec, alias_node, &ea->recs) {
        if (!engine_carries(a, rec->br->name) || rec->id != a->id) {
            rec_destroy(rec);
        } else {
            rec_mark(rec);
        }
    }
    for (size_t m = 0; m < a->n_members; m++) {
        struct ebridge *br = bridge_get(eng, a->members[m].bridge);
        if (!rec_find(ea, br)) {
            rec_create(ea, br);
        }
        struct emember *em = &ea->members[m];
        em->ea = ea;
        em->idx = m;
        ovs_list_push_back(&port_get(br, a->members[m].port)->users,
                           &em->port_node);
    }
    for (size_t b = 0; b < a->n_access_bridges; b++) {
        struct ebridge *br = bridge_get(eng, a->access_bridges[b]);
        if (!rec_find(ea, br)) {
            rec_create(ea, br);
        }
    }
}

static void
alias_unplace_members(struct ealias *ea)
{
    for (size_t m = 0; m < ea->cfg->n_members; m++) {
        ovs_list_remove(&ea->members[m].port_node);
    }
    free(ea->members);
    ea->members = NULL;
}

static void
alias_clear_pending(struct ealias *ea)
{
    if (ea->pending_br) {
        ovs_list_remove(&ea->pending_node);
        ea->pending_br = NULL;
    }
}

/* Tells the probes of ea's members the links of their ports. */
static void
alias_probe_links(struct ealias *ea)
{
    struct engine *eng = ea->eng;
    for (size_t m = 0; m < ea->cfg->n_members; m++) {
        const struct cfg_member *mb = &ea->cfg->members[m];
        const struct ofswitch_port *p = switches_port(eng->sw, mb->bridge,
                                                      mb->port);
        if (switches_is_connected(eng->sw, mb->bridge)) {
            probes_port(eng->probes, mb->bridge, mb->port, true,
                        p && !p->link_down && !p->admin_down);
        }
    }
}

static void alias_wakeup_cb(struct ev_loop *, ev_timer *, int revents);

static void
alias_create(struct engine *eng, struct cfg_alias *a)
{
    struct ealias *ea = xzalloc(sizeof *ea);
    ea->eng = eng;
    ea->cfg = a;
    ea->st = alias_state_create(a);
    ea->members = xcalloc(MAX(a->n_members, 1), sizeof *ea->members);
    ea->master = -1;
    ea->change_old = ea->change_new = -1;
    ovs_list_init(&ea->recs);
    ev_init(&ea->wakeup, alias_wakeup_cb);
    hmap_insert(&eng->aliases, &ea->node, hash_string(a->name, 0));
    probes_sync_alias(eng->probes, NULL, a);
    alias_place(ea);
    alias_probe_links(ea);
    for (size_t m = 0; m < a->n_members; m++) {
        member_sync(ea, m);
    }
    alias_mark(ea);
}

static void
alias_destroy(struct ealias *ea)
{
    struct engine *eng = ea->eng;
    struct erec *rec;
    LIST_FOR_EACH_SAFE (rec, alias_node, &ea->recs) {
        rec_destroy(rec);
    }
    alias_unplace_members(ea);
    alias_clear_pending(ea);
    if (ea->dirty) {
        ovs_list_remove(&ea->dirty_node);
    }
    ev_timer_stop(eng->loop, &ea->wakeup);
    probes_sync_alias(eng->probes, ea->cfg, NULL);
    announcer_remove(eng->ann, ea->cfg->name);
    hmap_remove(&eng->aliases, &ea->node);
    alias_state_destroy(ea->st);
    free(ea->change_reason);
    cfg_alias_unref(ea->cfg);
    free(ea);
}

/* Records a master change of 'ea' (from 'old' to 'new', for 'reason')
 * until the new master's bridge applies it. */
static void
alias_note_change(struct ealias *ea, int old, int new, const char *reason,
                  double event_time, uint64_t generation)
{
    if (!ea->change_pending) {
        ea->change_old = old;
        ea->change_event_time = event_time;
    }
    ea->change_pending = true;
    ea->change_new = new;
    ea->change_generation = generation;
    free(ea->change_reason);
    ea->change_reason = xstrdup(reason);
    alias_clear_pending(ea);

    const char *bridge = new >= 0 ? ea->cfg->members[new].bridge : NULL;
    struct ebridge *br = bridge ? bridge_find(ea->eng, bridge) : NULL;
    if (br && br->ft) {
        ea->pending_br = br;
        ovs_list_push_back(&br->pending, &ea->pending_node);
    } else {
        /* Nothing to wait for. */
        VLOG_INFO("alias %s: master %s -> %s (%s)", ea->cfg->name,
                  member_name(ea, ea->change_old), member_name(ea, new),
                  ea->change_reason);
        ea->change_pending = false;
    }
}

/* Replaces ea's config by 'a' (reference taken), keeping what still
 * applies: the members' states when the members are the same, else the
 * master (without preemption, if still eligible). */
static void
alias_replace(struct ealias *ea, struct cfg_alias *a)
{
    struct engine *eng = ea->eng;
    struct cfg_alias *old = ea->cfg;
    long long now = now_ms(eng);

    probes_sync_alias(eng->probes, old, a);
    int old_master = alias_state_master(ea->st);
    char *master_name = (old_master >= 0
                             ? xstrdup(old->members[old_master].name)
                             : NULL);
    bool same_addrs
        = (a->n_ip4 == old->n_ip4 && a->n_ip6 == old->n_ip6
           && !memcmp(a->ip4, old->ip4, a->n_ip4 * sizeof *a->ip4)
           && !memcmp(a->ip6, old->ip6, a->n_ip6 * sizeof *a->ip6));
    alias_unplace_members(ea);
    ea->cfg = a;
    ea->members = xcalloc(MAX(a->n_members, 1), sizeof *ea->members);
    alias_place(ea);

    if (!alias_state_set_config(ea->st, a)) {
        /* Other members: a new model, the master carried over. */
        alias_state_destroy(ea->st);
        ea->st = alias_state_create(a);
        ea->change_old = ea->change_new = -1;
        alias_clear_pending(ea);
        ea->change_pending = false;
        for (size_t m = 0; m < a->n_members; m++) {
            member_sync(ea, m);
        }
        int nm = master_name ? member_index(a, master_name) : -1;
        struct alias_election r;
        alias_state_elect(ea->st, now, &r);
        if (nm >= 0 && !a->preempt && alias_state_master(ea->st) != nm
            && !alias_state_move(ea->st, nm, now)) {
            alias_state_elect(ea->st, now, &r);
        }
        int cur = alias_state_master(ea->st);
        ea->master = cur;
        probes_set_master(eng->probes, a, cur);
        if (cur != nm) {
            alias_note_change(ea, nm, cur, "reload", ev_time(),
                              engine_next_generation(eng));
        }
    }
    alias_probe_links(ea);
    for (size_t m = 0; m < a->n_members; m++) {
        member_sync(ea, m);
    }
    alias_mark(ea);

    /* Same master: the refresh goes on; new addresses are announced. */
    int cur = alias_state_master(ea->st);
    if (cur >= 0 && master_name
        && !strcmp(a->members[cur].name, master_name)) {
        if (same_addrs) {
            announcer_rearm(eng->ann, a);
        } else {
            announcer_start(eng->ann, a);
        }
    }
    free(master_name);
    cfg_alias_unref(old);
}

/* Its id changed (a collision resolved anew): its parts go under the new
 * id. */
static void
alias_renumbered(struct ealias *ea)
{
    struct erec *rec;
    LIST_FOR_EACH_SAFE (rec, alias_node, &ea->recs) {
        struct ebridge *br = rec->br;
        rec_destroy(rec);
        rec_create(ea, br);
    }
    alias_mark(ea);
}

static void
alias_wakeup_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                int revents OVS_UNUSED)
{
    struct ealias *ea = CONTAINER_OF(w, struct ealias, wakeup);
    alias_mark(ea);
    schedule_update(ea->eng, ev_time(), "timer");
}

/* The probe reply meters: anew when a probed alias changed.  The owners of
 * the ports (old and new) regenerate their records. */
static void
meter_plan_update(struct engine *eng)
{
    struct probemeter_plan *old = eng->plan;
    eng->plan = probemeter_plan_create(eng->cfg);
    meters_set_plan(eng->meters, eng->plan, eng->generation);

    const struct probemeter_plan *plans[] = { old, eng->plan };
    for (size_t i = 0; i < ARRAY_SIZE(plans); i++) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &plans[i]->bridges) {
            const struct probemeter_bridge *b = node->data;
            for (size_t k = 0; k < b->n; k++) {
                struct ealias *ea = alias_find(eng, b->meters[k].alias->name);
                struct erec *rec;
                if (ea) {
                    LIST_FOR_EACH (rec, alias_node, &ea->recs) {
                        rec_mark(rec);
                    }
                }
            }
        }
    }
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        bridge_update_probed(br);
    }
    probemeter_plan_destroy(old);
}

static bool
alias_probed(const struct engine *eng, const struct cfg_alias *a)
{
    for (size_t m = 0; a && m < a->n_members; m++) {
        if (config_member_probe_type(eng->cfg, &a->members[m])
            != CFG_PROBE_NONE) {
            return true;
        }
    }
    return false;
}

/* The engine run: elections, records, commits. */

/* Elects 'ea' at 'now'. */
static void
alias_elect(struct ealias *ea, long long now, double event_time,
            uint64_t generation)
{
    struct engine *eng = ea->eng;
    struct alias_election r;

    alias_state_elect(ea->st, now, &r);
    ev_timer_stop(eng->loop, &ea->wakeup);
    if (r.next_wakeup != LLONG_MAX) {
        ev_timer_set(&ea->wakeup, MAX(r.next_wakeup - now, 0) / 1000.0, 0.);
        ev_timer_start(eng->loop, &ea->wakeup);
    }
    if (r.changed) {
        alias_note_change(ea, r.old_master, r.new_master,
                          ea->adopted ? "adopted from the switch" : r.reason,
                          event_time, generation);
        ea->adopted = false;
    }

    int m = alias_state_master(ea->st);
    if (m != ea->master) {
        probes_set_master(eng->probes, ea->cfg, m);
        /* A master on another bridge: that bridge commits first. */
        const char *nb = m >= 0 ? ea->cfg->members[m].bridge : NULL;
        const char *ob = ea->master >= 0 ? ea->cfg->members[ea->master].bridge
                                         : NULL;
        if (nb && ob && strcmp(nb, ob)) {
            const struct ebridge *br = bridge_find(eng, nb);
            if (br && br->ft) {
                sset_add(&eng->staged, nb);
            }
        }
        ea->master = m;
    }
    /* The order of the buckets may have changed, or the master: the
     * records tell. */
    struct erec *rec;
    LIST_FOR_EACH (rec, alias_node, &ea->recs) {
        rec_mark(rec);
    }
}

/* Recomputes 'rec''s input and hands its bridge's flow table whatever
 * part it changes. */
static void
rec_update(struct erec *rec)
{
    struct ebridge *br = rec->br;
    struct ealias *ea = rec->ea;
    struct flowinput_env env = bridge_env(br);
    struct flowgen_input in;

    flowinput_alias(ea->cfg, br->name, &br->fg, ea->st, &env, &in);
    bool flows = !rec->generated || flowgen_flows_changed(&rec->in, &in);
    bool group = !rec->generated || flowgen_group_changed(&rec->in, &in);
    if (flows) {
        fs_part_unref(rec->flows);
        rec->flows = flowgen_alias_flows(&in);
        flowtab_set_part(br->ft, rec->id, fs_part_ref(rec->flows));
    }
    if (group) {
        fs_part_unref(rec->group);
        rec->group = flowgen_alias_group(&in);
        flowtab_set_part(br->ft, rec->id | FLOWSET_GROUP_PART,
                         fs_part_ref(rec->group));
    }
    if (flows || group) {
        bridge_mark(br);
    }
    flowgen_input_destroy(&rec->in);
    rec->in = in;
    rec->generated = true;
}

/* Drops the staged bridges that applied their state (or went away).
 * Returns true if some are still committing. */
static bool
stage_pending(struct engine *eng)
{
    const char *name;
    SSET_FOR_EACH_SAFE (name, &eng->staged) {
        const struct ebridge *br = bridge_find(eng, name);
        if (!br || !br->ft || (br->applied >= br->handed && !br->dirty)) {
            sset_delete(&eng->staged, SSET_NODE_FROM_NAME(name));
        }
    }
    if (sset_is_empty(&eng->staged)) {
        ev_timer_stop(eng->loop, &eng->stage_timer);
        return false;
    }
    if (!ev_is_active(&eng->stage_timer)) {
        ev_timer_set(&eng->stage_timer, STAGE_TIMEOUT, 0.);
        ev_timer_start(eng->loop, &eng->stage_timer);
    }
    return true;
}

static void
stage_timeout_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                 int revents OVS_UNUSED)
{
    struct engine *eng = CONTAINER_OF(w, struct engine, stage_timer);
    VLOG_WARN_RL(&rl, "new master bridge(s) did not confirm within %.0f s; "
                      "updating the other bridges anyway",
                 STAGE_TIMEOUT);
    sset_clear(&eng->staged);
    schedule_update(eng, ev_time(), "staged commit timeout");
}

static void
engine_run(struct engine *eng)
{
    long long now = now_ms(eng);
    double event_time = eng->pending_event_time;
    uint64_t generation = eng->generation + 1;

    struct ealias *ea;
    LIST_FOR_EACH_POP (ea, dirty_node, &eng->dirty_aliases) {
        ea->dirty = false;
        alias_elect(ea, now, event_time, generation);
    }

    struct erec *rec;
    LIST_FOR_EACH_POP (rec, dirty_node, &eng->dirty_recs) {
        rec->dirty = false;
        if (rec->br->ft) {
            rec_update(rec); /* Else: done on connect. */
        }
    }

    bool staging = stage_pending(eng);
    bool committed = false;
    struct ebridge *br;
    LIST_FOR_EACH_SAFE (br, dirty_node, &eng->dirty_bridges) {
        if (!br->ft) {
            ovs_list_remove(&br->dirty_node);
            br->dirty = false;
            continue;
        }
        if (staging && !sset_contains(&eng->staged, br->name)) {
            continue;
        }
        if (br->base_dirty) {
            br->base_dirty = false;
            flowtab_set_part(br->ft, 0,
                             flowgen_base(&br->fg, br->probed, br->nd));
        }
        ovs_list_remove(&br->dirty_node);
        br->dirty = false;
        flowtab_commit(br->ft, generation);
        br->handed = generation;
        committed = true;
    }
    if (committed) {
        eng->generation = generation;
    }
    engine_check_applied(eng);
}

static void
update_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w, int revents OVS_UNUSED)
{
    struct engine *eng = CONTAINER_OF(w, struct engine, update);
    double start = ev_time();
    engine_run(eng);
    VLOG_DBG("update (%s) took %.3f ms", eng->pending_reason,
             (ev_time() - start) * 1000.0);
    eng->pending_event_time = 0;
    free(eng->pending_reason);
    eng->pending_reason = NULL;
}

static void
schedule_update(struct engine *eng, double event_time, const char *reason)
{
    if (!eng->pending_event_time || event_time < eng->pending_event_time) {
        eng->pending_event_time = event_time;
    }
    if (!eng->pending_reason) {
        eng->pending_reason = xstrdup(reason);
    }
    if (!ev_is_active(&eng->update)) {
        ev_timer_set(&eng->update, 0., 0.);
        ev_timer_start(eng->loop, &eng->update);
    }
}

uint64_t
engine_next_generation(const struct engine *eng)
{
    return eng->generation + 1;
}

/* Flow tables. */

static void
flows_applied(struct flowtab *ft OVS_UNUSED, const struct flowtab_result *r,
              void *br_)
{
    struct ebridge *br = br_;
    struct engine *eng = br->eng;
    double now = ev_time();

    if (!r->ok) {
        return;
    }
    br->applied = r->generation;
    if (r->n_add || r->n_modify || r->n_delete || r->n_group_mods) {
        VLOG_INFO("%s: applied generation %" PRIu64 ": %u added, %u modified, "
                  "%u deleted flows, %u group mods",
                  br->name, r->generation, r->n_add, r->n_modify, r->n_delete,
                  r->n_group_mods);
    }

    struct ealias *ea;
    LIST_FOR_EACH_SAFE (ea, pending_node, &br->pending) {
        if (ea->change_generation > r->generation) {
            continue;
        }
        double ms = (ea->change_event_time
                         ? (now - ea->change_event_time) * 1000.0
                         : 0);
        VLOG_INFO("alias %s: master %s -> %s (%s), applied %.3f ms after the "
                  "event",
                  ea->cfg->name, member_name(ea, ea->change_old),
                  member_name(ea, ea->change_new), ea->change_reason, ms);
        json_t *ev = json_object();
        json_object_set_new(ev, "alias", json_string(ea->cfg->name));
        json_object_set_new(ev, "old_master",
                            ea->change_old >= 0
                                ? json_string(member_name(ea, ea->change_old))
                                : json_null());
        json_object_set_new(ev, "new_master",
                            json_string(member_name(ea, ea->change_new)));
        json_object_set_new(ev, "reason", json_string(ea->change_reason));
        json_object_set_new(ev, "bridge", json_string(br->name));
        json_object_set_new(ev, "event_to_barrier_ms", json_real(ms));
        engine_publish(eng, "master_change", ev);
        ea->change_pending = false;
        alias_clear_pending(ea);
        announcer_start(eng->ann, ea->cfg);
    }
    if (br->announce_on_apply) {
        /* Reconnected: its masters are announced again. */
        br->announce_on_apply = false;
        struct erec *rec;
        LIST_FOR_EACH (rec, br_node, &br->recs) {
            int m = alias_state_master(rec->ea->st);
            if (m >= 0 && !rec->ea->change_pending
                && !strcmp(rec->ea->cfg->members[m].bridge, br->name)) {
                announcer_start(eng->ann, rec->ea->cfg);
            }
        }
    }
    meters_applied(eng->meters, br->name, r->generation);
    if (sset_contains(&eng->staged, br->name)) {
        /* The bridge that gained a master applied: the others may follow
         * (stage_pending() decides). */
        schedule_update(eng, now, "staged bridge applied");
    }
    engine_check_applied(eng);
}

/* Once the switch's installed state is known: an alias without preemption
 * and without a master yet adopts the master the switch's group already
 * sends to (the one a previous vmacd elected), so that a restart moves no
 * traffic.  The installed group is an input like the ports. */
static void
flows_read(struct flowtab *ft, void *br_)
{
    struct ebridge *br = br_;
    struct engine *eng = br->eng;
    long long now = now_ms(eng);

    br->reading = false;
    struct erec *rec;
    LIST_FOR_EACH (rec, br_node, &br->recs) {
        struct ealias *ea = rec->ea;
        const struct cfg_alias *a = ea->cfg;
        uint32_t port;
        if (a->preempt || alias_state_master(ea->st) >= 0
            || !flowtab_group_first_port(ft, a->id, &port)) {
            continue;
        }
        for (size_t m = 0; m < a->n_members; m++) {
            const struct ofswitch_port *p;
            if (!strcmp(a->members[m].bridge, br->name)
                && (p = switches_port(eng->sw, br->name, a->members[m].port))
                && p->number == port && !alias_state_move(ea->st, m, now)) {
                VLOG_INFO("alias %s: adopting master %s from the switch's "
                          "installed group",
                          a->name, a->members[m].name);
                ea->adopted = true;
                alias_mark(ea);
                break;
            }
        }
    }
    schedule_update(eng, ev_time(), "flows read");
}

/* Switches. */

static void
sw_ready(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    struct ebridge *br = bridge_get(eng, bridge);

    br->ft = flowtab_create(eng->loop, switches_chan(eng->sw, bridge),
                            eng->cfg->cookie_prefix, flows_applied,
                            flows_read, br);
    br->reading = true;
    br->announce_on_apply = true;
    br->handed = br->applied = 0;
    meters_bridge_ready(eng->meters, bridge, eng->generation);
    flowtab_start(br->ft);

    bridge_update_inputs(br);
    br->base_dirty = true;
    bridge_mark(br);
    struct erec *rec;
    LIST_FOR_EACH (rec, br_node, &br->recs) {
        if (rec->generated) {
            /* What it wanted before, until its inputs say otherwise. */
            flowtab_set_part(br->ft, rec->id, fs_part_ref(rec->flows));
            flowtab_set_part(br->ft, rec->id | FLOWSET_GROUP_PART,
                             fs_part_ref(rec->group));
        }
        rec_mark(rec);
    }
    struct eport *p;
    HMAP_FOR_EACH (p, node, &br->ports) {
        const struct ofswitch_port *op = switches_port(eng->sw, bridge,
                                                       p->name);
        probes_port(eng->probes, bridge, p->name, true,
                    op && !op->link_down && !op->admin_down);
        struct emember *em;
        LIST_FOR_EACH (em, port_node, &p->users) {
            member_sync(em->ea, em->idx);
            alias_mark(em->ea);
        }
    }

    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64,
             switches_dpid(eng->sw, bridge));
    json_object_set_new(ev, "datapath_id", json_string(dpid));
    engine_publish(eng, "bridge_connected", ev);
    /* The election waits for flows_read(). */
}

static void
sw_lost(void *eng_, const char *bridge, const char *reason)
{
    struct engine *eng = eng_;
    struct ebridge *br = bridge_find(eng, bridge);
    if (!br) {
        return;
    }
    flowtab_destroy(br->ft);
    br->ft = NULL;
    br->reading = false;
    struct ealias *ea;
    LIST_FOR_EACH_SAFE (ea, pending_node, &br->pending) {
        VLOG_INFO("alias %s: master %s -> %s (%s), not confirmed: bridge %s "
                  "disconnected",
                  ea->cfg->name, member_name(ea, ea->change_old),
                  member_name(ea, ea->change_new), ea->change_reason,
                  bridge);
        ea->change_pending = false;
        alias_clear_pending(ea);
    }
    /* Its members are unreachable for vmacd: an alias with members
     * elsewhere fails over to them.  (The bridge itself keeps forwarding
     * with its last flows.) */
    struct eport *p;
    HMAP_FOR_EACH (p, node, &br->ports) {
        struct emember *em;
        LIST_FOR_EACH (em, port_node, &p->users) {
            member_sync(em->ea, em->idx);
            alias_mark(em->ea);
        }
    }
    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    json_object_set_new(ev, "reason", json_string(reason));
    engine_publish(eng, "bridge_disconnected", ev);
    if (ovs_list_is_empty(&br->recs)) {
        bridge_destroy(br); /* Nothing of vmacd's uses it. */
    }
    schedule_update(eng, ev_time(), "bridge disconnected");
}

static void
sw_port_changed(void *eng_, const char *bridge, const char *port)
{
    struct engine *eng = eng_;
    double t = ev_time();
    struct ebridge *br = bridge_find(eng, bridge);
    const struct ofswitch_port *op = switches_port(eng->sw, bridge, port);

    if (br) {
        struct eport *p = port_find(br, port);
        if (p) {
            probes_port(eng->probes, bridge, port, true,
                        op && !op->link_down && !op->admin_down);
            struct emember *em;
            LIST_FOR_EACH (em, port_node, &p->users) {
                member_sync(em->ea, em->idx);
                alias_mark(em->ea);
            }
        }
        if (config_is_uplink(eng->cfg, bridge, port)) {
            bridge_update_inputs(br);
        }
    }

    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(bridge));
    json_object_set_new(ev, "port", json_string(port));
    json_object_set_new(ev, "present", json_boolean(op != NULL));
    if (op) {
        json_object_set_new(ev, "link_down", json_boolean(op->link_down));
        json_object_set_new(ev, "admin_down", json_boolean(op->admin_down));
    }
    engine_publish(eng, "port_status", ev);
    schedule_update(eng, t, "port status");
}

static void
sw_message(void *eng_, const char *bridge, enum ofptype type,
           const struct ofp_header *oh)
{
    struct engine *eng = eng_;
    const struct ebridge *br = bridge_find(eng, bridge);

    if (type == OFPTYPE_PACKET_IN) {
        probes_packet_in(eng->probes, bridge, oh); /* Probe replies. */
    } else if (type == OFPTYPE_ERROR) {
        if (meters_handle_error(eng->meters, bridge, oh)
            || (br && br->ft && flowtab_handle_error(br->ft, oh))) {
            return;
        }
        enum ofperr err = ofperr_decode_msg(oh, NULL);
        VLOG_WARN_RL(&rl, "%s: OpenFlow error for xid %#" PRIx32 ": %s",
                     bridge, ntohl(oh->xid),
                     err ? ofperr_to_string(err) : "undecodable");
    } else {
        /* Nothing of vmacd's asks for these (FLOW_REMOVED, ROLE_STATUS,
         * TABLE_STATUS, REQUESTFORWARD...). */
        VLOG_DBG_RL(&rl, "%s: ignoring %s", bridge, ofptype_get_name(type));
    }
}

static const struct switches_callbacks sw_cbs = {
    .ready = sw_ready,
    .lost = sw_lost,
    .port_changed = sw_port_changed,
    .message = sw_message,
};

/* Probes. */

static bool
pr_port_up(void *eng_, const char *bridge, const char *port, uint32_t *ofport)
{
    struct engine *eng = eng_;
    const struct ofswitch_port *op = switches_port(eng->sw, bridge, port);
    const struct ebridge *br = bridge_find(eng, bridge);
    if (!op || op->link_down || op->admin_down || !br || !br->ft) {
        return false;
    }
    *ofport = op->number;
    return true;
}

static const char *
pr_port_name(void *eng_, const char *bridge, uint32_t ofport)
{
    struct engine *eng = eng_;
    const struct ofswitch_port *op
        = switches_port_by_number(eng->sw, bridge, ofport);
    return op ? op->name : NULL;
}

static int
pr_send(void *eng_, const char *bridge, uint32_t ofport,
        const struct dp_packet *pkt)
{
    struct engine *eng = eng_;
    return switches_packet_out(eng->sw, bridge, ofport, pkt);
}

static void
pr_receive_pending(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    if (chan) {
        ofchan_receive_pending(chan, 1 << 20);
    }
}

static uint64_t
pr_tx_mark(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    return chan ? ofchan_tx_mark(chan) : 0;
}

static bool
pr_delivered(void *eng_, const char *bridge, uint64_t mark)
{
    struct engine *eng = eng_;
    struct ofchan *chan = switches_chan(eng->sw, bridge);
    return chan && ofchan_tx_delivered(chan, mark);
}

static void
pr_changed(void *eng_, const char *alias, const char *member,
           const char *reason)
{
    struct engine *eng = eng_;
    struct ealias *ea = alias_find(eng, alias);
    int m = ea ? member_index(ea->cfg, member) : -1;
    if (m >= 0) {
        member_sync(ea, m);
        alias_mark(ea);
        schedule_update(eng, ev_time(), reason);
    }
}

static void
pr_publish(void *eng_, const char *type, json_t *event)
{
    engine_publish(eng_, type, event);
}

static const struct probes_callbacks pr_cbs = {
    .port_up = pr_port_up,
    .port_name = pr_port_name,
    .send = pr_send,
    .tx_mark = pr_tx_mark,
    .delivered = pr_delivered,
    .receive_pending = pr_receive_pending,
    .changed = pr_changed,
    .publish = pr_publish,
};

static struct ofchan *
mt_chan(void *eng_, const char *bridge)
{
    struct engine *eng = eng_;
    const struct ebridge *br = bridge_find(eng, bridge);
    return br && br->ft ? switches_chan(eng->sw, bridge) : NULL;
}

static const struct meters_callbacks mt_cbs = {
    .chan = mt_chan,
};

/* Announcements: one round, every address of the alias on every uplink of
 * the master's bridge. */
static int
announce_round(void *eng_, const char *alias)
{
    struct engine *eng = eng_;
    const struct ealias *ea = alias_find(eng, alias);
    int m = ea ? alias_state_master(ea->st) : -1;
    if (m < 0) {
        return -ENOENT;
    }
    const struct cfg_alias *a = ea->cfg;
    const char *bridge = a->members[m].bridge;
    const struct ebridge *br = bridge_find(eng, bridge);
    if (!br || !br->ft) {
        return -ENOTCONN;
    }
    struct dp_packet pkt;
    dp_packet_init(&pkt, 128);
    int n = 0;
    for (size_t u = 0; u < br->fg.n_uplinks; u++) {
        uint32_t port = br->fg.uplinks[u];
        for (size_t i = 0; i < a->n_ip4; i++) {
            announce_build_garp(&pkt, a->vmac, a->ip4[i]);
            n += !switches_packet_out(eng->sw, bridge, port, &pkt);
        }
        for (size_t i = 0; i < a->n_ip6; i++) {
            announce_build_una(&pkt, a->vmac, &a->ip6[i]);
            n += !switches_packet_out(eng->sw, bridge, port, &pkt);
        }
    }
    dp_packet_uninit(&pkt);
    return n;
}

int
engine_announce_now(struct engine *eng, const char *alias, struct verror *e)
{
    const struct ealias *ea = alias_find(eng, alias);
    int m = ea ? alias_state_master(ea->st) : -1;
    if (m < 0) {
        return verror_set(e, ENOENT, VERR_CONFLICT, "name",
                          "alias %s has no master", alias);
    }
    const char *bridge = ea->cfg->members[m].bridge;
    if (!switches_is_connected(eng->sw, bridge)) {
        return verror_set(e, ENOTCONN, VERR_CONFLICT, "name",
                          "bridge %s of the master is not connected", bridge);
    }
    announcer_start(eng->ann, ea->cfg);
    return 0;
}

/* Writes. */

static void
renumbered(struct engine *eng, struct cfg_renumbering *r)
{
    for (size_t i = 0; i < r->n; i++) {
        VLOG_INFO("alias %s: id %#" PRIx32 " -> %#" PRIx32 " (a hash "
                  "collision resolved anew)",
                  r->aliases[i]->name, r->old_ids[i], r->aliases[i]->id);
        struct ealias *ea = alias_find(eng, r->aliases[i]->name);
        if (ea) {
            alias_renumbered(ea);
        }
    }
    cfg_renumbering_destroy(r);
}

/* Applies 'a' (reference taken; in 'eng->cfg' already) to the runtime. */
static void
apply_alias(struct engine *eng, struct cfg_alias *old, struct cfg_alias *a)
{
    struct ealias *ea = alias_find(eng, a->name);
    bool probed = alias_probed(eng, old) || alias_probed(eng, a);
    if (ea) {
        alias_replace(ea, cfg_alias_ref(a));
    } else {
        alias_create(eng, cfg_alias_ref(a));
    }
    if (probed) {
        meter_plan_update(eng);
    }
}

uint64_t
engine_alias_put(struct engine *eng, struct cfg_alias *a)
{
    struct cfg_renumbering r = { 0 };
    struct cfg_alias *old = config_put_alias(eng->cfg, a, &r);
    apply_alias(eng, old, a);
    cfg_alias_unref(old);
    renumbered(eng, &r);
    keep_configured_bridges(eng);
    schedule_update(eng, ev_time(), "api write");
    return engine_next_generation(eng);
}

uint64_t
engine_alias_remove(struct engine *eng, const char *name)
{
    struct cfg_renumbering r = { 0 };
    struct cfg_alias *old = config_remove_alias(eng->cfg, name, &r);
    struct ealias *ea = alias_find(eng, name);
    if (ea) {
        alias_destroy(ea);
    }
    if (alias_probed(eng, old)) {
        meter_plan_update(eng);
    }
    cfg_alias_unref(old);
    renumbered(eng, &r);
    schedule_update(eng, ev_time(), "api write");
    return engine_next_generation(eng);
}

int
engine_alias_move(struct engine *eng, const char *alias, int member,
                  struct verror *e)
{
    struct ealias *ea = alias_find(eng, alias);
    if (!ea) {
        return verror_set(e, ENOENT, VERR_NOT_FOUND, "name",
                          "no alias \"%s\"", alias);
    }
    int error = alias_state_move(ea->st, member, now_ms(eng));
    if (error) {
        return verror_set(e, error, "not_eligible", "member", "%s",
                          member >= 0 ? "that member is not eligible (port "
                                        "absent, link down, unhealthy or "
                                        "drained)"
                                      : "no other member is eligible");
    }
    alias_mark(ea);
    schedule_update(eng, ev_time(), "move");
    return 0;
}

/* Reload. */

void
engine_reload(struct engine *eng, struct config *cfg)
{
    struct config *old = eng->cfg;
    if (cfg->n_listen != old->n_listen || cfg->n_connect != old->n_connect
        || strcmp(cfg->api_socket, old->api_socket)) {
        VLOG_WARN("reload: OpenFlow targets and the API socket change only "
                  "on restart");
    }
    bool cookies = cfg->cookie_prefix != old->cookie_prefix;

    /* Aliases that did not change keep their very objects, so nothing of
     * theirs is touched. */
    struct cfg_renumbering r = { 0 };
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *o = config_find_alias(old, cfg->aliases[i]->name);
        if (o && config_alias_equal(o, cfg->aliases[i])) {
            cfg_alias_unref(config_put_alias(cfg, cfg_alias_ref(o), &r));
        }
    }
    cfg_renumbering_destroy(&r);
    eng->cfg = cfg;
    probes_set_config(eng->probes, cfg);

    struct ealias *ea;
    HMAP_FOR_EACH_SAFE (ea, node, &eng->aliases) {
        if (!config_find_alias(cfg, ea->cfg->name)) {
            alias_destroy(ea);
        }
    }
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct cfg_alias *a = cfg->aliases[i];
        ea = alias_find(eng, a->name);
        if (!ea) {
            alias_create(eng, cfg_alias_ref(a));
        } else if (ea->cfg != a) {
            alias_replace(ea, cfg_alias_ref(a));
        }
    }
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        bridge_update_inputs(br);
        if (cookies && br->ft) {
            /* Another cookie space: read the switch again. */
            flowtab_destroy(br->ft);
            br->ft = NULL;
            sw_ready(eng, br->name);
        }
    }
    meter_plan_update(eng);
    keep_configured_bridges(eng);
    config_destroy(old);

    VLOG_INFO("configuration reloaded: %zu aliases, %zu bridges",
              cfg->n_aliases, cfg->n_bridges);
    json_t *ev = json_object();
    json_object_set_new(ev, "aliases", json_integer(cfg->n_aliases));
    engine_publish(eng, "config_reloaded", ev);
    schedule_update(eng, ev_time(), "reload");
}

/* Waiting for a generation to be applied. */

/* Has every connected bridge applied everything up to 'generation'?
 * Appends to 'pending' (if nonnull), sorted, the disconnected bridges that
 * carry aliases and, with 'lagging', the connected ones that did not. */
static bool
applied_everywhere(const struct engine *eng, uint64_t generation, bool lagging,
                   json_t *pending)
{
    bool done = !ev_is_active(&eng->update);
    struct svec names = SVEC_EMPTY_INITIALIZER;
    const struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        bool up = br->ft != NULL;
        bool behind = up && (br->dirty || br->reading
                             || br->applied < MIN(br->handed, generation));
        done = done && !behind;
        if ((!up && !ovs_list_is_empty(&br->recs)) || (behind && lagging)) {
            svec_add(&names, br->name);
        }
    }
    if (pending) {
        svec_sort(&names);
        const char *name;
        size_t i;
        SVEC_FOR_EACH (i, name, &names) {
            json_array_append_new(pending, json_string(name));
        }
    }
    svec_destroy(&names);
    return done;
}

static void
waiter_fire(struct engine_waiter *w)
{
    json_t *pending = json_array();
    applied_everywhere(w->eng, w->generation, true, pending);
    ev_timer_stop(w->eng->loop, &w->timer);
    ovs_list_remove(&w->node);
    w->cb(w->eng, pending, w->aux);
    json_decref(pending);
    free(w);
}

static void
waiter_timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *t,
                int revents OVS_UNUSED)
{
    struct engine_waiter *w = CONTAINER_OF(t, struct engine_waiter, timer);
    if (!applied_everywhere(w->eng, w->generation, false, NULL)) {
        VLOG_WARN_RL(&rl,
                     "generation %" PRIu64 " not applied by every connected "
                     "bridge within %.0f s",
                     w->generation, w->timer.repeat);
    }
    waiter_fire(w);
}

struct engine_waiter *
engine_when_applied(struct engine *eng, uint64_t generation, double timeout,
                    engine_applied_cb *cb, void *aux)
{
    struct engine_waiter *w = xzalloc(sizeof *w);
    w->eng = eng;
    w->generation = generation;
    w->cb = cb;
    w->aux = aux;
    ovs_list_push_back(&eng->waiters, &w->node);
    /* Already true: fire from the loop, never before returning. */
    bool now = applied_everywhere(eng, generation, false, NULL);
    ev_timer_init(&w->timer, waiter_timer_cb, now ? 0. : timeout, 0.);
    w->timer.repeat = timeout;
    ev_timer_start(eng->loop, &w->timer);
    return w;
}

void
engine_waiter_cancel(struct engine_waiter *w)
{
    if (w) {
        ev_timer_stop(w->eng->loop, &w->timer);
        ovs_list_remove(&w->node);
        free(w);
    }
}

static void
engine_check_applied(struct engine *eng)
{
    struct engine_waiter *w;
    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        if (applied_everywhere(eng, w->generation, false, NULL)) {
            waiter_fire(w);
        }
    }
}

/* Accessors for engine-api.c and engine-write.c. */

struct switches *
engine_switches(const struct engine *eng)
{
    return eng->sw;
}

struct probes *
engine_probes(const struct engine *eng)
{
    return eng->probes;
}

struct store *
engine_store(const struct engine *eng)
{
    return eng->store;
}

const struct probemeter_plan *
engine_meter_plan(const struct engine *eng)
{
    return eng->plan;
}

double
engine_started(const struct engine *eng)
{
    return eng->started;
}

const struct alias_state *
engine_alias_state(const struct engine *eng, const char *alias)
{
    const struct ealias *ea = alias_find(eng, alias);
    return ea ? ea->st : NULL;
}

uint64_t
engine_alias_announced(const struct engine *eng, const char *alias)
{
    return announcer_count(eng->ann, alias);
}

const struct flowtab *
engine_bridge_flowtab(const struct engine *eng, const char *bridge)
{
    const struct ebridge *br = bridge_find(eng, bridge);
    return br ? br->ft : NULL;
}

void
engine_bridge_generations(const struct engine *eng, const char *bridge,
                          uint64_t *handed, uint64_t *applied)
{
    const struct ebridge *br = bridge_find(eng, bridge);
    *handed = br ? br->handed : 0;
    *applied = br ? br->applied : 0;
}

/* Lifecycle. */

static void
keep_configured_bridges(struct engine *eng)
{
    struct sset names = SSET_INITIALIZER(&names);
    const struct config *cfg = eng->cfg;
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        sset_add(&names, cfg->bridges[i].name);
    }
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        if (!ovs_list_is_empty(&br->recs)) {
            sset_add(&names, br->name);
        }
    }
    const char **v = sset_array(&names);
    switches_keep(eng->sw, v, sset_count(&names), NULL);
    free(v);
    sset_destroy(&names);
}

int
engine_create(struct ev_loop *loop, struct config *cfg, struct engine **engp,
              struct verror *e)
{
    struct engine *eng = xzalloc(sizeof *eng);
    eng->loop = loop;
    eng->cfg = cfg;
    eng->started = ev_time();
    hmap_init(&eng->aliases);
    hmap_init(&eng->bridges);
    ovs_list_init(&eng->dirty_aliases);
    ovs_list_init(&eng->dirty_recs);
    ovs_list_init(&eng->dirty_bridges);
    ovs_list_init(&eng->waiters);
    sset_init(&eng->staged);
    ev_init(&eng->update, update_cb);
    ev_init(&eng->stage_timer, stage_timeout_cb);

    struct ofchan_options opts;
    ofchan_default_options(&opts);
    opts.probe_interval_ms = cfg->inactivity_probe_ms;
    eng->sw = switches_create(loop, &opts, &sw_cbs, eng);
    eng->probes = probes_create(loop, &pr_cbs, eng);
    probes_set_config(eng->probes, cfg);
    eng->meters = meters_create(&mt_cbs, eng);
    eng->ann = announcer_create(loop, announce_round, eng);
    eng->plan = probemeter_plan_create(cfg);
    meters_set_plan(eng->meters, eng->plan, 0);

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        alias_create(eng, cfg_alias_ref(cfg->aliases[i]));
    }
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        bridge_get(eng, cfg->bridges[i].name);
    }
    keep_configured_bridges(eng);

    int error = 0;
    for (size_t i = 0; !error && i < cfg->n_listen; i++) {
        error = switches_add_target(eng->sw, cfg->listen[i], e);
    }
    for (size_t i = 0; !error && i < cfg->n_connect; i++) {
        error = switches_add_target(eng->sw, cfg->connect[i], e);
    }
    if (error) {
        engine_destroy(eng);
        *engp = NULL;
        return error;
    }
    /* What loading the config took (its JSON) goes back to the system. */
    malloc_trim(0);
    *engp = eng;
    return 0;
}

void
engine_destroy(struct engine *eng)
{
    if (!eng) {
        return;
    }
    /* Reply to the writes still waiting: their change is persisted and
     * applied in memory, the switches just did not confirm it. */
    struct engine_waiter *w;
    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        waiter_fire(w);
    }
    /* Flow tables before the connections they use. */
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        flowtab_destroy(br->ft);
        br->ft = NULL;
    }
    switches_destroy(eng->sw); /* No callback from here on. */
    eng->sw = NULL;
    struct ealias *ea;
    HMAP_FOR_EACH_SAFE (ea, node, &eng->aliases) {
        alias_destroy(ea);
    }
    hmap_destroy(&eng->aliases);
    HMAP_FOR_EACH_SAFE (br, node, &eng->bridges) {
        bridge_destroy(br);
    }
    hmap_destroy(&eng->bridges);
    probes_destroy(eng->probes);
    meters_destroy(eng->meters);
    announcer_destroy(eng->ann);
    probemeter_plan_destroy(eng->plan);
    ev_timer_stop(eng->loop, &eng->update);
    ev_timer_stop(eng->loop, &eng->stage_timer);
    sset_destroy(&eng->staged);
    free(eng->pending_reason);
    config_destroy(eng->cfg);
    free(eng);
}

void
engine_attach_api(struct engine *eng, struct api *api, struct store *store)
{
    eng->api = api;
    eng->store = store;
    engine_api_routes(eng, api);
}
