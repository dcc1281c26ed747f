/*
 * flowset: binary flows and groups in immutable parts (see flowset.h).
 *
 * A part is one allocation: the part, the offsets of its flows (in the
 * order they were added), their indexes sorted by hash, and the flows
 * themselves (struct fs_flow, 8-aligned, each followed by its values).
 */
#include "flowset.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "hash.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofpbuf.h"
#include "util.h"

/* Interned masks and action lists. */

struct fs_mask {
    struct hmap_node node; /* In 'masks'. */
    int refcnt;
    size_t n_values;
    struct miniflow mf; /* Followed by its n_values values. */
};

/* An interned action list is found by its bytes as given (flowgen builds
 * the same bytes for the same actions) or else by its OpenFlow 1.5
 * encoding: actions decoded from a switch or parsed from text carry
 * whatever was in the padding of their values and masks, and
 * flow_has_vlan, none of which changes what they do.  The second key
 * makes them the same interned list. */
struct fs_actions {
    struct hmap_node raw_node;   /* In 'actions_raw', by 'data'. */
    struct hmap_node canon_node; /* In 'actions_canon', by 'canon'. */
    int refcnt;
    size_t len;
    uint8_t *canon; /* The OpenFlow 1.5 instructions. */
    size_t canon_len;
    uint64_t data[]; /* struct ofpact[], 'len' bytes. */
};

static struct hmap masks = HMAP_INITIALIZER(&masks);
static struct hmap actions_raw = HMAP_INITIALIZER(&actions_raw);
static struct hmap actions_canon = HMAP_INITIALIZER(&actions_canon);

static const struct fs_mask *
mask_intern(const struct flowmap *map, const uint64_t *values, size_t n)
{
    uint32_t hash = hash_bytes(values, n * sizeof *values,
                               hash_bytes(map, sizeof *map, 0));
    struct fs_mask *m;
    HMAP_FOR_EACH_WITH_HASH (m, node, hash, &masks) {
        if (m->n_values == n && flowmap_equal(m->mf.map, *map)
            && !memcmp(miniflow_get_values(&m->mf), values,
                       n * sizeof *values)) {
            m->refcnt++;
            return m;
        }
    }
    m = xmalloc(sizeof *m + n * sizeof *values);
    m->refcnt = 1;
    m->n_values = n;
    m->mf.map = *map;
    memcpy(miniflow_values(&m->mf), values, n * sizeof *values);
    hmap_insert(&masks, &m->node, hash);
    return m;
}

static void
mask_unref(const struct fs_mask *m_)
{
    struct fs_mask *m = CONST_CAST(struct fs_mask *, m_);
    if (m && --m->refcnt == 0) {
        hmap_remove(&masks, &m->node);
        free(m);
    }
}

static const struct fs_actions *
actions_intern(const struct ofpact *ofpacts, size_t len)
{
    /* A copy with 'raw' cleared: how an action was once encoded is not
     * part of what it does (and it steers how it is encoded again). */
    uint64_t stub[1024 / 8];
    struct ofpbuf b = OFPBUF_STUB_INITIALIZER(stub);
    ofpbuf_put(&b, ofpacts, len);
    struct ofpact *a;
    OFPACT_FOR_EACH (a, b.data, b.size) {
        a->raw = (uint8_t) -1;
    }

    uint32_t hash = hash_bytes(b.data, len, 0);
    struct fs_actions *fa;
    HMAP_FOR_EACH_WITH_HASH (fa, raw_node, hash, &actions_raw) {
        if (fa->len == len && !memcmp(fa->data, b.data, len)) {
            fa->refcnt++;
            ofpbuf_uninit(&b);
            return fa;
        }
    }

    uint64_t cstub[1024 / 8];
    struct ofpbuf canon = OFPBUF_STUB_INITIALIZER(cstub);
    ofpacts_put_openflow_instructions(b.data, b.size, &canon, OFP15_VERSION);
    uint32_t chash = hash_bytes(canon.data, canon.size, 0);
    HMAP_FOR_EACH_WITH_HASH (fa, canon_node, chash, &actions_canon) {
        if (fa->canon_len == canon.size
            && !memcmp(fa->canon, canon.data, canon.size)) {
            fa->refcnt++;
            ofpbuf_uninit(&b);
            ofpbuf_uninit(&canon);
            return fa;
        }
    }

    fa = xmalloc(sizeof *fa + ROUND_UP(len, 8));
    fa->refcnt = 1;
    fa->len = len;
    if (len) {
        memcpy(fa->data, b.data, len);
    }
    fa->canon_len = canon.size;
    fa->canon = xmemdup(canon.data, canon.size);
    hmap_insert(&actions_raw, &fa->raw_node, hash);
    hmap_insert(&actions_canon, &fa->canon_node, chash);
    ofpbuf_uninit(&b);
    ofpbuf_uninit(&canon);
    return fa;
}

