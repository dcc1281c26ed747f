/*
 * flowtab: desired vs installed flows and groups on one switch, by parts
 * (see flowtab.h).  The parts themselves, their binary flows and groups
 * and their encodings are in flowset.
 *
 * States:
 *   READING   flow and group dumps requested; installed state unknown.
 *   IDLE      installed state known; a kick timer diffs the dirty parts.
 *   BUNDLE    a bundle (open, adds, commit) and a barrier are in flight;
 *             the adds are encoded as the send queue drains.
 *   BACKOFF   the last bundle failed; re-read the switch when the timer
 *             fires.
 */
#include "flowtab.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "flowset.h"
#include "flowgen.h"
#include "hash.h"
#include "ofchan.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "ratelog.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(flowtab);

#define REQUEST_TIMEOUT_MS 30000
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0

enum ft_phase {
    FT_READING,
    FT_IDLE,
    FT_BUNDLE,
    FT_BACKOFF,
};

/* One part id: what is wanted and what is installed. */
struct ft_slot {
    struct hmap_node node; /* In flowtab->slots, by id. */
    uint32_t id;
    struct fs_part *desired;
    struct fs_part *installed;
    bool dirty;
    struct ovs_list dirty_node; /* In flowtab->dirty, if 'dirty'. */
};

/* A part being applied by the bundle in flight. */
struct ft_change {
    struct ft_slot *slot;
    struct fs_part *want; /* Reference. */
};

/* Where the bundle's encoding stands: the stage, the change and the flow
 * within it. */
enum ft_stage {
    STAGE_GROUPS,    /* New and changed groups (flows may point to them). */
    STAGE_DELETES,   /* Flows no longer wanted. */
    STAGE_FLOWS,     /* New and changed flows. */
    STAGE_UNGROUPS,  /* Groups no longer wanted. */
    STAGE_COMMIT,    /* Commit and barrier. */
    STAGE_DONE,
};

/* A part being read back from the switch. */
struct ft_reading {
    struct hmap_node node; /* In flowtab->reading, by id. */
    uint32_t id;
    struct flowset_builder *b;
};

struct flowtab {
    struct ev_loop *loop;
    struct ofchan *chan;
    uint32_t cookie_prefix;
    flowtab_applied_func *applied;
    flowtab_read_func *read_done;
    void *aux;

    enum ft_phase phase;
    struct hmap slots;    /* struct ft_slot. */
    struct ovs_list dirty; /* struct ft_slot. */
    bool known;           /* The installed state is known. */
    uint64_t desired_generation, installed_generation;
    size_t n_flows, n_groups; /* Installed. */

    /* READING. */
    struct hmap reading;       /* struct ft_reading: flows and groups. */
    struct hmap referenced;    /* struct ft_reading (no builder): group ids
                                * vmacd's flows use. */
    int reads_pending;

    /* BUNDLE. */
    uint32_t bundle_id;
    bool open_ok, commit_ok;
    struct ft_change *changes;
    size_t n_changes;
    enum ft_stage stage;
    size_t ci, fi; /* Change and flow index of the next message. */
    uint32_t first_xid, last_xid;
    uint64_t bundle_generation;
    struct flowtab_result result;

    ev_timer kick; /* Runs the diff from the loop. */
    ev_timer backoff;
    double backoff_s;

    struct flowtab_stats stats;
};

static void ft_kick_cb(struct ev_loop *, ev_timer *, int revents);
static void ft_backoff_cb(struct ev_loop *, ev_timer *, int revents);

/* Slots. */

static struct ft_slot *
slot_find(const struct flowtab *ft, uint32_t id)
{
    struct ft_slot *s;
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int(id, 0), &ft->slots) {
        if (s->id == id) {
            return s;
        }
    }
    return NULL;
}

static struct ft_slot *
slot_get(struct flowtab *ft, uint32_t id)
{
    struct ft_slot *s = slot_find(ft, id);
    if (!s) {
        s = xzalloc(sizeof *s);
        s->id = id;
        hmap_insert(&ft->slots, &s->node, hash_int(id, 0));
    }
    return s;
}

static void
slot_mark(struct flowtab *ft, struct ft_slot *s)
{
    if (!s->dirty) {
        s->dirty = true;
        ovs_list_push_back(&ft->dirty, &s->dirty_node);
    }
}

