/*
 * api: HTTP/1.1 + JSON control interface on libmicrohttpd, driven from the
 * libev loop.  See include/api.h for the contract.
 *
 * Request life cycle.  MHD calls api_access() several times per request:
 * once when the headers are in (we match the route and check what can be
 * checked before the body), once per body chunk, and once more when the body
 * is complete (we parse it and call the handler).  A handler that replies
 * before returning has its response queued right away; otherwise the
 * connection is suspended and its socket watched for EOF, and api_reply()
 * later resumes it so that MHD calls api_access() again to queue the
 * response.  MHD's "completed" notification ends the request: a request
 * whose handler has not replied yet is then aborted (abort callback) or
 * kept as a dead request until its handler replies.
 */
#include "api.h"
#include "api-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ev.h>
#include <grp.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(api);
struct vlog_module *const api_vlog_module = &this_module;

static void api_listener_run(struct api_listener *);
static void api_request_free(struct api_request *);
static void api_builtin_index(struct api_request *, void *aux);

/* Routes. */

static bool
api_method_known(const char *method)
{
    static const char *const methods[] = {
        "GET", "POST", "PUT", "PATCH", "DELETE",
    };
    for (size_t i = 0; i < ARRAY_SIZE(methods); i++) {
        if (!strcmp(method, methods[i])) {
            return true;
        }
    }
    return false;
}

static bool
api_seg_is_param(const char *seg)
{
    size_t len = strlen(seg);
    return len > 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/* Splits 'path' (which must start with '/') into at most 'max' segments,
 * in place.  Returns the number of segments, or SIZE_MAX if 'path' is not
 * absolute, has an empty segment or has too many segments. */
static size_t
api_split_path(char *path, char **segs, size_t max)
{
    size_t n = 0;

    if (path[0] != '/') {
        return SIZE_MAX;
    }
    char *p = path + 1;
    if (!*p) {
        return 0;
    }
    for (;;) {
        char *slash = strchr(p, '/');
        if (n >= max || slash == p || !*p) {
            return SIZE_MAX;
        }
        segs[n++] = p;
        if (!slash) {
            return n;
        }
        *slash = '\0';
        p = slash + 1;
    }
}

void
api_route(struct api *api, const char *method, const char *pattern,
          api_handler *handler, void *aux)
{
    struct api_route *r = xzalloc(sizeof *r);
    char *copy = xstrdup(pattern);
    char *segs[API_MAX_ROUTE_SEGS];

    ovs_assert(api_method_known(method));
    r->n_segs = api_split_path(copy, segs, API_MAX_ROUTE_SEGS);
    ovs_assert(r->n_segs != SIZE_MAX);
    for (size_t i = 0; i < r->n_segs; i++) {
        r->segs[i] = xstrdup(segs[i]);
        if (!api_seg_is_param(segs[i])) {
            r->n_literals++;
        }
    }
    free(copy);

    struct api_route *other;
    LIST_FOR_EACH (other, node, &api->routes) {
        ovs_assert(strcmp(other->method, method)
                   || strcmp(other->pattern, pattern));
    }
    r->method = xstrdup(method);
    r->pattern = xstrdup(pattern);
    r->handler = handler;
    r->aux = aux;
    ovs_list_push_back(&api->routes, &r->node);
}

static void
api_route_free(struct api_route *r)
{
    for (size_t i = 0; i < r->n_segs; i++) {
        free(r->segs[i]);
    }
    free(r->extensions);
    free(r->method);
    free(r->pattern);
    free(r);
}

static bool
api_route_matches(const struct api_route *r, char **segs, size_t n_segs)
{
    if (r->n_segs != n_segs) {
        return false;
    }
    for (size_t i = 0; i < n_segs; i++) {
        if (!api_seg_is_param(r->segs[i]) && strcmp(r->segs[i], segs[i])) {
            return false;
        }
    }
    return true;
}

/* Returns NULL if 'value' is a valid path parameter, otherwise a static
 * reason. */
static const char *
api_param_invalid(const char *value)
{
    size_t len = strlen(value);

    if (len > API_MAX_PARAM_LEN) {
        return "is longer than 63 characters";
    }
    if (!strcmp(value, ".") || !strcmp(value, "..")) {
        return "must not be \".\" or \"..\"";
    }
    for (const char *p = value; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
              || *p == '-')) {
            return "may contain only letters, digits, '_', '.' and '-'";
        }
    }
    return NULL;
}

