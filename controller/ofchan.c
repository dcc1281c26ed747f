/*
 * ofchan: one OpenFlow connection on a libev loop (see ofchan.h).
 *
 * States:
 *   HELLO      waiting for the peer's HELLO; only HELLO is accepted.
 *   CONNECTED  version negotiated; messages are dispatched.
 *   FLUSHING   an error was queued (e.g. HELLO_FAILED); close once sent.
 *   CLOSED     watchers stopped; 'closed' is about to be reported.
 */
#include "ofchan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "openflow/openflow.h"
#include "hash.h"
#include "oflimit.h"
#include "ratelog.h"
#include "tlsio.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofchan);

/* HELLO is message type 0 in every OpenFlow version. */
#define OFP_TYPE_HELLO 0

enum ofchan_state {
    OFCHAN_HELLO,
    OFCHAN_CONNECTED,
    OFCHAN_FLUSHING,
    OFCHAN_CLOSED,
};

struct pending {
    struct hmap_node node; /* In ofchan->pending, by xid. */
    struct ofchan *chan;
    ovs_be32 xid;
    ofchan_reply_func *cb;
    void *aux;
    ev_timer timeout;
};

struct ofchan {
    struct ev_loop *loop;
    int fd;
    struct tlsio *tls; /* NULL: plain socket. */
    char *name;
    struct ofchan_options opts;
    const struct ofchan_callbacks *cbs;
    void *aux;

    enum ofchan_state state;
    enum ofp_version version;

    ev_io rio, wio;
    ev_timer idle; /* Inactivity probe / HELLO deadline. */
    bool probe_sent;
    ev_timer closer; /* Reports 'closed' from the loop. */
    char *close_reason;

    struct ofpbuf rx;                /* Bytes received, not yet framed. */
    struct ovs_list txq;             /* struct ofpbuf, in send order. */
    size_t tx_ofs;                   /* Bytes of the head already sent. */
    size_t queued;                   /* Bytes in txq not yet sent. */
    ofchan_drained_func *drained_cb; /* ofchan_notify_drained(). */
    void *drained_aux;
    size_t drained_below;
    bool tx_wants_read;  /* TLS: the last send waits for readability. */
    bool rx_wants_write; /* TLS: the last receive waits for writability. */

    struct oflimit_peer lim; /* Registered when opts.limit is set. */

    struct hmap pending; /* struct pending. */

    uint64_t rx_msgs, tx_msgs;
    uint64_t tx_enqueued; /* Bytes ever queued (ofchan_tx_mark()). */
    uint64_t tx_written;  /* Bytes ever written to the socket. */

    /* AF_UNIX only: SIOCOUTQ there counts the memory of the unread socket
     * buffers, not bytes (a 100-byte message holds 768).  The last writes,
     * with what each took as measured around its sendmsg(), let
     * ofchan_tx_delivered() tell whether a mark's bytes are still unread. */
    bool is_unix;
    struct tx_write {
        uint64_t start;    /* tx_written before the write. */
        uint64_t truesize; /* What the write added to SIOCOUTQ. */
    } tx_ring[64];
    uint64_t n_tx_writes; /* tx_ring[n % 64] is the next slot. */
};

