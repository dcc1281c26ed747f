/*
 * api: vmacd's control interface, HTTP/1.1 + JSON over a unix socket (and
 * optionally a TCP port, loopback or with TLS client certificates), driven
 * by libmicrohttpd from the one libev loop.  No threads: MHD runs in
 * external epoll mode, its epoll fd is watched with an ev_io and its
 * timeouts with an ev_timer.
 *
 * The api accepts its connections itself (api-front.c): it checks each
 * request's framing before MHD sees it (malformed heads, conflicting
 * Content-Length, NUL bytes: an immediate JSON 400; a request cut short:
 * 400 as soon as the client ends its side), bounds the connections per
 * listener (max_connections, max_incomplete, request_timeout_ms: slow
 * clients cannot lock out others), does TLS with OpenSSL on the TCP
 * listener when asked to, and hands sound requests to MHD through a socket
 * pair.
 *
 * The module is generic: it knows nothing about aliases or bridges.  Other
 * modules register routes with api_route(); one place (this module)
 * validates every request before a handler runs:
 *
 *   - the path matches a route (else 404), the method is registered for it
 *     (else 405 with an "Allow" header);
 *   - every path parameter matches [A-Za-z0-9_.-]{1,63} and is not "." or
 *     ".." (else 400 naming the parameter); the path is NOT percent-decoded,
 *     so "%2f" and friends never reach a handler;
 *   - a body is at most API_MAX_BODY bytes (413), has
 *     "Content-Type: application/json" (415), parses as JSON with duplicate
 *     keys rejected (400, message gives line/column/position) and is an
 *     object (400).  PUT and PATCH require a body, POST accepts none, GET
 *     and DELETE must not have one.
 *
 * Built-in routes: "GET /v1" (index of every route) and "GET /v1/events"
 * (event stream, see api_publish_event()).
 *
 * Handlers reply exactly once, synchronously or later (asynchronously); see
 * api_handler below.
 */
#ifndef VMACD_API_H
#define VMACD_API_H 1

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct ev_loop;

#define API_MAX_BODY (1024 * 1024) /* Request body limit, bytes. */
#define API_MAX_PARAM_LEN 63       /* Path parameter max length. */
#define API_EVENT_QUEUE_MAX 1000   /* Per-subscriber queued events. */
#define API_EVENT_QUEUE_BYTES                                                 \
    (1024 * 1024)             /* Per-subscriber queued bytes.                 \
                               */
#define API_EVENT_HISTORY 256 /* Recent events kept for replay. */

/* Connection bounds, per listener (docs/config.md, "api"). */
#define API_DEFAULT_MAX_CONNECTIONS 128
#define API_DEFAULT_MAX_INCOMPLETE 32
#define API_DEFAULT_REQUEST_TIMEOUT_MS 10000

struct tlsio_ctx;

struct api_options {
    const char *socket_path;      /* Unix socket path; NULL: no unix socket. */
    const char *socket_group;     /* Group name to chown the socket to, or
                                   * NULL to keep the process's group. */
    const char *tcp_address;      /* IPv4/IPv6 literal, or NULL: no TCP. */
    unsigned int tcp_port;        /* With tcp_address; 0 picks a free port
                                   * (see api_get_tcp_port()). */
    bool allow_nonloopback;       /* Allow a non-loopback tcp_address. */
    struct tlsio_ctx *tcp_tls;    /* TLS with client certificates on the
                                   * TCP listener (not owned), or NULL. */
    unsigned int max_connections; /* Per listener; 0: default 128. */
    unsigned int max_incomplete;  /* Connections without a complete
                                   * request, per listener; 0: 32. */
    unsigned int request_timeout_ms; /* To complete a request (from the
                                      * connection, or the end of the
                                      * previous response); 0: 10000. */
    unsigned int connection_timeout; /* Seconds idle; 0: default 30. */
};

/* Lifecycle.
 *
 * api_create() creates and binds the listeners and starts serving on 'loop'.
 * The unix socket is created with mode 0660 (and chowned to
 * 'socket_group' if given).  If 'socket_path' exists and something accepts
 * connections on it, creation fails with "another vmacd is running on
 * PATH"; a stale socket file is removed and replaced.  On failure returns
 * NULL and stores a malloc'd message in '*errp'.
 *
 * api_destroy() closes every connection (pending asynchronous requests get
 * their abort callback), removes the socket file and frees everything.
 * Accepts NULL. */
