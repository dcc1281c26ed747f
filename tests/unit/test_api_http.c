/*
 * Unit tests for api-http, the request framing that the API's front applies
 * before libmicrohttpd: where requests end, and which heads are refused
 * (with which status and message), fed whole and byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api-http.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* What a framer made of some input: "H" for a head, "B<n>" for body
 * bytes, "D" for a body's end, "E<status>" for a refusal. */
static char *
frame(const char *data, size_t n, size_t piece, char **error)
{
    struct api_http h;
    struct ds log = DS_EMPTY_INITIALIZER;
    api_http_init(&h);
    *error = NULL;

    size_t off = 0;
    while (off < n && !*error) {
        size_t len = MIN(piece, n - off);
        size_t done = 0;
        while (done < len && !*error) {
            bool body = api_http_in_body(&h);
            size_t used;
            enum api_http_event ev
                = api_http_feed(&h, data + off + done, len - done, &used);
            if (body && used) {
                ds_put_format(&log, "B%zu", used);
            }
            done += used;
            switch (ev) {
            case API_HTTP_HEAD_DONE:
                ds_put_char(&log, 'H');
                api_http_next_head(&h);
                break;
            case API_HTTP_DONE:
                ds_put_char(&log, 'D');
                break;
            case API_HTTP_ERROR:
                ds_put_format(&log, "E%u", h.status);
                *error = xstrdup(h.error);
                break;
            case API_HTTP_MORE:
            default:
                break;
            }
        }
        off += len;
    }
    if (api_http_mid_request(&h)) {
        ds_put_char(&log, '+');
    }
    api_http_destroy(&h);
    return ds_steal_cstr(&log);
}

/* Body byte counts merge when fed in pieces: compare without them. */
static char *
shape(const char *log)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    for (const char *p = log; *p; p++) {
        if (*p == 'B') {
            if (!s.length || s.string[s.length - 1] != 'B') {
                ds_put_char(&s, 'B');
            }
            while (p[1] >= '0' && p[1] <= '9') {
                p++;
            }
        } else {
            ds_put_char(&s, *p);
        }
    }
    return ds_steal_cstr(&s);
}

/* Frames 'data' whole and byte by byte: both must agree; returns the
 * shape and the error. */
static char *
frame_both(const char *data, size_t n, char **error)
{
    char *e1, *e2;
    char *whole = frame(data, n, SIZE_MAX, &e1);
    char *bytes = frame(data, n, 1, &e2);
    char *s1 = shape(whole), *s2 = shape(bytes);
    assert_string_equal(s1, s2);
    assert_true((!e1 && !e2) || (e1 && e2 && !strcmp(e1, e2)));
    free(whole);
    free(bytes);
    free(s2);
    free(e2);
    *error = e1;
    return s1;
}

static void
expect(const char *data, size_t n, const char *want, const char *error_part)
{
    char *error;
    char *got = frame_both(data, n ? n : strlen(data), &error);
    if (strcmp(got, want)) {
        fail_msg("%s: framed as %s, expected %s (%s)", data, got, want,
                 error ? error : "no error");
    }
    if (error_part) {
        assert_non_null(error);
        if (!strstr(error, error_part)) {
            fail_msg("%s: error \"%s\" lacks \"%s\"", data, error, error_part);
        }
    } else {
        assert_null(error);
    }
    free(got);
    free(error);
}

