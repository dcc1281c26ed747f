/*
 * flowtab: desired vs installed flows and groups on one switch (see
 * flowtab.h).
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

/* One flow or group, in canonical text. */
struct ft_entry {
    struct hmap_node node;      /* By hash of 'key'. */
    char *key;                  /* Flows: "table=T,priority=P,MATCH";
                                 * groups: "group_id=N". */
    char *value;                /* Flows: "cookie=0x..,actions=..."; groups:
                                 * type and buckets. */
    char *line;                 /* Desired only: the ovs-ofctl text. */
};

/* A set of flows and groups; shared (refcounted) between "desired",
 * "in flight" and "installed". */
struct ft_state {
    int refcnt;
    struct hmap flows;
    struct hmap groups;
    uint64_t generation;
};

enum ft_phase {
    FT_READING,
    FT_IDLE,
    FT_BUNDLE,
    FT_BACKOFF,
};

/* A message of the bundle in flight, for error reports. */
struct ft_sent {
    struct hmap_node node;      /* By xid. */
    ovs_be32 xid;
    const char *what;           /* Points into the in-flight state. */
};

struct flowtab {
    struct ev_loop *loop;
    struct ofchan *chan;
    uint64_t cookie, cookie_mask;
    flowtab_applied_func *applied;
    flowtab_read_func *read_done;
    void *aux;

    enum ft_phase phase;
    struct ft_state *desired;
    struct ft_state *installed;     /* NULL while unknown. */
    struct ft_state *inflight;      /* Being applied by the bundle. */

    /* READING. */
    struct ft_state *reading;
    struct hmap read_groups;        /* All groups seen, filtered later. */
    struct hmap referenced;         /* struct ft_entry keyed "group_id=N". */
    int reads_pending;

    /* BUNDLE. */
    uint32_t bundle_id;
    bool open_ok, commit_ok, commit_done;
    struct hmap sent;               /* struct ft_sent. */
    struct flowtab_result result;

    ev_timer kick;                  /* Runs the diff from the loop. */
    ev_timer backoff;
    double backoff_s;

    struct flowtab_stats stats;
};

/* States. */

static struct ft_state *
state_create(uint64_t generation)
{
    struct ft_state *s = xzalloc(sizeof *s);
    s->refcnt = 1;
    hmap_init(&s->flows);
    hmap_init(&s->groups);
    s->generation = generation;
    return s;
}

static void
entries_clear(struct hmap *map)
{
    struct ft_entry *e;
    HMAP_FOR_EACH_POP (e, node, map) {
        free(e->key);
        free(e->value);
        free(e->line);
        free(e);
    }
}

static struct ft_state *
state_ref(struct ft_state *s)
{
    if (s) {
        s->refcnt++;
    }
    return s;
}

static void
state_unref(struct ft_state *s)
{
    if (s && --s->refcnt == 0) {
        entries_clear(&s->flows);
        entries_clear(&s->groups);
        hmap_destroy(&s->flows);
        hmap_destroy(&s->groups);
        free(s);
    }
}

static struct ft_entry *
entry_find(const struct hmap *map, const char *key)
{
    struct ft_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_string(key, 0), map) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

/* Inserts (key, value, line), taking ownership of the strings.  Returns
 * false (and frees them) if 'key' is already there. */
static bool
entry_insert(struct hmap *map, char *key, char *value, char *line)
{
    if (entry_find(map, key)) {
        free(key);
        free(value);
        free(line);
        return false;
    }
    struct ft_entry *e = xmalloc(sizeof *e);
    e->key = key;
    e->value = value;
    e->line = line;
    hmap_insert(map, &e->node, hash_string(key, 0));
    return true;
}

/* Canonical forms. */

static char *
flow_key(uint8_t table_id, int priority, const struct match *match)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "table=%"PRIu8",priority=%d", table_id, priority);
    struct ds m = DS_EMPTY_INITIALIZER;
    match_format(match, NULL, &m, OFP_DEFAULT_PRIORITY);
    if (m.length) {
        ds_put_format(&s, ",%s", ds_cstr(&m));
    }
    ds_destroy(&m);
    return ds_steal_cstr(&s);
}

