/*
 * verror: vmacd's one error convention.
 *
 * A function that can fail returns 0 or a positive errno value.  When the
 * caller needs to know more, it passes a 'struct verror', which the
 * function fills on failure (and leaves empty on success): the errno
 * again, a kind for machines (the API's error "code"), the path of the
 * field the error is about ("members[1].mac", NULL when it is about no
 * field) and a message for people.  The caller owns what was filled and
 * frees it with verror_destroy().  Functions mark their result
 * OVS_WARN_UNUSED_RESULT.
 *
 * Kinds (static strings; docs/api.md lists them as the API's codes):
 * VERR_INVALID ("invalid_value", EINVAL), VERR_UNKNOWN_FIELD
 * ("unknown_field", EINVAL), VERR_MISSING_FIELD ("missing_field", EINVAL),
 * VERR_CONFLICT ("conflict", EEXIST), VERR_NOT_FOUND ("not_found", ENOENT),
 * and VERR_IO ("io_error", an errno of the system).
 */
#ifndef VMACD_VERROR_H
#define VMACD_VERROR_H 1

#include "openvswitch/compiler.h"

extern const char VERR_INVALID[];
extern const char VERR_UNKNOWN_FIELD[];
extern const char VERR_MISSING_FIELD[];
extern const char VERR_CONFLICT[];
extern const char VERR_NOT_FOUND[];
extern const char VERR_IO[];

struct verror {
    int code;         /* errno value; 0 while empty. */
    const char *kind; /* One of VERR_*; NULL while empty. */
    char *field;      /* Malloc'd field path, or NULL. */
    char *message;    /* Malloc'd, or NULL while empty. */
};

#define VERROR_INITIALIZER                                                    \
    {                                                                         \
        0, NULL, NULL, NULL                                                   \
    }

/* Fills 'e' (if nonnull and still empty: the first error wins) and returns
 * 'code'.  'field' is copied (may be NULL). */
int verror_set(struct verror *e, int code, const char *kind,
               const char *field, const char *format, ...)
    OVS_PRINTF_FORMAT(5, 6);

/* Moves 'src' into 'dst' (which must be empty); 'src' is empty after. */
void verror_move(struct verror *dst, struct verror *src);

/* Frees what 'e' holds and empties it.  NULL-safe. */
void verror_destroy(struct verror *e);

#endif /* verror.h */