/* Request accessors. */

const char *
api_request_method(const struct api_request *req)
{
    return req->method;
}

const char *
api_request_path(const struct api_request *req)
{
    return req->path;
}

const char *
api_request_param(const struct api_request *req, const char *name)
{
    const struct api_route *r = req->route;
    size_t len = strlen(name);

    for (size_t i = 0; r && i < r->n_segs; i++) {
        const char *seg = r->segs[i];
        if (api_seg_is_param(seg) && strlen(seg) == len + 2
            && !strncmp(seg + 1, name, len)) {
            return req->params[i];
        }
    }
    return NULL;
}

const json_t *
api_request_body(const struct api_request *req)
{
    return req->body;
}

const char *
api_request_header(const struct api_request *req, const char *name)
{
    return (req->conn
                ? MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name)
                : NULL);
}

const char *
api_request_query(const struct api_request *req, const char *name)
{
    return (req->conn ? MHD_lookup_connection_value(
                req->conn, MHD_GET_ARGUMENT_KIND, name)
                      : NULL);
}

void
api_request_on_abort(struct api_request *req, api_abort_cb *cb, void *aux)
{
    req->abort_cb = cb;
    req->abort_aux = aux;
}

/* Replies. */

void
api_reply_header(struct api_request *req, const char *name, const char *value)
{
    ovs_assert(!req->replied);
    req->headers
        = xrealloc(req->headers, (req->n_headers + 1) * sizeof *req->headers);
    req->headers[req->n_headers].name = xstrdup(name);
    req->headers[req->n_headers].value = xstrdup(value);
    req->n_headers++;
}

void
api_request_unsuspend(struct api_request *req)
{
    if (req->suspended) {
        ev_io_stop(req->api->loop, &req->hup);
        req->suspended = false;
        MHD_resume_connection(req->conn);
        api_listener_kick(req->listener);
    }
}

/* Stores 'response' to be queued for 'req', taking ownership. */
void
api_request_set_response(struct api_request *req, unsigned int status,
                         struct MHD_Response *response)
{
    for (size_t i = 0; i < req->n_headers; i++) {
        MHD_add_response_header(response, req->headers[i].name,
                                req->headers[i].value);
    }
    req->response = response;
    req->status = status;
    RL_DBG("%s %s -> %u", req->method, req->path, status);
    api_request_unsuspend(req);
}

void
api_reply(struct api_request *req, unsigned int status, json_t *body)
{
    ovs_assert(!req->replied);
    req->replied = true;

    if (req->aborting) {
        /* Replying from the abort callback: nobody to reply to. */
        json_decref(body);
        return;
    }
    if (!req->conn) {
        /* The client went away while the handler was working. */
        json_decref(body);
        api_request_free(req);
        return;
    }

    struct MHD_Response *response;
    if (body && status == 200 && req->route && json_is_object(body)) {
        for (size_t i = 0; i < req->route->n_extensions; i++) {
            const struct api_extension *e = &req->route->extensions[i];
            e->fn(body, e->aux);
        }
    }
    if (body) {
        char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(body);
        if (!text) {
            text = xstrdup("{\"error\":{\"code\":\"internal\",\"message\":"
                           "\"cannot encode reply\"}}");
            status = 500;
        }
        size_t len = strlen(text);
        text = xrealloc(text, len + 2);
        text[len++] = '\n';
        text[len] = '\0';
        response = MHD_create_response_from_buffer(len, text,
                                                   MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                                "application/json");
    } else {
        response
            = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    }
    api_request_set_response(req, status, response);
}