static char *
flow_value(ovs_be64 cookie, const struct ofpact *ofpacts, size_t len)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "cookie=%#"PRIx64",actions=", ntohll(cookie));
    struct ofpact_format_params fp = { .s = &s };
    if (len) {
        ofpacts_format(ofpacts, len, &fp);
    } else {
        ds_put_cstr(&s, "drop");
    }
    return ds_steal_cstr(&s);
}

static char *
group_value(uint8_t type, const struct ovs_list *buckets)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ofputil_bucket *b;

    ds_put_format(&s, "type=%"PRIu8, type);
    LIST_FOR_EACH (b, list_node, buckets) {
        ds_put_format(&s, ",bucket=watch_port:%"PRIu32",watch_group:%"PRIu32,
                      b->watch_port == OFPP_ANY
                      ? UINT32_MAX : (OVS_FORCE uint32_t) b->watch_port,
                      b->watch_group);
        if (type == OFPGT11_SELECT) {
            ds_put_format(&s, ",weight:%"PRIu16, b->weight);
        }
        ds_put_cstr(&s, ",actions=");
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
    }
    return ds_steal_cstr(&s);
}

/* Parses flow 'line', encodes it for 'protocol' and decodes it back, and
 * returns its canonical key and value.  Returns NULL or an error. */
static char *
canon_flow(const char *line, enum ofputil_protocol protocol, char **keyp,
           char **valuep)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, line, NULL, NULL, OFPFC_ADD,
                                         &usable);
    if (error) {
        char *msg = xasprintf("flow \"%s\": %s", line, error);
        free(error);
        return msg;
    }
    struct ofpbuf *msg = NULL;
    if (usable & protocol) {
        msg = ofputil_encode_flow_mod(&fm, protocol);
    }
    minimatch_destroy(&fm.match);
    free(fm.ofpacts);
    if (!msg) {
        return xasprintf("flow \"%s\" cannot be expressed in %s", line,
                         ofputil_protocol_to_string(protocol));
    }

    struct ofputil_flow_mod fm2;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts = OFPBUF_STUB_INITIALIZER(stub);
    enum ofperr err = ofputil_decode_flow_mod(&fm2, msg->data, protocol,
                                              NULL, NULL, &ofpacts, OFPP_MAX,
                                              255);
    ofpbuf_delete(msg);
    if (err) {
        ofpbuf_uninit(&ofpacts);
        return xasprintf("flow \"%s\" does not decode: %s", line,
                         ofperr_to_string(err));
    }
    struct match match;
    minimatch_expand(&fm2.match, &match);
    *keyp = flow_key(fm2.table_id, fm2.priority, &match);
    *valuep = flow_value(fm2.new_cookie, fm2.ofpacts, fm2.ofpacts_len);
    minimatch_destroy(&fm2.match);
    ofpbuf_uninit(&ofpacts);
    return NULL;
}

static char *
canon_group(const char *line, enum ofp_version version, char **keyp,
            char **valuep)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, line, NULL, NULL,
                                          &usable);
    if (error) {
        char *msg = xasprintf("group \"%s\": %s", line, error);
        free(error);
        return msg;
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
    ofputil_uninit_group_mod(&gm);

    struct ofputil_group_mod gm2;
    enum ofperr err = ofputil_decode_group_mod(msg->data, &gm2);
    ofpbuf_delete(msg);
    if (err) {
        return xasprintf("group \"%s\" does not decode: %s", line,
                         ofperr_to_string(err));
    }
    *keyp = xasprintf("group_id=%"PRIu32, gm2.group_id);
    *valuep = group_value(gm2.type, &gm2.buckets);
    ofputil_uninit_group_mod(&gm2);
    return NULL;
}

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
    ft->desired = state_create(0);
    hmap_init(&ft->read_groups);
    hmap_init(&ft->referenced);
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
    state_unref(ft->reading);
    ft->reading = NULL;
    entries_clear(&ft->read_groups);
    entries_clear(&ft->referenced);
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
    hmap_destroy(&ft->read_groups);
    hmap_destroy(&ft->referenced);
    sent_clear(ft);
    hmap_destroy(&ft->sent);
    state_unref(ft->desired);
    state_unref(ft->installed);
    state_unref(ft->inflight);
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
    state_unref(ft->inflight);
    ft->inflight = NULL;
    state_unref(ft->installed);
    ft->installed = NULL;
    ft->phase = FT_BACKOFF;
    ev_timer_stop(ft->loop, &ft->kick);
    ev_timer_set(&ft->backoff, ft->backoff_s, 0.);
    ev_timer_start(ft->loop, &ft->backoff);
    ft->backoff_s = MIN(ft->backoff_s * 2, BACKOFF_MAX);

    struct flowtab_result r = { .ok = false };
    ft->applied(ft, &r, ft->aux);
}