static void
test_requests(void **state OVS_UNUSED)
{
    expect("GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n", 0, "H", NULL);
    expect("GET /v1 HTTP/1.0\n\n", 0, "H", NULL);
    /* Pipelined, with the empty lines a client may send in between. */
    expect("GET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0, "HH",
           NULL);
    expect("POST /v1/aliases HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
           "GET /v1 HTTP/1.1\r\n\r\n",
           0, "HBDH", NULL);
    /* The same length twice is one length. */
    expect("POST /x HTTP/1.1\r\nContent-Length: 3\r\ncontent-length:3\r\n"
           "\r\nabc",
           0, "HBD", NULL);
    expect("PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 0, "H", NULL);
    expect("POST /x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"
           "3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
           0, "HBD", NULL);
    /* Incomplete: more to come. */
    expect("GET /v1 HTTP/1.1\r\nHost:", 0, "+", NULL);
    expect("POST /x HTTP/1.1\r\nContent-Length: 50\r\n\r\n{}", 0, "HB+", NULL);
    expect("\r\n\r\n", 0, "", NULL);
}

static void
test_refused_heads(void **state OVS_UNUSED)
{
    /* Control bytes: at once, whatever follows. */
    expect("\0GET /v1 HTTP/1.1\r\n\r\n", 21, "E400", "byte 0x00");
    expect("\0", 1, "E400", "byte 0x00");
    expect("GET /v1/aliases/a\0../x HTTP/1.1\r\n", 33, "E400", "byte 0x00");
    expect("GET /v1\x01 HTTP/1.1\r\n\r\n", 0, "E400", "byte 0x01");
    expect("GET /v1 HTTP/1.1\r\nX: a\x7f\r\n\r\n", 0, "E400", "byte 0x7f");
    /* Request line. */
    expect("GET  /v1 HTTP/1.1\r\n\r\n", 0, "E400", "malformed request line");
    expect("GET /v1\r\n\r\n", 0, "E400", "malformed request line");
    expect("GET v1 HTTP/1.1\r\n\r\n", 0, "E400", "starting with '/'");
    expect("G(T /v1 HTTP/1.1\r\n\r\n", 0, "E400", "method");
    expect("GET /v1 HTTP/2.0\r\n\r\n", 0, "E505", "HTTP version");
    expect("GET /v1 FTP/1.1\r\n\r\n", 0, "E400", "HTTP version");
    expect("GET /\x80 HTTP/1.1\r\n\r\n", 0, "E400", "byte 0x80");
    /* Headers. */
    expect("GET / HTTP/1.1\r\nHost x\r\n\r\n", 0, "E400", "header line");
    expect("GET / HTTP/1.1\r\nHo st: x\r\n\r\n", 0, "E400", "header line");
    expect("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 0, "E400", "folded");
    expect("GET / HTTP/1.1\rX: b\r\n\r\n", 0, "E400", "CR without LF");
    /* Framing headers. */
    expect("GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 0, "E400",
           "invalid Content-Length \"abc\"");
    expect("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, "E400",
           "invalid Content-Length");
    expect("GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 0, "E400",
           "invalid Content-Length");
    expect("GET / HTTP/1.1\r\nContent-Length: 13\t\r\n\r\n", 0, "E400",
           "white space after the value of Content-Length");
    expect("GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, "E400",
           "invalid Content-Length");
    expect("GET / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n", 0,
           "E400", "invalid Content-Length");
    expect("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n"
           "\r\n{}",
           0, "E400", "conflicting Content-Length headers (2 and 5)");
    expect("POST / HTTP/1.1\r\nContent-Length: 2\r\n"
           "Transfer-Encoding: chunked\r\n\r\n",
           0, "E400", "together");
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, "E501",
           "Transfer-Encoding");
    expect("POST / HTTP/1.1\r\nTransfer-Encoding: chunked \r\n\r\n", 0, "E400",
           "white space after");
    expect("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0, "E400",
           "HTTP/1.0");
}

static void
test_bounds(void **state OVS_UNUSED)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&s, "GET / HTTP/1.1\r\nX: ");
    ds_put_char_multiple(&s, 'a', API_HTTP_MAX_HEAD);
    expect(ds_cstr(&s), 0, "E431", "longer than 16384");
    ds_clear(&s);
    ds_put_cstr(&s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= API_HTTP_MAX_HEADERS; i++) {
        ds_put_format(&s, "X%d: y\r\n", i);
    }
    ds_put_cstr(&s, "\r\n");
    expect(ds_cstr(&s), 0, "E431", "more than 64 header lines");
    ds_destroy(&s);
}

static void
test_chunked(void **state OVS_UNUSED)
{
    const char *head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct {
        const char *body;
        const char *want;
        const char *error;
    } cases[] = {
        { "5\r\nhello\r\n0\r\n\r\n", "HBD", NULL },
        { "5\nhello\n0\n\n", "HBD", NULL },
        { "5 \r\nhello\r\n0\r\n\r\n", "HBE400", "chunk size" },
        { "5 ;x\r\nhello\r\n0\r\n\r\n", "HBE400", "chunk size" },
        { "x\r\n", "HBE400", "chunk size" },
        { ";x\r\n", "HBE400", "chunk size" },
        { "1234567890abcdef0\r\n", "HBE400", "chunk size" },
        { "5\r\nhelloXY\r\n", "HBE400", "longer than its size" },
        { "0\r\nbad trailer\r\n\r\n", "HBE400", "trailer" },
        { "5\r\nhel", "HB+", NULL },
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        char *data = xasprintf("%s%s", head, cases[i].body);
        expect(data, 0, cases[i].want, cases[i].error);
        free(data);
    }
}

static void
test_error_response(void **state OVS_UNUSED)
{
    char *r = api_http_error_response(400, "a \"quoted\" reason");
    const char *body = strstr(r, "\r\n\r\n");
    assert_non_null(body);
    body += 4;
    assert_true(!strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26));
    assert_non_null(strstr(r, "Connection: close\r\n"));
    char *cl = xasprintf("Content-Length: %zu\r\n", strlen(body));
    assert_non_null(strstr(r, cl));
    free(cl);
    json_error_t error;
    json_t *j = json_loads(body, 0, &error);
    assert_non_null(j);
    json_t *e = json_object_get(j, "error");
    assert_string_equal(json_string_value(json_object_get(e, "code")),
                        "bad_request");
    assert_string_equal(json_string_value(json_object_get(e, "message")),
                        "a \"quoted\" reason");
    json_decref(j);
    free(r);

    r = api_http_error_response(408, "late");
    assert_true(!strncmp(r, "HTTP/1.1 408 Request Timeout\r\n", 30));
    assert_non_null(strstr(r, "\"request_timeout\""));
    free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_refused_heads),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_error_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
