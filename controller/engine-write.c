/*
 * engine-write: the API's writes (see docs/api.md).
 *
 * Every write follows the same steps, all before the reply:
 *
 *   1. validate: cfgedit builds the whole new config and runs the config
 *      file's validator on it; a refused request changes nothing;
 *   2. persist: the new config is written to the config file atomically
 *      (persist.c); if that fails, nothing changes either;
 *   3. apply: engine_reload() (or, for drain/undrain, the one flag in
 *      place, so that the election reports "master drained");
 *   4. wait until every connected bridge has applied the generation that
 *      carries the change (engine_when_applied()), then reply with the new
 *      state and the bridges for which the change is still pending.
 *
 * "move" is runtime state (which member is master), not configuration:
 * it is neither persisted nor refused without a config file.
 */
#include "engine-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "api.h"
#include "cfgedit.h"
#include "config.h"
#include "persist.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_write);

/* How long a write waits for the switches before replying anyway. */
#define WRITE_TIMEOUT 5.0

/* Waiting for a generation to be applied. */

struct engine_waiter {
    struct ovs_list node; /* In engine->waiters. */
    struct engine *eng;
    uint64_t generation;
    ev_timer timer; /* Timeout, or 0 s: "run now". */
    bool timed_out;
    engine_applied_cb *cb;
    void *aux;
};

static int
compare_strings(const void *a_, const void *b_)
{
    const char *const *a = a_, *const *b = b_;
    return strcmp(*a, *b);
}

/* Returns true if every connected bridge applied 'generation'.  Appends
 * to 'pending' (if nonnull), sorted, the disconnected bridges and, with
 * 'lagging', the connected ones that did not apply it. */
static bool
applied_everywhere(const struct engine *eng, uint64_t generation, bool lagging,
                   json_t *pending)
{
    size_t n = hmap_count(&eng->bridges), n_names = 0;
    const char **names = xmalloc(MAX(n, 1) * sizeof *names);
    bool done = true;
    const struct bridge *br;

    HMAP_FOR_EACH (br, node, &eng->bridges) {
        bool up = br->conn && br->conn->ft;
        bool behind = up && br->applied_generation < generation;
        done = done && !behind;
        if (!up || (behind && lagging)) {
            names[n_names++] = br->name;
        }
    }
    if (pending) {
        qsort(names, n_names, sizeof *names, compare_strings);
        for (size_t i = 0; i < n_names; i++) {
            json_array_append_new(pending, json_string(names[i]));
        }
    }
    free(names);
    return done;
}

static void
waiter_fire(struct engine_waiter *w)
{
    json_t *pending = json_array();

    applied_everywhere(w->eng, w->generation, true, pending);
    ev_timer_stop(w->eng->loop, &w->timer);
    ovs_list_remove(&w->node);
    w->cb(w->eng, pending, w->aux);
    json_decref(pending);
    free(w);
}

static void
waiter_timer_cb(struct ev_loop *loop OVS_UNUSED, ev_timer *t,
                int revents OVS_UNUSED)
{
    struct engine_waiter *w = CONTAINER_OF(t, struct engine_waiter, timer);

    if (!applied_everywhere(w->eng, w->generation, false, NULL)) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        VLOG_WARN_RL(&rl,
                     "generation %" PRIu64 " not applied by every "
                     "connected bridge after %.0f s",
                     w->generation, WRITE_TIMEOUT);
    }
    waiter_fire(w);
}

struct engine_waiter *
engine_when_applied(struct engine *eng, uint64_t generation, double timeout,
                    engine_applied_cb *cb, void *aux)
{
    struct engine_waiter *w = xzalloc(sizeof *w);

    w->eng = eng;
    w->generation = generation;
    w->cb = cb;
    w->aux = aux;
    ovs_list_push_back(&eng->waiters, &w->node);
    /* Already true (no connected bridge): fire from the loop, never
     * before returning. */
    bool now = applied_everywhere(eng, generation, false, NULL);
    ev_timer_init(&w->timer, waiter_timer_cb, now ? 0. : timeout, 0.);
    ev_timer_start(eng->loop, &w->timer);
    return w;
}

void
engine_waiter_cancel(struct engine_waiter *w)
{
    if (w) {
        ev_timer_stop(w->eng->loop, &w->timer);
        ovs_list_remove(&w->node);
        free(w);
    }
}