static void
ft_flows_reply(struct ofchan *chan OVS_UNUSED, const struct ofp_header *oh,
               enum ofptype type, int error OVS_UNUSED, bool final,
               void *ft_)
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
        int retval = ofputil_decode_flow_stats_reply(&fs, &b, false,
                                                     &ofpacts);
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
                entry_insert(&ft->referenced,
                             xasprintf("group_id=%"PRIu32, id),
                             xstrdup(""), NULL);
            }
        }
        entry_insert(&ft->reading->flows,
                     flow_key(fs.table_id, fs.priority, &fs.match),
                     flow_value(fs.cookie, fs.ofpacts, fs.ofpacts_len),
                     NULL);
    }
    ofpbuf_uninit(&ofpacts);
    if (final && --ft->reads_pending == 0) {
        ft_read_done(ft);
    }
}

static void
ft_groups_reply(struct ofchan *chan, const struct ofp_header *oh,
                enum ofptype type, int error OVS_UNUSED, bool final,
                void *ft_)
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
        int retval = ofputil_decode_group_desc_reply(&gd, &b,
                                                     ofchan_version(chan));
        if (retval == EOF) {
            break;
        } else if (retval) {
            VLOG_WARN_RL(&rl, "%s: undecodable group desc reply: %s",
                         ofchan_name(ft->chan), ofperr_to_string(retval));
            ofchan_close(ft->chan, "bad group desc reply");
            return;
        }
        entry_insert(&ft->read_groups,
                     xasprintf("group_id=%"PRIu32, gd.group_id),
                     group_value(gd.type, &gd.buckets), NULL);
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
    ft->reading = state_create(UINT64_MAX);

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
    /* Our groups: those our flows use, and those we want. */
    struct ft_entry *e;
    HMAP_FOR_EACH (e, node, &ft->read_groups) {
        if (entry_find(&ft->referenced, e->key)
            || entry_find(&ft->desired->groups, e->key)) {
            entry_insert(&ft->reading->groups, xstrdup(e->key),
                         xstrdup(e->value), NULL);
        }
    }
    state_unref(ft->installed);
    ft->installed = ft->reading;
    ft->reading = NULL;
    reading_clear(ft);
    VLOG_INFO("%s: read %zu installed flows and %zu groups",
              ofchan_name(ft->chan), hmap_count(&ft->installed->flows),
              hmap_count(&ft->installed->groups));
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
    if (!ft->installed) {
        return false;
    }
    char *key = xasprintf("group_id=%"PRIu32, group_id);
    const struct ft_entry *e = entry_find(&ft->installed->groups, key);
    free(key);

    const char *b = e ? strstr(e->value, ",bucket=watch_port:") : NULL;
    return b && sscanf(b, ",bucket=watch_port:%"SCNu32, port) == 1;
}

static void
ft_backoff_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
              int revents OVS_UNUSED)
{
    flowtab_start(CONTAINER_OF(w, struct flowtab, backoff));
}

/* Desired state. */

