/*
 * Unit tests for the ofchan module: an ofchan on one end of a unix
 * socketpair, driven by a libev loop in this process; the test plays the
 * switch on the other end, with libopenvswitch encoders or raw bytes for
 * malformed input.  Every wait is bounded by a deadline.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ofchan.h"
#include "openflow/openflow.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

#define DEADLINE 5.0 /* Seconds: upper bound of any wait here. */
#define V13 (1u << OFP13_VERSION)
#define V14 (1u << OFP14_VERSION)
#define V15 (1u << OFP15_VERSION)
#define V10 (1u << OFP10_VERSION)

#define MAX_EVENTS 64

/* Raw OpenFlow message types, the same in every version. */
#define RAW_HELLO 0
#define RAW_ERROR 1
#define RAW_ECHO_REQUEST 2

/* One reply callback invocation. */
struct reply_rec {
    bool has_msg;
    enum ofptype type;
    int error;
    bool final;
    uint32_t xid;
};

struct fixture {
    struct ev_loop *loop;
    ev_timer tick; /* Keeps EVRUN_ONCE from blocking forever. */
    int peer;      /* The switch's end (non-blocking). */
    struct ofchan *chan;
    struct ofpbuf peer_rx; /* Bytes the peer received, not yet framed. */
    bool peer_eof;

    int n_connected;
    double connected_at;
    char *closed_reason;
    double closed_at;
    int n_closed;
    /* Replies seen before 'closed' (to check ordering). */
    int replies_at_close;

    int n_msgs;
    enum ofptype msg_types[MAX_EVENTS];
    uint32_t msg_xids[MAX_EVENTS];

    int n_replies;
    struct reply_rec replies[MAX_EVENTS];

    bool in_request; /* Set while ofchan_request() runs. */
    bool reply_during_request;
    bool destroy_on_close; /* Destroy the channel in 'closed'. */
};

/* Callbacks. */

static void
on_connected(struct ofchan *c OVS_UNUSED, void *f_)
{
    struct fixture *f = f_;
    f->n_connected++;
    f->connected_at = ev_now(f->loop);
}

static void
on_message(struct ofchan *c OVS_UNUSED, enum ofptype type,
           const struct ofp_header *oh, void *f_)
{
    struct fixture *f = f_;
    assert_true(f->n_msgs < MAX_EVENTS);
    f->msg_types[f->n_msgs] = type;
    f->msg_xids[f->n_msgs] = ntohl(oh->xid);
    f->n_msgs++;
}

static void
on_closed(struct ofchan *c, const char *reason, void *f_)
{
    struct fixture *f = f_;
    f->n_closed++;
    f->closed_at = ev_now(f->loop);
    f->replies_at_close = f->n_replies;
    free(f->closed_reason);
    f->closed_reason = xstrdup(reason);
    if (f->destroy_on_close) {
        assert_ptr_equal(c, f->chan);
        ofchan_destroy(c);
        f->chan = NULL;
    }
}

static const struct ofchan_callbacks callbacks = {
    .connected = on_connected,
    .message = on_message,
    .closed = on_closed,
};

static void
on_reply(struct ofchan *c OVS_UNUSED, const struct ofp_header *oh,
         enum ofptype type, int error, bool final, void *f_)
{
    struct fixture *f = f_;
    if (f->in_request) {
        f->reply_during_request = true;
    }
    assert_true(f->n_replies < MAX_EVENTS);
    struct reply_rec *r = &f->replies[f->n_replies++];
    r->has_msg = oh != NULL;
    r->type = oh ? type : 0;
    r->error = error;
    r->final = final;
    r->xid = oh ? ntohl(oh->xid) : 0;
}

/* Fixture. */

static void
tick_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w OVS_UNUSED,
        int revents OVS_UNUSED)
{
}

static struct fixture *
fixture_create(const struct ofchan_options *opts)
{
    struct fixture *f = xzalloc(sizeof *f);
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->loop);
    ev_timer_init(&f->tick, tick_cb, 0.01, 0.01);
    ev_timer_start(f->loop, &f->tick);
    f->peer = sv[1];
    assert_int_equal(fcntl(f->peer, F_SETFL, O_NONBLOCK), 0);
    ofpbuf_init(&f->peer_rx, 0);

    struct ofchan_options o;
    if (opts) {
        o = *opts;
    } else {
        ofchan_default_options(&o);
    }
    f->chan = ofchan_create(f->loop, sv[0], "test-peer", &o, &callbacks, f);
    assert_non_null(f->chan);
    /* Like a real owner; tests that look at a closed channel unset it. */
    f->destroy_on_close = true;
    return f;
}

static void
fixture_destroy(struct fixture *f)
{
    ofchan_destroy(f->chan);
    ev_timer_stop(f->loop, &f->tick);
    ev_loop_destroy(f->loop);
    if (f->peer >= 0) {
        close(f->peer);
    }
    ofpbuf_uninit(&f->peer_rx);
    free(f->closed_reason);
    free(f);
}

