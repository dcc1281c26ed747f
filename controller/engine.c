/*
 * engine: vmacd's core state and wiring (see engine.h).
 */
#include "engine-private.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "api.h"
#include "config.h"
#include "flowgen.h"
#include "flowtab.h"
#include "health.h"
#include "oflisten.h"
#include "ofswitch.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/vlog.h"
#include "hash.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

static void conn_new(int fd, const char *peer, struct oflisten_active *,
                     void *eng_);
static void engine_update_cb(struct ev_loop *, ev_timer *, int revents);
static void alias_wakeup_cb(struct ev_loop *, ev_timer *, int revents);

long long
engine_now_ms(const struct engine *eng)
{
    return (long long) (ev_now(eng->loop) * 1000.0);
}

const struct config *
engine_config(const struct engine *eng)
{
    return eng->cfg;
}

/* Bridges. */

struct bridge *
engine_bridge_find(const struct engine *eng, const char *name)
{
    struct bridge *br;
    HMAP_FOR_EACH_WITH_HASH (br, node, hash_string(name, 0), &eng->bridges) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

static struct bridge *
bridge_get(struct engine *eng, const char *name)
{
    struct bridge *br = engine_bridge_find(eng, name);
    if (!br) {
        br = xzalloc(sizeof *br);
        br->name = xstrdup(name);
        hmap_insert(&eng->bridges, &br->node, hash_string(name, 0));
    }
    return br;
}

/* Aliases. */

static int
compare_ids(const void *a_, const void *b_)
{
    const uint32_t *a = a_, *b = b_;
    return *a < *b ? -1 : *a > *b;
}

static void
aliases_create(struct engine *eng)
{
    const struct config *cfg = eng->cfg;
    eng->rts = xcalloc(MAX(cfg->n_aliases, 1), sizeof *eng->rts);
    eng->states = xcalloc(MAX(cfg->n_aliases, 1), sizeof *eng->states);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct alias_rt *rt = &eng->rts[i];
        rt->eng = eng;
        rt->idx = i;
        rt->change_old = rt->change_new = -1;
        ev_init(&rt->wakeup, alias_wakeup_cb);
        engine_announce_init(rt);
        eng->states[i] = alias_state_create(&cfg->aliases[i]);
        /* API writes (engine-write.c): drained members. */
        for (size_t m = 0; m < cfg->aliases[i].n_members; m++) {
            if (cfg->aliases[i].members[m].drained) {
                alias_state_set_drained(eng->states[i], m, true,
                                        engine_now_ms(eng));
            }
        }
    }
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        bridge_get(eng, cfg->bridges[i].name);
    }

    eng->cfg_seq++;
    free(eng->ids_sorted);
    eng->ids_sorted
        = xmalloc(MAX(cfg->n_aliases, 1) * sizeof *eng->ids_sorted);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        eng->ids_sorted[i] = cfg->aliases[i].id;
    }
    qsort(eng->ids_sorted, cfg->n_aliases, sizeof *eng->ids_sorted,
          compare_ids);
    engine_health_sync(eng); /* Health probes (engine-health.c). */
}

int
engine_alias_index(const struct engine *eng, const char *name)
{
    const struct cfg_alias *a = config_find_alias(eng->cfg, name);
    return a ? a - eng->cfg->aliases : -1;
}

bool
engine_has_alias_id(const struct engine *eng, uint32_t id)
{
    return bsearch(&id, eng->ids_sorted, eng->cfg->n_aliases,
                   sizeof *eng->ids_sorted, compare_ids)
           != NULL;
}

static void
aliases_destroy(struct engine *eng)
{
    for (size_t i = 0; eng->cfg && i < eng->cfg->n_aliases; i++) {
        struct alias_rt *rt = &eng->rts[i];
        ev_timer_stop(eng->loop, &rt->wakeup);
        engine_announce_stop(rt);
        free(rt->change_reason);
        free(rt->master_bridge);
        alias_state_destroy(eng->states[i]);
    }
    free(eng->rts);
    free(eng->states);
    eng->rts = NULL;
    eng->states = NULL;
}

