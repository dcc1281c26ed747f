/*
 * engine-wait: callers waiting until the switches applied a generation
 * (API writes reply then).
 */
#include "engine-core.h"

#include <inttypes.h>
#include <stdlib.h>

#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_wait);

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
        RL_WARN("generation %" PRIu64 " not applied by every connected "
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

void
engine_check_applied(struct engine *eng)
{
    struct engine_waiter *w;
    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        if (applied_everywhere(eng, w->generation, false, NULL)) {
            waiter_fire(w);
        }
    }
}

void
engine_fire_waiters(struct engine *eng)
{
    struct engine_waiter *w;
    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        waiter_fire(w);
    }
}
