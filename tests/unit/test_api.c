/*
 * Unit tests for the api module: a real api on a temporary unix socket in a
 * libev loop in this process; clients are threads doing raw HTTP over the
 * socket, and the test runs the loop until they are done (with a deadline).
 */
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "api.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

#define DEADLINE 10.0 /* Seconds, per loop run. */

struct fixture {
    struct ev_loop *loop;
    struct api *api;
    char dir[64];
    char path[128];
};

/* A client thread: sends 'request', reads the response until EOF. */
struct client {
    const char *path;      /* Unix socket. */
    unsigned int tcp_port; /* Nonzero: TCP to 127.0.0.1 instead. */
    const char *request;
    size_t request_len;      /* 0: strlen(request). */
    bool close_after_send;   /* Close without reading. */
    int gate[2];             /* If gate[0] >= 0: wait for a byte before
                              * reading. */
    size_t stop_after_lines; /* Nonzero: stop after this many body lines. */

    /* Results. */
    struct ds raw;
    int status;
    char *headers;
    struct ds body; /* De-chunked. */
    int done_fd[2];
    pthread_t thread;
};

static int
client_connect(const struct client *c)
{
    int fd;
    if (c->tcp_port) {
        struct sockaddr_in sin = { .sin_family = AF_INET,
                                   .sin_port = htons(c->tcp_port),
                                   .sin_addr.s_addr = htonl(0x7f000001) };
        fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *) &sin, sizeof sin)) {
            close(fd);
            return -1;
        }
    } else {
        struct sockaddr_un sun = { .sun_family = AF_UNIX };
        ovs_strlcpy(sun.sun_path, c->path, sizeof sun.sun_path);
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* De-chunks what follows the headers in 'c->raw' into 'c->body' if the
 * response is chunked, otherwise copies it. */
static void
client_parse(struct client *c)
{
    const char *s = ds_cstr(&c->raw);
    const char *end = strstr(s, "\r\n\r\n");

    ds_clear(&c->body);
    if (!end || sscanf(s, "HTTP/1.%*d %d", &c->status) != 1) {
        c->status = -1;
        return;
    }
    free(c->headers);
    c->headers = xmemdup0(s, end - s + 2);
    const char *p = end + 4;
    const char *limit = s + c->raw.length;
    if (!strcasestr(c->headers, "Transfer-Encoding: chunked")) {
        ds_put_buffer(&c->body, p, limit - p);
        return;
    }
    while (p < limit) {
        char *q;
        unsigned long n = strtoul(p, &q, 16);
        const char *data = strstr(q, "\r\n");
        if (!data || !n || data + 2 + n > limit) {
            break;
        }
        ds_put_buffer(&c->body, data + 2, n);
        p = data + 2 + n + 2;
    }
}

static size_t
count_lines(const struct ds *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->length; i++) {
        n += s->string[i] == '\n';
    }
    return n;
}

static void *
client_main(void *c_)
{
    struct client *c = c_;
    int fd = client_connect(c);

    if (fd >= 0) {
        size_t len = c->request_len ? c->request_len : strlen(c->request);
        size_t done = 0;
        while (done < len) {
            ssize_t n = send(fd, c->request + done, len - done, MSG_NOSIGNAL);
            if (n <= 0) {
                break;
            }
            done += n;
        }
        if (c->gate[0] >= 0) {
            char b;
            ignore(read(c->gate[0], &b, 1));
        }
        if (!c->close_after_send) {
            char buf[65536];
            ssize_t n;
            while ((n = recv(fd, buf, sizeof buf, 0)) > 0) {
                ds_put_buffer(&c->raw, buf, n);
                if (c->stop_after_lines) {
                    client_parse(c);
                    if (count_lines(&c->body) >= c->stop_after_lines) {
                        break;
                    }
                }
            }
        }
        close(fd);
    }
    client_parse(c);
    ignore(write(c->done_fd[1], "x", 1));
    return NULL;
}

