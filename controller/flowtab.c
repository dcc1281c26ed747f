/*
 * flowtab: desired vs installed flows and groups on one switch (see
 * flowtab.h).  The sets themselves, their parts and canonical forms are in
 * ftstate.
 *
 * States:
 *   READING   flow and group dumps requested; installed state unknown.
 *   IDLE      installed state known; a kick timer diffs desired against it.
 *   BUNDLE    a bundle (open, adds, commit) and a barrier are in flight.
 *   BACKOFF   the last bundle failed; re-read the switch when the timer
 *             fires.
 */
#include "flowtab.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ftstate.h"
#include "ofchan.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "hash.h"
#include "svec.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(flowtab);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define REQUEST_TIMEOUT_MS 30000
#define BACKOFF_MIN 0.5
#define BACKOFF_MAX 30.0

enum ft_phase {
    FT_READING,
    FT_IDLE,
    FT_BUNDLE,
    FT_BACKOFF,
};

/* A message of the bundle in flight, for error reports. */
struct ft_sent {
    struct hmap_node node; /* By xid. */
    ovs_be32 xid;
    const char *what; /* Points into the in-flight state. */
};

struct flowtab {
    struct ev_loop *loop;
    struct ofchan *chan;
    uint64_t cookie, cookie_mask;
    flowtab_applied_func *applied;
    flowtab_read_func *read_done;
    void *aux;

    enum ft_phase phase;
    struct ft_state *desired;   /* Copied on write when shared. */
    struct ft_state *installed; /* NULL while unknown. */
    struct ft_state *inflight;  /* Being applied by the bundle. */

    /* READING. */
    struct ft_state *reading;
    struct ft_part *read_groups; /* Every group seen (filtered later). */
    struct ft_part *referenced;  /* Groups our flows use (as keys). */
    int reads_pending;

    /* BUNDLE. */
    uint32_t bundle_id;
    bool open_ok, commit_ok, commit_done;
    struct hmap sent; /* struct ft_sent. */
    struct flowtab_result result;

    ev_timer kick; /* Runs the diff from the loop. */
    ev_timer backoff;
    double backoff_s;

    struct flowtab_stats stats;
};

/* Lifecycle. */

static void ft_kick_cb(struct ev_loop *, ev_timer *, int revents);
static void ft_backoff_cb(struct ev_loop *, ev_timer *, int revents);

struct flowtab *
flowtab_create(struct ev_loop *loop, struct ofchan *chan, uint64_t cookie,
               uint64_t cookie_mask, flowtab_applied_func *applied, void *aux)
{
    struct flowtab *ft = xzalloc(sizeof *ft);
    ft->loop = loop;
    ft->chan = chan;
    ft->cookie = cookie;
    ft->cookie_mask = cookie_mask;
    ft->applied = applied;
    ft->aux = aux;
    ft->phase = FT_READING;
    ft->desired = ftstate_create(0);
    hmap_init(&ft->sent);
    ev_timer_init(&ft->kick, ft_kick_cb, 0., 0.);
    ev_timer_init(&ft->backoff, ft_backoff_cb, 0., 0.);
    ft->backoff_s = BACKOFF_MIN;
    return ft;
}

static void
sent_clear(struct flowtab *ft)
{
    struct ft_sent *s;
    HMAP_FOR_EACH_POP (s, node, &ft->sent) {
        free(s);
    }
}

static void
reading_clear(struct flowtab *ft)
{
    ftstate_unref(ft->reading);
    ft->reading = NULL;
    ftpart_unref(ft->read_groups);
    ft->read_groups = NULL;
    ftpart_unref(ft->referenced);
    ft->referenced = NULL;
    ft->reads_pending = 0;
}