char *
flowtab_set_desired(struct flowtab *ft, const struct svec *flows,
                    const struct svec *groups, uint64_t generation)
{
    enum ofputil_protocol protocol = ofchan_protocol(ft->chan);
    enum ofp_version version = ofchan_version(ft->chan);
    struct ft_state *s = state_create(generation);
    const char *line;
    size_t i;

    SVEC_FOR_EACH (i, line, flows) {
        char *key = NULL, *value = NULL;
        char *error = canon_flow(line, protocol, &key, &value);
        if (error) {
            state_unref(s);
            return error;
        }
        if (!entry_insert(&s->flows, key, value, xstrdup(line))) {
            VLOG_WARN_RL(&rl, "duplicate desired flow ignored: %s", line);
        }
    }
    SVEC_FOR_EACH (i, line, groups) {
        char *key = NULL, *value = NULL;
        char *error = canon_group(line, version, &key, &value);
        if (error) {
            state_unref(s);
            return error;
        }
        if (!entry_insert(&s->groups, key, value, xstrdup(line))) {
            VLOG_WARN_RL(&rl, "duplicate desired group ignored: %s", line);
        }
    }
    state_unref(ft->desired);
    ft->desired = s;
    ft_schedule_kick(ft);
    return NULL;
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
    hmap_insert(&ft->sent, &s->node, hash_int((OVS_FORCE uint32_t) s->xid,
                                              0));
    struct ofpbuf *msg = ofputil_encode_bundle_add(ofchan_version(ft->chan),
                                                   &bam);
    ofpbuf_delete(inner);
    return !ofchan_send(ft->chan, msg);
}

static struct ofpbuf *
encode_flow_line(const char *line, int command,
                 enum ofputil_protocol protocol)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error = parse_ofp_flow_mod_str(&fm, line, NULL, NULL, command,
                                         &usable);
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
    char *error = parse_ofp_group_mod_str(&gm, command, line, NULL, NULL,
                                          &usable);
    if (error) {
        VLOG_ERR("cannot re-encode \"%s\": %s", line, error);
        free(error);
        return NULL;
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
    ofputil_uninit_group_mod(&gm);
    return msg;
}

static bool
ft_send(struct flowtab *ft, struct ofpbuf *inner, const char *what)
{
    return inner && ft_add_to_bundle(ft, inner, what);
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
    struct ofpbuf *msg = ofputil_encode_bundle_ctrl_request(
        ofchan_version(ft->chan), &bc);
    return !ofchan_request(ft->chan, msg, ft_bundle_ctrl_reply, ft,
                           REQUEST_TIMEOUT_MS);
}

/* Computes the difference between installed and desired and sends it.
 * Returns the number of messages, or -1 if the channel failed. */