void
engine_check_applied(struct engine *eng)
{
    struct engine_waiter *w;

    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        if (applied_everywhere(eng, w->generation, false, NULL)) {
            waiter_fire(w);
        }
    }
}

/* Lifecycle. */

void
engine_write_init(struct engine *eng)
{
    ovs_list_init(&eng->waiters);
}

void
engine_write_destroy(struct engine *eng)
{
    /* Reply to the writes still waiting: their change is persisted and
     * applied in memory, the switches just did not confirm it. */
    struct engine_waiter *w;
    LIST_FOR_EACH_SAFE (w, node, &eng->waiters) {
        waiter_fire(w);
    }
    free(eng->config_path);
    eng->config_path = NULL;
}

void
engine_set_config_path(struct engine *eng, const char *path)
{
    free(eng->config_path);
    eng->config_path = path ? xstrdup(path) : NULL;
}

/* A write waiting for its reply. */

struct write_req {
    struct engine *eng;
    struct api_request *req;
    struct engine_waiter *waiter;
    unsigned int status;
    char *alias;  /* Alias shown in the reply. */
    bool deleted; /* Reply {"deleted": alias}. */
    uint64_t generation;
};

static void
write_req_free(struct write_req *wr)
{
    free(wr->alias);
    free(wr);
}

static void
write_applied(struct engine *eng, const json_t *pending, void *wr_)
{
    struct write_req *wr = wr_;
    int idx = wr->deleted ? -1 : engine_alias_index(eng, wr->alias);
    json_t *body;

    if (idx >= 0) {
        char etag[CFGEDIT_ETAG_LEN];
        cfgedit_alias_etag(&eng->cfg->aliases[idx], etag);
        api_reply_header(wr->req, "ETag", etag);
        body = engine_alias_to_json(eng, idx);
    } else {
        /* Deleted (or deleted meanwhile by another write). */
        body = json_object();
        json_object_set_new(body, "deleted", json_string(wr->alias));
    }
    json_object_set_new(body, "generation", json_integer(wr->generation));
    json_object_set_new(body, "pending_bridges", json_deep_copy(pending));
    api_reply(wr->req, wr->status, body);
    write_req_free(wr);
}

static void
write_aborted(struct api_request *req OVS_UNUSED, void *wr_)
{
    struct write_req *wr = wr_;
    engine_waiter_cancel(wr->waiter);
    write_req_free(wr);
}

/* Replies 'status' to 'req' with alias 'alias' once the change is applied
 * (the engine's next update carries it). */
static void
reply_when_applied(struct engine *eng, struct api_request *req,
                   unsigned int status, const char *alias, bool deleted)
{
    struct write_req *wr = xzalloc(sizeof *wr);

    wr->eng = eng;
    wr->req = req;
    wr->status = status;
    wr->alias = xstrdup(alias);
    wr->deleted = deleted;
    wr->generation = eng->generation + 1;
    wr->waiter = engine_when_applied(eng, wr->generation, WRITE_TIMEOUT,
                                     write_applied, wr);
    api_request_on_abort(req, write_aborted, wr);
}

/* Checks. */

static bool
check_config_file(struct engine *eng, struct api_request *req)
{
    if (!eng->config_path) {
        api_reply_error(req, 409, "no_config_file", NULL,
                        "no config file to persist to: vmacd was started "
                        "without --config, configuration writes are "
                        "refused");
        return false;
    }
    return true;
}

/* Honours If-Match against alias 'idx' (-1: does not exist).  Returns
 * false after replying 412. */
static bool
check_if_match(struct engine *eng, struct api_request *req, int idx)
{
    const char *h = api_request_header(req, "If-Match");
    if (!h) {
        return true;
    }
    char etag[CFGEDIT_ETAG_LEN] = "";
    if (idx >= 0) {
        cfgedit_alias_etag(&eng->cfg->aliases[idx], etag);
    }
    if (idx < 0 || !cfgedit_if_match(h, etag)) {
        api_reply_error(req, 412, "precondition_failed", NULL,
                        "If-Match %s does not match the alias's current "
                        "ETag %s",
                        h, idx >= 0 ? etag : "(none)");
        return false;
    }
    return true;
}

