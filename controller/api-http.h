/*
 * api-http: the framing of HTTP/1.1 requests as the API's front
 * (api-front.c) sees them before libmicrohttpd does: where each request
 * ends (Content-Length or chunked body), and whether its head is sound.
 * Pure: bytes in, events out.  Not for use outside the api module.
 *
 * A head is refused (with the status and message to answer) when:
 *   - it holds a NUL or another control byte (other than CR, LF, HTAB):
 *     at once, without waiting for the end of the line;
 *   - the request line is not "METHOD SP /TARGET SP HTTP/1.x", METHOD a
 *     token, TARGET printable ASCII starting with '/' (400; another
 *     HTTP version: 505);
 *   - a header line is not "NAME: VALUE" with NAME a token, or is folded;
 *   - Content-Length is not a decimal number, or is given twice with
 *     different values, or comes with Transfer-Encoding (400);
 *   - Transfer-Encoding is anything but "chunked" (501);
 *   - it passes API_HTTP_MAX_HEAD bytes or API_HTTP_MAX_HEADERS headers
 *     (431).
 * A chunked body whose framing is broken is refused too (400).
 */
#ifndef VMACD_API_HTTP_H
#define VMACD_API_HTTP_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/dynamic-string.h"

#define API_HTTP_MAX_HEAD 16384   /* Request line and headers, bytes. */
#define API_HTTP_MAX_HEADERS 64   /* Header lines. */
#define API_HTTP_MAX_LINE 1024    /* A chunk-size or trailer line. */
#define API_HTTP_MAX_TRAILER 4096 /* All trailer lines. */

enum api_http_state {
    API_HTTP_IDLE,       /* Between requests: nothing of the next yet. */
    API_HTTP_HEAD,       /* Receiving the request line and headers. */
    API_HTTP_BODY,       /* Receiving a Content-Length body. */
    API_HTTP_CHUNK_SIZE, /* A chunk-size line. */
    API_HTTP_CHUNK_DATA, /* Chunk data. */
    API_HTTP_CHUNK_END,  /* The CRLF after chunk data. */
    API_HTTP_TRAILER,    /* Trailer lines, up to an empty one. */
    API_HTTP_FAILED,     /* Refused: see 'status' and 'error'. */
};

struct api_http {
    enum api_http_state state;
    struct ds head;      /* The head so far, then the whole head. */
    uint64_t left;       /* Body or chunk bytes still to come. */
    struct ds line;      /* A chunk-size or trailer line so far. */
    size_t trailer_len;  /* Trailer bytes so far. */
    unsigned int status; /* When FAILED: the HTTP status to answer. */
    char *error;         /* When FAILED: why (malloc'd). */
};

enum api_http_event {
    API_HTTP_MORE,      /* Everything taken; the request is not complete. */
    API_HTTP_HEAD_DONE, /* The head is complete and valid ('head'); the
                         * request is complete too unless a body follows
                         * (api_http_in_body()). */
    API_HTTP_DONE,      /* The body is complete. */
    API_HTTP_ERROR,     /* Refused ('status', 'error'). */
};

void api_http_init(struct api_http *);
void api_http_destroy(struct api_http *);

/* Takes bytes from 'data' ('n' of them) up to the next event and sets
 * '*used' to how many it took.  Bytes taken in the head accumulate in
 * 'head' (clear it after forwarding it: api_http_next_head()); bytes taken
 * while api_http_in_body() was true are body bytes for the caller to pass
 * on. */
enum api_http_event api_http_feed(struct api_http *, const char *data,
                                  size_t n, size_t *used);

/* Forgets the head (after API_HTTP_HEAD_DONE). */
void api_http_next_head(struct api_http *);

/* True while the bytes fed belong to a body. */
bool api_http_in_body(const struct api_http *);

/* True if part of a request has been received: a truncated request if the
 * stream ends now. */
bool api_http_mid_request(const struct api_http *);

/* A complete HTTP response for an error found in the framing (or by the
 * front: timeouts, overload): JSON body {"error": {"code", "message"}}
 * and "Connection: close".  Returns a malloc'd string. */
char *api_http_error_response(unsigned int status, const char *message);

#endif /* api-http.h */
