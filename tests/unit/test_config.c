/* Unit tests for the config module. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>

#include "cfgtest.h"
#include "config.h"

/* Test JSON is written with single quotes for readability; this turns
 * them into double quotes.  The caller frees the result. */
static char *
q(const char *s)
{
    char *out = strdup(s);
    assert_non_null(out);
    for (char *c = out; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    return out;
}

/* Parses single-quoted 'json' and expects success. */
static struct config *
parse_ok(const char *json)
{
    char *text = q(json);
    char *err = (char *) 1;
    struct config *cfg = cfgtest_parse(text, "t.json", &err);
    if (!cfg) {
        fail_msg("unexpected error: %s\nfor: %s", err, text);
    }
    assert_null(err);
    free(text);
    return cfg;
}

/* Parses single-quoted 'json' and returns the error message. */
static char *
parse_err(const char *json)
{
    char *text = q(json);
    char *err = NULL;
    struct config *cfg = cfgtest_parse(text, "t.json", &err);
    if (cfg) {
        config_destroy(cfg);
        fail_msg("unexpectedly accepted: %s", text);
    }
    assert_non_null(err);
    free(text);
    return err;
}

static ovs_be32
ip4(const char *s)
{
    ovs_be32 a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a;
}

static struct in6_addr
ip6(const char *s)
{
    struct in6_addr a;
    assert_int_equal(inet_pton(AF_INET6, s, &a), 1);
    return a;
}

static void
assert_mac(struct eth_addr mac, const char *expected)
{
    char text[32];
    snprintf(text, sizeof text, ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
    assert_string_equal(text, expected);
}

static const char full_config[]
    = "{"
      " 'openflow': {"
      "  'listen': ['ptcp:6653:127.0.0.1', 'ptcp:6654:[::1]',"
      "             'punix:/tmp/vmacd-of.sock'],"
      "  'connect': ['tcp:192.0.2.1:6653', 'tcp:[2001:db8::1]:6653',"
      "              'unix:/tmp/sw.sock'],"
      "  'inactivity_probe_ms': 0, 'base_table': 10, 'next_table': 20,"
      "  'cookie_prefix': '0xABCD0001'},"
      " 'api': {'socket': '/tmp/vmacd-test.sock'},"
      " 'bridges': [{'name': 'br0', 'uplinks': ['up0', 'up1']},"
      "             {'name': 'br1'}],"
      " 'aliases': [{"
      "  'name': 'web', 'addresses': ['192.0.2.100', '2001:DB8:0::100',"
      "                               '192.0.2.101'],"
      "  'vmac': '02:00:5E:00:01:01', 'preempt': false,"
      "  'preempt_delay_ms': 2500,"
      "  'announce': {'count': 5, 'interval_ms': 50, 'refresh_s': 0},"
      "  'probe': {'type': 'tcp', 'interval_ms': 20, 'timeout_ms': 15,"
      "            'fall': 2, 'rise': 4, 'port': 8080},"
      "  'members': ["
      "   {'name': 'm1', 'bridge': 'br0', 'port': 'm1-p',"
      "    'mac': '02:00:00:00:00:11', 'ip': '192.0.2.11', 'priority': 150},"
      "   {'name': 'm2', 'bridge': 'br1', 'port': 'm2-p',"
      "    'ip': '2001:db8::12', 'priority': 0},"
      "   {'name': 'm3', 'bridge': 'br9', 'port': 'm3-p',"
      "    'mac': '02:00:00:00:00:13'}]"
      " }, {"
      "  'name': 'db.main-1', 'addresses': ['198.51.100.10'],"
      "  'vmac': '06:00:00:00:00:02', 'members': []"
      " }]"
      "}";

static void
test_full_config(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(full_config);

    assert_string_equal(cfg->origin, "t.json");
    assert_int_equal(cfg->n_listen, 3);
    assert_string_equal(cfg->listen[0], "ptcp:6653:127.0.0.1");
    assert_string_equal(cfg->listen[1], "ptcp:6654:[::1]");
    assert_string_equal(cfg->listen[2], "punix:/tmp/vmacd-of.sock");
    assert_int_equal(cfg->n_connect, 3);
    assert_string_equal(cfg->connect[0], "tcp:192.0.2.1:6653");
    assert_string_equal(cfg->connect[1], "tcp:[2001:db8::1]:6653");
    assert_string_equal(cfg->connect[2], "unix:/tmp/sw.sock");
    assert_int_equal(cfg->inactivity_probe_ms, 0);
    assert_int_equal(cfg->base_table, 10);
    assert_int_equal(cfg->next_table, 20);
    assert_int_equal(cfg->cookie_prefix, 0xabcd0001);
    assert_string_equal(cfg->api_socket, "/tmp/vmacd-test.sock");

    assert_int_equal(cfg->n_bridges, 2);
    assert_string_equal(cfg->bridges[0].name, "br0");
    assert_int_equal(cfg->bridges[0].n_uplinks, 2);
    assert_string_equal(cfg->bridges[0].uplinks[0], "up0");
    assert_string_equal(cfg->bridges[0].uplinks[1], "up1");
    assert_string_equal(cfg->bridges[1].name, "br1");
    assert_int_equal(cfg->bridges[1].n_uplinks, 0);

    assert_int_equal(cfg->n_aliases, 2);
    const struct cfg_alias *web = cfg->aliases[0];
    assert_string_equal(web->name, "web");
    assert_int_equal(web->n_ip4, 2);
    assert_true(web->ip4[0] == ip4("192.0.2.100"));
    assert_true(web->ip4[1] == ip4("192.0.2.101"));
    assert_int_equal(web->n_ip6, 1);
    struct in6_addr a6 = ip6("2001:db8::100");
    assert_memory_equal(&web->ip6[0], &a6, sizeof a6);
    assert_mac(web->vmac, "02:00:5e:00:01:01");
    assert_false(web->preempt);
    assert_int_equal(web->preempt_delay_ms, 2500);
    assert_int_equal(web->announce.count, 5);
    assert_int_equal(web->announce.interval_ms, 50);
    assert_int_equal(web->announce.refresh_s, 0);
    assert_int_equal(web->probe.type, CFG_PROBE_TCP);
    assert_int_equal(web->probe.interval_ms, 20);
    assert_int_equal(web->probe.timeout_ms, 15);
    assert_int_equal(web->probe.fall, 2);
    assert_int_equal(web->probe.rise, 4);
    assert_int_equal(web->probe.tcp_port, 8080);
    assert_true(web->id >= 1 && web->id <= 0x7fffffff);

    assert_int_equal(web->n_members, 3);
    const struct cfg_member *m = &web->members[0];
    assert_string_equal(m->name, "m1");
    assert_string_equal(m->bridge, "br0");
    assert_string_equal(m->port, "m1-p");
    assert_true(m->has_mac);
    assert_mac(m->mac, "02:00:00:00:00:11");
    assert_true(m->has_ip);
    assert_false(m->ip_is_v6);
    assert_true(m->ip4 == ip4("192.0.2.11"));
    assert_int_equal(m->priority, 150);

    m = &web->members[1];
    assert_string_equal(m->name, "m2");
    assert_string_equal(m->bridge, "br1");
    assert_false(m->has_mac);
    assert_true(m->has_ip);
    assert_true(m->ip_is_v6);
    a6 = ip6("2001:db8::12");
    assert_memory_equal(&m->ip6, &a6, sizeof a6);
    assert_int_equal(m->priority, 0);

    m = &web->members[2];
    assert_string_equal(m->bridge, "br9"); /* Not listed: no uplinks. */
    assert_true(m->has_mac);
    assert_false(m->has_ip);
    assert_int_equal(m->priority, 100);

    const struct cfg_alias *db = cfg->aliases[1];
    assert_string_equal(db->name, "db.main-1");
    assert_int_equal(db->n_ip4, 1);
    assert_int_equal(db->n_ip6, 0);
    assert_int_equal(db->n_members, 0);
    assert_true(db->id != web->id);

    /* Lookups. */
    assert_ptr_equal(config_find_alias(cfg, "web"), web);
    assert_ptr_equal(config_find_alias(cfg, "db.main-1"), db);
    assert_null(config_find_alias(cfg, "nope"));
    assert_ptr_equal(config_find_bridge(cfg, "br1"), &cfg->bridges[1]);
    assert_null(config_find_bridge(cfg, "br9"));
    assert_true(config_is_uplink(cfg, "br0", "up1"));
    assert_false(config_is_uplink(cfg, "br0", "m1-p"));
    assert_false(config_is_uplink(cfg, "br1", "up0"));
    assert_false(config_is_uplink(cfg, "br9", "up0"));

    config_destroy(cfg);
}

static void
test_defaults(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok("{}");
    assert_int_equal(cfg->n_listen, 1);
    assert_string_equal(cfg->listen[0], "ptcp:6653:127.0.0.1");
    assert_int_equal(cfg->n_connect, 0);
    assert_int_equal(cfg->inactivity_probe_ms, 5000);
    assert_int_equal(cfg->base_table, 0);
    assert_int_equal(cfg->next_table, -1);
    assert_int_equal(cfg->cookie_prefix, 0x766d6163);
    assert_string_equal(cfg->api_socket, "/run/vmacd/vmacd.sock");
    assert_int_equal(cfg->n_bridges, 0);
    assert_int_equal(cfg->n_aliases, 0);
    config_destroy(cfg);

    cfg = parse_ok("{'openflow': {'listen': [], 'connect': "
                   "['unix:/x'], 'cookie_prefix': 7, 'next_table': "
                   "'NORMAL'}, 'aliases': [{'name': 'a', 'addresses': "
                   "['203.0.113.5'], 'vmac': '02:00:00:00:00:aa', "
                   "'probe': {'interval_ms': 250}, 'members': [{'name': "
                   "'x', 'bridge': 'br0', 'port': 'p1', 'mac': "
                   "'02:00:00:00:00:01'}]}]}");
    assert_int_equal(cfg->n_listen, 0);
    assert_int_equal(cfg->n_connect, 1);
    assert_int_equal(cfg->cookie_prefix, 7);
    assert_int_equal(cfg->next_table, -1);
    const struct cfg_alias *al = cfg->aliases[0];
    assert_true(al->preempt);
    assert_int_equal(al->preempt_delay_ms, 0);
    assert_int_equal(al->announce.count, 3);
    assert_int_equal(al->announce.interval_ms, 100);
    assert_int_equal(al->announce.refresh_s, 60);
    assert_int_equal(al->probe.type, CFG_PROBE_ARP);
    assert_int_equal(al->probe.interval_ms, 250);
    assert_int_equal(al->probe.timeout_ms, 250); /* = interval_ms. */
    assert_int_equal(al->probe.fall, 3);
    assert_int_equal(al->probe.rise, 3);
    assert_int_equal(al->probe.tcp_port, 0);
    assert_int_equal(al->members[0].priority, 100);
    assert_true(al->members[0].has_mac);
    assert_false(al->members[0].has_ip);
    config_destroy(cfg);
}

static char *
dump(const struct config *cfg)
{
    json_t *j = config_to_json(cfg);
    char *s = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    assert_non_null(s);
    return s;
}

/* backup_interval_ms: parsed, written back only when set, inherited by
 * members' probe overrides. */
static void
test_backup_interval(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(
        "{'aliases': [{'name': 'web', 'addresses': ['192.0.2.100'], "
        "'vmac': '02:00:5e:00:01:01', 'probe': {'interval_ms': 10, "
        "'backup_interval_ms': 100}, 'members': [{'name': 'm1', "
        "'bridge': 'br0', 'port': 'p1', 'ip': '192.0.2.11', "
        "'probe': {'fall': 1}}, {'name': 'm2', 'bridge': 'br0', "
        "'port': 'p2', 'ip': '192.0.2.12'}]}]}");
    const struct cfg_alias *a = cfg->aliases[0];
    assert_int_equal(a->probe.backup_interval_ms, 100);
    assert_int_equal(a->members[0].probe.backup_interval_ms, 100);
    assert_int_equal(a->members[0].probe.fall, 1);
    char *text = dump(cfg);
    assert_non_null(strstr(text, "\"backup_interval_ms\": 100"));
    char *err = NULL;
    struct config *again = cfgtest_parse(text, "dump", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    config_destroy(again);
    free(text);
    config_destroy(cfg);

    cfg = parse_ok("{}");
    text = dump(cfg);
    assert_null(strstr(text, "backup_interval_ms"));
    free(text);
    config_destroy(cfg);
}

/* The API's TCP listener and socket group. */
static void
test_api_options(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok("{'api': {'socket': '/tmp/x.sock', "
                                  "'group': 'vmacd', 'tcp': {'address': "
                                  "'::1', 'port': 8080}}}");
    assert_string_equal(cfg->api_group, "vmacd");
    assert_string_equal(cfg->api_tcp_address, "::1");
    assert_int_equal(cfg->api_tcp_port, 8080);
    assert_false(cfg->api_tcp_allow_nonloopback);
    char *text = dump(cfg);
    char *err = NULL;
    struct config *again = cfgtest_parse(text, "dump", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    config_destroy(again);
    free(text);
    config_destroy(cfg);

    cfg = parse_ok("{'api': {'tcp': {'address': '192.0.2.1', 'port': 80, "
                   "'allow_nonloopback': true}}}");
    assert_string_equal(cfg->api_tcp_address, "192.0.2.1");
    assert_true(cfg->api_tcp_allow_nonloopback);
    config_destroy(cfg);

    cfg = parse_ok("{}");
    assert_null(cfg->api_group);
    assert_null(cfg->api_tcp_address);
    config_destroy(cfg);
}

/* "access_bridges" parses, dumps (only when set) and compares. */
static void
test_access_bridges(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(
        "{'aliases': [{'name': 'web', 'addresses': ['192.0.2.100'], "
        "'vmac': '02:00:5e:00:01:01', 'members': [{'name': 'm1', "
        "'bridge': 'ha', 'port': 'm1-p', 'mac': '02:00:00:00:00:11'}], "
        "'access_bridges': ['hc', 'hd']}, "
        "{'name': 'db', 'addresses': ['192.0.2.200'], "
        "'vmac': '02:00:5e:00:01:02', 'members': []}]}");
    const struct cfg_alias *web = config_find_alias(cfg, "web");
    assert_int_equal(web->n_access_bridges, 2);
    assert_string_equal(web->access_bridges[0], "hc");
    assert_string_equal(web->access_bridges[1], "hd");
    assert_int_equal(config_find_alias(cfg, "db")->n_access_bridges, 0);

    char *text = dump(cfg);
    assert_non_null(strstr(text, "\"access_bridges\": ["));
    /* Only web has the key. */
    assert_null(
        strstr(strstr(text, "\"access_bridges\"") + 1, "\"access_bridges\""));
    char *err = NULL;
    struct config *again = cfgtest_parse(text, "dump", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));
    free(again->aliases[0]->access_bridges[1]);
    again->aliases[0]->access_bridges[1] = strdup("he");
    assert_false(config_alias_equal(cfg->aliases[0], again->aliases[0]));

    config_destroy(again);
    config_destroy(cfg);
    free(text);
}

static void
test_round_trip(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(full_config);
    char *text = dump(cfg);

    char *err = NULL;
    struct config *again = cfgtest_parse(text, "dump", &err);
    if (!again) {
        fail_msg("reparse failed: %s\n%s", err, text);
    }
    assert_true(config_equal(cfg, again));
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        assert_true(config_alias_equal(cfg->aliases[i], again->aliases[i]));
    }

    /* Dumping is stable. */
    char *text2 = dump(again);
    assert_string_equal(text, text2);

    /* Canonical forms and filled defaults show up in the dump. */
    assert_non_null(strstr(text, "\"2001:db8::100\""));
    assert_non_null(strstr(text, "\"02:00:5e:00:01:01\""));
    assert_non_null(strstr(text, "\"cookie_prefix\": \"0xabcd0001\""));
    assert_non_null(strstr(text, "\"refresh_s\": 60")); /* db's default. */
    assert_null(strstr(text, "\"id\""));

    /* The comparison does notice changes. */
    again->aliases[0]->members[1].priority++;
    assert_false(config_equal(cfg, again));
    assert_false(config_alias_equal(cfg->aliases[0], again->aliases[0]));
    again->aliases[0]->members[1].priority--;
    assert_true(config_equal(cfg, again));
    again->aliases[0]->vmac.ea[5] ^= 1;
    assert_false(config_equal(cfg, again));
    again->aliases[0]->vmac.ea[5] ^= 1;
    again->next_table = -1;
    assert_false(config_equal(cfg, again));

    /* Defaults-only config round-trips too, via config_parse_json. */
    struct config *empty = parse_ok("{}");
    json_t *j = config_to_json(empty);
    struct config *empty2 = cfgtest_parse_json(j, "<api>", &err);
    assert_non_null(empty2);
    assert_true(config_equal(empty, empty2));
    assert_string_equal(empty2->origin, "<api>");
    json_decref(j);

    /* One alias's JSON has the input shape. */
    j = config_alias_to_json(cfg->aliases[0]);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "web");
    json_t *addrs = json_object_get(j, "addresses");
    assert_int_equal(json_array_size(addrs), 3);
    assert_string_equal(json_string_value(json_array_get(addrs, 2)),
                        "2001:db8::100");
    json_t *members = json_object_get(j, "members");
    assert_null(json_object_get(json_array_get(members, 1), "mac"));
    assert_int_equal(json_integer_value(
                         json_object_get(json_object_get(j, "probe"), "port")),
                     8080);
    json_decref(j);

    config_destroy(empty);
    config_destroy(empty2);
    free(text);
    free(text2);
    config_destroy(cfg);
    config_destroy(again);
}

static uint32_t
id_of(const struct config *cfg, const char *name)
{
    const struct cfg_alias *al = config_find_alias(cfg, name);
    assert_non_null(al);
    return al->id;
}

#define A(NAME, IP, MAC)                                                      \
    "{'name': '" NAME "', 'addresses': ['" IP "'], 'vmac': '" MAC "', "       \
    "'members': []}"

static void
test_ids(void **state OVS_UNUSED)
{
    /* "a270398" and "a818116" have the same 31-bit FNV-1a hash,
     * 1064830427: in name order, the first gets it, the second the next
     * value, whatever the order in the file. */
    const char *names[] = { "web", "a818116", "db", "a270398", "x" };
    /* clang-format off */
    struct config *c1 = parse_ok(
        "{'aliases': ["
        A("web", "192.0.2.1", "02:00:00:00:00:01") ","
        A("a818116", "192.0.2.2", "02:00:00:00:00:02") ","
        A("db", "192.0.2.3", "02:00:00:00:00:03") ","
        A("a270398", "192.0.2.4", "02:00:00:00:00:04") ","
        A("x", "192.0.2.5", "02:00:00:00:00:05") "]}");
    struct config *c2 = parse_ok(
        "{'aliases': ["
        A("x", "192.0.2.5", "02:00:00:00:00:05") ","
        A("a270398", "192.0.2.4", "02:00:00:00:00:04") ","
        A("db", "192.0.2.3", "02:00:00:00:00:03") ","
        A("a818116", "192.0.2.2", "02:00:00:00:00:02") ","
        A("web", "192.0.2.1", "02:00:00:00:00:01") "]}");
    struct config *c3 = parse_ok(
        "{'aliases': [" A("a818116", "192.0.2.2", "02:00:00:00:00:02") "]}");
    /* clang-format on */

    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        uint32_t id = id_of(c1, names[i]);
        assert_true(id >= 1 && id <= 0x7fffffff);
        assert_int_equal(id, id_of(c2, names[i]));
        for (size_t j = 0; j < i; j++) {
            assert_int_not_equal(id, id_of(c1, names[j]));
        }
    }
    assert_int_equal(id_of(c1, "a270398"), 1064830427);
    assert_int_equal(id_of(c1, "a818116"), 1064830428);
    /* Alone, it gets its own hash. */
    assert_int_equal(id_of(c3, "a818116"), 1064830427);
    /* The id depends only on the name. */
    assert_int_equal(id_of(c1, "web"), id_of(c2, "web"));

    config_destroy(c1);
    config_destroy(c2);
    config_destroy(c3);
}

