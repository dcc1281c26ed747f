/*
 * libFuzzer harness for the OpenFlow receive path: ofchan's framing and
 * dispatch, ofswitch's handshake and PORT_STATUS handling, and the reply
 * decoders that ofswitch and flowtab use.
 *
 * Input: one selector byte, then bytes as a switch would send them.
 * Selector bits 0-1 pick the mode:
 *   0  raw: an ofchan on a socketpair receives the bytes as they are (so
 *      they must start with a HELLO to get anywhere);
 *   1  after HELLO: the harness sends a valid HELLO first, then the bytes;
 *      once connected, requests with fixed xids are pending (1 flow stats,
 *      2 group desc, 3 port desc, 4 features, 5 barrier) and every reply
 *      or other message is run through the decoders below;
 *   2  switch: an ofswitch completes its handshake (HELLO, FEATURES_REPLY,
 *      PORT_DESC reply with a LOCAL port and p1), then gets the bytes;
 *   3  direct: the bytes are one message (its length field set to the
 *      input's length) handed straight to the decoders.
 * Bit 6 (0x40) offers only OpenFlow 1.3 in the harness's HELLO (else 1.3 to
 * 1.5); bit 7 (0x80) closes the sending side after the bytes (EOF).
 * The event loop then runs a bounded number of iterations and everything
 * is destroyed: ASan/UBSan/LeakSanitizer catch the rest.
 *
 * Seeds: tests/fuzz/seeds-ofmsg/ (made by tests/fuzz/make_ofmsg_seeds.py).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "ofchan.h"
#include "ofswitch.h"
#include "openflow/openflow.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "byte-order.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LOOP_ROUNDS 32
#define FUZZ_MAX_INPUT 60000 /* Stays below the socketpair's buffer. */

static struct ev_loop *loop;

/* Decoders. */

static void
decode_flow_stats(const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofpbuf ofpacts;
    ofpbuf_init(&ofpacts, 0);
    for (;;) {
        struct ofputil_flow_stats fs;
        if (ofputil_decode_flow_stats_reply(&fs, &b, false, &ofpacts)) {
            break; /* EOF or an error. */
        }
    }
    ofpbuf_uninit(&ofpacts);
}

static void
decode_group_desc(const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    for (;;) {
        struct ofputil_group_desc gd;
        if (ofputil_decode_group_desc_reply(&gd, &b, oh->version)) {
            break;
        }
        ofputil_uninit_group_desc(&gd);
    }
}

static void
decode_port_desc(const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    enum ofpraw raw;
    if (ofpraw_pull(&raw, &b)) {
        return;
    }
    for (;;) {
        struct ofputil_phy_port pp;
        if (ofputil_pull_phy_port(oh->version, &b, &pp)) {
            break;
        }
    }
}

/* Runs every decoder vmacd applies to a message of this type. */
static void
decode_message(const struct ofp_header *oh)
{
    enum ofptype type;
    if (ofptype_decode(&type, oh)) {
        return;
    }
    switch (type) {
    case OFPTYPE_PORT_STATUS: {
        struct ofputil_port_status ps;
        (void) ofputil_decode_port_status(oh, &ps);
        break;
    }
    case OFPTYPE_FEATURES_REPLY: {
        struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
        struct ofputil_switch_features f;
        (void) ofputil_pull_switch_features(&b, &f);
        break;
    }
    case OFPTYPE_PORT_DESC_STATS_REPLY:
        decode_port_desc(oh);
        break;
    case OFPTYPE_FLOW_STATS_REPLY:
        decode_flow_stats(oh);
        break;
    case OFPTYPE_GROUP_DESC_STATS_REPLY:
        decode_group_desc(oh);
        break;
    case OFPTYPE_ERROR:
        (void) ofperr_decode_msg(oh, NULL);
        break;
    case OFPTYPE_BUNDLE_CONTROL: {
        struct ofputil_bundle_ctrl_msg bc;
        (void) ofputil_decode_bundle_ctrl(oh, &bc);
        break;
    }
    default:
        break;
    }
}

/* The channel (modes 0 and 1). */

struct chan_ctx {
    bool connected, closed;
    unsigned int n_messages, n_replies;
};

static void
chan_reply(struct ofchan *c OVS_UNUSED, const struct ofp_header *oh,
           enum ofptype type OVS_UNUSED, int error OVS_UNUSED,
           bool final OVS_UNUSED, void *ctx_)
{
    struct chan_ctx *ctx = ctx_;
    if (oh) {
        ctx->n_replies++;
        decode_message(oh);
    }
}

