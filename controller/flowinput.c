/*
 * flowinput: flowgen's input records (see flowinput.h).
 */
#include "flowinput.h"

#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "config.h"
#include "flowgen.h"
#include "probemeter.h"
#include "util.h"

/* VLAN settings. */

static void
vlan_copy(struct flowgen_vlan *dst, const struct flowgen_vlan *src)
{
    *dst = *src;
    dst->trunks = (src->n_trunks
                       ? xmemdup(src->trunks,
                                 src->n_trunks * sizeof *src->trunks)
                       : NULL);
}

static bool
vlan_equal(const struct flowgen_vlan *a, const struct flowgen_vlan *b)
{
    return (a->mode == b->mode && a->tag == b->tag
            && a->n_trunks == b->n_trunks
            && (!a->n_trunks
                || !memcmp(a->trunks, b->trunks,
                           a->n_trunks * sizeof *a->trunks)));
}

static bool
vlan_trunks(const struct flowgen_vlan *v, uint16_t vid)
{
    if (!v->n_trunks) {
        return true;
    }
    for (size_t i = 0; i < v->n_trunks; i++) {
        if (v->trunks[i] == vid) {
            return true;
        }
    }
    return false;
}

/* A port without settings, as OVS treats it: a trunk of every VLAN. */
static const struct flowgen_vlan vlan_default = {
    .mode = FLOWGEN_VLAN_TRUNK,
    .tag = -1,
};

/* How a port with settings 'v' sends frames of VLAN 'vid' (OVS's NORMAL
 * on output: ofproto-dpif-xlate.c, xbundle_includes_vlan() and
 * xvlan_output_translate()).  VLAN 0 goes untagged everywhere, as without
 * VLANs. */
enum flowgen_carry
flowinput_carry(const struct flowgen_vlan *v, uint16_t vid)
{
    uint16_t native = v->tag >= 0 ? v->tag : 0;
    if (!vid) {
        return FLOWGEN_CARRY_UNTAGGED;
    }
    switch (v->mode) {
    case FLOWGEN_VLAN_ACCESS:
        return native == vid ? FLOWGEN_CARRY_UNTAGGED : FLOWGEN_CARRY_NONE;
    case FLOWGEN_VLAN_NATIVE_UNTAGGED:
        if (native == vid) {
            return FLOWGEN_CARRY_UNTAGGED;
        }
        /* Fall through. */
    case FLOWGEN_VLAN_NATIVE_TAGGED:
        if (native == vid) {
            return FLOWGEN_CARRY_TAGGED;
        }
        /* Fall through. */
    case FLOWGEN_VLAN_TRUNK:
        return vlan_trunks(v, vid) ? FLOWGEN_CARRY_TAGGED : FLOWGEN_CARRY_NONE;
    case FLOWGEN_VLAN_DOT1Q_TUNNEL:
    default:
        return FLOWGEN_CARRY_NONE;
    }
}

static int
compare_vport(const void *a_, const void *b_)
{
    const struct flowgen_vport *a = a_, *b = b_;
    return a->ofport < b->ofport ? -1 : a->ofport > b->ofport;
}

struct vports {
    size_t n, allocated;
    struct flowgen_vport *v;
    bool configured;
};

static void
collect_vport(void *ctx, uint32_t ofport, const struct flowgen_vlan *vlan,
              bool configured)
{
    struct vports *vp = ctx;
    if (vp->n >= vp->allocated) {
        vp->v = x2nrealloc(vp->v, &vp->allocated, sizeof *vp->v);
    }
    vp->v[vp->n].ofport = ofport;
    vlan_copy(&vp->v[vp->n].vlan, vlan);
    vp->n++;
    vp->configured |= configured;
}

static void
vports_free(struct flowgen_vport *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].vlan.trunks);
    }
    free(v);
}

static void
uplink_vlans_free(struct flowgen_bridge *br)
{
    for (size_t u = 0; br->uplink_vlans && u < br->n_uplinks; u++) {
        free(br->uplink_vlans[u].trunks);
    }
    free(br->uplink_vlans);
    br->uplink_vlans = NULL;
}

/* The bridge's VLAN inputs: whether it is VLAN-aware, and then its ports'
 * classification and its uplinks' VLANs (after br->uplinks). */
