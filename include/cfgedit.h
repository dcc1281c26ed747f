/*
 * cfgedit: the API's configuration writes, as pure functions.
 *
 * Each function takes the running config and a request (JSON body, names
 * from the path), builds the one alias the request makes (in JSON: the
 * running alias plus the change, for member requests) and validates it
 * with config_parse_alias(), the config file's validator applied to one
 * alias in its place among the others.  It returns the new alias, or an
 * error that says which error code, field (relative to the request body)
 * and message the API should answer.  Nothing here has side effects: the
 * running config is never modified, so a refused request changes nothing,
 * and the cost is that of the alias, not of the config.
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

#include "openvswitch/compiler.h"

struct cfg_alias;
struct config;
struct verror;

/* Each write validates the one alias it makes (config_parse_alias()) and
 * returns 0 and the new alias (refcount 1) in '*newp', or an errno and
 * 'e' (verror.h): kind VERR_NOT_FOUND for an alias or member that does
 * not exist, VERR_CONFLICT for clashes with the other aliases, else an
 * invalid value, with the field relative to the request body. */
int cfgedit_alias_add(const struct config *cur, const json_t *alias,
                      struct cfg_alias **newp, struct verror *e)
    OVS_WARN_UNUSED_RESULT;
int cfgedit_alias_replace(const struct config *cur, const char *name,
                          const json_t *alias, struct cfg_alias **newp,
                          struct verror *e) OVS_WARN_UNUSED_RESULT;
/* Adds member 'member' to alias 'alias', or replaces it; '*createdp' says
 * which. */
int cfgedit_member_put(const struct config *cur, const char *alias,
                       const char *member, const json_t *body, bool *createdp,
                       struct cfg_alias **newp, struct verror *e)
    OVS_WARN_UNUSED_RESULT;
int cfgedit_member_remove(const struct config *cur, const char *alias,
                          const char *member, struct cfg_alias **newp,
                          struct verror *e) OVS_WARN_UNUSED_RESULT;
int cfgedit_member_set_drained(const struct config *cur, const char *alias,
                               const char *member, bool drained,
                               struct cfg_alias **newp, struct verror *e)
    OVS_WARN_UNUSED_RESULT;

/* The HTTP status for a failed write's error: 400, 404 or 409. */
unsigned int cfgedit_status(const struct verror *);

/* Entity tags.  An alias's ETag is a quoted 64-bit hash of its canonical
 * JSON (config_alias_to_json()), e.g. "\"1f2e3d4c5b6a7988\"". */
#define CFGEDIT_ETAG_LEN 19 /* 16 hex digits, 2 quotes, NUL. */
void cfgedit_alias_etag(const struct cfg_alias *, char etag[CFGEDIT_ETAG_LEN]);

/* Does an If-Match header value ("*" or a comma-separated list of entity
 * tags) match 'etag'?  Weak tags (W/"...") never match (RFC 9110 strong
 * comparison). */
bool cfgedit_if_match(const char *header, const char *etag);

#endif /* cfgedit.h */
