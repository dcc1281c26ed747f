/*
 * engine: vmacd's core (see engine.h), the state and its run.
 *
 * State (engine-core.h):
 *   - one 'struct ealias' per alias: its config (a reference), its
 *     election state (alias.h), a pending master change, its records;
 *   - one 'struct ebridge' per bridge that carries an alias or is
 *     connected: the bridge-wide flowgen inputs, its flow table while
 *     connected, its records, the member ports on it;
 *   - one 'struct erec' per (alias, bridge) it is carried on: the input
 *     record its flows and group were made from, and those parts;
 *   - three dirty lists (aliases to elect, records to recompute, bridges
 *     to commit), filled by events and emptied by engine_run().
 * This file: the dirty lists, bridges and records, the run (elections,
 * records, commits), the flow tables' reports and the lifecycle.  The
 * aliases are in engine-alias.c, the events of the parts it wires
 * (switches, probes, meters, announcer) in engine-events.c, the waiters
 * for a generation in engine-wait.c.
 */
#include "engine-core.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "announcer.h"
#include "api.h"
#include "config.h"
#include "flowgen.h"
#include "flowinput.h"
#include "flowset.h"
#include "flowtab.h"
#include "hash.h"
#include "hooks.h"
#include "meters.h"
#include "ofchan.h"
#include "ofswitch.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "probemeter.h"
#include "probes.h"
#include "ratelog.h"
#include "sset.h"
#include "switches.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine);

/* How long the other bridges wait for the bridge that gains a master. */
#define STAGE_TIMEOUT 1.0

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

void
ealias_mark(struct ealias *ea)
{
    if (!ea->dirty) {
        ea->dirty = true;
        ovs_list_push_back(&ea->eng->dirty_aliases, &ea->dirty_node);
    }
}

void
erec_mark(struct erec *rec)
{
    if (!rec->dirty) {
        rec->dirty = true;
        ovs_list_push_back(&rec->ea->eng->dirty_recs, &rec->dirty_node);
    }
}

static void
ebridge_mark(struct ebridge *br)
{
    if (!br->dirty) {
        br->dirty = true;
        ovs_list_push_back(&br->eng->dirty_bridges, &br->dirty_node);
    }
}

/* Bridges. */

struct ebridge *
ebridge_find(const struct engine *eng, const char *name)
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
    const struct ofswitch_port *p = switches_port(br->eng->sw, br->name, port);
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

/* VLANs: from the Open vSwitch database (engine-ovsdb.c). */
static bool
env_port_vlan(const void *br_, const char *bridge, const char *port,
              struct flowgen_vlan *vlan, bool *configured)
{
    const struct ebridge *br = br_;
    return engine_port_vlan(br->eng, bridge, port, vlan, configured);
}

static void
env_bridge_vlans(const void *br_, const char *bridge, flowinput_vlan_cb *cb,
                 void *ctx)
{
    const struct ebridge *br = br_;
    engine_bridge_vlans(br->eng, bridge, cb, ctx);
}

static struct flowinput_env
bridge_env(const struct ebridge *br)
{
    return (struct flowinput_env){
        .port = env_port,
        .mac = env_mac,
        .port_vlan = env_port_vlan,
        .bridge_vlans = env_bridge_vlans,
        .aux = br,
        .plan = br->eng->plan,
    };
}

/* Recomputes the bridge-wide inputs.  A change the records read makes
 * every record on the bridge dirty; one of the ports' VLANs only the base
 * part, one of the uplinks' VLANs the records (whose 'carry' tells). */
void
ebridge_update_inputs(struct ebridge *br)
{
    struct flowinput_env env = bridge_env(br);
    struct flowgen_bridge fg = { .version = br->fg.version };
    flowinput_bridge(br->eng->cfg, br->name, &env, &fg);
    bool equal = flowinput_bridge_equal(&fg, &br->fg);
    unsigned int vlans = flowinput_bridge_vlan_changes(&fg, &br->fg);
    if (equal && !vlans) {
        flowinput_bridge_destroy(&fg);
        return;
    }
    flowinput_bridge_destroy(&br->fg);
    br->fg = fg;
    br->base_dirty = true;
    ebridge_mark(br);
    if (!equal) {
        br->fg.version++;
    }
    if (!equal || vlans & FLOWINPUT_VLAN_UPLINKS) {
        struct erec *rec;
        LIST_FOR_EACH (rec, br_node, &br->recs) {
            erec_mark(rec);
        }
    }
}

