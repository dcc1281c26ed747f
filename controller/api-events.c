/*
 * api-events: the "GET /v1/events" stream and api_publish_event().
 *
 * Each event is serialized once into a reference-counted line; every
 * subscriber has a bounded ring of lines.  A subscriber with nothing to send
 * is suspended in MHD and resumed by the next publish.
 */
#include "api-private.h"

#include <stdlib.h>
#include <string.h>

#include "openvswitch/vlog.h"
#include "ratelog.h"
#include "util.h"

/* Log as module "api" (see api-private.h). */
#define this_module (*api_vlog_module)

/* Event lines. */

struct api_line *
api_line_create(const char *data, size_t len)
{
    struct api_line *line = xmalloc(sizeof *line + len);
    line->refcnt = 1;
    line->len = len;
    memcpy(line->data, data, len);
    return line;
}

struct api_line *
api_line_ref(struct api_line *line)
{
    line->refcnt++;
    return line;
}

void
api_line_unref(struct api_line *line)
{
    if (line && !--line->refcnt) {
        free(line);
    }
}

static void
api_sub_push(struct api_sub *sub, struct api_line *line)
{
    size_t cap = API_EVENT_QUEUE_MAX + 1;
    sub->ring[(sub->head + sub->n) % cap] = api_line_ref(line);
    sub->n++;
    sub->bytes += line->len;
}

static ssize_t
api_sub_read(void *sub_, uint64_t pos OVS_UNUSED, char *buf, size_t max)
{
    struct api_sub *sub = sub_;
    size_t cap = API_EVENT_QUEUE_MAX + 1;
    size_t done = 0;

    if (sub->closing) {
        if (sub->req) {
            sub->req->listener->quiet = true;
        }
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    while (sub->n && done < max) {
        struct api_line *line = sub->ring[sub->head];
        size_t chunk = MIN(max - done, line->len - sub->off);
        memcpy(buf + done, line->data + sub->off, chunk);
        done += chunk;
        sub->off += chunk;
        if (sub->off == line->len) {
            sub->bytes -= line->len;
            api_line_unref(line);
            sub->head = (sub->head + 1) % cap;
            sub->n--;
            sub->off = 0;
        }
    }
    if (done) {
        return done;
    }
    if (sub->overflow || !sub->follow || !sub->req) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    api_request_suspend(sub->req);
    return 0;
}

static void
api_sub_free(void *sub_)
{
    struct api_sub *sub = sub_;
    size_t cap = API_EVENT_QUEUE_MAX + 1;

    if (sub->req) {
        ovs_list_remove(&sub->node);
        sub->req->sub = NULL;
    }
    for (size_t i = 0; i < sub->n; i++) {
        api_line_unref(sub->ring[(sub->head + i) % cap]);
    }
    free(sub->ring);
    free(sub);
}

static bool
api_query_bool(const struct api_request *req, const char *name, bool dflt,
               bool *valid)
{
    const char *v = api_request_query(req, name);

    if (!v) {
        return dflt;
    } else if (!strcmp(v, "true") || !strcmp(v, "1")) {
        return true;
    } else if (!strcmp(v, "false") || !strcmp(v, "0")) {
        return false;
    }
    *valid = false;
    return dflt;
}

void
api_builtin_events(struct api_request *req, void *api_)
{
    struct api *api = api_;
    bool valid = true;
    bool follow = api_query_bool(req, "follow", true, &valid);
    bool history = api_query_bool(req, "history", !follow, &valid);

    if (!valid) {
        api_reply_error(req, 400, "invalid_parameter", NULL,
                        "query parameters follow and history take true or "
                        "false");
        return;
    }

    struct api_sub *sub = xzalloc(sizeof *sub);
    sub->api = api;
    sub->req = req;
    sub->follow = follow;
    sub->ring = xcalloc(API_EVENT_QUEUE_MAX + 1, sizeof *sub->ring);
    for (size_t i = 0; history && i < api->history_n; i++) {
        api_sub_push(
            sub, api->history[(api->history_head + i) % API_EVENT_HISTORY]);
    }
    req->sub = sub;
    ovs_list_push_back(&api->subs, &sub->node);

    /* A quiet stream must not time out. */
    MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT, 0);

    struct MHD_Response *response = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, 4096, api_sub_read, sub, api_sub_free);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/x-ndjson");
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
    req->replied = true;
    api_request_set_response(req, 200, response);
}

/* Events. */

void
api_publish_event(struct api *api, json_t *event)
{
    if (!json_is_object(event)) {
        VLOG_WARN("dropping event that is not a JSON object");
        json_decref(event);
        return;
    }
    api->seq++;
    if (!json_object_get(event, "seq")) {
        json_object_set_new(event, "seq", json_integer(api->seq));
    }
    if (!json_object_get(event, "time")) {
        json_object_set_new(event, "time", json_real(ev_now(api->loop)));
    }
    char *text = json_dumps(event, JSON_COMPACT);
    json_decref(event);
    if (!text) {
        VLOG_WARN("cannot encode event");
        return;
    }
    size_t len = strlen(text);
    text = xrealloc(text, len + 2);
    text[len++] = '\n';
    struct api_line *line = api_line_create(text, len);
    free(text);

    if (api->history_n == API_EVENT_HISTORY) {
        api_line_unref(api->history[api->history_head]);
        api->history_head = (api->history_head + 1) % API_EVENT_HISTORY;
        api->history_n--;
    }
    api->history[(api->history_head + api->history_n) % API_EVENT_HISTORY]
        = api_line_ref(line);
    api->history_n++;

    struct api_sub *sub;
    LIST_FOR_EACH (sub, node, &api->subs) {
        if (sub->overflow || sub->closing) {
            continue;
        }
        if (sub->n >= API_EVENT_QUEUE_MAX
            || sub->bytes + line->len > API_EVENT_QUEUE_BYTES) {
            static const char overflow[] = "{\"type\":\"overflow\"}\n";
            struct api_line *o
                = api_line_create(overflow, sizeof overflow - 1);
            api_sub_push(sub, o);
            api_line_unref(o);
            sub->overflow = true;
            RL_WARN("event subscriber fell behind, dropping it");
        } else {
            api_sub_push(sub, line);
        }
        if (sub->req) {
            api_request_unsuspend(sub->req);
        }
    }
    api_line_unref(line);
}

size_t
api_n_subscribers(const struct api *api)
{
    return ovs_list_size(&api->subs);
}

void
api_events_clear(struct api *api)
{
    for (size_t i = 0; i < api->history_n; i++) {
        api_line_unref(
            api->history[(api->history_head + i) % API_EVENT_HISTORY]);
    }
    api->history_n = 0;
}