static int
ft_send_diff(struct flowtab *ft)
{
    enum ofputil_protocol p = ofchan_protocol(ft->chan);
    enum ofp_version v = ofchan_version(ft->chan);
    struct ft_state *want = ft->inflight;
    struct ft_state *have = ft->installed;
    struct flowtab_result *r = &ft->result;
    const struct ft_entry *e, *old;
    int n = 0;

    /* Groups that are new or changed, first: flows may point to them. */
    HMAP_FOR_EACH (e, node, &want->groups) {
        old = entry_find(&have->groups, e->key);
        if (!old || strcmp(old->value, e->value)) {
            if (!ft_send(ft, encode_group_line(e->line, old ? OFPGC11_MODIFY
                                                            : OFPGC11_ADD, v),
                         e->line)) {
                return -1;
            }
            r->n_group_mods++;
            n++;
        }
    }
    /* Stale flows. */
    HMAP_FOR_EACH (e, node, &have->flows) {
        if (!entry_find(&want->flows, e->key)) {
            if (!ft_send(ft, encode_flow_line(e->key, OFPFC_DELETE_STRICT, p),
                         e->key)) {
                return -1;
            }
            r->n_delete++;
            n++;
        }
    }
    /* New and changed flows. */
    HMAP_FOR_EACH (e, node, &want->flows) {
        old = entry_find(&have->flows, e->key);
        if (!old) {
            if (!ft_send(ft, encode_flow_line(e->line, OFPFC_ADD, p),
                         e->line)) {
                return -1;
            }
            r->n_add++;
            n++;
        } else if (strcmp(old->value, e->value)) {
            if (!ft_send(ft, encode_flow_line(e->line, OFPFC_MODIFY_STRICT,
                                              p), e->line)) {
                return -1;
            }
            r->n_modify++;
            n++;
        }
    }
    /* Stale groups, last. */
    HMAP_FOR_EACH (e, node, &have->groups) {
        if (!entry_find(&want->groups, e->key)) {
            if (!ft_send(ft, encode_group_line(e->key, OFPGC11_DELETE, v),
                         e->key)) {
                return -1;
            }
            r->n_group_mods++;
            n++;
        }
    }
    return n;
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
    ft->inflight = state_ref(ft->desired);
    ft->bundle_id++;
    ft->open_ok = ft->commit_ok = ft->commit_done = false;

    /* Nothing to send: the desired state is installed already. */
    bool empty = true;
    const struct ft_entry *e, *old;
    HMAP_FOR_EACH (e, node, &ft->inflight->flows) {
        old = entry_find(&ft->installed->flows, e->key);
        if (!old || strcmp(old->value, e->value)) {
            empty = false;
            break;
        }
    }
    if (empty) {
        HMAP_FOR_EACH (e, node, &ft->inflight->groups) {
            old = entry_find(&ft->installed->groups, e->key);
            if (!old || strcmp(old->value, e->value)) {
                empty = false;
                break;
            }
        }
    }
    if (empty
        && hmap_count(&ft->installed->flows)
           == hmap_count(&ft->inflight->flows)
        && hmap_count(&ft->installed->groups)
           == hmap_count(&ft->inflight->groups)) {
        state_unref(ft->installed);
        ft->installed = ft->inflight;
        ft->inflight = NULL;
        ft->result.ok = true;
        ft->applied(ft, &ft->result, ft->aux);
        return;
    }

    ft->phase = FT_BUNDLE;
    ft->stats.bundles++;
    if (!ft_bundle_ctrl(ft, OFPBCT_OPEN_REQUEST)) {
        return;
    }
    int n = ft_send_diff(ft);
    if (n < 0) {
        return;
    }
    ft->stats.flow_mods += ft->result.n_add + ft->result.n_modify
                           + ft->result.n_delete;
    ft->stats.group_mods += ft->result.n_group_mods;
    if (!ft_bundle_ctrl(ft, OFPBCT_COMMIT_REQUEST)) {
        return;
    }
    ofchan_request(ft->chan,
                   ofputil_encode_barrier_request(ofchan_version(ft->chan)),
                   ft_barrier_reply, ft, REQUEST_TIMEOUT_MS);
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
        log_error_reply(ft, oh, ft->open_ok ? "bundle commit"
                                            : "bundle open");
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
    state_unref(ft->installed);
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
    HMAP_FOR_EACH_WITH_HASH (s, node, hash_int((OVS_FORCE uint32_t) oh->xid,
                                               0), &ft->sent) {
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

static json_t *
entries_to_json(const struct hmap *map, bool groups)
{
    struct svec lines = SVEC_EMPTY_INITIALIZER;
    const struct ft_entry *e;
    HMAP_FOR_EACH (e, node, map) {
        svec_add_nocopy(&lines, groups
                                ? xasprintf("%s,%s", e->key, e->value)
                                : xasprintf("%s,%s", e->value, e->key));
    }
    qsort(lines.names, lines.n, sizeof *lines.names, compare_strings);
    json_t *a = json_array();
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, &lines) {
        json_array_append_new(a, json_string(line));
    }
    svec_destroy(&lines);
    return a;
}

json_t *
flowtab_to_json(const struct flowtab *ft)
{
    json_t *o = json_object();
    json_object_set_new(o, "synced", json_boolean(flowtab_is_synced(ft)));
    if (ft->installed) {
        json_object_set_new(o, "flows",
                            entries_to_json(&ft->installed->flows, false));
        json_object_set_new(o, "groups",
                            entries_to_json(&ft->installed->groups, true));
    } else {
        json_object_set_new(o, "flows", json_array());
        json_object_set_new(o, "groups", json_array());
    }
    return o;
}

void
flowtab_get_stats(const struct flowtab *ft, struct flowtab_stats *s)
{
    *s = ft->stats;
    s->n_flows = ft->installed ? hmap_count(&ft->installed->flows) : 0;
    s->n_groups = ft->installed ? hmap_count(&ft->installed->groups) : 0;
}
