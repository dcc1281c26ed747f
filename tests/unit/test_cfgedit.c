/* Unit tests for cfgedit (the API's config writes) and persist. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgedit.h"
#include "config.h"
#include "persist.h"

static const char base_json[]
    = "{\"aliases\": [{\"name\": \"web\", \"addresses\": [\"192.0.2.100\"],"
      " \"vmac\": \"02:00:5e:00:01:01\", \"members\": ["
      "  {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
      "   \"mac\": \"02:00:00:00:00:01\"},"
      "  {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
      "   \"mac\": \"02:00:00:00:00:02\"}]}]}";

static struct config *
base(void)
{
    char *err = NULL;
    struct config *cfg = config_parse_string(base_json, "base", &err);
    assert_non_null(cfg);
    return cfg;
}

static json_t *
js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

/* Runs alias_add with 'body' and expects a refusal. */
static void
expect_add_error(const struct config *cur, const char *body,
                 unsigned int status, const char *code, const char *field,
                 const char *msg)
{
    struct cfgedit_error e = { 0 };
    json_t *j = js(body);
    struct config *cfg = cfgedit_alias_add(cur, j, &e);
    json_decref(j);
    assert_null(cfg);
    assert_int_equal(e.status, status);
    assert_string_equal(e.code, code);
    if (field) {
        assert_non_null(e.field);
        assert_string_equal(e.field, field);
    } else {
        assert_null(e.field);
    }
    if (!strstr(e.message, msg)) {
        fail_msg("message \"%s\" lacks \"%s\"", e.message, msg);
    }
    cfgedit_error_destroy(&e);
}

static void
test_alias_add(void **state)
{
    (void) state;
    struct config *cur = base();
    struct cfgedit_error e = { 0 };
    json_t *j = js("{\"name\": \"db\", \"addresses\": [\"192.0.2.200\"],"
                   " \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}");
    struct config *cfg = cfgedit_alias_add(cur, j, &e);
    json_decref(j);
    assert_non_null(cfg);
    assert_int_equal(cfg->n_aliases, 2);
    assert_string_equal(cfg->aliases[1].name, "db");
    assert_string_equal(cfg->origin, "base");
    config_destroy(cfg);

    expect_add_error(cur, "{\"name\": \"web\"}", 409, "conflict", "name",
                     "already exists");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.100\"],"
                     " \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}",
                     409, "conflict", "addresses[0]", "already used");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.1\"],"
                     " \"vmac\": \"zz\", \"members\": []}",
                     400, "invalid_value", "vmac", "vmac:");
    expect_add_error(cur, "{\"name\": \"db\", \"bogus\": 1}", 400,
                     "unknown_field", "bogus", "unknown key");
    expect_add_error(cur, "{\"name\": \"db\"}", 400, "missing_field",
                     "addresses", "missing");
    expect_add_error(cur, "[]", 400, "invalid_value", NULL, "object");
    config_destroy(cur);
}

static void
test_members_and_drain(void **state)
{
    (void) state;
    struct config *cur = base();
    struct cfgedit_error e = { 0 };
    bool created;

    json_t *m = js("{\"bridge\": \"br0\", \"port\": \"m3-p\","
                   " \"mac\": \"02:00:00:00:00:03\"}");
    struct config *cfg = cfgedit_member_put(cur, "web", "m3", m, &created, &e);
    assert_non_null(cfg);
    assert_true(created);
    assert_int_equal(cfg->aliases[0].n_members, 3);
    config_destroy(cfg);

    /* Replace m1 with m2's port: conflict, field relative to member. */
    json_decref(m);
    m = js("{\"bridge\": \"br0\", \"port\": \"m2-p\", \"mac\": \"x\"}");
    cfg = cfgedit_member_put(cur, "web", "m1", m, &created, &e);
    assert_null(cfg);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "mac");
    cfgedit_error_destroy(&e);
    json_decref(m);

    m = js("{\"name\": \"other\", \"bridge\": \"br0\", \"port\": \"p\"}");
    cfg = cfgedit_member_put(cur, "web", "m1", m, &created, &e);
    assert_null(cfg);
    assert_int_equal(e.status, 400);
    assert_string_equal(e.field, "name");
    cfgedit_error_destroy(&e);
    json_decref(m);

    cfg = cfgedit_member_set_drained(cur, "web", "m2", true, &e);
    assert_non_null(cfg);
    assert_true(cfg->aliases[0].members[1].drained);
    assert_false(config_equal(cfg, cur));
    /* Round trip through JSON keeps the flag. */
    json_t *j = config_to_json(cfg);
    char *err = NULL;
    struct config *again = config_parse_json(j, "rt", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    config_destroy(again);
    json_decref(j);
    config_destroy(cfg);

    cfg = cfgedit_member_set_drained(cur, "web", "m9", true, &e);
    assert_null(cfg);
    assert_int_equal(e.status, 404);
    cfgedit_error_destroy(&e);

    cfg = cfgedit_member_remove(cur, "web", "m1", &e);
    assert_non_null(cfg);
    assert_int_equal(cfg->aliases[0].n_members, 1);
    config_destroy(cfg);

    cfg = cfgedit_alias_remove(cur, "web", &e);
    assert_non_null(cfg);
    assert_int_equal(cfg->n_aliases, 0);
    config_destroy(cfg);
    config_destroy(cur);
}

static void
test_etag(void **state)
{
    (void) state;
    struct config *cur = base();
    struct cfgedit_error e = { 0 };
    char a[CFGEDIT_ETAG_LEN], b[CFGEDIT_ETAG_LEN];

    cfgedit_alias_etag(&cur->aliases[0], a);
    assert_int_equal(strlen(a), 18);
    struct config *cfg
        = cfgedit_member_set_drained(cur, "web", "m1", true, &e);
    cfgedit_alias_etag(&cfg->aliases[0], b);
    assert_string_not_equal(a, b);
    assert_true(cfgedit_if_match(a, a));
    assert_true(cfgedit_if_match("*", a));
    char list[64];
    snprintf(list, sizeof list, "%s , %s", b, a);
    assert_true(cfgedit_if_match(list, a));
    assert_false(cfgedit_if_match(b, a));
    snprintf(list, sizeof list, "W/%s", a);
    assert_false(cfgedit_if_match(list, a));
    config_destroy(cfg);
    config_destroy(cur);
}

static void
test_persist(void **state)
{
    (void) state;
    char dir[] = "/tmp/vmacd-persist-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);

    char *err = persist_write(path, "old\n", 4);
    assert_null(err);
    assert_int_equal(chmod(path, 0640), 0);
    json_t *j = js("{\"b\": 1, \"a\": [2]}");
    err = persist_write_json(path, j);
    json_decref(j);
    assert_null(err);

    char buf[128] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_string_equal(buf, "{\n  \"b\": 1,\n  \"a\": [\n    2\n  ]\n}\n");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    /* A directory that does not exist: error, nothing left behind. */
    err = persist_write("/nonexistent-vmacd/x.json", "x", 1);
    assert_non_null(err);
    free(err);

    unlink(path);
    assert_int_equal(rmdir(dir), 0); /* No temporary file left. */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alias_add),
        cmocka_unit_test(test_members_and_drain),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_persist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