/* Feeds the port table of bridge 'br' into every member on it. */
static void
members_sync_ports(struct engine *eng, const struct bridge *br)
{
    const struct config *cfg = eng->cfg;
    long long now = engine_now_ms(eng);

    /* A disconnected bridge's members are unreachable for vmacd: an alias
     * with members elsewhere fails over to them.  (The bridge itself keeps
     * forwarding with its last flows.) */
    bool connected = br->conn && br->conn->ft;
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        for (size_t m = 0; m < a->n_members; m++) {
            if (strcmp(a->members[m].bridge, br->name)) {
                continue;
            }
            const struct ofswitch_port *p
                = connected
                      ? ofswitch_port_by_name(br->conn->sw, a->members[m].port)
                      : NULL;
            alias_state_set_port(eng->states[i], m, p != NULL,
                                 p && !p->link_down && !p->admin_down, now);
        }
    }
    engine_health_ports(eng, br); /* Link events for the probes. */
}

static const char *
member_name(const struct engine *eng, size_t alias, int member)
{
    return member < 0 ? "(none)"
                      : eng->cfg->aliases[alias].members[member].name;
}

static bool
port_lookup(void *br_, const char *name, uint32_t *ofp_port)
{
    const struct bridge *br = br_;
    const struct ofswitch_port *p = ofswitch_port_by_name(br->conn->sw, name);
    if (p) {
        *ofp_port = p->number;
    }
    return p != NULL;
}

/* The inputs of one alias's flows on one bridge, as numbers: the master,
 * the election order, the ports of its members and of the bridge's
 * uplinks.  Equal inputs give equal flows. */
struct alias_inputs {
    uint32_t *v;
    size_t n, allocated;
};

static void
inputs_put(struct alias_inputs *in, uint32_t x)
{
    if (in->n >= in->allocated) {
        in->v = x2nrealloc(in->v, &in->allocated, sizeof *in->v);
    }
    in->v[in->n++] = x;
}

static void
inputs_free(struct bridge *br)
{
    for (size_t i = 0; i < br->n_inputs; i++) {
        free(br->inputs[i].v);
    }
    free(br->inputs);
    br->inputs = NULL;
    br->n_inputs = 0;
}

/* Inputs of alias 'i''s flows (group == false) or group (group == true) on
 * bridge 'br'. */
static void
alias_inputs_compute(const struct engine *eng, struct bridge *br, size_t i,
                     bool group, struct alias_inputs *in)
{
    const struct cfg_alias *a = &eng->cfg->aliases[i];
    const struct alias_state *st = eng->states[i];
    uint32_t port;

    in->n = 0;
    if (!flowgen_carries(a, br->name)) {
        return;
    }
    int master = alias_state_master(st);
    bool remote = master >= 0 && strcmp(a->members[master].bridge, br->name);
    inputs_put(in, remote);
    if (group) {
        inputs_put(in, master + 1);
        size_t *order = xmalloc(MAX(a->n_members, 1) * sizeof *order);
        size_t n = alias_state_order(st, order, a->n_members);
        inputs_put(in, n);
        for (size_t k = 0; k < n; k++) {
            inputs_put(in, order[k]);
        }
        free(order);
    }
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].bridge, br->name)) {
            inputs_put(in, port_lookup(br, a->members[m].port, &port)
                               ? port
                               : UINT32_MAX);
            if (group) {
                /* The member's MAC (learned by the health probes). */
                struct eth_addr mac;
                bool has_mac = engine_member_mac(eng, i, m, &mac);
                inputs_put(in, has_mac ? ((uint32_t) ntohs(mac.be16[0]) << 16
                                          | ntohs(mac.be16[1]))
                                       : UINT32_MAX);
                inputs_put(in, has_mac ? ntohs(mac.be16[2]) : UINT32_MAX);
            }
        }
    }
    const struct cfg_bridge *cb = config_find_bridge(eng->cfg, br->name);
    for (size_t u = 0; cb && u < cb->n_uplinks; u++) {
        inputs_put(in,
                   port_lookup(br, cb->uplinks[u], &port) ? port : UINT32_MAX);
    }
}