void
flowtab_destroy(struct flowtab *ft)
{
    if (!ft) {
        return;
    }
    ofchan_forget_requests(ft->chan, ft);
    ev_timer_stop(ft->loop, &ft->kick);
    ev_timer_stop(ft->loop, &ft->backoff);
    reading_clear(ft);
    sent_clear(ft);
    hmap_destroy(&ft->sent);
    ftstate_unref(ft->desired);
    ftstate_unref(ft->installed);
    ftstate_unref(ft->inflight);
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

/* Reading the switch. */

static void ft_read_done(struct flowtab *);

static void
ft_fail(struct flowtab *ft, const char *why)
{
    VLOG_WARN_RL(&rl, "%s: %s; re-reading the switch in %.1f s",
                 ofchan_name(ft->chan), why, ft->backoff_s);
    ft->stats.failures++;
    reading_clear(ft);
    sent_clear(ft);
    ftstate_unref(ft->inflight);
    ft->inflight = NULL;
    ftstate_unref(ft->installed);
    ft->installed = NULL;
    ft->phase = FT_BACKOFF;
    ev_timer_stop(ft->loop, &ft->kick);
    ev_timer_set(&ft->backoff, ft->backoff_s, 0.);
    ev_timer_start(ft->loop, &ft->backoff);
    ft->backoff_s = MIN(ft->backoff_s * 2, BACKOFF_MAX);

    struct flowtab_result r = { .ok = false };
    ft->applied(ft, &r, ft->aux);
}

/* The part of 's' for 'id', created if needed (reading states only: their
 * parts are not shared). */
static struct ft_part *
reading_part(struct ft_state *s, uint32_t id)
{
    struct ft_part *p = ftstate_get(s, id);
    if (!p) {
        p = ftpart_create(id);
        ftstate_put(s, p);
    }
    return p;
}

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
            VLOG_WARN_RL(&rl, "%s: undecodable flow stats reply: %s",
                         ofchan_name(ft->chan), ofperr_to_string(retval));
            ofchan_close(ft->chan, "bad flow stats reply");
            return;
        }
        const struct ofpact *a;
        OFPACT_FOR_EACH (a, fs.ofpacts, fs.ofpacts_len) {
            if (a->type == OFPACT_GROUP) {
                uint32_t id = ofpact_get_GROUP(a)->group_id;
                ftpart_add_group(ft->referenced, ftcanon_group_key(id),
                                 xstrdup(""), NULL);
            }
        }
        /* The low half of the cookie names the owner (part). */
        uint32_t part = ntohll(fs.cookie) & UINT32_MAX;
        ftpart_add_flow(
            reading_part(ft->reading, part),
            ftcanon_flow_key(fs.table_id, fs.priority, &fs.match),
            ftcanon_flow_value(fs.cookie, fs.ofpacts, fs.ofpacts_len), NULL);
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
            VLOG_WARN_RL(&rl, "%s: undecodable group desc reply: %s",
                         ofchan_name(ft->chan), ofperr_to_string(retval));
            ofchan_close(ft->chan, "bad group desc reply");
            return;
        }
        /* Remember the id in the line slot of the entry. */
        ftpart_add_group(ft->read_groups, ftcanon_group_key(gd.group_id),
                         ftcanon_group_value(gd.type, &gd.buckets),
                         xasprintf("%" PRIu32, gd.group_id));
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
    /* A generation no desired state has: never "synced" by accident. */
    ft->reading = ftstate_create(UINT64_MAX);
    ft->read_groups = ftpart_create(0);
    ft->referenced = ftpart_create(0);

    struct ofputil_flow_stats_request fsr = {
        .aggregate = false,
        .cookie = htonll(ft->cookie),
        .cookie_mask = htonll(ft->cookie_mask),
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
    /* Our groups: those our flows use, and those we want (each in part
     * group_id | FLOWTAB_GROUP_PART). */
    struct ft_entry *e;
    HMAP_FOR_EACH (e, node, &ft->read_groups->groups) {
        uint32_t id = strtoul(e->line, NULL, 10) | FLOWTAB_GROUP_PART;
        if (ftpart_find(&ft->referenced->groups, e->key)
            || ftstate_get(ft->desired, id)) {
            ftpart_add_group(reading_part(ft->reading, id), xstrdup(e->key),
                             xstrdup(e->value), NULL);
        }
    }
    ftstate_unref(ft->installed);
    ft->installed = ft->reading;
    ft->reading = NULL;
    reading_clear(ft);
    VLOG_INFO("%s: read %zu installed flows and %zu groups",
              ofchan_name(ft->chan), ftstate_n_flows(ft->installed),
              ftstate_n_groups(ft->installed));
    ft->phase = FT_IDLE;
    if (ft->read_done) {
        ft->read_done(ft, ft->aux);
    }
    ft_schedule_kick(ft);
}