static void
actions_unref(const struct fs_actions *fa_)
{
    struct fs_actions *fa = CONST_CAST(struct fs_actions *, fa_);
    if (fa && --fa->refcnt == 0) {
        hmap_remove(&actions_raw, &fa->raw_node);
        hmap_remove(&actions_canon, &fa->canon_node);
        free(fa->canon);
        free(fa);
    }
}

const struct ofpact *
fs_actions_get(const struct fs_actions *fa, size_t *len)
{
    *len = fa->len;
    return (const struct ofpact *) fa->data;
}

void
flowset_intern_counts(size_t *n_masks, size_t *n_actions)
{
    *n_masks = hmap_count(&masks);
    *n_actions = hmap_count(&actions_canon);
}

/* Flows. */

static size_t
flow_size(size_t n_values)
{
    return ROUND_UP(sizeof(struct fs_flow) + n_values * sizeof(uint64_t), 8);
}

static uint32_t
fs_key_hash(uint8_t table_id, uint16_t priority, const struct fs_mask *mask,
          const uint64_t *values, size_t n)
{
    uint32_t basis = hash_2words(((uint32_t) table_id << 16) | priority,
                                 hash_bytes(&mask->mf.map,
                                            sizeof mask->mf.map, 0));
    return hash_bytes(values, n * sizeof *values, basis);
}

bool
fs_flow_key_equal(const struct fs_flow *a, const struct fs_flow *b)
{
    return (a->hash == b->hash && a->table_id == b->table_id
            && a->priority == b->priority && a->mask == b->mask
            && !memcmp(a->values, b->values,
                       a->n_values * sizeof *a->values));
}

void
fs_flow_get_match(const struct fs_flow *f, struct match *match)
{
    match_init_catchall(match);
    const uint64_t *mv = miniflow_get_values(&f->mask->mf);
    size_t i = 0, idx;
    FLOWMAP_FOR_EACH_INDEX (idx, f->mask->mf.map) {
        *flow_u64_lvalue(&match->flow, idx) = f->values[i];
        *flow_u64_lvalue(&match->wc.masks, idx) = mv[i];
        i++;
    }
}

/* Groups. */

static size_t
group_size(size_t n_buckets)
{
    return sizeof(struct fs_group) + n_buckets * sizeof(struct fs_bucket);
}

bool
fs_group_equal(const struct fs_group *a, const struct fs_group *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (a->group_id != b->group_id || a->type != b->type
        || a->n_buckets != b->n_buckets) {
        return false;
    }
    for (size_t i = 0; i < a->n_buckets; i++) {
        const struct fs_bucket *x = &a->buckets[i], *y = &b->buckets[i];
        if (x->watch_port != y->watch_port || x->watch_group != y->watch_group
            || x->weight != y->weight || x->acts != y->acts) {
            return false;
        }
    }
    return true;
}

