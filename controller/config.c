/*
 * config: parses and validates vmacd's JSON configuration.
 *
 * The parser walks the JSON by hand so that every message can name the
 * exact field ("aliases[0].members[1].mac").  The first error wins; once
 * one is recorded the walk unwinds and the partial config is destroyed.
 * Cross-object checks (duplicate names, addresses, VMACs) use hash maps so
 * that ten thousand aliases still parse in linear time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "util.h"

/* Defaults (also documented in config.h and docs/config.md). */
#define DEFAULT_LISTEN "ptcp:6653:127.0.0.1"
#define DEFAULT_INACTIVITY_PROBE_MS 5000
#define DEFAULT_COOKIE_PREFIX 0x766d6163 /* "vmac" */
#define DEFAULT_API_SOCKET "/run/vmacd/vmacd.sock"
#define DEFAULT_PRIORITY 100
#define DEFAULT_ANNOUNCE_COUNT 3
#define DEFAULT_ANNOUNCE_INTERVAL_MS 100
#define DEFAULT_ANNOUNCE_REFRESH_S 60
#define DEFAULT_PROBE_INTERVAL_MS 100
#define DEFAULT_PROBE_FALL 3
#define DEFAULT_PROBE_RISE 3
#define DEFAULT_PROBE_METER_ID 0x766d
#define MAX_METER_ID 0xffff0000u

#define NAME_MAX_LEN 63
#define IFNAME_MAX_LEN 15
#define SUN_PATH_MAX (sizeof((struct sockaddr_un *) NULL)->sun_path - 1)
#define ALIAS_ID_MAX 0x7fffffffu

/* Parser state: the origin for messages, the path of the field being
 * parsed, the first error, and indexes for the cross checks. */
struct cfg_parser {
    const char *origin;
    struct ds path;
    char *error;

    struct shash alias_names; /* Alias name -> index + 1. */
    struct shash addresses;   /* Canonical alias address -> index + 1. */
    struct shash vmacs;       /* Canonical VMAC -> alias index + 1. */
};

static void cfg_error(struct cfg_parser *, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);

static void
cfg_error(struct cfg_parser *p, const char *format, ...)
{
    if (p->error) {
        return;
    }

    struct ds s = DS_EMPTY_INITIALIZER;
    ds_put_format(&s, "%s: ", p->origin);
    if (p->path.length) {
        ds_put_format(&s, "%s: ", ds_cstr(&p->path));
    }
    va_list args;
    va_start(args, format);
    ds_put_format_valist(&s, format, args);
    va_end(args);
    p->error = ds_steal_cstr(&s);
}

static size_t
path_push_key(struct cfg_parser *p, const char *key)
{
    size_t mark = p->path.length;
    if (mark) {
        ds_put_char(&p->path, '.');
    }
    ds_put_cstr(&p->path, key);
    return mark;
}

static size_t
path_push_index(struct cfg_parser *p, size_t index)
{
    size_t mark = p->path.length;
    ds_put_format(&p->path, "[%" PRIuSIZE "]", index);
    return mark;
}

static void
path_pop(struct cfg_parser *p, size_t mark)
{
    ds_truncate(&p->path, mark);
}

static void
free_strings(char **strings, size_t n)
{
    if (strings) {
        for (size_t i = 0; i < n; i++) {
            free(strings[i]);
        }
        free(strings);
    }
}

static void *
index_to_data(size_t index)
{
    return (void *) (uintptr_t) (index + 1);
}

static size_t
data_to_index(const void *data)
{
    return (uintptr_t) data - 1;
}

static const char *
json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown value";
}

/* Value checkers: each works on the field at the current path. */

/* Checks that 'v' is an object whose keys are all in 'allowed' (a NULL
 * terminated list). */
static bool
check_object(struct cfg_parser *p, const json_t *v,
             const char *const allowed[])
{
    if (!json_is_object(v)) {
        cfg_error(p, "expected an object, got %s", json_kind(v));
        return false;
    }

    const char *key;
    json_t *value;
    json_object_foreach (CONST_CAST(json_t *, v), key, value) {
        bool known = false;
        for (const char *const *a = allowed; *a; a++) {
            if (!strcmp(key, *a)) {
                known = true;
                break;
            }
        }
        if (!known) {
            struct ds list = DS_EMPTY_INITIALIZER;
            for (const char *const *a = allowed; *a; a++) {
                ds_put_format(&list, "%s%s", a == allowed ? "" : ", ", *a);
            }
            cfg_error(p, "unknown key \"%s\" (allowed: %s)", key,
                      ds_cstr(&list));
            ds_destroy(&list);
            return false;
        }
    }
    return true;
}

static bool
check_string(struct cfg_parser *p, const json_t *v, const char **s)
{
    if (!json_is_string(v)) {
        cfg_error(p, "expected a string, got %s", json_kind(v));
        return false;
    }
    *s = json_string_value(v);
    return true;
}

static bool
check_array(struct cfg_parser *p, const json_t *v)
{
    if (!json_is_array(v)) {
        cfg_error(p, "expected an array, got %s", json_kind(v));
        return false;
    }
    return true;
}

static bool
check_int(struct cfg_parser *p, const json_t *v, long long min, long long max,
          const char *hint, long long *out)
{
    if (!json_is_integer(v)) {
        cfg_error(p, "expected an integer, got %s", json_kind(v));
        return false;
    }
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        cfg_error(p, "%lld is out of range (%lld..%lld)%s%s", x, min, max,
                  hint ? "; " : "", hint ? hint : "");
        return false;
    }
    *out = x;
    return true;
}

/* Names of aliases and members: [A-Za-z0-9_.-]{1,63}. */
static bool
check_name(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    if (!len) {
        cfg_error(p, "a name cannot be empty");
        return false;
    }
    if (len > NAME_MAX_LEN) {
        cfg_error(p,
                  "\"%s\" is %" PRIuSIZE " characters long; "
                  "a name has at most %d",
                  s, len, NAME_MAX_LEN);
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!isalnum((unsigned char) *c) && !strchr("_.-", *c)) {
            cfg_error(p,
                      "\"%s\" contains '%c' (0x%02x); a name may only "
                      "use letters, digits, '_', '.' and '-'",
                      s, isprint((unsigned char) *c) ? *c : '?',
                      (unsigned char) *c);
            return false;
        }
    }
    return true;
}

