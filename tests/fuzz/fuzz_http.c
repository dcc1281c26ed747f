/*
 * libFuzzer harness for the API's request handling: the request framing of
 * the front (api-http.c) and the whole path of a request through the api
 * (front, libmicrohttpd, routing and path checks).
 *
 * Input: one selector byte, then bytes as a client would send them.
 *   even  framing: the bytes are fed to an api_http framer in one piece and
 *         again in pieces of sizes taken from the selector; both must see
 *         the same requests (events, heads, body bytes) and the same
 *         verdict, and every head it accepts ends with an empty line and
 *         has no control bytes but CR, LF and HTAB;
 *   odd   api: a real api on a unix socket in a private directory gets the
 *         bytes on a new connection, which then ends its side.  Every
 *         reply must be a well-formed HTTP/1.1 response, the connection
 *         must be closed within a bounded number of loop iterations (a
 *         request that is bad or cut short is answered at once), and
 *         every handler that runs must see path parameters that the API
 *         promises: [A-Za-z0-9_.-]{1,63}, not "." or "..".
 *
 * Seeds: tests/fuzz/seeds-http/.
 */
#include <errno.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api-http.h"
#include "api.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 60000 /* Stays below the socket buffer. */
#define MAX_ROUNDS 2000 /* Loop iterations before a reply is late. */

static void
check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

/* Framing. */

struct frames {
    struct ds log; /* Events, heads and body bytes, in order. */
    unsigned int status;
};

static void
frames_run(const uint8_t *data, size_t size, size_t piece, struct frames *f)
{
    struct api_http h;
    api_http_init(&h);
    ds_init(&f->log);
    f->status = 0;

    size_t off = 0;
    while (off < size && !f->status) {
        size_t n = MIN(piece, size - off);
        size_t done = 0;
        while (done < n && !f->status) {
            bool body = api_http_in_body(&h);
            size_t avail = n - done;
            size_t used;
            enum api_http_event ev = api_http_feed(
                &h, (const char *) data + off + done, n - done, &used);
            check(used <= avail, "the framer takes what it is given");
            if (body) {
                ds_put_buffer(&f->log, (const char *) data + off + done,
                              used);
            }
            done += used;
            if (ev == API_HTTP_HEAD_DONE) {
                const struct ds *head = &h.head;
                check(head->length >= 2
                          && head->string[head->length - 1] == '\n',
                      "a head ends with an empty line");
                for (size_t i = 0; i < head->length; i++) {
                    unsigned char c = head->string[i];
                    check(c >= 0x20 || c == '\r' || c == '\n' || c == '\t',
                          "a head has no control bytes");
                }
                ds_put_format(&f->log, "<head %zu>", head->length);
                ds_put_buffer(&f->log, head->string, head->length);
                api_http_next_head(&h);
            } else if (ev == API_HTTP_DONE) {
                ds_put_cstr(&f->log, "<done>");
            } else if (ev == API_HTTP_ERROR) {
                check(h.status >= 400 && h.status < 600 && h.error,
                      "a refusal has a status and a reason");
                f->status = h.status;
            } else {
                check(used == avail, "MORE means all was taken");
            }
        }
        off += n;
    }
    api_http_destroy(&h);
}

static void
fuzz_framing(const uint8_t *data, size_t size, unsigned int sel)
{
    struct frames whole, pieces;
    frames_run(data, size, SIZE_MAX, &whole);
    frames_run(data, size, 1 + sel % 7, &pieces);
    check(whole.status == pieces.status, "the same verdict in pieces");
    check(whole.log.length == pieces.log.length
              && (!whole.log.length
                  || !memcmp(whole.log.string, pieces.log.string,
                             whole.log.length)),
          "the same requests in pieces");
    ds_destroy(&whole.log);
    ds_destroy(&pieces.log);
}

/* The api. */

static struct ev_loop *loop;
static struct api *api;
static char sock_path[128];
static bool handler_ran;

static bool
param_ok(const char *v)
{
    size_t len = strlen(v);
    if (!len || len > 63 || !strcmp(v, ".") || !strcmp(v, "..")) {
        return false;
    }
    for (const char *p = v; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'
              || *p == '-')) {
            return false;
        }
    }
    return true;
}

