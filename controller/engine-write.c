/*
 * engine-write: the API's writes (see docs/api.md).
 *
 * Every write follows the same steps, all before the reply:
 *
 *   1. validate: cfgedit builds the one alias the request makes and runs
 *      the config file's validator on it, against the other aliases; a
 *      refused request changes nothing;
 *   2. persist: the store journals the alias (store.h); if the config file
 *      changed on disk since vmacd read it, or writing fails, nothing
 *      changes either (409 "file_changed" unless ?force=true, or 500);
 *   3. apply: the engine puts the alias in place of its namesake (or
 *      removes it), which marks only that alias dirty;
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

#include "api.h"
#include "cfgedit.h"
#include "config.h"
#include "openvswitch/vlog.h"
#include "store.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine_write);

/* How long a write waits for the switches before replying anyway. */
#define WRITE_TIMEOUT 5.0

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
    const struct cfg_alias *a
        = wr->deleted ? NULL : config_find_alias(engine_config(eng), wr->alias);
    json_t *body;

    if (a) {
        char etag[CFGEDIT_ETAG_LEN];
        cfgedit_alias_etag(a, etag);
        api_reply_header(wr->req, "ETag", etag);
        body = engine_alias_to_json(eng, a);
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

/* Replies 'status' to 'req' with alias 'alias' once 'generation' is
 * applied. */
static void
reply_when_applied(struct engine *eng, struct api_request *req,
                   unsigned int status, const char *alias, bool deleted,
                   uint64_t generation)
{
    struct write_req *wr = xzalloc(sizeof *wr);

    wr->eng = eng;
    wr->req = req;
    wr->status = status;
    wr->alias = xstrdup(alias);
    wr->deleted = deleted;
    wr->generation = generation;
    wr->waiter = engine_when_applied(eng, generation, WRITE_TIMEOUT,
                                     write_applied, wr);
    api_request_on_abort(req, write_aborted, wr);
}

/* Checks. */

/* The store to persist to, or NULL after replying 409 (no config file, or
 * the file changed on disk and the request does not force). */
static struct store *
writable_store(struct engine *eng, struct api_request *req)
{
    struct store *store = engine_store(eng);
    if (!store) {
        api_reply_error(req, 409, "no_config_file", NULL,
                        "no config file to persist to: vmacd was started "
                        "without --config, configuration writes are "
                        "refused");
        return NULL;
    }
    const char *force = api_request_query(req, "force");
    struct verror e = VERROR_INITIALIZER;
    if (store_check(store, force && !strcmp(force, "true"), &e)) {
        engine_reply_verror(req, 409, &e);
        verror_destroy(&e);
        return NULL;
    }
    return store;
}

/* Honours If-Match against alias 'a' (NULL: does not exist).  Returns
 * false after replying 412. */
static bool
check_if_match(struct api_request *req, const struct cfg_alias *a)
{
    const char *h = api_request_header(req, "If-Match");
    if (!h) {
        return true;
    }
    char etag[CFGEDIT_ETAG_LEN] = "";
    if (a) {
        cfgedit_alias_etag(a, etag);
    }
    if (!a || !cfgedit_if_match(h, etag)) {
        api_reply_error(req, 412, "precondition_failed", NULL,
                        "If-Match %s does not match the alias's current "
                        "ETag %s",
                        h, a ? etag : "(none)");
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
reply_edit_error(struct api_request *req, struct verror *e)
{
    engine_reply_verror(req, cfgedit_status(e), e);
    verror_destroy(e);
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

/* Steps 2 to 4 for the new alias 'a' (stolen), or the removal of 'name'
 * ('a' NULL). */
static void
commit(struct engine *eng, struct store *store, struct api_request *req,
       struct cfg_alias *a, const char *name, unsigned int status,
       const char *action, const char *member)
{
    struct verror e = VERROR_INITIALIZER;
    if (a ? store_put_alias(store, engine_config(eng), a, &e)
          : store_remove_alias(store, engine_config(eng), name, &e)) {
        VLOG_ERR("%s", e.message);
        api_reply_error(req, 500, "persist_failed", NULL, "change refused: %s",
                        e.message);
        verror_destroy(&e);
        cfg_alias_unref(a);
        return;
    }
    char *alias = xstrdup(a ? a->name : name);
    VLOG_INFO("API: %s alias %s%s%s", action, alias, member ? " member " : "",
              member ? member : "");
    uint64_t generation = a ? engine_alias_put(eng, a)
                            : engine_alias_remove(eng, alias);
    publish_change(eng, action, alias, member);
    reply_when_applied(eng, req, status, alias, !a, generation);
    free(alias);
}

/* Handlers. */

static void
post_aliases(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const json_t *body = api_request_body(req);

    struct store *store = writable_store(eng, req);
    if (!store) {
        return;
    }
    if (!body) {
        api_reply_error(req, 400, "invalid_value", NULL,
                        "POST /v1/aliases requires an alias object");
        return;
    }
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    if (cfgedit_alias_add(engine_config(eng), body, &a, &e)) {
        reply_edit_error(req, &e);
        return;
    }
    char *location = xasprintf("/v1/aliases/%s", a->name);
    api_reply_header(req, "Location", location);
    free(location);
    commit(eng, store, req, a, NULL, 201, "alias_added", NULL);
}

static void
put_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    const struct cfg_alias *cur = engine_alias_or_404(eng, req);
    struct store *store;

    if (!cur || !check_if_match(req, cur)
        || !(store = writable_store(eng, req))) {
        return;
    }
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    if (cfgedit_alias_replace(engine_config(eng), name, api_request_body(req),
                              &a, &e)) {
        reply_edit_error(req, &e);
        return;
    }
    commit(eng, store, req, a, NULL, 200, "alias_replaced", NULL);
}

static void
delete_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const struct cfg_alias *cur = engine_alias_or_404(eng, req);
    struct store *store;

    if (!cur || !check_if_match(req, cur)
        || !(store = writable_store(eng, req))) {
        return;
    }
    commit(eng, store, req, NULL, cur->name, 200, "alias_removed", NULL);
}

static void
put_member(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    const struct cfg_alias *cur = engine_alias_or_404(eng, req);
    struct store *store;
    bool created;

    if (!cur || !check_if_match(req, cur)
        || !(store = writable_store(eng, req))) {
        return;
    }
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    if (cfgedit_member_put(engine_config(eng), name, member,
                           api_request_body(req), &created, &a, &e)) {
        reply_edit_error(req, &e);
        return;
    }
    commit(eng, store, req, a, NULL, created ? 201 : 200,
           created ? "member_added" : "member_replaced", member);
}

static void
delete_member(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    const struct cfg_alias *cur = engine_alias_or_404(eng, req);
    struct store *store;

    if (!cur || !check_if_match(req, cur)
        || !(store = writable_store(eng, req))) {
        return;
    }
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    if (cfgedit_member_remove(engine_config(eng), name, member, &a, &e)) {
        reply_edit_error(req, &e);
        return;
    }
    commit(eng, store, req, a, NULL, 200, "member_removed", member);
}

/* Drain is a member's "drained": true in its alias (persisted); the alias
 * keeps its state, so the election reports "master drained" when it moves
 * the master away. */
static void
set_drained(struct api_request *req, struct engine *eng, bool drained)
{
    const char *name = api_request_param(req, "name");
    const char *member = api_request_param(req, "member");
    const struct cfg_alias *cur = engine_alias_or_404(eng, req);
    struct store *store;

    if (!cur || !check_no_fields(req) || !(store = writable_store(eng, req))) {
        return;
    }
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    if (cfgedit_member_set_drained(engine_config(eng), name, member, drained,
                                   &a, &e)) {
        reply_edit_error(req, &e);
        return;
    }
    commit(eng, store, req, a, NULL, 200,
           drained ? "member_drained" : "member_undrained", member);
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
    const struct cfg_alias *a = engine_alias_or_404(eng, req);

    if (!a) {
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
    struct verror e = VERROR_INITIALIZER;
    if (engine_alias_move(eng, a->name, m, &e)) {
        engine_reply_verror(req, 409, &e);
        verror_destroy(&e);
        return;
    }
    VLOG_INFO("API: move alias %s to %s", a->name,
              m >= 0 ? a->members[m].name : "the best other member");
    reply_when_applied(eng, req, 200, a->name, false,
                       engine_next_generation(eng));
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