static void ofchan_read_cb(struct ev_loop *, ev_io *, int revents);
static void ofchan_write_cb(struct ev_loop *, ev_io *, int revents);
static void ofchan_idle_cb(struct ev_loop *, ev_timer *, int revents);
static void ofchan_closer_cb(struct ev_loop *, ev_timer *, int revents);
static void ofchan_fail(struct ofchan *, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
static void ofchan_flush(struct ofchan *);
static size_t ofchan_receive(struct ofchan *);
static void pending_finish(struct pending *);

void
ofchan_default_options(struct ofchan_options *o)
{
    o->allowed_versions = (1u << OFP13_VERSION) | (1u << OFP14_VERSION)
                          | (1u << OFP15_VERSION);
    o->probe_interval_ms = 5000;
    o->limit = oflimit_default();
    o->max_queue_bytes = OFLIMIT_DEFAULT_MAX_QUEUE_BYTES;
}

static const char *
ofchan_lim_name(const struct oflimit_peer *lim)
{
    return CONTAINER_OF(lim, struct ofchan, lim)->name;
}

static void
ofchan_lim_drop(struct oflimit_peer *lim, const char *reason)
{
    ofchan_fail(CONTAINER_OF(lim, struct ofchan, lim), "%s", reason);
}

/* Accounting of queued bytes, here and in the shared limit. */
static void
ofchan_unqueue(struct ofchan *c, size_t n)
{
    c->queued -= n;
    if (c->lim.limit) {
        oflimit_peer_unqueue(&c->lim, n, ev_now(c->loop));
    }
}

/* Frees the send queue (the channel is closing). */
static void
ofchan_drop_queue(struct ofchan *c)
{
    struct ofpbuf *b;
    LIST_FOR_EACH_POP (b, list_node, &c->txq) {
        ofpbuf_delete(b);
    }
    c->tx_ofs = 0;
    ofchan_unqueue(c, c->queued);
}

static double
idle_interval(const struct ofchan *c)
{
    return c->opts.probe_interval_ms > 0 ? c->opts.probe_interval_ms / 1e3
                                         : 5.0;
}

struct ofchan *
ofchan_create(struct ev_loop *loop, int fd, const char *name,
              const struct ofchan_options *opts,
              const struct ofchan_callbacks *cbs, void *aux)
{
    struct ofchan *c = xzalloc(sizeof *c);

    c->loop = loop;
    c->fd = fd;
    c->tls = tlsio_handover_take(fd);
    c->name = xstrdup(name);
    c->opts = *opts;
    c->cbs = cbs;
    c->aux = aux;
    c->state = OFCHAN_HELLO;
    ofpbuf_init(&c->rx, 4096);
    ovs_list_init(&c->txq);
    hmap_init(&c->pending);
    if (opts->limit) {
        c->lim.name = ofchan_lim_name;
        c->lim.drop = ofchan_lim_drop;
        oflimit_peer_register(opts->limit, &c->lim);
    }

    int domain;
    socklen_t len = sizeof domain;
    c->is_unix = !c->tls
                 && !getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len)
                 && domain == AF_UNIX;

    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) {
        (void) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    }
    (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

    ev_io_init(&c->rio, ofchan_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, ofchan_write_cb, fd, EV_WRITE);
    ev_init(&c->idle, ofchan_idle_cb);
    c->idle.repeat = idle_interval(c);
    ev_init(&c->closer, ofchan_closer_cb);
    ev_io_start(loop, &c->rio);
    ev_timer_again(loop, &c->idle);

    ofchan_send(c, ofputil_encode_hello(c->opts.allowed_versions));
    return c;
}

static void
ofchan_stop_watchers(struct ofchan *c)
{
    ev_io_stop(c->loop, &c->rio);
    ev_io_stop(c->loop, &c->wio);
    ev_timer_stop(c->loop, &c->idle);
}

void
ofchan_destroy(struct ofchan *c)
{
    if (!c) {
        return;
    }
    ofchan_stop_watchers(c);
    ev_timer_stop(c->loop, &c->closer);

    struct pending *p;
    HMAP_FOR_EACH_POP (p, node, &c->pending) {
        ev_timer_stop(c->loop, &p->timeout);
        free(p);
    }
    hmap_destroy(&c->pending);

    ofchan_drop_queue(c);
    oflimit_peer_unregister(&c->lim);
    ofpbuf_uninit(&c->rx);
    if (c->tls) {
        tlsio_shutdown(c->tls);
        tlsio_destroy(c->tls);
    }
    if (c->fd >= 0) {
        close(c->fd);
    }
    free(c->close_reason);
    free(c->name);
    free(c);
}

/* Stops all I/O and schedules the 'closed' report.  Idempotent: the first
 * reason wins. */
static void
ofchan_fail(struct ofchan *c, const char *format, ...)
{
    if (c->state == OFCHAN_CLOSED) {
        return;
    }
    va_list args;
    va_start(args, format);
    char *reason = xvasprintf(format, args);
    va_end(args);
    free(c->close_reason);
    c->close_reason = reason;

    c->state = OFCHAN_CLOSED;
    ofchan_stop_watchers(c);
    /* Nothing more will be sent: give the memory back now. */
    ofchan_drop_queue(c);
    ev_timer_set(&c->closer, 0., 0.);
    ev_timer_start(c->loop, &c->closer);
}