/* The base part's inputs from the meter plan. */
void
ebridge_update_probed(struct ebridge *br)
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
        ebridge_mark(br);
    }
}

struct ebridge *
ebridge_get(struct engine *eng, const char *name)
{
    struct ebridge *br = ebridge_find(eng, name);
    if (!br) {
        br = xzalloc(sizeof *br);
        br->eng = eng;
        br->name = xstrdup(name);
        ovs_list_init(&br->recs);
        hmap_init(&br->ports);
        ovs_list_init(&br->pending);
        hmap_insert(&eng->bridges, &br->node, hash_string(name, 0));
        ebridge_update_inputs(br);
        ebridge_update_probed(br);
    }
    return br;
}

void
ebridge_destroy(struct ebridge *br)
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
    free(br->identity_error);
    hmap_remove(&eng->bridges, &br->node);
    free(br->name);
    free(br);
}

struct eport *
eport_find(const struct ebridge *br, const char *name)
{
    struct eport *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, hash_string(name, 0), &br->ports) {
        if (!strcmp(p->name, name)) {
            return p;
        }
    }
    return NULL;
}

struct eport *
eport_get(struct ebridge *br, const char *name)
{
    struct eport *p = eport_find(br, name);
    if (!p) {
        p = xzalloc(sizeof *p);
        p->name = xstrdup(name);
        ovs_list_init(&p->users);
        struct flowinput_env env = bridge_env(br);
        p->vlan = flowinput_port_vlan(&env, br->name, name);
        hmap_insert(&br->ports, &p->node, hash_string(name, 0));
    }
    return p;
}

/* Feeds the members on port 'p' of 'br' with what the switch and the
 * probes see now (and, with 'probe', tells the probes its link first). */
void
eport_sync(struct ebridge *br, struct eport *p, bool probe)
{
    struct engine *eng = br->eng;
    if (probe) {
        const struct ofswitch_port *op
            = switches_port(eng->sw, br->name, p->name);
        probes_port(eng->probes, br->name, p->name, true,
                    op && !op->link_down && !op->admin_down);
    }
    struct emember *em;
    LIST_FOR_EACH (em, port_node, &p->users) {
        ealias_member_sync(em->ea, em->idx);
        ealias_mark(em->ea);
    }
}

/* Records. */

static void
rec_unset_parts(struct erec *rec)
{
    if (rec->br->ft) {
        flowtab_set_part(rec->br->ft, rec->id, NULL);
        flowtab_set_part(rec->br->ft, rec->id | FLOWSET_GROUP_PART, NULL);
        ebridge_mark(rec->br);
    }
}

void
erec_destroy(struct erec *rec)
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

struct erec *
erec_find(const struct ealias *ea, const struct ebridge *br)
{
    struct erec *rec;
    LIST_FOR_EACH (rec, alias_node, &ea->recs) {
        if (rec->br == br) {
            return rec;
        }
    }
    return NULL;
}

void
erec_create(struct ealias *ea, struct ebridge *br)
{
    struct erec *rec = xzalloc(sizeof *rec);
    rec->ea = ea;
    rec->br = br;
    rec->id = ea->cfg->id;
    ovs_list_push_back(&ea->recs, &rec->alias_node);
    ovs_list_push_back(&br->recs, &rec->br_node);
    erec_mark(rec);
}

/* The engine run: elections, records, commits. */

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
        ebridge_mark(br);
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
        const struct ebridge *br = ebridge_find(eng, name);
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
    RL_WARN("new master bridge(s) did not confirm within %.0f s; "
            "updating the other bridges anyway",
            STAGE_TIMEOUT);
    sset_clear(&eng->staged);
    engine_schedule_update(eng, ev_time(), "staged commit timeout");
}