/* Runs one loop iteration (at most ~10 ms thanks to the tick timer). */
static void
run_once(struct fixture *f)
{
    ev_run(f->loop, EVRUN_ONCE);
}

/* Runs the loop until '*counter' reaches 'target' or the deadline. */
static void
run_until_count(struct fixture *f, const int *counter, int target)
{
    double deadline = ev_time() + DEADLINE;
    while (*counter < target && ev_time() < deadline) {
        run_once(f);
    }
    assert_true(*counter >= target);
}

/* Runs the loop for 'seconds'. */
static void
run_for(struct fixture *f, double seconds)
{
    double end = ev_time() + seconds;
    while (ev_time() < end) {
        run_once(f);
    }
}

/* Peer side. */

static void
peer_write_raw(struct fixture *f, const void *data, size_t len)
{
    const char *p = data;
    double deadline = ev_time() + DEADLINE;
    while (len) {
        ssize_t n = send(f->peer, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            assert_true(errno == EAGAIN || errno == EINTR);
            assert_true(ev_time() < deadline);
            run_once(f);
            continue;
        }
        p += n;
        len -= n;
    }
}

/* Sends 'msg' (freed) from the peer. */
static void
peer_send(struct fixture *f, struct ofpbuf *msg)
{
    ofpmsg_update_length(msg);
    peer_write_raw(f, msg->data, msg->size);
    ofpbuf_delete(msg);
}

/* Reads what the socket has for the peer (non-blocking). */
static void
peer_pull(struct fixture *f)
{
    for (;;) {
        char buf[4096];
        ssize_t n = recv(f->peer, buf, sizeof buf, 0);
        if (n > 0) {
            ofpbuf_put(&f->peer_rx, buf, n);
        } else {
            if (!n) {
                f->peer_eof = true;
            }
            return;
        }
    }
}

/* Returns the next complete message the peer received (caller frees), or
 * NULL if none arrived before the deadline or the connection closed. */
static struct ofpbuf *
peer_recv_within(struct fixture *f, double timeout)
{
    double deadline = ev_time() + timeout;
    for (;;) {
        peer_pull(f);
        if (f->peer_rx.size >= sizeof(struct ofp_header)) {
            const struct ofp_header *oh = f->peer_rx.data;
            size_t len = ntohs(oh->length);
            assert_true(len >= sizeof *oh);
            if (f->peer_rx.size >= len) {
                struct ofpbuf *msg = ofpbuf_clone_data(oh, len);
                ofpbuf_pull(&f->peer_rx, len);
                return msg;
            }
        }
        if (f->peer_eof || ev_time() >= deadline) {
            return NULL;
        }
        run_once(f);
    }
}

static struct ofpbuf *
peer_recv(struct fixture *f)
{
    struct ofpbuf *msg = peer_recv_within(f, DEADLINE);
    assert_non_null(msg);
    return msg;
}

/* Receives the next message and checks its type; returns it. */
static struct ofpbuf *
peer_expect(struct fixture *f, enum ofptype expected)
{
    struct ofpbuf *msg = peer_recv(f);
    enum ofptype type;
    assert_int_equal(ofptype_decode(&type, msg->data), 0);
    if (type != expected) {
        fail_msg("peer got %s, expected %s", ofptype_get_name(type),
                 ofptype_get_name(expected));
    }
    return msg;
}

/* Waits until the peer sees EOF (anything received before is dropped):
 * the socket is closed when the owner destroys the channel. */
static void
peer_expect_eof(struct fixture *f)
{
    double deadline = ev_time() + DEADLINE;
    while (!f->peer_eof && ev_time() < deadline) {
        peer_pull(f);
        if (!f->peer_eof) {
            run_once(f);
        }
    }
    assert_true(f->peer_eof);
}

/* Receives our HELLO (checking its bitmap), answers with 'theirs'. */
static void
peer_hello(struct fixture *f, uint32_t ours, uint32_t theirs)
{
    struct ofpbuf *hello = peer_recv(f);
    const struct ofp_header *oh = hello->data;
    uint32_t bitmap = 0;
    assert_int_equal(oh->type, RAW_HELLO);
    assert_true(ofputil_decode_hello(oh, &bitmap));
    assert_int_equal(bitmap, ours);
    ofpbuf_delete(hello);
    peer_send(f, ofputil_encode_hello(theirs));
}

/* A fixture whose channel negotiated OpenFlow 1.5 with the default
 * options, or 'opts'. */
static struct fixture *
connected_fixture(const struct ofchan_options *opts)
{
    struct fixture *f = fixture_create(opts);
    struct ofchan_options o;
    if (opts) {
        o = *opts;
    } else {
        ofchan_default_options(&o);
    }
    peer_hello(f, o.allowed_versions, V13 | V14 | V15);
    run_until_count(f, &f->n_connected, 1);
    assert_true(ofchan_is_connected(f->chan));
    return f;
}