void
ofchan_close(struct ofchan *c, const char *reason)
{
    ofchan_fail(c, "%s", reason);
}

static void
ofchan_closer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                 int revents OVS_UNUSED)
{
    struct ofchan *c = CONTAINER_OF(w, struct ofchan, closer);

    /* Fail the pending requests first: their owners may still look at the
     * channel.  Callbacks run before 'closed', which may destroy 'c'. */
    while (!hmap_is_empty(&c->pending)) {
        struct pending *p
            = CONTAINER_OF(hmap_first(&c->pending), struct pending, node);
        ofchan_reply_func *cb = p->cb;
        void *aux = p->aux;

        pending_finish(p);
        cb(c, NULL, 0, ECONNRESET, true, aux);
    }
    c->cbs->closed(c, c->close_reason, c->aux);
}

int
ofchan_send(struct ofchan *c, struct ofpbuf *msg)
{
    if (c->state == OFCHAN_CLOSED) {
        ofpbuf_delete(msg);
        return ENOTCONN;
    }
    ovs_assert(msg->size >= OFCHAN_MIN_MSG && msg->size <= OFCHAN_MAX_MSG);
    ofpmsg_update_length(msg);

    /* The limit's per-peer bound may change at run time (a reload). */
    size_t max_queue = c->opts.max_queue_bytes;
    if (c->lim.limit) {
        max_queue = MIN(max_queue,
                        oflimit_config(c->lim.limit)->max_peer_queue_bytes);
    }
    if (c->queued + msg->size > max_queue) {
        ofpbuf_delete(msg);
        RL_WARN("%s: send queue over %zu bytes, disconnecting", c->name,
                max_queue);
        oflimit_count_peer_overflow(c->lim.limit);
        ofchan_fail(c, "send queue overflow");
        return ENOBUFS;
    }
    if (c->lim.limit
        && !oflimit_peer_queue(&c->lim, msg->size, ev_now(c->loop))) {
        ofpbuf_delete(msg);
        ofchan_fail(c, "output queue of all peers full");
        return ENOBUFS;
    }

    bool was_empty = ovs_list_is_empty(&c->txq);
    ovs_list_push_back(&c->txq, &msg->list_node);
    c->queued += msg->size;
    c->tx_enqueued += msg->size;
    c->tx_msgs++;
    if (was_empty) {
        ofchan_flush(c);
    }
    return 0;
}

/* The most messages one sendmsg() takes from the queue. */
#define OFCHAN_TX_BATCH 64

/* Sends from the head of the queue: up to OFCHAN_TX_BATCH messages in one
 * sendmsg(), or through TLS the head message.  Returns like send(). */
static ssize_t
chan_send_queue(struct ofchan *c)
{
    struct ofpbuf *b;
    if (c->tls) {
        b = CONTAINER_OF(ovs_list_front(&c->txq), struct ofpbuf, list_node);
        ssize_t r = tlsio_send(c->tls, (char *) b->data + c->tx_ofs,
                               b->size - c->tx_ofs);
        c->tx_wants_read
            = r < 0 && errno == EAGAIN && !tlsio_want_write(c->tls);
        return r;
    }
    struct iovec iov[OFCHAN_TX_BATCH];
    size_t n_iov = 0;
    LIST_FOR_EACH (b, list_node, &c->txq) {
        size_t ofs = n_iov ? 0 : c->tx_ofs;
        iov[n_iov].iov_base = (char *) b->data + ofs;
        iov[n_iov].iov_len = b->size - ofs;
        if (++n_iov == OFCHAN_TX_BATCH) {
            break;
        }
    }
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = n_iov };
    return sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* The socket's receive, through TLS when the channel has it; returns like
 * recv(). */
static ssize_t
chan_recv(struct ofchan *c, void *data, size_t n)
{
    if (!c->tls) {
        return recv(c->fd, data, n, MSG_DONTWAIT);
    }
    ssize_t r = tlsio_recv(c->tls, data, n);
    c->rx_wants_write = r < 0 && errno == EAGAIN && tlsio_want_write(c->tls);
    if (c->rx_wants_write) {
        ev_io_start(c->loop, &c->wio);
    }
    return r;
}

