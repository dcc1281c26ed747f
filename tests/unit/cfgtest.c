/* cfgtest: see cfgtest.h. */
#include "cfgtest.h"

#include <stdlib.h>

#include "config.h"
#include "verror.h"

static struct config *
finish(int error, struct config *cfg, struct verror *e, char **errp)
{
    if (error) {
        *errp = e->message;
        free(e->field);
        return NULL;
    }
    *errp = NULL;
    return cfg;
}

struct config *
cfgtest_parse(const char *text, const char *origin, char **errp)
{
    struct config *cfg = NULL;
    struct verror e = VERROR_INITIALIZER;
    int error = config_parse_string(text, origin, &cfg, &e);
    return finish(error, cfg, &e, errp);
}

struct config *
cfgtest_parse_json(const json_t *j, const char *origin, char **errp)
{
    struct config *cfg = NULL;
    struct verror e = VERROR_INITIALIZER;
    int error = config_parse_json(j, origin, &cfg, &e);
    return finish(error, cfg, &e, errp);
}

struct config *
cfgtest_load(const char *path, char **errp)
{
    struct config *cfg = NULL;
    struct verror e = VERROR_INITIALIZER;
    int error = config_load(path, &cfg, &e);
    return finish(error, cfg, &e, errp);
}