/* Bridge and port names, as Linux accepts interface names. */
static bool
check_ifname(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    if (!len) {
        cfg_error(p, "an interface name cannot be empty");
        return false;
    }
    if (len > IFNAME_MAX_LEN) {
        cfg_error(p,
                  "\"%s\" is %" PRIuSIZE " characters long; "
                  "an interface name has at most %d",
                  s, len, IFNAME_MAX_LEN);
        return false;
    }
    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        cfg_error(p, "\"%s\" is not a valid interface name", s);
        return false;
    }
    for (const char *c = s; *c; c++) {
        unsigned char u = *c;
        if (u <= 0x20 || u == 0x7f || u == '/' || u == ':') {
            cfg_error(p,
                      "\"%s\" is not a valid interface name "
                      "(no '/', ':', spaces or control characters)",
                      s);
            return false;
        }
    }
    return true;
}

/* Parses 'mac' in strict xx:xx:xx:xx:xx:xx form (either case) and checks
 * that it is unicast.  'what' names the role in messages. */
static bool
check_mac(struct cfg_parser *p, const char *s, const char *what,
          struct eth_addr *mac)
{
    bool ok = strlen(s) == 17;
    for (int i = 0; ok && i < 6; i++) {
        const char *b = s + 3 * i;
        if (!isxdigit((unsigned char) b[0]) || !isxdigit((unsigned char) b[1])
            || (i < 5 && b[2] != ':')) {
            ok = false;
            break;
        }
        char hex[3] = { b[0], b[1], '\0' };
        mac->ea[i] = strtoul(hex, NULL, 16);
    }
    if (!ok) {
        cfg_error(p,
                  "\"%s\" is not a MAC address "
                  "(expected xx:xx:xx:xx:xx:xx)",
                  s);
        return false;
    }

    if (eth_addr_is_zero(*mac)) {
        cfg_error(p, "\"%s\" is all zeros; %s must be a unicast address", s,
                  what);
        return false;
    }
    if (eth_addr_is_broadcast(*mac)) {
        cfg_error(p, "\"%s\" is the broadcast address; %s must be unicast", s,
                  what);
        return false;
    }
    if (eth_addr_is_multicast(*mac)) {
        cfg_error(p, "\"%s\" is a multicast address; %s must be unicast", s,
                  what);
        return false;
    }
    return true;
}

/* An address as the config holds it. */
struct cfg_ip {
    bool is_v6;
    ovs_be32 ip4;
    struct in6_addr ip6;
};

static void
cfg_ip_format(const struct cfg_ip *ip, char buf[INET6_ADDRSTRLEN])
{
    if (ip->is_v6) {
        inet_ntop(AF_INET6, &ip->ip6, buf, INET6_ADDRSTRLEN);
    } else {
        struct in_addr in = { .s_addr = ip->ip4 };
        inet_ntop(AF_INET, &in, buf, INET6_ADDRSTRLEN);
    }
}

/* Returns NULL if 'ip' can be a host's unicast address, otherwise why
 * not. */
static const char *
ip_unusable_reason(const struct cfg_ip *ip)
{
    if (!ip->is_v6) {
        uint32_t h = ntohl(ip->ip4);
        if (h == 0xffffffff) {
            return "is the broadcast address";
        } else if ((h >> 24) == 0) {
            return "is in 0.0.0.0/8 (\"this network\")";
        } else if ((h >> 24) == 127) {
            return "is a loopback address";
        } else if ((h >> 28) == 0xe) {
            return "is a multicast address";
        } else if ((h >> 28) == 0xf) {
            return "is in the reserved range 240.0.0.0/4";
        }
    } else {
        const uint8_t *b = ip->ip6.s6_addr;
        static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
        if (ipv6_addr_equals(&ip->ip6, &in6addr_any)) {
            return "is the unspecified address";
        } else if (ipv6_addr_equals(&ip->ip6, &in6addr_loopback)) {
            return "is the loopback address";
        } else if (b[0] == 0xff) {
            return "is a multicast address";
        } else if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
            return "is a link-local address (fe80::/10)";
        } else if (!memcmp(b, mapped, sizeof mapped)) {
            return "is an IPv4-mapped address; write the IPv4 address";
        }
    }
    return NULL;
}

/* Parses 's' as an IPv4 or IPv6 address and checks that it is usable as a
 * unicast host address.  'what' names the role in messages. */
static bool
check_ip(struct cfg_parser *p, const char *s, const char *what,
         struct cfg_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    ip->is_v6 = strchr(s, ':') != NULL;
    int ok = (ip->is_v6 ? inet_pton(AF_INET6, s, &ip->ip6)
                        : inet_pton(AF_INET, s, &ip->ip4));
    if (ok != 1) {
        cfg_error(p, "\"%s\" is not an IPv4 or IPv6 address%s", s,
                  strchr(s, '/') ? " (a prefix length is not allowed here)"
                                 : "");
        return false;
    }

    const char *reason = ip_unusable_reason(ip);
    if (reason) {
        cfg_error(p, "%s %s; %s must be a unicast host address", s, reason,
                  what);
        return false;
    }
    return true;
}

/* Parses decimal 'port' (1..65535) of 'len' bytes. */
static bool
parse_port(const char *s, size_t len)
{
    if (!len || len > 5) {
        return false;
    }
    unsigned int port = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char) s[i])) {
            return false;
        }
        port = port * 10 + (s[i] - '0');
    }
    return port >= 1 && port <= 65535 && s[0] != '0';
}

/* Checks 'len' bytes at 's' as an IPv4 address or a bracketed IPv6
 * address. */
