/*
 * fgtest: what the unit tests of flowgen share: parts from and to
 * ovs-ofctl text, comparisons that show how two parts differ, the trip of
 * a part through a switch and back, and the golden files.
 */
#include "fgtest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "byte-order.h"
#include "flow.h"
#include "flowgen.h"
#include "flowset.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/util.h"
#include "svec.h"

/* The flows of 'p' as text, one per line, in order. */
void
fgtest_part_lines(const struct fs_part *p, uint32_t cookie_prefix,
                  struct svec *out)
{
    for (size_t i = 0; i < fs_part_n_flows(p); i++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        fs_flow_format(fs_part_flow(p, i),
                       flowgen_cookie(cookie_prefix, fs_part_id(p)), &s);
        svec_add_nocopy(out, ds_steal_cstr(&s));
    }
}

char *
fgtest_group_line(const struct fs_part *p)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    fs_group_format(fs_part_group(p), &s);
    return ds_steal_cstr(&s);
}

/* A part built from ovs-ofctl lines, as a switch would take them. */
struct fs_part *
fgtest_part_from_lines(uint32_t id, const char *const *lines, size_t n)
{
    struct flowset_builder *b = flowset_builder_create(id);
    for (size_t i = 0; i < n; i++) {
        struct ofputil_flow_mod fm;
        enum ofputil_protocol usable;
        char *error = parse_ofp_flow_mod_str(&fm, lines[i], NULL, NULL,
                                             OFPFC_ADD, &usable);
        if (error) {
            fail_msg("%s: %s", lines[i], error);
        }
        if (!(usable & OFPUTIL_P_OF13_OXM) || !(usable & OFPUTIL_P_OF15_OXM)) {
            fail_msg("%s: not usable with OpenFlow 1.3 and 1.5", lines[i]);
        }
        struct match match;
        minimatch_expand(&fm.match, &match);
        flowset_builder_add_flow(b, fm.table_id == 0xff ? 0 : fm.table_id,
                                 fm.priority, &match, fm.ofpacts,
                                 fm.ofpacts_len);
        minimatch_destroy(&fm.match);
        free(fm.ofpacts);
    }
    return flowset_builder_finish(b);
}

struct fs_part *
fgtest_group_from_line(const char *line)
{
    struct ofputil_group_mod gm;
    enum ofputil_protocol usable;
    char *error
        = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, line, NULL, NULL, &usable);
    if (error) {
        fail_msg("%s: %s", line, error);
    }
    struct flowset_builder *b
        = flowset_builder_create(gm.group_id | FLOWSET_GROUP_PART);
    flowset_builder_set_group_list(b, gm.group_id, gm.type, &gm.buckets);
    ofputil_uninit_group_mod(&gm);
    return flowset_builder_finish(b);
}

static void
print_acts(const char *what, const struct fs_actions *fa)
{
    size_t len;
    const uint8_t *b = (const uint8_t *) fs_actions_get(fa, &len);
    fprintf(stderr, "    %s (%zu bytes):", what, len);
    for (size_t i = 0; i < len; i++) {
        fprintf(stderr, "%s%02x", i % 8 ? "" : " ", b[i]);
    }
    fprintf(stderr, "\n");
}

/* Fails, with both sides as text and how they differ, unless 'got' equals
 * 'want'. */