/* Invalid configs. */

#define ALIAS0                                                                \
    "'name': 'web', 'addresses': ['192.0.2.100'], "                           \
    "'vmac': '02:00:5e:00:01:01'"
#define MEMBER0                                                               \
    "{'name': 'm1', 'bridge': 'br0', 'port': 'm1-p', "                        \
    "'mac': '02:00:00:00:00:11'}"
#define ONE_ALIAS(BODY) "{'aliases': [{" ALIAS0 ", " BODY "}]}"
#define WITH_MEMBER(FIELDS)                                                   \
    ONE_ALIAS("'members': [{'name': 'm1', 'bridge': 'br0', " FIELDS "}]")
#define WITH_PROBE(FIELDS) ONE_ALIAS("'probe': {" FIELDS "}, 'members': []")
#define WITH_ADDR(ADDR)                                                       \
    "{'aliases': [{'name': 'a', 'addresses': ['" ADDR "'], "                  \
    "'vmac': '02:00:00:00:00:01', 'members': []}]}"
#define WITH_VMAC(MAC)                                                        \
    "{'aliases': [{'name': 'a', 'addresses': ['192.0.2.1'], "                 \
    "'vmac': '" MAC "', 'members': []}]}"
#define WITH_OF(FIELDS) "{'openflow': {" FIELDS "}}"
/* A bridge with FIELDS, and OpenFlow TLS. */
#define TLS_BRIDGE(FIELDS)                                                    \
    "{'openflow': {'listen': ['pssl:6653'], 'tls': {'private_key': 'k', "     \
    "'certificate': 'c', 'ca_cert': 'a'}}, 'bridges': [{'name': "             \
    "'br0', " FIELDS "}]}"

