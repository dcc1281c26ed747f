/*
 * flowinput: flowgen's input records (see flowinput.h).
 */
#include "flowinput.h"

#include <string.h>

#include "alias.h"
#include "config.h"
#include "flowgen.h"
#include "probemeter.h"
#include "util.h"

void
flowinput_bridge(const struct config *cfg, const char *bridge,
                 const struct flowinput_env *env, struct flowgen_bridge *br)
{
    const struct cfg_bridge *cb = config_find_bridge(cfg, bridge);
    const struct cfg_probe_source *ps = config_probe_source(cfg, bridge);

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
                       a->n_uplinks * sizeof *a->uplinks));
}

void
flowinput_bridge_destroy(struct flowgen_bridge *br)
{
    if (br) {
        free(br->uplinks);
        br->uplinks = NULL;
        br->n_uplinks = 0;
    }
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