static bool
member_mac(void *eng_, size_t alias, size_t member, struct eth_addr *mac)
{
    return engine_member_mac(eng_, alias, member, mac);
}

static bool
probe_owner(void *eng_, size_t alias, size_t member,
            struct flowgen_probe_port *port)
{
    return engine_probe_port_owner(eng_, alias, member, port);
}

static bool
keep_part(uint32_t id, void *eng_)
{
    const struct engine *eng = eng_;
    id &= ~FLOWTAB_GROUP_PART;
    return !id || engine_has_alias_id(eng, id);
}

/* Hands bridge 'br''s flow table the flows of every alias whose inputs
 * changed since the last time (all of them after a reload or a new
 * connection). */
static void
bridge_sync_parts(struct engine *eng, struct bridge *br)
{
    const struct config *cfg = eng->cfg;
    struct flowtab *ft = br->conn->ft;
    struct flowgen_out out;

    if (br->parts_cfg_seq != eng->cfg_seq
        || br->parts_connect != br->n_connects || !br->inputs) {
        inputs_free(br);
        br->parts_cfg_seq = eng->cfg_seq;
        br->parts_connect = br->n_connects;
        /* [2i]: alias i's flows, [2i + 1]: its group. */
        br->n_inputs = 2 * cfg->n_aliases;
        br->inputs = xcalloc(MAX(br->n_inputs, 1), sizeof *br->inputs);
        for (size_t i = 0; i < br->n_inputs; i++) {
            br->inputs[i].n = SIZE_MAX; /* Never equal: generate. */
        }
        flowtab_keep_parts(ft, keep_part, eng);
        flowgen_out_init(&out);
        flowgen_base(cfg, &out);
        flowgen_probes(cfg, br->name, &out); /* Health probes. */
        char *error = flowtab_set_part(ft, 0, &out.flows, &out.groups);
        if (error) {
            VLOG_ERR("%s: base flow rejected: %s", br->name, error);
            free(error);
        }
        flowgen_out_destroy(&out);
    }

    struct alias_inputs in = { .v = NULL };
    for (size_t k = 0; k < br->n_inputs; k++) {
        size_t i = k / 2;
        bool group = k % 2;
        struct alias_inputs *old = &br->inputs[k];
        alias_inputs_compute(eng, br, i, group, &in);
        if (in.n == old->n && !memcmp(in.v, old->v, in.n * sizeof *in.v)) {
            continue;
        }
        flowgen_out_init(&out);
        struct flowgen_opts opts = {
            .member_mac = member_mac, /* Learned by health probes. */
            .probe_owner = probe_owner,
            .aux = eng,
            .what = group ? FLOWGEN_GROUP : FLOWGEN_FLOWS,
        };
        flowgen_alias_ex(cfg, br->name, i, port_lookup, br, eng->states[i],
                         &opts, &out);
        uint32_t id = cfg->aliases[i].id | (group ? FLOWTAB_GROUP_PART : 0);
        char *error = flowtab_set_part(ft, id, &out.flows, &out.groups);
        flowgen_out_destroy(&out);
        if (error) {
            VLOG_ERR("%s: generated flows rejected: %s", br->name, error);
            free(error);
            continue;
        }
        /* Keep the new inputs; reuse the old buffer for the next one. */
        struct alias_inputs tmp = *old;
        *old = in;
        in = tmp;
        if (in.n == SIZE_MAX) {
            in.n = 0;
        }
    }
    free(in.v);
}

/* Drops the staged bridges that applied their state (or went away).
 * Returns true if some are still committing. */
static bool
engine_stage_pending(struct engine *eng)
{
    const char *name;
    SSET_FOR_EACH_SAFE (name, &eng->staged) {
        const struct bridge *b = engine_bridge_find(eng, name);
        if (!b || !b->conn || !b->conn->ft
            || b->applied_generation >= b->generation) {
            sset_delete(&eng->staged, SSET_NODE_FROM_NAME(name));
        }
    }
    if (sset_is_empty(&eng->staged)) {
        ev_timer_stop(eng->loop, &eng->stage_timer);
        return false;
    }
    return true;
}

