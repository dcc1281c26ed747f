/*
 * vmacctl-http: vmacctl's API client.  Sends one HTTP/JSON request to
 * vmacd over its unix socket (libcurl), parses the reply or streams it line
 * by line (events), and turns failures into messages and exit codes.
 */
#include "vmacctl-private.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

struct call {
    CURL *curl;
    struct ds body;
    bool stream;    /* Print lines as they come (events). */
    struct ds line; /* Partial line while streaming. */
    void (*on_line)(const char *line);
};

static size_t
call_write_cb(char *data, size_t size, size_t n, void *call_)
{
    struct call *call = call_;
    size_t len = size * n;
    long status = 0;

    curl_easy_getinfo(call->curl, CURLINFO_RESPONSE_CODE, &status);
    if (!call->stream || status >= 300) {
        ds_put_buffer(&call->body, data, len);
        return len;
    }
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            call->on_line(ds_cstr(&call->line));
            ds_clear(&call->line);
        } else {
            ds_put_char(&call->line, data[i]);
        }
    }
    fflush(stdout);
    return len;
}

/* Prints the API's error message from 'body' for HTTP 'status'. */
static void
print_api_error(long status, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));

    if (vmacctl_json_output && j) {
        char *s = json_dumps(j, JSON_INDENT(2));
        puts(s);
        free(s);
    }
    if (msg) {
        fprintf(stderr, "vmacctl: %s (%s, HTTP %ld)\n", msg,
                code ? code : "error", status);
    } else {
        fprintf(stderr, "vmacctl: HTTP %ld\n", status);
    }
    json_decref(j);
}

/* Sends 'method' 'path' with optional 'body'.  On success (2xx) stores the
 * parsed reply (or NULL if empty, or when streaming) in '*replyp' and
 * returns EXIT_OK; otherwise prints the error and returns an exit code. */
int
vmacctl_call_api(const char *method, const char *path, const char *body,
                 void (*on_line)(const char *), json_t **replyp)
{
    struct call call = { .stream = on_line != NULL, .on_line = on_line };
    struct curl_slist *headers = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char *url = xasprintf("http://localhost%s", path);
    int ret = EXIT_OK;

    *replyp = NULL;
    ds_init(&call.body);
    ds_init(&call.line);
    call.curl = curl_easy_init();
    if (!call.curl) {
        fprintf(stderr, "vmacctl: cannot initialize libcurl\n");
        free(url);
        return EXIT_CONNECT;
    }
    curl_easy_setopt(call.curl, CURLOPT_UNIX_SOCKET_PATH, vmacctl_socket_path);
    curl_easy_setopt(call.curl, CURLOPT_URL, url);
    curl_easy_setopt(call.curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(call.curl, CURLOPT_WRITEFUNCTION, call_write_cb);
    curl_easy_setopt(call.curl, CURLOPT_WRITEDATA, &call);
    curl_easy_setopt(call.curl, CURLOPT_ERRORBUFFER, errbuf);
    /* --timeout bounds the whole request; an event stream only its
     * connection (it runs until interrupted).  A write gets
     * VMACCTL_WRITE_WAIT_S more: the daemon itself waits up to that long
     * for the switches to apply it before it replies. */
    long timeout_ms = vmacctl_timeout_ms;
    if (timeout_ms && strcmp(method, "GET")) {
        timeout_ms += VMACCTL_WRITE_WAIT_S * 1000;
    }
    curl_easy_setopt(call.curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(call.curl, CURLOPT_NOSIGNAL, 1L);
    if (!on_line) {
        curl_easy_setopt(call.curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    }
    headers = curl_slist_append(headers, "Accept: application/json");
    if (vmacctl_if_match && strcmp(method, "GET")) {
        char *h = xasprintf("If-Match: %s", vmacctl_if_match);
        headers = curl_slist_append(headers, h);
        free(h);
    }
    if (body) {
        headers = curl_slist_append(headers, "Content-Type: application/json");
        curl_easy_setopt(call.curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(call.curl, CURLOPT_POSTFIELDSIZE,
                         (long) strlen(body));
    }
    curl_easy_setopt(call.curl, CURLOPT_HTTPHEADER, headers);

    CURLcode rc = curl_easy_perform(call.curl);
    long status = 0;
    curl_easy_getinfo(call.curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !(status >= 300 && call.body.length)) {
        long os_errno = 0;
        curl_easy_getinfo(call.curl, CURLINFO_OS_ERRNO, &os_errno);
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            fprintf(stderr,
                    "vmacctl: %s %s: no reply from vmacd at %s within %.3g "
                    "s (--timeout)\n",
                    method, path, vmacctl_socket_path, timeout_ms / 1000.0);
        } else if (rc == CURLE_COULDNT_CONNECT || !status) {
            fprintf(stderr, "vmacctl: cannot connect to vmacd at %s: %s\n",
                    vmacctl_socket_path,
                    (os_errno    ? ovs_strerror(os_errno)
                     : errbuf[0] ? errbuf
                                 : curl_easy_strerror(rc)));
        } else {
            fprintf(stderr, "vmacctl: %s %s: %s\n", method, path,
                    errbuf[0] ? errbuf : curl_easy_strerror(rc));
        }
        ret = EXIT_CONNECT;
    } else if (status >= 300) {
        print_api_error(status, ds_cstr(&call.body));
        ret = EXIT_API;
    } else if (!on_line && call.body.length) {
        json_error_t error;
        *replyp = json_loadb(call.body.string, call.body.length, 0, &error);
        if (!*replyp) {
            fprintf(stderr, "vmacctl: invalid JSON reply: %s\n", error.text);
            ret = EXIT_API;
        }
    } else if (on_line && call.line.length) {
        on_line(ds_cstr(&call.line));
    }

    curl_slist_free_all(headers);
    curl_easy_cleanup(call.curl);
    ds_destroy(&call.body);
    ds_destroy(&call.line);
    free(url);
    return ret;
}

/* Prints 'j' as --json does: indented, on stdout. */
void
vmacctl_print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

/* Fetches 'path' with GET into '*replyp'.  In --json mode, prints the reply
 * instead and sets '*replyp' to NULL: callers render only a non-NULL reply. */
int
vmacctl_get(const char *path, json_t **replyp)
{
    int ret = vmacctl_call_api("GET", path, NULL, NULL, replyp);
    if (ret == EXIT_OK && !*replyp) {
        *replyp = json_object();
    }
    if (ret == EXIT_OK && vmacctl_json_output) {
        vmacctl_print_json(*replyp);
        json_decref(*replyp);
        *replyp = NULL;
    }
    return ret;
}

void
vmacctl_http_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
vmacctl_http_cleanup(void)
{
    curl_global_cleanup();
}