void
flowtab_set_read_callback(struct flowtab *ft, flowtab_read_func *cb)
{
    ft->read_done = cb;
}

bool
flowtab_group_first_port(const struct flowtab *ft, uint32_t group_id,
                         uint32_t *port)
{
    const struct ft_part *p
        = ft->installed
              ? ftstate_get(ft->installed, group_id | FLOWTAB_GROUP_PART)
              : NULL;
    if (!p) {
        return false;
    }
    char *key = ftcanon_group_key(group_id);
    const struct ft_entry *e = ftpart_find(&p->groups, key);
    free(key);

    const char *b = e ? strstr(e->value, ",bucket=watch_port:") : NULL;
    return b && sscanf(b, ",bucket=watch_port:%" SCNu32, port) == 1;
}

static void
ft_backoff_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
              int revents OVS_UNUSED)
{
    flowtab_start(CONTAINER_OF(w, struct flowtab, backoff));
}

/* Desired state. */

/* Makes 'ft->desired' ours alone (copy on write). */
static void
desired_own(struct flowtab *ft)
{
    if (ft->desired->refcnt > 1) {
        struct ft_state *s
            = ftstate_clone(ft->desired, ft->desired->generation);
        ftstate_unref(ft->desired);
        ft->desired = s;
    }
}

char *
flowtab_set_part(struct flowtab *ft, uint32_t id, const struct svec *flows,
                 const struct svec *groups)
{
    struct ft_part *prev = ftstate_get(ft->desired, id);

    if (!flows->n && !groups->n) {
        if (prev) {
            desired_own(ft);
            ftstate_remove(ft->desired, id);
        }
        return NULL;
    }

    struct ft_part *part;
    char *error = ftpart_build(id, flows, groups, prev,
                               ofchan_protocol(ft->chan), &part);
    if (error) {
        return error;
    }
    if (part == prev) {
        ftpart_unref(part);
        return NULL;
    }
    desired_own(ft);
    ftstate_put(ft->desired, part);
    return NULL;
}

void
flowtab_keep_parts(struct flowtab *ft, bool (*keep)(uint32_t id, void *aux),
                   void *aux)
{
    struct ft_slot *slot, *next;
    HMAP_FOR_EACH_SAFE (slot, next, node, &ft->desired->slots) {
        if (!keep(slot->part->id, aux)) {
            desired_own(ft);
            break;
        }
    }
    HMAP_FOR_EACH_SAFE (slot, next, node, &ft->desired->slots) {
        if (!keep(slot->part->id, aux)) {
            ftstate_remove(ft->desired, slot->part->id);
        }
    }
}

void
flowtab_commit(struct flowtab *ft, uint64_t generation)
{
    desired_own(ft);
    ft->desired->generation = generation;
    ft_schedule_kick(ft);
}

/* The bundle. */