static uint32_t
group_hash(const struct fs_group *g)
{
    uint32_t h = hash_3words(g->group_id, g->type, g->n_buckets);
    for (size_t i = 0; i < g->n_buckets; i++) {
        const struct fs_bucket *b = &g->buckets[i];
        h = hash_3words(h, ofp_to_u16(b->watch_port) | (b->weight << 16),
                        b->watch_group);
        h = hash_pointer(b->acts, h);
    }
    return h;
}

static void
group_free(struct fs_group *g)
{
    if (g) {
        for (size_t i = 0; i < g->n_buckets; i++) {
            actions_unref(g->buckets[i].acts);
        }
        free(g);
    }
}

/* Parts. */

struct fs_part {
    int refcnt;
    uint32_t id;
    uint32_t hash; /* Order-independent, of every flow and the group. */
    size_t n_flows;
    struct fs_group *group;
    uint32_t *offsets; /* n_flows, into 'arena', in order of addition. */
    uint32_t *sorted;  /* n_flows indexes, sorted by flow hash. */
    char *arena;
};

struct flowset_builder {
    uint32_t id;
    struct ofpbuf arena;   /* struct fs_flow records. */
    struct ofpbuf offsets; /* uint32_t each. */
    struct hmap index;     /* struct builder_entry, by flow hash. */
    struct fs_group *group;
};

struct builder_entry {
    struct hmap_node node;
    uint32_t offset;
};

struct flowset_builder *
flowset_builder_create(uint32_t id)
{
    struct flowset_builder *b = xzalloc(sizeof *b);
    b->id = id;
    ofpbuf_init(&b->arena, 0);
    ofpbuf_init(&b->offsets, 0);
    hmap_init(&b->index);
    return b;
}

static struct fs_flow *
builder_flow(const struct flowset_builder *b, uint32_t offset)
{
    return (struct fs_flow *) ((char *) b->arena.data + offset);
}

static void
flow_release(const struct fs_flow *f)
{
    mask_unref(f->mask);
    actions_unref(f->acts);
}

void
flowset_builder_destroy(struct flowset_builder *b)
{
    if (!b) {
        return;
    }
    const uint32_t *offs = b->offsets.data;
    for (size_t i = 0; i < b->offsets.size / sizeof *offs; i++) {
        flow_release(builder_flow(b, offs[i]));
    }
    struct builder_entry *e;
    HMAP_FOR_EACH_POP (e, node, &b->index) {
        free(e);
    }
    hmap_destroy(&b->index);
    ofpbuf_uninit(&b->arena);
    ofpbuf_uninit(&b->offsets);
    group_free(b->group);
    free(b);
}

size_t
flowset_builder_n_flows(const struct flowset_builder *b)
{
    return b->offsets.size / sizeof(uint32_t);
}

void
flowset_builder_add_flow(struct flowset_builder *b, uint8_t table_id,
                         uint16_t priority, const struct match *match_,
                         const struct ofpact *ofpacts, size_t ofpacts_len)
{
    /* Ethernet is OpenFlow's default packet type: the ovs-ofctl parser
     * spells it out and the OXM decoder leaves it out, so it is left out
     * here (the encoders send the same bytes either way). */
    const struct match *match = match_;
    struct match copy;
    if (match_->wc.masks.packet_type
        && match_has_default_packet_type(match_)) {
        copy = *match_;
        copy.flow.packet_type = 0;
        copy.wc.masks.packet_type = 0;
        match = &copy;
    }

    /* The mask's map and values, and the flow's values under it. */
    struct flowmap map;
    flowmap_init(&map);
    uint64_t mvals[FLOW_U64S], fvals[FLOW_U64S];
    size_t n = 0, idx;
    for (idx = 0; idx < FLOW_U64S; idx++) {
        uint64_t m = flow_u64_value(&match->wc.masks, idx);
        if (m) {
            flowmap_set(&map, idx, 1);
            mvals[n] = m;
            fvals[n] = flow_u64_value(&match->flow, idx) & m;
            n++;
        }
    }
    ovs_assert(n <= UINT8_MAX);

    const struct fs_mask *mask = mask_intern(&map, mvals, n);
    uint32_t hash = fs_key_hash(table_id, priority, mask, fvals, n);
    struct builder_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash, &b->index) {
        const struct fs_flow *f = builder_flow(b, e->offset);
        if (f->table_id == table_id && f->priority == priority
            && f->mask == mask && f->n_values == n
            && !memcmp(f->values, fvals, n * sizeof *fvals)) {
            mask_unref(mask);
            return; /* The same key again: the first one stays. */
        }
    }

    uint32_t offset = b->arena.size;
    struct fs_flow *f = ofpbuf_put_zeros(&b->arena, flow_size(n));
    f->hash = hash;
    f->priority = priority;
    f->table_id = table_id;
    f->n_values = n;
    f->mask = mask;
    f->acts = actions_intern(ofpacts, ofpacts_len);
    memcpy(f->values, fvals, n * sizeof *fvals);
    ofpbuf_put(&b->offsets, &offset, sizeof offset);
    e = xmalloc(sizeof *e);
    e->offset = offset;
    hmap_insert(&b->index, &e->node, hash);
}