struct bad_case {
    const char *json;   /* Single-quoted JSON. */
    const char *expect; /* Substring of the error. */
};

static const struct bad_case bad_cases[] = {
    /* Syntax, with line and column. */
    { "{\n  'aliases': [\n  }", "t.json:3:3: " },
    { "{'api': {}} x", "t.json:1:" },
    { "", "t.json:" },
    { "{'api': {}, 'api': {}}", "duplicate object key" },
    { "{'openflow': {'base_table': 99999999999999999999}}",
      "too big integer" },
    { "[]", "t.json: expected an object, got an array" },

    /* Unknown keys at each level. */
    { "{'bogus': 1}", "t.json: unknown key \"bogus\" (allowed: openflow" },
    { WITH_OF("'listn': []"), "t.json: openflow: unknown key \"listn\"" },
    { "{'api': {'sock': 'x'}}", "api: unknown key \"sock\"" },
    { "{'bridges': [{'name': 'br0', 'uplink': []}]}",
      "bridges[0]: unknown key \"uplink\"" },
    { ONE_ALIAS("'members': [], 'vip': 1"),
      "aliases[0]: unknown key \"vip\"" },
    { ONE_ALIAS("'members': [], 'announce': {'cnt': 1}"),
      "aliases[0].announce: unknown key \"cnt\"" },
    { WITH_PROBE("'kind': 'arp'"), "aliases[0].probe: unknown key \"kind\"" },
    { ONE_ALIAS("'members': [" MEMBER0 ", {'name': 'm2', 'bridge': 'br0', "
                "'port': 'm2-p', 'prio': 1}]"),
      "t.json: aliases[0].members[1]: unknown key \"prio\"" },

    /* Wrong types. */
    { "{'aliases': {}}", "t.json: aliases: expected an array, got an object" },
    { "{'bridges': [1]}", "bridges[0]: expected an object, got an integer" },
    { ONE_ALIAS("'members': [], 'preempt': 'yes'"),
      "aliases[0].preempt: expected true or false, got a string" },
    { WITH_MEMBER("'port': 'p', 'priority': 1.5"),
      "aliases[0].members[0].priority: expected an integer, got a real" },
    { "{'aliases': [{'name': 7}]}",
      "aliases[0].name: expected a string, got an integer" },
    { WITH_OF("'listen': 'ptcp:6653'"),
      "openflow.listen: expected an array, got a string" },
    { "{'api': {'socket': null}}", "api.socket: expected a string, got null" },
    { WITH_OF("'cookie_prefix': true"), "openflow.cookie_prefix: expected" },

    /* Required keys. */
    { "{'aliases': [{'name': 'a', 'addresses': ['192.0.2.1'], "
      "'members': []}]}",
      "aliases[0]: missing required key \"vmac\"" },
    { ONE_ALIAS("'preempt': true"),
      "aliases[0]: missing required key \"members\"" },
    { "{'aliases': [{'vmac': '02:00:00:00:00:01'}]}",
      "aliases[0]: missing required key \"name\"" },
    { WITH_MEMBER("'priority': 1"),
      "aliases[0].members[0]: missing required key \"port\"" },

    /* Names. */
    { "{'aliases': [{'name': 'web site'}]}",
      "aliases[0].name: \"web site\" contains ' '" },
    { "{'aliases': [{'name': ''}]}", "aliases[0].name: a name cannot be" },
    { "{'aliases': [{'name': '"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "'}]}",
      "is 64 characters long" },
    { "{'bridges': [{'name': 'br0123456789abcd'}]}",
      "bridges[0].name: \"br0123456789abcd\" is 16 characters long" },
    { WITH_MEMBER("'port': 'a/b'"),
      "aliases[0].members[0].port: \"a/b\" is not a valid interface name" },
    { WITH_MEMBER("'port': 'br0'"), "is the bridge's own LOCAL port" },

    /* Addresses. */
    { WITH_ADDR("192.0.2.300"),
      "aliases[0].addresses[0]: \"192.0.2.300\" is not an IPv4 or IPv6" },
    { WITH_ADDR("2001:db8::1::2"), "\"2001:db8::1::2\" is not an IPv4" },
    { WITH_ADDR("192.0.2.1/24"), "a prefix length is not allowed here" },
    { WITH_ADDR("0.0.0.0"), "0.0.0.0 is in 0.0.0.0/8" },
    { WITH_ADDR("255.255.255.255"), "is the broadcast address" },
    { WITH_ADDR("224.0.0.18"), "224.0.0.18 is a multicast address" },
    { WITH_ADDR("127.0.0.1"), "127.0.0.1 is a loopback address" },
    { WITH_ADDR("ff02::1"), "ff02::1 is a multicast address" },
    { WITH_ADDR("::"), ":: is the unspecified address" },
    { WITH_ADDR("::1"), "::1 is the loopback address" },
    { WITH_ADDR("fe80::1"), "fe80::1 is a link-local address" },
    { WITH_ADDR("169.254.1.1"), "169.254.1.1 is a link-local address" },
    { WITH_MEMBER("'port': 'p'"), "member \"m1\" needs \"mac\"" },
    { WITH_MEMBER("'port': 'p', 'ip': '192.0.2.9', 'probe': {'type': "
                  "'none'}"),
      "member \"m1\" needs \"mac\"" },
    { "{'aliases': [{'name': '.', 'addresses': ['192.0.2.1'], "
      "'vmac': '02:00:00:00:00:01', 'members': []}]}",
      "aliases[0].name: \".\" cannot be a name" },
    { ONE_ALIAS("'members': [{'name': '..', 'bridge': 'br0', 'port': 'p', "
                "'mac': '02:00:00:00:00:12'}]"),
      "members[0].name: \"..\" cannot be a name" },
    { ONE_ALIAS("'members': [{'name': 'a\\u0001', 'bridge': 'br0', "
                "'port': 'p', 'mac': '02:00:00:00:00:12'}]"),
      "a name may only use letters" },
    { "{'bridges': [{'name': '..'}]}", "is not a valid interface name" },
    { WITH_OF("'listen': ['pssl:6653']"), "needs the TLS settings" },
    { WITH_OF("'connect': ['ssl:192.0.2.1:6653']"), "needs the TLS settings" },
    { WITH_OF("'listen': ['ssl:192.0.2.1:6653']"), "expected ptcp:PORT" },
    { WITH_OF("'tls': {'private_key': 'k', 'certificate': 'c'}"),
      "openflow.tls: missing required key \"ca_cert\"" },
    { WITH_OF("'tls': {'private_key': '', 'certificate': 'c', "
              "'ca_cert': 'a'}"),
      "openflow.tls.private_key: the file name is empty" },
    { WITH_OF("'max_peers': 0"), "openflow.max_peers: 0 is out of range" },
    { WITH_OF("'max_queue_bytes': 1000"), "max_queue_bytes: 1000 is out" },
    { WITH_OF("'max_queue_bytes': 2097152, 'max_peer_queue_bytes': "
              "4194304"),
      "at most max_queue_bytes" },
    { "{'api': {'max_connections': 4, 'max_incomplete': 5}}",
      "api.max_incomplete: 5 is out of range (1..4)" },
    { "{'api': {'request_timeout_ms': 10}}",
      "api.request_timeout_ms: 10 is out of range" },
    { WITH_ADDR("::ffff:192.0.2.1"), "is an IPv4-mapped address" },
    { "{'aliases': [{'name': 'a', 'addresses': [], "
      "'vmac': '02:00:00:00:00:01', 'members': []}]}",
      "aliases[0].addresses: an alias needs at least one address" },
    { "{'aliases': [{'name': 'a', 'addresses': ['2001:db8::1', "
      "'2001:DB8:0::1'], 'vmac': '02:00:00:00:00:01', 'members': []}]}",
      "aliases[0].addresses[1]: 2001:db8::1 is listed twice" },
    { WITH_MEMBER("'port': 'p', 'ip': '192.0.2.256'"),
      "aliases[0].members[0].ip: \"192.0.2.256\" is not an IPv4" },

    /* MACs. */
    { WITH_VMAC("02:00:5e:00:01"), "aliases[0].vmac: \"02:00:5e:00:01\" is "
                                   "not a MAC address" },
    { WITH_VMAC("02-00-5e-00-01-01"), "is not a MAC address" },
    { WITH_VMAC("02:00:5e:00:01:0g"), "is not a MAC address" },
    { WITH_VMAC("01:00:5e:00:00:01"),
      "t.json: aliases[0].vmac: \"01:00:5e:00:00:01\" is a multicast "
      "address; a VMAC must be unicast" },
    { WITH_VMAC("00:00:00:00:00:00"), "is all zeros; a VMAC must be" },
    { WITH_VMAC("FF:FF:FF:FF:FF:FF"), "is the broadcast address; a VMAC" },
    { WITH_MEMBER("'port': 'p', 'mac': '33:33:00:00:00:01'"),
      "aliases[0].members[0].mac: \"33:33:00:00:00:01\" is a multicast "
      "address; a member's mac must be unicast" },

    /* Cross checks. */
    /* clang-format off */
    { "{'aliases': ["
      A("web", "192.0.2.1", "02:00:00:00:00:01") ","
      A("web", "192.0.2.2", "02:00:00:00:00:02") "]}",
      "aliases[1].name: alias \"web\" is defined twice (also aliases[0])" },
    { "{'aliases': ["
      A("web", "192.0.2.100", "02:00:00:00:00:01") ","
      A("b", "198.51.100.1", "02:00:00:00:00:02") ","
      A("c", "192.0.2.100", "02:00:00:00:00:03") "]}",
      "t.json: aliases[2].addresses[0]: 192.0.2.100 is already used by "
      "alias \"web\"" },
    { "{'aliases': ["
      A("web", "192.0.2.1", "02:00:00:00:0a:01") ","
      A("b", "192.0.2.2", "02:00:00:00:0A:01") "]}",
      "aliases[1].vmac: 02:00:00:00:0a:01 is already the VMAC of alias "
      "\"web\"" },
    { ONE_ALIAS("'members': [" MEMBER0 ", {'name': 'm1', 'bridge': 'br1', "
                "'port': 'x', 'mac': '02:00:00:00:00:12'}]"),
      "aliases[0].members[1].name: member \"m1\" is listed twice" },
    { ONE_ALIAS("'members': [" MEMBER0 ", {'name': 'm2', 'bridge': 'br0', "
                "'port': 'm1-p', 'mac': '02:00:00:00:00:12'}]"),
      "aliases[0].members[1]: port \"m1-p\" on bridge \"br0\" is already "
      "used by member \"m1\"" },
    { "{'bridges': [{'name': 'br0', 'uplinks': ['m1-p']}], "
      "'aliases': [{" ALIAS0 ", 'members': [" MEMBER0 "]}]}",
      "aliases[0].members[0].port: \"m1-p\" is an uplink of bridge \"br0\"" },
    { "{'aliases': ["
      A("a", "192.0.2.1", "02:00:00:00:00:01") ", "
      "{'name': 'b', 'addresses': ['192.0.2.2'], "
      "'vmac': '02:00:00:00:00:02', 'members': [{'name': 'm', "
      "'bridge': 'br0', 'port': 'p', 'mac': '02:00:00:00:00:01'}]}]}",
      "aliases[1].members[0].mac: 02:00:00:00:00:01 is the VMAC of alias "
      "\"a\"" },
    { "{'aliases': [{'name': 'b', 'addresses': ['192.0.2.2'], "
      "'vmac': '02:00:00:00:00:02', 'members': [{'name': 'm', "
      "'bridge': 'br0', 'port': 'p', 'ip': '192.0.2.1'}]}, "
      A("a", "192.0.2.1", "02:00:00:00:00:01") "]}",
      "aliases[0].members[0].ip: 192.0.2.1 is an address of alias \"a\"" },
    /* clang-format on */
    { ONE_ALIAS("'members': [" MEMBER0 "], 'access_bridges': ['br0']"),
      "aliases[0].access_bridges[0]: bridge \"br0\" has member \"m1\" of "
      "this alias" },
    { ONE_ALIAS("'members': [], 'access_bridges': ['br7', 'br7']"),
      "aliases[0].access_bridges[1]: bridge \"br7\" is listed twice" },
    { ONE_ALIAS("'members': [], 'access_bridges': 'br7'"),
      "aliases[0].access_bridges: " },
    { ONE_ALIAS("'members': [], 'access_bridges': ['a-bridge-name-too-long']"),
      "aliases[0].access_bridges[0]: " },
    { WITH_PROBE("'backup_interval_ms': 5"),
      "aliases[0].probe.backup_interval_ms: " },
    { "{'api': {'tcp': {'address': '192.0.2.1', 'port': 8080}}}",
      "api.tcp.address: 192.0.2.1 is not a loopback address" },
    { "{'api': {'tcp': {'address': 'localhost', 'port': 8080}}}",
      "api.tcp.address: \"localhost\" is not an IPv4 or IPv6 address" },
    { "{'api': {'tcp': {'address': '127.0.0.1', 'port': 0}}}",
      "api.tcp.port: " },
    { "{'api': {'tcp': {'port': 8080}}}",
      "api.tcp: missing required key \"address\"" },
    { "{'api': {'group': '9wheel'}}",
      "api.group: \"9wheel\" is not a valid group name" },
    { "{'api': {'tcp': {'address': '::1', 'port': 80, 'tls': true}}}",
      "api.tcp.tls: expected an object, got a boolean" },
    { "{'bridges': [{'name': 'br0'}, {'name': 'br0'}]}",
      "bridges[1].name: bridge \"br0\" is listed twice" },
    { "{'bridges': [{'name': 'br0', 'uplinks': ['u1', 'u2', 'u1']}]}",
      "bridges[0].uplinks[2]: uplink \"u1\" is listed twice" },
    { "{'bridges': [{'name': 'br0', 'uplinks': ['br0']}]}",
      "is the bridge's own LOCAL port, not an uplink" },

    /* Numbers out of range. */
    { WITH_MEMBER("'port': 'p', 'priority': 256"),
      "aliases[0].members[0].priority: 256 is out of range (0..255)" },
    { WITH_MEMBER("'port': 'p', 'priority': -1"), "-1 is out of range" },
    { ONE_ALIAS("'members': [], 'preempt_delay_ms': 3600001"),
      "aliases[0].preempt_delay_ms: 3600001 is out of range" },
    { ONE_ALIAS("'members': [], 'announce': {'count': 101}"),
      "aliases[0].announce.count: 101 is out of range (0..100)" },
    { ONE_ALIAS("'members': [], 'announce': {'interval_ms': 0}"),
      "announce.interval_ms: 0 is out of range (1..60000)" },
    { ONE_ALIAS("'members': [], 'announce': {'refresh_s': 300}"),
      "announce.refresh_s: 300 is out of range (0..299); keep it below the "
      "typical switch MAC aging time of 300 s" },
    { WITH_PROBE("'interval_ms': 9"),
      "aliases[0].probe.interval_ms: 9 is out of range (10..60000)" },
    { WITH_PROBE("'timeout_ms': 60001"), "probe.timeout_ms: 60001 is out" },
    { WITH_PROBE("'fall': 0"), "probe.fall: 0 is out of range (1..100)" },
    { WITH_PROBE("'rise': 101"), "probe.rise: 101 is out of range" },
    { WITH_OF("'base_table': 251"),
      "openflow.base_table: 251 is out of range (0..250)" },
    { WITH_OF("'next_table': 1"),
      "openflow.next_table: 1 is out of range (2..254)" },
    { WITH_OF("'base_table': 100, 'next_table': 101"),
      "101 is out of range (102..254)" },
    { WITH_OF("'next_table': 255"), "255 is out of range" },
    { WITH_OF("'next_table': 'normal'"),
      "openflow.next_table: \"normal\" is not a table" },
    { WITH_OF("'inactivity_probe_ms': 50"),
      "inactivity_probe_ms: 50 is too short" },
    { WITH_OF("'cookie_prefix': '0x123456789'"),
      "openflow.cookie_prefix: \"0x123456789\" is not a 32-bit hex" },
    { WITH_OF("'cookie_prefix': '1234'"), "is not a 32-bit hex" },
    { WITH_OF("'cookie_prefix': 4294967296"),
      "4294967296 is out of range (0..4294967295)" },

    /* Probes. */
    { WITH_PROBE("'type': 'tcp'"),
      "aliases[0].probe: a tcp probe needs \"port\"" },
    { WITH_PROBE("'type': 'arp', 'port': 80"),
      "aliases[0].probe.port: only a tcp probe takes a port" },
    { WITH_PROBE("'port': 80"), "only a tcp probe takes a port" },
    { WITH_PROBE("'type': 'tcp', 'port': 0"), "probe.port: 0 is out of" },
    { WITH_PROBE("'type': 'icmp'"),
      "probe.type: \"icmp\" is not a probe type" },

    /* OpenFlow targets and the API socket. */
    { WITH_OF("'listen': ['ptcp:99999']"),
      "openflow.listen[0]: \"ptcp:99999\" is not a valid listen target: "
      "the port must be a number in 1..65535" },
    { WITH_OF("'listen': ['ptcp:0']"), "the port must be a number" },
    { WITH_OF("'listen': ['tcp:127.0.0.1:6653']"),
      "is not a valid listen target: expected ptcp:PORT[:IP], pssl:" },
    { WITH_OF("'listen': ['ptcp:6653:[::1']"),
      "the IP must be IPv4 or [IPv6] in brackets" },
    { WITH_OF("'listen': ['ptcp:6653:::1']"), "the IP must be IPv4" },
    { WITH_OF("'listen': ['ptcp:6653:localhost']"), "the IP must be IPv4" },
    { WITH_OF("'listen': ['punix:']"), "the socket path is empty" },
    { WITH_OF("'listen': ['ptcp:6653', 'ptcp:6653']"),
      "openflow.listen[1]: \"ptcp:6653\" is listed twice" },
    { WITH_OF("'connect': ['tcp:[2001:db8::1]:0']"),
      "openflow.connect[0]: \"tcp:[2001:db8::1]:0\" is not a valid connect "
      "target: the port" },
    { WITH_OF("'connect': ['tcp:192.0.2.1']"), "is not a valid connect" },
    { WITH_OF("'connect': ['ptcp:6653']"),
      "expected tcp:IP:PORT, ssl:IP:PORT or unix:PATH" },
    { WITH_OF("'listen': [], 'connect': []"),
      "openflow: both \"listen\" and \"connect\" are empty" },
    { "{'api': {'socket': '/tmp/"
      "0123456789012345678901234567890123456789012345678901234567890123"
      "0123456789012345678901234567890123456789'}}",
      "api.socket: \"/tmp/0123" },
    { "{'api': {'socket': ''}}", "api.socket: the socket path is empty" },

    /* Bridge pins and the forget timeout. */
    { "{'bridges': [{'name': 'br0', 'datapath_id': '00000000000000a'}]}",
      "bridges[0].datapath_id: \"00000000000000a\" is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '00000000000000ag'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '0x'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '0x00000000000000001'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': ' 0x1'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '-0x1'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '0x+1'}]}",
      "is not a datapath id" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': 10}]}",
      "bridges[0].datapath_id: expected a string" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '0000000000000000'}]}",
      "datapath id 0 cannot be pinned" },
    { "{'bridges': [{'name': 'br0', 'datapath_id': '0xab'}, "
      "{'name': 'br1', 'datapath_id': '00000000000000AB'}]}",
      "bridges[1].datapath_id: datapath 00000000000000ab is pinned twice "
      "(also bridges[0], \"br0\")" },
    { "{'bridges': [{'name': 'br0', 'peer_cn': 'sw'}]}",
      "bridges[0].peer_cn: a certificate CN needs OpenFlow over TLS" },
    { TLS_BRIDGE("'peer_cn': ''"),
      "bridges[0].peer_cn: a certificate CN is 1 to 255 printable" },
    { TLS_BRIDGE("'peer_cn': 'a\\u0001'"),
      "bridges[0].peer_cn: a certificate CN is 1 to 255 printable" },
    { "{'bridges': [{'name': 'br0', 'pin': 'x'}]}",
      "bridges[0]: unknown key \"pin\"" },
    { WITH_OF("'forget_bridges_s': 0"),
      "openflow.forget_bridges_s: 0 is out of range (1..86400)" },
    { WITH_OF("'forget_bridges_s': 86401"), "86401 is out of range" },
    { WITH_OF("'forget_bridges_s': '60'"), "forget_bridges_s: expected" },
    { ONE_ALIAS("'members': [], 'notify': {'program': 'hook.sh'}"),
      "aliases[0].notify.program: \"hook.sh\" is not an absolute path" },
    { ONE_ALIAS("'members': [], 'notify': {'timeout_ms': 5}"),
      "aliases[0].notify: missing required key \"program\"" },
    { ONE_ALIAS("'members': [], 'notify': {'program': '/x', "
                "'timeout_ms': 0}"),
      "aliases[0].notify.timeout_ms: 0 is out of range (1..600000)" },
    { ONE_ALIAS("'members': [], 'notify': {'program': '/x', "
                "'timeout_ms': 600001}"),
      "notify.timeout_ms: 600001 is out of range" },
    { ONE_ALIAS("'members': [], 'notify': {'program': '/x', 'args': []}"),
      "aliases[0].notify: unknown key \"args\"" },
    { ONE_ALIAS("'members': [], 'notify': '/x'"),
      "aliases[0].notify: expected an object" },
};

