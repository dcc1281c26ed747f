/*
 * ofchan: one OpenFlow connection on a libev loop.
 *
 * Owns a connected stream socket (TCP, TLS or unix): frames messages by the
 * OpenFlow header, negotiates the version with HELLO (highest common of the
 * allowed versions), answers echo requests, probes an idle peer and closes
 * a silent one, matches replies to requests by xid (with a callback and a
 * timeout), and keeps a bounded send queue.  libopenvswitch encodes and
 * decodes; this module only moves bytes and dispatches.
 *
 * A socket that came from a TLS listener or connector (oflisten) carries
 * its session (tlsio_handover_take()): the channel then reads and writes
 * through it, and ofchan_peer_cn() names the peer's certificate.
 *
 * With a limit (oflimit.h), the channel counts as one peer there and its
 * send queue counts towards the total of all peers; a channel dropped to
 * keep that total closes like any failed one.
 *
 * A malformed message (bad length, undecodable, wrong version) closes this
 * connection only, with a rate-limited log line.  Closing is always
 * reported asynchronously through the 'closed' callback, from the event
 * loop, never from inside a call into this module.
 */
#ifndef VMACD_OFCHAN_H
#define VMACD_OFCHAN_H 1

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"

struct oflimit;
struct ofpbuf;
struct ofp_header;
struct ofchan;

/* Largest message accepted or sent, and the smallest. */
#define OFCHAN_MAX_MSG 65535
#define OFCHAN_MIN_MSG 8

struct ofchan_options {
    uint32_t allowed_versions; /* Bitmap of 1u << OFPxx_VERSION. */
    int probe_interval_ms;     /* Idle time before an echo; a peer silent
                                * for twice this long is disconnected.
                                * Also bounds the wait for HELLO.  0 = off
                                * (HELLO then waits 5 s). */
    size_t max_queue_bytes;    /* Send queue bound; past it: disconnect.
                                * With a limit, its per-peer bound too
                                * (the smaller wins). */
    struct oflimit *limit;     /* Shared bounds, or NULL. */
};

/* Default options: OpenFlow 1.3 to 1.5, 5 s probe, 64 MiB queue, the
 * process's default limit (oflimit_default(), may be NULL). */
void ofchan_default_options(struct ofchan_options *);

struct ofchan_callbacks {
    /* Version negotiated: the channel is ready for requests. */
    void (*connected)(struct ofchan *, void *aux);

    /* A message that is not HELLO, echo, or a reply to a request made with
     * ofchan_request() (e.g. PORT_STATUS, PACKET_IN, an error for an
     * untracked xid).  'oh' is valid only during the call. */
    void (*message)(struct ofchan *, enum ofptype, const struct ofp_header *,
                    void *aux);

    /* The connection is gone ('reason' says why).  The owner should call
     * ofchan_destroy(), which it may do inside this callback. */
    void (*closed)(struct ofchan *, const char *reason, void *aux);
};

/* Takes ownership of connected socket 'fd' (made non-blocking here).
 * 'name' identifies the peer in log messages.  Sends HELLO at once. */
struct ofchan *ofchan_create(struct ev_loop *, int fd, const char *name,
                             const struct ofchan_options *,
                             const struct ofchan_callbacks *, void *aux);

/* Closes the socket and frees everything.  Pending requests are dropped
 * without their callbacks being called.  NULL-safe. */
void ofchan_destroy(struct ofchan *);

/* Starts an orderly close: 'closed' is called later with 'reason'. */
void ofchan_close(struct ofchan *, const char *reason);

/* Queues 'msg' (ownership taken) for sending.  Returns 0, or ENOTCONN if
 * the channel is closing (msg freed), or ENOBUFS if the send queue is past
 * its bound (msg freed, channel closing). */
int ofchan_send(struct ofchan *, struct ofpbuf *msg);

/* Called for each reply to a request.  'reply' is NULL when the request
 * timed out (error ETIMEDOUT) or the channel closed (ECONNRESET); then
 * 'type' is meaningless.  For multipart requests the callback runs once
 * per reply part; 'final' says whether more will follow.  An OFPT_ERROR
 * with the request's xid is a final reply of type OFPTYPE_ERROR. */
typedef void ofchan_reply_func(struct ofchan *, const struct ofp_header *reply,
                               enum ofptype type, int error, bool final,
                               void *aux);

/* Sends 'msg' (ownership taken) and calls 'cb' with its reply (or replies)
 * later, never before this function returns.  'timeout_ms' > 0 bounds the
 * wait.  Returns 0 or an errno as ofchan_send(); on error 'cb' is not
 * called. */
int ofchan_request(struct ofchan *, struct ofpbuf *msg, ofchan_reply_func *cb,
                   void *aux, int timeout_ms);

/* Drops the tracking of every pending request whose aux is 'aux' (their
 * callbacks will not be called).  For owners that go away first. */
void ofchan_forget_requests(struct ofchan *, const void *aux);

/* Reads and handles, right now, what the peer has sent and the loop has
 * not read yet, up to about 'max_bytes' (callbacks run as from the loop).
 * For a caller about to conclude that the peer said nothing by a deadline,
 * when the loop may have been busy past it.  Returns the bytes read.  The
 * channel may have failed meanwhile ('closed' still comes from the loop). */
size_t ofchan_receive_pending(struct ofchan *, size_t max_bytes);

/* Calls 'cb' once, from the loop, when the send queue (ofchan_queued_bytes())
 * gets below 'below' bytes after a write.  For senders of many messages
 * that keep their queue short: call it only while the queue is at or above
 * 'below' (then the socket is full and a write will come).  A new call
 * replaces the last one; 'cb' NULL cancels. */
typedef void ofchan_drained_func(struct ofchan *, void *aux);
void ofchan_notify_drained(struct ofchan *, size_t below,
                           ofchan_drained_func *cb, void *aux);
size_t ofchan_queued_bytes(const struct ofchan *);

/* Whether the peer has taken what was sent up to now: ofchan_tx_mark() is
 * the position after the last message queued; ofchan_tx_delivered() is
 * true once everything up to 'mark' left vmacd's queue and the kernel's
 * send buffer.  A stopped switch takes nothing. */
uint64_t ofchan_tx_mark(const struct ofchan *);
bool ofchan_tx_delivered(const struct ofchan *, uint64_t mark);

/* Negotiated version (0 before HELLO completes). */
enum ofp_version ofchan_version(const struct ofchan *);
enum ofputil_protocol ofchan_protocol(const struct ofchan *);
const char *ofchan_name(const struct ofchan *);
bool ofchan_is_connected(const struct ofchan *);

/* The CN of the peer's verified TLS certificate, or NULL on a connection
 * without TLS. */
const char *ofchan_peer_cn(const struct ofchan *);

/* Counters for dumps and tests. */
struct ofchan_stats {
    uint64_t rx_msgs, tx_msgs;
    size_t queued_bytes;
    size_t pending_requests;
};
void ofchan_get_stats(const struct ofchan *, struct ofchan_stats *);

#endif /* ofchan.h */
