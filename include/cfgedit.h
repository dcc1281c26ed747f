/*
 * cfgedit: the API's configuration writes, as pure functions.
 *
 * Each function takes the running config and a request (JSON body, names
 * from the path), builds the whole new config in JSON (config_to_json() of
 * the running one plus the change) and validates it with
 * config_parse_json(), the very validator of the config file.  It returns
 * the new config, or NULL and an error that says which HTTP status, error
 * code, field (relative to the request body where possible) and message
 * the API should answer.  Nothing here has side effects: the running config
 * is never modified, so a refused request changes nothing.
 *
 * Status mapping: 400 for an invalid body (wrong type, bad value, unknown
 * or missing field, names that disagree with the path); 404 for an alias or
 * member that does not exist; 409 for conflicts with the rest of the
 * config (an alias that exists, an address, VMAC or bridge port already in
 * use elsewhere).
 */
#ifndef VMACD_CFGEDIT_H
#define VMACD_CFGEDIT_H 1

#include <jansson.h>
#include <stdbool.h>

struct cfg_alias;
struct config;

struct cfgedit_error {
    unsigned int status; /* 400, 404 or 409. */
    const char *code;    /* Static: "invalid_value", "unknown_field",
                          * "missing_field", "conflict",
                          * "not_found". */
    char *field;         /* Malloc'd, or NULL. */
    char *message;       /* Malloc'd. */
};

void cfgedit_error_destroy(struct cfgedit_error *);

/* Writes.  On success return the new config (origin copied from 'cur'). */
struct config *cfgedit_alias_add(const struct config *cur, const json_t *alias,
                                 struct cfgedit_error *)
    __attribute__((warn_unused_result));
struct config *cfgedit_alias_replace(const struct config *cur,
                                     const char *name, const json_t *alias,
                                     struct cfgedit_error *)
    __attribute__((warn_unused_result));
struct config *cfgedit_alias_remove(const struct config *cur, const char *name,
                                    struct cfgedit_error *)
    __attribute__((warn_unused_result));
/* Adds member 'member' to alias 'alias', or replaces it; '*createdp' says
 * which. */
struct config *cfgedit_member_put(const struct config *cur, const char *alias,
                                  const char *member, const json_t *body,
                                  bool *createdp, struct cfgedit_error *)
    __attribute__((warn_unused_result));
struct config *cfgedit_member_remove(const struct config *cur,
                                     const char *alias, const char *member,
                                     struct cfgedit_error *)
    __attribute__((warn_unused_result));
struct config *cfgedit_member_set_drained(const struct config *cur,
                                          const char *alias,
                                          const char *member, bool drained,
                                          struct cfgedit_error *)
    __attribute__((warn_unused_result));

/* Entity tags.  An alias's ETag is a quoted 64-bit hash of its canonical
 * JSON (config_alias_to_json()), e.g. "\"1f2e3d4c5b6a7988\"". */
#define CFGEDIT_ETAG_LEN 19 /* 16 hex digits, 2 quotes, NUL. */
void cfgedit_alias_etag(const struct cfg_alias *, char etag[CFGEDIT_ETAG_LEN]);

/* Does an If-Match header value ("*" or a comma-separated list of entity
 * tags) match 'etag'?  Weak tags (W/"...") never match (RFC 9110 strong
 * comparison). */
bool cfgedit_if_match(const char *header, const char *etag);

#endif /* cfgedit.h */
