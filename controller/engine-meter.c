/*
 * engine-meter: the health probes' reply meters on the switches, one per
 * probed port (probemeter.h says which id and rate each port gets;
 * engine-private.h says when they are added and deleted).
 *
 * Per bridge, vmacd remembers the meters it sent to the switch and did not
 * delete since ('struct meters_sent'), with the rate last sent.  A meter
 * is (re)sent when it is new or its rate changed; one that is no longer
 * wanted is deleted after the flows that used it are gone.  Meters left by
 * an earlier vmacd under ids the config no longer uses are not deleted:
 * nothing in the switch tells them from another controller's.
 */
#include "engine-private.h"

#include <inttypes.h>
#include <stdlib.h>

#include "config.h"
#include "hash.h"
#include "ofswitch.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-meter.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "probemeter.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_meter);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

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

void
engine_meter_init(struct engine *eng)
{
    eng->meter_plan = NULL;
    shash_init(&eng->meters_sent);
}

static void
meters_sent_destroy(struct meters_sent *ms)
{
    struct meter_sent *s;
    HMAP_FOR_EACH_POP (s, node, &ms->meters) {
        free(s);
    }
    hmap_destroy(&ms->meters);
    free(ms);
}

void
engine_meter_destroy(struct engine *eng)
{
    struct shash_node *node;
    SHASH_FOR_EACH (node, &eng->meters_sent) {
        meters_sent_destroy(node->data);
    }
    shash_destroy(&eng->meters_sent);
    probemeter_plan_destroy(eng->meter_plan);
    eng->meter_plan = NULL;
}

const struct probemeter *
engine_meter_find(const struct engine *eng, const char *bridge,
                  const char *port)
{
    return probemeter_find(eng->meter_plan, bridge, port);
}

static struct meters_sent *
meters_sent_get(struct engine *eng, const char *bridge)
{
    struct meters_sent *ms = shash_find_data(&eng->meters_sent, bridge);
    if (!ms) {
        ms = xzalloc(sizeof *ms);
        hmap_init(&ms->meters);
        shash_add(&eng->meters_sent, bridge, ms);
    }
    return ms;
}

static struct meter_sent *
meter_sent_find(const struct meters_sent *ms, uint32_t id)
{
    struct meter_sent *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int(id, 0), &ms->meters) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

/* Sends one meter mod to 'conn' and remembers what the switch then has.
 * 'rate_pps' is ignored for a delete. */
static void
meter_send(struct conn *conn, struct meters_sent *ms, uint16_t command,
           uint32_t id, unsigned int rate_pps)
{
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
    struct ofchan *chan = ofswitch_chan(conn->sw);
    if (ofchan_send(chan,
                    ofputil_encode_meter_mod(ofchan_version(chan), &mm))) {
        return; /* Closing: the next connection starts over. */
    }

    struct meter_sent *s = meter_sent_find(ms, id);
    if (command == OFPMC13_DELETE) {
        if (s) {
            hmap_remove(&ms->meters, &s->node);
            free(s);
        }
        VLOG_INFO("%s: probe meter %" PRIu32 " deleted (no longer used)",
                  conn->br->name, id);
        return;
    }
    if (!s) {
        s = xzalloc(sizeof *s);
        s->id = id;
        hmap_insert(&ms->meters, &s->node, hash_int(id, 0));
    }
    s->rate_pps = rate_pps;
}

/* Does 'ms' hold meters that 'b' (may be NULL) no longer wants? */
static bool
meters_stale(const struct meters_sent *ms, const struct probemeter_bridge *b)
{
    const struct meter_sent *s;
    HMAP_FOR_EACH (s, node, &ms->meters) {
        if (!probemeter_bridge_has(b, s->id)) {
            return true;
        }
    }
    return false;
}

static struct conn *
bridge_conn(const struct engine *eng, const char *name)
{
    const struct bridge *br = engine_bridge_find(eng, name);
    return br && br->conn && br->conn->ft ? br->conn : NULL;
}