static bool
parse_target_ip(const char *s, size_t len)
{
    char buf[INET6_ADDRSTRLEN + 2];
    struct in6_addr a6;
    struct in_addr a4;

    if (len < 2 || len >= sizeof buf) {
        return false;
    }
    if (s[0] == '[') {
        if (s[len - 1] != ']') {
            return false;
        }
        memcpy(buf, s + 1, len - 2);
        buf[len - 2] = '\0';
        return inet_pton(AF_INET6, buf, &a6) == 1;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return inet_pton(AF_INET, buf, &a4) == 1;
}

/* Returns NULL if 's' is a valid OpenFlow target of the kind wanted
 * ('passive' for "listen", active for "connect"), otherwise a reason. */
static const char *
target_problem(const char *s, bool passive)
{
    const char *syntax = (passive ? "expected ptcp:PORT[:IP] or punix:PATH"
                                  : "expected tcp:IP:PORT or unix:PATH");
    const char *unix_prefix = passive ? "punix:" : "unix:";
    const char *tcp_prefix = passive ? "ptcp:" : "tcp:";

    if (!strncmp(s, unix_prefix, strlen(unix_prefix))) {
        size_t len = strlen(s + strlen(unix_prefix));
        if (!len) {
            return "the socket path is empty";
        } else if (len > SUN_PATH_MAX) {
            return "the socket path is longer than 107 bytes";
        }
        return NULL;
    } else if (!strncmp(s, tcp_prefix, strlen(tcp_prefix))) {
        const char *rest = s + strlen(tcp_prefix);
        if (passive) {
            /* PORT[:IP] */
            const char *colon = strchr(rest, ':');
            size_t port_len = colon ? (size_t) (colon - rest) : strlen(rest);
            if (!parse_port(rest, port_len)) {
                return "the port must be a number in 1..65535";
            }
            if (colon && !parse_target_ip(colon + 1, strlen(colon + 1))) {
                return "the IP must be IPv4 or [IPv6] in brackets";
            }
            return NULL;
        } else {
            /* IP:PORT */
            const char *colon = strrchr(rest, ':');
            if (!colon) {
                return syntax;
            }
            if (!parse_target_ip(rest, colon - rest)) {
                return "the IP must be IPv4 or [IPv6] in brackets";
            }
            if (!parse_port(colon + 1, strlen(colon + 1))) {
                return "the port must be a number in 1..65535";
            }
            return NULL;
        }
    }
    return syntax;
}

/* Field helpers: each looks up 'key' in 'obj' and checks it at path
 * "...key".  Optional fields that are absent leave '*out' alone. */

static bool
field_missing(struct cfg_parser *p, const char *key)
{
    cfg_error(p, "missing required key \"%s\"", key);
    return false;
}

static bool
field_uint(struct cfg_parser *p, const json_t *obj, const char *key,
           long long min, long long max, const char *hint, unsigned int *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return true;
    }
    size_t mark = path_push_key(p, key);
    long long x;
    bool ok = check_int(p, v, min, max, hint, &x);
    if (ok) {
        *out = x;
    }
    path_pop(p, mark);
    return ok;
}

static bool
field_bool(struct cfg_parser *p, const json_t *obj, const char *key, bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return true;
    }
    if (!json_is_boolean(v)) {
        size_t mark = path_push_key(p, key);
        cfg_error(p, "expected true or false, got %s", json_kind(v));
        path_pop(p, mark);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* Required string field checked by 'check' (check_name, check_ifname). */
static bool
field_string(struct cfg_parser *p, const json_t *obj, const char *key,
             bool (*check)(struct cfg_parser *, const char *), char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return field_missing(p, key);
    }
    size_t mark = path_push_key(p, key);
    const char *s;
    bool ok = check_string(p, v, &s) && check(p, s);
    if (ok) {
        *out = xstrdup(s);
    }
    path_pop(p, mark);
    return ok;
}

/* Sections. */

static bool
parse_targets(struct cfg_parser *p, const json_t *obj, const char *key,
              bool passive, size_t *n_out, char ***out)
{
    const json_t *arr = json_object_get(obj, key);
    if (!arr) {
        return true;
    }

    size_t mark = path_push_key(p, key);
    if (!check_array(p, arr)) {
        path_pop(p, mark);
        return false;
    }

    size_t n = json_array_size(arr);
    *out = xcalloc(n, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark2 = path_push_index(p, i);
        const char *s;
        const char *problem = NULL;
        if (!check_string(p, json_array_get(arr, i), &s)) {
            path_pop(p, mark2);
            break;
        }
        problem = target_problem(s, passive);
        if (problem) {
            cfg_error(p, "\"%s\" is not a valid %s target: %s", s,
                      passive ? "listen" : "connect", problem);
            path_pop(p, mark2);
            break;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp((*out)[j], s)) {
                cfg_error(p, "\"%s\" is listed twice (also %s[%" PRIuSIZE "])",
                          s, key, j);
                break;
            }
        }
        path_pop(p, mark2);
        if (p->error) {
            break;
        }
        (*out)[(*n_out)++] = xstrdup(s);
    }
    path_pop(p, mark);
    return !p->error;
}