static void
slot_set_installed(struct flowtab *ft, struct ft_slot *s, struct fs_part *p)
{
    if (s->installed) {
        ft->n_flows -= fs_part_n_flows(s->installed);
        ft->n_groups -= fs_part_group(s->installed) != NULL;
    }
    fs_part_unref(s->installed);
    s->installed = p;
    if (p) {
        ft->n_flows += fs_part_n_flows(p);
        ft->n_groups += fs_part_group(p) != NULL;
    }
}

/* Frees 's' if it holds nothing and nothing refers to it. */
static void
slot_gc(struct flowtab *ft, struct ft_slot *s)
{
    if (!s->desired && !s->installed && !s->dirty) {
        hmap_remove(&ft->slots, &s->node);
        free(s);
    }
}

/* Lifecycle. */

struct flowtab *
flowtab_create(struct ev_loop *loop, struct ofchan *chan,
               uint32_t cookie_prefix, flowtab_applied_func *applied,
               flowtab_read_func *read_done, void *aux)
{
    struct flowtab *ft = xzalloc(sizeof *ft);
    ft->loop = loop;
    ft->chan = chan;
    ft->cookie_prefix = cookie_prefix;
    ft->applied = applied;
    ft->read_done = read_done;
    ft->aux = aux;
    ft->phase = FT_READING;
    hmap_init(&ft->slots);
    ovs_list_init(&ft->dirty);
    hmap_init(&ft->reading);
    hmap_init(&ft->referenced);
    ev_timer_init(&ft->kick, ft_kick_cb, 0., 0.);
    ev_timer_init(&ft->backoff, ft_backoff_cb, 0., 0.);
    ft->backoff_s = BACKOFF_MIN;
    return ft;
}

static void
reading_clear(struct flowtab *ft)
{
    struct ft_reading *r;
    HMAP_FOR_EACH_POP (r, node, &ft->reading) {
        flowset_builder_destroy(r->b);
        free(r);
    }
    HMAP_FOR_EACH_POP (r, node, &ft->referenced) {
        free(r);
    }
    ft->reads_pending = 0;
}

static void
changes_clear(struct flowtab *ft)
{
    for (size_t i = 0; i < ft->n_changes; i++) {
        fs_part_unref(ft->changes[i].want);
    }
    free(ft->changes);
    ft->changes = NULL;
    ft->n_changes = 0;
}

void
flowtab_destroy(struct flowtab *ft)
{
    if (!ft) {
        return;
    }
    ofchan_forget_requests(ft->chan, ft);
    ofchan_notify_drained(ft->chan, 0, NULL, NULL);
    ev_timer_stop(ft->loop, &ft->kick);
    ev_timer_stop(ft->loop, &ft->backoff);
    reading_clear(ft);
    hmap_destroy(&ft->reading);
    hmap_destroy(&ft->referenced);
    changes_clear(ft);
    struct ft_slot *s;
    HMAP_FOR_EACH_POP (s, node, &ft->slots) {
        fs_part_unref(s->desired);
        fs_part_unref(s->installed);
        free(s);
    }
    hmap_destroy(&ft->slots);
    free(ft);
}

static void
ft_schedule_kick(struct flowtab *ft)
{
    if (ft->phase == FT_IDLE && !ev_is_active(&ft->kick)) {
        ev_timer_set(&ft->kick, 0., 0.);
        ev_timer_start(ft->loop, &ft->kick);
    }
}

/* Failure: start over from a read of the switch. */
static void
ft_fail(struct flowtab *ft, const char *why)
{
    RL_WARN("%s: %s; re-reading the switch in %.1f s",
            ofchan_name(ft->chan), why, ft->backoff_s);
    ft->stats.failures++;
    reading_clear(ft);
    changes_clear(ft);
    ofchan_notify_drained(ft->chan, 0, NULL, NULL);
    ft->known = false;
    ft->phase = FT_BACKOFF;
    ev_timer_stop(ft->loop, &ft->kick);
    ev_timer_set(&ft->backoff, ft->backoff_s, 0.);
    ev_timer_start(ft->loop, &ft->backoff);
    ft->backoff_s = MIN(ft->backoff_s * 2, BACKOFF_MAX);

    struct flowtab_result r = { .ok = false };
    ft->applied(ft, &r, ft->aux);
}

/* Reading the switch. */