static void
client_start(struct client *c, const char *path, const char *request)
{
    memset(c, 0, sizeof *c);
    ds_init(&c->raw);
    ds_init(&c->body);
    c->path = path;
    c->request = request;
    c->gate[0] = c->gate[1] = -1;
    c->status = 0;
    c->headers = NULL;
    assert_int_equal(pipe(c->done_fd), 0);
}

static void
client_go(struct client *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, client_main, c), 0);
}

static void
client_join(struct client *c)
{
    pthread_join(c->thread, NULL);
    close(c->done_fd[0]);
    close(c->done_fd[1]);
    if (c->gate[0] >= 0) {
        close(c->gate[0]);
        close(c->gate[1]);
    }
}

static void
client_free(struct client *c)
{
    ds_destroy(&c->raw);
    ds_destroy(&c->body);
    free(c->headers);
}

/* Loop running with a deadline. */

struct waiter {
    ev_io io;
    ev_timer deadline;
    bool timed_out;
};

static void
waiter_io_cb(struct ev_loop *loop, ev_io *io, int revents OVS_UNUSED)
{
    char b;
    ignore(read(io->fd, &b, 1));
    ev_break(loop, EVBREAK_ONE);
}

static void
waiter_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents OVS_UNUSED)
{
    struct waiter *w = CONTAINER_OF(t, struct waiter, deadline);
    w->timed_out = true;
    ev_break(loop, EVBREAK_ONE);
}

/* Runs the loop until client 'c' is done. */
static void
run_until_done(struct ev_loop *loop, struct client *c)
{
    struct waiter w = { .timed_out = false };
    ev_io_init(&w.io, waiter_io_cb, c->done_fd[0], EV_READ);
    ev_io_start(loop, &w.io);
    ev_timer_init(&w.deadline, waiter_deadline_cb, DEADLINE, 0.);
    ev_timer_start(loop, &w.deadline);
    ev_run(loop, 0);
    ev_io_stop(loop, &w.io);
    ev_timer_stop(loop, &w.deadline);
    assert_false(w.timed_out);
    client_join(c);
}

/* Runs the loop until '*cond(aux)' holds. */
static void
tick_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *t OVS_UNUSED,
        int revents OVS_UNUSED)
{
}

static void
run_until(struct ev_loop *loop, bool (*cond)(void *), void *aux)
{
    ev_tstamp start = ev_time();
    ev_timer tick;

    /* The tick bounds each loop iteration. */
    ev_timer_init(&tick, tick_cb, 0.01, 0.01);
    ev_timer_start(loop, &tick);
    while (!cond(aux)) {
        assert_true(ev_time() - start < DEADLINE);
        ev_run(loop, EVRUN_ONCE);
    }
    ev_timer_stop(loop, &tick);
}

/* Sends 'request' and waits for the whole response. */
static void
exchange(struct fixture *f, struct client *c, const char *request)
{
    client_start(c, f->path, request);
    client_go(c);
    run_until_done(f->loop, c);
}

static const char *
header(const struct client *c, const char *name)
{
    static char value[256];
    char *key = xasprintf("\r\n%s: ", name);
    const char *p = c->headers ? strcasestr(c->headers, key) : NULL;
    value[0] = '\0';
    if (p) {
        p += strlen(key);
        size_t n = strcspn(p, "\r\n");
        snprintf(value, sizeof value, "%.*s", (int) n, p);
    }
    free(key);
    return p ? value : NULL;
}

static json_t *
body_json(const struct client *c)
{
    json_error_t error;
    json_t *j = json_loadb(c->body.string, c->body.length, 0, &error);
    assert_non_null(j);
    return j;
}

static const char *
error_code(const struct client *c, json_t **holder)
{
    *holder = body_json(c);
    return json_string_value(
        json_object_get(json_object_get(*holder, "error"), "code"));
}

/* Handlers. */