static bool
ft_add_to_bundle(struct flowtab *ft, struct ofpbuf *inner, const char *what)
{
    const struct ofp_header *oh = inner->data;
    struct ofputil_bundle_add_msg bam = {
        .bundle_id = ft->bundle_id,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
        .msg = oh,
    };
    struct ft_sent *s = xmalloc(sizeof *s);
    s->xid = oh->xid;
    s->what = what;
    hmap_insert(&ft->sent, &s->node, hash_int((OVS_FORCE uint32_t) s->xid, 0));
    struct ofpbuf *msg
        = ofputil_encode_bundle_add(ofchan_version(ft->chan), &bam);
    ofpbuf_delete(inner);
    return !ofchan_send(ft->chan, msg);
}

static struct ofpbuf *
encode_flow_line(const char *line, int command, enum ofputil_protocol protocol)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error
        = parse_ofp_flow_mod_str(&fm, line, NULL, NULL, command, &usable);
    if (error) {
        /* Lines were parsed before; only a bug gets here. */
        VLOG_ERR("cannot re-encode \"%s\": %s", line, error);
        free(error);
        return NULL;
    }
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, protocol);
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    return msg;
}

static struct ofpbuf *
encode_group_line(const char *line, int command, enum ofp_version version)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error
        = parse_ofp_group_mod_str(&gm, command, line, NULL, NULL, &usable);
    if (error) {
        VLOG_ERR("cannot re-encode \"%s\": %s", line, error);
        free(error);
        return NULL;
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
    ofputil_uninit_group_mod(&gm);
    return msg;
}

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
    return !ofchan_request(ft->chan, msg, ft_bundle_ctrl_reply, ft,
                           REQUEST_TIMEOUT_MS);
}

/* A part as it is wanted and as it is installed, when they differ. */
struct ft_pair {
    const struct ft_part *want, *have;
};

/* One message of the difference, before it goes into the bundle. */
struct ft_msg {
    struct ovs_list node;
    struct ofpbuf *inner; /* A flow mod or group mod. */
    const char *what;     /* Its text, for error reports. */
};

static void
ft_msg_add(struct ovs_list *msgs, struct ofpbuf *inner, const char *what)
{
    if (inner) {
        struct ft_msg *m = xmalloc(sizeof *m);
        m->inner = inner;
        m->what = what;
        ovs_list_push_back(msgs, &m->node);
    }
}

/* Appends to 'msgs' the difference between the parts in 'pairs': groups
 * that are new or changed first (flows may point to them), then stale
 * flows, then new and changed flows, then stale groups.  Counts them in
 * ft->result. */
static void
ft_diff(struct flowtab *ft, const struct ft_pair *pairs, size_t n,
        struct ovs_list *msgs)
{
    enum ofputil_protocol p = ofchan_protocol(ft->chan);
    enum ofp_version v = ofchan_version(ft->chan);
    struct flowtab_result *r = &ft->result;
    const struct ft_entry *e, *old;