static struct ft_reading *
reading_find(const struct hmap *map, uint32_t id)
{
    struct ft_reading *r;
    HMAP_FOR_EACH_WITH_HASH (r, node, hash_int(id, 0), map) {
        if (r->id == id) {
            return r;
        }
    }
    return NULL;
}

static struct ft_reading *
reading_get(struct hmap *map, uint32_t id, bool builder)
{
    struct ft_reading *r = reading_find(map, id);
    if (!r) {
        r = xzalloc(sizeof *r);
        r->id = id;
        r->b = builder ? flowset_builder_create(id) : NULL;
        hmap_insert(map, &r->node, hash_int(id, 0));
    }
    return r;
}

static void ft_read_done(struct flowtab *);

static void
ft_flows_reply(struct ofchan *chan OVS_UNUSED, const struct ofp_header *oh,
               enum ofptype type, int error OVS_UNUSED, bool final, void *ft_)
{
    struct flowtab *ft = ft_;

    if (!oh || type != OFPTYPE_FLOW_STATS_REPLY) {
        if (oh) {
            ft_fail(ft, "flow dump failed");
        }
        return;
    }
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    for (;;) {
        struct ofputil_flow_stats fs;
        int retval = ofputil_decode_flow_stats_reply(&fs, &b, false, &ofpacts);
        if (retval == EOF) {
            break;
        } else if (retval) {
            ofpbuf_uninit(&ofpacts);
            RL_WARN("%s: undecodable flow stats reply: %s",
                    ofchan_name(ft->chan), ofperr_to_string(retval));
            ofchan_close(ft->chan, "bad flow stats reply");
            return;
        }
        const struct ofpact *a;
        OFPACT_FOR_EACH (a, fs.ofpacts, fs.ofpacts_len) {
            if (a->type == OFPACT_GROUP) {
                reading_get(&ft->referenced, ofpact_get_GROUP(a)->group_id,
                            false);
            }
        }
        /* The low half of the cookie names the owner (part). */
        uint32_t id = ntohll(fs.cookie) & UINT32_MAX;
        flowset_builder_add_flow(reading_get(&ft->reading, id, true)->b,
                                 fs.table_id, fs.priority, &fs.match,
                                 fs.ofpacts, fs.ofpacts_len);
    }
    ofpbuf_uninit(&ofpacts);
    if (final && --ft->reads_pending == 0) {
        ft_read_done(ft);
    }
}

static void
ft_groups_reply(struct ofchan *chan, const struct ofp_header *oh,
                enum ofptype type, int error OVS_UNUSED, bool final, void *ft_)
{
    struct flowtab *ft = ft_;

    if (!oh || type != OFPTYPE_GROUP_DESC_STATS_REPLY) {
        if (oh) {
            ft_fail(ft, "group dump failed");
        }
        return;
    }
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_group_desc gd;
        int retval
            = ofputil_decode_group_desc_reply(&gd, &b, ofchan_version(chan));
        if (retval == EOF) {
            break;
        } else if (retval) {
            RL_WARN("%s: undecodable group desc reply: %s",
                    ofchan_name(ft->chan), ofperr_to_string(retval));
            ofchan_close(ft->chan, "bad group desc reply");
            return;
        }
        if (gd.group_id < FLOWSET_GROUP_PART) {
            uint32_t id = gd.group_id | FLOWSET_GROUP_PART;
            flowset_builder_set_group_list(
                reading_get(&ft->reading, id, true)->b, gd.group_id, gd.type,
                &gd.buckets);
        }
        ofputil_uninit_group_desc(&gd);
    }
    if (final && --ft->reads_pending == 0) {
        ft_read_done(ft);
    }
}

void
flowtab_start(struct flowtab *ft)
{
    enum ofp_version v = ofchan_version(ft->chan);
    enum ofputil_protocol p = ofchan_protocol(ft->chan);

    reading_clear(ft);
    ft->phase = FT_READING;
    ft->known = false;

    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .cookie = htonll(flowgen_cookie(ft->cookie_prefix, 0)),
        .cookie_mask = htonll(0xffffffff00000000ULL),
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0xff,
    };
    match_init_catchall(&fsr.match);
    ft->reads_pending = 2;
    if (ofchan_request(ft->chan, ofputil_encode_flow_stats_request(&fsr, p),
                       ft_flows_reply, ft, REQUEST_TIMEOUT_MS)) {
        return;
    }
    ofchan_request(ft->chan, ofputil_encode_group_desc_request(v, OFPG_ALL),
                   ft_groups_reply, ft, REQUEST_TIMEOUT_MS);
}