static bool
parse_openflow(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "listen",     "connect",    "inactivity_probe_ms",
        "base_table", "next_table", "cookie_prefix",
        NULL,
    };
    if (!check_object(p, v, keys)) {
        return false;
    }

    if (json_object_get(v, "listen")) {
        /* Replace the default. */
        free_strings(cfg->listen, cfg->n_listen);
        cfg->listen = NULL;
        cfg->n_listen = 0;
    }
    if (!parse_targets(p, v, "listen", true, &cfg->n_listen, &cfg->listen)
        || !parse_targets(p, v, "connect", false, &cfg->n_connect,
                          &cfg->connect)) {
        return false;
    }
    if (!cfg->n_listen && !cfg->n_connect) {
        cfg_error(p, "both \"listen\" and \"connect\" are empty; vmacd "
                     "would never talk to a switch");
        return false;
    }

    unsigned int probe = cfg->inactivity_probe_ms;
    if (!field_uint(p, v, "inactivity_probe_ms", 0, 3600000, NULL, &probe)) {
        return false;
    }
    if (probe && probe < 100) {
        size_t mark = path_push_key(p, "inactivity_probe_ms");
        cfg_error(p, "%u is too short; use 0 to disable or at least 100",
                  probe);
        path_pop(p, mark);
        return false;
    }
    cfg->inactivity_probe_ms = probe;

    unsigned int base = cfg->base_table;
    if (!field_uint(p, v, "base_table", 0, 250, NULL, &base)) {
        return false;
    }
    cfg->base_table = base;

    const json_t *next = json_object_get(v, "next_table");
    if (next) {
        size_t mark = path_push_key(p, "next_table");
        long long x;
        if (json_is_string(next)) {
            if (strcmp(json_string_value(next), "NORMAL")) {
                cfg_error(p,
                          "\"%s\" is not a table; expected an integer "
                          "or \"NORMAL\"",
                          json_string_value(next));
            } else {
                cfg->next_table = -1;
            }
        } else if (!json_is_integer(next)) {
            cfg_error(p, "expected an integer or \"NORMAL\", got %s",
                      json_kind(next));
        } else if (check_int(p, next, base + 2, 254,
                             "it must come after base_table + 1", &x)) {
            cfg->next_table = x;
        }
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *cookie = json_object_get(v, "cookie_prefix");
    if (cookie) {
        size_t mark = path_push_key(p, "cookie_prefix");
        long long x;
        if (json_is_string(cookie)) {
            const char *s = json_string_value(cookie);
            size_t len = strlen(s);
            bool ok = len > 2 && len <= 10 && s[0] == '0'
                      && (s[1] == 'x' || s[1] == 'X');
            for (size_t i = 2; ok && i < len; i++) {
                ok = isxdigit((unsigned char) s[i]);
            }
            if (ok) {
                cfg->cookie_prefix = strtoul(s + 2, NULL, 16);
            } else {
                cfg_error(p,
                          "\"%s\" is not a 32-bit hexadecimal number "
                          "(expected \"0x\" and 1 to 8 hex digits)",
                          s);
            }
        } else if (json_is_integer(cookie)) {
            if (check_int(p, cookie, 0, UINT32_MAX, NULL, &x)) {
                cfg->cookie_prefix = x;
            }
        } else {
            cfg_error(p, "expected a \"0x...\" string or an integer, got %s",
                      json_kind(cookie));
        }
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    return true;
}

static bool
check_group_name(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 32
              && (isalpha((unsigned char) s[0]) || s[0] == '_');
    for (size_t i = 1; ok && i < len; i++) {
        ok = isalnum((unsigned char) s[i]) || strchr("_.-", s[i]);
    }
    if (!ok) {
        cfg_error(p, "\"%s\" is not a valid group name", s);
    }
    return ok;
}

/* "api": {"tcp": {"address", "port", "allow_nonloopback"}}. */
static bool
parse_api_tcp(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "address",
        "port",
        "allow_nonloopback",
        NULL,
    };
    if (!check_object(p, v, keys)) {
        return false;
    }
    if (!json_object_get(v, "address")) {
        return field_missing(p, "address");
    } else if (!json_object_get(v, "port")) {
        return field_missing(p, "port");
    }
    if (!field_bool(p, v, "allow_nonloopback", &cfg->api_tcp_allow_nonloopback)
        || !field_uint(p, v, "port", 1, 65535, NULL, &cfg->api_tcp_port)) {
        return false;
    }

    size_t mark = path_push_key(p, "address");
    const char *s;
    struct in_addr a4;
    struct in6_addr a6;
    if (check_string(p, json_object_get(v, "address"), &s)) {
        bool v4 = inet_pton(AF_INET, s, &a4) == 1;
        bool v6 = !v4 && inet_pton(AF_INET6, s, &a6) == 1;
        if (!v4 && !v6) {
            cfg_error(p, "\"%s\" is not an IPv4 or IPv6 address", s);
        } else if (!cfg->api_tcp_allow_nonloopback
                   && !(v4 ? (ntohl(a4.s_addr) >> 24) == 127
                           : IN6_IS_ADDR_LOOPBACK(&a6))) {
            cfg_error(p,
                      "%s is not a loopback address; the API has no "
                      "authentication: set \"allow_nonloopback\": true to "
                      "listen there anyway",
                      s);
        } else {
            free(cfg->api_tcp_address);
            cfg->api_tcp_address = xstrdup(s);
        }
    }
    path_pop(p, mark);
    return !p->error;
}