void
api_reply_error(struct api_request *req, unsigned int status, const char *code,
                const char *field, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    char *message = xvasprintf(fmt, args);
    va_end(args);

    if (status >= 500) {
        RL_WARN("%s %s: %u %s", req->method, req->path, status,
                message);
    } else {
        RL_DBG("%s %s: %u %s", req->method, req->path, status,
               message);
    }
    json_t *error = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (field) {
        json_object_set_new(error, "field", json_string(field));
    }
    free(message);
    api_reply(req, status, json_pack("{s:o}", "error", error));
}

/* Requests. */

static struct api_request *
api_request_create(struct api_listener *l, struct MHD_Connection *conn,
                   const char *method, const char *url)
{
    struct api_request *req = xzalloc(sizeof *req);
    req->api = l->api;
    req->listener = l;
    req->conn = conn;
    req->method = xstrdup(method);
    req->path = xstrdup(url);
    ds_init(&req->body_buf);
    ovs_list_push_back(&l->api->requests, &req->node);
    return req;
}

static void
api_request_free(struct api_request *req)
{
    if (!req) {
        return;
    }
    if (req->suspended) {
        ev_io_stop(req->api->loop, &req->hup);
    }
    ovs_list_remove(&req->node);
    free(req->method);
    free(req->path);
    for (size_t i = 0; i < API_MAX_ROUTE_SEGS; i++) {
        free(req->params[i]);
    }
    ds_destroy(&req->body_buf);
    json_decref(req->body);
    for (size_t i = 0; i < req->n_headers; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->headers);
    if (req->response) {
        MHD_destroy_response(req->response);
    }
    free(req);
}

/* Watches a suspended connection's socket: MHD does not notice a client that
 * goes away meanwhile. */
static void
api_hup_cb(struct ev_loop *loop, ev_io *io, int revents OVS_UNUSED)
{
    struct api_request *req = CONTAINER_OF(io, struct api_request, hup);
    char c;
    ssize_t n = recv(io->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        return;
    }
    ev_io_stop(loop, io);
    if (n > 0) {
        /* Pipelined data: not EOF, stop watching (it stays readable). */
        return;
    }
    req->client_gone = true;
    if (req->sub) {
        req->sub->closing = true;
    }
    api_request_unsuspend(req);
}

