/*
 * api-http: HTTP/1.1 request framing and head checks (see api-http.h).
 */
#include "api-http.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

void
api_http_init(struct api_http *h)
{
    memset(h, 0, sizeof *h);
    h->state = API_HTTP_IDLE;
    ds_init(&h->head);
    ds_init(&h->line);
}

void
api_http_destroy(struct api_http *h)
{
    ds_destroy(&h->head);
    ds_destroy(&h->line);
    free(h->error);
}

static enum api_http_event
api_http_fail(struct api_http *h, unsigned int status, const char *format, ...)
    OVS_PRINTF_FORMAT(3, 4);

static enum api_http_event
api_http_fail(struct api_http *h, unsigned int status, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    free(h->error);
    h->error = xvasprintf(format, args);
    va_end(args);
    /* Messages quote the request: keep them printable ASCII (and so
     * valid JSON strings). */
    for (char *p = h->error; *p; p++) {
        if (*p < 0x20 || *p > 0x7e) {
            *p = '?';
        }
    }
    h->status = status;
    h->state = API_HTTP_FAILED;
    return API_HTTP_ERROR;
}

/* RFC 9110 token characters. */
static bool
is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
is_token(const char *s, size_t len)
{
    if (!len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar(s[i])) {
            return false;
        }
    }
    return true;
}

/* Control bytes are refused anywhere in a head, as soon as they arrive. */
static bool
is_bad_head_byte(unsigned char c)
{
    return (c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f;
}

/* Cuts the next line (without its LF, nor a CR before it) from '*p' (up
 * to 'end').  Returns false if the line holds another CR. */
static bool
next_line(const char **p, const char *end, const char **line, size_t *len)
{
    const char *lf = memchr(*p, '\n', end - *p);
    const char *stop = lf ? lf : end;
    *line = *p;
    *len = stop - *p;
    if (*len && (*line)[*len - 1] == '\r') {
        (*len)--;
    }
    *p = lf ? lf + 1 : end;
    return !memchr(*line, '\r', *len);
}

static enum api_http_event
check_request_line(struct api_http *h, const char *line, size_t len,
                   bool *http10)
{
    const char *sp1 = memchr(line, ' ', len);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', line + len - sp1 - 1) : NULL;
    if (!sp2 || memchr(sp2 + 1, ' ', line + len - sp2 - 1)) {
        return api_http_fail(h, 400,
                             "malformed request line (expected METHOD "
                             "/PATH HTTP/1.1)");
    }
    if (!is_token(line, sp1 - line) || sp1 - line > 32) {
        return api_http_fail(h, 400, "malformed request method");
    }
    const char *target = sp1 + 1;
    size_t target_len = sp2 - target;
    if (!target_len || target[0] != '/') {
        return api_http_fail(h, 400,
                             "the request target must be a path "
                             "starting with '/'");
    }
    for (size_t i = 0; i < target_len; i++) {
        unsigned char c = target[i];
        if (c <= 0x20 || c >= 0x7f) {
            return api_http_fail(h, 400,
                                 "the request target holds byte 0x%02x", c);
        }
    }
    const char *version = sp2 + 1;
    size_t version_len = line + len - version;
    if (version_len == 8 && !memcmp(version, "HTTP/1.", 7)
        && (version[7] == '0' || version[7] == '1')) {
        *http10 = version[7] == '0';
        return API_HTTP_MORE;
    }
    if (version_len == 8 && !memcmp(version, "HTTP/", 5)
        && isdigit((unsigned char) version[5]) && version[6] == '.'
        && isdigit((unsigned char) version[7])) {
        return api_http_fail(h, 505, "HTTP version %.8s is not supported",
                             version);
    }
    return api_http_fail(h, 400, "malformed HTTP version");
}

/* Parses decimal Content-Length 's' ('len' bytes) into '*value'. */
static bool
parse_length(const char *s, size_t len, uint64_t *value)
{
    if (!len || len > 18) {
        return false;
    }
    uint64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return false;
        }
        x = x * 10 + (s[i] - '0');
    }
    *value = x;
    return true;
}

