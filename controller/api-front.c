/*
 * api-front: the API's client connections, before libmicrohttpd sees them.
 *
 * Each listener accepts its own connections.  A connection's bytes go
 * through the request framing of api-http.c: only requests whose head is
 * sound reach libmicrohttpd, through one end of a socket pair that was
 * handed to it with MHD_add_connection() when the first request was
 * complete enough to forward; the other end is ours, and what MHD answers
 * is copied back to the client.  So that:
 *
 *   - a malformed head (NUL, bad Content-Length, ...) gets a JSON error at
 *     once, and a request cut short by the client gets one as soon as the
 *     client closes its side: nothing waits for MHD's timeout;
 *   - a connection without a complete request (new, idle between requests
 *     or still sending one) is "incomplete": it must complete a request
 *     within request_timeout, and at most max_incomplete are kept, the
 *     oldest closed first to make room, so slow clients cannot lock out
 *     others; a client that takes nothing of its response for
 *     request_timeout is dropped too;
 *   - at most max_connections per listener; when out of descriptors,
 *     accepting pauses for a second (OpenBSD control.c);
 *   - on the TCP listener, TLS (OpenSSL, tlsio.h) with a client
 *     certificate verified against the CA: the handshake counts as
 *     incomplete time.
 *
 * Whether a forwarded request is finished is told by MHD's completion
 * callback (api.c calls api_front_request_done() with MHD's socket).
 */
#include "api-private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api-http.h"
#include "hash.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "tlsio.h"
#include "util.h"

#define this_module (*api_vlog_module)

#define READ_CHUNK 16384
#define BUF_MAX 65536 /* Soft bound of each direction's buffer. */
#define MAX_ROUNDS 8  /* Of reading and writing per wake-up. */

struct api_conn {
    struct ovs_list node;      /* In l->conns. */
    struct ovs_list wait_node; /* In l->waiting while 'waiting'. */
    struct hmap_node mhd_node; /* In l->by_mhd_fd while mhd_fd >= 0. */
    struct api_listener *l;
    int cfd;    /* The client's socket. */
    int mfd;    /* Our end of the pair, or -1 before it is made. */
    int mhd_fd; /* MHD's end (MHD owns it), or -1. */
    struct tlsio *tls;
    bool handshaking;

    struct api_http http;
    uint64_t forwarded, done; /* Requests to MHD; finished by MHD. */
    bool waiting;
    double since; /* When it last became incomplete. */

    struct ds up;   /* Client to MHD, not yet written. */
    struct ds down; /* MHD to client, not yet written. */
    bool cli_eof, mhd_eof, mfd_shut;
    bool mhd_wclosed; /* MHD takes no more bytes: they are dropped. */
    bool lingering;   /* All said: discarding the client's last bytes. */
    bool mhd_drained; /* Nothing more to read from MHD for now. */
    bool truncated;   /* The client ended in the middle of a request. */
    bool resp_seen;   /* MHD sent bytes since the last head went to it. */
    char *error;      /* Our own response, to send once MHD is done. */
    bool error_queued;
    bool dead; /* To be destroyed at the end of conn_run(). */

    bool cli_readable;  /* The client's socket may have bytes to read. */
    bool mhd_readable;  /* MHD's side may have bytes to read. */
    bool r_wants_write; /* TLS: the last client read waits for POLLOUT. */
    bool w_wants_read;  /* TLS: the last client write waits for POLLIN. */
    ev_io cio, mio;
    ev_timer deadline; /* While waiting: request_timeout. */
    ev_timer stall;    /* While a response waits for the client. */
};

static void conn_run(struct api_conn *);

/* Watchers. */

static void
io_set(struct ev_loop *loop, ev_io *w, int fd, int events)
{
    if (ev_is_active(w) && (w->events & (EV_READ | EV_WRITE)) == events) {
        return;
    }
    ev_io_stop(loop, w);
    if (events) {
        ev_io_set(w, fd, events);
        ev_io_start(loop, w);
    }
}