static void
stage_timeout_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                 int revents OVS_UNUSED)
{
    struct engine *eng = CONTAINER_OF(w, struct engine, stage_timer);
    VLOG_WARN_RL(&rl, "new master bridge(s) did not confirm within 1 s; "
                      "updating the other bridges anyway");
    sset_clear(&eng->staged);
    engine_schedule_update(eng, ev_time(), "staged commit timeout");
}

/* Elects every alias and hands new desired states to every connected
 * bridge (first to the bridges that gain a master, see 'staged'). */
static void
engine_update(struct engine *eng)
{
    const struct config *cfg = eng->cfg;
    long long now = engine_now_ms(eng);
    double event_time = eng->pending_event_time;
    uint64_t generation = ++eng->generation;

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct alias_rt *rt = &eng->rts[i];
        struct alias_election r;

        alias_state_elect(eng->states[i], now, &r);
        ev_timer_stop(eng->loop, &rt->wakeup);
        if (r.next_wakeup != LLONG_MAX) {
            double delay = MAX(r.next_wakeup - now, 0) / 1000.0;
            ev_timer_set(&rt->wakeup, delay, 0.);
            ev_timer_start(eng->loop, &rt->wakeup);
        }
        if (r.changed) {
            if (!rt->change_pending) {
                rt->change_old = r.old_master;
                rt->change_event_time = event_time;
            }
            rt->change_pending = true;
            rt->change_new = r.new_master;
            rt->change_generation = generation;
            free(rt->change_reason);
            rt->change_reason
                = xstrdup(rt->adopted ? "adopted from the switch" : r.reason);
            rt->adopted = false;
        }

        int m = alias_state_master(eng->states[i]);
        const char *mb = m >= 0 ? cfg->aliases[i].members[m].bridge : NULL;
        if (mb && rt->master_bridge && strcmp(mb, rt->master_bridge)) {
            const struct bridge *nb = engine_bridge_find(eng, mb);
            if (nb && nb->conn && nb->conn->ft) {
                sset_add(&eng->staged, mb);
            }
        }
        if (!mb || !rt->master_bridge || strcmp(mb, rt->master_bridge)) {
            free(rt->master_bridge);
            rt->master_bridge = nullable_xstrdup(mb);
        }
    }

    engine_health_periods(eng); /* Masters probed fastest. */

    bool staging = engine_stage_pending(eng);
    if (staging && !ev_is_active(&eng->stage_timer)) {
        ev_timer_set(&eng->stage_timer, 1., 0.);
        ev_timer_start(eng->loop, &eng->stage_timer);
    }

    struct bridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        if (!br->conn || !br->conn->ft
            || (staging && !sset_contains(&eng->staged, br->name))) {
            continue;
        }
        bridge_sync_parts(eng, br);
        flowtab_commit(br->conn->ft, generation);
        br->generation = generation;
    }

    /* Aliases whose master changed but that no connected bridge carries:
     * nothing to wait for. */
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct alias_rt *rt = &eng->rts[i];
        if (!rt->change_pending) {
            continue;
        }
        int m = rt->change_new;
        const struct bridge *mbr
            = m >= 0
                  ? engine_bridge_find(eng, cfg->aliases[i].members[m].bridge)
                  : NULL;
        if (!mbr || !mbr->conn || !mbr->conn->ft) {
            VLOG_INFO("alias %s: master %s -> %s (%s)", cfg->aliases[i].name,
                      member_name(eng, i, rt->change_old),
                      member_name(eng, i, m), rt->change_reason);
            rt->change_pending = false;
        }
    }
}