/* Waits for the 'closed' report and checks its reason contains 'what'. */
static void
expect_closed(struct fixture *f, const char *what)
{
    run_until_count(f, &f->n_closed, 1);
    assert_int_equal(f->n_closed, 1);
    assert_non_null(strstr(f->closed_reason, what));
    if (f->chan) {
        assert_false(ofchan_is_connected(f->chan));
    }
}

/* Tests: negotiation. */

/* Negotiates with 'ours' against 'theirs'; returns the version agreed. */
static enum ofp_version
negotiate(uint32_t ours, uint32_t theirs)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.allowed_versions = ours;
    struct fixture *f = fixture_create(&o);
    assert_int_equal(ofchan_version(f->chan), 0);
    assert_int_equal(ofchan_protocol(f->chan), 0);
    assert_false(ofchan_is_connected(f->chan));

    peer_hello(f, ours, theirs);
    run_until_count(f, &f->n_connected, 1);
    assert_int_equal(f->n_connected, 1);
    assert_true(ofchan_is_connected(f->chan));
    enum ofp_version v = ofchan_version(f->chan);
    assert_int_equal(ofchan_protocol(f->chan),
                     ofputil_protocol_from_ofp_version(v));

    /* The agreed version is usable: an echo in that version is answered
     * in that version. */
    struct ofpbuf *req = ofputil_encode_echo_request(v);
    ovs_be32 xid = ((struct ofp_header *) req->data)->xid;
    peer_send(f, req);
    struct ofpbuf *reply = peer_expect(f, OFPTYPE_ECHO_REPLY);
    assert_int_equal(((struct ofp_header *) reply->data)->version, v);
    assert_int_equal(((struct ofp_header *) reply->data)->xid, xid);
    ofpbuf_delete(reply);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
    return v;
}

static void
test_hello_negotiation(void **state OVS_UNUSED)
{
    uint32_t all = V13 | V14 | V15;

    assert_int_equal(negotiate(all, all), OFP15_VERSION);
    assert_int_equal(negotiate(all, V13), OFP13_VERSION);
    assert_int_equal(negotiate(all, V14), OFP14_VERSION);
    assert_int_equal(negotiate(all, V13 | V14), OFP14_VERSION);
    assert_int_equal(negotiate(all, V10 | V13), OFP13_VERSION);
    assert_int_equal(negotiate(all, V10 | V13 | V14 | V15), OFP15_VERSION);
    assert_int_equal(negotiate(V13, all), OFP13_VERSION);
    assert_int_equal(negotiate(V13 | V14, all), OFP14_VERSION);
    assert_int_equal(negotiate(V13 | V15, V13 | V14 | V15), OFP15_VERSION);
    assert_int_equal(negotiate(V13 | V15, V13 | V14), OFP13_VERSION);
}

/* A HELLO without a version bitmap element: the header's version says the
 * peer supports every version up to it. */
static void
test_hello_without_bitmap(void **state OVS_UNUSED)
{
    struct fixture *f = fixture_create(NULL);
    struct ofpbuf *hello = peer_recv(f);
    ofpbuf_delete(hello);

    struct ofp_header oh = {
        .version = OFP14_VERSION,
        .type = RAW_HELLO,
        .length = htons(sizeof oh),
        .xid = htonl(7),
    };
    peer_write_raw(f, &oh, sizeof oh);
    run_until_count(f, &f->n_connected, 1);
    assert_int_equal(ofchan_version(f->chan), OFP14_VERSION);
    fixture_destroy(f);
}

/* Checks that 'f' answered with HELLO_FAILED/INCOMPATIBLE in 'version',
 * then closed. */
static void
expect_hello_failed(struct fixture *f, enum ofp_version version)
{
    struct ofpbuf *err = peer_recv(f);
    const struct ofp_header *oh = err->data;
    assert_int_equal(oh->type, RAW_ERROR);
    assert_int_equal(oh->version, version);
    assert_int_equal(ofperr_decode_msg(oh, NULL), OFPERR_OFPHFC_INCOMPATIBLE);
    ofpbuf_delete(err);

    expect_closed(f, "no common OpenFlow version");
    assert_int_equal(f->n_connected, 0);
    peer_expect_eof(f);
}

static void
test_hello_incompatible(void **state OVS_UNUSED)
{
    /* A peer offering only OpenFlow 1.0. */
    struct fixture *f = fixture_create(NULL);
    peer_hello(f, V13 | V14 | V15, V10);
    expect_hello_failed(f, OFP10_VERSION);
    fixture_destroy(f);

    /* Disjoint sets: the error uses our highest version, which is below
     * the peer's. */
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.allowed_versions = V13;
    f = fixture_create(&o);
    peer_hello(f, V13, V14 | V15);
    expect_hello_failed(f, OFP13_VERSION);
    fixture_destroy(f);
}

static void
test_first_message_not_hello(void **state OVS_UNUSED)
{
    struct fixture *f = fixture_create(NULL);
    peer_send(f, ofputil_encode_echo_request(OFP15_VERSION));
    expect_closed(f, "no HELLO");
    assert_int_equal(f->n_connected, 0);
    peer_expect_eof(f);
    fixture_destroy(f);
}