static void
set_group(struct flowset_builder *b, struct fs_group *g)
{
    group_free(b->group);
    b->group = g;
}

void
flowset_builder_set_group(struct flowset_builder *b, uint32_t group_id,
                          uint8_t type, const struct fs_bucket_spec *specs,
                          size_t n)
{
    struct fs_group *g = xzalloc(group_size(n));
    g->group_id = group_id;
    g->type = type;
    g->n_buckets = n;
    for (size_t i = 0; i < n; i++) {
        g->buckets[i] = (struct fs_bucket){
            .watch_port = specs[i].watch_port,
            .watch_group = specs[i].watch_group,
            .weight = type == OFPGT11_SELECT ? specs[i].weight : 0,
            .acts = actions_intern(specs[i].ofpacts, specs[i].ofpacts_len),
        };
    }
    set_group(b, g);
}

void
flowset_builder_set_group_list(struct flowset_builder *b, uint32_t group_id,
                               uint8_t type, const struct ovs_list *buckets)
{
    size_t n = ovs_list_size(buckets), i = 0;
    struct fs_bucket_spec *specs = xcalloc(MAX(n, 1), sizeof *specs);
    const struct ofputil_bucket *ob;
    LIST_FOR_EACH (ob, list_node, buckets) {
        specs[i++] = (struct fs_bucket_spec){
            .watch_port = ob->watch_port,
            .watch_group = ob->watch_group,
            .weight = ob->weight,
            .ofpacts = ob->ofpacts,
            .ofpacts_len = ob->ofpacts_len,
        };
    }
    flowset_builder_set_group(b, group_id, type, specs, n);
    free(specs);
}

static const struct fs_part *sort_part; /* For compare_by_hash(). */

static int
compare_by_hash(const void *a_, const void *b_)
{
    const uint32_t *a = a_, *b = b_;
    uint32_t ha = fs_part_flow(sort_part, *a)->hash;
    uint32_t hb = fs_part_flow(sort_part, *b)->hash;
    return ha < hb ? -1 : ha > hb ? 1 : (*a > *b) - (*a < *b);
}

struct fs_part *
flowset_builder_finish(struct flowset_builder *b)
{
    size_t n = flowset_builder_n_flows(b);
    if (!n && !b->group) {
        flowset_builder_destroy(b);
        return NULL;
    }

    size_t idx_bytes = ROUND_UP(2 * n * sizeof(uint32_t), 8);
    struct fs_part *p = xmalloc(ROUND_UP(sizeof *p, 8) + idx_bytes
                                + b->arena.size);
    p->refcnt = 1;
    p->id = b->id;
    p->n_flows = n;
    p->group = b->group;
    b->group = NULL;
    p->offsets = (uint32_t *) ((char *) p + ROUND_UP(sizeof *p, 8));
    p->sorted = p->offsets + n;
    p->arena = (char *) p->offsets + idx_bytes;
    if (n) {
        memcpy(p->offsets, b->offsets.data, n * sizeof *p->offsets);
        memcpy(p->arena, b->arena.data, b->arena.size);
    }
    p->hash = p->group ? group_hash(p->group) : 0;
    for (size_t i = 0; i < n; i++) {
        const struct fs_flow *f = fs_part_flow(p, i);
        p->sorted[i] = i;
        p->hash += hash_pointer(f->acts, f->hash);
    }
    sort_part = p;
    qsort(p->sorted, n, sizeof *p->sorted, compare_by_hash);
    sort_part = NULL;

    /* The flows' references moved into the part. */
    b->offsets.size = 0;
    flowset_builder_destroy(b);
    return p;
}