static void
test_invalid(void **state OVS_UNUSED)
{
    for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        char *err = parse_err(c->json);
        if (!strstr(err, c->expect)) {
            fail_msg("case %zu: error\n  %s\ndoes not contain\n  %s\n"
                     "for: %s",
                     i, err, c->expect, c->json);
        }
        if (strncmp(err, "t.json", 6)) {
            fail_msg("case %zu: error does not start with the origin: %s", i,
                     err);
        }
        free(err);
    }
    assert_true(ARRAY_SIZE(bad_cases) >= 25);
}

/* Accepted spellings that are easy to get wrong. */
static void
test_valid_edge_cases(void **state OVS_UNUSED)
{
    static const char *const good[] = {
        WITH_VMAC("02:AB:cd:EF:00:01"),
        WITH_ADDR("2001:db8:0:0:0:0:0:5"),
        WITH_OF("'listen': ['ptcp:65535'], 'connect': ['unix:/a b']"),
        WITH_OF("'listen': ['ptcp:1:0.0.0.0', 'ptcp:2:[::]']"),
        WITH_OF("'base_table': 250, 'next_table': 252"),
        WITH_OF("'cookie_prefix': '0X1'"),
        WITH_OF("'cookie_prefix': 4294967295"),
        WITH_OF("'inactivity_probe_ms': 0"),
        WITH_OF("'listen': ['pssl:6653:[::1]'], 'connect': "
                "['ssl:192.0.2.1:6653'], 'tls': {'private_key': 'k', "
                "'certificate': 'c', 'ca_cert': 'a'}"),
        WITH_OF("'max_peers': 65536, 'max_queue_bytes': 1048576"),
        "{'api': {'max_connections': 1, 'request_timeout_ms': 100}}",
        "{'api': {'tcp': {'address': '192.0.2.1', 'port': 1, 'tls': "
        "{'private_key': 'k', 'certificate': 'c', 'ca_cert': 'a'}}}}",
        ONE_ALIAS("'announce': {'refresh_s': 299, 'count': 0}, "
                  "'members': []"),
        WITH_PROBE("'type': 'none'"),
        WITH_PROBE("'type': 'tcp', 'port': 65535"),
        /* The same bridge+port serves two aliases. */
        "{'aliases': [{" ALIAS0 ", 'members': [" MEMBER0 "]}, "
        "{'name': 'b', 'addresses': ['192.0.2.1'], "
        "'vmac': '02:00:00:00:00:02', 'members': [" MEMBER0 "]}]}",
    };
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        config_destroy(parse_ok(good[i]));
    }

    struct config *cfg = parse_ok(WITH_VMAC("02:AB:cd:EF:00:01"));
    assert_mac(cfg->aliases[0]->vmac, "02:ab:cd:ef:00:01");
    config_destroy(cfg);
    config_destroy(NULL);
}

