/* Unit tests of the config's "ovsdb" section and members' "iface_id"
 * (config-ovsdb.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfgtest.h"
#include "config.h"
#include "util.h"

/* Single quotes in 'json' become double quotes; then it is parsed.
 * Returns the config, or NULL with '*errp' set. */
static struct config *
parse(const char *json, char **errp)
{
    char *text = xstrdup(json);
    for (char *c = text; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    *errp = NULL;
    struct config *cfg = cfgtest_parse(text, "t.json", errp);
    free(text);
    return cfg;
}

static struct config *
parse_ok(const char *json)
{
    char *err;
    struct config *cfg = parse(json, &err);
    if (!cfg) {
        fail_msg("unexpected error: %s\nfor: %s", err, json);
    }
    return cfg;
}

static void
expect_error(const char *json, const char *expected)
{
    char *err;
    struct config *cfg = parse(json, &err);
    if (cfg) {
        config_destroy(cfg);
        fail_msg("unexpectedly accepted: %s", json);
    }
    if (!strstr(err, expected)) {
        fail_msg("error\n  %s\ndoes not contain\n  %s\nfor: %s", err, expected,
                 json);
    }
    free(err);
}

#define OVSDB(X) "{'ovsdb': {" X "}}"

/* An alias whose second member is 'M2' (a member object's keys). */
#define MEMBERS(OVSDB_SECTION, M2)                                            \
    "{" OVSDB_SECTION "'aliases': [{'name': 'web', "                          \
    "'addresses': ['192.0.2.100'], 'vmac': '02:00:5e:00:01:01', "             \
    "'members': [{'name': 'm1', 'bridge': 'br0', 'port': 'm1-p', "            \
    "'mac': '02:00:00:00:00:11'}, {'name': 'm2', 'bridge': 'br0', "           \
    "'mac': '02:00:00:00:00:12', " M2 "}]}]}"
#define WITH_OVSDB "'ovsdb': {},"

static void
test_ovsdb_section(void **state OVS_UNUSED)
{
    /* Absent: no client. */
    struct config *cfg = parse_ok("{}");
    assert_null(cfg->ovsdb);
    config_destroy(cfg);

    /* Empty: the defaults (Debian's socket, secure). */
    cfg = parse_ok(OVSDB(""));
    assert_non_null(cfg->ovsdb);
    assert_string_equal(cfg->ovsdb->remote,
                        "unix:/var/run/openvswitch/db.sock");
    assert_int_equal(cfg->ovsdb->fail_mode, CFG_FAIL_MODE_SECURE);
    assert_null(cfg->ovsdb->private_key);
    config_destroy(cfg);

    cfg = parse_ok(OVSDB("'remote': 'tcp:[2001:db8::1]:6640', "
                         "'fail_mode': 'check'"));
    assert_string_equal(cfg->ovsdb->remote, "tcp:[2001:db8::1]:6640");
    assert_int_equal(cfg->ovsdb->fail_mode, CFG_FAIL_MODE_CHECK);
    config_destroy(cfg);

    cfg = parse_ok(OVSDB("'remote': 'ssl:192.0.2.1:6640', "
                         "'private_key': '/etc/vmacd/key.pem', "
                         "'certificate': '/etc/vmacd/cert.pem', "
                         "'ca_cert': '/etc/vmacd/ca.pem'"));
    assert_string_equal(cfg->ovsdb->private_key, "/etc/vmacd/key.pem");
    assert_string_equal(cfg->ovsdb->certificate, "/etc/vmacd/cert.pem");
    assert_string_equal(cfg->ovsdb->ca_cert, "/etc/vmacd/ca.pem");

    /* Written back with the defaults filled in, and read again equal. */
    json_t *j = config_to_json(cfg);
    json_t *o = json_object_get(j, "ovsdb");
    assert_string_equal(json_string_value(json_object_get(o, "remote")),
                        "ssl:192.0.2.1:6640");
    assert_string_equal(json_string_value(json_object_get(o, "fail_mode")),
                        "secure");
    assert_string_equal(json_string_value(json_object_get(o, "ca_cert")),
                        "/etc/vmacd/ca.pem");
    char *err;
    struct config *again = cfgtest_parse_json(j, "<api>", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    free(again->ovsdb->ca_cert);
    again->ovsdb->ca_cert = xstrdup("/other.pem");
    assert_false(config_equal(cfg, again));
    json_decref(j);
    config_destroy(again);

    /* A copy outlives the config. */
    struct cfg_ovsdb *copy = config_ovsdb_clone(cfg->ovsdb);
    config_destroy(cfg);
    assert_string_equal(copy->remote, "ssl:192.0.2.1:6640");
    assert_string_equal(copy->certificate, "/etc/vmacd/cert.pem");
    config_ovsdb_destroy(copy);
    config_ovsdb_destroy(NULL);

    /* With and without "ovsdb" compare unequal; no "ovsdb" in the dump of
     * a config without it. */
    struct config *a = parse_ok("{}"), *b = parse_ok(OVSDB(""));
    assert_false(config_equal(a, b));
    j = config_to_json(a);
    assert_null(json_object_get(j, "ovsdb"));
    json_decref(j);
    config_destroy(a);
    config_destroy(b);
}

static void
test_ovsdb_invalid(void **state OVS_UNUSED)
{
    expect_error("{'ovsdb': []}", "t.json: ovsdb: expected an object");
    expect_error(OVSDB("'remote': 'punix:/x'"),
                 "t.json: ovsdb.remote: \"punix:/x\" is not a valid remote: "
                 "expected unix:PATH, tcp:IP:PORT or ssl:IP:PORT");
    expect_error(OVSDB("'remote': 'unix:'"), "the socket path is empty");
    expect_error(OVSDB("'remote': 'tcp:localhost:6640'"),
                 "the IP must be IPv4 or [IPv6] in brackets");
    expect_error(OVSDB("'remote': 'tcp:192.0.2.1'"), "expected unix:PATH");
    expect_error(OVSDB("'remote': 'tcp:192.0.2.1:0'"),
                 "the port must be a number in 1..65535");
    expect_error(OVSDB("'remote': 'unix:/a,unix:/b'"), "one remote only");
    expect_error(OVSDB("'remote': 7"), "ovsdb.remote: expected a string");
    expect_error(OVSDB("'fail_mode': 'standalone'"),
                 "ovsdb.fail_mode: \"standalone\" is not a fail_mode: "
                 "expected \"secure\"");
    expect_error(OVSDB("'fail_mode': true"), "expected a string");
    expect_error(OVSDB("'secure': true"), "ovsdb: unknown key \"secure\"");
    expect_error(OVSDB("'remote': 'ssl:192.0.2.1:6640', 'private_key': "
                       "'/k', 'certificate': '/c'"),
                 "ovsdb: an ssl: remote needs \"private_key\", "
                 "\"certificate\" and \"ca_cert\" (PEM files); \"ca_cert\" "
                 "is missing");
    expect_error(OVSDB("'ca_cert': '/ca.pem'"),
                 "ovsdb.ca_cert: only an ssl: remote takes TLS files");
    expect_error(OVSDB("'remote': 'ssl:192.0.2.1:6640', 'private_key': "
                       "'', 'certificate': '/c', 'ca_cert': '/a'"),
                 "ovsdb.private_key: the file name is empty");
}

static void
test_iface_id(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(MEMBERS(WITH_OVSDB, "'iface_id': "
                                                      "'vm-1b2c'"));
    const struct cfg_member *m1 = &cfg->aliases[0]->members[0];
    const struct cfg_member *m2 = &cfg->aliases[0]->members[1];
    assert_null(m1->iface_id);
    assert_string_equal(m1->port, "m1-p");
    assert_string_equal(m2->iface_id, "vm-1b2c");
    assert_string_equal(m2->port, ""); /* Unresolved: no port. */

    /* Round trip: "iface_id" instead of "port". */
    json_t *j = config_to_json(cfg);
    json_t *mj = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "aliases"), 0),
                        "members"),
        1);
    assert_string_equal(json_string_value(json_object_get(mj, "iface_id")),
                        "vm-1b2c");
    assert_null(json_object_get(mj, "port"));
    char *err;
    struct config *again = cfgtest_parse_json(j, "<api>", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    free(again->aliases[0]->members[1].iface_id);
    again->aliases[0]->members[1].iface_id = xstrdup("vm-other");
    assert_false(config_equal(cfg, again));
    json_decref(j);
    config_destroy(again);
    config_destroy(cfg);

    /* 255 bytes (any printable text, as OVSDB allows) is fine, and two
     * members by iface_id on one bridge too. */
    char long_id[256];
    memset(long_id, 'a', 255);
    long_id[255] = '\0';
    char *json = xasprintf(MEMBERS(WITH_OVSDB, "'iface_id': '%s'"), long_id);
    cfg = parse_ok(json);
    assert_int_equal(strlen(cfg->aliases[0]->members[1].iface_id), 255);
    config_destroy(cfg);
    free(json);
    cfg = parse_ok(
        "{'ovsdb': {}, 'aliases': [{'name': 'web', "
        "'addresses': ['192.0.2.100'], 'vmac': '02:00:5e:00:01:01', "
        "'members': [{'name': 'm1', 'bridge': 'br0', 'iface_id': 'a b/c', "
        "'mac': '02:00:00:00:00:11'}, {'name': 'm2', 'bridge': 'br0', "
        "'iface_id': 'ünïcode', 'mac': '02:00:00:00:00:12'}]}]}");
    config_destroy(cfg);
}