struct fs_part *
fs_part_ref(const struct fs_part *p_)
{
    struct fs_part *p = CONST_CAST(struct fs_part *, p_);
    if (p) {
        p->refcnt++;
    }
    return p;
}

void
fs_part_unref(struct fs_part *p)
{
    if (p && --p->refcnt == 0) {
        for (size_t i = 0; i < p->n_flows; i++) {
            flow_release(fs_part_flow(p, i));
        }
        group_free(p->group);
        free(p);
    }
}

uint32_t
fs_part_id(const struct fs_part *p)
{
    return p->id;
}

size_t
fs_part_n_flows(const struct fs_part *p)
{
    return p ? p->n_flows : 0;
}

const struct fs_flow *
fs_part_flow(const struct fs_part *p, size_t i)
{
    return (const struct fs_flow *) (p->arena + p->offsets[i]);
}

const struct fs_group *
fs_part_group(const struct fs_part *p)
{
    return p ? p->group : NULL;
}

const struct fs_flow *
fs_part_find(const struct fs_part *p, const struct fs_flow *f)
{
    if (!p || !p->n_flows) {
        return NULL;
    }
    /* Lower bound of f->hash in 'sorted'. */
    size_t lo = 0, hi = p->n_flows;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fs_part_flow(p, p->sorted[mid])->hash < f->hash) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    for (; lo < p->n_flows; lo++) {
        const struct fs_flow *g = fs_part_flow(p, p->sorted[lo]);
        if (g->hash != f->hash) {
            break;
        }
        if (fs_flow_key_equal(f, g)) {
            return g;
        }
    }
    return NULL;
}

bool
fs_part_equal(const struct fs_part *a, const struct fs_part *b)
{
    if (a == b) {
        return true;
    }
    size_t na = fs_part_n_flows(a), nb = fs_part_n_flows(b);
    if (na != nb || (a && b && a->hash != b->hash)
        || !fs_group_equal(fs_part_group(a), fs_part_group(b))) {
        return false;
    }
    for (size_t i = 0; i < na; i++) {
        const struct fs_flow *f = fs_part_flow(a, i);
        const struct fs_flow *g = fs_part_find(b, f);
        if (!g || g->acts != f->acts) {
            return false;
        }
    }
    return true;
}

/* Encodings. */

struct ofpbuf *
fs_flow_encode(const struct fs_flow *f, ovs_be64 cookie, uint16_t command,
               enum ofputil_protocol protocol)
{
    /* A minimatch over the flow's values and its interned mask, on the
     * stack. */
    uint64_t buf[sizeof(struct miniflow) / 8 + FLOW_U64S];
    struct miniflow *mf = (struct miniflow *) buf;
    mf->map = f->mask->mf.map;
    memcpy(miniflow_values(mf), f->values, f->n_values * sizeof *f->values);

    size_t len;
    const struct ofpact *ofpacts = fs_actions_get(f->acts, &len);
    bool del = command == OFPFC_DELETE || command == OFPFC_DELETE_STRICT;
    struct ofputil_flow_mod fm = {
        .match = {
            .flow = mf,
            .mask = CONST_CAST(struct minimask *,
                               (const struct minimask *) &f->mask->mf),
        },
        .priority = f->priority,
        .new_cookie = del ? OVS_BE64_MAX : cookie,
        .modify_cookie = !del && command != OFPFC_ADD,
        .table_id = f->table_id,
        .command = command,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = del ? NULL : CONST_CAST(struct ofpact *, ofpacts),
        .ofpacts_len = del ? 0 : len,
    };
    return ofputil_encode_flow_mod(&fm, protocol);
}