/* "notify": parsed with its default timeout, dumped only when set, and
 * part of an alias's equality. */
static void
test_notify(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(ONE_ALIAS("'members': []"));
    assert_null(cfg->aliases[0]->notify.program);
    char *plain = dump(cfg);
    assert_null(strstr(plain, "notify"));

    struct config *nt = parse_ok(
        ONE_ALIAS("'members': [], 'notify': {'program': '/etc/vmacd/h'}"));
    const struct cfg_alias *al = nt->aliases[0];
    assert_string_equal(al->notify.program, "/etc/vmacd/h");
    assert_int_equal(al->notify.timeout_ms, 10000);
    assert_false(config_alias_equal(cfg->aliases[0], al));

    struct config *t5 = parse_ok(
        ONE_ALIAS("'members': [], 'notify': {'program': '/etc/vmacd/h', "
                  "'timeout_ms': 5}"));
    assert_int_equal(t5->aliases[0]->notify.timeout_ms, 5);
    assert_false(config_alias_equal(al, t5->aliases[0]));

    /* Round trip. */
    char *text = dump(t5);
    assert_non_null(strstr(text, "\"program\": \"/etc/vmacd/h\""));
    assert_non_null(strstr(text, "\"timeout_ms\": 5"));
    char *err = NULL;
    struct config *again = cfgtest_parse(text, "dump", &err);
    if (!again) {
        fail_msg("reparse failed: %s\n%s", err, text);
    }
    assert_true(config_alias_equal(t5->aliases[0], again->aliases[0]));

    free(text);
    free(plain);
    config_destroy(again);
    config_destroy(t5);
    config_destroy(nt);
    config_destroy(cfg);
}