static void
conn_update_watchers(struct api_conn *c)
{
    struct ev_loop *loop = c->l->api->loop;
    int ce = 0;

    if (c->handshaking) {
        ce = c->r_wants_write ? EV_WRITE : EV_READ;
    } else {
        bool want_read = !c->cli_eof && !c->error && c->up.length < BUF_MAX;
        if (want_read || c->w_wants_read) {
            ce |= EV_READ;
        }
        if ((c->down.length && !c->w_wants_read) || c->r_wants_write) {
            ce |= EV_WRITE;
        }
    }
    io_set(loop, &c->cio, c->cfd, ce);

    if (c->mfd >= 0) {
        int me = 0;
        if (!c->mhd_eof && c->down.length < BUF_MAX) {
            me |= EV_READ;
        }
        if (c->up.length && !c->mhd_wclosed) {
            me |= EV_WRITE;
        }
        io_set(loop, &c->mio, c->mfd, me);
    }
}

/* Incomplete connections. */

static void
conn_set_waiting(struct api_conn *c, bool waiting)
{
    struct api_listener *l = c->l;
    struct ev_loop *loop = l->api->loop;

    if (waiting == c->waiting) {
        return;
    }
    c->waiting = waiting;
    if (waiting) {
        c->since = ev_now(loop);
        ovs_list_push_back(&l->waiting, &c->wait_node);
        l->n_waiting++;
        ev_timer_set(&c->deadline, l->request_timeout, 0.);
        ev_timer_start(loop, &c->deadline);
    } else {
        ovs_list_remove(&c->wait_node);
        l->n_waiting--;
        ev_timer_stop(loop, &c->deadline);
    }
}

/* Lifecycle. */

static void
conn_forget_mhd(struct api_conn *c)
{
    if (c->mhd_fd >= 0) {
        hmap_remove(&c->l->by_mhd_fd, &c->mhd_node);
        c->mhd_fd = -1;
    }
}

static void
conn_destroy(struct api_conn *c)
{
    struct api_listener *l = c->l;
    struct ev_loop *loop = l->api->loop;

    conn_set_waiting(c, false);
    ev_io_stop(loop, &c->cio);
    ev_io_stop(loop, &c->mio);
    ev_timer_stop(loop, &c->deadline); /* Also the lingering timer. */
    ev_timer_stop(loop, &c->stall);
    conn_forget_mhd(c);
    ovs_list_remove(&c->node);
    l->n_conns--;
    if (c->tls) {
        tlsio_shutdown(c->tls);
        tlsio_destroy(c->tls);
    }
    close(c->cfd);
    if (c->mfd >= 0) {
        close(c->mfd);
    }
    api_http_destroy(&c->http);
    ds_destroy(&c->up);
    ds_destroy(&c->down);
    free(c->error);
    free(c);
}

/* Closes 'c' now with a best-effort 'status' reply (0: none). */
static void
conn_abort(struct api_conn *c, unsigned int status, const char *message)
{
    if (status && !c->handshaking && !c->tls) {
        char *r = api_http_error_response(status, message);
        ignore(send(c->cfd, r, strlen(r), MSG_NOSIGNAL | MSG_DONTWAIT));
        free(r);
    }
    conn_destroy(c);
}

/* Reads only what the loop said is readable (or everything, after a
 * custom event): a request costs no recv() that finds nothing. */
static void
conn_io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *w, int revents)
{
    struct api_conn *c = w->data;
    if (revents & EV_CUSTOM) {
        c->cli_readable = c->mhd_readable = true;
    } else if (w == &c->cio) {
        /* TLS: a read may also wait for writability. */
        c->cli_readable = true;
    } else if (revents & EV_READ) {
        c->mhd_readable = true;
    }
    conn_run(c);
}

static void
conn_deadline_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
                 int revents OVS_UNUSED)
{
    struct api_conn *c = CONTAINER_OF(w, struct api_conn, deadline);
    struct api_listener *l = c->l;

    if (c->lingering) {
        conn_destroy(c);
        return;
    }
    l->stats.timed_out++;
    if (c->handshaking || api_http_mid_request(&c->http)) {
        RL_WARN("%s: closing a connection that did not complete its "
                "request within %.1f s",
                l->name, l->request_timeout);
        conn_abort(c, 408, "the request did not complete in time");
    } else {
        /* Idle between requests: a quiet close. */
        RL_DBG("%s: closing an idle connection", l->name);
        conn_destroy(c);
    }
}

