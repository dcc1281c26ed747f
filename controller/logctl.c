/*
 * logctl: log levels through the API.  See include/logctl.h.
 */
#include "logctl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "openvswitch/vlog.h"
#include "sset.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(logctl);

/* The names of every log module.  libopenvswitch keeps its module list to
 * itself; vlog_get_levels() prints it (as "vlog/list" does): two header
 * lines, then one line per module that starts with its name. */
static void
logctl_module_names(struct sset *names)
{
    char *text = vlog_get_levels();
    char *save = NULL;
    int n = 0;

    for (char *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (n++ < 2) {
            continue;
        }
        size_t len = strcspn(line, " \t");
        if (len) {
            line[len] = '\0';
            sset_add(names, line);
        }
    }
    free(text);
}

/* 'name' in lower case, as "vlog/list" prints destinations ("console") and
 * as levels are written on the command line ("info"). */
static json_t *
lower_json(const char *name)
{
    char *lower = xstrdup(name);
    for (char *p = lower; *p; p++) {
        *p = (*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p;
    }
    json_t *j = json_string(lower);
    free(lower);
    return j;
}

json_t *
logctl_levels_json(void)
{
    struct sset names = SSET_INITIALIZER(&names);
    json_t *dests = json_array();
    json_t *modules = json_object();

    for (int d = 0; d < VLF_N_DESTINATIONS; d++) {
        json_array_append_new(dests, lower_json(vlog_get_destination_name(d)));
    }
    logctl_module_names(&names);
    const char **sorted = sset_sort(&names);
    for (size_t i = 0; i < sset_count(&names); i++) {
        struct vlog_module *m = vlog_module_from_name(sorted[i]);
        if (!m) {
            continue;
        }
        json_t *levels = json_object();
        size_t d;
        json_t *dest;
        json_array_foreach (dests, d, dest) {
            json_object_set_new(
                levels, json_string_value(dest),
                lower_json(vlog_get_level_name(vlog_get_level(m, d))));
        }
        json_object_set_new(modules, sorted[i], levels);
    }
    free(sorted);
    sset_destroy(&names);
    return json_pack("{s:o, s:o}", "destinations", dests, "modules", modules);
}

/* The levels of every module, to restore after a failed set. */
struct saved_level {
    struct vlog_module *module;
    enum vlog_level levels[VLF_N_DESTINATIONS];
};

static struct saved_level *
logctl_save(size_t *n)
{
    struct sset names = SSET_INITIALIZER(&names);
    logctl_module_names(&names);
    struct saved_level *saved
        = xcalloc(MAX(sset_count(&names), 1), sizeof *saved);
    const char *name;

    *n = 0;
    SSET_FOR_EACH (name, &names) {
        struct vlog_module *m = vlog_module_from_name(name);
        if (m) {
            saved[*n].module = m;
            for (int d = 0; d < VLF_N_DESTINATIONS; d++) {
                saved[*n].levels[d] = vlog_get_level(m, d);
            }
            (*n)++;
        }
    }
    sset_destroy(&names);
    return saved;
}

static void
logctl_restore(const struct saved_level *saved, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        for (int d = 0; d < VLF_N_DESTINATIONS; d++) {
            vlog_set_levels(saved[i].module, d, saved[i].levels[d]);
        }
    }
}

/* Is 'spec' a pattern or facility setting (not accepted here)? */
static bool
logctl_is_special(const char *spec)
{
    size_t len = strcspn(spec, " ,:\t");
    return ((len == 7 && !strncasecmp(spec, "PATTERN", 7))
            || (len == 8 && !strncasecmp(spec, "FACILITY", 8)));
}

char *
logctl_set(const json_t *specs)
{
    if (!json_is_array(specs) || !json_array_size(specs)) {
        return xstrdup("set: expected a non-empty array of strings (or one "
                       "string), e.g. [\"engine:dbg\"]");
    }

    size_t i;
    const json_t *v;
    json_array_foreach (specs, i, v) {
        const char *spec = json_string_value(v);
        if (!spec || !*spec) {
            return xasprintf("set[%zu]: expected a non-empty string", i);
        } else if (logctl_is_special(spec)) {
            return xasprintf("set[%zu]: \"%s\": only levels can be set at "
                             "run time (patterns and the facility are "
                             "command-line options)",
                             i, spec);
        }
    }

    size_t n_saved;
    struct saved_level *saved = logctl_save(&n_saved);
    char *error = NULL;
    json_array_foreach (specs, i, v) {
        const char *spec = json_string_value(v);
        char *msg = vlog_set_levels_from_string(spec);
        if (msg) {
            error = xasprintf("set[%zu]: \"%s\": %s", i, spec, msg);
            free(msg);
            logctl_restore(saved, n_saved);
            break;
        }
    }
    free(saved);
    if (!error) {
        char *text = json_dumps(specs, JSON_COMPACT);
        VLOG_INFO("log levels set: %s", text);
        free(text);
    }
    return error;
}

static void
get_log(struct api_request *req, void *aux OVS_UNUSED)
{
    api_reply(req, 200, logctl_levels_json());
}

static void
put_log(struct api_request *req, void *aux OVS_UNUSED)
{
    const json_t *body = api_request_body(req);
    const char *key;
    json_t *v;

    json_object_foreach ((json_t *) body, key, v) {
        if (strcmp(key, "set")) {
            api_reply_error(req, 400, "unknown_field", key,
                            "unknown key \"%s\" (allowed: set)", key);
            return;
        }
    }
    const json_t *set = json_object_get(body, "set");
    if (!set) {
        api_reply_error(req, 400, "missing_field", "set",
                        "missing \"set\": the vlog specs to apply, e.g. "
                        "{\"set\": [\"engine:dbg\"]}");
        return;
    }

    json_t *specs = (json_is_string(set) ? json_pack("[O]", set)
                                         : json_incref((json_t *) set));
    char *error = logctl_set(specs);
    json_decref(specs);
    if (error) {
        api_reply_error(req, 400, "invalid_value", "set", "%s", error);
        free(error);
        return;
    }
    api_reply(req, 200, logctl_levels_json());
}

void
logctl_register(struct api *api)
{
    api_route(api, "GET", "/v1/log", get_log, NULL);
    api_route(api, "PUT", "/v1/log", put_log, NULL);
}