struct api *api_create(struct ev_loop *, const struct api_options *,
                       char **errp) __attribute__((warn_unused_result));
void api_destroy(struct api *);

/* TCP port actually bound (useful with tcp_port 0), or 0 without TCP. */
unsigned int api_get_tcp_port(const struct api *);

/* Routes. */
struct api_request;

/* A handler must call api_reply() or api_reply_error() exactly once for
 * 'req', either before it returns or later from any libev callback
 * (asynchronous reply).  A handler that replies later should register
 * api_request_on_abort(): if the client goes away (or the api is destroyed)
 * before the reply, the abort callback runs, 'req' is freed right after it
 * returns, and the handler must forget 'req'.  Without an abort callback,
 * 'req' stays valid (as a "dead" request) until the handler's api_reply(),
 * which then just frees it; api_destroy() frees dead requests too, so the
 * handler must not reply after api_destroy(). */
typedef void api_handler(struct api_request *, void *aux);
typedef void api_abort_cb(struct api_request *, void *aux);

/* Registers 'handler' for 'method' ("GET", "POST", "PUT", "PATCH",
 * "DELETE") on 'pattern', e.g. "/v1/aliases/{name}/members/{member}".  A
 * pattern segment "{x}" captures one path segment as parameter "x".  When
 * several patterns match a path, the one with more literal segments wins.
 * Registering the same method and pattern twice is a programming error
 * (asserts). */
void api_route(struct api *, const char *method, const char *pattern,
               api_handler *, void *aux);

/* Request accessors.  Strings stay valid until the reply. */
const char *api_request_method(const struct api_request *);
const char *api_request_path(const struct api_request *);
const char *api_request_param(const struct api_request *, const char *name);
const json_t *api_request_body(const struct api_request *); /* or NULL */
/* Request header or query argument (raw, not percent-decoded), or NULL.
 * Returns NULL once the client is gone. */
const char *api_request_header(const struct api_request *, const char *name);
const char *api_request_query(const struct api_request *, const char *name);
void api_request_on_abort(struct api_request *, api_abort_cb *, void *aux);

/* Replies.  api_reply() steals 'body' (NULL: empty body; use 204 then).
 * api_reply_header() adds a response header and must come before the
 * reply.  api_reply_error() sends {"error": {"code", "message", "field"}}
 * ('field' may be NULL). */
void api_reply_header(struct api_request *, const char *name,
                      const char *value);
void api_reply(struct api_request *, unsigned int status, json_t *body);
void api_reply_error(struct api_request *, unsigned int status,
                     const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Events.
 *
 * Publishes 'event' (a JSON object, stolen) to every subscriber of
 * "GET /v1/events".  A "seq" number (and a "time", unix seconds) is added
 * when absent.  Each subscriber gets one JSON object per line; a subscriber
 * whose queue exceeds API_EVENT_QUEUE_MAX events or API_EVENT_QUEUE_BYTES
 * bytes gets a final {"type":"overflow"} line and is disconnected.  The
 * last API_EVENT_HISTORY events are kept: "GET /v1/events?follow=false"
 * returns them and ends, "GET /v1/events?history=true" replays them before
 * following. */
void api_publish_event(struct api *, json_t *event);
size_t api_n_subscribers(const struct api *);

/* Extends the 200 replies of a registered route: 'fn' adds members to the
 * reply's JSON object before it is sent (e.g. another module's counters in
 * GET /v1/status).  The route must exist. */
typedef void api_extend_func(json_t *reply, void *aux);
void api_route_extend(struct api *, const char *method, const char *pattern,
                      api_extend_func *, void *aux);

/* The listeners' bounds and counters: {"listeners": [{"name", "tls",
 * "connections", "incomplete", "max_connections", "max_incomplete",
 * "request_timeout_ms", "accepted", "refused", "evicted", "timed_out",
 * "bad_requests", "truncated", "tls_handshakes_failed", "accept_paused"}]}.
 * A connection uses up to 3 descriptors (the client's and a socket pair to
 * MHD). */
json_t *api_limits_to_json(const struct api *);

#endif /* api.h */