/* "datapath_id" and "peer_cn" pin a bridge; "forget_bridges_s". */
static void
test_bridge_pins(void **state OVS_UNUSED)
{
    struct config *cfg = parse_ok(
        "{'openflow': {'listen': ['pssl:6653'], 'forget_bridges_s': 5,"
        "  'tls': {'private_key': 'k', 'certificate': 'c', 'ca_cert': 'a'}},"
        " 'bridges': [{'name': 'br0', 'datapath_id': '0000AABBCCDDEEFF',"
        "              'peer_cn': 'sw id:1 2'},"
        "             {'name': 'br1', 'datapath_id': '0x1'},"
        "             {'name': 'br2', 'datapath_id': '0xffffffffffffffff'},"
        "             {'name': 'br3'}]}");
    assert_int_equal(cfg->forget_bridges_s, 5);
    assert_true(cfg->bridges[0].datapath_id == 0x0000aabbccddeeffULL);
    assert_string_equal(cfg->bridges[0].peer_cn, "sw id:1 2");
    assert_true(cfg->bridges[1].datapath_id == 1);
    assert_null(cfg->bridges[1].peer_cn);
    assert_true(cfg->bridges[2].datapath_id == UINT64_MAX);
    assert_true(cfg->bridges[3].datapath_id == 0);

    /* Written back as 16 hex digits; the same config again. */
    char *text = dump(cfg);
    assert_non_null(strstr(text, "\"datapath_id\": \"0000aabbccddeeff\""));
    assert_non_null(strstr(text, "\"datapath_id\": \"0000000000000001\""));
    assert_non_null(strstr(text, "\"peer_cn\": \"sw id:1 2\""));
    assert_non_null(strstr(text, "\"forget_bridges_s\": 5"));
    char *err = NULL;
    struct config *again = cfgtest_parse(text, "again", &err);
    assert_non_null(again);
    assert_true(config_equal(cfg, again));

    /* A pin is part of the bridge's settings. */
    again->bridges[1].datapath_id = 2;
    assert_false(config_bridge_equal(&cfg->bridges[1], &again->bridges[1]));
    assert_false(config_settings_equal(cfg, again));
    config_destroy(again);
    free(text);
    config_destroy(cfg);

    cfg = parse_ok("{}");
    assert_int_equal(cfg->forget_bridges_s, 60);
    config_destroy(cfg);
}