/* A POST whose body must be absent or an empty object. */
static bool
check_no_fields(struct api_request *req)
{
    const json_t *body = api_request_body(req);
    if (body && json_object_size(body)) {
        const char *key = json_object_iter_key(
            json_object_iter(CONST_CAST(json_t *, body)));
        api_reply_error(req, 400, "unknown_field", key,
                        "unknown key \"%s\": this request takes no "
                        "fields",
                        key);
        return false;
    }
    return true;
}

static void
reply_cfgedit_error(struct api_request *req, struct cfgedit_error *e)
{
    api_reply_error(req, e->status, e->code, e->field, "%s", e->message);
    cfgedit_error_destroy(e);
}

/* Persists 'cfg'.  Returns false after replying 500 (and destroying
 * 'cfg'). */
static bool
persist_config(struct engine *eng, struct api_request *req, struct config *cfg)
{
    json_t *j = config_to_json(cfg);
    char *error = persist_write_json(eng->config_path, j);
    json_decref(j);
    if (error) {
        VLOG_ERR("%s", error);
        api_reply_error(req, 500, "persist_failed", NULL, "change refused: %s",
                        error);
        free(error);
        config_destroy(cfg);
        return false;
    }
    return true;
}

static void
publish_change(struct engine *eng, const char *action, const char *alias,
               const char *member)
{
    json_t *ev = json_object();
    json_object_set_new(ev, "action", json_string(action));
    json_object_set_new(ev, "alias", json_string(alias));
    if (member) {
        json_object_set_new(ev, "member", json_string(member));
    }
    engine_publish(eng, "config_changed", ev);
}

/* Steps 2 to 4 for a new config 'cfg' (stolen). */
static void
commit(struct engine *eng, struct api_request *req, struct config *cfg,
       unsigned int status, const char *action, const char *alias,
       const char *member)
{
    if (!persist_config(eng, req, cfg)) {
        return;
    }
    VLOG_INFO("API: %s alias %s%s%s", action, alias, member ? " member " : "",
              member ? member : "");
    engine_reload(eng, cfg);
    publish_change(eng, action, alias, member);
    reply_when_applied(eng, req, status, alias,
                       !strcmp(action, "alias_removed"));
}

/* Handlers. */