static void
echo_handler(struct api_request *req, void *aux)
{
    const char *tag = aux;
    const json_t *body = api_request_body(req);
    json_t *reply = json_pack("{s:s, s:s}", "tag", tag, "method",
                              api_request_method(req));
    const char *names[] = { "name", "member" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = api_request_param(req, names[i]);
        if (v) {
            json_object_set_new(reply, names[i], json_string(v));
        }
    }
    if (body) {
        json_object_set(reply, "body", (json_t *) body);
    }
    const char *im = api_request_header(req, "If-Match");
    if (im) {
        json_object_set_new(reply, "if_match", json_string(im));
    }
    api_reply(req, 200, reply);
}

struct async_ctx {
    struct ev_loop *loop;
    ev_timer timer;
    struct api_request *req;
    bool use_abort;
    int n_aborts;
    int n_replies;
};

static void
async_timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *t,
               int revents OVS_UNUSED)
{
    struct async_ctx *ctx = CONTAINER_OF(t, struct async_ctx, timer);
    struct api_request *req = ctx->req;
    ctx->req = NULL;
    api_reply_header(req, "ETag", "\"7\"");
    api_reply(req, 202, json_pack("{s:b}", "later", 1));
    ctx->n_replies++;
}

static void
async_abort_cb(struct api_request *req, void *aux)
{
    struct async_ctx *ctx = aux;
    assert_ptr_equal(req, ctx->req);
    ev_timer_stop(ctx->loop, &ctx->timer);
    ctx->req = NULL;
    ctx->n_aborts++;
}

static void
async_handler(struct api_request *req, void *aux)
{
    struct async_ctx *ctx = aux;
    ctx->req = req;
    if (ctx->use_abort) {
        api_request_on_abort(req, async_abort_cb, ctx);
    }
    ev_timer_init(&ctx->timer, async_timer_cb, 0.2, 0.);
    ev_timer_start(ctx->loop, &ctx->timer);
}

/* Fixture. */