void
api_request_suspend(struct api_request *req)
{
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(
        req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

    MHD_suspend_connection(req->conn);
    req->suspended = true;
    if (info) {
        ev_io_init(&req->hup, api_hup_cb, info->connect_fd, EV_READ);
        ev_io_start(req->api->loop, &req->hup);
    }
}

/* Matches 'req' against the routes.  Returns true if a route was found (and
 * the parameters are valid), otherwise replies with an error. */
static bool
api_request_route(struct api_request *req)
{
    struct api *api = req->api;
    char *copy = xstrdup(req->path);
    char *segs[API_MAX_ROUTE_SEGS];
    size_t n_segs = api_split_path(copy, segs, API_MAX_ROUTE_SEGS);
    const struct api_route *best = NULL;
    struct ds allow = DS_EMPTY_INITIALIZER;
    bool any = false;
    bool ok = false;

    if (n_segs != SIZE_MAX) {
        struct api_route *r;
        LIST_FOR_EACH (r, node, &api->routes) {
            if (!api_route_matches(r, segs, n_segs)) {
                continue;
            }
            any = true;
            if (!strcmp(r->method, req->method)
                && (!best || r->n_literals > best->n_literals)) {
                best = r;
            }
            if (!strstr(ds_cstr(&allow), r->method)) {
                ds_put_format(&allow, "%s%s", allow.length ? ", " : "",
                              r->method);
            }
        }
    }

    if (!any) {
        api_reply_error(req, 404, "not_found", NULL, "no such resource: %s",
                        req->path);
    } else if (!best) {
        api_reply_header(req, "Allow", ds_cstr(&allow));
        api_reply_error(req, 405, "method_not_allowed", NULL,
                        "method %s not allowed on %s (allowed: %s)",
                        req->method, req->path, ds_cstr(&allow));
    } else {
        req->route = best;
        ok = true;
        for (size_t i = 0; i < n_segs; i++) {
            if (!api_seg_is_param(best->segs[i])) {
                continue;
            }
            const char *why = api_param_invalid(segs[i]);
            if (why) {
                char *name
                    = xmemdup0(best->segs[i] + 1, strlen(best->segs[i]) - 2);
                api_reply_error(req, 400, "invalid_parameter", name,
                                "path parameter %s %s", name, why);
                free(name);
                ok = false;
                break;
            }
            req->params[i] = xstrdup(segs[i]);
        }
    }
    ds_destroy(&allow);
    free(copy);
    return ok;
}

static bool
api_is_json_type(const char *type)
{
    static const char json[] = "application/json";
    size_t len = sizeof json - 1;

    return (type && !strncasecmp(type, json, len)
            && (type[len] == '\0' || type[len] == ';' || type[len] == ' '));
}

/* First call for a request: the headers are in.  Returns false if an error
 * reply was made. */
static bool
api_request_check_headers(struct api_request *req)
{
    if (!api_request_route(req)) {
        return false;
    }

    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 "Content-Length");
    const char *te = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 "Transfer-Encoding");
    unsigned long long length = 0;
    if (cl) {
        char *end;
        errno = 0;
        length = strtoull(cl, &end, 10);
        if (errno || end == cl || *end) {
            api_reply_error(req, 400, "bad_request", NULL,
                            "invalid Content-Length");
            return false;
        }
    }
    req->expect_body = length > 0 || (te && strcasestr(te, "chunked"));
    if (length > API_MAX_BODY) {
        api_reply_error(req, 413, "payload_too_large", NULL,
                        "request body of %llu bytes exceeds the limit of %d",
                        length, API_MAX_BODY);
        return false;
    }
    if (req->expect_body) {
        if (!strcmp(req->method, "GET") || !strcmp(req->method, "DELETE")) {
            api_reply_error(req, 400, "bad_request", NULL,
                            "%s takes no request body", req->method);
            return false;
        }
        const char *type = MHD_lookup_connection_value(
            req->conn, MHD_HEADER_KIND, "Content-Type");
        if (!api_is_json_type(type)) {
            api_reply_error(req, 415, "unsupported_media_type", NULL,
                            "request body must have Content-Type "
                            "application/json, not %s",
                            type ? type : "(none)");
            return false;
        }
    }
    return true;
}

/* Last call for a request: the body is in.  Returns false if an error reply
 * was made. */
static bool
api_request_check_body(struct api_request *req)
{
    if (req->too_large) {
        api_reply_error(req, 413, "payload_too_large", NULL,
                        "request body exceeds the limit of %d bytes",
                        API_MAX_BODY);
        return false;
    }
    if (!req->body_buf.length) {
        if (!strcmp(req->method, "PUT") || !strcmp(req->method, "PATCH")) {
            api_reply_error(req, 400, "bad_request", NULL,
                            "%s requires a JSON object body", req->method);
            return false;
        }
        return true;
    }

    json_error_t error;
    req->body = json_loadb(req->body_buf.string, req->body_buf.length,
                           JSON_REJECT_DUPLICATES, &error);
    if (!req->body) {
        api_reply_error(req, 400, "invalid_json", NULL,
                        "invalid JSON at line %d column %d (byte %d): %s",
                        error.line, error.column, error.position, error.text);
        return false;
    }
    if (!json_is_object(req->body)) {
        api_reply_error(req, 400, "invalid_json", NULL,
                        "request body must be a JSON object");
        return false;
    }
    ds_destroy(&req->body_buf);
    ds_init(&req->body_buf);
    return true;
}

static enum MHD_Result
api_request_queue(struct api_request *req)
{
    enum MHD_Result ret
        = MHD_queue_response(req->conn, req->status, req->response);
    MHD_destroy_response(req->response);
    req->response = NULL;
    return ret;
}