static void
test_no_hello_in_time(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.probe_interval_ms = 100;
    struct fixture *f = fixture_create(&o);
    double start = ev_time();
    expect_closed(f, "no HELLO");
    assert_true(f->closed_at - start >= 0.09);
    fixture_destroy(f);
}

/* Tests: framing. */

static void
test_echo_reply_same_xid(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    for (uint32_t xid = 1; xid <= 3; xid++) {
        struct ofpbuf *req = ofpraw_alloc_xid(
            OFPRAW_OFPT_ECHO_REQUEST, OFP15_VERSION, htonl(xid * 77), 0);
        /* With a payload, which the reply must carry back. */
        ofpbuf_put(req, "payload", 7);
        peer_send(f, req);
        struct ofpbuf *reply = peer_expect(f, OFPTYPE_ECHO_REPLY);
        const struct ofp_header *oh = reply->data;
        assert_int_equal(ntohl(oh->xid), xid * 77);
        assert_int_equal(ntohs(oh->length), sizeof *oh + 7);
        assert_memory_equal(oh + 1, "payload", 7);
        ofpbuf_delete(reply);
    }
    assert_int_equal(f->n_msgs, 0);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

/* A message with an untracked xid that goes to the 'message' callback. */
static struct ofpbuf *
barrier_reply(uint32_t xid)
{
    return ofpraw_alloc_xid(OFPRAW_OFPT11_BARRIER_REPLY, OFP15_VERSION,
                            htonl(xid), 0);
}

static void
test_one_byte_at_a_time(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);

    struct ofpbuf *msg = ofpraw_alloc_xid(OFPRAW_OFPT_ECHO_REQUEST,
                                          OFP15_VERSION, htonl(0x1234), 0);
    ofpbuf_put_zeros(msg, 20);
    ofpmsg_update_length(msg);
    for (size_t i = 0; i < msg->size; i++) {
        peer_write_raw(f, (char *) msg->data + i, 1);
        run_once(f);
        if (i + 1 < msg->size) {
            /* Nothing is answered before the message is complete. */
            peer_pull(f);
            assert_int_equal(f->peer_rx.size, 0);
        }
    }
    ofpbuf_delete(msg);
    struct ofpbuf *reply = peer_expect(f, OFPTYPE_ECHO_REPLY);
    assert_int_equal(ntohl(((struct ofp_header *) reply->data)->xid), 0x1234);
    ofpbuf_delete(reply);

    /* The same for a message that goes to the 'message' callback. */
    msg = barrier_reply(99);
    ofpmsg_update_length(msg);
    for (size_t i = 0; i < msg->size; i++) {
        assert_int_equal(f->n_msgs, 0);
        peer_write_raw(f, (char *) msg->data + i, 1);
        run_once(f);
    }
    ofpbuf_delete(msg);
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->msg_types[0], OFPTYPE_BARRIER_REPLY);
    assert_int_equal(f->msg_xids[0], 99);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

static void
test_several_messages_in_one_write(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofpbuf all;
    ofpbuf_init(&all, 0);

    for (uint32_t i = 0; i < 3; i++) {
        struct ofpbuf *m = ofpraw_alloc_xid(OFPRAW_OFPT_ECHO_REQUEST,
                                            OFP15_VERSION, htonl(10 + i), 0);
        ofpmsg_update_length(m);
        ofpbuf_put(&all, m->data, m->size);
        ofpbuf_delete(m);
        m = barrier_reply(20 + i);
        ofpmsg_update_length(m);
        ofpbuf_put(&all, m->data, m->size);
        ofpbuf_delete(m);
    }
    peer_write_raw(f, all.data, all.size);
    ofpbuf_uninit(&all);

    for (uint32_t i = 0; i < 3; i++) {
        struct ofpbuf *r = peer_expect(f, OFPTYPE_ECHO_REPLY);
        assert_int_equal(ntohl(((struct ofp_header *) r->data)->xid), 10 + i);
        ofpbuf_delete(r);
    }
    run_until_count(f, &f->n_msgs, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(f->msg_types[i], OFPTYPE_BARRIER_REPLY);
        assert_int_equal(f->msg_xids[i], 20 + i);
    }

    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.rx_msgs, 1 + 6); /* HELLO + 6. */
    assert_int_equal(s.tx_msgs, 1 + 3); /* HELLO + 3 replies. */
    assert_int_equal(s.queued_bytes, 0);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

