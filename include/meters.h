/*
 * meters: the health probes' reply meters on the switches, one per probed
 * port (probemeter.h says which id and rate each port gets).
 *
 * A meter is added (OFPMC13_ADD; if it exists, as after a restart of
 * vmacd, OFPMC13_MODIFY) when its bridge connects, before the flow table
 * is read, and by meters_set_plan() when the config creates it or changes
 * its rate, before the flows that use it are generated: a connection's
 * messages are processed in order.  A meter no longer wanted is deleted
 * (OFPMC13_DELETE, which would also delete the flows that still use it)
 * once the bridge applied a generation computed after that, i.e. after
 * the bundle that moved its flows away.  Meters left by an earlier vmacd
 * under ids the config no longer uses are not deleted: nothing in the
 * switch tells them from another controller's.
 */
#ifndef VMACD_METERS_H
#define VMACD_METERS_H 1

#include <stdbool.h>
#include <stdint.h>

struct meters;
struct ofchan;
struct ofp_header;
struct probemeter_plan;

struct meters_callbacks {
    /* The channel of connected bridge 'bridge', or NULL. */
    struct ofchan *(*chan)(void *aux, const char *bridge);
};

struct meters *meters_create(const struct meters_callbacks *, void *aux);
void meters_destroy(struct meters *); /* NULL-safe. */

/* The meters wanted from now on ('plan' is borrowed and must stay until
 * the next call); 'generation' is the engine's last generation, after
 * which unwanted meters may go. */
void meters_set_plan(struct meters *, const struct probemeter_plan *,
                     uint64_t generation);

/* 'bridge' connected: its meters, before any flow. */
void meters_bridge_ready(struct meters *, const char *bridge,
                         uint64_t generation);
/* 'bridge' applied 'generation' (its flow table's barrier). */
void meters_applied(struct meters *, const char *bridge, uint64_t generation);
/* Handles an OFPT_ERROR about a meter mod; returns false for others. */
bool meters_handle_error(struct meters *, const char *bridge,
                         const struct ofp_header *);

#endif /* meters.h */