/* SIOCOUTQ of the channel's socket, or -1. */
static int
chan_outq(const struct ofchan *c)
{
    int outq;
    return ioctl(c->fd, SIOCOUTQ, &outq) < 0 ? -1 : outq;
}

/* AF_UNIX: records a write of 'n' bytes and what it took in the kernel
 * ('before' and 'after': SIOCOUTQ around it).  The peer may read in
 * between, which makes the difference too small: then a small buffer's
 * overhead is assumed. */
static void
chan_record_write(struct ofchan *c, size_t n, int before, int after)
{
    int64_t took = before >= 0 && after >= 0 ? (int64_t) after - before : 0;
    struct tx_write *w
        = &c->tx_ring[c->n_tx_writes++ % ARRAY_SIZE(c->tx_ring)];
    w->start = c->tx_written;
    w->truesize = took >= (int64_t) n ? (uint64_t) took : n + 512;
}

/* Writes as much of the queue as the socket takes now. */
static void
ofchan_flush(struct ofchan *c)
{
    while (!ovs_list_is_empty(&c->txq) && c->state != OFCHAN_CLOSED) {
        int outq_before = c->is_unix ? chan_outq(c) : -1;
        ssize_t n = chan_send_queue(c);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* TLS may wait for input instead: the read watcher is on
                 * and flushes again. */
                if (!c->tx_wants_read) {
                    ev_io_start(c->loop, &c->wio);
                }
                return;
            }
            ofchan_fail(c, "send failed (%s)", ovs_strerror(errno));
            return;
        }
        ofchan_unqueue(c, n);
        if (c->is_unix) {
            chan_record_write(c, n, outq_before, chan_outq(c));
        }
        c->tx_written += n;
        while (n > 0) {
            struct ofpbuf *b = CONTAINER_OF(ovs_list_front(&c->txq),
                                            struct ofpbuf, list_node);
            size_t left = b->size - c->tx_ofs;
            if ((size_t) n < left) {
                c->tx_ofs += n;
                break;
            }
            n -= left;
            ovs_list_remove(&b->list_node);
            ofpbuf_delete(b);
            c->tx_ofs = 0;
        }
    }
    if (c->state != OFCHAN_CLOSED) {
        if (!c->rx_wants_write) {
            ev_io_stop(c->loop, &c->wio);
        }
        if (c->state == OFCHAN_FLUSHING) {
            ofchan_fail(c, "%s",
                        c->close_reason ? c->close_reason
                                        : "closed after error");
        }
    }
}

static void
ofchan_write_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w,
                int revents OVS_UNUSED)
{
    struct ofchan *c = CONTAINER_OF(w, struct ofchan, wio);

    if (c->rx_wants_write) {
        /* A TLS receive waited for this. */
        c->rx_wants_write = false;
        ofchan_receive(c);
        if (c->state == OFCHAN_CLOSED) {
            return;
        }
    }
    ofchan_flush(c);
    if (c->drained_cb && c->queued < c->drained_below
        && c->state != OFCHAN_CLOSED) {
        ofchan_drained_func *cb = c->drained_cb;
        c->drained_cb = NULL;
        cb(c, c->drained_aux);
    }
}

void
ofchan_notify_drained(struct ofchan *c, size_t below, ofchan_drained_func *cb,
                      void *aux)
{
    c->drained_below = below;
    c->drained_cb = cb;
    c->drained_aux = aux;
}

size_t
ofchan_queued_bytes(const struct ofchan *c)
{
    return c->queued;
}

uint64_t
ofchan_tx_mark(const struct ofchan *c)
{
    return c->tx_enqueued;
}