static void
ft_read_done(struct flowtab *ft)
{
    /* What was installed goes into the slots; every slot is dirty, so the
     * first commit reconciles everything. */
    struct ft_slot *s;
    HMAP_FOR_EACH (s, node, &ft->slots) {
        slot_set_installed(ft, s, NULL);
    }
    struct ft_reading *r;
    HMAP_FOR_EACH_POP (r, node, &ft->reading) {
        bool group = r->id & FLOWSET_GROUP_PART;
        /* Groups: those vmacd's flows use, and those it wants. */
        s = slot_find(ft, r->id);
        if (group && !(s && s->desired)
            && !reading_find(&ft->referenced, r->id & ~FLOWSET_GROUP_PART)) {
            flowset_builder_destroy(r->b);
        } else {
            slot_set_installed(ft, slot_get(ft, r->id),
                               flowset_builder_finish(r->b));
        }
        free(r);
    }
    reading_clear(ft);
    HMAP_FOR_EACH (s, node, &ft->slots) {
        slot_mark(ft, s);
    }
    VLOG_INFO("%s: read %zu installed flows and %zu groups",
              ofchan_name(ft->chan), ft->n_flows, ft->n_groups);
    ft->known = true;
    ft->phase = FT_IDLE;
    ft->installed_generation = 0;
    if (ft->read_done) {
        ft->read_done(ft, ft->aux);
    }
    ft_schedule_kick(ft);
}

bool
flowtab_group_first_port(const struct flowtab *ft, uint32_t group_id,
                         uint32_t *port)
{
    const struct ft_slot *s = slot_find(ft, group_id | FLOWSET_GROUP_PART);
    const struct fs_group *g
        = s && ft->known ? fs_part_group(s->installed) : NULL;
    if (!g || !g->n_buckets || g->buckets[0].watch_port == OFPP_ANY) {
        return false;
    }
    *port = ofp_to_u16(g->buckets[0].watch_port);
    return true;
}

static void
ft_backoff_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
              int revents OVS_UNUSED)
{
    flowtab_start(CONTAINER_OF(w, struct flowtab, backoff));
}

/* Desired state. */

void
flowtab_set_part(struct flowtab *ft, uint32_t id, struct fs_part *part)
{
    struct ft_slot *s = part ? slot_get(ft, id) : slot_find(ft, id);
    if (!s || s->desired == part) {
        fs_part_unref(part);
        return;
    }
    fs_part_unref(s->desired);
    s->desired = part;
    slot_mark(ft, s);
}

const struct fs_part *
flowtab_get_part(const struct flowtab *ft, uint32_t id)
{
    const struct ft_slot *s = slot_find(ft, id);
    return s ? s->desired : NULL;
}

void
flowtab_commit(struct flowtab *ft, uint64_t generation)
{
    ft->desired_generation = generation;
    ft_schedule_kick(ft);
}

/* The bundle. */

static void ft_bundle_ctrl_reply(struct ofchan *, const struct ofp_header *,
                                 enum ofptype, int, bool, void *);
static void ft_barrier_reply(struct ofchan *, const struct ofp_header *,
                             enum ofptype, int, bool, void *);

static bool
ft_bundle_ctrl(struct flowtab *ft, uint16_t type)
{
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = ft->bundle_id,
        .type = type,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };
    struct ofpbuf *msg
        = ofputil_encode_bundle_ctrl_request(ofchan_version(ft->chan), &bc);
    ft->last_xid = ntohl(((struct ofp_header *) msg->data)->xid);
    return !ofchan_request(ft->chan, msg, ft_bundle_ctrl_reply, ft,
                           REQUEST_TIMEOUT_MS);
}

static bool
ft_add(struct flowtab *ft, struct ofpbuf *inner)
{
    struct ofputil_bundle_add_msg bam = {
        .bundle_id = ft->bundle_id,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
        .msg = inner->data,
    };
    struct ofpbuf *msg
        = ofputil_encode_bundle_add(ofchan_version(ft->chan), &bam);
    ofpbuf_delete(inner);
    ft->last_xid = ntohl(((struct ofp_header *) msg->data)->xid);
    return !ofchan_send(ft->chan, msg);
}