static void
conn_stall_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *w,
              int revents OVS_UNUSED)
{
    struct api_conn *c = CONTAINER_OF(w, struct api_conn, stall);

    c->l->stats.timed_out++;
    RL_WARN("%s: closing a connection whose client took nothing of "
            "its response for %.1f s",
            c->l->name, c->l->request_timeout);
    conn_destroy(c);
}

static struct api_conn *
conn_create(struct api_listener *l, int fd)
{
    struct api_conn *c = xzalloc(sizeof *c);
    c->l = l;
    c->cfd = fd;
    c->mfd = c->mhd_fd = -1;
    c->cli_readable = true;
    api_http_init(&c->http);
    ds_init(&c->up);
    ds_init(&c->down);
    ev_io_init(&c->cio, conn_io_cb, fd, EV_READ);
    c->cio.data = c;
    ev_init(&c->mio, conn_io_cb);
    c->mio.data = c;
    ev_init(&c->deadline, conn_deadline_cb);
    ev_init(&c->stall, conn_stall_cb);
    c->stall.repeat = l->request_timeout;
    if (l->tls) {
        c->tls = tlsio_create(l->tls, fd, true);
        c->handshaking = true;
    }
    ovs_list_push_back(&l->conns, &c->node);
    l->n_conns++;
    conn_set_waiting(c, true);
    return c;
}

/* Gives MHD its end of a new socket pair.  Returns false (and queues a 503
 * error) if that cannot be done. */
static bool
conn_attach(struct api_conn *c)
{
    struct api_listener *l = c->l;
    int sv[2];

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv)) {
        RL_WARN("%s: socketpair failed (%s)", l->name,
                ovs_strerror(errno));
        goto fail;
    }
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(c->cfd, (struct sockaddr *) &ss, &len)) {
        memset(&ss, 0, sizeof ss);
        ss.ss_family = AF_UNIX;
        len = sizeof(sa_family_t);
    }
    if (MHD_add_connection(l->mhd, sv[1], (struct sockaddr *) &ss, len)
        != MHD_YES) {
        /* MHD closed sv[1]. */
        RL_WARN("%s: HTTP server refused a connection (%s)", l->name,
                ovs_strerror(errno));
        close(sv[0]);
        goto fail;
    }
    c->mfd = sv[0];
    c->mhd_fd = sv[1];
    c->mhd_drained = true;
    /* A socket number MHD closed may already be reused: the newest
     * holder is the one MHD speaks of. */
    struct api_conn *old;
    HMAP_FOR_EACH_WITH_HASH (old, mhd_node, hash_int(sv[1], 0),
                             &l->by_mhd_fd) {
        if (old->mhd_fd == sv[1]) {
            conn_forget_mhd(old);
            break;
        }
    }
    hmap_insert(&l->by_mhd_fd, &c->mhd_node, hash_int(sv[1], 0));
    ev_io_set(&c->mio, c->mfd, EV_READ);
    api_listener_kick(l);
    return true;

fail:
    free(c->error);
    c->error = api_http_error_response(503, "the API cannot take the "
                                            "request now");
    c->mhd_eof = true;
    ds_clear(&c->up);
    return false;
}

/* I/O with the client, through TLS when it has it. */

static ssize_t
cli_recv(struct api_conn *c, void *buf, size_t n)
{
    if (!c->tls) {
        return recv(c->cfd, buf, n, MSG_DONTWAIT);
    }
    ssize_t r = tlsio_recv(c->tls, buf, n);
    c->r_wants_write = r < 0 && errno == EAGAIN && tlsio_want_write(c->tls);
    return r;
}