/* Checks the complete head and chooses how the body is framed. */
static enum api_http_event
check_head(struct api_http *h)
{
    const char *p = h->head.string;
    const char *end = p + h->head.length;
    const char *line;
    size_t len;
    bool http10 = false;

    if (!next_line(&p, end, &line, &len)) {
        return api_http_fail(h, 400, "a CR without LF in the request line");
    }
    if (check_request_line(h, line, len, &http10) == API_HTTP_ERROR) {
        return API_HTTP_ERROR;
    }

    bool have_length = false, chunked = false, have_te = false;
    uint64_t length = 0;
    size_t n_headers = 0;
    while (p < end) {
        if (!next_line(&p, end, &line, &len)) {
            return api_http_fail(h, 400, "a CR without LF in a header line");
        }
        if (!len) {
            break;
        }
        if (++n_headers > API_HTTP_MAX_HEADERS) {
            return api_http_fail(h, 431, "more than %d header lines",
                                 API_HTTP_MAX_HEADERS);
        }
        if (line[0] == ' ' || line[0] == '\t') {
            return api_http_fail(h, 400,
                                 "folded header lines are not "
                                 "accepted");
        }
        const char *colon = memchr(line, ':', len);
        if (!colon || !is_token(line, colon - line)) {
            return api_http_fail(h, 400, "malformed header line");
        }
        size_t name_len = colon - line;
        const char *value = colon + 1;
        size_t value_len = line + len - value;
        while (value_len && (*value == ' ' || *value == '\t')) {
            value++;
            value_len--;
        }
        bool trailing_ws
            = value_len
              && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t');

        /* The framing headers are read the way libmicrohttpd reads them
         * (no white space after the value), or refused: both must agree
         * on where a request ends. */
        bool is_length
            = name_len == 14 && !strncasecmp(line, "Content-Length", 14);
        bool is_te
            = name_len == 17 && !strncasecmp(line, "Transfer-Encoding", 17);
        if ((is_length || is_te) && trailing_ws) {
            return api_http_fail(h, 400, "white space after the value of %.*s",
                                 (int) name_len, line);
        }
        if (is_length) {
            uint64_t x;
            if (!parse_length(value, value_len, &x)) {
                return api_http_fail(h, 400, "invalid Content-Length \"%.*s\"",
                                     (int) MIN(value_len, 40), value);
            }
            if (have_length && x != length) {
                return api_http_fail(h, 400,
                                     "conflicting Content-Length headers "
                                     "(%" PRIu64 " and %" PRIu64 ")",
                                     length, x);
            }
            have_length = true;
            length = x;
        } else if (is_te) {
            if (have_te || value_len != 7
                || strncasecmp(value, "chunked", 7)) {
                return api_http_fail(h, 501,
                                     "Transfer-Encoding other than "
                                     "\"chunked\" is not supported");
            }
            have_te = chunked = true;
        }
    }
    if (have_length && have_te) {
        return api_http_fail(h, 400,
                             "Content-Length and Transfer-Encoding "
                             "together");
    }
    if (chunked && http10) {
        return api_http_fail(h, 400, "chunked request body in HTTP/1.0");
    }

    if (chunked) {
        h->state = API_HTTP_CHUNK_SIZE;
    } else if (length) {
        h->state = API_HTTP_BODY;
        h->left = length;
    } else {
        h->state = API_HTTP_IDLE;
    }
    return API_HTTP_HEAD_DONE;
}

/* True if the head in 'h' just ended (an empty line). */
static bool
head_complete(const struct api_http *h)
{
    const char *s = h->head.string;
    size_t n = h->head.length;
    return (n >= 2 && s[n - 1] == '\n'
            && (s[n - 2] == '\n'
                || (n >= 3 && s[n - 2] == '\r' && s[n - 3] == '\n')));
}

/* A chunk-size, chunk end or trailer line is complete in 'h->line'. */
static enum api_http_event
chunk_line(struct api_http *h)
{
    const char *line = h->line.string;
    size_t len = h->line.length - 1; /* Without the LF. */
    if (len && line[len - 1] == '\r') {
        len--;
    }
    if (memchr(line, '\r', len)) {
        return api_http_fail(h, 400, "a CR without LF in the chunked body");
    }

    enum api_http_state state = h->state;
    ds_clear(&h->line);
    if (state == API_HTTP_CHUNK_END) {
        if (len) {
            return api_http_fail(h, 400, "chunk data longer than its size");
        }
        h->state = API_HTTP_CHUNK_SIZE;
        return API_HTTP_MORE;
    }
    if (state == API_HTTP_TRAILER) {
        if (!len) {
            h->state = API_HTTP_IDLE;
            return API_HTTP_DONE;
        }
        const char *colon = memchr(line, ':', len);
        if (!colon || !is_token(line, colon - line)) {
            return api_http_fail(h, 400, "malformed trailer line");
        }
        return API_HTTP_MORE;
    }

    /* Chunk size: hex digits, then optional extensions after ';' (with
     * no white space before it: libmicrohttpd takes none). */
    size_t digits = 0;
    uint64_t size = 0;
    while (digits < len && isxdigit((unsigned char) line[digits])) {
        int c = tolower((unsigned char) line[digits]);
        size = size * 16 + (isdigit(c) ? c - '0' : c - 'a' + 10);
        digits++;
    }
    if (!digits || digits > 15 || (digits < len && line[digits] != ';')) {
        return api_http_fail(h, 400, "malformed chunk size");
    }
    if (size) {
        h->state = API_HTTP_CHUNK_DATA;
        h->left = size;
    } else {
        h->state = API_HTTP_TRAILER;
        h->trailer_len = 0;
    }
    return API_HTTP_MORE;
}