static bool
parse_api(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = { "socket", "group", "tcp", NULL };
    if (!check_object(p, v, keys)
        || (json_object_get(v, "group")
            && !field_string(p, v, "group", check_group_name,
                             &cfg->api_group))) {
        return false;
    }
    const json_t *tcp = json_object_get(v, "tcp");
    if (tcp) {
        size_t mark = path_push_key(p, "tcp");
        parse_api_tcp(p, tcp, cfg);
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *sock = json_object_get(v, "socket");
    if (sock) {
        size_t mark = path_push_key(p, "socket");
        const char *s;
        if (check_string(p, sock, &s)) {
            if (!s[0]) {
                cfg_error(p, "the socket path is empty");
            } else if (strlen(s) > SUN_PATH_MAX) {
                cfg_error(p,
                          "\"%s\" is %" PRIuSIZE " bytes long; a unix "
                          "socket path has at most %" PRIuSIZE,
                          s, strlen(s), SUN_PATH_MAX);
            } else {
                free(cfg->api_socket);
                cfg->api_socket = xstrdup(s);
            }
        }
        path_pop(p, mark);
    }
    return !p->error;
}

static bool
parse_probe_source(struct cfg_parser *p, const json_t *v,
                   struct cfg_probe_source *ps)
{
    static const char *const keys[] = {
        "mac", "ip", "meter_id", "rate_pps", NULL,
    };
    if (!check_object(p, v, keys)) {
        return false;
    }
    ps->configured = true;

    const json_t *mac = json_object_get(v, "mac");
    if (mac) {
        size_t mark = path_push_key(p, "mac");
        const char *s;
        if (check_string(p, mac, &s)
            && check_mac(p, s, "a probe source mac", &ps->mac)
            && !(ps->mac.ea[0] & 0x02)) {
            cfg_error(p,
                      "%s is not locally administered; the probe source "
                      "needs an address of its own (e.g. 02:...)",
                      s);
        }
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *ip = json_object_get(v, "ip");
    if (ip) {
        size_t mark = path_push_key(p, "ip");
        const char *s;
        struct cfg_ip a;
        if (check_string(p, ip, &s)
            && check_ip(p, s, "a probe source ip", &a)) {
            if (a.is_v6) {
                cfg_error(p, "%s: the probe source ip must be IPv4", s);
            } else {
                ps->has_ip = true;
                ps->ip4 = a.ip4;
            }
        }
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    return (field_uint(p, v, "meter_id", 1, MAX_METER_ID, NULL, &ps->meter_id)
            && field_uint(p, v, "rate_pps", 0, 1000000, "0 = automatic",
                          &ps->rate_pps));
}

static bool
parse_bridge(struct cfg_parser *p, const json_t *v, struct cfg_bridge *br)
{
    static const char *const keys[] = {
        "name",
        "uplinks",
        "probe_source",
        NULL,
    };
    br->probe_source = *config_probe_source(NULL, NULL);
    if (!check_object(p, v, keys)
        || !field_string(p, v, "name", check_ifname, &br->name)) {
        return false;
    }

    const json_t *ps = json_object_get(v, "probe_source");
    if (ps) {
        size_t mark = path_push_key(p, "probe_source");
        parse_probe_source(p, ps, &br->probe_source);
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *ups = json_object_get(v, "uplinks");
    if (!ups) {
        return true;
    }
    size_t mark = path_push_key(p, "uplinks");
    if (check_array(p, ups)) {
        size_t n = json_array_size(ups);
        br->uplinks = xcalloc(n, sizeof *br->uplinks);
        for (size_t i = 0; i < n && !p->error; i++) {
            size_t mark2 = path_push_index(p, i);
            const char *s;
            if (check_string(p, json_array_get(ups, i), &s)
                && check_ifname(p, s)) {
                if (!strcmp(s, br->name)) {
                    cfg_error(p,
                              "\"%s\" is the bridge's own LOCAL port, "
                              "not an uplink",
                              s);
                }
                for (size_t j = 0; j < i && !p->error; j++) {
                    if (!strcmp(br->uplinks[j], s)) {
                        cfg_error(p,
                                  "uplink \"%s\" is listed twice "
                                  "(also uplinks[%" PRIuSIZE "])",
                                  s, j);
                    }
                }
                if (!p->error) {
                    br->uplinks[br->n_uplinks++] = xstrdup(s);
                }
            }
            path_pop(p, mark2);
        }
    }
    path_pop(p, mark);
    return !p->error;
}

static bool
parse_bridges(struct cfg_parser *p, const json_t *arr, struct config *cfg)
{
    if (!check_array(p, arr)) {
        return false;
    }

    struct shash names = SHASH_INITIALIZER(&names);
    size_t n = json_array_size(arr);
    cfg->bridges = xcalloc(n, sizeof *cfg->bridges);
    cfg->n_bridges = n;
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = path_push_index(p, i);
        struct cfg_bridge *br = &cfg->bridges[i];
        if (parse_bridge(p, json_array_get(arr, i), br)) {
            void *prev = shash_find_data(&names, br->name);
            if (prev) {
                size_t m2 = path_push_key(p, "name");
                cfg_error(p,
                          "bridge \"%s\" is listed twice (also "
                          "bridges[%" PRIuSIZE "])",
                          br->name, data_to_index(prev));
                path_pop(p, m2);
            } else {
                shash_add(&names, br->name, index_to_data(i));
            }
        }
        path_pop(p, mark);
    }
    shash_destroy(&names);
    return !p->error;
}

static bool
parse_announce(struct cfg_parser *p, const json_t *v, struct cfg_announce *an)
{
    static const char *const keys[] = {
        "count",
        "interval_ms",
        "refresh_s",
        NULL,
    };
    return (
        check_object(p, v, keys)
        && field_uint(p, v, "count", 0, 100, NULL, &an->count)
        && field_uint(p, v, "interval_ms", 1, 60000, NULL, &an->interval_ms)
        && field_uint(p, v, "refresh_s", 0, 299,
                      "keep it below the typical switch MAC aging time "
                      "of 300 s (0 disables refreshes)",
                      &an->refresh_s));
}

static bool
parse_probe(struct cfg_parser *p, const json_t *v, struct cfg_probe *pr)
{
    static const char *const keys[] = {
        "type", "interval_ms", "timeout_ms", "fall", "rise", "port", NULL,
    };
    if (!check_object(p, v, keys)) {
        return false;
    }

    const json_t *type = json_object_get(v, "type");
    if (type) {
        size_t mark = path_push_key(p, "type");
        const char *s;
        if (check_string(p, type, &s)) {
            if (!strcmp(s, "arp")) {
                pr->type = CFG_PROBE_ARP;
            } else if (!strcmp(s, "tcp")) {
                pr->type = CFG_PROBE_TCP;
            } else if (!strcmp(s, "none")) {
                pr->type = CFG_PROBE_NONE;
            } else {
                cfg_error(p,
                          "\"%s\" is not a probe type (expected \"arp\", "
                          "\"tcp\" or \"none\")",
                          s);
            }
        }
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    bool has_timeout = json_object_get(v, "timeout_ms") != NULL;
    /* A member's probe starts from its alias's: it inherits the port while
     * it stays a tcp probe. */
    unsigned int port = pr->type == CFG_PROBE_TCP ? pr->tcp_port : 0;
    if (!field_uint(p, v, "interval_ms", 10, 60000, NULL, &pr->interval_ms)
        || !field_uint(p, v, "timeout_ms", 1, 60000, NULL, &pr->timeout_ms)
        || !field_uint(p, v, "fall", 1, 100, NULL, &pr->fall)
        || !field_uint(p, v, "rise", 1, 100, NULL, &pr->rise)
        || !field_uint(p, v, "port", 1, 65535, NULL, &port)) {
        return false;
    }
    if (!has_timeout) {
        pr->timeout_ms = pr->interval_ms;
    }

    if (pr->type == CFG_PROBE_TCP && !port) {
        cfg_error(p, "a tcp probe needs \"port\" (1..65535)");
        return false;
    } else if (pr->type != CFG_PROBE_TCP && port) {
        size_t mark = path_push_key(p, "port");
        cfg_error(p, "only a tcp probe takes a port");
        path_pop(p, mark);
        return false;
    }
    pr->tcp_port = port;
    return true;
}

static bool
parse_member(struct cfg_parser *p, const struct config *cfg, const json_t *v,
             struct cfg_member *m)
{
    static const char *const keys[] = {
        "name",     "bridge", "port",    "mac", "ip",
        "priority", "probe",  "drained", NULL,
    };
    if (!check_object(p, v, keys)
        || !field_string(p, v, "name", check_name, &m->name)
        || !field_string(p, v, "bridge", check_ifname, &m->bridge)
        || !field_string(p, v, "port", check_ifname, &m->port)) {
        return false;
    }

    if (config_is_uplink(cfg, m->bridge, m->port)) {
        size_t mark = path_push_key(p, "port");
        cfg_error(p,
                  "\"%s\" is an uplink of bridge \"%s\"; a member "
                  "cannot sit behind an uplink",
                  m->port, m->bridge);
        path_pop(p, mark);
        return false;
    }
    if (!strcmp(m->port, m->bridge)) {
        size_t mark = path_push_key(p, "port");
        cfg_error(p, "\"%s\" is the bridge's own LOCAL port", m->port);
        path_pop(p, mark);
        return false;
    }

    const json_t *mac = json_object_get(v, "mac");
    if (mac) {
        size_t mark = path_push_key(p, "mac");
        const char *s;
        m->has_mac = (check_string(p, mac, &s)
                      && check_mac(p, s, "a member's mac", &m->mac));
        path_pop(p, mark);
        if (!m->has_mac) {
            return false;
        }
    }

    const json_t *ip = json_object_get(v, "ip");
    if (ip) {
        size_t mark = path_push_key(p, "ip");
        const char *s;
        struct cfg_ip a;
        m->has_ip
            = (check_string(p, ip, &s) && check_ip(p, s, "a member's ip", &a));
        path_pop(p, mark);
        if (!m->has_ip) {
            return false;
        }
        m->ip_is_v6 = a.is_v6;
        m->ip4 = a.ip4;
        m->ip6 = a.ip6;
    }

    unsigned int prio = DEFAULT_PRIORITY;
    if (!field_uint(p, v, "priority", 0, 255, NULL, &prio)) {
        return false;
    }
    m->priority = prio;

    const json_t *probe = json_object_get(v, "probe");
    if (probe) {
        size_t mark = path_push_key(p, "probe");
        m->has_probe = true;
        parse_probe(p, probe, &m->probe);
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    return field_bool(p, v, "drained", &m->drained);
}

static bool
parse_members(struct cfg_parser *p, const struct config *cfg,
              const json_t *arr, struct cfg_alias *al)
{
    if (!check_array(p, arr)) {
        return false;
    }

    size_t n = json_array_size(arr);
    al->members = xcalloc(n, sizeof *al->members);
    al->n_members = n;
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = path_push_index(p, i);
        struct cfg_member *m = &al->members[i];
        m->probe = al->probe;
        if (parse_member(p, cfg, json_array_get(arr, i), m)) {
            for (size_t j = 0; j < i; j++) {
                const struct cfg_member *o = &al->members[j];
                if (!strcmp(o->name, m->name)) {
                    size_t m2 = path_push_key(p, "name");
                    cfg_error(p,
                              "member \"%s\" is listed twice (also "
                              "members[%" PRIuSIZE "])",
                              m->name, j);
                    path_pop(p, m2);
                    break;
                }
                if (!strcmp(o->bridge, m->bridge)
                    && !strcmp(o->port, m->port)) {
                    cfg_error(p,
                              "port \"%s\" on bridge \"%s\" is already "
                              "used by member \"%s\"",
                              m->port, m->bridge, o->name);
                    break;
                }
            }
        }
        path_pop(p, mark);
    }
    return !p->error;
}

static bool
parse_addresses(struct cfg_parser *p, const json_t *arr, size_t alias_idx,
                struct cfg_alias *al, const struct config *cfg)
{
    if (!check_array(p, arr)) {
        return false;
    }
    size_t n = json_array_size(arr);
    if (!n) {
        cfg_error(p, "an alias needs at least one address");
        return false;
    }

    al->ip4 = xcalloc(n, sizeof *al->ip4);
    al->ip6 = xcalloc(n, sizeof *al->ip6);
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = path_push_index(p, i);
        const char *s;
        struct cfg_ip ip;
        if (check_string(p, json_array_get(arr, i), &s)
            && check_ip(p, s, "an alias address", &ip)) {
            char text[INET6_ADDRSTRLEN];
            cfg_ip_format(&ip, text);

            void *prev = shash_find_data(&p->addresses, text);
            if (!prev) {
                shash_add(&p->addresses, text, index_to_data(alias_idx));
                if (ip.is_v6) {
                    al->ip6[al->n_ip6++] = ip.ip6;
                } else {
                    al->ip4[al->n_ip4++] = ip.ip4;
                }
            } else if (data_to_index(prev) == alias_idx) {
                cfg_error(p, "%s is listed twice in this alias", text);
            } else {
                cfg_error(p, "%s is already used by alias \"%s\"", text,
                          cfg->aliases[data_to_index(prev)].name);
            }
        }
        path_pop(p, mark);
    }
    return !p->error;
}

/* "access_bridges": bridge names, each once, none that already has a
 * member of the alias (it carries the alias anyway). */
static void
parse_access_bridges(struct cfg_parser *p, const json_t *v,
                     struct cfg_alias *al)
{
    if (!check_array(p, v)) {
        return;
    }
    size_t n = json_array_size(v);
    al->access_bridges = xcalloc(MAX(n, 1), sizeof *al->access_bridges);
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = path_push_index(p, i);
        const char *s;
        if (check_string(p, json_array_get(v, i), &s) && check_ifname(p, s)) {
            for (size_t j = 0; j < al->n_access_bridges && !p->error; j++) {
                if (!strcmp(al->access_bridges[j], s)) {
                    cfg_error(p,
                              "bridge \"%s\" is listed twice (also "
                              "access_bridges[%" PRIuSIZE "])",
                              s, j);
                }
            }
            for (size_t m = 0; m < al->n_members && !p->error; m++) {
                if (!strcmp(al->members[m].bridge, s)) {
                    cfg_error(p,
                              "bridge \"%s\" has member \"%s\" of this "
                              "alias; list only bridges without members",
                              s, al->members[m].name);
                }
            }
            if (!p->error) {
                al->access_bridges[al->n_access_bridges++] = xstrdup(s);
            }
        }
        path_pop(p, mark);
    }
}

static bool
parse_alias(struct cfg_parser *p, struct config *cfg, const json_t *v,
            size_t idx)
{
    static const char *const keys[] = {
        "name",    "addresses",        "vmac",
        "preempt", "preempt_delay_ms", "announce",
        "probe",   "members",          "access_bridges",
        NULL,
    };
    struct cfg_alias *al = &cfg->aliases[idx];

    al->preempt = true;
    al->announce = (struct cfg_announce){
        .count = DEFAULT_ANNOUNCE_COUNT,
        .interval_ms = DEFAULT_ANNOUNCE_INTERVAL_MS,
        .refresh_s = DEFAULT_ANNOUNCE_REFRESH_S,
    };
    al->probe = (struct cfg_probe){
        .type = CFG_PROBE_ARP,
        .interval_ms = DEFAULT_PROBE_INTERVAL_MS,
        .timeout_ms = DEFAULT_PROBE_INTERVAL_MS,
        .fall = DEFAULT_PROBE_FALL,
        .rise = DEFAULT_PROBE_RISE,
    };

    if (!check_object(p, v, keys)
        || !field_string(p, v, "name", check_name, &al->name)) {
        return false;
    }
    void *prev = shash_find_data(&p->alias_names, al->name);
    if (prev) {
        size_t mark = path_push_key(p, "name");
        cfg_error(
            p, "alias \"%s\" is defined twice (also aliases[%" PRIuSIZE "])",
            al->name, data_to_index(prev));
        path_pop(p, mark);
        return false;
    }
    shash_add(&p->alias_names, al->name, index_to_data(idx));

    /* Required arrays and the VMAC. */
    const json_t *addrs = json_object_get(v, "addresses");
    const json_t *vmac = json_object_get(v, "vmac");
    const json_t *members = json_object_get(v, "members");
    if (!addrs) {
        return field_missing(p, "addresses");
    } else if (!vmac) {
        return field_missing(p, "vmac");
    } else if (!members) {
        return field_missing(p, "members");
    }

    size_t mark = path_push_key(p, "addresses");
    parse_addresses(p, addrs, idx, al, cfg);
    path_pop(p, mark);
    if (p->error) {
        return false;
    }

    mark = path_push_key(p, "vmac");
    const char *s;
    if (check_string(p, vmac, &s) && check_mac(p, s, "a VMAC", &al->vmac)) {
        char text[ETH_ADDR_STRLEN + 1];
        snprintf(text, sizeof text, ETH_ADDR_FMT, ETH_ADDR_ARGS(al->vmac));
        void *other = shash_find_data(&p->vmacs, text);
        if (other) {
            cfg_error(p, "%s is already the VMAC of alias \"%s\"", text,
                      cfg->aliases[data_to_index(other)].name);
        } else {
            shash_add(&p->vmacs, text, index_to_data(idx));
        }
    }
    path_pop(p, mark);
    if (p->error) {
        return false;
    }

    if (!field_bool(p, v, "preempt", &al->preempt)
        || !field_uint(p, v, "preempt_delay_ms", 0, 3600000, NULL,
                       &al->preempt_delay_ms)) {
        return false;
    }

    const json_t *announce = json_object_get(v, "announce");
    if (announce) {
        mark = path_push_key(p, "announce");
        parse_announce(p, announce, &al->announce);
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *probe = json_object_get(v, "probe");
    if (probe) {
        mark = path_push_key(p, "probe");
        parse_probe(p, probe, &al->probe);
        path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    mark = path_push_key(p, "members");
    parse_members(p, cfg, members, al);
    path_pop(p, mark);
    if (p->error) {
        return false;
    }

    const json_t *access = json_object_get(v, "access_bridges");
    if (access) {
        mark = path_push_key(p, "access_bridges");
        parse_access_bridges(p, access, al);
        path_pop(p, mark);
    }
    return !p->error;
}

/* Checks members against every alias: a member's mac must not be a VMAC
 * and its ip must not be an alias address. */
static bool
check_members_vs_aliases(struct cfg_parser *p, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_aliases && !p->error; i++) {
        const struct cfg_alias *al = &cfg->aliases[i];
        for (size_t j = 0; j < al->n_members && !p->error; j++) {
            const struct cfg_member *m = &al->members[j];
            size_t mark = p->path.length;
            ds_put_format(&p->path,
                          "aliases[%" PRIuSIZE "].members[%" PRIuSIZE "]", i,
                          j);
            if (m->has_mac) {
                char text[ETH_ADDR_STRLEN + 1];
                snprintf(text, sizeof text, ETH_ADDR_FMT,
                         ETH_ADDR_ARGS(m->mac));
                void *other = shash_find_data(&p->vmacs, text);
                if (other) {
                    path_push_key(p, "mac");
                    cfg_error(p,
                              "%s is the VMAC of alias \"%s\"; a member "
                              "needs its own MAC",
                              text, cfg->aliases[data_to_index(other)].name);
                }
            }
            if (m->has_ip && !p->error) {
                struct cfg_ip ip = {
                    .is_v6 = m->ip_is_v6,
                    .ip4 = m->ip4,
                    .ip6 = m->ip6,
                };
                char text[INET6_ADDRSTRLEN];
                cfg_ip_format(&ip, text);
                void *other = shash_find_data(&p->addresses, text);
                if (other) {
                    path_push_key(p, "ip");
                    cfg_error(p,
                              "%s is an address of alias \"%s\"; a "
                              "member's ip is its own address",
                              text, cfg->aliases[data_to_index(other)].name);
                }
            }
            path_pop(p, mark);
        }
    }
    return !p->error;
}

static uint32_t
alias_hash_id(const char *name)
{
    /* 32-bit FNV-1a. */
    uint32_t h = 2166136261u;
    for (const unsigned char *c = (const unsigned char *) name; *c; c++) {
        h ^= *c;
        h *= 16777619u;
    }
    h &= ALIAS_ID_MAX;
    return h ? h : 1;
}

static int
compare_alias_names(const void *a_, const void *b_)
{
    const struct cfg_alias *const *a = a_;
    const struct cfg_alias *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* Gives every alias its id: the hash of its name, or on a collision the
 * next free value, processing aliases in name order so that the result
 * does not depend on their order in the file. */
static void
assign_alias_ids(struct config *cfg)
{
    size_t n = cfg->n_aliases;
    if (!n) {
        return;
    }

    struct cfg_alias **sorted = xmalloc(n * sizeof *sorted);
    for (size_t i = 0; i < n; i++) {
        sorted[i] = &cfg->aliases[i];
    }
    qsort(sorted, n, sizeof *sorted, compare_alias_names);

    /* Open addressing set of used ids (0 marks a free slot). */
    size_t cap = 4;
    while (cap < 2 * n) {
        cap *= 2;
    }
    uint32_t *used = xcalloc(cap, sizeof *used);

    for (size_t i = 0; i < n; i++) {
        uint32_t id = alias_hash_id(sorted[i]->name);
        for (;;) {
            size_t slot = (id * 2654435761u) & (cap - 1);
            while (used[slot] && used[slot] != id) {
                slot = (slot + 1) & (cap - 1);
            }
            if (!used[slot]) {
                used[slot] = id;
                break;
            }
            id = id % ALIAS_ID_MAX + 1; /* Wraps to 1, never 0. */
        }
        sorted[i]->id = id;
    }
    free(used);
    free(sorted);
}

static bool
parse_config(struct cfg_parser *p, const json_t *root, struct config *cfg)
{
    static const char *const keys[] = {
        "openflow", "api", "bridges", "aliases", NULL,
    };
    if (!check_object(p, root, keys)) {
        return false;
    }

    const json_t *v = json_object_get(root, "openflow");
    if (v) {
        size_t mark = path_push_key(p, "openflow");
        parse_openflow(p, v, cfg);
        path_pop(p, mark);
    }

    v = json_object_get(root, "api");
    if (v && !p->error) {
        size_t mark = path_push_key(p, "api");
        parse_api(p, v, cfg);
        path_pop(p, mark);
    }

    v = json_object_get(root, "bridges");
    if (v && !p->error) {
        size_t mark = path_push_key(p, "bridges");
        parse_bridges(p, v, cfg);
        path_pop(p, mark);
    }

    v = json_object_get(root, "aliases");
    if (v && !p->error) {
        size_t mark = path_push_key(p, "aliases");
        if (check_array(p, v)) {
            size_t n = json_array_size(v);
            cfg->aliases = xcalloc(n, sizeof *cfg->aliases);
            cfg->n_aliases = n;
            for (size_t i = 0; i < n && !p->error; i++) {
                size_t mark2 = path_push_index(p, i);
                parse_alias(p, cfg, json_array_get(v, i), i);
                path_pop(p, mark2);
            }
        }
        path_pop(p, mark);
    }

    if (p->error || !check_members_vs_aliases(p, cfg)) {
        return false;
    }
    assign_alias_ids(cfg);
    return true;
}

static struct config *
config_create_default(const char *origin)
{
    struct config *cfg = xzalloc(sizeof *cfg);
    cfg->origin = xstrdup(origin);
    cfg->listen = xmalloc(sizeof *cfg->listen);
    cfg->listen[0] = xstrdup(DEFAULT_LISTEN);
    cfg->n_listen = 1;
    cfg->inactivity_probe_ms = DEFAULT_INACTIVITY_PROBE_MS;
    cfg->base_table = 0;
    cfg->next_table = -1;
    cfg->cookie_prefix = DEFAULT_COOKIE_PREFIX;
    cfg->api_socket = xstrdup(DEFAULT_API_SOCKET);
    return cfg;
}

struct config *
config_parse_json(const json_t *json, const char *origin, char **errp)
{
    struct cfg_parser p = {
        .origin = origin,
        .path = DS_EMPTY_INITIALIZER,
    };
    shash_init(&p.alias_names);
    shash_init(&p.addresses);
    shash_init(&p.vmacs);

    struct config *cfg = config_create_default(origin);
    if (!parse_config(&p, json, cfg)) {
        config_destroy(cfg);
        cfg = NULL;
    }

    ds_destroy(&p.path);
    shash_destroy(&p.alias_names);
    shash_destroy(&p.addresses);
    shash_destroy(&p.vmacs);
    *errp = p.error;
    return cfg;
}

static char *
format_json_error(const char *origin, const json_error_t *err)
{
    if (err->line > 0) {
        return xasprintf("%s:%d:%d: %s", origin, err->line, err->column,
                         err->text);
    }
    return xasprintf("%s: %s", origin, err->text);
}

struct config *
config_parse_string(const char *json, const char *origin, char **errp)
{
    json_error_t err;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        *errp = format_json_error(origin, &err);
        return NULL;
    }
    struct config *cfg = config_parse_json(root, origin, errp);
    json_decref(root);
    return cfg;
}

struct config *
config_load(const char *path, char **errp)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *errp = xasprintf("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }

    json_error_t err;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    bool read_error = ferror(f);
    fclose(f);
    if (!root) {
        *errp = (read_error
                     ? xasprintf("%s: read error: %s", path, strerror(errno))
                     : format_json_error(path, &err));
        return NULL;
    }
    struct config *cfg = config_parse_json(root, path, errp);
    json_decref(root);
    return cfg;
}

/* Destruction. */

static void
alias_destroy(struct cfg_alias *al)
{
    free(al->name);
    free(al->ip4);
    free(al->ip6);
    for (size_t i = 0; i < al->n_members; i++) {
        struct cfg_member *m = &al->members[i];
        free(m->name);
        free(m->bridge);
        free(m->port);
    }
    free(al->members);
    free_strings(al->access_bridges, al->n_access_bridges);
}

void
config_destroy(struct config *cfg)
{
    if (!cfg) {
        return;
    }

    free(cfg->origin);
    free_strings(cfg->listen, cfg->n_listen);
    free_strings(cfg->connect, cfg->n_connect);
    free(cfg->api_socket);
    free(cfg->api_group);
    free(cfg->api_tcp_address);
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        free(cfg->bridges[i].name);
        free_strings(cfg->bridges[i].uplinks, cfg->bridges[i].n_uplinks);
    }
    free(cfg->bridges);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        alias_destroy(&cfg->aliases[i]);
    }
    free(cfg->aliases);
    free(cfg);
}