bool
ofchan_tx_delivered(const struct ofchan *c, uint64_t mark)
{
    if (c->tx_written < mark) {
        return false;
    }
    if (c->tls) {
        /* The kernel holds ciphertext, which does not count the same. */
        return true;
    }
    /* SIOCOUTQ: what the peer has not taken yet (unix sockets: not read;
     * TCP: not acknowledged). */
    int outq = chan_outq(c);
    if (outq <= 0) {
        return true;
    }
    if (!c->is_unix) {
        return c->tx_written - (uint64_t) outq >= mark;
    }
    /* Unread buffers are the newest: the mark's bytes are read if what is
     * unread fits in the writes wholly after them.  Writes older than the
     * ring count as nothing, so a doubt says "not delivered". */
    uint64_t later = 0;
    uint64_t oldest = c->n_tx_writes > ARRAY_SIZE(c->tx_ring)
                          ? c->n_tx_writes - ARRAY_SIZE(c->tx_ring)
                          : 0;
    for (uint64_t i = c->n_tx_writes; i > oldest; i--) {
        const struct tx_write *w
            = &c->tx_ring[(i - 1) % ARRAY_SIZE(c->tx_ring)];
        if (w->start < mark) {
            break;
        }
        later += w->truesize;
    }
    return (uint64_t) outq <= later;
}

static struct pending *
pending_find(const struct ofchan *c, ovs_be32 xid)
{
    struct pending *p;
    HMAP_FOR_EACH_WITH_HASH (p, node, hash_int((OVS_FORCE uint32_t) xid, 0),
                             &c->pending) {
        if (p->xid == xid) {
            return p;
        }
    }
    return NULL;
}

static void
pending_finish(struct pending *p)
{
    ev_timer_stop(p->chan->loop, &p->timeout);
    hmap_remove(&p->chan->pending, &p->node);
    free(p);
}

static void
pending_timeout_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                   int revents OVS_UNUSED)
{
    struct pending *p = CONTAINER_OF(w, struct pending, timeout);
    struct ofchan *c = p->chan;
    ofchan_reply_func *cb = p->cb;
    void *aux = p->aux;

    RL_WARN("%s: request xid %#" PRIx32 " timed out", c->name, ntohl(p->xid));
    pending_finish(p);
    cb(c, NULL, 0, ETIMEDOUT, true, aux);
}

int
ofchan_request(struct ofchan *c, struct ofpbuf *msg, ofchan_reply_func *cb,
               void *aux, int timeout_ms)
{
    const struct ofp_header *oh = msg->data;
    ovs_be32 xid = oh->xid;

    if (c->state == OFCHAN_CLOSED) {
        ofpbuf_delete(msg);
        return ENOTCONN;
    }

    struct pending *p = xzalloc(sizeof *p);
    p->chan = c;
    p->xid = xid;
    p->cb = cb;
    p->aux = aux;
    ev_timer_init(&p->timeout, pending_timeout_cb,
                  timeout_ms > 0 ? timeout_ms / 1e3 : 0., 0.);
    if (timeout_ms > 0) {
        ev_timer_start(c->loop, &p->timeout);
    }
    hmap_insert(&c->pending, &p->node, hash_int((OVS_FORCE uint32_t) xid, 0));

    int error = ofchan_send(c, msg);
    if (error) {
        pending_finish(p);
    }
    return error;
}

void
ofchan_forget_requests(struct ofchan *c, const void *aux)
{
    struct pending *p;
    HMAP_FOR_EACH_SAFE (p, node, &c->pending) {
        if (p->aux == aux) {
            pending_finish(p);
        }
    }
}

static int
highest_version(uint32_t bitmap)
{
    return bitmap ? 31 - __builtin_clz(bitmap) : 0;
}