static void
bridge_vlans(const struct cfg_bridge *cb, const char *bridge,
             const struct flowinput_env *env, struct flowgen_bridge *br)
{
    struct vports vp = { 0 };
    if (env->bridge_vlans) {
        env->bridge_vlans(env->aux, bridge, collect_vport, &vp);
    }
    br->vlan_aware = vp.configured;
    if (!br->vlan_aware) {
        vports_free(vp.v, vp.n);
        return;
    }
    qsort(vp.v, vp.n, sizeof *vp.v, compare_vport);
    br->n_vports = vp.n;
    br->vports = vp.v;

    br->uplink_vlans = xcalloc(MAX(br->n_uplinks, 1),
                               sizeof *br->uplink_vlans);
    size_t k = 0;
    for (size_t u = 0; cb && u < cb->n_uplinks; u++) {
        if (env->port(env->aux, cb->uplinks[u]) < 0) {
            continue; /* As br->uplinks. */
        }
        struct flowgen_vlan v;
        bool configured;
        if (!env->port_vlan
            || !env->port_vlan(env->aux, bridge, cb->uplinks[u], &v,
                               &configured)) {
            v = vlan_default;
        }
        vlan_copy(&br->uplink_vlans[k++], &v);
    }
}

/* Bridges. */

void
flowinput_bridge(const struct config *cfg, const char *bridge,
                 const struct flowinput_env *env, struct flowgen_bridge *br)
{
    const struct cfg_bridge *cb = config_find_bridge(cfg, bridge);
    const struct cfg_probe_source *ps = config_probe_source(cfg, bridge);

    uplink_vlans_free(br);
    vports_free(br->vports, br->n_vports);
    br->vports = NULL;
    br->n_vports = 0;
    free(br->uplinks);
    br->table = cfg->base_table;
    br->next_table = cfg->next_table;
    br->cookie_prefix = cfg->cookie_prefix;
    br->probe_mac = ps->mac;
    br->probe_has_ip = ps->has_ip;
    br->probe_ip4 = ps->has_ip ? ps->ip4 : 0;
    br->n_uplinks = 0;
    br->uplinks = xcalloc(MAX(cb ? cb->n_uplinks : 0, 1), sizeof *br->uplinks);
    for (size_t u = 0; cb && u < cb->n_uplinks; u++) {
        int64_t port = env->port(env->aux, cb->uplinks[u]);
        if (port >= 0) {
            br->uplinks[br->n_uplinks++] = port;
        }
    }
    bridge_vlans(cb, bridge, env, br);
}

bool
flowinput_bridge_equal(const struct flowgen_bridge *a,
                       const struct flowgen_bridge *b)
{
    return (a->table == b->table && a->next_table == b->next_table
            && a->cookie_prefix == b->cookie_prefix
            && eth_addr_equals(a->probe_mac, b->probe_mac)
            && a->probe_has_ip == b->probe_has_ip
            && a->probe_ip4 == b->probe_ip4 && a->n_uplinks == b->n_uplinks
            && !memcmp(a->uplinks, b->uplinks,
                       a->n_uplinks * sizeof *a->uplinks)
            && a->vlan_aware == b->vlan_aware);
}

unsigned int
flowinput_bridge_vlan_changes(const struct flowgen_bridge *a,
                              const struct flowgen_bridge *b)
{
    unsigned int changes = 0;
    if (a->vlan_aware != b->vlan_aware || a->n_vports != b->n_vports) {
        changes |= FLOWINPUT_VLAN_PORTS;
    }
    for (size_t i = 0; !changes && i < a->n_vports; i++) {
        if (a->vports[i].ofport != b->vports[i].ofport
            || !vlan_equal(&a->vports[i].vlan, &b->vports[i].vlan)) {
            changes |= FLOWINPUT_VLAN_PORTS;
        }
    }
    if (a->vlan_aware != b->vlan_aware || a->n_uplinks != b->n_uplinks) {
        changes |= FLOWINPUT_VLAN_UPLINKS;
    } else if (a->vlan_aware) {
        for (size_t u = 0; u < a->n_uplinks; u++) {
            if (!vlan_equal(&a->uplink_vlans[u], &b->uplink_vlans[u])) {
                changes |= FLOWINPUT_VLAN_UPLINKS;
                break;
            }
        }
    }
    return changes;
}