static void
engine_update_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                 int revents OVS_UNUSED)
{
    struct engine *eng = CONTAINER_OF(w, struct engine, update);
    double start = ev_time();
    engine_update(eng);
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

static void
alias_wakeup_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                int revents OVS_UNUSED)
{
    struct alias_rt *rt = CONTAINER_OF(w, struct alias_rt, wakeup);
    engine_schedule_update(rt->eng, ev_time(), "timer");
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

/* Flow tables. */

static void
flows_applied(struct flowtab *ft OVS_UNUSED, const struct flowtab_result *r,
              void *conn_)
{
    struct conn *conn = conn_;
    struct bridge *br = conn->br;
    struct engine *eng = conn->eng;
    const struct config *cfg = eng->cfg;
    double now = ev_time();

    if (!r->ok) {
        return;
    }
    br->applied_generation = r->generation;
    if (r->n_add || r->n_modify || r->n_delete || r->n_group_mods) {
        VLOG_INFO("%s: applied generation %" PRIu64 ": %u added, %u modified, "
                  "%u deleted flows, %u group mods",
                  br->name, r->generation, r->n_add, r->n_modify, r->n_delete,
                  r->n_group_mods);
    }

    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct alias_rt *rt = &eng->rts[i];
        const struct cfg_alias *a = &cfg->aliases[i];
        int m = rt->change_new;
        bool here = m >= 0 && !strcmp(a->members[m].bridge, br->name);

        if (rt->change_pending && here
            && rt->change_generation <= r->generation) {
            double ms = rt->change_event_time
                            ? (now - rt->change_event_time) * 1000.0
                            : 0;
            br->last_apply_ms = ms;
            VLOG_INFO("alias %s: master %s -> %s (%s), applied %.3f ms "
                      "after the event",
                      a->name, member_name(eng, i, rt->change_old),
                      member_name(eng, i, m), rt->change_reason, ms);
            json_t *ev = json_object();
            json_object_set_new(ev, "alias", json_string(a->name));
            json_object_set_new(ev, "old_master",
                                rt->change_old >= 0 ? json_string(
                                    member_name(eng, i, rt->change_old))
                                                    : json_null());
            json_object_set_new(ev, "new_master",
                                json_string(member_name(eng, i, m)));
            json_object_set_new(ev, "reason", json_string(rt->change_reason));
            json_object_set_new(ev, "bridge", json_string(br->name));
            json_object_set_new(ev, "event_to_barrier_ms", json_real(ms));
            engine_publish(eng, "master_change", ev);
            rt->change_pending = false;
            engine_announce_start(rt);
        } else if (br->announce_on_apply && here && !rt->change_pending) {
            engine_announce_start(rt);
        }
    }
    br->announce_on_apply = false;
    engine_meter_applied(conn, r->generation); /* Unused probe meters. */
    engine_check_applied(eng); /* API writes (engine-write.c). */
}

/* Once the switch's installed state is known: an alias without
 * preemption and without a master yet adopts the master the switch's group
 * already sends to (the one a previous vmacd elected), so that a restart
 * moves no traffic. */
static void
flows_read(struct flowtab *ft, void *conn_)
{
    struct conn *conn = conn_;
    struct engine *eng = conn->eng;
    const struct config *cfg = eng->cfg;
    long long now = engine_now_ms(eng);

    for (size_t i = 0; conn->br && i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        uint32_t port;
        if (a->preempt || alias_state_master(eng->states[i]) >= 0
            || !flowtab_group_first_port(ft, a->id, &port)) {
            continue;
        }
        for (size_t m = 0; m < a->n_members; m++) {
            const struct ofswitch_port *p;
            if (!strcmp(a->members[m].bridge, conn->br->name)
                && (p = ofswitch_port_by_name(conn->sw, a->members[m].port))
                && p->number == port
                && !alias_state_move(eng->states[i], m, now)) {
                VLOG_INFO("alias %s: adopting master %s from the switch's "
                          "installed group",
                          a->name, a->members[m].name);
                eng->rts[i].adopted = true;
                break;
            }
        }
    }
    engine_schedule_update(eng, ev_time(), "flows read");
}

/* Connections. */