static enum MHD_Result
api_access(void *l_, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version OVS_UNUSED,
           const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct api_listener *l = l_;
    struct api_request *req = *con_cls;

    if (!req) {
        req = api_request_create(l, conn, method, url);
        *con_cls = req;
        if (!api_request_check_headers(req)) {
            return api_request_queue(req);
        }
        return MHD_YES;
    }
    if (req->response) {
        return api_request_queue(req);
    }
    if (req->client_gone || req->handled) {
        /* Client gone, or api being destroyed. */
        l->quiet = true;
        return MHD_NO;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (req->too_large || req->body_buf.length + n > API_MAX_BODY) {
            req->too_large = true;
            req->discarded += n;
            if (req->discarded > API_MAX_DISCARD) {
                RL_WARN("%s %s: oversized body, dropping client",
                        req->method, req->path);
                return MHD_NO;
            }
        } else {
            ds_put_buffer(&req->body_buf, upload_data, n);
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (!api_request_check_body(req)) {
        return api_request_queue(req);
    }
    req->handled = true;
    req->route->handler(req, req->route->aux);
    if (req->response) {
        return api_request_queue(req);
    }
    if (!req->replied) {
        api_request_suspend(req);
    }
    return MHD_YES;
}

static void
api_completed(void *l_, struct MHD_Connection *conn, void **con_cls,
              enum MHD_RequestTerminationCode toe)
{
    struct api_listener *l = l_;
    struct api_request *req = *con_cls;

    l->quiet = false;
    const union MHD_ConnectionInfo *info
        = conn ? MHD_get_connection_info(conn,
                                         MHD_CONNECTION_INFO_CONNECTION_FD)
               : NULL;
    if (info) {
        /* The front counts the requests in progress. */
        api_front_request_done(l, info->connect_fd);
    }
    if (!req) {
        return;
    }
    *con_cls = NULL;
    if (req->suspended) {
        ev_io_stop(req->api->loop, &req->hup);
        req->suspended = false;
    }
    req->conn = NULL;
    if (req->sub) {
        ovs_list_remove(&req->sub->node);
        req->sub->req = NULL;
        req->sub = NULL;
    }
    if (req->handled && !req->replied) {
        RL_DBG("%s %s: aborted before reply (%d)", req->method,
               req->path, (int) toe);
        if (req->abort_cb) {
            req->aborting = true;
            req->abort_cb(req, req->abort_aux);
            api_request_free(req);
        }
        /* Otherwise the handler's api_reply() frees 'req'. */
    } else {
        api_request_free(req);
    }
}

/* libev integration. */

static void
api_listener_rearm(struct api_listener *l)
{
    struct ev_loop *loop = l->api->loop;
    MHD_UNSIGNED_LONG_LONG timeout;

    ev_timer_stop(loop, &l->timer);
    if (MHD_get_timeout(l->mhd, &timeout) == MHD_YES) {
        ev_timer_set(&l->timer, timeout / 1000.0, 0.);
        ev_timer_start(loop, &l->timer);
    }
}

static void
api_listener_run(struct api_listener *l)
{
    MHD_run(l->mhd);
    api_listener_rearm(l);
}

/* Makes MHD run on the next loop iteration, e.g. after a resume. */
void
api_listener_kick(struct api_listener *l)
{
    if (!l->api->destroying) {
        ev_timer_stop(l->api->loop, &l->timer);
        ev_timer_set(&l->timer, 0., 0.);
        ev_timer_start(l->api->loop, &l->timer);
    }
}

static void
api_io_cb(struct ev_loop *loop OVS_UNUSED, ev_io *io, int revents OVS_UNUSED)
{
    api_listener_run(CONTAINER_OF(io, struct api_listener, io));
}

static void
api_timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *timer,
             int revents OVS_UNUSED)
{
    api_listener_run(CONTAINER_OF(timer, struct api_listener, timer));
}

static void
api_mhd_log(void *l_, const char *fmt, va_list args)
{
    /* libmicrohttpd 0.9.75 says the first whatever the option order (its
     * own positional arguments come first); it is harmless.  And its
     * connections are unix socket pairs from the front (api-front.c),
     * where TCP options do not apply, and which the front closes when it
     * is done (it logs why itself). */
    static const char *const harmless[] = {
        "EXTERNAL_LOGGER is not the first",
        "TCP_NODELAY",
        "TCP_CORK",
        "Failed to push the data",
        "closed by remote side",
        "is closed when reading",
        "disconnected when reading",
    };
    /* Harmless messages have their own rate limit: they must not use up
     * (and then report as dropped) the warnings'. */
    static struct vlog_rate_limit warn_rl = RATELOG_LIMIT_INIT;
    static struct vlog_rate_limit dbg_rl = RATELOG_LIMIT_INIT;
    struct api_listener *l = l_;
    enum vlog_level level = l->quiet ? VLL_DBG : VLL_WARN;

    l->quiet = false;
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format_valist(&s, fmt, args);
    ds_chomp(&s, '\n');
    for (size_t i = 0; i < ARRAY_SIZE(harmless); i++) {
        if (strstr(ds_cstr(&s), harmless[i])) {
            level = VLL_DBG;
        }
    }
    if (!vlog_should_drop(&this_module, level,
                          level == VLL_DBG ? &dbg_rl : &warn_rl)) {
        VLOG(level, "microhttpd: %s", ds_cstr(&s));
    }
    ds_destroy(&s);
}

/* No percent-decoding: parameters are validated raw, so an encoded '/' or
 * NUL never reaches a handler. */
static size_t
api_unescape_none(void *cls OVS_UNUSED, struct MHD_Connection *c OVS_UNUSED,
                  char *s)
{
    return strlen(s);
}

/* Serves listening socket 'fd' (taking ownership): the front accepts,
 * MHD gets the requests. */
static char *
api_listener_start(struct api *api, int fd, bool tcp, const char *name,
                   const struct api_options *opts)
{
    struct api_listener *l = &api->listeners[api->n_listeners];
    unsigned int max_conns
        = (opts->max_connections ? opts->max_connections
                                 : API_DEFAULT_MAX_CONNECTIONS);
    unsigned int timeout
        = opts->connection_timeout ? opts->connection_timeout : 30;

    l->api = api;
    l->name = name;
    l->listen_fd = -1;
    /* MHD's connections outlive ours for a moment (until it reads the end
     * of the stream): allow it more than ours. */
    l->mhd = MHD_start_daemon(
        MHD_USE_NO_LISTEN_SOCKET | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME
            | MHD_USE_ERROR_LOG,
        0, NULL, NULL, api_access, l, MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log,
        l, MHD_OPTION_CONNECTION_LIMIT, 4 * max_conns + 16,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout, MHD_OPTION_NOTIFY_COMPLETED,
        api_completed, l, MHD_OPTION_UNESCAPE_CALLBACK, api_unescape_none,
        NULL, MHD_OPTION_END);
    if (!l->mhd) {
        close(fd);
        return xasprintf("cannot start HTTP server on %s", name);
    }
    const union MHD_DaemonInfo *info
        = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_EPOLL_FD);
    if (!info) {
        MHD_stop_daemon(l->mhd);
        l->mhd = NULL;
        return xasprintf("cannot get epoll fd of HTTP server on %s", name);
    }
    ev_io_init(&l->io, api_io_cb, info->epoll_fd, EV_READ);
    ev_io_start(api->loop, &l->io);
    ev_init(&l->timer, api_timer_cb);
    api->n_listeners++;
    api_listener_rearm(l);
    api_front_start(l, fd, opts, tcp);
    return NULL;
}

