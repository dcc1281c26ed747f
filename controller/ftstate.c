/*
 * ftstate: flows and groups in canonical form, in refcounted parts (see
 * ftstate.h).
 */
#include "ftstate.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "byte-order.h"
#include "hash.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofpbuf.h"
#include "svec.h"
#include "util.h"

/* Canonical forms. */

char *
ftcanon_group_key(uint32_t group_id)
{
    return xasprintf("group_id=%" PRIu32, group_id);
}

char *
ftcanon_flow_key(uint8_t table_id, int priority, const struct match *match)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "table=%" PRIu8 ",priority=%d", table_id, priority);
    struct ds m = DS_EMPTY_INITIALIZER;
    match_format(match, NULL, &m, OFP_DEFAULT_PRIORITY);
    if (m.length) {
        ds_put_format(&s, ",%s", ds_cstr(&m));
    }
    ds_destroy(&m);
    return ds_steal_cstr(&s);
}

char *
ftcanon_flow_value(ovs_be64 cookie, const struct ofpact *ofpacts, size_t len)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "cookie=%#" PRIx64 ",actions=", ntohll(cookie));
    struct ofpact_format_params fp = { .s = &s };
    if (len) {
        ofpacts_format(ofpacts, len, &fp);
    } else {
        ds_put_cstr(&s, "drop");
    }
    return ds_steal_cstr(&s);
}

char *
ftcanon_group_value(uint8_t type, const struct ovs_list *buckets)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ofputil_bucket *b;

    ds_put_format(&s, "type=%" PRIu8, type);
    LIST_FOR_EACH (b, list_node, buckets) {
        ds_put_format(
            &s, ",bucket=watch_port:%" PRIu32 ",watch_group:%" PRIu32,
            b->watch_port == OFPP_ANY ? UINT32_MAX
                                      : (OVS_FORCE uint32_t) b->watch_port,
            b->watch_group);
        if (type == OFPGT11_SELECT) {
            ds_put_format(&s, ",weight:%" PRIu16, b->weight);
        }
        ds_put_cstr(&s, ",actions=");
        struct ofpact_format_params fp = { .s = &s };
        ofpacts_format(b->ofpacts, b->ofpacts_len, &fp);
    }
    return ds_steal_cstr(&s);
}

/* Parses flow 'line', encodes it for 'protocol' and decodes it back, and
 * returns its canonical key and value.  Returns NULL or an error. */
char *
ftcanon_flow(const char *line, enum ofputil_protocol protocol, char **keyp,
             char **valuep)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *error
        = parse_ofp_flow_mod_str(&fm, line, NULL, NULL, OFPFC_ADD, &usable);
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
    enum ofperr err = ofputil_decode_flow_mod(&fm2, msg->data, protocol, NULL,
                                              NULL, &ofpacts, OFPP_MAX, 255);
    ofpbuf_delete(msg);
    if (err) {
        ofpbuf_uninit(&ofpacts);
        return xasprintf("flow \"%s\" does not decode: %s", line,
                         ofperr_to_string(err));
    }
    struct match match;
    minimatch_expand(&fm2.match, &match);
    *keyp = ftcanon_flow_key(fm2.table_id, fm2.priority, &match);
    *valuep = ftcanon_flow_value(fm2.new_cookie, fm2.ofpacts, fm2.ofpacts_len);
    minimatch_destroy(&fm2.match);
    ofpbuf_uninit(&ofpacts);
    return NULL;
}

char *
ftcanon_group(const char *line, enum ofp_version version, char **keyp,
              char **valuep)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error
        = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, line, NULL, NULL, &usable);
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
    *keyp = ftcanon_group_key(gm2.group_id);
    *valuep = ftcanon_group_value(gm2.type, &gm2.buckets);
    ofputil_uninit_group_mod(&gm2);
    return NULL;
}

/* Parts. */

struct ft_part *
ftpart_create(uint32_t id)
{
    struct ft_part *p = xzalloc(sizeof *p);
    p->refcnt = 1;
    p->id = id;
    hmap_init(&p->flows);
    hmap_init(&p->groups);
    hmap_init(&p->lines);
    return p;
}

struct ft_part *
ftpart_ref(struct ft_part *p)
{
    if (p) {
        p->refcnt++;
    }
    return p;
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

void
ftpart_unref(struct ft_part *p)
{
    if (p && --p->refcnt == 0) {
        entries_clear(&p->flows);
        entries_clear(&p->groups);
        hmap_destroy(&p->flows);
        hmap_destroy(&p->groups);
        hmap_destroy(&p->lines); /* Its nodes were freed just above. */
        free(p);
    }
}

const struct ft_entry *
ftpart_find(const struct hmap *entries, const char *key)
{
    const struct ft_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, node, hash_string(key, 0), entries) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

static struct ft_entry *
part_add(struct ft_part *p, struct hmap *map, char *key, char *value,
         char *line)
{
    if (ftpart_find(map, key)) {
        free(key);
        free(value);
        free(line);
        return NULL;
    }
    struct ft_entry *e = xmalloc(sizeof *e);
    e->key = key;
    e->value = value;
    e->line = line;
    hmap_insert(map, &e->node, hash_string(key, 0));
    if (line) {
        hmap_insert(&p->lines, &e->line_node, hash_string(line, 0));
    }
    return e;
}

struct ft_entry *
ftpart_add_flow(struct ft_part *p, char *key, char *value, char *line)
{
    return part_add(p, &p->flows, key, value, line);
}

struct ft_entry *
ftpart_add_group(struct ft_part *p, char *key, char *value, char *line)
{
    return part_add(p, &p->groups, key, value, line);
}

static const struct ft_entry *
line_find(const struct ft_part *p, const char *line)
{
    const struct ft_entry *e;
    HMAP_FOR_EACH_WITH_HASH (e, line_node, hash_string(line, 0), &p->lines) {
        if (!strcmp(e->line, line)) {
            return e;
        }
    }
    return NULL;
}

/* Does 'p' have exactly the lines of 'flows' + 'groups'? */
static bool
part_has_lines(const struct ft_part *p, const struct svec *flows,
               const struct svec *groups)
{
    if (hmap_count(&p->lines) != flows->n + groups->n
        || hmap_count(&p->flows) != flows->n
        || hmap_count(&p->groups) != groups->n) {
        return false;
    }
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, flows) {
        if (!line_find(p, line)) {
            return false;
        }
    }
    SVEC_FOR_EACH (i, line, groups) {
        if (!line_find(p, line)) {
            return false;
        }
    }
    return true;
}