static void
engine_run(struct engine *eng)
{
    long long now = engine_now_ms(eng);
    double event_time = eng->pending_event_time;
    uint64_t generation = eng->generation + 1;

    struct ealias *ea;
    LIST_FOR_EACH_POP (ea, dirty_node, &eng->dirty_aliases) {
        ea->dirty = false;
        ealias_elect(ea, now, event_time, generation);
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

void
engine_schedule_update(struct engine *eng, double event_time,
                       const char *reason)
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

/* Runs 'ea''s "notify" program, if any, for the change just applied. */
static void
engine_notify(struct engine *eng, const struct ealias *ea, const char *bridge,
              double ms)
{
    if (ea->cfg->notify.program) {
        struct hooks_event hev = {
            .alias = ea->cfg->name,
            .old_master
            = (ea->change_old >= 0 ? ealias_member_name(ea, ea->change_old)
                                   : ""),
            .new_master
            = (ea->change_new >= 0 ? ealias_member_name(ea, ea->change_new)
                                   : ""),
            .reason = ea->change_reason,
            .bridge = bridge,
            .event_time = ea->change_event_time,
            .applied_ms = (long long) (ms + 0.5),
        };
        hooks_run(eng->hooks, &ea->cfg->notify, &hev);
    }
}

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
        double ms
            = (ea->change_event_time ? (now - ea->change_event_time) * 1000.0
                                     : 0);
        VLOG_INFO("alias %s: master %s -> %s (%s), applied %.3f ms after the "
                  "event",
                  ea->cfg->name, ealias_member_name(ea, ea->change_old),
                  ealias_member_name(ea, ea->change_new), ea->change_reason,
                  ms);
        json_t *ev = json_object();
        json_object_set_new(ev, "alias", json_string(ea->cfg->name));
        json_object_set_new(ev, "old_master",
                            ea->change_old >= 0 ? json_string(
                                ealias_member_name(ea, ea->change_old))
                                                : json_null());
        json_object_set_new(
            ev, "new_master",
            json_string(ealias_member_name(ea, ea->change_new)));
        json_object_set_new(ev, "reason", json_string(ea->change_reason));
        json_object_set_new(ev, "bridge", json_string(br->name));
        json_object_set_new(ev, "event_to_barrier_ms", json_real(ms));
        engine_publish(eng, "master_change", ev);
        engine_notify(eng, ea, br->name, ms);
        ea->change_pending = false;
        ealias_clear_pending(ea);
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
        engine_schedule_update(eng, now, "staged bridge applied");
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
    long long now = engine_now_ms(eng);

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
                ealias_mark(ea);
                break;
            }
        }
    }
    engine_schedule_update(eng, ev_time(), "flows read");
}

/* The switch of 'br' is ready: a flow table on its connection, which
 * reads what is installed and then gets every part again; unless it is
 * not the bridge the Open vSwitch database names so (engine-ovsdb.c). */
void
ebridge_connect(struct ebridge *br)
{
    struct engine *eng = br->eng;

    free(br->identity_error);
    br->identity_error = ebridge_identity_error(br);
    if (br->identity_error) {
        RL_WARN("%s: %s; vmacd does not write to it", br->name,
                br->identity_error);
        json_t *ev = json_object();
        json_object_set_new(ev, "bridge", json_string(br->name));
        json_object_set_new(ev, "error", json_string(br->identity_error));
        engine_publish(eng, "bridge_mismatch", ev);
        return;
    }
    br->ft = flowtab_create(eng->loop, switches_chan(eng->sw, br->name),
                            eng->cfg->cookie_prefix, flows_applied, flows_read,
                            br);
    br->reading = true;
    br->announce_on_apply = true;
    br->handed = br->applied = 0;
    meters_bridge_ready(eng->meters, br->name, eng->generation);
    flowtab_start(br->ft);

    ebridge_update_inputs(br);
    br->base_dirty = true;
    ebridge_mark(br);
    struct erec *rec;
    LIST_FOR_EACH (rec, br_node, &br->recs) {
        if (rec->generated) {
            /* What it wanted before, until its inputs say otherwise. */
            flowtab_set_part(br->ft, rec->id, fs_part_ref(rec->flows));
            flowtab_set_part(br->ft, rec->id | FLOWSET_GROUP_PART,
                             fs_part_ref(rec->group));
        }
        erec_mark(rec);
    }
    struct eport *p;
    HMAP_FOR_EACH (p, node, &br->ports) {
        if (br->was_connected) {
            /* Its members may have restarted meanwhile (an ovs-vswitchd
             * restart takes the host's VMs' ports with it): none takes
             * the master role back before its probes say so again. */
            probes_port_forget(eng->probes, br->name, p->name,
                               "bridge reconnected");
        }
        eport_sync(br, p, true);
    }
    br->was_connected = true;
    /* The election waits for flows_read(). */
}

/* vmacd stops writing to the switch of 'br' (it went, or it is not the
 * bridge the database names so: 'identity_error', copied).  Its members
 * are unreachable for vmacd: an alias with members elsewhere fails over
 * to them; the bridge itself keeps forwarding with its last flows. */