/* Sends 'msg' as a request whose xid is 'xid'. */
static void
request_with_xid(struct ofchan *c, struct ofpbuf *msg, uint32_t xid,
                 struct chan_ctx *ctx)
{
    struct ofp_header *oh = msg->data;
    oh->xid = htonl(xid);
    (void) ofchan_request(c, msg, chan_reply, ctx, 10000);
}

static void
chan_connected(struct ofchan *c, void *ctx_)
{
    struct chan_ctx *ctx = ctx_;
    enum ofp_version v = ofchan_version(c);
    enum ofputil_protocol p = ofchan_protocol(c);

    ctx->connected = true;
    struct ofputil_flow_stats_request fsr = {
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .table_id = 0xff,
    };
    match_init_catchall(&fsr.match);
    request_with_xid(c, ofputil_encode_flow_stats_request(&fsr, p), 1, ctx);
    request_with_xid(c, ofputil_encode_group_desc_request(v, OFPG_ALL), 2,
                     ctx);
    request_with_xid(c, ofputil_encode_port_desc_stats_request(v, OFPP_ANY), 3,
                     ctx);
    request_with_xid(c, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST, v, 0), 4,
                     ctx);
    request_with_xid(c, ofputil_encode_barrier_request(v), 5, ctx);
}

static void
chan_message(struct ofchan *c OVS_UNUSED, enum ofptype type OVS_UNUSED,
             const struct ofp_header *oh, void *ctx_)
{
    struct chan_ctx *ctx = ctx_;
    ctx->n_messages++;
    decode_message(oh);
}

static void
chan_closed(struct ofchan *c OVS_UNUSED, const char *reason OVS_UNUSED,
            void *ctx_)
{
    struct chan_ctx *ctx = ctx_;
    ctx->closed = true;
}

static const struct ofchan_callbacks chan_cbs = {
    .connected = chan_connected,
    .message = chan_message,
    .closed = chan_closed,
};

/* The switch (mode 2). */

struct sw_ctx {
    bool ready, closed;
    unsigned int n_port_changes;
};

static void
sw_ready(struct ofswitch *sw OVS_UNUSED, void *ctx_)
{
    struct sw_ctx *ctx = ctx_;
    ctx->ready = true;
}

static void
sw_port_changed(struct ofswitch *sw, const char *name, void *ctx_)
{
    struct sw_ctx *ctx = ctx_;
    ctx->n_port_changes++;
    const struct ofswitch_port *p = ofswitch_port_by_name(sw, name);
    if (p) {
        json_decref(ofswitch_port_to_json(p));
    }
    json_decref(ofswitch_to_json(sw));
}

static void
sw_message(struct ofswitch *sw OVS_UNUSED, enum ofptype type OVS_UNUSED,
           const struct ofp_header *oh, void *ctx_ OVS_UNUSED)
{
    decode_message(oh);
}

static void
sw_closed(struct ofswitch *sw OVS_UNUSED, const char *reason OVS_UNUSED,
          void *ctx_)
{
    struct sw_ctx *ctx = ctx_;
    ctx->closed = true;
}

static const struct ofswitch_callbacks sw_cbs = {
    .ready = sw_ready,
    .port_changed = sw_port_changed,
    .message = sw_message,
    .closed = sw_closed,
};

/* The peer side. */

static void
peer_write(int fd, const void *data, size_t size)
{
    const uint8_t *p = data;
    while (size) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* Full or closed: the rest is dropped. */
        }
        p += n;
        size -= n;
    }
}

static void
peer_send(int fd, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    peer_write(fd, msg->data, msg->size);
    ofpbuf_delete(msg);
}

static void
run_loop(int rounds)
{
    for (int i = 0; i < rounds; i++) {
        ev_run(loop, EVRUN_NOWAIT);
    }
}

/* Answers the ofswitch's handshake requests found in 'rx' (bytes read from
 * the switch's side so far); returns the number of bytes consumed. */