void
engine_meter_sync(struct engine *eng)
{
    probemeter_plan_destroy(eng->meter_plan);
    eng->meter_plan = probemeter_plan_create(eng->cfg);

    /* New meters and new rates, before any flow uses them. */
    struct shash_node *node;
    SHASH_FOR_EACH (node, &eng->meter_plan->bridges) {
        const struct probemeter_bridge *b = node->data;
        struct meters_sent *ms = meters_sent_get(eng, b->name);
        struct conn *conn = bridge_conn(eng, b->name);
        for (size_t k = 0; conn && k < b->n; k++) {
            const struct probemeter *m = &b->meters[k];
            const struct meter_sent *s = meter_sent_find(ms, m->id);
            if (!s || s->rate_pps != m->rate_pps) {
                meter_send(conn, ms, OFPMC13_ADD, m->id, m->rate_pps);
            }
        }
    }

    /* The others go once the flows of this config are in place (on a
     * disconnected bridge: after its first bundle once it is back). */
    SHASH_FOR_EACH (node, &eng->meters_sent) {
        struct meters_sent *ms = node->data;
        if (meters_stale(
                ms, probemeter_bridge_find(eng->meter_plan, node->name))) {
            ms->deletes_pending = true;
            ms->delete_after = eng->generation;
        }
    }
}

void
engine_meter_conn_ready(struct conn *conn)
{
    struct engine *eng = conn->eng;
    const struct probemeter_bridge *b
        = probemeter_bridge_find(eng->meter_plan, conn->br->name);
    struct meters_sent *ms
        = shash_find_data(&eng->meters_sent, conn->br->name);
    if (!b && !ms) {
        return; /* Nothing probed on this bridge. */
    }
    ms = meters_sent_get(eng, conn->br->name);
    for (size_t k = 0; b && k < b->n; k++) {
        meter_send(conn, ms, OFPMC13_ADD, b->meters[k].id,
                   b->meters[k].rate_pps);
    }
    if (meters_stale(ms, b)) {
        ms->deletes_pending = true;
        ms->delete_after = eng->generation;
    }
}

void
engine_meter_applied(struct conn *conn, uint64_t generation)
{
    struct engine *eng = conn->eng;
    struct meters_sent *ms
        = conn->br ? shash_find_data(&eng->meters_sent, conn->br->name) : NULL;
    if (!ms || !ms->deletes_pending || generation <= ms->delete_after) {
        return;
    }
    ms->deletes_pending = false;
    const struct probemeter_bridge *b
        = probemeter_bridge_find(eng->meter_plan, conn->br->name);
    struct meter_sent *s;
    HMAP_FOR_EACH_SAFE (s, node, &ms->meters) {
        if (!probemeter_bridge_has(b, s->id)) {
            meter_send(conn, ms, OFPMC13_DELETE, s->id, 0);
        }
    }
    if (!b && hmap_is_empty(&ms->meters)) {
        shash_find_and_delete(&eng->meters_sent, conn->br->name);
        meters_sent_destroy(ms);
    }
}

bool
engine_meter_error(struct conn *conn, const struct ofp_header *oh)
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

    struct engine *eng = conn->eng;
    const char *name = conn->br ? conn->br->name : NULL;
    uint32_t id = mm.meter.meter_id;
    const struct probemeter_bridge *b
        = name ? probemeter_bridge_find(eng->meter_plan, name) : NULL;
    struct meters_sent *ms
        = name ? shash_find_data(&eng->meters_sent, name) : NULL;
    struct meter_sent *s = ms ? meter_sent_find(ms, id) : NULL;

    if (mm.command == OFPMC13_ADD && err == OFPERR_OFPMMFC_METER_EXISTS) {
        /* Left by an earlier vmacd (or an earlier connection): bring its
         * rate up to date, if it is still wanted. */
        if (s && probemeter_bridge_has(b, id)) {
            VLOG_DBG("%s: probe meter %" PRIu32 " exists: modifying it", name,
                     id);
            meter_send(conn, ms, OFPMC13_MODIFY, id,
                       b->meters[id - b->base].rate_pps);
        }
        return true;
    }
    if (s && mm.command != OFPMC13_DELETE) {
        s->rate_pps = 0; /* Unknown: the next sync sends it again. */
    }
    VLOG_ERR_RL(&rl,
                "%s: probe meter %" PRIu32 ": %s refused (%s): probe "
                "replies through it may not reach vmacd",
                ofswitch_peer(conn->sw), id,
                (mm.command == OFPMC13_ADD      ? "add"
                 : mm.command == OFPMC13_MODIFY ? "modify"
                                                : "delete"),
                ofperr_to_string(err));
    return true;
}
