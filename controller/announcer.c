/*
 * announcer: the timers of each alias's announcements (see announcer.h).
 */
#include "announcer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(announcer);

struct ann_alias {
    struct hmap_node node; /* In announcer->aliases, by name. */
    struct announcer *ann;
    char *name;
    struct cfg_announce settings;
    ev_timer burst; /* count x interval. */
    unsigned int burst_left;
    ev_timer refresh;     /* Every refresh_s. */
    uint64_t n_announced; /* Packets sent. */
};

struct announcer {
    struct ev_loop *loop;
    announcer_round_func *round;
    void *aux;
    struct hmap aliases; /* struct ann_alias. */
};

static void burst_cb(struct ev_loop *, ev_timer *, int revents);
static void refresh_cb(struct ev_loop *, ev_timer *, int revents);

struct announcer *
announcer_create(struct ev_loop *loop, announcer_round_func *round, void *aux)
{
    struct announcer *ann = xzalloc(sizeof *ann);
    ann->loop = loop;
    ann->round = round;
    ann->aux = aux;
    hmap_init(&ann->aliases);
    return ann;
}

static void
alias_free(struct announcer *ann, struct ann_alias *aa)
{
    ev_timer_stop(ann->loop, &aa->burst);
    ev_timer_stop(ann->loop, &aa->refresh);
    hmap_remove(&ann->aliases, &aa->node);
    free(aa->name);
    free(aa);
}

void
announcer_destroy(struct announcer *ann)
{
    if (!ann) {
        return;
    }
    struct ann_alias *aa;
    HMAP_FOR_EACH_SAFE (aa, node, &ann->aliases) {
        alias_free(ann, aa);
    }
    hmap_destroy(&ann->aliases);
    free(ann);
}

static struct ann_alias *
alias_find(const struct announcer *ann, const char *name)
{
    struct ann_alias *aa;
    HMAP_FOR_EACH_WITH_HASH (aa, node, hash_string(name, 0), &ann->aliases) {
        if (!strcmp(aa->name, name)) {
            return aa;
        }
    }
    return NULL;
}

static struct ann_alias *
alias_get(struct announcer *ann, const struct cfg_alias *a)
{
    struct ann_alias *aa = alias_find(ann, a->name);
    if (!aa) {
        aa = xzalloc(sizeof *aa);
        aa->ann = ann;
        aa->name = xstrdup(a->name);
        ev_init(&aa->burst, burst_cb);
        ev_init(&aa->refresh, refresh_cb);
        hmap_insert(&ann->aliases, &aa->node, hash_string(a->name, 0));
    }
    aa->settings = a->announce;
    return aa;
}

static void
burst_cb(struct ev_loop *loop, ev_timer *w, int revents OVS_UNUSED)
{
    struct ann_alias *aa = CONTAINER_OF(w, struct ann_alias, burst);
    int n = aa->ann->round(aa->ann->aux, aa->name);

    if (n > 0) {
        aa->n_announced += n;
    } else if (n < 0) {
        RL_DBG("alias %s: announcement skipped (%s)", aa->name,
               ovs_strerror(-n));
    }
    if (aa->burst_left > 0 && --aa->burst_left > 0) {
        ev_timer_set(w, aa->settings.interval_ms / 1000.0, 0.);
        ev_timer_start(loop, w);
    }
}

static void
rearm(struct ann_alias *aa)
{
    struct ev_loop *loop = aa->ann->loop;
    ev_timer_stop(loop, &aa->refresh);
    if (aa->settings.refresh_s) {
        ev_timer_set(&aa->refresh, aa->settings.refresh_s, 0.);
        ev_timer_start(loop, &aa->refresh);
    }
}

static void
start(struct ann_alias *aa)
{
    struct ev_loop *loop = aa->ann->loop;
    ev_timer_stop(loop, &aa->burst);
    aa->burst_left = aa->settings.count;
    if (aa->burst_left) {
        ev_timer_set(&aa->burst, 0., 0.);
        ev_timer_start(loop, &aa->burst);
    }
    rearm(aa);
}

static void
refresh_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
           int revents OVS_UNUSED)
{
    start(CONTAINER_OF(w, struct ann_alias, refresh));
}

void
announcer_start(struct announcer *ann, const struct cfg_alias *a)
{
    start(alias_get(ann, a));
}

void
announcer_rearm(struct announcer *ann, const struct cfg_alias *a)
{
    rearm(alias_get(ann, a));
}

void
announcer_remove(struct announcer *ann, const char *name)
{
    struct ann_alias *aa = alias_find(ann, name);
    if (aa) {
        alias_free(ann, aa);
    }
}

uint64_t
announcer_count(const struct announcer *ann, const char *name)
{
    const struct ann_alias *aa = alias_find(ann, name);
    return aa ? aa->n_announced : 0;
}