static void
conn_ready(struct ofswitch *sw, void *conn_)
{
    struct conn *conn = conn_;
    struct engine *eng = conn->eng;
    const char *name = ofswitch_name(sw);
    uint64_t dpid = ofswitch_dpid(sw);

    /* The newer connection replaces an older one for the same datapath or
     * the same bridge name. */
    struct conn *other;
    LIST_FOR_EACH (other, node, &eng->conns) {
        if (other != conn && other->br
            && (ofswitch_dpid(other->sw) == dpid
                || !strcmp(other->br->name, name))) {
            VLOG_WARN("%s: bridge %s (datapath %016" PRIx64
                      ") connected again "
                      "from %s; closing the older connection",
                      ofswitch_peer(other->sw), name, dpid, ofswitch_peer(sw));
            if (other->br->conn == other) {
                other->br->conn = NULL;
            }
            other->br = NULL;
            ofchan_close(ofswitch_chan(other->sw),
                         "replaced by a newer connection");
        }
    }

    struct bridge *br = bridge_get(eng, name);
    br->conn = conn;
    br->dpid = dpid;
    br->n_connects++;
    br->announce_on_apply = true;
    conn->br = br;
    conn->connected_at = ev_time();
    const struct config *cfg = eng->cfg;
    uint64_t cookie = flowgen_cookie(cfg, 0);
    conn->ft = flowtab_create(eng->loop, ofswitch_chan(sw), cookie,
                              0xffffffff00000000ULL, flows_applied, conn);
    flowtab_set_read_callback(conn->ft, flows_read);
    engine_meter_conn_ready(conn); /* Probe meters, before any flow. */
    flowtab_start(conn->ft);
    members_sync_ports(eng, br);

    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(name));
    char dpid_s[17];
    snprintf(dpid_s, sizeof dpid_s, "%016" PRIx64, dpid);
    json_object_set_new(ev, "datapath_id", json_string(dpid_s));
    engine_publish(eng, "bridge_connected", ev);
    /* The election waits for flows_read(). */
}

static void
conn_port_changed(struct ofswitch *sw OVS_UNUSED, const char *port,
                  void *conn_)
{
    struct conn *conn = conn_;
    struct engine *eng = conn->eng;
    double t = ev_time();

    if (!conn->br || conn->br->conn != conn) {
        return;
    }
    members_sync_ports(eng, conn->br);

    const struct ofswitch_port *p = ofswitch_port_by_name(conn->sw, port);
    json_t *ev = json_object();
    json_object_set_new(ev, "bridge", json_string(conn->br->name));
    json_object_set_new(ev, "port", json_string(port));
    json_object_set_new(ev, "present", json_boolean(p != NULL));
    if (p) {
        json_object_set_new(ev, "link_down", json_boolean(p->link_down));
        json_object_set_new(ev, "admin_down", json_boolean(p->admin_down));
    }
    engine_publish(eng, "port_status", ev);
    engine_schedule_update(eng, t, "port status");
}

static void
conn_message(struct ofswitch *sw, enum ofptype type,
             const struct ofp_header *oh, void *conn_)
{
    struct conn *conn = conn_;

    if (type == OFPTYPE_PACKET_IN) {
        engine_health_packet_in(conn, oh); /* Probe replies. */
    } else if (type == OFPTYPE_ERROR) {
        if (engine_meter_error(conn, oh)
            || (conn->ft && flowtab_handle_error(conn->ft, oh))) {
            return;
        }
        enum ofperr err = ofperr_decode_msg(oh, NULL);
        VLOG_WARN_RL(&rl, "%s: OpenFlow error for xid %#" PRIx32 ": %s",
                     ofswitch_peer(sw), ntohl(oh->xid),
                     err ? ofperr_to_string(err) : "undecodable");
    } else if (type == OFPTYPE_FLOW_REMOVED || type == OFPTYPE_ROLE_STATUS
               || type == OFPTYPE_TABLE_STATUS
               || type == OFPTYPE_REQUESTFORWARD) {
        /* Nothing of vmacd's asks for these yet. */
        VLOG_DBG_RL(&rl, "%s: ignoring %s", ofswitch_peer(sw),
                    ofptype_get_name(type));
    } else {
        VLOG_DBG_RL(&rl, "%s: unexpected %s", ofswitch_peer(sw),
                    ofptype_get_name(type));
    }
}

