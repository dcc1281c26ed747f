/*
 * cfgedit: the API's configuration writes as pure functions (see
 * cfgedit.h).
 */
#include "cfgedit.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Origin given to the validator; stripped from its messages. */
#define ORIGIN "request"

void
cfgedit_error_destroy(struct cfgedit_error *e)
{
    if (e) {
        free(e->field);
        free(e->message);
        e->field = e->message = NULL;
    }
}

static void cfgedit_fail(struct cfgedit_error *, unsigned int status,
                         const char *code, const char *field,
                         const char *format, ...) OVS_PRINTF_FORMAT(5, 6);

static void
cfgedit_fail(struct cfgedit_error *e, unsigned int status, const char *code,
             const char *field, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    e->message = xvasprintf(format, args);
    va_end(args);
    e->status = status;
    e->code = code;
    e->field = field ? xstrdup(field) : NULL;
}

static int
find_alias(const struct config *cfg, const char *name)
{
    const struct cfg_alias *a = config_find_alias(cfg, name);
    return a ? a - cfg->aliases : -1;
}

static int
find_member(const struct cfg_alias *a, const char *name)
{
    for (size_t i = 0; i < a->n_members; i++) {
        if (!strcmp(a->members[i].name, name)) {
            return i;
        }
    }
    return -1;
}

/* If 'path' starts with the path component 'prefix' (followed by '.' or
 * the end), returns what follows it, otherwise NULL. */
static const char *
strip_component(const char *path, const char *prefix)
{
    size_t len = strlen(prefix);

    if (strncmp(path, prefix, len)) {
        return NULL;
    }
    return (path[len] == '.'    ? path + len + 1
            : path[len] == '\0' ? path + len
                                : NULL);
}

/* Is the validator's message about a conflict with other objects (409)
 * rather than an invalid value (400)? */
static bool
is_conflict(const char *msg)
{
    static const char *const words[] = {
        "is already used by",   "is already the VMAC of", "is defined twice",
        "is the VMAC of alias", "is an address of alias",
    };
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
        if (strstr(msg, words[i])) {
            return true;
        }
    }
    return false;
}

/* Extracts the quoted key of "unknown key \"K\" ..." or "missing required
 * key \"K\"" messages. */
static char *
quoted_key(const char *msg, const char *lead)
{
    const char *p = strstr(msg, lead);
    if (!p) {
        return NULL;
    }
    p += strlen(lead);
    const char *end = strchr(p, '"');
    return end ? xmemdup0(p, end - p) : NULL;
}

/* Turns the validator's message "request: PATH: problem" into 'e', with
 * PATH made relative to alias 'ai' (and its member 'mi', if >= 0) when it
 * lies inside them. */
static void
translate_error(const char *msg, int ai, int mi, struct cfgedit_error *e)
{
    const char *text = msg;
    char *path = NULL;

    if (!strncmp(text, ORIGIN ": ", strlen(ORIGIN ": "))) {
        text += strlen(ORIGIN ": ");
    }
    const char *colon = strstr(text, ": ");
    if (colon && colon > text && !memchr(text, ' ', colon - text)
        && !memchr(text, '"', colon - text)) {
        path = xmemdup0(text, colon - text);
        text = colon + 2;
    }

    /* Relative field. */
    const char *rel = path;
    char *a_prefix = xasprintf("aliases[%d]", ai);
    char *m_prefix = xasprintf("members[%d]", mi);
    const char *s = path && ai >= 0 ? strip_component(path, a_prefix) : NULL;
    if (s) {
        rel = s;
        const char *t = mi >= 0 ? strip_component(s, m_prefix) : NULL;
        if (t) {
            rel = t;
        }
    }

    const char *code = is_conflict(text) ? "conflict" : "invalid_value";
    char *key = quoted_key(text, "unknown key \"");
    if (key) {
        code = "unknown_field";
    } else if ((key = quoted_key(text, "missing required key \""))) {
        code = "missing_field";
    }

    struct ds field = DS_EMPTY_INITIALIZER;
    if (rel && *rel) {
        ds_put_cstr(&field, rel);
    }
    if (key) {
        ds_put_format(&field, "%s%s", field.length ? "." : "", key);
    }

    e->status = !strcmp(code, "conflict") ? 409 : 400;
    e->code = code;
    e->field = field.length ? ds_steal_cstr(&field) : NULL;
    e->message
        = (rel && *rel ? xasprintf("%s: %s", rel, text) : xstrdup(text));
    ds_destroy(&field);
    free(key);
    free(a_prefix);
    free(m_prefix);
    free(path);
}