static void
handler(struct api_request *req, void *aux OVS_UNUSED)
{
    handler_ran = true;
    const char *names[] = { "name", "member" };
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        const char *v = api_request_param(req, names[i]);
        check(!v || param_ok(v), "path parameters are valid");
    }
    const char *path = api_request_path(req);
    for (const char *p = path; *p; p++) {
        check((unsigned char) *p > 0x20 && (unsigned char) *p < 0x7f,
              "paths are printable ASCII");
    }
    api_reply(req, 200, json_pack("{s:s}", "path", path));
}

static char sock_dir[64];

/* The api lives as long as the process: clean up its socket at exit. */
static void
api_cleanup(void)
{
    api_destroy(api);
    rmdir(sock_dir);
}

static void
api_setup(void)
{
    ovs_strlcpy(sock_dir, "/tmp/fuzz_http.XXXXXX", sizeof sock_dir);
    check(mkdtemp(sock_dir) != NULL, "mkdtemp");
    snprintf(sock_path, sizeof sock_path, "%s/api.sock", sock_dir);
    atexit(api_cleanup);
    loop = ev_loop_new(EVFLAG_AUTO);
    struct api_options opts = { .socket_path = sock_path };
    char *error;
    api = api_create(loop, &opts, &error);
    check(api != NULL, "api_create");
    api_route(api, "GET", "/v1/aliases", handler, NULL);
    api_route(api, "POST", "/v1/aliases", handler, NULL);
    api_route(api, "GET", "/v1/aliases/{name}", handler, NULL);
    api_route(api, "PUT", "/v1/aliases/{name}", handler, NULL);
    api_route(api, "DELETE", "/v1/aliases/{name}", handler, NULL);
    api_route(api, "PUT", "/v1/aliases/{name}/members/{member}", handler,
              NULL);
}

/* Checks that 'out' is a sequence of HTTP/1.1 responses. */
static void
check_responses(const struct ds *out)
{
    if (!out->length) {
        return;
    }
    const char *p = out->string;
    const char *end = p + out->length;
    while (p < end) {
        check(end - p >= 12 && !memcmp(p, "HTTP/1.1 ", 9)
                  && p[9] >= '1' && p[9] <= '5',
              "a reply starts with an HTTP/1.1 status line");
        const char *head_end = memmem(p, end - p, "\r\n\r\n", 4);
        check(head_end != NULL, "a reply has a complete head");
        const char *cl = memmem(p, head_end - p, "Content-Length: ", 16);
        if (!cl) {
            /* Chunked or to the end: the last one. */
            return;
        }
        long n = strtol(cl + 16, NULL, 10);
        check(n >= 0, "a reply's Content-Length is a length");
        if (head_end + 4 + n > end) {
            /* Only the reply to a HEAD request has no body. */
            check(head_end + 4 == end, "a reply's body is whole");
            return;
        }
        p = head_end + 4 + n;
    }
}

static void
fuzz_api(const uint8_t *data, size_t size)
{
    if (!api) {
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
        api_setup();
    }
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    ovs_strlcpy(sun.sun_path, sock_path, sizeof sun.sun_path);
    check(!connect(fd, (struct sockaddr *) &sun, sizeof sun), "connect");
    check(write(fd, data, size) == (ssize_t) size, "write");
    shutdown(fd, SHUT_WR);

    struct ds out = DS_EMPTY_INITIALIZER;
    bool closed = false;
    handler_ran = false;
    for (int i = 0; i < MAX_ROUNDS && !closed; i++) {
        ev_run(loop, EVRUN_NOWAIT);
        char buf[65536];
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            ds_put_buffer(&out, buf, n);
        } else if (!n || (errno != EAGAIN && errno != EINTR)) {
            closed = true;
        }
    }
    check(closed, "the api ends the connection at once");
    check_responses(&out);
    check(!handler_ran || out.length, "a handled request is answered");
    ds_destroy(&out);
    close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT) {
        return 0;
    }
    if (data[0] & 1) {
        fuzz_api(data + 1, size - 1);
    } else {
        fuzz_framing(data + 1, size - 1, data[0] >> 1);
    }
    return 0;
}