static void
test_message_split_across_writes(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofpbuf *a = ofpraw_alloc_xid(OFPRAW_OFPT_ECHO_REQUEST,
                                        OFP15_VERSION, htonl(1), 0);
    ofpbuf_put_zeros(a, 100);
    ofpmsg_update_length(a);
    struct ofpbuf *b = barrier_reply(2);
    ofpmsg_update_length(b);
    struct ofpbuf both;
    ofpbuf_init(&both, 0);
    ofpbuf_put(&both, a->data, a->size);
    ofpbuf_put(&both, b->data, b->size);

    /* Cuts: inside the first header, inside the first body, inside the
     * second header, the rest. */
    size_t cuts[] = { 5, 50, a->size + 3, both.size };
    size_t ofs = 0;
    for (size_t i = 0; i < ARRAY_SIZE(cuts); i++) {
        peer_write_raw(f, (char *) both.data + ofs, cuts[i] - ofs);
        ofs = cuts[i];
        run_for(f, 0.02);
    }
    ofpbuf_uninit(&both);
    ofpbuf_delete(a);
    ofpbuf_delete(b);

    struct ofpbuf *r = peer_expect(f, OFPTYPE_ECHO_REPLY);
    assert_int_equal(ntohs(((struct ofp_header *) r->data)->length), 108);
    ofpbuf_delete(r);
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->msg_xids[0], 2);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

static void
send_bad_length(uint16_t length)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofp_header oh = {
        .version = OFP15_VERSION,
        .type = RAW_ECHO_REQUEST,
        .length = htons(length),
        .xid = htonl(5),
    };
    peer_write_raw(f, &oh, sizeof oh);
    expect_closed(f, "bad message length");
    peer_expect_eof(f);
    fixture_destroy(f);
}

static void
test_bad_length(void **state OVS_UNUSED)
{
    send_bad_length(0);
    send_bad_length(7);
}

/* Also before HELLO: the length is checked first. */
static void
test_bad_length_before_hello(void **state OVS_UNUSED)
{
    struct fixture *f = fixture_create(NULL);
    static const uint8_t raw[8] = { OFP15_VERSION, RAW_HELLO, 0, 4 };
    peer_write_raw(f, raw, sizeof raw);
    expect_closed(f, "bad message length");
    fixture_destroy(f);
}

static void
test_version_mismatch(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    assert_int_equal(ofchan_version(f->chan), OFP15_VERSION);
    peer_send(f, ofputil_encode_echo_request(OFP13_VERSION));
    expect_closed(f, "version mismatch");
    peer_expect_eof(f);
    fixture_destroy(f);
}

static void
test_undecodable_type(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofp_header oh = {
        .version = OFP15_VERSION,
        .type = 200,
        .length = htons(sizeof oh),
        .xid = htonl(1),
    };
    peer_write_raw(f, &oh, sizeof oh);
    expect_closed(f, "undecodable");
    assert_int_equal(f->n_msgs, 0);
    fixture_destroy(f);
}

static void
test_peer_closes(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    close(f->peer);
    f->peer = -1;
    expect_closed(f, "closed by peer");
    fixture_destroy(f);
}

/* ofchan_close() reports 'closed' later, from the loop, and the owner may
 * destroy the channel inside the callback. */
static void
test_close_is_asynchronous(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    ofchan_close(f->chan, "owner says bye");
    assert_int_equal(f->n_closed, 0);
    assert_false(ofchan_is_connected(f->chan));
    assert_int_equal(
        ofchan_send(f->chan, ofputil_encode_echo_request(OFP15_VERSION)),
        ENOTCONN);
    /* A second close keeps the first reason. */
    ofchan_close(f->chan, "second reason");
    expect_closed(f, "owner says bye");
    assert_null(f->chan);
    peer_expect_eof(f);
    fixture_destroy(f);
}

/* Tests: inactivity probe. */

static void
test_probe_silent_peer(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.probe_interval_ms = 100;
    struct fixture *f = connected_fixture(&o);
    double t0 = f->connected_at;

    struct ofpbuf *probe = peer_expect(f, OFPTYPE_ECHO_REQUEST);
    double probe_at = ev_time();
    assert_int_equal(((struct ofp_header *) probe->data)->version,
                     OFP15_VERSION);
    ofpbuf_delete(probe);
    assert_true(probe_at - t0 >= 0.09);
    assert_int_equal(f->n_closed, 0);

    /* No answer: closed after twice the interval. */
    expect_closed(f, "inactivity probe");
    assert_true(f->closed_at - t0 >= 0.18);
    peer_expect_eof(f);
    fixture_destroy(f);
}

static void
test_probe_answering_peer(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.probe_interval_ms = 100;
    struct fixture *f = connected_fixture(&o);

    /* Answer every probe for 0.8 s: 8 intervals. */
    int probes = 0;
    double end = ev_time() + 0.8;
    while (ev_time() < end) {
        struct ofpbuf *m = peer_recv_within(f, end - ev_time());
        if (!m) {
            break;
        }
        enum ofptype type;
        assert_int_equal(ofptype_decode(&type, m->data), 0);
        assert_int_equal(type, OFPTYPE_ECHO_REQUEST);
        probes++;
        peer_send(f, ofputil_encode_echo_reply(m->data));
        ofpbuf_delete(m);
    }
    assert_false(f->peer_eof);
    assert_int_equal(f->n_closed, 0);
    assert_true(ofchan_is_connected(f->chan));
    assert_true(probes >= 2);
    fixture_destroy(f);
}