static ssize_t
cli_send(struct api_conn *c, const void *buf, size_t n)
{
    if (!c->tls) {
        return send(c->cfd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ssize_t r = tlsio_send(c->tls, buf, n);
    c->w_wants_read = r < 0 && errno == EAGAIN && !tlsio_want_write(c->tls);
    return r;
}

/* Returns false while the handshake goes on or if it failed. */
static bool
conn_handshake(struct api_conn *c)
{
    char *error;
    int r = tlsio_handshake(c->tls, &error);
    if (r == EAGAIN) {
        c->r_wants_write = tlsio_want_write(c->tls);
        return false;
    }
    if (r) {
        c->l->stats.tls_failed++;
        RL_WARN("%s: TLS handshake failed: %s", c->l->name, error);
        free(error);
        c->dead = true;
        return false;
    }
    c->handshaking = false;
    c->r_wants_write = false;
    VLOG_DBG("%s: TLS client certificate CN \"%s\"", c->l->name,
             tlsio_peer_cn(c->tls));
    return true;
}

/* A complete request is on its way to MHD. */
static void
conn_request_complete(struct api_conn *c)
{
    c->forwarded++;
}

static void
conn_fail(struct api_conn *c, unsigned int status, const char *message)
{
    c->l->stats.bad_requests++;
    RL_DBG("%s: refused request: %u %s", c->l->name, status,
           message);
    free(c->error);
    c->error = api_http_error_response(status, message);
}

/* Runs the client's bytes through the framing into 'up'. */
static void
conn_frame(struct api_conn *c, const char *buf, size_t n)
{
    size_t off = 0;
    while (off < n && !c->error) {
        bool body = api_http_in_body(&c->http);
        size_t used;
        enum api_http_event ev
            = api_http_feed(&c->http, buf + off, n - off, &used);
        if (body) {
            ds_put_buffer(&c->up, buf + off, used);
        }
        off += used;
        switch (ev) {
        case API_HTTP_MORE:
            break;
        case API_HTTP_HEAD_DONE:
            ds_put_buffer(&c->up, c->http.head.string, c->http.head.length);
            api_http_next_head(&c->http);
            c->resp_seen = false;
            if (!api_http_in_body(&c->http)) {
                conn_request_complete(c);
            }
            break;
        case API_HTTP_DONE:
            conn_request_complete(c);
            break;
        case API_HTTP_ERROR:
        default:
            conn_fail(c, c->http.status, c->http.error);
            break;
        }
    }
}

static bool
conn_read_client(struct api_conn *c)
{
    if (c->cli_eof || c->error || c->up.length >= BUF_MAX
        || !c->cli_readable) {
        return false;
    }
    char buf[READ_CHUNK];
    bool progress = false;
    do {
        ssize_t n = cli_recv(c, buf, sizeof buf);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            c->cli_readable = false;
            break;
        }
        if (n > 0 && n < (ssize_t) sizeof buf && !c->tls) {
            /* Level-triggered: the loop tells when there is more. */
            c->cli_readable = false;
        }
        progress = true;
        if (n <= 0) {
            c->cli_eof = true;
            if (api_http_mid_request(&c->http)) {
                c->truncated = true;
            }
            break;
        }
        conn_frame(c, buf, n);
        /* TLS may hold bytes that the socket will not signal again. */
    } while (c->tls && tlsio_pending(c->tls) && !c->error
             && c->up.length < BUF_MAX);
    return progress;
}

static bool
conn_write_mhd(struct api_conn *c)
{
    if (c->mhd_wclosed) {
        ds_clear(&c->up);
        return false;
    }
    if (c->mfd < 0 || !c->up.length) {
        return false;
    }
    ssize_t n = send(c->mfd, c->up.string, c->up.length,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            return false;
        }
        /* MHD closed its side: what it said before is still to be
         * read. */
        c->mhd_wclosed = true;
        ds_clear(&c->up);
        return true;
    }
    memmove(c->up.string, c->up.string + n, c->up.length - n);
    c->up.length -= n;
    c->mhd_drained = false;
    return true;
}