static void
test_iface_id_invalid(void **state OVS_UNUSED)
{
    expect_error(MEMBERS(WITH_OVSDB, "'port': 'm2-p', 'iface_id': 'vm-2'"),
                 "t.json: aliases[0].members[1]: both \"port\" and "
                 "\"iface_id\" are given; a member has exactly one: "
                 "\"port\" (its OpenFlow port name) or \"iface_id\" (its "
                 "Interface's external_ids:iface-id)");
    expect_error(MEMBERS(WITH_OVSDB, "'priority': 5"),
                 "t.json: aliases[0].members[1]: missing required key "
                 "\"port\" (its OpenFlow port name), or else \"iface_id\" "
                 "(its Interface's external_ids:iface-id)");
    expect_error(MEMBERS(WITH_OVSDB, "'iface_id': ''"),
                 "aliases[0].members[1].iface_id: the iface_id is empty; it "
                 "has 1 to 255 bytes");
    char long_id[257];
    memset(long_id, 'x', 256);
    long_id[256] = '\0';
    char *json = xasprintf(MEMBERS(WITH_OVSDB, "'iface_id': '%s'"), long_id);
    expect_error(json, "aliases[0].members[1].iface_id: the iface_id is 256 "
                       "bytes long; at most 255");
    free(json);
    /* Text with \u0000 is refused by the JSON parser; a JSON value built
     * in memory (as the API's could be) is checked here. */
    char *err;
    struct config *cfg = parse(MEMBERS(WITH_OVSDB, "'iface_id': 'ab'"), &err);
    assert_non_null(cfg);
    json_t *j = config_to_json(cfg);
    config_destroy(cfg);
    json_t *mj = json_array_get(
        json_object_get(json_array_get(json_object_get(j, "aliases"), 0),
                        "members"),
        1);
    json_object_set_new(mj, "iface_id", json_stringn("a\0b", 3));
    assert_null(cfgtest_parse_json(j, "<api>", &err));
    assert_string_equal(err, "<api>: aliases[0].members[1].iface_id: an "
                             "iface_id must not contain a NUL character");
    free(err);
    json_decref(j);
    expect_error(MEMBERS(WITH_OVSDB, "'iface_id': 'a\\nb'"),
                 "the iface_id contains a control character (byte 1)");
    expect_error(MEMBERS(WITH_OVSDB, "'iface_id': 5"),
                 "aliases[0].members[1].iface_id: expected a string");
    /* Without "ovsdb" nothing could find the port. */
    expect_error(MEMBERS("", "'iface_id': 'vm-2'"),
                 "t.json: aliases[0].members[1].iface_id: a member given by "
                 "iface_id needs \"ovsdb\" at the top level");
    /* One interface, two members. */
    expect_error("{'ovsdb': {}, 'aliases': [{'name': 'web', "
                 "'addresses': ['192.0.2.100'], 'vmac': '02:00:5e:00:01:01', "
                 "'members': [{'name': 'm1', 'bridge': 'br0', "
                 "'iface_id': 'vm-1', 'mac': '02:00:00:00:00:11'}, "
                 "{'name': 'm2', 'bridge': 'br0', 'iface_id': 'vm-1', "
                 "'mac': '02:00:00:00:00:12'}]}]}",
                 "aliases[0].members[1].iface_id: iface_id \"vm-1\" on "
                 "bridge \"br0\" is already used by member \"m1\"");
    /* The unknown-key message lists the new key. */
    expect_error(MEMBERS(WITH_OVSDB, "'port': 'p', 'ifaceid': 'x'"),
                 "unknown key \"ifaceid\" (allowed: name, bridge, port, "
                 "mac, ip, priority, probe, drained, iface_id)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ovsdb_section),
        cmocka_unit_test(test_ovsdb_invalid),
        cmocka_unit_test(test_iface_id),
        cmocka_unit_test(test_iface_id_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