static struct fixture *
fixture_new(void)
{
    struct fixture *f = xzalloc(sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    strcpy(f->dir, "/tmp/test_api.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof f->path, "%s/vmacd.sock", f->dir);
    return f;
}

static struct api *
fixture_api(struct fixture *f)
{
    struct api_options opts = { .socket_path = f->path };
    char *error;
    f->api = api_create(f->loop, &opts, &error);
    if (!f->api) {
        fail_msg("api_create: %s", error);
    }
    assert_null(error);
    return f->api;
}

static int
setup(void **state)
{
    struct fixture *f = fixture_new();
    struct api *api = fixture_api(f);
    api_route(api, "GET", "/v1/aliases", echo_handler, "list");
    api_route(api, "POST", "/v1/aliases", echo_handler, "create");
    api_route(api, "GET", "/v1/aliases/{name}", echo_handler, "show");
    api_route(api, "PUT", "/v1/aliases/{name}", echo_handler, "replace");
    api_route(api, "DELETE", "/v1/aliases/{name}", echo_handler, "delete");
    api_route(api, "GET", "/v1/aliases/special", echo_handler, "special");
    api_route(api, "GET", "/v1/aliases/{name}/members/{member}", echo_handler,
              "member");
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    api_destroy(f->api);
    unlink(f->path);
    rmdir(f->dir);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* Tests. */

static void
test_params(void **state)
{
    struct fixture *f = *state;
    struct client c;

    exchange(f, &c,
             "GET /v1/aliases/web-1/members/m_1.a HTTP/1.1\r\n"
             "Host: x\r\nIf-Match: \"3\"\r\nConnection: close\r\n\r\n");
    assert_int_equal(c.status, 200);
    assert_string_equal(header(&c, "Content-Type"), "application/json");
    json_t *j = body_json(&c);
    assert_string_equal(json_string_value(json_object_get(j, "tag")),
                        "member");
    assert_string_equal(json_string_value(json_object_get(j, "name")),
                        "web-1");
    assert_string_equal(json_string_value(json_object_get(j, "member")),
                        "m_1.a");
    assert_string_equal(json_string_value(json_object_get(j, "if_match")),
                        "\"3\"");
    json_decref(j);
    client_free(&c);

    /* A literal segment wins over a parameter. */
    exchange(f, &c,
             "GET /v1/aliases/special HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
    j = body_json(&c);
    assert_string_equal(json_string_value(json_object_get(j, "tag")),
                        "special");
    json_decref(j);
    client_free(&c);

    /* A body reaches the handler. */
    exchange(f, &c,
             "PUT /v1/aliases/web HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/json; charset=utf-8\r\n"
             "Content-Length: 13\r\nConnection: close\r\n\r\n"
             "{\"a\": [1, 2]}");
    assert_int_equal(c.status, 200);
    j = body_json(&c);
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(json_object_get(j, "body"), "a"), 1)),
                     2);
    json_decref(j);
    client_free(&c);
}

static void
test_async(void **state)
{
    struct fixture *f = *state;
    struct async_ctx ctx = { .loop = f->loop, .use_abort = true };
    struct client c;

    api_route(f->api, "POST", "/v1/slow", async_handler, &ctx);
    exchange(f, &c,
             "POST /v1/slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "\r\n");
    assert_int_equal(c.status, 202);
    assert_int_equal(ctx.n_replies, 1);
    assert_int_equal(ctx.n_aborts, 0);
    assert_string_equal(header(&c, "ETag"), "\"7\"");
    json_t *j = body_json(&c);
    assert_true(json_is_true(json_object_get(j, "later")));
    json_decref(j);
    client_free(&c);
}

static bool
handler_called(void *ctx_)
{
    struct async_ctx *ctx = ctx_;
    return ctx->req != NULL;
}

static bool
abort_seen(void *ctx_)
{
    struct async_ctx *ctx = ctx_;
    return ctx->n_aborts > 0;
}

static bool
reply_done(void *ctx_)
{
    struct async_ctx *ctx = ctx_;
    return ctx->n_replies > 0;
}

static void
test_async_client_gone(void **state)
{
    struct fixture *f = *state;
    struct async_ctx ctx = { .loop = f->loop, .use_abort = true };
    struct client c;

    /* With an abort callback: it runs when the client goes away. */
    api_route(f->api, "POST", "/v1/slow", async_handler, &ctx);
    client_start(&c, f->path, "POST /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n");
    c.close_after_send = true;
    assert_int_equal(pipe(c.gate), 0);
    client_go(&c);
    run_until(f->loop, handler_called, &ctx);
    ignore(write(c.gate[1], "g", 1));
    run_until_done(f->loop, &c);
    run_until(f->loop, abort_seen, &ctx);
    assert_int_equal(ctx.n_replies, 0);
    client_free(&c);

    /* Without one: the late reply on the dead request is harmless. */
    ctx.use_abort = false;
    ctx.n_aborts = 0;
    client_start(&c, f->path, "POST /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n");
    c.close_after_send = true;
    assert_int_equal(pipe(c.gate), 0);
    client_go(&c);
    run_until(f->loop, handler_called, &ctx);
    ignore(write(c.gate[1], "g", 1));
    run_until_done(f->loop, &c);
    run_until(f->loop, reply_done, &ctx);
    assert_int_equal(ctx.n_aborts, 0);
    client_free(&c);

    /* The api still works. */
    exchange(f, &c,
             "GET /v1/aliases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "\r\n");
    assert_int_equal(c.status, 200);
    client_free(&c);
}

static void
test_destroy_pending(void **state)
{
    struct fixture *f = *state;
    struct async_ctx ctx = { .loop = f->loop, .use_abort = true };
    struct client c;

    api_route(f->api, "POST", "/v1/slow", async_handler, &ctx);
    client_start(&c, f->path, "POST /v1/slow HTTP/1.1\r\nHost: x\r\n\r\n");
    client_go(&c);
    run_until(f->loop, handler_called, &ctx);
    api_destroy(f->api);
    f->api = NULL;
    assert_int_equal(ctx.n_aborts, 1);
    run_until_done(f->loop, &c);
    assert_true(c.status <= 0);
    client_free(&c);
    struct stat st;
    assert_int_equal(stat(f->path, &st), -1);
}

static void
expect_error(struct fixture *f, const char *request, int status,
             const char *code, const char *substr)
{
    struct client c;
    json_t *j;

    exchange(f, &c, request);
    if (c.status != status) {
        fail_msg("%s: expected %d, got %d: %s", request, status, c.status,
                 ds_cstr(&c.body));
    }
    assert_string_equal(error_code(&c, &j), code);
    const char *msg = json_string_value(
        json_object_get(json_object_get(j, "error"), "message"));
    assert_non_null(msg);
    if (substr && !strstr(msg, substr)) {
        fail_msg("message \"%s\" lacks \"%s\"", msg, substr);
    }
    json_decref(j);
    client_free(&c);
}

static void
expect_post_error(struct fixture *f, const char *body, int status,
                  const char *code, const char *substr)
{
    char *request = xasprintf(
        "POST /v1/aliases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
        strlen(body), body);
    expect_error(f, request, status, code, substr);
    free(request);
}

static void
test_errors(void **state)
{
    struct fixture *f = *state;
    struct client c;

    expect_error(f,
                 "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 404, "not_found", "/v1/nothing");
    expect_error(f,
                 "GET /v1/aliases/ HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 404, "not_found", NULL);

    /* 405 with Allow. */
    exchange(f, &c,
             "PATCH /v1/aliases/web HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\nContent-Type: application/json\r\n"
             "Content-Length: 2\r\n\r\n{}");
    assert_int_equal(c.status, 405);
    assert_string_equal(header(&c, "Allow"), "GET, PUT, DELETE");
    client_free(&c);
    exchange(f, &c,
             "DELETE /v1 HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
    assert_int_equal(c.status, 405);
    assert_string_equal(header(&c, "Allow"), "GET");
    client_free(&c);

    /* 413: announced too large, and chunked too large. */
    expect_error(f,
                 "POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 2000000\r\nConnection: close\r\n\r\n",
                 413, "payload_too_large", NULL);
    struct ds big = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&big, "POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
                      "Content-Type: application/json\r\n"
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n"
                      "\r\n");
    for (int i = 0; i < 20; i++) {
        ds_put_format(&big, "10000\r\n");
        ds_put_char_multiple(&big, ' ', 0x10000);
        ds_put_cstr(&big, "\r\n");
    }
    ds_put_cstr(&big, "0\r\n\r\n");
    expect_error(f, ds_cstr(&big), 413, "payload_too_large", NULL);
    ds_destroy(&big);

    /* 415. */
    expect_error(f,
                 "POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: text/plain\r\n"
                 "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                 415, "unsupported_media_type", "text/plain");
    expect_error(f,
                 "POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
                 "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                 415, "unsupported_media_type", NULL);

    /* 400: bad JSON with position, duplicates, not an object. */
    expect_post_error(f, "{\"a\": 1,\n \"b\": }", 400, "invalid_json",
                      "line 2 column");
    expect_post_error(f, "{\"a\": 1, \"a\": 2}", 400, "invalid_json",
                      "duplicate");
    expect_post_error(f, "[1, 2]", 400, "invalid_json", "object");
    expect_post_error(f, "{} x", 400, "invalid_json", "column");

    /* Body where none is allowed, none where one is required. */
    expect_error(f,
                 "GET /v1/aliases HTTP/1.1\r\nHost: x\r\n"
                 "Content-Type: application/json\r\n"
                 "Content-Length: 2\r\nConnection: close\r\n\r\n{}",
                 400, "bad_request", "no request body");
    expect_error(f,
                 "PUT /v1/aliases/web HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "bad_request", "requires");

    /* Path tricks never reach a handler. */
    expect_error(f,
                 "GET /v1/aliases/.. HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "invalid_parameter", "name");
    expect_error(f,
                 "GET /v1/aliases/%2e%2e HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "invalid_parameter", NULL);
    expect_error(f,
                 "GET /v1/aliases/a%2fb HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "invalid_parameter", NULL);
    expect_error(f,
                 "GET /v1/aliases/a%00/members/x HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "invalid_parameter", NULL);
    expect_error(f,
                 "GET /v1/aliases/../../etc/passwd HTTP/1.1\r\n"
                 "Host: x\r\nConnection: close\r\n\r\n",
                 404, "not_found", NULL);
    expect_error(f,
                 "GET /v1//aliases HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 404, "not_found", NULL);
    char *longname = xasprintf("GET /v1/aliases/%064d HTTP/1.1\r\nHost: x\r\n"
                               "Connection: close\r\n\r\n",
                               0);
    expect_error(f, longname, 400, "invalid_parameter", "63");
    free(longname);
}

static void
test_index(void **state)
{
    struct fixture *f = *state;
    struct client c;

    exchange(f, &c,
             "GET /v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "\r\n");
    assert_int_equal(c.status, 200);
    json_t *j = body_json(&c);
    json_t *routes = json_object_get(j, "routes");
    assert_int_equal(json_array_size(routes), 9);
    bool found = false;
    size_t i;
    json_t *r;
    json_array_foreach (routes, i, r) {
        const char *m = json_string_value(json_object_get(r, "method"));
        const char *p = json_string_value(json_object_get(r, "path"));
        if (!strcmp(m, "DELETE") && !strcmp(p, "/v1/aliases/{name}")) {
            found = true;
        }
    }
    assert_true(found);
    json_decref(j);
    client_free(&c);
}

struct n_subs {
    struct api *api;
    size_t n;
};

static bool
have_subs(void *aux)
{
    struct n_subs *s = aux;
    return api_n_subscribers(s->api) == s->n;
}

static const char EVENTS_REQ[] = "GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n";

static void
test_events(void **state)
{
    struct fixture *f = *state;
    struct client c[2];

    api_publish_event(f->api, json_pack("{s:s, s:i}", "type", "old", "n", 0));
    for (int i = 0; i < 2; i++) {
        client_start(&c[i], f->path, EVENTS_REQ);
        c[i].stop_after_lines = 3;
        client_go(&c[i]);
    }
    struct n_subs s = { f->api, 2 };
    run_until(f->loop, have_subs, &s);
    for (int i = 1; i <= 3; i++) {
        api_publish_event(f->api,
                          json_pack("{s:s, s:i}", "type", "test", "n", i));
        ev_run(f->loop, EVRUN_NOWAIT);
    }
    for (int i = 0; i < 2; i++) {
        run_until_done(f->loop, &c[i]);
        assert_int_equal(c[i].status, 200);
        assert_int_equal(count_lines(&c[i].body), 3);
        const char *line = c[i].body.string;
        for (int k = 1; k <= 3; k++) {
            json_error_t error;
            json_t *e = json_loadb(line, strcspn(line, "\n"), 0, &error);
            assert_non_null(e);
            assert_string_equal(json_string_value(json_object_get(e, "type")),
                                "test");
            assert_int_equal(json_integer_value(json_object_get(e, "n")), k);
            assert_int_equal(json_integer_value(json_object_get(e, "seq")),
                             k + 1);
            json_decref(e);
            line = strchr(line, '\n') + 1;
        }
        client_free(&c[i]);
    }
    /* The subscribers are gone once they disconnect. */
    s.n = 0;
    run_until(f->loop, have_subs, &s);

    /* History without following. */
    struct client h;
    exchange(f, &h,
             "GET /v1/events?follow=false HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n");
    assert_int_equal(h.status, 200);
    assert_int_equal(count_lines(&h.body), 4);
    assert_non_null(strstr(h.body.string, "\"old\""));
    client_free(&h);

    expect_error(f,
                 "GET /v1/events?follow=maybe HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n",
                 400, "invalid_parameter", NULL);
}

static void
test_events_overflow(void **state)
{
    struct fixture *f = *state;
    struct client c;

    client_start(&c, f->path, EVENTS_REQ);
    assert_int_equal(pipe(c.gate), 0);
    client_go(&c);
    struct n_subs s = { f->api, 1 };
    run_until(f->loop, have_subs, &s);

    /* The client does not read: its socket buffer fills, then its queue. */
    char pad[1001];
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    int n_published = 3000;
    for (int i = 0; i < n_published; i++) {
        api_publish_event(f->api, json_pack("{s:s, s:i, s:s}", "type", "bulk",
                                            "n", i, "pad", pad));
        if (i % 50 == 0) {
            ev_run(f->loop, EVRUN_NOWAIT);
        }
    }
    ignore(write(c.gate[1], "g", 1));
    run_until_done(f->loop, &c);
    assert_int_equal(c.status, 200);

    size_t n = count_lines(&c.body);
    assert_true(n > 1 && n < (size_t) n_published);
    assert_true(c.body.length >= 20);
    const char *last = c.body.string + c.body.length - 20;
    assert_string_equal(last, "{\"type\":\"overflow\"}\n");
    client_free(&c);
    s.n = 0;
    run_until(f->loop, have_subs, &s);
}

static void
test_socket(void **state)
{
    struct fixture *f = *state;
    struct stat st;
    char *error;

    /* Mode 0660. */
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0660);

    /* A second instance is refused and leaves the first one alone. */
    struct api_options opts = { .socket_path = f->path };
    struct api *api2 = api_create(f->loop, &opts, &error);
    assert_null(api2);
    assert_non_null(strstr(error, "another vmacd is running on"));
    assert_non_null(strstr(error, f->path));
    free(error);
    struct client c;
    exchange(f, &c,
             "GET /v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "\r\n");
    assert_int_equal(c.status, 200);
    client_free(&c);

    /* On destroy the socket file goes away. */
    api_destroy(f->api);
    f->api = NULL;
    assert_int_equal(stat(f->path, &st), -1);

    /* A stale socket file is replaced. */
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, f->path, sizeof sun.sun_path);
    assert_int_equal(bind(fd, (struct sockaddr *) &sun, sizeof sun), 0);
    close(fd);
    assert_int_equal(stat(f->path, &st), 0);
    fixture_api(f);
    exchange(f, &c,
             "GET /v1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "\r\n");
    assert_int_equal(c.status, 200);
    client_free(&c);

    /* Something else at the path is refused. */
    char *other = xasprintf("%s/file", f->dir);
    FILE *file = fopen(other, "w");
    fclose(file);
    opts.socket_path = other;
    assert_null(api_create(f->loop, &opts, &error));
    assert_non_null(strstr(error, "not a socket"));
    free(error);
    unlink(other);
    free(other);
}

static void
test_tcp(void **state)
{
    struct fixture *f = *state;
    char *error;

    struct api_options bad = { .tcp_address = "192.0.2.1" };
    assert_null(api_create(f->loop, &bad, &error));
    assert_non_null(strstr(error, "loopback"));
    free(error);

    struct api_options opts = { .tcp_address = "127.0.0.1" };
    struct api *api = api_create(f->loop, &opts, &error);
    assert_non_null(api);
    assert_true(api_get_tcp_port(api) > 0);
    struct client c;
    client_start(&c, NULL,
                 "GET /v1 HTTP/1.1\r\nHost: x\r\n"
                 "Connection: close\r\n\r\n");
    c.tcp_port = api_get_tcp_port(api);
    client_go(&c);
    run_until_done(f->loop, &c);
    assert_int_equal(c.status, 200);
    client_free(&c);
    api_destroy(api);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async, setup, teardown),
        cmocka_unit_test_setup_teardown(test_async_client_gone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_destroy_pending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