/* The next message of the bundle, or NULL when the stage is over. */
static struct ofpbuf *
ft_next(struct flowtab *ft)
{
    enum ofputil_protocol p = ofchan_protocol(ft->chan);
    enum ofp_version v = ofchan_version(ft->chan);
    struct flowtab_result *r = &ft->result;

    for (; ft->ci < ft->n_changes; ft->ci++, ft->fi = 0) {
        const struct ft_change *c = &ft->changes[ft->ci];
        const struct fs_part *want = c->want, *have = c->slot->installed;
        const struct fs_group *wg = fs_part_group(want);
        const struct fs_group *hg = fs_part_group(have);
        ovs_be64 cookie = htonll(flowgen_cookie(ft->cookie_prefix,
                                                c->slot->id));

        switch (ft->stage) {
        case STAGE_GROUPS:
            if (ft->fi++ == 0 && wg && !fs_group_equal(wg, hg)) {
                r->n_group_mods++;
                return fs_group_encode(wg, hg ? OFPGC11_MODIFY : OFPGC11_ADD,
                                       v);
            }
            break;
        case STAGE_DELETES:
            while (ft->fi < fs_part_n_flows(have)) {
                const struct fs_flow *f = fs_part_flow(have, ft->fi++);
                if (!fs_part_find(want, f)) {
                    r->n_delete++;
                    return fs_flow_encode(f, cookie, OFPFC_DELETE_STRICT, p);
                }
            }
            break;
        case STAGE_FLOWS:
            while (ft->fi < fs_part_n_flows(want)) {
                const struct fs_flow *f = fs_part_flow(want, ft->fi++);
                const struct fs_flow *old = fs_part_find(have, f);
                if (!old) {
                    r->n_add++;
                    return fs_flow_encode(f, cookie, OFPFC_ADD, p);
                } else if (old->acts != f->acts) {
                    r->n_modify++;
                    return fs_flow_encode(f, cookie, OFPFC_MODIFY_STRICT, p);
                }
            }
            break;
        case STAGE_UNGROUPS:
            if (ft->fi++ == 0 && hg && !wg) {
                r->n_group_mods++;
                return fs_group_encode(hg, OFPGC11_DELETE, v);
            }
            break;
        case STAGE_COMMIT:
        case STAGE_DONE:
            OVS_NOT_REACHED();
        }
    }
    return NULL;
}

static void ft_emit(struct flowtab *);

static void
ft_drained(struct ofchan *chan OVS_UNUSED, void *ft_)
{
    ft_emit(ft_);
}

/* Sends the bundle's messages while the send queue is short, and the
 * commit and barrier after the last one. */
static void
ft_emit(struct flowtab *ft)
{
    while (ft->stage < STAGE_COMMIT) {
        if (ofchan_queued_bytes(ft->chan) >= FLOWTAB_QUEUE_BYTES) {
            ofchan_notify_drained(ft->chan, FLOWTAB_QUEUE_BYTES / 2,
                                  ft_drained, ft);
            return;
        }
        struct ofpbuf *msg = ft_next(ft);
        if (!msg) {
            ft->stage++;
            ft->ci = ft->fi = 0;
        } else if (!ft_add(ft, msg)) {
            return; /* The channel is closing. */
        }
    }
    if (ft->stage == STAGE_COMMIT) {
        ft->stage = STAGE_DONE;
        if (ft_bundle_ctrl(ft, OFPBCT_COMMIT_REQUEST)) {
            struct ofpbuf *barrier
                = ofputil_encode_barrier_request(ofchan_version(ft->chan));
            ft->last_xid = ntohl(((struct ofp_header *) barrier->data)->xid);
            ofchan_request(ft->chan, barrier, ft_barrier_reply, ft,
                           REQUEST_TIMEOUT_MS);
        }
    }
}

/* Reports 'generation' applied with nothing to send. */
static void
ft_report_clean(struct flowtab *ft)
{
    ft->installed_generation = ft->desired_generation;
    struct flowtab_result r = {
        .ok = true,
        .generation = ft->desired_generation,
    };
    ft->applied(ft, &r, ft->aux);
}