static void
test_load(void **state OVS_UNUSED)
{
    char *err = NULL;
    struct config *cfg = cfgtest_load("tests/unit/no-such-file.json", &err);
    assert_null(cfg);
    assert_non_null(err);
    assert_non_null(strstr(err, "tests/unit/no-such-file.json: cannot "
                                "open: No such file or directory"));
    free(err);

    err = (char *) 1;
    cfg = cfgtest_load("vmacd.example.json", &err);
    if (!cfg) {
        fail_msg("vmacd.example.json: %s", err);
    }
    assert_null(err);
    assert_string_equal(cfg->origin, "vmacd.example.json");
    assert_int_equal(cfg->n_aliases, 2);
    const struct cfg_alias *web = config_find_alias(cfg, "web");
    assert_non_null(web);
    assert_int_equal(web->n_members, 2);
    assert_mac(web->vmac, "02:00:5e:00:01:01");
    assert_true(config_is_uplink(cfg, "br0", "up0"));
    const struct cfg_alias *db = config_find_alias(cfg, "db");
    assert_non_null(db);
    assert_int_equal(db->probe.type, CFG_PROBE_TCP);
    assert_int_equal(db->probe.tcp_port, 5432);
    config_destroy(cfg);

    /* Syntax errors in a file carry the path, line and column. */
    char path[] = "/tmp/test_config_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\n  \"api\": {\n    \"socket\": \"/x\",\n  }\n}\n", f);
    fclose(f);
    cfg = cfgtest_load(path, &err);
    assert_null(cfg);
    char *expected = NULL;
    assert_true(asprintf(&expected, "%s:4:", path) > 0);
    if (strncmp(err, expected, strlen(expected))) {
        fail_msg("%s does not start with %s", err, expected);
    }
    free(expected);
    free(err);
    unlink(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_access_bridges),
        cmocka_unit_test(test_api_options),
        cmocka_unit_test(test_backup_interval),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_valid_edge_cases),
        cmocka_unit_test(test_bridge_pins),
        cmocka_unit_test(test_notify),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