enum api_http_event
api_http_feed(struct api_http *h, const char *data, size_t n, size_t *used)
{
    size_t i = 0;
    enum api_http_event ev = API_HTTP_MORE;

    while (i < n && ev == API_HTTP_MORE) {
        unsigned char c = data[i];
        switch (h->state) {
        case API_HTTP_IDLE:
            /* Empty lines before a request line are ignored (RFC 9112
             * 2.2). */
            if (c == '\r' || c == '\n') {
                i++;
                break;
            }
            h->state = API_HTTP_HEAD;
            break;

        case API_HTTP_HEAD:
            i++;
            if (is_bad_head_byte(c)) {
                ev = api_http_fail(h, 400,
                                   "the request head holds byte "
                                   "0x%02x",
                                   c);
            } else if (h->head.length >= API_HTTP_MAX_HEAD) {
                ev = api_http_fail(h, 431,
                                   "the request head is longer "
                                   "than %d bytes",
                                   API_HTTP_MAX_HEAD);
            } else {
                ds_put_char(&h->head, c);
                if (c == '\n' && head_complete(h)) {
                    ev = check_head(h);
                }
            }
            break;

        case API_HTTP_BODY:
        case API_HTTP_CHUNK_DATA: {
            size_t take = MIN(n - i, h->left);
            i += take;
            h->left -= take;
            if (!h->left) {
                if (h->state == API_HTTP_BODY) {
                    h->state = API_HTTP_IDLE;
                    ev = API_HTTP_DONE;
                } else {
                    h->state = API_HTTP_CHUNK_END;
                }
            }
            break;
        }

        case API_HTTP_CHUNK_SIZE:
        case API_HTTP_CHUNK_END:
        case API_HTTP_TRAILER:
            i++;
            if (is_bad_head_byte(c)) {
                ev = api_http_fail(h, 400,
                                   "the chunked body framing holds "
                                   "byte 0x%02x",
                                   c);
            } else if (h->line.length >= API_HTTP_MAX_LINE) {
                ev = api_http_fail(h, 400,
                                   "a chunked body line is longer "
                                   "than %d bytes",
                                   API_HTTP_MAX_LINE);
            } else if (h->state == API_HTTP_TRAILER
                       && ++h->trailer_len > API_HTTP_MAX_TRAILER) {
                ev = api_http_fail(h, 431,
                                   "the trailer is longer than %d "
                                   "bytes",
                                   API_HTTP_MAX_TRAILER);
            } else {
                ds_put_char(&h->line, c);
                if (c == '\n') {
                    ev = chunk_line(h);
                }
            }
            break;

        case API_HTTP_FAILED:
        default:
            ev = API_HTTP_ERROR;
            break;
        }
    }
    *used = i;
    return ev;
}

void
api_http_next_head(struct api_http *h)
{
    ds_clear(&h->head);
}

bool
api_http_in_body(const struct api_http *h)
{
    return (h->state == API_HTTP_BODY || h->state == API_HTTP_CHUNK_SIZE
            || h->state == API_HTTP_CHUNK_DATA
            || h->state == API_HTTP_CHUNK_END || h->state == API_HTTP_TRAILER);
}

bool
api_http_mid_request(const struct api_http *h)
{
    return api_http_in_body(h)
           || (h->state == API_HTTP_HEAD && h->head.length > 0);
}

char *
api_http_error_response(unsigned int status, const char *message)
{
    const char *reason, *code;
    switch (status) {
    case 400:
        reason = "Bad Request";
        code = "bad_request";
        break;
    case 408:
        reason = "Request Timeout";
        code = "request_timeout";
        break;
    case 431:
        reason = "Request Header Fields Too Large";
        code = "header_too_large";
        break;
    case 501:
        reason = "Not Implemented";
        code = "not_implemented";
        break;
    case 503:
        reason = "Service Unavailable";
        code = "unavailable";
        break;
    case 505:
        reason = "HTTP Version Not Supported";
        code = "http_version_not_supported";
        break;
    default:
        reason = "Error";
        code = "error";
        break;
    }
    json_t *j = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message",
                          message);
    char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    char *response = xasprintf("HTTP/1.1 %u %s\r\n"
                               "Content-Type: application/json\r\n"
                               "Content-Length: %zu\r\n"
                               "Connection: close\r\n\r\n%s\n",
                               status, reason, (body ? strlen(body) : 2) + 1,
                               body ? body : "{}");
    free(body);
    return response;
}