void
fgtest_assert_parts_equal(const struct fs_part *got,
                          const struct fs_part *want)
{
    if (fs_part_equal(got, want)) {
        return;
    }
    fprintf(stderr, "parts differ:\n");
    for (size_t i = 0; i < fs_part_n_flows(got); i++) {
        const struct fs_flow *f = fs_part_flow(got, i);
        const struct fs_flow *g = fs_part_find(want, f);
        struct ds s = DS_EMPTY_INITIALIZER;
        fs_flow_format(f, 0, &s);
        if (!g) {
            fprintf(stderr, "  only got: %s\n", ds_cstr(&s));
        } else if (g->acts != f->acts) {
            fprintf(stderr, "  actions differ: %s\n", ds_cstr(&s));
            print_acts("got", f->acts);
            print_acts("want", g->acts);
        }
        ds_destroy(&s);
    }
    for (size_t i = 0; i < fs_part_n_flows(want); i++) {
        const struct fs_flow *f = fs_part_flow(want, i);
        if (!fs_part_find(got, f)) {
            struct ds s = DS_EMPTY_INITIALIZER;
            fs_flow_format(f, 0, &s);
            fprintf(stderr, "  only wanted: %s\n", ds_cstr(&s));
            ds_destroy(&s);
        }
    }
    const struct fs_group *gg = fs_part_group(got);
    const struct fs_group *wg = fs_part_group(want);
    if (!fs_group_equal(gg, wg)) {
        char *a = gg ? fgtest_group_line(got) : xstrdup("(none)");
        char *b = wg ? fgtest_group_line(want) : xstrdup("(none)");
        fprintf(stderr, "  group got:  %s\n  group want: %s\n", a, b);
        for (size_t i = 0; gg && wg && i < MIN(gg->n_buckets, wg->n_buckets);
             i++) {
            const struct fs_bucket *x = &gg->buckets[i], *y = &wg->buckets[i];
            fprintf(stderr,
                    "  bucket %zu: watch_port %u/%u group %u/%u "
                    "weight %u/%u\n",
                    i, ofp_to_u16(x->watch_port), ofp_to_u16(y->watch_port),
                    x->watch_group, y->watch_group, x->weight, y->weight);
            if (x->acts != y->acts) {
                print_acts("got", x->acts);
                print_acts("want", y->acts);
            }
        }
        free(a);
        free(b);
    }
    fail();
}

void
fgtest_assert_flows(const struct fs_part *got, const char *const *lines,
                    size_t n)
{
    struct fs_part *want = fgtest_part_from_lines(fs_part_id(got), lines, n);
    fgtest_assert_parts_equal(got, want);
    fs_part_unref(want);
}

void
fgtest_assert_group(const struct fs_part *got, const char *line)
{
    struct fs_part *want = fgtest_group_from_line(line);
    fgtest_assert_parts_equal(got, want);
    fs_part_unref(want);
}

/* Does 'p' have a flow equal to 'line'? */
bool
fgtest_has_flow(const struct fs_part *p, const char *line)
{
    struct fs_part *one = fgtest_part_from_lines(fs_part_id(p), &line, 1);
    const struct fs_flow *f = fs_part_find(p, fs_part_flow(one, 0));
    bool found = f && f->acts == fs_part_flow(one, 0)->acts;
    fs_part_unref(one);
    return found;
}

bool
fgtest_has_priority(const struct fs_part *p, uint16_t priority)
{
    for (size_t i = 0; i < fs_part_n_flows(p); i++) {
        if (fs_part_flow(p, i)->priority == priority) {
            return true;
        }
    }
    return false;
}

/* The trip through a switch: what vmacd encodes for 'protocol', decoded
 * as OVS does, reported back in a flow stats reply (or group description)
 * and decoded by vmacd must give the very part it started from. */
void
fgtest_assert_roundtrip(const struct fs_part *p,
                        enum ofputil_protocol protocol)
{
    enum ofp_version version = ofputil_protocol_to_ofp_version(protocol);
    struct flowset_builder *b = flowset_builder_create(fs_part_id(p));

    for (size_t i = 0; i < fs_part_n_flows(p); i++) {
        const struct fs_flow *f = fs_part_flow(p, i);
        ovs_be64 cookie = htonll(flowgen_cookie(0x766d6163, fs_part_id(p)));
        struct ofpbuf *msg = fs_flow_encode(f, cookie, OFPFC_ADD, protocol);

        /* The switch's side. */
        struct ofputil_flow_mod fm;
        struct ofpbuf ofpacts;
        ofpbuf_init(&ofpacts, 64);
        enum ofperr err = ofputil_decode_flow_mod(
            &fm, msg->data, protocol, NULL, NULL, &ofpacts, OFPP_MAX, 255);
        assert_int_equal(err, 0);
        assert_true(fm.new_cookie == cookie);
        struct ofputil_flow_stats fs = {
            .table_id = fm.table_id,
            .priority = fm.priority,
            .cookie = fm.new_cookie,
            .ofpacts = fm.ofpacts,
            .ofpacts_len = fm.ofpacts_len,
        };
        minimatch_expand(&fm.match, &fs.match);
        struct ofputil_flow_stats_request fsr = {
            .out_port = OFPP_ANY,
            .out_group = OFPG_ANY,
            .table_id = 0xff,
        };
        match_init_catchall(&fsr.match);
        struct ofpbuf *req = ofputil_encode_flow_stats_request(&fsr, protocol);
        struct ovs_list replies;
        ofpmp_init(&replies, req->data);
        ofpbuf_delete(req);
        ofputil_append_flow_stats_reply(&fs, &replies, NULL);
        ofpbuf_delete(msg);
        minimatch_destroy(&fm.match);

        /* vmacd's side again. */
        struct ofpbuf *reply
            = CONTAINER_OF(ovs_list_front(&replies), struct ofpbuf, list_node);
        struct ofpbuf rb = ofpbuf_const_initializer(reply->data, reply->size);
        struct ofputil_flow_stats back;
        struct ofpbuf acts2;
        ofpbuf_init(&acts2, 64);
        assert_int_equal(
            ofputil_decode_flow_stats_reply(&back, &rb, false, &acts2), 0);
        assert_true(back.cookie == cookie);
        flowset_builder_add_flow(b, back.table_id, back.priority, &back.match,
                                 back.ofpacts, back.ofpacts_len);
        ofpbuf_uninit(&acts2);
        ofpbuf_list_delete(&replies);
        ofpbuf_uninit(&ofpacts);
    }