static void
conn_destroy(struct conn *conn)
{
    ovs_list_remove(&conn->node);
    flowtab_destroy(conn->ft);
    ofswitch_destroy(conn->sw);
    free(conn);
}

static void
conn_closed(struct ofswitch *sw, const char *reason, void *conn_)
{
    struct conn *conn = conn_;
    struct engine *eng = conn->eng;

    if (conn->br && conn->br->conn == conn) {
        VLOG_WARN_RL(&rl,
                     "bridge %s disconnected (%s): its flows stay in "
                     "place",
                     conn->br->name, reason);
        conn->br->conn = NULL;
        members_sync_ports(eng, conn->br);
        engine_schedule_update(eng, ev_time(), "bridge disconnected");
        json_t *ev = json_object();
        json_object_set_new(ev, "bridge", json_string(conn->br->name));
        json_object_set_new(ev, "reason", json_string(reason));
        engine_publish(eng, "bridge_disconnected", ev);
    } else {
        VLOG_INFO_RL(&rl, "%s: connection closed (%s)", ofswitch_peer(sw),
                     reason);
    }
    oflisten_active_lost(conn->active);
    conn_destroy(conn);
    engine_check_applied(eng); /* API writes (engine-write.c). */
}

static const struct ofswitch_callbacks conn_cbs = {
    .ready = conn_ready,
    .port_changed = conn_port_changed,
    .message = conn_message,
    .closed = conn_closed,
};

static void
conn_new(int fd, const char *peer, struct oflisten_active *active, void *eng_)
{
    struct engine *eng = eng_;
    struct conn *conn = xzalloc(sizeof *conn);

    conn->eng = eng;
    conn->active = active;
    ovs_list_push_back(&eng->conns, &conn->node);
    conn->sw = ofswitch_create(eng->loop, fd, peer, &eng->chan_opts, &conn_cbs,
                               conn);
    VLOG_INFO("%s: new OpenFlow connection", peer);
}

/* Lifecycle. */

struct engine *
engine_create(struct ev_loop *loop, struct config *cfg, char **errp)
{
    struct engine *eng = xzalloc(sizeof *eng);

    eng->loop = loop;
    eng->cfg = cfg;
    eng->started = ev_time();
    ovs_list_init(&eng->conns);
    hmap_init(&eng->bridges);
    ofchan_default_options(&eng->chan_opts);
    eng->chan_opts.probe_interval_ms = cfg->inactivity_probe_ms;
    ev_init(&eng->update, engine_update_cb);
    sset_init(&eng->staged);
    ev_init(&eng->stage_timer, stage_timeout_cb);
    engine_write_init(eng);  /* API writes (engine-write.c). */
    engine_health_init(eng); /* Health probes (engine-health.c). */
    aliases_create(eng);

    eng->ol = oflisten_create(loop, conn_new, eng);
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if (oflisten_add(eng->ol, cfg->listen[i], errp)) {
            engine_destroy(eng);
            return NULL;
        }
    }
    for (size_t i = 0; i < cfg->n_connect; i++) {
        if (oflisten_add(eng->ol, cfg->connect[i], errp)) {
            engine_destroy(eng);
            return NULL;
        }
    }
    *errp = NULL;
    return eng;
}

void
engine_destroy(struct engine *eng)
{
    if (!eng) {
        return;
    }
    engine_write_destroy(eng);  /* API writes (engine-write.c). */
    engine_health_destroy(eng); /* Health probes (engine-health.c). */
    struct conn *conn;
    LIST_FOR_EACH_SAFE (conn, node, &eng->conns) {
        conn_destroy(conn);
    }
    oflisten_destroy(eng->ol);
    ev_timer_stop(eng->loop, &eng->update);
    ev_timer_stop(eng->loop, &eng->stage_timer);
    sset_destroy(&eng->staged);
    aliases_destroy(eng);
    struct bridge *br;
    HMAP_FOR_EACH_POP (br, node, &eng->bridges) {
        inputs_free(br);
        free(br->name);
        free(br);
    }
    hmap_destroy(&eng->bridges);
    free(eng->pending_reason);
    free(eng->ids_sorted);
    config_destroy(eng->cfg);
    free(eng);
}