/* A peer that keeps sending never gets probed. */
static void
test_probe_busy_peer(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.probe_interval_ms = 100;
    struct fixture *f = connected_fixture(&o);

    for (int i = 0; i < 16; i++) {
        peer_send(f, barrier_reply(i));
        run_for(f, 0.03);
    }
    assert_int_equal(f->n_msgs, 16);
    peer_pull(f);
    assert_int_equal(f->peer_rx.size, 0);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

/* Tests: requests. */

/* Sends a barrier request through ofchan_request(); returns its xid. */
static uint32_t
request_barrier(struct fixture *f, int timeout_ms)
{
    struct ofpbuf *req = ofputil_encode_barrier_request(OFP15_VERSION);
    uint32_t xid = ntohl(((struct ofp_header *) req->data)->xid);
    f->in_request = true;
    assert_int_equal(ofchan_request(f->chan, req, on_reply, f, timeout_ms), 0);
    f->in_request = false;
    return xid;
}

static void
test_request_reply(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    uint32_t xid1 = request_barrier(f, 0);
    uint32_t xid2 = request_barrier(f, 1000);
    assert_int_not_equal(xid1, xid2);

    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.pending_requests, 2);

    struct ofpbuf *r1 = peer_expect(f, OFPTYPE_BARRIER_REQUEST);
    struct ofpbuf *r2 = peer_expect(f, OFPTYPE_BARRIER_REQUEST);
    assert_int_equal(ntohl(((struct ofp_header *) r1->data)->xid), xid1);

    /* Answer out of order. */
    peer_send(f, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY, r2->data, 0));
    run_until_count(f, &f->n_replies, 1);
    assert_int_equal(f->replies[0].xid, xid2);
    peer_send(f, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY, r1->data, 0));
    run_until_count(f, &f->n_replies, 2);
    ofpbuf_delete(r1);
    ofpbuf_delete(r2);

    for (int i = 0; i < 2; i++) {
        const struct reply_rec *r = &f->replies[i];
        assert_true(r->has_msg);
        assert_int_equal(r->type, OFPTYPE_BARRIER_REPLY);
        assert_int_equal(r->error, 0);
        assert_true(r->final);
    }
    assert_int_equal(f->replies[1].xid, xid1);
    assert_false(f->reply_during_request);
    assert_int_equal(f->n_msgs, 0);
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.pending_requests, 0);

    /* A second reply with the same xid is no longer tracked. */
    peer_send(f, barrier_reply(xid1));
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->msg_xids[0], xid1);
    assert_int_equal(f->n_replies, 2);
    fixture_destroy(f);
}

/* Sets the OFPSF_REPLY_MORE flag of multipart reply 'msg'. */
static void
set_reply_more(struct ofpbuf *msg)
{
    /* OpenFlow 1.1+: header, type (2 bytes), flags (2 bytes). */
    ovs_be16 flags = htons(OFPSF_REPLY_MORE);
    assert_true(msg->size >= 12);
    memcpy((char *) msg->data + 10, &flags, sizeof flags);
    assert_true(ofpmp_more(msg->data));
}

static void
test_request_multipart(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofpbuf *req
        = ofputil_encode_port_desc_stats_request(OFP15_VERSION, OFPP_ANY);
    uint32_t xid = ntohl(((struct ofp_header *) req->data)->xid);
    f->in_request = true;
    assert_int_equal(ofchan_request(f->chan, req, on_reply, f, 2000), 0);
    f->in_request = false;

    struct ofpbuf *got = peer_expect(f, OFPTYPE_PORT_DESC_STATS_REQUEST);
    for (int i = 0; i < 3; i++) {
        struct ofpbuf *part = ofpraw_alloc_stats_reply(got->data, 0);
        if (i < 2) {
            set_reply_more(part);
        }
        peer_send(f, part);
        run_until_count(f, &f->n_replies, i + 1);
        /* An unrelated message in between goes elsewhere. */
        peer_send(f, barrier_reply(1000 + i));
        run_until_count(f, &f->n_msgs, i + 1);
    }
    ofpbuf_delete(got);

    assert_int_equal(f->n_replies, 3);
    for (int i = 0; i < 3; i++) {
        assert_true(f->replies[i].has_msg);
        assert_int_equal(f->replies[i].type, OFPTYPE_PORT_DESC_STATS_REPLY);
        assert_int_equal(f->replies[i].xid, xid);
        assert_int_equal(f->replies[i].error, 0);
        assert_int_equal(f->replies[i].final, i == 2);
    }
    assert_false(f->reply_during_request);
    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.pending_requests, 0);
    fixture_destroy(f);
}