    const struct fs_group *g = fs_part_group(p);
    if (g) {
        struct ofpbuf *msg = fs_group_encode(g, OFPGC11_ADD, version);
        struct ofputil_group_mod gm;
        assert_int_equal(ofputil_decode_group_mod(msg->data, &gm), 0);
        struct ofputil_group_desc gd = {
            .type = gm.type,
            .group_id = gm.group_id,
            .props = gm.props,
        };
        ovs_list_move(&gd.buckets, &gm.buckets);
        struct ofpbuf *req
            = ofputil_encode_group_desc_request(version, OFPG_ALL);
        struct ovs_list replies;
        ofpmp_init(&replies, req->data);
        ofpbuf_delete(req);
        ofpbuf_delete(msg);
        ofputil_append_group_desc_reply(&gd, &gd.buckets, &replies);
        ofputil_bucket_list_destroy(&gd.buckets);

        struct ofpbuf *reply
            = CONTAINER_OF(ovs_list_front(&replies), struct ofpbuf, list_node);
        struct ofpbuf rb = ofpbuf_const_initializer(reply->data, reply->size);
        struct ofputil_group_desc back;
        assert_int_equal(ofputil_decode_group_desc_reply(&back, &rb, version),
                         0);
        flowset_builder_set_group_list(b, back.group_id, back.type,
                                       &back.buckets);
        ofputil_uninit_group_desc(&back);
        ofpbuf_list_delete(&replies);
    }

    struct fs_part *q = flowset_builder_finish(b);
    fgtest_assert_parts_equal(q, p);
    fs_part_unref(q);
}

void
fgtest_golden(const char *path, const char *want, const char *what)
{
    const char *update = getenv("VMACD_UPDATE_GOLDEN");
    if (update && !strcmp(update, "1")) {
        FILE *out = fopen(path, "w");
        assert_non_null(out);
        fputs(want, out);
        assert_int_equal(fclose(out), 0);
    }

    struct ds have = DS_EMPTY_INITIALIZER;
    FILE *in = fopen(path, "r");
    if (!in) {
        fail_msg("%s: cannot open (run 'make golden')", path);
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        ds_put_buffer(&have, buf, n);
    }
    fclose(in);
    if (strcmp(ds_cstr(&have), want)) {
        fail_msg("%s is not flowgen's output for %s; if the change is "
                 "meant, run 'make golden' and review the diff.\n"
                 "flowgen's output:\n%s",
                 path, what, want);
    }

    /* Every line of it loads as the very flow or group vmacd installs. */
    char *copy = ds_steal_cstr(&have), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (!strncmp(line, "table=", 6)) {
            const char *l = line;
            struct fs_part *p = fgtest_part_from_lines(0, &l, 1);
            struct ds s = DS_EMPTY_INITIALIZER;
            /* The cookie is the line's own: compare the rest. */
            fs_flow_format(fs_part_flow(p, 0), 0, &s);
            const char *rest = strchr(strstr(line, "cookie="), ',');
            const char *rest2 = strchr(strstr(ds_cstr(&s), "cookie="), ',');
            assert_string_equal(rest, rest2);
            ds_destroy(&s);
            fs_part_unref(p);
        } else if (!strncmp(line, "group_id=", 9)) {
            struct fs_part *p = fgtest_group_from_line(line);
            char *back = fgtest_group_line(p);
            assert_string_equal(back, line);
            free(back);
            fs_part_unref(p);
        }
    }
    free(copy);
}
