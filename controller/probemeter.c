/*
 * probemeter: the probe reply meters of every bridge, from the config (see
 * probemeter.h for the rules).
 */
#include "probemeter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util.h"

static struct probemeter_bridge *
bridge_get(struct probemeter_plan *plan, const struct config *cfg,
           const char *name)
{
    struct probemeter_bridge *b = shash_find_data(&plan->bridges, name);
    if (!b) {
        b = xzalloc(sizeof *b);
        b->name = xstrdup(name);
        b->base = config_probe_source(cfg, name)->meter_id;
        shash_init(&b->by_port);
        shash_add(&plan->bridges, name, b);
    }
    return b;
}

static struct probemeter *
port_get(struct probemeter_bridge *b, const char *port,
         const struct cfg_alias *alias, size_t alias_idx, size_t member_idx)
{
    void *data = shash_find_data(&b->by_port, port);
    if (data) {
        return &b->meters[(uintptr_t) data - 1];
    }
    if (b->n >= b->allocated) {
        b->meters = x2nrealloc(b->meters, &b->allocated, sizeof *b->meters);
    }
    struct probemeter *m = &b->meters[b->n];
    *m = (struct probemeter){
        .port = xstrdup(port),
        .id = b->base + b->n, /* In range: the config checked it. */
        .alias = alias,
        .alias_idx = alias_idx,
        .member_idx = member_idx,
    };
    b->n++;
    shash_add(&b->by_port, port, (void *) (uintptr_t) b->n);
    return m;
}

/* Rates of 'b''s meters (probemeter.h, "Rates"). */
static void
bridge_rates(struct probemeter_bridge *b, const struct config *cfg)
{
    unsigned int fixed = config_probe_source(cfg, b->name)->rate_pps;

    b->total_pps = 0;
    for (size_t k = 0; k < b->n; k++) {
        struct probemeter *m = &b->meters[k];
        if (fixed) {
            m->rate_pps = fixed;
        } else {
            /* 1e-9: 3 x 4 x 1000 / 100 is 120, not 120.000...1. */
            double pps = ceil(4 * m->probes_pps - 1e-9);
            m->rate_pps = MIN(pps, PROBEMETER_MAX_BRIDGE_PPS)
                          + PROBEMETER_PORT_HEADROOM_PPS;
        }
        b->total_pps += m->rate_pps;
    }
    if (b->total_pps > PROBEMETER_MAX_BRIDGE_PPS) {
        uint64_t total = 0;
        for (size_t k = 0; k < b->n; k++) {
            struct probemeter *m = &b->meters[k];
            m->rate_pps
                = MAX(1, (uint64_t) m->rate_pps * PROBEMETER_MAX_BRIDGE_PPS
                             / b->total_pps);
            total += m->rate_pps;
        }
        b->total_pps = total;
    }
}

/* Adds the probed members of 'a' (at position 'idx') to 'plan', on the
 * ports 'port_of' says (NULL: the configured ones). */
static void
plan_add_alias(struct probemeter_plan *plan, const struct config *cfg,
               const struct cfg_alias *a, size_t idx,
               const struct probemeter_ports *port_of)
{
    for (size_t j = 0; j < a->n_members; j++) {
        const struct cfg_member *mb = &a->members[j];
        enum cfg_probe_type type = config_member_probe_type(cfg, mb);
        const char *port = (port_of ? port_of->port(port_of->aux, a, j)
                                    : mb->port);
        if (type == CFG_PROBE_NONE || !port[0]) {
            continue;
        }
        struct probemeter_bridge *b = bridge_get(plan, cfg, mb->bridge);
        struct probemeter *m = port_get(b, port, a, idx, j);
        m->probes_pps += 1000.0 / mb->probe.interval_ms;
        /* ND for an IPv6 ip; ARP for IPv4 (TCP probes refresh the member's
         * MAC with ARP too). */
        m->nd |= mb->ip_is_v6;
        m->arp |= !mb->ip_is_v6;
        m->tcp |= type == CFG_PROBE_TCP;
    }
}

struct probemeter_plan *
probemeter_plan_create(const struct config *cfg)
{
    return probemeter_plan_create_with(cfg, NULL, NULL);
}

struct probemeter_plan *
probemeter_plan_create_with(const struct config *cfg,
                            const struct cfg_alias *skip,
                            const struct cfg_alias *extra)
{
    return probemeter_plan_create_on(cfg, skip, extra, NULL);
}

struct probemeter_plan *
probemeter_plan_create_on(const struct config *cfg,
                          const struct cfg_alias *skip,
                          const struct cfg_alias *extra,
                          const struct probemeter_ports *port_of)
{
    struct probemeter_plan *plan = xzalloc(sizeof *plan);
    shash_init(&plan->bridges);

    bool placed = false;
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = cfg->aliases[i];
        if (skip && a == skip) {
            a = extra;
            placed = true;
        }
        if (a) {
            plan_add_alias(plan, cfg, a, i, port_of);
        }
    }
    if (extra && !placed) {
        plan_add_alias(plan, cfg, extra, cfg->n_aliases, port_of);
    }

    struct shash_node *node;
    SHASH_FOR_EACH (node, &plan->bridges) {
        bridge_rates(node->data, cfg);
    }
    return plan;
}

void
probemeter_plan_destroy(struct probemeter_plan *plan)
{
    if (!plan) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &plan->bridges) {
        struct probemeter_bridge *b = node->data;
        for (size_t k = 0; k < b->n; k++) {
            free(b->meters[k].port);
        }
        free(b->meters);
        shash_destroy(&b->by_port);
        free(b->name);
        free(b);
    }
    shash_destroy(&plan->bridges);
    free(plan);
}

const struct probemeter_bridge *
probemeter_bridge_find(const struct probemeter_plan *plan, const char *bridge)
{
    return plan ? shash_find_data(&plan->bridges, bridge) : NULL;
}

const struct probemeter *
probemeter_find(const struct probemeter_plan *plan, const char *bridge,
                const char *port)
{
    const struct probemeter_bridge *b = probemeter_bridge_find(plan, bridge);
    void *data = b ? shash_find_data(&b->by_port, port) : NULL;
    return data ? &b->meters[(uintptr_t) data - 1] : NULL;
}
