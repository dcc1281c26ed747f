/*
 * meters: the health probes' reply meters on the switches (see meters.h).
 *
 * Per bridge, vmacd remembers the meters it sent to the switch and did not
 * delete since ('struct meters_sent'), with the rate last sent.  A meter
 * is (re)sent when it is new or its rate changed; one that is no longer
 * wanted is deleted after the flows that used it are gone.
 */
#include "meters.h"

#include <inttypes.h>
#include <stdlib.h>

#include "hash.h"
#include "ofchan.h"
#include "openvswitch/hmap.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-meter.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "probemeter.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(meters);

/* A meter sent to a bridge and not deleted since. */
struct meter_sent {
    struct hmap_node node; /* In meters_sent.meters, by id. */
    uint32_t id;
    unsigned int rate_pps; /* Last sent; 0 after the switch refused it. */
};

struct meters_sent {
    struct hmap meters;    /* struct meter_sent. */
    bool deletes_pending;  /* Some are no longer wanted... */
    uint64_t delete_after; /* ...and wait for a later generation. */
};

struct meters {
    const struct meters_callbacks *cbs;
    void *aux;
    const struct probemeter_plan *plan; /* Wanted. */
    struct shash sent; /* Bridge name -> struct meters_sent. */
};

struct meters *
meters_create(const struct meters_callbacks *cbs, void *aux)
{
    struct meters *ms = xzalloc(sizeof *ms);
    ms->cbs = cbs;
    ms->aux = aux;
    shash_init(&ms->sent);
    return ms;
}

static void
sent_destroy(struct meters_sent *st)
{
    struct meter_sent *s;
    HMAP_FOR_EACH_POP (s, node, &st->meters) {
        free(s);
    }
    hmap_destroy(&st->meters);
    free(st);
}

void
meters_destroy(struct meters *ms)
{
    if (!ms) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &ms->sent) {
        sent_destroy(node->data);
    }
    shash_destroy(&ms->sent);
    free(ms);
}

static struct meters_sent *
sent_get(struct meters *ms, const char *bridge)
{
    struct meters_sent *st = shash_find_data(&ms->sent, bridge);
    if (!st) {
        st = xzalloc(sizeof *st);
        hmap_init(&st->meters);
        shash_add(&ms->sent, bridge, st);
    }
    return st;
}

static struct meter_sent *
meter_sent_find(const struct meters_sent *st, uint32_t id)
{
    struct meter_sent *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int(id, 0), &st->meters) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

/* Sends one meter mod to 'bridge' and remembers what the switch then has.
 * 'rate_pps' is ignored for a delete. */
static void
meter_send(struct meters *ms, const char *bridge, struct meters_sent *st,
           uint16_t command, uint32_t id, unsigned int rate_pps)
{
    struct ofchan *chan = ms->cbs->chan(ms->aux, bridge);
    if (!chan) {
        return;
    }
    struct ofputil_meter_band band = {
        .type = OFPMBT13_DROP,
        .rate = rate_pps,
        .burst_size = rate_pps / 10 + 10,
    };
    struct ofputil_meter_mod mm = {
        .command = command,
        .meter = {
            .meter_id = id,
            .flags = OFPMF13_PKTPS | OFPMF13_BURST,
            .n_bands = command == OFPMC13_DELETE ? 0 : 1,
            .bands = &band,
        },
    };
    if (ofchan_send(chan,
                    ofputil_encode_meter_mod(ofchan_version(chan), &mm))) {
        return; /* Closing: the next connection starts over. */
    }

    struct meter_sent *s = meter_sent_find(st, id);
    if (command == OFPMC13_DELETE) {
        if (s) {
            hmap_remove(&st->meters, &s->node);
            free(s);
        }
        VLOG_INFO("%s: probe meter %" PRIu32 " deleted (no longer used)",
                  bridge, id);
        return;
    }
    if (!s) {
        s = xzalloc(sizeof *s);
        s->id = id;
        hmap_insert(&st->meters, &s->node, hash_int(id, 0));
    }
    s->rate_pps = rate_pps;
}

/* Does 'st' hold meters that 'b' (may be NULL) no longer wants? */
static bool
meters_stale(const struct meters_sent *st, const struct probemeter_bridge *b)
{
    const struct meter_sent *s;
    HMAP_FOR_EACH (s, node, &st->meters) {
        if (!probemeter_bridge_has(b, s->id)) {
            return true;
        }
    }
    return false;
}

