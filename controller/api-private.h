/*
 * api-private: what the api module's files (api.c, api-events.c,
 * api-socket.c) share.  Not for use outside the api module.
 */
#ifndef VMACD_API_PRIVATE_H
#define VMACD_API_PRIVATE_H 1

#include <ev.h>
#include <microhttpd.h>
#include <stdbool.h>
#include <sys/types.h>

#include "api.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"

struct tlsio_ctx;
struct vlog_module;

/* Request bodies larger than API_MAX_BODY sent without a Content-Length are
 * read and discarded up to this many bytes before the connection is
 * dropped. */
#define API_MAX_DISCARD (16 * 1024 * 1024)

#define API_MAX_ROUTE_SEGS 16

/* All api files log as module "api" (defined in api.c). */
extern struct vlog_module *const api_vlog_module;

/* What a listener's front has done (api-front.c). */
struct api_front_stats {
    uint64_t accepted;      /* Connections taken. */
    uint64_t refused;       /* Closed at once: max_connections reached. */
    uint64_t evicted;       /* Closed without a complete request to make
                             * room (max_incomplete, max_connections). */
    uint64_t timed_out;     /* No complete request, or a response not
                             * taken, within request_timeout. */
    uint64_t bad_requests;  /* Refused by the framing checks. */
    uint64_t truncated;     /* Ended before the end of their request. */
    uint64_t tls_failed;    /* TLS handshakes that failed. */
    uint64_t accept_paused; /* accept() out of descriptors: paused. */
};

/* One listening socket: its front (our connections, api-front.c) and the
 * libmicrohttpd daemon that they feed through socket pairs. */
struct api_listener {
    struct api *api;
    struct MHD_Daemon *mhd;
    ev_io io;         /* MHD's epoll fd. */
    ev_timer timer;   /* MHD's timeouts, and "run soon" kicks. */
    const char *name; /* For logs. */
    bool quiet;       /* We are closing a connection on purpose: MHD's
                       * complaint about it is not worth a warning. */

    /* Front. */
    int listen_fd;
    ev_io accept_io;
    ev_timer resume;         /* Accepting again after EMFILE. */
    struct tlsio_ctx *tls;   /* Not owned; NULL: plain. */
    struct ovs_list conns;   /* struct api_conn. */
    struct ovs_list waiting; /* Conns without a complete request, oldest
                              * first. */
    size_t n_conns, n_waiting;
    struct hmap by_mhd_fd; /* struct api_conn, by MHD's socket. */
    unsigned int max_conns, max_incomplete;
    double request_timeout; /* Seconds. */
    struct api_front_stats stats;
};

struct api_extension {
    api_extend_func *fn;
    void *aux;
};

struct api_route {
    struct ovs_list node; /* In api->routes. */
    char *method;
    char *pattern;
    char *segs[API_MAX_ROUTE_SEGS];
    size_t n_segs;
    size_t n_literals;
    api_handler *handler;
    void *aux;
    struct api_extension *extensions; /* api_route_extend(). */
    size_t n_extensions;
};

/* A line of the event stream, shared by the subscribers' queues. */
struct api_line {
    unsigned int refcnt;
    size_t len;
    char data[];
};

/* An event stream subscriber, owned by its MHD response (freed by
 * api_sub_free() when MHD destroys the response). */
struct api_sub {
    struct ovs_list node; /* In api->subs while 'req' is alive. */
    struct api *api;
    struct api_request *req; /* NULL once the request is completed. */
    struct api_line **ring;  /* API_EVENT_QUEUE_MAX + 1 slots. */
    size_t head, n, bytes;   /* Queue: first slot, count, total bytes. */
    size_t off;              /* Bytes of ring[head] already sent. */
    bool follow;             /* False: end when the queue is empty. */
    bool overflow;           /* Overflow line queued: end after it. */
    bool closing;            /* Client gone or api destroyed. */
};

struct api_header {
    char *name;
    char *value;
};

struct api_request {
    struct ovs_list node; /* In api->requests. */
    struct api *api;
    struct api_listener *listener;
    struct MHD_Connection *conn; /* NULL once completed (dead). */
    char *method;
    char *path;
    const struct api_route *route;
    char *params[API_MAX_ROUTE_SEGS]; /* Indexed like route->segs. */

    /* Body. */
    bool expect_body; /* Content-Length > 0 or chunked. */
    struct ds body_buf;
    size_t discarded;
    bool too_large;
    json_t *body;

    /* Progress. */
    bool handled; /* Handler called. */
    bool replied; /* api_reply() called. */
    bool suspended;
    bool client_gone;
    bool aborting; /* In the abort callback. */
    ev_io hup;     /* EOF watch while suspended. */

    /* Reply. */
    struct api_header *headers;
    size_t n_headers;
    struct MHD_Response *response;
    unsigned int status;

    api_abort_cb *abort_cb;
    void *abort_aux;
    struct api_sub *sub;
};

struct api {
    struct ev_loop *loop;
    struct api_listener listeners[2];
    size_t n_listeners;
    char *socket_path; /* Unix socket to remove on destroy. */
    dev_t socket_dev;
    ino_t socket_ino;
    unsigned int tcp_port;
    struct ovs_list routes;   /* Of struct api_route. */
    struct ovs_list requests; /* Of struct api_request. */
    struct ovs_list subs;     /* Of struct api_sub. */
    struct api_line *history[API_EVENT_HISTORY];
    size_t history_head, history_n;
    uint64_t seq;
    bool destroying;
    bool removed_stale; /* api_open_unix() removed a stale socket. */
};

/* api.c. */
void api_listener_kick(struct api_listener *);
void api_request_suspend(struct api_request *);
void api_request_unsuspend(struct api_request *);
void api_request_set_response(struct api_request *, unsigned int status,
                              struct MHD_Response *);

/* api-events.c. */
struct api_line *api_line_create(const char *data, size_t len);
struct api_line *api_line_ref(struct api_line *);
void api_line_unref(struct api_line *);
void api_builtin_events(struct api_request *, void *api);
void api_events_clear(struct api *);

/* api-front.c. */
void api_front_start(struct api_listener *, int listen_fd,
                     const struct api_options *, bool tcp);
void api_front_stop(struct api_listener *);
void api_front_request_done(struct api_listener *, int mhd_fd);
json_t *api_front_to_json(const struct api_listener *);

/* api-socket.c: open listening sockets, or return an error message. */
char *api_open_unix(struct api *, const struct api_options *, int *fdp);
char *api_open_tcp(struct api *, const struct api_options *, int *fdp);

#endif /* api-private.h */