static char *
build_add(struct ft_part *p, bool group, const char *line,
          const struct ft_part *prev, enum ofputil_protocol protocol)
{
    const struct ft_entry *old = prev ? line_find(prev, line) : NULL;
    char *key, *value;

    if (old) {
        key = xstrdup(old->key);
        value = xstrdup(old->value);
    } else {
        char *error = group ? ftcanon_group(
                          line, ofputil_protocol_to_ofp_version(protocol),
                          &key, &value)
                            : ftcanon_flow(line, protocol, &key, &value);
        if (error) {
            return error;
        }
    }
    /* A duplicate line is harmless; it is kept once. */
    part_add(p, group ? &p->groups : &p->flows, key, value, xstrdup(line));
    return NULL;
}

char *
ftpart_build(uint32_t id, const struct svec *flows, const struct svec *groups,
             struct ft_part *prev, enum ofputil_protocol protocol,
             struct ft_part **partp)
{
    *partp = NULL;
    if (prev && part_has_lines(prev, flows, groups)) {
        *partp = ftpart_ref(prev);
        return NULL;
    }

    struct ft_part *p = ftpart_create(id);
    const char *line;
    size_t i;
    SVEC_FOR_EACH (i, line, flows) {
        char *error = build_add(p, false, line, prev, protocol);
        if (error) {
            ftpart_unref(p);
            return error;
        }
    }
    SVEC_FOR_EACH (i, line, groups) {
        char *error = build_add(p, true, line, prev, protocol);
        if (error) {
            ftpart_unref(p);
            return error;
        }
    }
    *partp = p;
    return NULL;
}

/* States. */

struct ft_state *
ftstate_create(uint64_t generation)
{
    struct ft_state *s = xzalloc(sizeof *s);
    s->refcnt = 1;
    hmap_init(&s->slots);
    s->generation = generation;
    return s;
}

struct ft_state *
ftstate_ref(struct ft_state *s)
{
    if (s) {
        s->refcnt++;
    }
    return s;
}

void
ftstate_unref(struct ft_state *s)
{
    if (s && --s->refcnt == 0) {
        struct ft_slot *slot;
        HMAP_FOR_EACH_POP (slot, node, &s->slots) {
            ftpart_unref(slot->part);
            free(slot);
        }
        hmap_destroy(&s->slots);
        free(s);
    }
}

static struct ft_slot *
slot_find(const struct ft_state *s, uint32_t id)
{
    struct ft_slot *slot;
    HMAP_FOR_EACH_WITH_HASH (slot, node, hash_int(id, 0), &s->slots) {
        if (slot->part->id == id) {
            return slot;
        }
    }
    return NULL;
}

struct ft_part *
ftstate_get(const struct ft_state *s, uint32_t id)
{
    struct ft_slot *slot = slot_find(s, id);
    return slot ? slot->part : NULL;
}

void
ftstate_put(struct ft_state *s, struct ft_part *part)
{
    struct ft_slot *slot = slot_find(s, part->id);
    if (slot) {
        ftpart_unref(slot->part);
        slot->part = part;
    } else {
        slot = xmalloc(sizeof *slot);
        slot->part = part;
        hmap_insert(&s->slots, &slot->node, hash_int(part->id, 0));
    }
}

void
ftstate_remove(struct ft_state *s, uint32_t id)
{
    struct ft_slot *slot = slot_find(s, id);
    if (slot) {
        hmap_remove(&s->slots, &slot->node);
        ftpart_unref(slot->part);
        free(slot);
    }
}

struct ft_state *
ftstate_clone(const struct ft_state *old, uint64_t generation)
{
    struct ft_state *s = ftstate_create(generation);
    struct ft_slot *slot;
    hmap_reserve(&s->slots, hmap_count(&old->slots));
    FTSTATE_FOR_EACH_SLOT (slot, old) {
        ftstate_put(s, ftpart_ref(slot->part));
    }
    return s;
}

size_t
ftstate_n_flows(const struct ft_state *s)
{
    size_t n = 0;
    struct ft_slot *slot;
    FTSTATE_FOR_EACH_SLOT (slot, s) {
        n += hmap_count(&slot->part->flows);
    }
    return n;
}

size_t
ftstate_n_groups(const struct ft_state *s)
{
    size_t n = 0;
    struct ft_slot *slot;
    FTSTATE_FOR_EACH_SLOT (slot, s) {
        n += hmap_count(&slot->part->groups);
    }
    return n;
}