/* Lifecycle. */

struct api *
api_create(struct ev_loop *loop, const struct api_options *opts, char **errp)
{
    struct api *api = xzalloc(sizeof *api);
    char *error = NULL;
    int fd;

    api->loop = loop;
    ovs_list_init(&api->routes);
    ovs_list_init(&api->requests);
    ovs_list_init(&api->subs);

    if (!opts->socket_path && !opts->tcp_address) {
        error = xstrdup("no API socket configured");
    }
    if (!error && opts->socket_path) {
        error = api_open_unix(api, opts, &fd);
        if (!error && api->removed_stale) {
            VLOG_INFO("removed stale socket %s", opts->socket_path);
        }
        if (!error) {
            error = api_listener_start(api, fd, false, api->socket_path, opts);
        }
    }
    if (!error && opts->tcp_address) {
        error = api_open_tcp(api, opts, &fd);
        if (!error) {
            error = api_listener_start(api, fd, true, opts->tcp_address, opts);
        }
    }
    if (error) {
        api_destroy(api);
        *errp = error;
        return NULL;
    }

    api_route(api, "GET", "/v1", api_builtin_index, api);
    api_route(api, "GET", "/v1/events", api_builtin_events, api);
    VLOG_INFO("API listening on %s%s%s%s",
              opts->socket_path ? opts->socket_path : "",
              opts->socket_path && opts->tcp_address ? " and " : "",
              opts->tcp_address ? opts->tcp_address : "",
              opts->tcp_address && opts->tcp_tls ? " (TLS)" : "");
    *errp = NULL;
    return api;
}