void
flowinput_bridge_destroy(struct flowgen_bridge *br)
{
    if (br) {
        uplink_vlans_free(br);
        vports_free(br->vports, br->n_vports);
        br->vports = NULL;
        br->n_vports = 0;
        free(br->uplinks);
        br->uplinks = NULL;
        br->n_uplinks = 0;
    }
}

/* Aliases' VLANs. */

int
flowinput_port_vlan(const struct flowinput_env *env, const char *bridge,
                    const char *port)
{
    struct flowgen_vlan v;
    bool configured;
    if (!env->port_vlan || !port[0]
        || !env->port_vlan(env->aux, bridge, port, &v, &configured)) {
        return FLOWINPUT_VLAN_UNKNOWN;
    }
    uint16_t native = v.tag >= 0 ? v.tag : 0;
    switch (v.mode) {
    case FLOWGEN_VLAN_ACCESS:
    case FLOWGEN_VLAN_NATIVE_UNTAGGED:
        return native;
    case FLOWGEN_VLAN_TRUNK:
        return vlan_trunks(&v, 0) ? 0 : FLOWINPUT_VLAN_UNUSABLE;
    case FLOWGEN_VLAN_NATIVE_TAGGED:
    case FLOWGEN_VLAN_DOT1Q_TUNNEL:
    default:
        return FLOWINPUT_VLAN_UNUSABLE;
    }
}

int
flowinput_alias_vlan(const struct cfg_alias *a,
                     const struct flowinput_env *env, int *vlans,
                     enum flowinput_member_vlan *status)
{
    int *v = vlans ? vlans : xmalloc(MAX(a->n_members, 1) * sizeof *v);
    const struct cfg_member *best = NULL;
    int vlan = FLOWINPUT_VLAN_UNKNOWN;

    for (size_t m = 0; m < a->n_members; m++) {
        const struct cfg_member *mb = &a->members[m];
        v[m] = flowinput_port_vlan(env, mb->bridge, mb->port);
        if (v[m] >= 0
            && (!best || mb->priority > best->priority
                || (mb->priority == best->priority
                    && strcmp(mb->name, best->name) < 0))) {
            best = mb;
            vlan = v[m];
        }
    }
    for (size_t m = 0; status && m < a->n_members; m++) {
        status[m] = (v[m] == FLOWINPUT_VLAN_UNUSABLE
                         ? FLOWINPUT_MEMBER_VLAN_UNUSABLE
                     : v[m] >= 0 && v[m] != vlan ? FLOWINPUT_MEMBER_VLAN_OTHER
                                                 : FLOWINPUT_MEMBER_VLAN_OK);
    }
    if (!vlans) {
        free(v);
    }
    return vlan;
}

void
flowinput_alias(const struct cfg_alias *a, const char *bridge,
                const struct flowgen_bridge *br, const struct alias_state *st,
                const struct flowinput_env *env, struct flowgen_input *in)
{
    flowgen_input_init(in, a, br);

    int master = st ? alias_state_master(st) : -1;
    in->remote_master = master >= 0 && strcmp(a->members[master].bridge,
                                              bridge);
    in->n_order = st ? alias_state_order(st, in->order, a->n_members) : 0;
    if (br->vlan_aware) {
        in->vlan = MAX(flowinput_alias_vlan(a, env, NULL, NULL), 0);
        for (size_t u = 0; u < br->n_uplinks; u++) {
            in->carry[u] = flowinput_carry(&br->uplink_vlans[u], in->vlan);
        }
    }

    for (size_t m = 0; m < a->n_members; m++) {
        const struct cfg_member *mb = &a->members[m];
        struct flowgen_member *fm = &in->members[m];
        if (strcmp(mb->bridge, bridge)) {
            continue;
        }
        fm->ofport = env->port(env->aux, mb->port);
        fm->has_mac = env->mac(env->aux, a, m, &fm->mac);
        const struct probemeter *pm
            = probemeter_find(env->plan, bridge, mb->port);
        if (pm && pm->member_idx == m && !strcmp(pm->alias->name, a->name)) {
            fm->probe_owner = true;
            fm->probe_arp = pm->arp;
            fm->probe_nd = pm->nd;
            fm->probe_tcp = pm->tcp;
            fm->meter_id = pm->id;
        }
    }
}