    for (size_t i = 0; i < n; i++) {
        const struct ft_part *want = pairs[i].want, *have = pairs[i].have;
        if (!want) {
            continue;
        }
        HMAP_FOR_EACH (e, node, &want->groups) {
            old = have ? ftpart_find(&have->groups, e->key) : NULL;
            if (!old || strcmp(old->value, e->value)) {
                ft_msg_add(msgs,
                           encode_group_line(
                               e->line, old ? OFPGC11_MODIFY : OFPGC11_ADD, v),
                           e->line);
                r->n_group_mods++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct ft_part *want = pairs[i].want, *have = pairs[i].have;
        if (!have) {
            continue;
        }
        HMAP_FOR_EACH (e, node, &have->flows) {
            if (!want || !ftpart_find(&want->flows, e->key)) {
                ft_msg_add(msgs,
                           encode_flow_line(e->key, OFPFC_DELETE_STRICT, p),
                           e->key);
                r->n_delete++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct ft_part *want = pairs[i].want, *have = pairs[i].have;
        if (!want) {
            continue;
        }
        HMAP_FOR_EACH (e, node, &want->flows) {
            old = have ? ftpart_find(&have->flows, e->key) : NULL;
            if (!old) {
                ft_msg_add(msgs, encode_flow_line(e->line, OFPFC_ADD, p),
                           e->line);
                r->n_add++;
            } else if (strcmp(old->value, e->value)) {
                ft_msg_add(msgs,
                           encode_flow_line(e->line, OFPFC_MODIFY_STRICT, p),
                           e->line);
                r->n_modify++;
            }
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct ft_part *want = pairs[i].want, *have = pairs[i].have;
        if (!have) {
            continue;
        }
        HMAP_FOR_EACH (e, node, &have->groups) {
            if (!want || !ftpart_find(&want->groups, e->key)) {
                ft_msg_add(msgs, encode_group_line(e->key, OFPGC11_DELETE, v),
                           e->key);
                r->n_group_mods++;
            }
        }
    }
}

/* Parts of 'want' and 'have' that differ (by identity: parts are shared
 * between states while unchanged).  Returns the count; '*pairsp' is
 * malloc'd. */
static size_t
ft_pairs(const struct ft_state *want, const struct ft_state *have,
         struct ft_pair **pairsp)
{
    size_t n = 0, allocated = 0;
    struct ft_pair *pairs = NULL;
    struct ft_slot *slot;

    FTSTATE_FOR_EACH_SLOT (slot, want) {
        const struct ft_part *h = ftstate_get(have, slot->part->id);
        if (h != slot->part) {
            if (n >= allocated) {
                pairs = x2nrealloc(pairs, &allocated, sizeof *pairs);
            }
            pairs[n++] = (struct ft_pair){ slot->part, h };
        }
    }
    FTSTATE_FOR_EACH_SLOT (slot, have) {
        if (!ftstate_get(want, slot->part->id)) {
            if (n >= allocated) {
                pairs = x2nrealloc(pairs, &allocated, sizeof *pairs);
            }
            pairs[n++] = (struct ft_pair){ NULL, slot->part };
        }
    }
    *pairsp = pairs;
    return n;
}

/* Sends 'msgs' (consumed) as one bundle, committed, then a barrier.  Returns
 * false if the channel failed. */
static bool
ft_send_bundle(struct flowtab *ft, struct ovs_list *msgs)
{
    bool ok = ft_bundle_ctrl(ft, OFPBCT_OPEN_REQUEST);
    struct ft_msg *m;
    LIST_FOR_EACH_POP (m, node, msgs) {
        if (ok) {
            ok = ft_add_to_bundle(ft, m->inner, m->what);
        } else {
            ofpbuf_delete(m->inner);
        }
        free(m);
    }
    return ok && ft_bundle_ctrl(ft, OFPBCT_COMMIT_REQUEST)
           && !ofchan_request(
               ft->chan,
               ofputil_encode_barrier_request(ofchan_version(ft->chan)),
               ft_barrier_reply, ft, REQUEST_TIMEOUT_MS);
}

static void
ft_kick_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
           int revents OVS_UNUSED)
{
    struct flowtab *ft = CONTAINER_OF(w, struct flowtab, kick);

    if (ft->phase != FT_IDLE || !ft->installed
        || ft->installed == ft->desired) {
        return;
    }

    memset(&ft->result, 0, sizeof ft->result);
    ft->result.generation = ft->desired->generation;
    ft->inflight = ftstate_ref(ft->desired);

    struct ft_pair *pairs;
    size_t n = ft_pairs(ft->inflight, ft->installed, &pairs);
    struct ovs_list msgs = OVS_LIST_INITIALIZER(&msgs);
    ft_diff(ft, pairs, n, &msgs);
    free(pairs);

    if (ovs_list_is_empty(&msgs)) {
        /* The desired state is installed already (parts that differed did
         * so in identity only). */
        ftstate_unref(ft->installed);
        ft->installed = ft->inflight;
        ft->inflight = NULL;
        ft->result.ok = true;
        ft->applied(ft, &ft->result, ft->aux);
        return;
    }

    ft->phase = FT_BUNDLE;
    ft->bundle_id++;
    ft->open_ok = ft->commit_ok = ft->commit_done = false;
    ft->stats.bundles++;
    ft->stats.flow_mods
        += ft->result.n_add + ft->result.n_modify + ft->result.n_delete;
    ft->stats.group_mods += ft->result.n_group_mods;
    ft_send_bundle(ft, &msgs);
}

static void
log_error_reply(struct flowtab *ft, const struct ofp_header *oh,
                const char *what)
{
    enum ofperr err = ofperr_decode_msg(oh, NULL);
    VLOG_WARN_RL(&rl, "%s: %s failed: %s", ofchan_name(ft->chan), what,
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
        if (ft->open_ok) {
            ft->commit_done = true;
        }
        return;
    }
    struct ofputil_bundle_ctrl_msg bc;
    if (type != OFPTYPE_BUNDLE_CONTROL || ofputil_decode_bundle_ctrl(oh, &bc)
        || bc.bundle_id != ft->bundle_id) {
        VLOG_WARN_RL(&rl, "%s: unexpected bundle control reply",
                     ofchan_name(ft->chan));
        return;
    }
    if (bc.type == OFPBCT_OPEN_REPLY) {
        ft->open_ok = true;
    } else if (bc.type == OFPBCT_COMMIT_REPLY) {
        ft->commit_ok = ft->commit_done = true;
    }
}

static void
ft_barrier_reply(struct ofchan *chan OVS_UNUSED, const struct ofp_header *oh,
                 enum ofptype type, int error OVS_UNUSED,
                 bool final OVS_UNUSED, void *ft_)
{
    struct flowtab *ft = ft_;

    sent_clear(ft);
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
    ftstate_unref(ft->installed);
    ft->installed = ft->inflight;
    ft->inflight = NULL;
    ft->phase = FT_IDLE;
    ft->result.ok = true;
    ft->applied(ft, &ft->result, ft->aux);
    if (ft->desired != ft->installed) {
        ft_schedule_kick(ft);
    }
}

bool
flowtab_handle_error(struct flowtab *ft, const struct ofp_header *oh)
{
    struct ft_sent *s;
    HMAP_FOR_EACH_WITH_HASH (
        s, node, hash_int((OVS_FORCE uint32_t) oh->xid, 0), &ft->sent) {
        if (s->xid == oh->xid) {
            log_error_reply(ft, oh, s->what);
            return true;
        }
    }
    return false;
}

bool
flowtab_is_synced(const struct flowtab *ft)
{
    return ft->installed && ft->phase == FT_IDLE
           && (ft->installed == ft->desired
               || ft->installed->generation == ft->desired->generation);
}

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_, *const *b = b_;
    return strcmp(*a, *b);
}

json_t *
flowtab_to_json(const struct flowtab *ft)
{
    struct svec flows = SVEC_EMPTY_INITIALIZER;
    struct svec groups = SVEC_EMPTY_INITIALIZER;

    if (ft->installed) {
        struct ft_slot *slot;
        FTSTATE_FOR_EACH_SLOT (slot, ft->installed) {
            const struct ft_entry *e;
            HMAP_FOR_EACH (e, node, &slot->part->flows) {
                svec_add_nocopy(&flows, xasprintf("%s,%s", e->value, e->key));
            }
            HMAP_FOR_EACH (e, node, &slot->part->groups) {
                svec_add_nocopy(&groups, xasprintf("%s,%s", e->key, e->value));
            }
        }
    }
    qsort(flows.names, flows.n, sizeof *flows.names, compare_strings);
    qsort(groups.names, groups.n, sizeof *groups.names, compare_strings);

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
flowtab_get_stats(const struct flowtab *ft, struct flowtab_stats *s)
{
    *s = ft->stats;
    s->n_flows = ft->installed ? ftstate_n_flows(ft->installed) : 0;
    s->n_groups = ft->installed ? ftstate_n_groups(ft->installed) : 0;
}