struct ofpbuf *
fs_group_encode(const struct fs_group *g, uint16_t command,
                enum ofp_version version)
{
    struct ofputil_group_mod gm = {
        .command = command,
        .type = g->type,
        .group_id = g->group_id,
        .command_bucket_id = OFPG15_BUCKET_ALL,
    };
    ovs_list_init(&gm.buckets);
    struct ofputil_bucket *buckets = xcalloc(MAX(g->n_buckets, 1),
                                             sizeof *buckets);
    if (command != OFPGC11_DELETE) {
        for (size_t i = 0; i < g->n_buckets; i++) {
            const struct fs_bucket *b = &g->buckets[i];
            struct ofputil_bucket *ob = &buckets[i];
            size_t len;
            ob->ofpacts = CONST_CAST(struct ofpact *,
                                     fs_actions_get(b->acts, &len));
            ob->ofpacts_len = len;
            ob->weight = g->type == OFPGT11_SELECT ? b->weight : 0;
            ob->watch_port = b->watch_port;
            ob->watch_group = b->watch_group;
            ob->bucket_id = i;
            ovs_list_push_back(&gm.buckets, &ob->list_node);
        }
    }
    struct ofpbuf *msg = ofputil_encode_group_mod(version, &gm, NULL, -1);
    free(buckets);
    return msg;
}

/* Text. */

void
fs_actions_format(const struct fs_actions *fa, struct ds *s)
{
    size_t len;
    const struct ofpact *ofpacts = fs_actions_get(fa, &len);
    struct ofpact_format_params fp = { .s = s };
    if (len) {
        ofpacts_format(ofpacts, len, &fp);
    } else {
        ds_put_cstr(s, "drop");
    }
}

void
fs_flow_format(const struct fs_flow *f, uint64_t cookie, struct ds *s)
{
    struct match match;
    fs_flow_get_match(f, &match);
    ds_put_format(s, "table=%" PRIu8 ",priority=%" PRIu16 ",cookie=%#" PRIx64,
                  f->table_id, f->priority, cookie);
    size_t mark = s->length;
    ds_put_char(s, ',');
    match_format(&match, NULL, s, OFP_DEFAULT_PRIORITY);
    if (s->length == mark + 1) {
        ds_truncate(s, mark);
    }
    ds_put_cstr(s, ",actions=");
    fs_actions_format(f->acts, s);
}

void
fs_group_format(const struct fs_group *g, struct ds *s)
{
    static const char *const types[] = {
        [OFPGT11_ALL] = "all",
        [OFPGT11_SELECT] = "select",
        [OFPGT11_INDIRECT] = "indirect",
        [OFPGT11_FF] = "fast_failover",
    };
    ds_put_format(s, "group_id=%" PRIu32 ",type=", g->group_id);
    if (g->type < ARRAY_SIZE(types) && types[g->type]) {
        ds_put_cstr(s, types[g->type]);
    } else {
        ds_put_format(s, "%" PRIu8, g->type);
    }
    for (size_t i = 0; i < g->n_buckets; i++) {
        const struct fs_bucket *b = &g->buckets[i];
        ds_put_cstr(s, ",bucket=");
        if (b->watch_port != OFPP_ANY) {
            ds_put_format(s, "watch_port:%" PRIu16 ",",
                          ofp_to_u16(b->watch_port));
        }
        if (b->watch_group != OFPG_ANY) {
            ds_put_format(s, "watch_group:%" PRIu32 ",", b->watch_group);
        }
        if (g->type == OFPGT11_SELECT) {
            ds_put_format(s, "weight:%" PRIu16 ",", b->weight);
        }
        ds_put_cstr(s, "actions=");
        fs_actions_format(b->acts, s);
    }
}