/* Validates 'root' (stolen) as the new config. */
static struct config *
finish(const struct config *cur, json_t *root, int ai, int mi,
       struct cfgedit_error *e)
{
    char *msg = NULL;
    struct config *cfg = config_parse_json(root, ORIGIN, &msg);

    json_decref(root);
    if (!cfg) {
        translate_error(msg, ai, mi, e);
        free(msg);
        return NULL;
    }
    free(cfg->origin);
    cfg->origin = xstrdup(cur->origin);
    return cfg;
}

/* Checks that 'body' is an object whose "name" (if any) is 'name'; returns
 * a copy with "name" set, or NULL after filling 'e'. */
static json_t *
named_copy(const json_t *body, const char *name, const char *what,
           struct cfgedit_error *e)
{
    if (!json_is_object(body)) {
        cfgedit_fail(e, 400, "invalid_value", NULL,
                     "request body must be a JSON object (%s)", what);
        return NULL;
    }
    const json_t *n = json_object_get(body, "name");
    if (n && !json_is_string(n)) {
        cfgedit_fail(e, 400, "invalid_value", "name",
                     "name: expected a string");
        return NULL;
    }
    if (n && strcmp(json_string_value(n), name)) {
        cfgedit_fail(e, 400, "invalid_value", "name",
                     "name: \"%s\" differs from the name in the path "
                     "(\"%s\"); renaming is not supported",
                     json_string_value(n), name);
        return NULL;
    }
    json_t *copy = json_deep_copy(body);
    json_object_set_new(copy, "name", json_string(name));
    return copy;
}

struct config *
cfgedit_alias_add(const struct config *cur, const json_t *alias,
                  struct cfgedit_error *e)
{
    if (!json_is_object(alias)) {
        cfgedit_fail(e, 400, "invalid_value", NULL,
                     "request body must be a JSON object (an alias)");
        return NULL;
    }
    const json_t *name = json_object_get(alias, "name");
    if (json_is_string(name)
        && find_alias(cur, json_string_value(name)) >= 0) {
        cfgedit_fail(e, 409, "conflict", "name",
                     "alias \"%s\" already "
                     "exists",
                     json_string_value(name));
        return NULL;
    }
    json_t *root = config_to_json(cur);
    json_array_append_new(json_object_get(root, "aliases"),
                          json_deep_copy(alias));
    return finish(cur, root, cur->n_aliases, -1, e);
}

struct config *
cfgedit_alias_replace(const struct config *cur, const char *name,
                      const json_t *alias, struct cfgedit_error *e)
{
    int ai = find_alias(cur, name);
    if (ai < 0) {
        cfgedit_fail(e, 404, "not_found", "name",
                     "no alias \"%s\" (create "
                     "aliases with POST /v1/aliases)",
                     name);
        return NULL;
    }
    json_t *copy = named_copy(alias, name, "an alias", e);
    if (!copy) {
        return NULL;
    }
    json_t *root = config_to_json(cur);
    json_array_set_new(json_object_get(root, "aliases"), ai, copy);
    return finish(cur, root, ai, -1, e);
}