static void
test_request_error_is_final(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    struct ofpbuf *req
        = ofputil_encode_port_desc_stats_request(OFP15_VERSION, OFPP_ANY);
    uint32_t xid = ntohl(((struct ofp_header *) req->data)->xid);
    assert_int_equal(ofchan_request(f->chan, req, on_reply, f, 0), 0);
    struct ofpbuf *got = peer_expect(f, OFPTYPE_PORT_DESC_STATS_REQUEST);
    peer_send(f, ofperr_encode_reply(OFPERR_OFPBRC_BAD_TYPE, got->data));
    ofpbuf_delete(got);
    run_until_count(f, &f->n_replies, 1);
    assert_true(f->replies[0].has_msg);
    assert_int_equal(f->replies[0].type, OFPTYPE_ERROR);
    assert_int_equal(f->replies[0].xid, xid);
    assert_int_equal(f->replies[0].error, 0);
    assert_true(f->replies[0].final);
    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.pending_requests, 0);

    /* An error for an xid nobody waits for goes to 'message'. */
    struct ofpbuf *other = ofputil_encode_barrier_request(OFP15_VERSION);
    peer_send(f, ofperr_encode_reply(OFPERR_OFPBRC_BAD_TYPE, other->data));
    ofpbuf_delete(other);
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->msg_types[0], OFPTYPE_ERROR);
    assert_int_equal(f->n_replies, 1);
    fixture_destroy(f);
}

static void
test_request_timeout(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    double start = ev_time();
    uint32_t xid = request_barrier(f, 100);
    run_until_count(f, &f->n_replies, 1);
    assert_true(ev_time() - start >= 0.09);
    assert_false(f->replies[0].has_msg);
    assert_int_equal(f->replies[0].error, ETIMEDOUT);
    assert_true(f->replies[0].final);
    assert_false(f->reply_during_request);

    /* The late reply is an unknown xid now. */
    peer_send(f, barrier_reply(xid));
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->msg_xids[0], xid);
    assert_int_equal(f->n_replies, 1);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

static void
test_request_connection_reset(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    request_barrier(f, 0);
    request_barrier(f, 5000);
    /* Read them, so that the close is an orderly EOF. */
    ofpbuf_delete(peer_expect(f, OFPTYPE_BARRIER_REQUEST));
    ofpbuf_delete(peer_expect(f, OFPTYPE_BARRIER_REQUEST));
    close(f->peer);
    f->peer = -1;
    expect_closed(f, "closed by peer");
    assert_int_equal(f->n_replies, 2);
    /* The requests failed before 'closed' was reported. */
    assert_int_equal(f->replies_at_close, 2);
    for (int i = 0; i < 2; i++) {
        assert_false(f->replies[i].has_msg);
        assert_int_equal(f->replies[i].error, ECONNRESET);
        assert_true(f->replies[i].final);
    }
    fixture_destroy(f);
}

static void
test_request_on_closed_channel(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    ofchan_close(f->chan, "test");
    struct ofpbuf *req = ofputil_encode_barrier_request(OFP15_VERSION);
    assert_int_equal(ofchan_request(f->chan, req, on_reply, f, 100), ENOTCONN);
    expect_closed(f, "test");
    run_for(f, 0.2);
    assert_int_equal(f->n_replies, 0);
    fixture_destroy(f);
}

static void
test_forget_requests(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    int other;
    struct ofpbuf *req = ofputil_encode_barrier_request(OFP15_VERSION);
    uint32_t xid = ntohl(((struct ofp_header *) req->data)->xid);
    assert_int_equal(ofchan_request(f->chan, req, on_reply, &other, 50), 0);
    request_barrier(f, 0);
    ofchan_forget_requests(f->chan, &other);
    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.pending_requests, 1);
    /* Its timeout does not fire and its reply is untracked. */
    run_for(f, 0.15);
    peer_send(f, barrier_reply(xid));
    run_until_count(f, &f->n_msgs, 1);
    assert_int_equal(f->n_replies, 0);
    fixture_destroy(f);
}

/* Tests: send queue. */

static void
test_send_queue_bound(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    o.max_queue_bytes = 64 * 1024;
    struct fixture *f = connected_fixture(&o);
    f->destroy_on_close = false;

    /* The peer never reads: the socket buffer fills, then the queue. */
    int error = 0;
    int i;
    for (i = 0; i < 100000 && !error; i++) {
        struct ofpbuf *m
            = ofpraw_alloc(OFPRAW_OFPT_ECHO_REQUEST, OFP15_VERSION, 1000);
        ofpbuf_put_zeros(m, 1000);
        error = ofchan_send(f->chan, m);
        if (!error) {
            struct ofchan_stats s;
            ofchan_get_stats(f->chan, &s);
            assert_true(s.queued_bytes <= o.max_queue_bytes);
        }
    }
    assert_int_equal(error, ENOBUFS);
    assert_false(ofchan_is_connected(f->chan));
    assert_int_equal(f->n_closed, 0);
    expect_closed(f, "send queue");
    assert_int_equal(
        ofchan_send(f->chan, ofputil_encode_echo_request(OFP15_VERSION)),
        ENOTCONN);
    fixture_destroy(f);
}