static bool
conn_read_mhd(struct api_conn *c)
{
    if (c->mfd < 0 || c->mhd_eof || c->down.length >= BUF_MAX
        || !c->mhd_readable) {
        return false;
    }
    char buf[READ_CHUNK];
    ssize_t n = recv(c->mfd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        c->mhd_drained = true;
        c->mhd_readable = false;
        return false;
    }
    if (n > 0 && n < (ssize_t) sizeof buf) {
        /* A short read emptied the socket (for now). */
        c->mhd_readable = false;
    }
    if (n <= 0) {
        c->mhd_eof = true;
        conn_forget_mhd(c);
        return true;
    }
    ds_put_buffer(&c->down, buf, n);
    c->resp_seen = true;
    c->mhd_drained = !c->mhd_readable;
    return true;
}

static bool
conn_write_client(struct api_conn *c)
{
    struct ev_loop *loop = c->l->api->loop;

    if (!c->down.length) {
        return false;
    }
    ssize_t n = cli_send(c, c->down.string, c->down.length);
    if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
            if (!ev_is_active(&c->stall)) {
                ev_timer_again(loop, &c->stall);
            }
            return false;
        }
        c->dead = true;
        return false;
    }
    memmove(c->down.string, c->down.string + n, c->down.length - n);
    c->down.length -= n;
    if (c->down.length) {
        ev_timer_again(loop, &c->stall);
    } else {
        ev_timer_stop(loop, &c->stall);
    }
    return true;
}

/* After the I/O: ends of stream, our own replies, closing, waiting. */
static void
conn_check(struct api_conn *c)
{
    bool ending = c->cli_eof || c->error;

    if (ending && c->mfd >= 0 && !c->mhd_eof && !c->up.length
        && c->forwarded == c->done && c->mhd_drained) {
        /* MHD has answered every request and we have read it all: what
         * it may hold of a truncated or refused request is of no use.
         * (Closing, not waiting for MHD to read the end of the stream: it
         * may not look again before its own timeout.) */
        ev_io_stop(c->l->api->loop, &c->mio);
        close(c->mfd);
        c->mfd = -1;
        conn_forget_mhd(c);
        c->mhd_eof = true;
    } else if (ending && !c->up.length && c->mfd >= 0 && !c->mfd_shut
               && !c->mhd_eof) {
        /* Requests are still in progress: MHD hears the end once it has
         * everything before it (a suspended request is aborted). */
        shutdown(c->mfd, SHUT_WR);
        c->mfd_shut = true;
    }
    if ((c->cli_eof || c->error) && c->mfd < 0) {
        /* Nothing was ever forwarded. */
        c->mhd_eof = true;
    }
    if (c->mhd_eof && !c->down.length) {
        if (!c->error && c->truncated && !c->resp_seen) {
            c->l->stats.truncated++;
            c->error = api_http_error_response(
                400, "the request ended before its end (incomplete head "
                     "or body)");
        }
        if (c->error && !c->error_queued) {
            c->error_queued = true;
            ds_put_cstr(&c->down, c->error);
            conn_write_client(c);
        }
        if (!c->down.length) {
            /* Everything said. */
            c->dead = true;
        }
    }
    if (!c->dead) {
        bool waiting = (c->handshaking
                        || (c->forwarded == c->done && !c->error && !c->cli_eof
                            && !c->mhd_eof));
        conn_set_waiting(c, waiting);
    }
}

/* Everything has been said: closes 'c', after a moment in which the
 * client's last bytes are read and dropped if it may still be sending
 * (closing with unread bytes would reset a TCP connection and could take
 * the response with it). */
static void
conn_finish(struct api_conn *c)
{
    struct ev_loop *loop = c->l->api->loop;

    if (c->cli_eof || c->lingering || c->down.length) {
        conn_destroy(c);
        return;
    }
    c->lingering = true;
    c->dead = false;
    conn_set_waiting(c, false);
    ev_timer_stop(loop, &c->stall);
    if (c->mfd >= 0) {
        ev_io_stop(loop, &c->mio);
        close(c->mfd);
        c->mfd = -1;
        conn_forget_mhd(c);
    }
    if (c->tls) {
        tlsio_shutdown(c->tls);
    }
    shutdown(c->cfd, SHUT_WR);
    ev_timer_set(&c->deadline, 1.0, 0.);
    ev_timer_start(loop, &c->deadline);
    io_set(loop, &c->cio, c->cfd, EV_READ);
}