struct config *
cfgedit_alias_remove(const struct config *cur, const char *name,
                     struct cfgedit_error *e)
{
    int ai = find_alias(cur, name);
    if (ai < 0) {
        cfgedit_fail(e, 404, "not_found", "name", "no alias \"%s\"", name);
        return NULL;
    }
    json_t *root = config_to_json(cur);
    json_array_remove(json_object_get(root, "aliases"), ai);
    return finish(cur, root, -1, -1, e);
}

/* Looks up alias 'alias' and member 'member' (if 'need_member'); returns
 * the JSON config with '*aip' and '*mip' set, or NULL after filling 'e'. */
static json_t *
locate(const struct config *cur, const char *alias, const char *member,
       bool need_member, int *aip, int *mip, struct cfgedit_error *e)
{
    int ai = find_alias(cur, alias);
    if (ai < 0) {
        cfgedit_fail(e, 404, "not_found", "name", "no alias \"%s\"", alias);
        return NULL;
    }
    int mi = find_member(&cur->aliases[ai], member);
    if (mi < 0 && need_member) {
        cfgedit_fail(e, 404, "not_found", "member",
                     "alias \"%s\" has no member \"%s\"", alias, member);
        return NULL;
    }
    *aip = ai;
    *mip = mi;
    return config_to_json(cur);
}

static json_t *
members_json(json_t *root, int ai)
{
    return json_object_get(
        json_array_get(json_object_get(root, "aliases"), ai), "members");
}

struct config *
cfgedit_member_put(const struct config *cur, const char *alias,
                   const char *member, const json_t *body, bool *createdp,
                   struct cfgedit_error *e)
{
    int ai, mi;
    json_t *root = locate(cur, alias, member, false, &ai, &mi, e);
    if (!root) {
        return NULL;
    }
    json_t *copy = named_copy(body, member, "a member", e);
    if (!copy) {
        json_decref(root);
        return NULL;
    }
    json_t *members = members_json(root, ai);
    *createdp = mi < 0;
    if (mi < 0) {
        mi = json_array_size(members);
        json_array_append_new(members, copy);
    } else {
        json_array_set_new(members, mi, copy);
    }
    return finish(cur, root, ai, mi, e);
}

struct config *
cfgedit_member_remove(const struct config *cur, const char *alias,
                      const char *member, struct cfgedit_error *e)
{
    int ai, mi;
    json_t *root = locate(cur, alias, member, true, &ai, &mi, e);
    if (!root) {
        return NULL;
    }
    json_array_remove(members_json(root, ai), mi);
    return finish(cur, root, ai, -1, e);
}

struct config *
cfgedit_member_set_drained(const struct config *cur, const char *alias,
                           const char *member, bool drained,
                           struct cfgedit_error *e)
{
    int ai, mi;
    json_t *root = locate(cur, alias, member, true, &ai, &mi, e);
    if (!root) {
        return NULL;
    }
    json_t *m = json_array_get(members_json(root, ai), mi);
    if (drained) {
        json_object_set_new(m, "drained", json_true());
    } else {
        json_object_del(m, "drained");
    }
    return finish(cur, root, ai, mi, e);
}

/* Entity tags. */

void
cfgedit_alias_etag(const struct cfg_alias *a, char etag[CFGEDIT_ETAG_LEN])
{
    json_t *j = config_alias_to_json(a);
    char *text = json_dumps(j, JSON_COMPACT);
    uint64_t h = 14695981039346656037ULL; /* 64-bit FNV-1a. */

    for (const unsigned char *p = (const unsigned char *) text; p && *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    snprintf(etag, CFGEDIT_ETAG_LEN, "\"%016" PRIx64 "\"", h);
    free(text);
    json_decref(j);
}

bool
cfgedit_if_match(const char *header, const char *etag)
{
    size_t etag_len = strlen(etag);
    const char *p = header;

    while (*p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t n = len;
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }
        if ((n == 1 && p[0] == '*')
            || (n == etag_len && !memcmp(p, etag, n))) {
            return true;
        }
        p += len;
    }
    return false;
}
