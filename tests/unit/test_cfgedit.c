/*
 * Unit tests for cfgedit (the API's alias writes: one alias validated
 * against the others), config_put_alias()/config_remove_alias() (ids stay
 * what a fresh parse would give) and persist.
 */
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
#include "util.h"
#include "verror.h"

static const char base_json[]
    = "{\"aliases\": [{\"name\": \"web\", \"addresses\": [\"192.0.2.100\"],"
      " \"vmac\": \"02:00:5e:00:01:01\", \"members\": ["
      "  {\"name\": \"m1\", \"bridge\": \"br0\", \"port\": \"m1-p\","
      "   \"mac\": \"02:00:00:00:00:11\"},"
      "  {\"name\": \"m2\", \"bridge\": \"br0\", \"port\": \"m2-p\","
      "   \"mac\": \"02:00:00:00:00:12\", \"ip\": \"192.0.2.12\"}]}]}";

static struct config *
parse(const char *text)
{
    struct config *cfg;
    struct verror e = VERROR_INITIALIZER;
    if (config_parse_string(text, "base", &cfg, &e)) {
        fail_msg("%s", e.message);
    }
    return cfg;
}

static struct config *
base(void)
{
    return parse(base_json);
}

static json_t *
js(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    assert_non_null(j);
    return j;
}

static void
expect_error(const struct verror *e, unsigned int status, const char *code,
             const char *field, const char *msg)
{
    assert_int_equal(cfgedit_status(e), status);
    assert_string_equal(e->kind, code);
    if (field) {
        assert_non_null(e->field);
        assert_string_equal(e->field, field);
    } else {
        assert_null(e->field);
    }
    if (!strstr(e->message, msg)) {
        fail_msg("message \"%s\" lacks \"%s\"", e->message, msg);
    }
}

/* Runs alias_add with 'body' and expects a refusal. */
static void
expect_add_error(const struct config *cur, const char *body,
                 unsigned int status, const char *code, const char *field,
                 const char *msg)
{
    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a;
    json_t *j = js(body);
    int error = cfgedit_alias_add(cur, j, &a, &e);
    json_decref(j);
    assert_int_not_equal(error, 0);
    assert_null(a);
    expect_error(&e, status, code, field, msg);
    verror_destroy(&e);
}

static void
test_alias_add(void **state OVS_UNUSED)
{
    struct config *cur = base();
    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a;
    json_t *j = js("{\"name\": \"db\", \"addresses\": [\"192.0.2.200\"],"
                   " \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}");
    assert_int_equal(cfgedit_alias_add(cur, j, &a, &e), 0);
    json_decref(j);
    assert_string_equal(a->name, "db");
    /* Nothing changed in the running config. */
    assert_int_equal(cur->n_aliases, 1);
    assert_null(config_find_alias(cur, "db"));
    cfg_alias_unref(a);

    expect_add_error(cur, "{\"name\": \"web\"}", 409, "conflict", "name",
                     "already exists");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.100\"],"
                     " \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}",
                     409, "conflict", "addresses[0]", "already used");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.1\"],"
                     " \"vmac\": \"02:00:5e:00:01:01\", \"members\": []}",
                     409, "conflict", "vmac", "already the VMAC");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.1\"],"
                     " \"vmac\": \"zz\", \"members\": []}",
                     400, "invalid_value", "vmac", "vmac:");
    expect_add_error(cur, "{\"name\": \"db\", \"bogus\": 1}", 400,
                     "unknown_field", "bogus", "unknown key");
    expect_add_error(cur, "{\"name\": \"db\"}", 400, "missing_field",
                     "addresses", "missing");
    expect_add_error(cur, "[]", 400, "invalid_value", NULL, "object");

    /* The cross checks both ways: a VMAC that is another alias's member's
     * mac, an address that is another's member's ip, and a member whose
     * mac is another's VMAC. */
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.1\"],"
                     " \"vmac\": \"02:00:00:00:00:11\", \"members\": []}",
                     409, "conflict", "vmac", "is the mac of member");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.12\"],"
                     " \"vmac\": \"02:00:5e:00:02:01\", \"members\": []}",
                     409, "conflict", "addresses[0]", "is the ip of member");
    expect_add_error(cur,
                     "{\"name\": \"db\", \"addresses\": [\"192.0.2.1\"],"
                     " \"vmac\": \"02:00:5e:00:02:01\", \"members\": ["
                     "{\"name\": \"x\", \"bridge\": \"br0\", \"port\": "
                     "\"x-p\", \"mac\": \"02:00:5e:00:01:01\"}]}",
                     409, "conflict", "members[0].mac", "is the VMAC of");
    config_destroy(cur);
}