static size_t
answer_handshake(int fd, const uint8_t *rx, size_t n)
{
    size_t ofs = 0;
    while (n - ofs >= sizeof(struct ofp_header)) {
        struct ofp_header h;
        memcpy(&h, rx + ofs, sizeof h);
        size_t len = ntohs(h.length);
        if (len < sizeof h || n - ofs < len) {
            break;
        }
        struct ofpbuf *req = ofpbuf_clone_data(rx + ofs, len);
        const struct ofp_header *oh = req->data;
        enum ofptype type;
        if (!ofptype_decode(&type, oh)) {
            enum ofputil_protocol p
                = ofputil_protocol_from_ofp_version(oh->version);
            if (type == OFPTYPE_FEATURES_REQUEST) {
                struct ofputil_switch_features f = {
                    .datapath_id = 0xf022,
                    .n_tables = 254,
                };
                peer_send(fd, ofputil_encode_switch_features(&f, p, oh->xid));
            } else if (type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
                struct ovs_list replies;
                ofpmp_init(&replies, oh);
                struct ofputil_phy_port pp = {
                    .port_no = OFPP_LOCAL,
                    .name = "fz0",
                };
                ofputil_append_port_desc_stats_reply(&pp, &replies);
                pp.port_no = OFP_PORT_C(1);
                ovs_strlcpy(pp.name, "p1", sizeof pp.name);
                ofputil_append_port_desc_stats_reply(&pp, &replies);
                struct ofpbuf *b;
                LIST_FOR_EACH_POP (b, list_node, &replies) {
                    peer_send(fd, b);
                }
            }
        }
        ofpbuf_delete(req);
        ofs += len;
    }
    return ofs;
}

static void
fuzz_switch(int fds[2], uint32_t versions, const uint8_t *data, size_t size,
            bool eof)
{
    struct ofchan_options opts;
    ofchan_default_options(&opts);
    struct sw_ctx ctx = { .ready = false };
    struct ofswitch *sw
        = ofswitch_create(loop, fds[0], "fuzz", &opts, &sw_cbs, &ctx);

    peer_send(fds[1], ofputil_encode_hello(versions));
    uint8_t rx[16384];
    size_t n_rx = 0;
    for (int i = 0; i < LOOP_ROUNDS && !ctx.ready && !ctx.closed; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        ssize_t n = read(fds[1], rx + n_rx, sizeof rx - n_rx);
        if (n > 0) {
            n_rx += n;
            size_t used = answer_handshake(fds[1], rx, n_rx);
            memmove(rx, rx + used, n_rx - used);
            n_rx -= used;
        }
    }
    if (!ctx.ready) {
        abort(); /* The handshake itself must work. */
    }
    peer_write(fds[1], data, size);
    if (eof) {
        shutdown(fds[1], SHUT_WR);
    }
    for (int i = 0; i < LOOP_ROUNDS && !ctx.closed; i++) {
        ev_run(loop, EVRUN_NOWAIT);
    }
    ofswitch_destroy(sw);
}

static void
fuzz_chan(int fds[2], uint32_t versions, bool say_hello, const uint8_t *data,
          size_t size, bool eof)
{
    struct ofchan_options opts;
    ofchan_default_options(&opts);
    struct chan_ctx ctx = { .connected = false };
    struct ofchan *c
        = ofchan_create(loop, fds[0], "fuzz", &opts, &chan_cbs, &ctx);
    if (say_hello) {
        peer_send(fds[1], ofputil_encode_hello(versions));
        run_loop(2);
    }
    peer_write(fds[1], data, size);
    if (eof) {
        shutdown(fds[1], SHUT_WR);
    }
    for (int i = 0; i < LOOP_ROUNDS && !ctx.closed; i++) {
        ev_run(loop, EVRUN_NOWAIT);
    }
    ofchan_destroy(c);
}

static void
fuzz_direct(const uint8_t *data, size_t size)
{
    if (size < sizeof(struct ofp_header) || size > OFCHAN_MAX_MSG) {
        return;
    }
    /* As ofchan hands messages over: whole, aligned, length == size. */
    struct ofpbuf *msg = ofpbuf_clone_data(data, size);
    struct ofp_header *oh = msg->data;
    oh->length = htons(size);
    decode_message(oh);
    ofpbuf_delete(msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!loop) {
        loop = ev_loop_new(EVFLAG_AUTO);
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    }
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    uint8_t sel = data[0];
    data++;
    size--;
    uint32_t versions = sel & 0x40
                            ? 1u << OFP13_VERSION
                            : (1u << OFP13_VERSION) | (1u << OFP14_VERSION)
                                  | (1u << OFP15_VERSION);
    bool eof = (sel & 0x80) != 0;

    if ((sel & 3) == 3) {
        fuzz_direct(data, size);
        return 0;
    }
    int fds[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
        abort();
    }
    int sndbuf = 1 << 20;
    setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);

    switch (sel & 3) {
    case 0:
        fuzz_chan(fds, versions, false, data, size, eof);
        break;
    case 1:
        fuzz_chan(fds, versions, true, data, size, eof);
        break;
    default:
        fuzz_switch(fds, versions, data, size, eof);
        break;
    }
    close(fds[1]); /* fds[0] belongs to (and died with) ofchan. */
    return 0;
}