static void
ft_kick_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
           int revents OVS_UNUSED)
{
    struct flowtab *ft = CONTAINER_OF(w, struct flowtab, kick);

    if (ft->phase != FT_IDLE || !ft->known) {
        return;
    }

    /* The dirty parts that differ from what is installed. */
    size_t allocated = 0;
    struct ft_slot *s;
    LIST_FOR_EACH_POP (s, dirty_node, &ft->dirty) {
        s->dirty = false;
        if (fs_part_equal(s->desired, s->installed)) {
            if (s->desired != s->installed) {
                /* Equal in content: share one copy. */
                slot_set_installed(ft, s, fs_part_ref(s->desired));
            }
            slot_gc(ft, s);
            continue;
        }
        if (ft->n_changes >= allocated) {
            ft->changes = x2nrealloc(ft->changes, &allocated,
                                     sizeof *ft->changes);
        }
        ft->changes[ft->n_changes++] = (struct ft_change){
            .slot = s,
            .want = fs_part_ref(s->desired),
        };
    }
    if (!ft->n_changes) {
        if (ft->desired_generation != ft->installed_generation) {
            ft_report_clean(ft);
        }
        return;
    }

    memset(&ft->result, 0, sizeof ft->result);
    ft->result.generation = ft->desired_generation;
    ft->bundle_generation = ft->desired_generation;
    ft->phase = FT_BUNDLE;
    ft->bundle_id++;
    ft->open_ok = ft->commit_ok = false;
    ft->stats.bundles++;
    ft->stage = STAGE_GROUPS;
    ft->ci = ft->fi = 0;
    if (!ft_bundle_ctrl(ft, OFPBCT_OPEN_REQUEST)) {
        return;
    }
    ft->first_xid = ft->last_xid;
    ft_emit(ft);
}

static void
log_error_reply(struct flowtab *ft, const struct ofp_header *oh,
                const char *what)
{
    enum ofperr err = ofperr_decode_msg(oh, NULL);
    RL_WARN("%s: %s failed: %s", ofchan_name(ft->chan), what,
            err ? ofperr_to_string(err) : "undecodable error");
}

static void
ft_bundle_ctrl_reply(struct ofchan *chan OVS_UNUSED,
                     const struct ofp_header *oh, enum ofptype type,
                     int error OVS_UNUSED, bool final OVS_UNUSED, void *ft_)
{
    struct flowtab *ft = ft_;

    if (!oh) {
        /* Timeout or close: the barrier reply (or the close) decides. */
        return;
    }
    if (type == OFPTYPE_ERROR) {
        log_error_reply(ft, oh, ft->open_ok ? "bundle commit" : "bundle open");
        return;
    }
    struct ofputil_bundle_ctrl_msg bc;
    if (type != OFPTYPE_BUNDLE_CONTROL || ofputil_decode_bundle_ctrl(oh, &bc)
        || bc.bundle_id != ft->bundle_id) {
        RL_WARN("%s: unexpected bundle control reply",
                ofchan_name(ft->chan));
        return;
    }
    if (bc.type == OFPBCT_OPEN_REPLY) {
        ft->open_ok = true;
    } else if (bc.type == OFPBCT_COMMIT_REPLY) {
        ft->commit_ok = true;
    }
}

static void
ft_barrier_reply(struct ofchan *chan OVS_UNUSED, const struct ofp_header *oh,
                 enum ofptype type, int error, bool final OVS_UNUSED,
                 void *ft_)
{
    struct flowtab *ft = ft_;

    if (!oh) {
        if (error == ETIMEDOUT) {
            ft_fail(ft, "barrier timed out");
        }
        return;
    }
    if (type != OFPTYPE_BARRIER_REPLY || !ft->commit_ok) {
        ft_fail(ft, "bundle not committed");
        return;
    }
    ft->backoff_s = BACKOFF_MIN;
    for (size_t i = 0; i < ft->n_changes; i++) {
        struct ft_change *c = &ft->changes[i];
        slot_set_installed(ft, c->slot, c->want);
        c->want = NULL;
        slot_gc(ft, c->slot);
    }
    changes_clear(ft);
    struct flowtab_result *r = &ft->result;
    ft->stats.flow_mods += r->n_add + r->n_modify + r->n_delete;
    ft->stats.group_mods += r->n_group_mods;
    ft->installed_generation = ft->bundle_generation;
    ft->phase = FT_IDLE;
    r->ok = true;
    ft->applied(ft, r, ft->aux);
    if (!ovs_list_is_empty(&ft->dirty)
        || ft->desired_generation != ft->installed_generation) {
        ft_schedule_kick(ft);
    }
}