static void
post_aliases(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const json_t *body = api_request_body(req);
    struct cfgedit_error e;

    if (!check_config_file(eng, req)) {
        return;
    }
    if (!body) {
        api_reply_error(req, 400, "invalid_value", NULL,
                        "POST /v1/aliases requires an alias object");
        return;
    }
    struct config *cfg = cfgedit_alias_add(eng->cfg, body, &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    const char *name = cfg->aliases[cfg->n_aliases - 1].name;
    char *location = xasprintf("/v1/aliases/%s", name);
    api_reply_header(req, "Location", location);
    free(location);
    char *copy = xstrdup(name);
    commit(eng, req, cfg, 201, "alias_added", copy, NULL);
    free(copy);
}

static void
put_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    struct cfgedit_error e;
    int idx = engine_alias_or_404(eng, req);

    if (idx < 0 || !check_if_match(eng, req, idx)
        || !check_config_file(eng, req)) {
        return;
    }
    struct config *cfg
        = cfgedit_alias_replace(eng->cfg, name, api_request_body(req), &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    commit(eng, req, cfg, 200, "alias_replaced", name, NULL);
}

static void
delete_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    struct cfgedit_error e;
    int idx = engine_alias_or_404(eng, req);

    if (idx < 0 || !check_if_match(eng, req, idx)
        || !check_config_file(eng, req)) {
        return;
    }
    struct config *cfg = cfgedit_alias_remove(eng->cfg, name, &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    commit(eng, req, cfg, 200, "alias_removed", name, NULL);
}

static void
put_member(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    struct cfgedit_error e;
    int idx = engine_alias_or_404(eng, req);
    bool created;

    if (idx < 0 || !check_if_match(eng, req, idx)
        || !check_config_file(eng, req)) {
        return;
    }
    struct config *cfg = cfgedit_member_put(
        eng->cfg, name, member, api_request_body(req), &created, &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    commit(eng, req, cfg, created ? 201 : 200,
           created ? "member_added" : "member_replaced", name, member);
}

static void
delete_member(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    struct cfgedit_error e;
    int idx = engine_alias_or_404(eng, req);

    if (idx < 0 || !check_if_match(eng, req, idx)
        || !check_config_file(eng, req)) {
        return;
    }
    struct config *cfg = cfgedit_member_remove(eng->cfg, name, member, &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    commit(eng, req, cfg, 200, "member_removed", name, member);
}

static void
set_drained(struct api_request *req, struct engine *eng, bool drained)
{
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    struct cfgedit_error e;
    int idx = engine_alias_or_404(eng, req);

    if (idx < 0 || !check_no_fields(req) || !check_config_file(eng, req)) {
        return;
    }
    struct config *cfg
        = cfgedit_member_set_drained(eng->cfg, name, member, drained, &e);
    if (!cfg) {
        reply_cfgedit_error(req, &e);
        return;
    }
    if (!persist_config(eng, req, cfg)) {
        return;
    }
    config_destroy(cfg);

    /* The persisted config differs from the running one only by this
     * flag: set it in place, so that the alias keeps its state and the
     * election reports "master drained" when it fails over. */
    struct cfg_alias *a = &eng->cfg->aliases[idx];
    size_t m;
    for (m = 0; strcmp(a->members[m].name, member); m++) {
        continue;
    }
    a->members[m].drained = drained;
    alias_state_set_drained(eng->states[idx], m, drained, engine_now_ms(eng));
    VLOG_INFO("API: alias %s member %s %s", name, member,
              drained ? "drained" : "undrained");
    publish_change(eng, drained ? "member_drained" : "member_undrained", name,
                   member);
    engine_schedule_update(eng, ev_time(), drained ? "drain" : "undrain");
    reply_when_applied(eng, req, 200, name, false);
}

static void
post_drain(struct api_request *req, void *eng_)
{
    set_drained(req, eng_, true);
}

static void
post_undrain(struct api_request *req, void *eng_)
{
    set_drained(req, eng_, false);
}

static void
post_move(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const json_t *body = api_request_body(req);
    int idx = engine_alias_or_404(eng, req);

    if (idx < 0) {
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach (CONST_CAST(json_t *, body), key, value) {
        if (strcmp(key, "member")) {
            api_reply_error(req, 400, "unknown_field", key,
                            "unknown key \"%s\" (allowed: member)", key);
            return;
        }
    }
    const json_t *mj = json_object_get(body, "member");
    if (mj && !json_is_string(mj) && !json_is_null(mj)) {
        api_reply_error(req, 400, "invalid_value", "member",
                        "member: expected a member name or null");
        return;
    }

    const struct cfg_alias *a = &eng->cfg->aliases[idx];
    int m = -1;
    if (json_is_string(mj)) {
        const char *want = json_string_value(mj);
        for (size_t i = 0; i < a->n_members; i++) {
            if (!strcmp(a->members[i].name, want)) {
                m = i;
            }
        }
        if (m < 0) {
            api_reply_error(req, 404, "not_found", "member",
                            "alias \"%s\" has no member \"%s\"", a->name,
                            want);
            return;
        }
    }
    int error = alias_state_move(eng->states[idx], m, engine_now_ms(eng));
    if (error) {
        api_reply_error(req, 409, "not_eligible", "member", "%s",
                        m >= 0 ? "that member is not eligible (port "
                                 "absent, link down, unhealthy or drained)"
                               : "no other member is eligible");
        return;
    }
    VLOG_INFO("API: move alias %s to %s", a->name,
              m >= 0 ? a->members[m].name : "the best other member");
    engine_schedule_update(eng, ev_time(), "move");
    reply_when_applied(eng, req, 200, a->name, false);
}

void
engine_write_routes(struct engine *eng, struct api *api)
{
    api_route(api, "POST", "/v1/aliases", post_aliases, eng);
    api_route(api, "PUT", "/v1/aliases/{name}", put_alias, eng);
    api_route(api, "DELETE", "/v1/aliases/{name}", delete_alias, eng);
    api_route(api, "PUT", "/v1/aliases/{name}/members/{member}", put_member,
              eng);
    api_route(api, "DELETE", "/v1/aliases/{name}/members/{member}",
              delete_member, eng);
    api_route(api, "POST", "/v1/aliases/{name}/move", post_move, eng);
    api_route(api, "POST", "/v1/aliases/{name}/members/{member}/drain",
              post_drain, eng);
    api_route(api, "POST", "/v1/aliases/{name}/members/{member}/undrain",
              post_undrain, eng);
}
