/*
 * verror: vmacd's one error convention (see verror.h).
 */
#include "verror.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

const char VERR_INVALID[] = "invalid_value";
const char VERR_UNKNOWN_FIELD[] = "unknown_field";
const char VERR_MISSING_FIELD[] = "missing_field";
const char VERR_CONFLICT[] = "conflict";
const char VERR_NOT_FOUND[] = "not_found";
const char VERR_IO[] = "io_error";

int
verror_set(struct verror *e, int code, const char *kind, const char *field,
           const char *format, ...)
{
    if (e && !e->message) {
        va_list args;
        va_start(args, format);
        e->message = xvasprintf(format, args);
        va_end(args);
        e->code = code;
        e->kind = kind;
        e->field = field ? xstrdup(field) : NULL;
    }
    return code;
}

void
verror_move(struct verror *dst, struct verror *src)
{
    *dst = *src;
    *src = (struct verror) VERROR_INITIALIZER;
}

void
verror_destroy(struct verror *e)
{
    if (e) {
        free(e->field);
        free(e->message);
        *e = (struct verror) VERROR_INITIALIZER;
    }
}