void
meters_set_plan(struct meters *ms, const struct probemeter_plan *plan,
                uint64_t generation)
{
    ms->plan = plan;

    /* New meters and new rates, before any flow uses them. */
    struct shash_node *node;
    SHASH_FOR_EACH (node, &plan->bridges) {
        const struct probemeter_bridge *b = node->data;
        struct meters_sent *st = sent_get(ms, b->name);
        for (size_t k = 0; k < b->n; k++) {
            const struct probemeter *m = &b->meters[k];
            const struct meter_sent *s = meter_sent_find(st, m->id);
            if (!s || s->rate_pps != m->rate_pps) {
                meter_send(ms, b->name, st, OFPMC13_ADD, m->id, m->rate_pps);
            }
        }
    }

    /* The others go once the flows of this plan are in place (on a
     * disconnected bridge: after its first bundle once it is back). */
    SHASH_FOR_EACH (node, &ms->sent) {
        struct meters_sent *st = node->data;
        if (meters_stale(st, probemeter_bridge_find(plan, node->name))) {
            st->deletes_pending = true;
            st->delete_after = generation;
        }
    }
}

void
meters_bridge_ready(struct meters *ms, const char *bridge,
                    uint64_t generation)
{
    const struct probemeter_bridge *b
        = probemeter_bridge_find(ms->plan, bridge);
    struct meters_sent *st = shash_find_data(&ms->sent, bridge);
    if (!b && !st) {
        return; /* Nothing probed on this bridge. */
    }
    st = sent_get(ms, bridge);
    for (size_t k = 0; b && k < b->n; k++) {
        meter_send(ms, bridge, st, OFPMC13_ADD, b->meters[k].id,
                   b->meters[k].rate_pps);
    }
    if (meters_stale(st, b)) {
        st->deletes_pending = true;
        st->delete_after = generation;
    }
}

void
meters_applied(struct meters *ms, const char *bridge, uint64_t generation)
{
    struct meters_sent *st = shash_find_data(&ms->sent, bridge);
    if (!st || !st->deletes_pending || generation <= st->delete_after) {
        return;
    }
    st->deletes_pending = false;
    const struct probemeter_bridge *b
        = probemeter_bridge_find(ms->plan, bridge);
    struct meter_sent *s;
    HMAP_FOR_EACH_SAFE (s, node, &st->meters) {
        if (!probemeter_bridge_has(b, s->id)) {
            meter_send(ms, bridge, st, OFPMC13_DELETE, s->id, 0);
        }
    }
    if (!b && hmap_is_empty(&st->meters)) {
        shash_find_and_delete(&ms->sent, bridge);
        sent_destroy(st);
    }
}

bool
meters_handle_error(struct meters *ms, const char *bridge,
                    const struct ofp_header *oh)
{
    struct ofpbuf payload;
    enum ofperr err = ofperr_decode_msg(oh, &payload);
    if (!err) {
        return false;
    }

    /* The error carries the request it is about: is that a meter mod?
     * (vmacd sends meter mods from here only.) */
    const struct ofp_header *req = payload.data;
    enum ofptype type;
    struct ofputil_meter_mod mm;
    uint64_t bands_stub[256 / 8];
    struct ofpbuf bands = OFPBUF_STUB_INITIALIZER(bands_stub);
    bool ours
        = (payload.size >= sizeof *req && ntohs(req->length) >= sizeof *req
           && ntohs(req->length) <= payload.size && !ofptype_decode(&type, req)
           && type == OFPTYPE_METER_MOD
           && !ofputil_decode_meter_mod(req, &mm, &bands));
    ofpbuf_uninit(&bands);
    ofpbuf_uninit(&payload);
    if (!ours) {
        return false;
    }

    uint32_t id = mm.meter.meter_id;
    const struct probemeter_bridge *b
        = probemeter_bridge_find(ms->plan, bridge);
    struct meters_sent *st = shash_find_data(&ms->sent, bridge);
    struct meter_sent *s = st ? meter_sent_find(st, id) : NULL;

    if (mm.command == OFPMC13_ADD && err == OFPERR_OFPMMFC_METER_EXISTS) {
        /* Left by an earlier vmacd (or an earlier connection): bring its
         * rate up to date, if it is still wanted. */
        if (s && probemeter_bridge_has(b, id)) {
            VLOG_DBG("%s: probe meter %" PRIu32 " exists: modifying it",
                     bridge, id);
            meter_send(ms, bridge, st, OFPMC13_MODIFY, id,
                       b->meters[id - b->base].rate_pps);
        }
        return true;
    }
    if (s && mm.command != OFPMC13_DELETE) {
        s->rate_pps = 0; /* Unknown: the next sync sends it again. */
    }
    RL_ERR("%s: probe meter %" PRIu32 ": %s refused (%s): probe "
           "replies through it may not reach vmacd",
           bridge, id,
           (mm.command == OFPMC13_ADD      ? "add"
            : mm.command == OFPMC13_MODIFY ? "modify"
                                 : "delete"),
           ofperr_to_string(err));
    return true;
}
