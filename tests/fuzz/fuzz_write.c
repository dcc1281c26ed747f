/*
 * libFuzzer harness for the validation behind the API's writes: the
 * config validator (config_parse_json) and cfgedit's request checks.
 *
 * Input: one selector byte, then JSON text.  The selector picks what the
 * JSON is: a whole config, or the body of POST /v1/aliases, PUT
 * /v1/aliases/web, PUT .../members/m1 (replace) or .../members/m9 (add).
 * Invariants checked (abort on violation):
 *   - a refused request yields a status of 400, 404 or 409, a code and a
 *     message, and leaves the running config equal to what it was;
 *   - an accepted one yields an alias that, put in the config, survives
 *     the persist round trip: config_to_json() parses back to an equal
 *     config, and whose names can all be named in a path (not empty, ".",
 *     "..") and whose members that are not probed all have a MAC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgedit.h"
#include "config.h"
#include "verror.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char base_json[]
    = "{\"bridges\": [{\"name\": \"br0\", \"uplinks\": [\"up0\"]}],"
      " \"aliases\": ["
      "  {\"name\": \"web\", \"addresses\": [\"192.0.2.100\", "
      "\"2001:db8::100\"],"
      "   \"vmac\": \"02:00:5e:00:01:01\","
      "   \"members\": ["
      "    {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
      "     \"mac\": \"02:00:00:00:00:11\", \"ip\": \"192.0.2.11\","
      "     \"priority\": 150},"
      "    {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
      "     \"mac\": \"02:00:00:00:00:12\", \"drained\": true}]},"
      "  {\"name\": \"db\", \"addresses\": [\"192.0.2.200\"],"
      "   \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}]}";

static struct config *base;

static void
check(bool ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

static struct config *
parse_json(const json_t *j, const char *origin)
{
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    if (config_parse_json(j, origin, &cfg, &e)) {
        check(e.message && e.kind, "a refused config must say why");
        verror_destroy(&e);
        return NULL;
    }
    return cfg;
}

static bool
name_usable(const char *name)
{
    return name[0] && strcmp(name, ".") && strcmp(name, "..");
}

static void
check_names(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = cfg->aliases[i];
        check(name_usable(a->name), "alias names can be named in a path");
        for (size_t m = 0; m < a->n_members; m++) {
            const struct cfg_member *mb = &a->members[m];
            check(name_usable(mb->name) && name_usable(mb->bridge)
                      && (mb->iface_id || name_usable(mb->port)),
                  "member names can be named in a path");
            check(mb->has_mac || config_member_probed(mb),
                  "a member that is not probed has a MAC");
        }
    }
}

static void
check_round_trip(const struct config *cfg)
{
    check_names(cfg);
    json_t *j = config_to_json(cfg);
    struct config *again = parse_json(j, "round-trip");
    check(again != NULL, "config_to_json output must parse");
    check(config_equal(cfg, again), "round trip must give an equal config");
    config_destroy(again);
    json_decref(j);
}

/* The base with 'a' (stolen) put in: what the engine would run. */
static void
check_applied(struct cfg_alias *a)
{
    json_t *j = config_to_json(base);
    struct config *cfg = parse_json(j, "copy");
    json_decref(j);
    struct cfg_renumbering r = { 0 };
    cfg_alias_unref(config_put_alias(cfg, a, &r));
    cfg_renumbering_destroy(&r);
    check_round_trip(cfg);
    config_destroy(cfg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!base) {
        struct verror e = VERROR_INITIALIZER;
        check(!config_parse_string(base_json, "base", &base, &e),
              "base config must parse");
    }
    if (size < 1) {
        return 0;
    }

    json_error_t jerr;
    json_t *body = json_loadb((const char *) data + 1, size - 1,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        return 0;
    }

    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a = NULL;
    bool created = false;
    int error;

    switch (data[0] % 6) {
    case 0: {
        struct config *cfg = parse_json(body, "fuzz");
        if (cfg) {
            check_round_trip(cfg);
            config_destroy(cfg);
        }
        json_decref(body);
        return 0;
    }
    case 1:
        error = cfgedit_alias_add(base, body, &a, &e);
        break;
    case 2:
        error = cfgedit_alias_replace(base, "web", body, &a, &e);
        break;
    case 3:
        error = cfgedit_member_put(base, "web", "m1", body, &created, &a, &e);
        break;
    case 4:
        error = cfgedit_member_put(base, "web", "m9", body, &created, &a, &e);
        break;
    default: {
        /* Body-less writes with names taken from the input. */
        const char *name = json_string_value(json_object_get(body, "a"));
        const char *member = json_string_value(json_object_get(body, "m"));
        if (name && member) {
            error = cfgedit_member_set_drained(
                base, name, member, json_is_true(json_object_get(body, "d")),
                &a, &e);
        } else {
            json_decref(body);
            return 0;
        }
        break;
    }
    }

    if (!error) {
        check(a && !e.message, "no error on success");
        check_applied(a);
    } else {
        unsigned int status = cfgedit_status(&e);
        check(!a, "no alias on error");
        check(status == 400 || status == 404 || status == 409,
              "refusal status must be 400, 404 or 409");
        check(e.kind && e.message && *e.message, "refusal must explain");
        verror_destroy(&e);
    }

    /* The running config is never modified. */
    struct config *fresh;
    struct verror e2 = VERROR_INITIALIZER;
    check(!config_parse_string(base_json, "base", &fresh, &e2)
              && config_equal(fresh, base),
          "base config unchanged");
    config_destroy(fresh);
    json_decref(body);
    return 0;
}