/* A queue that drains once the peer reads: everything arrives in order. */
static void
test_send_queue_drains(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    enum { N = 2000 };
    for (int i = 0; i < N; i++) {
        struct ofpbuf *m = ofpraw_alloc_xid(OFPRAW_OFPT_ECHO_REQUEST,
                                            OFP15_VERSION, htonl(i), 1000);
        ofpbuf_put_zeros(m, 1000);
        assert_int_equal(ofchan_send(f->chan, m), 0);
    }
    struct ofchan_stats s;
    ofchan_get_stats(f->chan, &s);
    assert_true(s.queued_bytes > 0);
    for (int i = 0; i < N; i++) {
        struct ofpbuf *m = peer_expect(f, OFPTYPE_ECHO_REQUEST);
        assert_int_equal(ntohl(((struct ofp_header *) m->data)->xid), i);
        ofpbuf_delete(m);
    }
    ofchan_get_stats(f->chan, &s);
    assert_int_equal(s.queued_bytes, 0);
    assert_int_equal(f->n_closed, 0);
    fixture_destroy(f);
}

static void
test_default_options(void **state OVS_UNUSED)
{
    struct ofchan_options o;
    ofchan_default_options(&o);
    assert_int_equal(o.allowed_versions, V13 | V14 | V15);
    assert_int_equal(o.probe_interval_ms, 5000);
    assert_true(o.max_queue_bytes >= 1024 * 1024);
    ofchan_destroy(NULL);
}

/* Reads exactly 'n' bytes on the peer (bounded wait). */
static void
peer_read_exactly(struct fixture *f, size_t n)
{
    double deadline = ev_time() + DEADLINE;
    char buf[256];
    assert_true(n <= sizeof buf);
    while (n) {
        ssize_t r = recv(f->peer, buf, n, 0);
        if (r < 0) {
            assert_true(errno == EAGAIN || errno == EINTR);
            assert_true(ev_time() < deadline);
            continue;
        }
        assert_true(r > 0);
        n -= r;
    }
}

/* A message is delivered once the peer read it, even while later ones
 * wait unread (on unix sockets SIOCOUTQ counts buffers, not bytes: a
 * small message unread behind a read one must not make that one look
 * unread), and not before. */
static void
test_tx_delivered_per_message(void **state OVS_UNUSED)
{
    struct fixture *f = connected_fixture(NULL);
    enum ofp_version v = ofchan_version(f->chan);

    size_t before = ofchan_tx_mark(f->chan);
    assert_true(ofchan_tx_delivered(f->chan, before));
    assert_int_equal(ofchan_send(f->chan, ofputil_encode_echo_request(v)), 0);
    uint64_t a = ofchan_tx_mark(f->chan);
    assert_int_equal(ofchan_send(f->chan, ofputil_encode_echo_request(v)), 0);
    uint64_t b = ofchan_tx_mark(f->chan);
    assert_int_equal(ofchan_send(f->chan, ofputil_encode_echo_request(v)), 0);
    uint64_t c = ofchan_tx_mark(f->chan);
    assert_true(before < a && a < b && b < c);
    assert_false(ofchan_tx_delivered(f->chan, a));
    assert_false(ofchan_tx_delivered(f->chan, c));

    peer_read_exactly(f, a - before);
    assert_true(ofchan_tx_delivered(f->chan, a));
    assert_false(ofchan_tx_delivered(f->chan, b));
    peer_read_exactly(f, b - a);
    assert_true(ofchan_tx_delivered(f->chan, b));
    assert_false(ofchan_tx_delivered(f->chan, c));
    peer_read_exactly(f, c - b);
    assert_true(ofchan_tx_delivered(f->chan, c));
    fixture_destroy(f);
}

int
main(void)
{
    /* The channel's warnings are expected here; keep the output short. */
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    if (getenv("TEST_VERBOSE")) {
        vlog_set_levels(NULL, VLF_CONSOLE, VLL_DBG);
    }

    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_options),
        cmocka_unit_test(test_hello_negotiation),
        cmocka_unit_test(test_hello_without_bitmap),
        cmocka_unit_test(test_hello_incompatible),
        cmocka_unit_test(test_first_message_not_hello),
        cmocka_unit_test(test_no_hello_in_time),
        cmocka_unit_test(test_echo_reply_same_xid),
        cmocka_unit_test(test_one_byte_at_a_time),
        cmocka_unit_test(test_several_messages_in_one_write),
        cmocka_unit_test(test_message_split_across_writes),
        cmocka_unit_test(test_bad_length),
        cmocka_unit_test(test_bad_length_before_hello),
        cmocka_unit_test(test_version_mismatch),
        cmocka_unit_test(test_undecodable_type),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_close_is_asynchronous),
        cmocka_unit_test(test_probe_silent_peer),
        cmocka_unit_test(test_probe_answering_peer),
        cmocka_unit_test(test_probe_busy_peer),
        cmocka_unit_test(test_request_reply),
        cmocka_unit_test(test_request_multipart),
        cmocka_unit_test(test_request_error_is_final),
        cmocka_unit_test(test_request_timeout),
        cmocka_unit_test(test_request_connection_reset),
        cmocka_unit_test(test_request_on_closed_channel),
        cmocka_unit_test(test_forget_requests),
        cmocka_unit_test(test_send_queue_bound),
        cmocka_unit_test(test_send_queue_drains),
        cmocka_unit_test(test_tx_delivered_per_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