void
ebridge_disconnect(struct ebridge *br, const char *identity_error)
{
    flowtab_destroy(br->ft);
    br->ft = NULL;
    br->reading = false;
    free(br->identity_error);
    br->identity_error = nullable_xstrdup(identity_error);
    struct ealias *ea;
    LIST_FOR_EACH_SAFE (ea, pending_node, &br->pending) {
        VLOG_INFO("alias %s: master %s -> %s (%s), not confirmed: bridge %s "
                  "%s",
                  ea->cfg->name, ealias_member_name(ea, ea->change_old),
                  ealias_member_name(ea, ea->change_new), ea->change_reason,
                  br->name, identity_error ? "not written" : "disconnected");
        ea->change_pending = false;
        ealias_clear_pending(ea);
    }
    struct eport *p;
    HMAP_FOR_EACH (p, node, &br->ports) {
        eport_sync(br, p, false);
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

const struct hooks *
engine_hooks(const struct engine *eng)
{
    return eng->hooks;
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
    const struct ealias *ea = ealias_find(eng, alias);
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
    const struct ebridge *br = ebridge_find(eng, bridge);
    return br ? br->ft : NULL;
}

void
engine_bridge_generations(const struct engine *eng, const char *bridge,
                          uint64_t *handed, uint64_t *applied)
{
    const struct ebridge *br = ebridge_find(eng, bridge);
    *handed = br ? br->handed : 0;
    *applied = br ? br->applied : 0;
}

/* Lifecycle. */

void
engine_keep_bridges(struct engine *eng)
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
    if (!sset_equals(&names, &eng->kept)) {
        sset_swap(&names, &eng->kept);
        const char **v = sset_array(&eng->kept);
        switches_keep(eng->sw, v, sset_count(&eng->kept));
        free(v);
        if (eng->bridges_cb) {
            eng->bridges_cb(&eng->kept, eng->bridges_aux);
        }
    }
    sset_destroy(&names);
}

void
engine_pin_bridges(struct engine *eng)
{
    const struct config *cfg = eng->cfg;
    struct switches_pin *pins = xcalloc(MAX(cfg->n_bridges, 1), sizeof *pins);
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        const struct cfg_bridge *b = &cfg->bridges[i];
        pins[i] = (struct switches_pin){
            .name = b->name,
            .dpid = b->datapath_id,
            .peer_cn = b->peer_cn,
        };
    }
    switches_pin(eng->sw, pins, cfg->n_bridges);
    switches_set_forget_s(eng->sw, cfg->forget_bridges_s);
    free(pins);
}

void
engine_on_bridges(struct engine *eng, engine_bridges_cb *cb, void *aux)
{
    eng->bridges_cb = cb;
    eng->bridges_aux = aux;
    cb(&eng->kept, aux);
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
    ovs_list_init(&eng->iface_aliases);
    sset_init(&eng->staged);
    sset_init(&eng->kept);
    ev_init(&eng->update, update_cb);
    ev_init(&eng->stage_timer, stage_timeout_cb);

    struct ofchan_options opts;
    ofchan_default_options(&opts);
    opts.probe_interval_ms = cfg->inactivity_probe_ms;
    eng->sw = switches_create(loop, &opts, &engine_switches_cbs, eng);
    eng->probes = probes_create(loop, &engine_probes_cbs, eng);
    probes_set_config(eng->probes, cfg);
    eng->meters = meters_create(&engine_meters_cbs, eng);
    eng->ann = announcer_create(loop, engine_announce_round, eng);
    eng->hooks = hooks_create(loop);
    eng->plan = probemeter_plan_create(cfg);
    meters_set_plan(eng->meters, eng->plan, 0);

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        ealias_create(eng, cfg_alias_ref(cfg->aliases[i]));
    }
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        ebridge_get(eng, cfg->bridges[i].name);
    }
    engine_keep_bridges(eng);
    engine_pin_bridges(eng);

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
    engine_fire_waiters(eng);
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
        ealias_destroy(ea);
    }
    hmap_destroy(&eng->aliases);
    HMAP_FOR_EACH_SAFE (br, node, &eng->bridges) {
        ebridge_destroy(br);
    }
    hmap_destroy(&eng->bridges);
    probes_destroy(eng->probes);
    meters_destroy(eng->meters);
    announcer_destroy(eng->ann);
    hooks_destroy(eng->hooks);
    probemeter_plan_destroy(eng->plan);
    ev_timer_stop(eng->loop, &eng->update);
    ev_timer_stop(eng->loop, &eng->stage_timer);
    sset_destroy(&eng->staged);
    sset_destroy(&eng->kept);
    ovsdbc_snap_unref(eng->snap);
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
