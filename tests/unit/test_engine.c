/*
 * Unit tests of the engine without switches: what it tells its wiring as
 * aliases come and go through its write path (engine_alias_put(),
 * engine_alias_remove()), one alias at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <ev.h>
#include <jansson.h>

#include "cfgtest.h"
#include "config.h"
#include "engine-private.h"
#include "sset.h"
#include "util.h"
#include "verror.h"

struct seen {
    int calls;
    struct sset bridges;
};

static void
record_bridges(const struct sset *bridges, void *seen_)
{
    struct seen *seen = seen_;
    seen->calls++;
    sset_clear(&seen->bridges);
    const char *name;
    SSET_FOR_EACH (name, bridges) {
        sset_add(&seen->bridges, name);
    }
}

/* The names in 'seen', sorted and joined with spaces. */
static char *
names(struct seen *seen)
{
    const char **v = sset_sort(&seen->bridges);
    struct ds s = DS_EMPTY_INITIALIZER;
    for (size_t i = 0; i < sset_count(&seen->bridges); i++) {
        ds_put_format(&s, "%s%s", i ? " " : "", v[i]);
    }
    free(v);
    return ds_steal_cstr(&s);
}

static void
assert_bridges(struct seen *seen, const char *want)
{
    char *got = names(seen);
    assert_string_equal(got, want);
    free(got);
}

static struct cfg_alias *
alias(const struct engine *eng, const char *json)
{
    json_error_t jerr;
    json_t *j = json_loads(json, 0, &jerr);
    assert_non_null(j);
    struct cfg_alias *a;
    struct verror e = VERROR_INITIALIZER;
    int error = config_parse_alias(engine_config(eng), j, NULL, &a, &e);
    if (error) {
        fail_msg("%s", e.message);
    }
    json_decref(j);
    return a;
}

/* The bridges the engine looks after (for the fail mode of OVSDB): those
 * the config lists and those that carry an alias (members, access
 * bridges); told once when asked and then only on a change. */
static void
test_bridges_followed(void **state OVS_UNUSED)
{
    char dir[] = "/tmp/vmacd-test-engine-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *text = xasprintf(
        "{\"openflow\": {\"listen\": [\"punix:%s/of.sock\"]},"
        " \"api\": {\"socket\": \"%s/api.sock\"},"
        " \"bridges\": [{\"name\": \"up-br\"}], \"aliases\": [{\"name\": "
        "\"web\", \"addresses\": [\"192.0.2.100\"], \"vmac\": "
        "\"02:00:5e:00:01:01\", \"access_bridges\": [\"acc\"], \"members\": "
        "[{\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"p\", "
        "\"mac\": \"02:00:00:00:00:01\"}, "
        "{\"name\": \"m2\", \"bridge\": \"br1\", \"port\": \"p\", "
        "\"mac\": \"02:00:00:00:00:02\"}, "
        "{\"name\": \"m3\", \"bridge\": \"br0\", \"port\": \"q\", "
        "\"mac\": \"02:00:00:00:00:03\"}]}]}",
        dir, dir);
    char *err;
    struct config *cfg = cfgtest_parse(text, "t", &err);
    if (!cfg) {
        fail_msg("%s", err);
    }
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    struct engine *eng;
    struct verror e = VERROR_INITIALIZER;
    assert_int_equal(engine_create(loop, cfg, &eng, &e), 0);

    struct seen seen = { .bridges = SSET_INITIALIZER(&seen.bridges) };
    engine_on_bridges(eng, record_bridges, &seen);
    assert_int_equal(seen.calls, 1);
    assert_bridges(&seen, "acc br0 br1 up-br");

    /* A new alias on a new bridge adds it; on known bridges, nothing. */
    (void) engine_alias_put(eng, alias(eng,
        "{\"name\": \"db\", \"addresses\": [\"192.0.2.101\"], \"vmac\": "
        "\"02:00:5e:00:01:02\", \"members\": [{\"name\": \"d1\", \"bridge\": "
        "\"br2\", \"port\": \"p\", \"mac\": \"02:00:00:00:00:04\"}]}"));
    assert_int_equal(seen.calls, 2);
    assert_bridges(&seen, "acc br0 br1 br2 up-br");
    (void) engine_alias_put(eng, alias(eng,
        "{\"name\": \"app\", \"addresses\": [\"192.0.2.102\"], \"vmac\": "
        "\"02:00:5e:00:01:03\", \"members\": [{\"name\": \"a1\", \"bridge\": "
        "\"br0\", \"port\": \"r\", \"mac\": \"02:00:00:00:00:05\"}]}"));
    assert_int_equal(seen.calls, 2);

    /* Removing the only alias on br2 drops it; the configured bridge and
     * the bridges other aliases carry stay. */
    (void) engine_alias_remove(eng, "db");
    assert_int_equal(seen.calls, 3);
    assert_bridges(&seen, "acc br0 br1 up-br");
    (void) engine_alias_remove(eng, "web");
    assert_int_equal(seen.calls, 4);
    assert_bridges(&seen, "br0 up-br");

    engine_destroy(eng);
    ev_loop_destroy(loop);
    sset_destroy(&seen.bridges);
    free(text);
    char *sock = xasprintf("%s/of.sock", dir);
    unlink(sock);
    free(sock);
    rmdir(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bridges_followed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