/* Lingering: reads and drops, up to the end of the stream. */
static void
conn_linger(struct api_conn *c)
{
    char buf[READ_CHUNK];
    for (int i = 0; i < MAX_ROUNDS; i++) {
        ssize_t n = recv(c->cfd, buf, sizeof buf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            return;
        }
        if (n <= 0) {
            conn_destroy(c);
            return;
        }
    }
}

static void
conn_run(struct api_conn *c)
{
    if (c->lingering) {
        conn_linger(c);
        return;
    }
    if (c->handshaking && !conn_handshake(c)) {
        if (c->dead) {
            conn_destroy(c);
        } else {
            conn_update_watchers(c);
        }
        return;
    }

    bool progress = true;
    for (int i = 0; i < MAX_ROUNDS && progress && !c->dead; i++) {
        progress = conn_read_client(c);
        if (c->up.length && c->mfd < 0 && !c->mhd_eof) {
            conn_attach(c);
        }
        progress |= conn_write_mhd(c);
        progress |= conn_read_mhd(c);
        progress |= conn_write_client(c);
    }
    conn_check(c);
    if (c->dead) {
        conn_finish(c);
        return;
    }
    conn_update_watchers(c);
    if (progress) {
        /* The rounds ended with more to do: come back on the next loop
         * iteration.  (TLS bytes held by OpenSSL are read to EAGAIN in
         * conn_read_client(), or once 'up' has room again.) */
        ev_feed_event(c->l->api->loop, &c->cio, EV_CUSTOM);
    }
}

void
api_front_request_done(struct api_listener *l, int mhd_fd)
{
    struct api_conn *c;
    HMAP_FOR_EACH_WITH_HASH (c, mhd_node, hash_int(mhd_fd, 0), &l->by_mhd_fd) {
        if (c->mhd_fd == mhd_fd) {
            if (c->done < c->forwarded) {
                c->done++;
            }
            /* MHD wrote the whole response before saying so: read again
             * before concluding that it is all in. */
            c->mhd_drained = false;
            /* Called from within MHD: carry on from the loop. */
            ev_feed_event(l->api->loop, &c->cio, EV_CUSTOM);
            return;
        }
    }
}

/* Accepting. */

/* Makes room for one more connection: closes the oldest incomplete one if
 * the listener is full, or if there are max_incomplete of them and the
 * oldest has had its grace time (a burst of clients that connect at once
 * and send their requests right away is not cut short; slow ones are).
 * Returns false if the listener is full of connections with requests in
 * progress. */
static bool
front_make_room(struct api_listener *l)
{
    double grace = MIN(1.0, l->request_timeout / 4);
    double now = ev_now(l->api->loop);

    while (l->n_waiting) {
        struct api_conn *old = CONTAINER_OF(ovs_list_front(&l->waiting),
                                            struct api_conn, wait_node);
        if (l->n_conns < l->max_conns
            && (l->n_waiting < l->max_incomplete
                || now - old->since < grace)) {
            break;
        }
        l->stats.evicted++;
        if (old->handshaking || api_http_mid_request(&old->http)) {
            RL_WARN("%s: %zu connections without a complete request; "
                    "closing the oldest (%.1f s)",
                    l->name, l->n_waiting, now - old->since);
            conn_abort(old, 408, "closed to make room for other clients");
        } else {
            conn_destroy(old);
        }
    }
    return l->n_conns < l->max_conns;
}

