/*
 * cfgedit: the API's configuration writes as pure functions (see
 * cfgedit.h).
 */
#include "cfgedit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"
#include "verror.h"

unsigned int
cfgedit_status(const struct verror *e)
{
    return (e->kind == VERR_NOT_FOUND  ? 404
            : e->kind == VERR_CONFLICT ? 409
                                       : 400);
}

static int not_found(struct verror *e, const char *field, const char *format,
                     ...) OVS_PRINTF_FORMAT(3, 4);

static int
not_found(struct verror *e, const char *field, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);
    verror_set(e, ENOENT, VERR_NOT_FOUND, field, "%s", msg);
    free(msg);
    return ENOENT;
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

/* Validates 'json' (stolen) as alias 'replacing' (NULL: a new alias).  For
 * a member request ('mi' >= 0), the error's field is made relative to the
 * member: "members[MI].mac" becomes "mac" (and its message follows). */
static int
finish(const struct config *cur, json_t *json, const char *replacing, int mi,
       struct cfg_alias **newp, struct verror *e)
{
    struct verror pe = VERROR_INITIALIZER;
    int error = config_parse_alias(cur, json, replacing, newp, &pe);
    json_decref(json);
    if (!error) {
        return 0;
    }

    const char *rel = pe.field;
    char *prefix = xasprintf("members[%d]", mi);
    const char *s
        = pe.field && mi >= 0 ? strip_component(pe.field, prefix) : NULL;
    if (s) {
        rel = s;
    }
    /* The validator's message is "PATH: problem", PATH the current path
     * when the error was found (the field, or its object). */
    const char *text = pe.message;
    const char *colon = strstr(text, ": ");
    if (colon && colon > text && !memchr(text, ' ', colon - text)
        && !memchr(text, '"', colon - text)) {
        text = colon + 2;
    }
    if (rel && *rel) {
        verror_set(e, error, pe.kind, rel, "%s: %s", rel, text);
    } else {
        verror_set(e, error, pe.kind, NULL, "%s", text);
    }
    free(prefix);
    verror_destroy(&pe);
    return error;
}

/* Checks that 'body' is an object whose "name" (if any) is 'name'; returns
 * a copy with "name" set, or NULL after filling 'e'. */
static json_t *
named_copy(const json_t *body, const char *name, const char *what,
           struct verror *e)
{
    if (!json_is_object(body)) {
        verror_set(e, EINVAL, VERR_INVALID, NULL,
                   "request body must be a JSON object (%s)", what);
        return NULL;
    }
    const json_t *n = json_object_get(body, "name");
    if (n && !json_is_string(n)) {
        verror_set(e, EINVAL, VERR_INVALID, "name",
                   "name: expected a string");
        return NULL;
    }
    if (n && strcmp(json_string_value(n), name)) {
        verror_set(e, EINVAL, VERR_INVALID, "name",
                   "name: \"%s\" differs from the name in the path "
                   "(\"%s\"); renaming is not supported",
                   json_string_value(n), name);
        return NULL;
    }
    json_t *copy = json_deep_copy(body);
    json_object_set_new(copy, "name", json_string(name));
    return copy;
}

int
cfgedit_alias_add(const struct config *cur, const json_t *alias,
                  struct cfg_alias **newp, struct verror *e)
{
    *newp = NULL;
    if (!json_is_object(alias)) {
        return verror_set(e, EINVAL, VERR_INVALID, NULL,
                          "request body must be a JSON object (an alias)");
    }
    const json_t *name = json_object_get(alias, "name");
    if (json_is_string(name)
        && config_find_alias(cur, json_string_value(name))) {
        return verror_set(e, EEXIST, VERR_CONFLICT, "name",
                          "alias \"%s\" already exists",
                          json_string_value(name));
    }
    return finish(cur, json_deep_copy(alias), NULL, -1, newp, e);
}

int
cfgedit_alias_replace(const struct config *cur, const char *name,
                      const json_t *alias, struct cfg_alias **newp,
                      struct verror *e)
{
    *newp = NULL;
    if (!config_find_alias(cur, name)) {
        return not_found(e, "name",
                         "no alias \"%s\" (create aliases with POST "
                         "/v1/aliases)",
                         name);
    }
    json_t *copy = named_copy(alias, name, "an alias", e);
    return copy ? finish(cur, copy, name, -1, newp, e) : EINVAL;
}

/* The running alias 'alias' as JSON, with '*mip' the index of its member
 * 'member' (-1 if none; an error if 'need_member'), or NULL after filling
 * 'e' ('*errorp' gets the errno). */
static json_t *
locate(const struct config *cur, const char *alias, const char *member,
       bool need_member, int *mip, int *errorp, struct verror *e)
{
    const struct cfg_alias *a = config_find_alias(cur, alias);
    if (!a) {
        *errorp = not_found(e, "name", "no alias \"%s\"", alias);
        return NULL;
    }
    *mip = find_member(a, member);
    if (*mip < 0 && need_member) {
        *errorp = not_found(e, "member", "alias \"%s\" has no member \"%s\"",
                            alias, member);
        return NULL;
    }
    return config_alias_to_json(a);
}

int
cfgedit_member_put(const struct config *cur, const char *alias,
                   const char *member, const json_t *body, bool *createdp,
                   struct cfg_alias **newp, struct verror *e)
{
    int mi, error = 0;
    *newp = NULL;
    json_t *json = locate(cur, alias, member, false, &mi, &error, e);
    if (!json) {
        return error;
    }
    json_t *copy = named_copy(body, member, "a member", e);
    if (!copy) {
        json_decref(json);
        return EINVAL;
    }
    json_t *members = json_object_get(json, "members");
    *createdp = mi < 0;
    if (mi < 0) {
        mi = json_array_size(members);
        json_array_append_new(members, copy);
    } else {
        json_array_set_new(members, mi, copy);
    }
    return finish(cur, json, alias, mi, newp, e);
}

int
cfgedit_member_remove(const struct config *cur, const char *alias,
                      const char *member, struct cfg_alias **newp,
                      struct verror *e)
{
    int mi, error = 0;
    *newp = NULL;
    json_t *json = locate(cur, alias, member, true, &mi, &error, e);
    if (!json) {
        return error;
    }
    json_array_remove(json_object_get(json, "members"), mi);
    return finish(cur, json, alias, -1, newp, e);
}

int
cfgedit_member_set_drained(const struct config *cur, const char *alias,
                           const char *member, bool drained,
                           struct cfg_alias **newp, struct verror *e)
{
    int mi, error = 0;
    *newp = NULL;
    json_t *json = locate(cur, alias, member, true, &mi, &error, e);
    if (!json) {
        return error;
    }
    json_t *m = json_array_get(json_object_get(json, "members"), mi);
    if (drained) {
        json_object_set_new(m, "drained", json_true());
    } else {
        json_object_del(m, "drained");
    }
    return finish(cur, json, alias, mi, newp, e);
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