static void
test_members_and_drain(void **state OVS_UNUSED)
{
    struct config *cur = base();
    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a;
    bool created;

    json_t *m = js("{\"bridge\": \"br0\", \"port\": \"m3-p\", \"mac\": "
                   "\"02:00:00:00:00:13\"}");
    assert_int_equal(cfgedit_member_put(cur, "web", "m3", m, &created, &a, &e),
                     0);
    assert_true(created);
    assert_int_equal(a->n_members, 3);
    cfg_alias_unref(a);
    json_decref(m);

    /* A bad value: the field is relative to the member. */
    m = js("{\"bridge\": \"br0\", \"port\": \"m2-p\", \"mac\": \"x\"}");
    assert_int_not_equal(
        cfgedit_member_put(cur, "web", "m1", m, &created, &a, &e), 0);
    expect_error(&e, 400, "invalid_value", "mac", "mac:");
    verror_destroy(&e);
    json_decref(m);

    /* m2's port for m1: a conflict, relative to the member too. */
    m = js("{\"bridge\": \"br0\", \"port\": \"m2-p\", \"mac\": "
           "\"02:00:00:00:00:11\"}");
    assert_int_not_equal(
        cfgedit_member_put(cur, "web", "m1", m, &created, &a, &e), 0);
    assert_int_equal(cfgedit_status(&e), 409);
    verror_destroy(&e);
    json_decref(m);

    m = js("{\"name\": \"other\", \"bridge\": \"br0\", \"port\": \"p\"}");
    assert_int_not_equal(
        cfgedit_member_put(cur, "web", "m1", m, &created, &a, &e), 0);
    expect_error(&e, 400, "invalid_value", "name", "differs");
    verror_destroy(&e);
    json_decref(m);

    assert_int_equal(
        cfgedit_member_set_drained(cur, "web", "m2", true, &a, &e), 0);
    assert_true(a->members[1].drained);
    assert_false(config_alias_equal(a, cur->aliases[0]));
    /* Its JSON keeps the flag. */
    json_t *j = config_alias_to_json(a);
    assert_true(json_is_true(json_object_get(
        json_array_get(json_object_get(j, "members"), 1), "drained")));
    json_decref(j);
    cfg_alias_unref(a);

    assert_int_not_equal(
        cfgedit_member_set_drained(cur, "web", "m9", true, &a, &e), 0);
    expect_error(&e, 404, "not_found", "member", "no member");
    verror_destroy(&e);

    assert_int_equal(cfgedit_member_remove(cur, "web", "m1", &a, &e), 0);
    assert_int_equal(a->n_members, 1);
    cfg_alias_unref(a);

    assert_int_not_equal(
        cfgedit_alias_replace(cur, "nope", js("{}"), &a, &e), 0);
    expect_error(&e, 404, "not_found", "name", "no alias");
    verror_destroy(&e);
    config_destroy(cur);
}

static void
test_etag(void **state OVS_UNUSED)
{
    struct config *cur = base();
    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a2;
    char a[CFGEDIT_ETAG_LEN], b[CFGEDIT_ETAG_LEN];

    cfgedit_alias_etag(cur->aliases[0], a);
    assert_int_equal(strlen(a), 18);
    assert_int_equal(
        cfgedit_member_set_drained(cur, "web", "m1", true, &a2, &e), 0);
    cfgedit_alias_etag(a2, b);
    assert_string_not_equal(a, b);
    assert_true(cfgedit_if_match(a, a));
    assert_true(cfgedit_if_match("*", a));
    char list[64];
    snprintf(list, sizeof list, "%s , %s", b, a);
    assert_true(cfgedit_if_match(list, a));
    assert_false(cfgedit_if_match(b, a));
    snprintf(list, sizeof list, "W/%s", a);
    assert_false(cfgedit_if_match(list, a));
    cfg_alias_unref(a2);
    config_destroy(cur);
}

/* Does each alias of 'cfg' have the id a fresh parse of the same aliases
 * (in another order) gives? */
static void
assert_ids_fresh(const struct config *cfg)
{
    json_t *j = config_to_json(cfg);
    /* Reverse the aliases: the rule must not depend on the order. */
    json_t *aliases = json_object_get(j, "aliases");
    json_t *rev = json_array();
    for (size_t i = json_array_size(aliases); i-- > 0;) {
        json_array_append(rev, json_array_get(aliases, i));
    }
    json_object_set_new(j, "aliases", rev);
    struct config *fresh;
    struct verror e = VERROR_INITIALIZER;
    assert_int_equal(config_parse_json(j, "fresh", &fresh, &e), 0);
    json_decref(j);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *f = config_find_alias(fresh,
                                                      cfg->aliases[i]->name);
        assert_non_null(f);
        if (f->id != cfg->aliases[i]->id) {
            fail_msg("alias %s: id %#x, a fresh parse gives %#x",
                     f->name, cfg->aliases[i]->id, f->id);
        }
    }
    config_destroy(fresh);
}

static char *
alias_json(const char *name, int k)
{
    return xasprintf("{\"name\": \"%s\", \"addresses\": [\"198.51.100.%d\"],"
                     " \"vmac\": \"02:00:5e:00:03:%02x\", \"members\": []}",
                     name, k, k);
}

/* Puts and removes keep every id what the rule over the whole config
 * says, also when names collide.  "c498611" and "c848935" hash to the same
 * id (3127785, 32-bit FNV-1a): the first by name keeps it, the other takes
 * the next; whichever comes first, and when the first goes, the other
 * moves back (reported as renumbered). */