unsigned int
api_get_tcp_port(const struct api *api)
{
    return api->tcp_port;
}

void
api_destroy(struct api *api)
{
    if (!api) {
        return;
    }
    api->destroying = true;

    /* MHD must not be stopped with suspended connections: wake them up and
     * let MHD close them. */
    struct api_request *req;
    LIST_FOR_EACH (req, node, &api->requests) {
        if (req->conn) {
            req->client_gone = true;
            if (req->sub) {
                req->sub->closing = true;
            }
            api_request_unsuspend(req);
        }
    }
    for (size_t i = 0; i < api->n_listeners; i++) {
        struct api_listener *l = &api->listeners[i];
        api_front_stop(l);
        ev_io_stop(api->loop, &l->io);
        ev_timer_stop(api->loop, &l->timer);
        MHD_run(l->mhd);
        MHD_stop_daemon(l->mhd);
        hmap_destroy(&l->by_mhd_fd);
    }

    /* Dead requests whose handlers never replied. */
    struct api_request *next;
    LIST_FOR_EACH_SAFE (req, next, node, &api->requests) {
        api_request_free(req);
    }

    struct api_route *r, *r_next;
    LIST_FOR_EACH_SAFE (r, r_next, node, &api->routes) {
        ovs_list_remove(&r->node);
        api_route_free(r);
    }
    api_events_clear(api);

    if (api->socket_path) {
        struct stat st;
        if (!stat(api->socket_path, &st) && st.st_dev == api->socket_dev
            && st.st_ino == api->socket_ino) {
            unlink(api->socket_path);
        }
        free(api->socket_path);
    }
    free(api);
}

void
api_route_extend(struct api *api, const char *method, const char *pattern,
                 api_extend_func *fn, void *aux)
{
    struct api_route *r;
    LIST_FOR_EACH (r, node, &api->routes) {
        if (!strcmp(r->method, method) && !strcmp(r->pattern, pattern)) {
            r->extensions = xrealloc(
                r->extensions, (r->n_extensions + 1) * sizeof *r->extensions);
            r->extensions[r->n_extensions++]
                = (struct api_extension){ fn, aux };
            return;
        }
    }
    OVS_NOT_REACHED();
}

json_t *
api_limits_to_json(const struct api *api)
{
    json_t *listeners = json_array();
    for (size_t i = 0; i < api->n_listeners; i++) {
        json_array_append_new(listeners,
                              api_front_to_json(&api->listeners[i]));
    }
    return json_pack("{s:o}", "listeners", listeners);
}

/* Built-in routes. */

static void
api_builtin_index(struct api_request *req, void *api_)
{
    struct api *api = api_;
    json_t *routes = json_array();
    struct api_route *r;

    LIST_FOR_EACH (r, node, &api->routes) {
        json_array_append_new(
            routes,
            json_pack("{s:s, s:s}", "method", r->method, "path", r->pattern));
    }
    api_reply(req, 200, json_pack("{s:o}", "routes", routes));
}
