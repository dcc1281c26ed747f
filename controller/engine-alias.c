/*
 * engine-alias: the aliases of the engine's state (engine-core.h): their
 * placement on bridges and ports, their creation, replacement and removal
 * (API writes and reloads), their elections and pending master changes.
 */
#include "engine-core.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "announcer.h"
#include "config.h"
#include "flowtab.h"
#include "hash.h"
#include "meters.h"
#include "ofswitch.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "probemeter.h"
#include "probes.h"
#include "sset.h"
#include "switches.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine_alias);

struct ealias *
ealias_find(const struct engine *eng, const char *name)
{
    struct ealias *ea;
    HMAP_FOR_EACH_WITH_HASH (ea, node, hash_string(name, 0), &eng->aliases) {
        if (!strcmp(ea->cfg->name, name)) {
            return ea;
        }
    }
    return NULL;
}

int
engine_member_index(const struct cfg_alias *a, const char *name)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (!strcmp(a->members[m].name, name)) {
            return m;
        }
    }
    return -1;
}

const char *
ealias_member_name(const struct ealias *ea, int m)
{
    return m < 0 ? "(none)" : ea->cfg->members[m].name;
}

/* Feeds the alias model with member 'm''s port and health as the switch
 * and the probes see them now. */
void
ealias_member_sync(struct ealias *ea, size_t m)
{
    struct engine *eng = ea->eng;
    const struct cfg_member *mb = &ea->cfg->members[m];
    /* A port on a switch vmacd does not write to is as good as absent. */
    const struct ebridge *br = ebridge_find(eng, mb->bridge);
    const struct ofswitch_port *p
        = (br && br->ft ? switches_port(eng->sw, mb->bridge, mb->port)
                        : NULL);
    long long now = engine_now_ms(eng);
    /* So is one that VLANs keep from being live. */
    if (ea->member_vlan && ea->member_vlan[m] != FLOWINPUT_MEMBER_VLAN_OK) {
        p = NULL;
    }
    alias_state_set_port(ea->st, m, p != NULL,
                         p && !p->link_down && !p->admin_down, now);
    bool probed;
    bool usable = probes_member_usable(eng->probes, ea->cfg->name, mb->name,
                                       &probed);
    alias_state_set_health(ea->st, m, probed ? usable : mb->has_mac, now);
    alias_state_set_verified(
        ea->st, m, probes_member_verified(eng->probes, ea->cfg->name,
                                          mb->name),
        now);
    alias_state_set_drained(ea->st, m, mb->drained, now);
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
            erec_destroy(rec);
        } else {
            erec_mark(rec);
        }
    }
    for (size_t m = 0; m < a->n_members; m++) {
        struct ebridge *br = ebridge_get(eng, a->members[m].bridge);
        if (!erec_find(ea, br)) {
            erec_create(ea, br);
        }
        struct emember *em = &ea->members[m];
        em->ea = ea;
        em->idx = m;
        ovs_list_push_back(&eport_get(br, a->members[m].port)->users,
                           &em->port_node);
    }
    for (size_t b = 0; b < a->n_access_bridges; b++) {
        struct ebridge *br = ebridge_get(eng, a->access_bridges[b]);
        if (!erec_find(ea, br)) {
            erec_create(ea, br);
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

void
ealias_clear_pending(struct ealias *ea)
{
    if (ea->pending_br) {
        ovs_list_remove(&ea->pending_node);
        ea->pending_br = NULL;
    }
}

/* Tells the probes of ea's members the links of their ports. */
static void
ealias_probe_links(struct ealias *ea)
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
static void engine_meter_plan_update(struct engine *);
static bool alias_probed(const struct engine *, const struct cfg_alias *);

void
ealias_create(struct engine *eng, struct cfg_alias *orig)
{
    struct ealias *ea = xzalloc(sizeof *ea);
    ea->eng = eng;
    ea->orig = orig;
    struct cfg_alias *a = engine_resolve_alias(eng, orig, &ea->port_errors);
    ea->cfg = a;
    if (engine_alias_has_iface_ids(orig)) {
        ovs_list_push_back(&eng->iface_aliases, &ea->iface_node);
    }
    ea->st = alias_state_create(a);
    ea->members = xcalloc(MAX(a->n_members, 1), sizeof *ea->members);
    ea->vlan = FLOWINPUT_VLAN_UNKNOWN;
    ealias_update_vlan(ea, false);
    ea->master = -1;
    ea->change_old = ea->change_new = -1;
    ovs_list_init(&ea->recs);
    ev_init(&ea->wakeup, alias_wakeup_cb);
    hmap_insert(&eng->aliases, &ea->node, hash_string(a->name, 0));
    probes_sync_alias(eng->probes, NULL, a);
    alias_place(ea);
    ealias_probe_links(ea);
    for (size_t m = 0; m < a->n_members; m++) {
        ealias_member_sync(ea, m);
    }
    ealias_mark(ea);
}

void
ealias_destroy(struct ealias *ea)
{
    struct engine *eng = ea->eng;
    struct erec *rec;
    LIST_FOR_EACH_SAFE (rec, alias_node, &ea->recs) {
        erec_destroy(rec);
    }
    alias_unplace_members(ea);
    ealias_clear_pending(ea);
    if (ea->dirty) {
        ovs_list_remove(&ea->dirty_node);
    }
    ev_timer_stop(eng->loop, &ea->wakeup);
    probes_sync_alias(eng->probes, ea->cfg, NULL);
    announcer_remove(eng->ann, ea->cfg->name);
    hmap_remove(&eng->aliases, &ea->node);
    alias_state_destroy(ea->st);
    free(ea->change_reason);
    if (engine_alias_has_iface_ids(ea->orig)) {
        ovs_list_remove(&ea->iface_node);
    }
    engine_port_errors_free(ea->port_errors, ea->cfg->n_members);
    ealias_vlan_free(ea);
    free(ea->announce_skipped);
    cfg_alias_unref(ea->cfg);
    cfg_alias_unref(ea->orig);
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
    ealias_clear_pending(ea);

    const char *bridge = new >= 0 ? ea->cfg->members[new].bridge : NULL;
    struct ebridge *br = bridge ? ebridge_find(ea->eng, bridge) : NULL;
    if (br && br->ft) {
        ea->pending_br = br;
        ovs_list_push_back(&br->pending, &ea->pending_node);
    } else {
        /* Nothing to wait for. */
        VLOG_INFO("alias %s: master %s -> %s (%s)", ea->cfg->name,
                  ealias_member_name(ea, ea->change_old), ealias_member_name(ea, new),
                  ea->change_reason);
        ea->change_pending = false;
    }
}

/* Replaces what ea runs by 'a' (reference taken), keeping what still
 * applies: the members' states when the members are the same, else the
 * master (without preemption, if still eligible). */
static void
ealias_replace_running(struct ealias *ea, struct cfg_alias *a)
{
    struct engine *eng = ea->eng;
    struct cfg_alias *old = ea->cfg;
    long long now = engine_now_ms(eng);

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
    ealias_vlan_free(ea);
    ea->cfg = a;
    ea->members = xcalloc(MAX(a->n_members, 1), sizeof *ea->members);
    alias_place(ea);
    ealias_update_vlan(ea, false);

    if (!alias_state_set_config(ea->st, a)) {
        /* Other members: a new model, the master carried over. */
        alias_state_destroy(ea->st);
        ea->st = alias_state_create(a);
        ea->change_old = ea->change_new = -1;
        ealias_clear_pending(ea);
        ea->change_pending = false;
        for (size_t m = 0; m < a->n_members; m++) {
            ealias_member_sync(ea, m);
        }
        int nm = master_name ? engine_member_index(a, master_name) : -1;
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
    ealias_probe_links(ea);
    for (size_t m = 0; m < a->n_members; m++) {
        ealias_member_sync(ea, m);
    }
    ealias_mark(ea);

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

/* Replaces ea's config by 'orig' (reference taken). */
void
ealias_replace(struct ealias *ea, struct cfg_alias *orig)
{
    struct engine *eng = ea->eng;
    if (engine_alias_has_iface_ids(ea->orig)) {
        ovs_list_remove(&ea->iface_node);
    }
    if (engine_alias_has_iface_ids(orig)) {
        ovs_list_push_back(&eng->iface_aliases, &ea->iface_node);
    }
    engine_port_errors_free(ea->port_errors, ea->cfg->n_members);
    cfg_alias_unref(ea->orig);
    ea->orig = orig;
    ealias_replace_running(ea, engine_resolve_alias(eng, orig,
                                                    &ea->port_errors));
}

static bool
same_ports(const struct cfg_alias *a, const struct cfg_alias *b)
{
    for (size_t m = 0; m < a->n_members; m++) {
        if (strcmp(a->members[m].port, b->members[m].port)) {
            return false;
        }
    }
    return true;
}

/* The database changed: the ports of ea's members given by "iface_id" are
 * looked up again; a member that moved follows (one run, one bundle). */
void
ealias_reresolve(struct ealias *ea)
{
    char **errors;
    struct cfg_alias *a = engine_resolve_alias(ea->eng, ea->orig, &errors);
    engine_port_errors_free(ea->port_errors, ea->cfg->n_members);
    ea->port_errors = errors;
    if (same_ports(a, ea->cfg)) {
        cfg_alias_unref(a);
        return;
    }
    for (size_t m = 0; m < a->n_members; m++) {
        const struct cfg_member *o = &ea->cfg->members[m];
        const struct cfg_member *n = &a->members[m];
        if (strcmp(o->port, n->port)) {
            VLOG_INFO("alias %s: member %s (iface-id %s) is on port %s%s%s "
                      "now",
                      a->name, n->name, n->iface_id,
                      n->port[0] ? "\"" : "", n->port[0] ? n->port : "(none)",
                      n->port[0] ? "\"" : "");
        }
    }
    ealias_replace_running(ea, a);
    if (alias_probed(ea->eng, a)) {
        engine_meter_plan_update(ea->eng);
    }
    engine_schedule_update(ea->eng, ev_time(), "ovsdb: iface-id moved");
}

/* Its id changed (a collision resolved anew): its parts go under the new
 * id. */
static void
ealias_renumbered(struct ealias *ea)
{
    struct erec *rec;
    LIST_FOR_EACH_SAFE (rec, alias_node, &ea->recs) {
        struct ebridge *br = rec->br;
        erec_destroy(rec);
        erec_create(ea, br);
    }
    ealias_mark(ea);
}

static void
alias_wakeup_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                int revents OVS_UNUSED)
{
    struct ealias *ea = CONTAINER_OF(w, struct ealias, wakeup);
    ealias_mark(ea);
    engine_schedule_update(ea->eng, ev_time(), "timer");
}

/* The port member 'm' of 'a' runs on (for members given by "iface_id",
 * the one found in OVSDB). */
static const char *
running_port(void *eng, const struct cfg_alias *a, size_t m)
{
    const struct ealias *ea = ealias_find(eng, a->name);
    return ea ? ea->cfg->members[m].port : a->members[m].port;
}

/* The probe reply meters: anew when a probed alias changed.  The owners of
 * the ports (old and new) regenerate their records. */
static void
engine_meter_plan_update(struct engine *eng)
{
    struct probemeter_plan *old = eng->plan;
    struct probemeter_ports ports = { running_port, eng };
    eng->plan = probemeter_plan_create_on(eng->cfg, NULL, NULL, &ports);
    meters_set_plan(eng->meters, eng->plan, eng->generation);

    const struct probemeter_plan *plans[] = { old, eng->plan };
    for (size_t i = 0; i < ARRAY_SIZE(plans); i++) {
        struct shash_node *node;
        SHASH_FOR_EACH (node, &plans[i]->bridges) {
            const struct probemeter_bridge *b = node->data;
            for (size_t k = 0; k < b->n; k++) {
                struct ealias *ea = ealias_find(eng, b->meters[k].alias->name);
                struct erec *rec;
                if (ea) {
                    LIST_FOR_EACH (rec, alias_node, &ea->recs) {
                        erec_mark(rec);
                    }
                }
            }
        }
    }
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        ebridge_update_probed(br);
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

/* Elections. */

/* Elects 'ea' at 'now'. */
void
ealias_elect(struct ealias *ea, long long now, double event_time,
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
            const struct ebridge *br = ebridge_find(eng, nb);
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
        erec_mark(rec);
    }
}

/* Writes. */

static void
renumbered(struct engine *eng, struct cfg_renumbering *r)
{
    for (size_t i = 0; i < r->n; i++) {
        VLOG_INFO("alias %s: id %#" PRIx32 " -> %#" PRIx32 " (a hash "
                  "collision resolved anew)",
                  r->aliases[i]->name, r->old_ids[i], r->aliases[i]->id);
        struct ealias *ea = ealias_find(eng, r->aliases[i]->name);
        if (ea) {
            ea->cfg->id = ea->orig->id; /* A running copy follows. */
            ealias_renumbered(ea);
        }
    }
    cfg_renumbering_destroy(r);
}

/* Applies 'a' (reference taken; in 'eng->cfg' already) to the runtime. */
static void
apply_alias(struct engine *eng, struct cfg_alias *old, struct cfg_alias *a)
{
    struct ealias *ea = ealias_find(eng, a->name);
    bool probed = alias_probed(eng, old) || alias_probed(eng, a);
    if (ea) {
        ealias_replace(ea, cfg_alias_ref(a));
    } else {
        ealias_create(eng, cfg_alias_ref(a));
    }
    if (probed) {
        engine_meter_plan_update(eng);
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
    engine_keep_bridges(eng);
    engine_schedule_update(eng, ev_time(), "api write");
    return engine_next_generation(eng);
}

uint64_t
engine_alias_remove(struct engine *eng, const char *name)
{
    struct cfg_renumbering r = { 0 };
    struct cfg_alias *old = config_remove_alias(eng->cfg, name, &r);
    struct ealias *ea = ealias_find(eng, name);
    if (ea) {
        ealias_destroy(ea);
    }
    if (alias_probed(eng, old)) {
        engine_meter_plan_update(eng);
    }
    cfg_alias_unref(old);
    renumbered(eng, &r);
    engine_keep_bridges(eng);
    engine_schedule_update(eng, ev_time(), "api write");
    return engine_next_generation(eng);
}

int
engine_alias_move(struct engine *eng, const char *alias, int member,
                  struct verror *e)
{
    struct ealias *ea = ealias_find(eng, alias);
    if (!ea) {
        return verror_set(e, ENOENT, VERR_NOT_FOUND, "name",
                          "no alias \"%s\"", alias);
    }
    int error = alias_state_move(ea->st, member, engine_now_ms(eng));
    if (error) {
        return verror_set(e, error, "not_eligible", "member", "%s",
                          member >= 0 ? "that member is not eligible (port "
                                        "absent, link down, unhealthy or "
                                        "drained)"
                                      : "no other member is eligible");
    }
    ealias_mark(ea);
    engine_schedule_update(eng, ev_time(), "move");
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
            ealias_destroy(ea);
        }
    }
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        struct cfg_alias *a = cfg->aliases[i];
        ea = ealias_find(eng, a->name);
        if (!ea) {
            ealias_create(eng, cfg_alias_ref(a));
        } else if (ea->orig != a) {
            ealias_replace(ea, cfg_alias_ref(a));
        }
    }
    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        ebridge_update_inputs(br);
        if (cookies && br->ft) {
            /* Another cookie space: read the switch again. */
            flowtab_destroy(br->ft);
            br->ft = NULL;
            ebridge_connect(br);
        }
    }
    engine_meter_plan_update(eng);
    engine_keep_bridges(eng);
    engine_pin_bridges(eng);
    config_destroy(old);

    VLOG_INFO("configuration reloaded: %zu aliases, %zu bridges",
              cfg->n_aliases, cfg->n_bridges);
    json_t *ev = json_object();
    json_object_set_new(ev, "aliases", json_integer(cfg->n_aliases));
    engine_publish(eng, "config_reloaded", ev);
    engine_schedule_update(eng, ev_time(), "reload");
}