static void
test_put_remove_ids(void **state OVS_UNUSED)
{
    static const char *const names[] = {
        "c848935", "plain", "c498611", "c848929", "c498605",
    };
    struct config *cfg = parse("{}");
    size_t n_renumbered = 0;

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        struct cfg_alias *a;
        struct verror e = VERROR_INITIALIZER;
        char *text = alias_json(names[i], i + 1);
        json_t *j = js(text);
        free(text);
        assert_int_equal(config_parse_alias(cfg, j, NULL, &a, &e), 0);
        json_decref(j);
        struct cfg_renumbering r = { 0 };
        assert_null(config_put_alias(cfg, a, &r));
        n_renumbered += r.n;
        cfg_renumbering_destroy(&r);
        assert_ids_fresh(cfg);
    }
    /* c498611 came after c848935 and took its id; so did c498605. */
    assert_int_equal(n_renumbered, 2);
    assert_int_equal(config_find_alias(cfg, "c498611")->id, 3127785);
    assert_int_equal(config_find_alias(cfg, "c848935")->id, 3127786);

    struct cfg_renumbering r = { 0 };
    cfg_alias_unref(config_remove_alias(cfg, "c498611", &r));
    assert_int_equal(r.n, 1);
    assert_string_equal(r.aliases[0]->name, "c848935");
    assert_int_equal(r.old_ids[0], 3127786);
    cfg_renumbering_destroy(&r);
    assert_int_equal(config_find_alias(cfg, "c848935")->id, 3127785);
    assert_ids_fresh(cfg);
    config_destroy(cfg);
}

/* A put replaces its namesake in place (same position, same id); adds go
 * at the end; lookups follow. */
static void
test_put_in_place(void **state OVS_UNUSED)
{
    struct config *cfg = base();
    uint32_t id = cfg->aliases[0]->id;
    struct verror e = VERROR_INITIALIZER;
    struct cfg_alias *a;
    json_t *j = js(alias_json("db", 9));
    assert_int_equal(config_parse_alias(cfg, j, NULL, &a, &e), 0);
    json_decref(j);
    struct cfg_renumbering r = { 0 };
    assert_null(config_put_alias(cfg, a, &r));
    assert_int_equal(cfg->n_aliases, 2);
    assert_ptr_equal(cfg->aliases[1], a);
    assert_ptr_equal(config_find_alias(cfg, "db"), a);

    j = js("{\"name\": \"web\", \"addresses\": [\"192.0.2.101\"],"
           " \"vmac\": \"02:00:5e:00:01:01\", \"members\": []}");
    assert_int_equal(config_parse_alias(cfg, j, "web", &a, &e), 0);
    json_decref(j);
    struct cfg_alias *old = config_put_alias(cfg, a, &r);
    assert_non_null(old);
    assert_ptr_equal(cfg->aliases[0], a);
    assert_int_equal(a->id, id);
    cfg_alias_unref(old);

    /* The old address is free again, the new one taken. */
    j = js("{\"name\": \"x\", \"addresses\": [\"192.0.2.100\"],"
           " \"vmac\": \"02:00:5e:00:01:09\", \"members\": []}");
    assert_int_equal(config_parse_alias(cfg, j, NULL, &a, &e), 0);
    cfg_alias_unref(a);
    json_decref(j);
    j = js("{\"name\": \"x\", \"addresses\": [\"192.0.2.101\"],"
           " \"vmac\": \"02:00:5e:00:01:09\", \"members\": []}");
    assert_int_not_equal(config_parse_alias(cfg, j, NULL, &a, &e), 0);
    assert_string_equal(e.kind, VERR_CONFLICT);
    verror_destroy(&e);
    json_decref(j);

    old = config_remove_alias(cfg, "web", &r);
    assert_non_null(old);
    cfg_alias_unref(old);
    assert_null(config_find_alias(cfg, "web"));
    assert_int_equal(cfg->n_aliases, 1);
    assert_null(config_remove_alias(cfg, "web", &r));
    cfg_renumbering_destroy(&r);
    config_destroy(cfg);
}

static void
test_persist(void **state OVS_UNUSED)
{
    char dir[] = "/tmp/vmacd-persist-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/c.json", dir);
    struct verror e = VERROR_INITIALIZER;

    assert_int_equal(persist_write(path, "old\n", 4, &e), 0);
    assert_int_equal(chmod(path, 0640), 0);
    json_t *j = js("{\"b\": 1, \"a\": [2]}");
    assert_int_equal(persist_write_json(path, j, &e), 0);
    json_decref(j);

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
    assert_int_not_equal(persist_write("/nonexistent-vmacd/x.json", "x", 1,
                                       &e),
                         0);
    assert_non_null(e.message);
    verror_destroy(&e);

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
        cmocka_unit_test(test_put_remove_ids),
        cmocka_unit_test(test_put_in_place),
        cmocka_unit_test(test_persist),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