static void
front_accept_cb(struct ev_loop *loop, ev_io *w, int revents OVS_UNUSED)
{
    struct api_listener *l = CONTAINER_OF(w, struct api_listener, accept_io);

    for (int i = 0; i < 64; i++) {
        int fd
            = accept4(l->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                || errno == ENOMEM) {
                l->stats.accept_paused++;
                RL_WARN("%s: accept failed (%s); pausing accepts for "
                        "1 s",
                        l->name, ovs_strerror(errno));
                ev_io_stop(loop, &l->accept_io);
                ev_timer_set(&l->resume, 1., 0.);
                ev_timer_start(loop, &l->resume);
            } else if (errno == ECONNABORTED || errno == EINTR) {
                continue;
            } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
                RL_WARN("%s: accept failed (%s)", l->name,
                        ovs_strerror(errno));
            }
            return;
        }
        if (!front_make_room(l)) {
            l->stats.refused++;
            RL_WARN("%s: refusing a connection: %zu connections with "
                    "requests in progress (api.max_connections)",
                    l->name, l->n_conns);
            if (!l->tls) {
                char *r = api_http_error_response(503, "too many API "
                                                       "connections");
                ignore(send(fd, r, strlen(r), MSG_NOSIGNAL | MSG_DONTWAIT));
                free(r);
            }
            close(fd);
            continue;
        }
        l->stats.accepted++;
        conn_run(conn_create(l, fd));
    }
}

static void
front_resume_cb(struct ev_loop *loop, ev_timer *w, int revents OVS_UNUSED)
{
    struct api_listener *l = CONTAINER_OF(w, struct api_listener, resume);
    ev_io_start(loop, &l->accept_io);
}

void
api_front_start(struct api_listener *l, int listen_fd,
                const struct api_options *opts, bool tcp)
{
    l->listen_fd = listen_fd;
    l->tls = tcp ? opts->tcp_tls : NULL;
    l->max_conns = opts->max_connections ? opts->max_connections
                                         : API_DEFAULT_MAX_CONNECTIONS;
    l->max_incomplete
        = MIN(l->max_conns, opts->max_incomplete ? opts->max_incomplete
                                                 : API_DEFAULT_MAX_INCOMPLETE);
    l->request_timeout
        = (opts->request_timeout_ms ? opts->request_timeout_ms
                                    : API_DEFAULT_REQUEST_TIMEOUT_MS)
          / 1000.0;
    ovs_list_init(&l->conns);
    ovs_list_init(&l->waiting);
    hmap_init(&l->by_mhd_fd);
    ev_io_init(&l->accept_io, front_accept_cb, listen_fd, EV_READ);
    ev_init(&l->resume, front_resume_cb);
    ev_io_start(l->api->loop, &l->accept_io);
}

void
api_front_stop(struct api_listener *l)
{
    struct ev_loop *loop = l->api->loop;
    struct api_conn *c, *next;

    LIST_FOR_EACH_SAFE (c, next, node, &l->conns) {
        conn_destroy(c);
    }
    /* MHD may still report completions while it stops: leave an empty
     * map to look them up in. */
    hmap_destroy(&l->by_mhd_fd);
    hmap_init(&l->by_mhd_fd);
    ev_io_stop(loop, &l->accept_io);
    ev_timer_stop(loop, &l->resume);
    if (l->listen_fd >= 0) {
        close(l->listen_fd);
        l->listen_fd = -1;
    }
}

json_t *
api_front_to_json(const struct api_listener *l)
{
    const struct api_front_stats *s = &l->stats;
    return json_pack(
        "{s:s, s:b, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
        "s:I, s:I}",
        "name", l->name, "tls", l->tls != NULL, "connections",
        (json_int_t) l->n_conns, "incomplete", (json_int_t) l->n_waiting,
        "max_connections", (json_int_t) l->max_conns, "max_incomplete",
        (json_int_t) l->max_incomplete, "request_timeout_ms",
        (json_int_t) (l->request_timeout * 1000 + 0.5), "accepted",
        (json_int_t) s->accepted, "refused", (json_int_t) s->refused,
        "evicted", (json_int_t) s->evicted, "timed_out",
        (json_int_t) s->timed_out, "bad_requests",
        (json_int_t) s->bad_requests, "truncated", (json_int_t) s->truncated,
        "tls_handshakes_failed", (json_int_t) s->tls_failed, "accept_paused",
        (json_int_t) s->accept_paused);
}