void
engine_attach_api(struct engine *eng, struct api *api)
{
    eng->api = api;
    engine_api_routes(eng, api);
}

/* Index of the member named 'name' in alias 'a', or -1. */
static int
find_member(const struct cfg_alias *a, const char *name)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].name, name)) {
            return m;
        }
    }
    return -1;
}

void
engine_reload(struct engine *eng, struct config *cfg)
{
    struct config *old = eng->cfg;
    struct alias_state **old_states = eng->states;
    struct alias_rt *old_rts = eng->rts;
    size_t n_old = old->n_aliases;

    if (cfg->n_listen != old->n_listen || cfg->n_connect != old->n_connect
        || strcmp(cfg->api_socket, old->api_socket)) {
        VLOG_WARN("reload: OpenFlow targets and the API socket change only "
                  "on restart");
    }

    /* Keep the old model until the new one is built. */
    eng->cfg = cfg;
    aliases_create(eng);
    struct bridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        members_sync_ports(eng, br);
    }

    /* An alias that still exists continues: without preemption it keeps
     * its master if that member is still in it and eligible; only a real
     * change of master is reported (and announced). */
    long long now = engine_now_ms(eng);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        for (size_t j = 0; j < n_old; j++) {
            const struct cfg_alias *oa = &old->aliases[j];
            if (strcmp(oa->name, a->name)) {
                continue;
            }
            int om = alias_state_master(old_states[j]);
            int nm = om >= 0 ? find_member(a, oa->members[om].name) : -1;
            struct alias_election r;
            alias_state_elect(eng->states[i], now, &r);
            if (nm >= 0 && !a->preempt
                && alias_state_master(eng->states[i]) != nm
                && !alias_state_move(eng->states[i], nm, now)) {
                alias_state_elect(eng->states[i], now, &r);
            }
            int cur = alias_state_master(eng->states[i]);
            struct alias_rt *nrt = &eng->rts[i];
            nrt->n_announced = old_rts[j].n_announced;
            if (cur >= 0 && cur == nm) {
                /* Same master: keep the periodic refresh going; new
                 * addresses are announced at once. */
                bool same_addrs
                    = a->n_ip4 == oa->n_ip4 && a->n_ip6 == oa->n_ip6
                      && !memcmp(a->ip4, oa->ip4, a->n_ip4 * sizeof *a->ip4)
                      && !memcmp(a->ip6, oa->ip6, a->n_ip6 * sizeof *a->ip6);
                if (same_addrs) {
                    engine_announce_rearm(nrt);
                } else {
                    engine_announce_start(nrt);
                }
            }
            if (cur != nm) {
                struct alias_rt *rt = &eng->rts[i];
                rt->change_pending = true;
                rt->change_old = nm;
                rt->change_new = cur;
                rt->change_event_time = ev_time();
                rt->change_reason = xstrdup("reload");
            }
        }
    }

    for (size_t j = 0; j < n_old; j++) {
        ev_timer_stop(eng->loop, &old_rts[j].wakeup);
        engine_announce_stop(&old_rts[j]);
        free(old_rts[j].change_reason);
        free(old_rts[j].master_bridge);
        alias_state_destroy(old_states[j]);
    }
    free(old_rts);
    free(old_states);
    config_destroy(old);

    VLOG_INFO("configuration reloaded: %zu aliases, %zu bridges",
              cfg->n_aliases, cfg->n_bridges);
    json_t *ev = json_object();
    json_object_set_new(ev, "aliases", json_integer(cfg->n_aliases));
    engine_publish(eng, "config_reloaded", ev);
    engine_schedule_update(eng, ev_time(), "reload");
    if (eng->config_cb) {
        eng->config_cb(cfg, eng->config_cb_aux);
    }
}

void
engine_on_config(struct engine *eng, engine_config_cb *cb, void *aux)
{
    eng->config_cb = cb;
    eng->config_cb_aux = aux;
}
