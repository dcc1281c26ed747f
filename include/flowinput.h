/*
 * flowinput: the input records of flowgen (flowgen.h), computed from the
 * config, the bridge's ports, the election and what the health probes
 * learned.  The one place that says what flowgen's inputs are made of: the
 * engine calls it with the live switches and probes, tests with fixed
 * ones.  Pure: it reads the environment only through 'env'.
 */
#ifndef VMACD_FLOWINPUT_H
#define VMACD_FLOWINPUT_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct alias_state;
struct cfg_alias;
struct config;
struct eth_addr;
struct flowgen_bridge;
struct flowgen_input;
struct probemeter_plan;

struct flowinput_env {
    /* The OpenFlow port of 'port' on the bridge, or -1 if it has none. */
    int64_t (*port)(const void *aux, const char *port);
    /* The known MAC of member 'member' of 'alias' (learned by the probes
     * or configured); false if it is unknown. */
    bool (*mac)(const void *aux, const struct cfg_alias *alias, size_t member,
                struct eth_addr *mac);
    const void *aux;
    const struct probemeter_plan *plan; /* The probe reply meters. */
};

/* The bridge-wide inputs of bridge 'bridge' (its version is left as it
 * was; the caller bumps it when the result differs, see
 * flowinput_bridge_equal()).  flowinput_bridge_destroy() frees the
 * uplinks. */
void flowinput_bridge(const struct config *, const char *bridge,
                      const struct flowinput_env *, struct flowgen_bridge *);
bool flowinput_bridge_equal(const struct flowgen_bridge *,
                            const struct flowgen_bridge *);
void flowinput_bridge_destroy(struct flowgen_bridge *);

/* The record of 'alias' on bridge 'bridge' (with inputs 'br'), elected as
 * 'st' says; 'in' is initialized here (flowgen_input_destroy() frees it). */
void flowinput_alias(const struct cfg_alias *alias, const char *bridge,
                     const struct flowgen_bridge *br,
                     const struct alias_state *st,
                     const struct flowinput_env *, struct flowgen_input *in);

#endif /* flowinput.h */