static void
ofchan_handle_hello(struct ofchan *c, const struct ofp_header *oh)
{
    uint32_t theirs = 0;
    bool ok = ofputil_decode_hello(oh, &theirs);
    uint32_t common = theirs & c->opts.allowed_versions;

    if (!ok || !common) {
        char *msg = xasprintf("we support OpenFlow version bitmap %#" PRIx32
                              ", peer supports %#" PRIx32,
                              c->opts.allowed_versions, theirs);
        RL_WARN("%s: version negotiation failed: %s", c->name, msg);
        enum ofp_version v = highest_version(c->opts.allowed_versions);
        if (oh->version && oh->version < v) {
            v = oh->version;
        }
        struct ofpbuf *err
            = ofperr_encode_hello(OFPERR_OFPHFC_INCOMPATIBLE, v, msg);
        free(msg);
        c->close_reason = xstrdup("no common OpenFlow version");
        c->state = OFCHAN_FLUSHING;
        ev_io_stop(c->loop, &c->rio);
        /* Bound the wait for the error to drain. */
        ev_timer_stop(c->loop, &c->idle);
        ev_timer_set(&c->idle, 1., 0.);
        ev_timer_start(c->loop, &c->idle);
        bool was_empty = ovs_list_is_empty(&c->txq);
        if (c->lim.limit
            && !oflimit_peer_queue(&c->lim, err->size, ev_now(c->loop))) {
            ofpbuf_delete(err);
            ofchan_fail(c, "output queue of all peers full");
            return;
        }
        ovs_list_push_back(&c->txq, &err->list_node);
        c->queued += err->size;
        if (was_empty) {
            ofchan_flush(c);
        }
        return;
    }

    c->version = highest_version(common);
    c->state = OFCHAN_CONNECTED;
    /* The HELLO deadline ran since creation: idle time starts now. */
    ev_timer_again(c->loop, &c->idle);
    VLOG_INFO("%s: negotiated %s", c->name,
              ofputil_version_to_string(c->version));
    c->cbs->connected(c, c->aux);
}

/* Handles one complete message 'oh' of 'len' bytes.  Returns false if the
 * channel failed. */
static bool
ofchan_handle_message(struct ofchan *c, const struct ofp_header *oh)
{
    c->rx_msgs++;

    if (c->state == OFCHAN_HELLO) {
        if (oh->type != OFP_TYPE_HELLO) {
            RL_WARN("%s: expected HELLO, got message type %u", c->name,
                    oh->type);
            ofchan_fail(c, "protocol error: no HELLO");
            return false;
        }
        ofchan_handle_hello(c, oh);
        return c->state == OFCHAN_CONNECTED;
    }

    if (oh->version != c->version) {
        RL_WARN("%s: message version %#x differs from negotiated "
                "%#x",
                c->name, oh->version, c->version);
        ofchan_fail(c, "protocol error: version mismatch");
        return false;
    }

    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);
    if (error) {
        RL_WARN("%s: undecodable message (type %u, length %u): %s", c->name,
                oh->type, ntohs(oh->length), ofperr_to_string(error));
        ofchan_fail(c, "protocol error: undecodable message");
        return false;
    }

    switch (type) {
    case OFPTYPE_ECHO_REQUEST:
        ofchan_send(c, ofputil_encode_echo_reply(oh));
        return c->state != OFCHAN_CLOSED;
    case OFPTYPE_ECHO_REPLY:
        return true;
    case OFPTYPE_HELLO:
        /* A second HELLO is harmless. */
        return true;
    default:
        break;
    }

    struct pending *p = pending_find(c, oh->xid);
    if (p) {
        bool final = type == OFPTYPE_ERROR || !ofpmsg_is_stat_reply(oh)
                     || !ofpmp_more(oh);
        ofchan_reply_func *cb = p->cb;
        void *aux = p->aux;
        if (final) {
            pending_finish(p);
        }
        cb(c, oh, type, 0, final, aux);
    } else {
        c->cbs->message(c, type, oh, c->aux);
    }
    return c->state != OFCHAN_CLOSED;
}

/* Reads once (up to 64 kB) and handles every complete message.  Returns
 * the number of bytes read: 0 when nothing was waiting or the channel
 * failed. */