bool
flowtab_handle_error(struct flowtab *ft, const struct ofp_header *oh)
{
    uint32_t xid = ntohl(oh->xid);
    if (!ft->first_xid || xid - ft->first_xid > ft->last_xid - ft->first_xid) {
        return false;
    }
    struct ofpbuf payload;
    enum ofperr err = ofperr_decode_msg(oh, &payload);
    char *what = payload.size >= sizeof(struct ofp_header)
                     ? ofp_to_string(payload.data, payload.size, NULL, NULL, 1)
                     : xstrdup("(no message)");
    RL_WARN("%s: bundle message failed: %s: %s",
            ofchan_name(ft->chan),
            err ? ofperr_to_string(err) : "undecodable error", what);
    free(what);
    ofpbuf_uninit(&payload);
    return true;
}

bool
flowtab_is_synced(const struct flowtab *ft)
{
    return (ft->known && ft->phase == FT_IDLE && ovs_list_is_empty(&ft->dirty)
            && ft->installed_generation == ft->desired_generation);
}

/* The API's forms (docs/api.md): "cookie=C,actions=A,table=T,priority=P,
 * MATCH" and "group_id=G,type=N,bucket=watch_port:P,watch_group:G,
 * actions=A,...", as vmacd has always shown them. */
static char *
flow_line(const struct fs_flow *f, uint64_t cookie)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "cookie=%#" PRIx64 ",actions=", cookie);
    fs_actions_format(f->acts, &s);
    ds_put_format(&s, ",table=%" PRIu8 ",priority=%" PRIu16, f->table_id,
                  f->priority);
    struct match match;
    fs_flow_get_match(f, &match);
    size_t mark = s.length;
    ds_put_char(&s, ',');
    match_format(&match, NULL, &s, OFP_DEFAULT_PRIORITY);
    if (s.length == mark + 1) {
        ds_truncate(&s, mark);
    }
    return ds_steal_cstr(&s);
}

static char *
group_line(const struct fs_group *g)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "group_id=%" PRIu32 ",type=%" PRIu8, g->group_id,
                  g->type);
    for (size_t i = 0; i < g->n_buckets; i++) {
        const struct fs_bucket *b = &g->buckets[i];
        ds_put_format(&s, ",bucket=watch_port:%" PRIu32 ",watch_group:%" PRIu32,
                      (b->watch_port == OFPP_ANY
                           ? UINT32_MAX
                           : (uint32_t) ofp_to_u16(b->watch_port)),
                      b->watch_group);
        if (g->type == OFPGT11_SELECT) {
            ds_put_format(&s, ",weight:%" PRIu16, b->weight);
        }
        ds_put_cstr(&s, ",actions=");
        fs_actions_format(b->acts, &s);
    }
    return ds_steal_cstr(&s);
}

json_t *
flowtab_to_json(const struct flowtab *ft)
{
    struct svec flows = SVEC_EMPTY_INITIALIZER;
    struct svec groups = SVEC_EMPTY_INITIALIZER;

    const struct ft_slot *s;
    HMAP_FOR_EACH (s, node, &ft->slots) {
        const struct fs_part *p = ft->known ? s->installed : NULL;
        for (size_t i = 0; i < fs_part_n_flows(p); i++) {
            svec_add_nocopy(&flows,
                            flow_line(fs_part_flow(p, i),
                                      flowgen_cookie(ft->cookie_prefix,
                                                     s->id)));
        }
        if (fs_part_group(p)) {
            svec_add_nocopy(&groups, group_line(fs_part_group(p)));
        }
    }
    svec_sort(&flows);
    svec_sort(&groups);

    json_t *o = json_object();
    json_object_set_new(o, "synced", json_boolean(flowtab_is_synced(ft)));
    json_t *fa = json_array(), *ga = json_array();
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, &flows) {
        json_array_append_new(fa, json_string(line));
    }
    SVEC_FOR_EACH (i, line, &groups) {
        json_array_append_new(ga, json_string(line));
    }
    json_object_set_new(o, "flows", fa);
    json_object_set_new(o, "groups", ga);
    svec_destroy(&flows);
    svec_destroy(&groups);
    return o;
}

void
flowtab_get_stats(const struct flowtab *ft, struct flowtab_stats *st)
{
    *st = ft->stats;
    st->n_flows = ft->known ? ft->n_flows : 0;
    st->n_groups = ft->known ? ft->n_groups : 0;
}