static size_t
ofchan_receive(struct ofchan *c)
{
    ofpbuf_prealloc_tailroom(&c->rx, 65536);
    ssize_t n = chan_recv(c, ofpbuf_tail(&c->rx), ofpbuf_tailroom(&c->rx));
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        ofchan_fail(c, "receive failed (%s)", ovs_strerror(errno));
        return 0;
    }
    if (n == 0) {
        ofchan_fail(c, "connection closed by peer");
        return 0;
    }
    c->rx.size += n;
    c->probe_sent = false;
    if (c->state == OFCHAN_CONNECTED) {
        ev_timer_again(c->loop, &c->idle);
    }

    /* Frame: every complete message in the buffer, in order. */
    size_t ofs = 0;
    while (c->rx.size - ofs >= sizeof(struct ofp_header)) {
        /* A message may start at any offset: copy the header out. */
        const char *start = (const char *) c->rx.data + ofs;
        struct ofp_header h;
        memcpy(&h, start, sizeof h);
        size_t len = ntohs(h.length);
        if (len < OFCHAN_MIN_MSG) {
            RL_WARN("%s: message length %zu is below %d", c->name, len,
                    OFCHAN_MIN_MSG);
            ofchan_fail(c, "protocol error: bad message length");
            return 0;
        }
        if (c->rx.size - ofs < len) {
            break;
        }
        /* Handle a private, aligned copy: decoders may read past the
         * header as structs. */
        struct ofpbuf *msg = ofpbuf_clone_data(start, len);
        bool ok = ofchan_handle_message(c, msg->data);
        ofpbuf_delete(msg);
        if (!ok) {
            return 0;
        }
        ofs += len;
    }
    if (ofs) {
        memmove(c->rx.data, (char *) c->rx.data + ofs, c->rx.size - ofs);
        c->rx.size -= ofs;
    }
    return n;
}

static void
ofchan_read_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w,
               int revents OVS_UNUSED)
{
    struct ofchan *c = CONTAINER_OF(w, struct ofchan, rio);

    /* TLS may hold bytes that the socket no longer signals: take them
     * too, up to a bound, then come back on the next iteration. */
    size_t total = 0;
    for (;;) {
        size_t n = ofchan_receive(c);
        total += n;
        if (!n || !c->tls || !tlsio_pending(c->tls)) {
            break;
        }
        if (total >= 1024 * 1024) {
            ev_feed_event(c->loop, &c->rio, EV_READ);
            break;
        }
    }
    if (c->tx_wants_read && c->state != OFCHAN_CLOSED) {
        /* A TLS send waited for this. */
        c->tx_wants_read = false;
        ofchan_flush(c);
    }
}

size_t
ofchan_receive_pending(struct ofchan *c, size_t max_bytes)
{
    size_t total = 0;
    while (c->state == OFCHAN_CONNECTED && total < max_bytes) {
        size_t n = ofchan_receive(c);
        if (!n) {
            break;
        }
        total += n;
    }
    return total;
}

static void
ofchan_idle_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
               int revents OVS_UNUSED)
{
    struct ofchan *c = CONTAINER_OF(w, struct ofchan, idle);

    switch (c->state) {
    case OFCHAN_HELLO:
        RL_WARN("%s: no HELLO received in time", c->name);
        ofchan_fail(c, "no HELLO from peer");
        break;
    case OFCHAN_FLUSHING:
        ofchan_fail(c, "%s", c->close_reason);
        break;
    case OFCHAN_CONNECTED:
        if (c->opts.probe_interval_ms <= 0) {
            ev_timer_stop(c->loop, &c->idle);
        } else if (!c->probe_sent) {
            c->probe_sent = true;
            ofchan_send(c, ofputil_encode_echo_request(c->version));
            ev_timer_again(c->loop, &c->idle);
        } else {
            RL_WARN("%s: no response to inactivity probe after "
                    "%.1f s, disconnecting",
                    c->name, 2 * idle_interval(c));
            ofchan_fail(c, "inactivity probe timeout");
        }
        break;
    case OFCHAN_CLOSED:
    default:
        break;
    }
}

enum ofp_version
ofchan_version(const struct ofchan *c)
{
    return c->version;
}

enum ofputil_protocol
ofchan_protocol(const struct ofchan *c)
{
    return c->version ? ofputil_protocol_from_ofp_version(c->version) : 0;
}

const char *
ofchan_name(const struct ofchan *c)
{
    return c->name;
}

bool
ofchan_is_connected(const struct ofchan *c)
{
    return c->state == OFCHAN_CONNECTED;
}

const char *
ofchan_peer_cn(const struct ofchan *c)
{
    return c->tls ? tlsio_peer_cn(c->tls) : NULL;
}

void
ofchan_get_stats(const struct ofchan *c, struct ofchan_stats *s)
{
    s->rx_msgs = c->rx_msgs;
    s->tx_msgs = c->tx_msgs;
    s->queued_bytes = c->queued;
    s->pending_requests = hmap_count(&c->pending);
}
