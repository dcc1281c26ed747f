/*
 * config-check: the config parser's state, the checkers of single values
 * (names, MACs, addresses, OpenFlow targets) and the field helpers, each
 * reporting at the path of the field being parsed (config-private.h).
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

#include "config-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "util.h"
#include "verror.h"

/* Records the first error: its kind (verror.h), the path of its field
 * ('key' appended to the current path, if nonnull) and its message
 * "ORIGIN: PATH: problem". */
static void
record_error(struct cfg_parser *p, const char *kind, const char *key,
             const char *format, va_list args)
{
    if (p->error) {
        return;
    }

    struct ds field = DS_EMPTY_INITIALIZER;
    ds_put_cstr(&field, ds_cstr(&p->path));
    if (key) {
        ds_put_format(&field, "%s%s", field.length ? "." : "", key);
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    if (p->origin) {
        ds_put_format(&s, "%s: ", p->origin);
    }
    if (p->path.length) {
        ds_put_format(&s, "%s: ", ds_cstr(&p->path));
    }
    ds_put_format_valist(&s, format, args);
    p->error = ds_steal_cstr(&s);
    p->error_kind = kind;
    p->error_field = field.length ? ds_steal_cstr(&field) : NULL;
    ds_destroy(&field);
}

void
cfgp_error(struct cfg_parser *p, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    record_error(p, VERR_INVALID, NULL, format, args);
    va_end(args);
}

void
cfgp_conflict(struct cfg_parser *p, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    record_error(p, VERR_CONFLICT, NULL, format, args);
    va_end(args);
}

static void OVS_PRINTF_FORMAT(4, 5)
    key_error(struct cfg_parser *p, const char *kind, const char *key,
              const char *format, ...)
{
    va_list args;
    va_start(args, format);
    record_error(p, kind, key, format, args);
    va_end(args);
}

int
cfgp_to_verror(struct cfg_parser *p, struct verror *e)
{
    if (!p->error) {
        return 0;
    }
    int code = p->error_kind == VERR_CONFLICT ? EEXIST : EINVAL;
    verror_set(e, code, p->error_kind, p->error_field, "%s", p->error);
    return code;
}

void
cfgp_parser_destroy(struct cfg_parser *p)
{
    ds_destroy(&p->path);
    shash_destroy(&p->alias_names);
    free(p->error);
    free(p->error_field);
}

size_t
cfgp_path_push_key(struct cfg_parser *p, const char *key)
{
    size_t mark = p->path.length;
    if (mark) {
        ds_put_char(&p->path, '.');
    }
    ds_put_cstr(&p->path, key);
    return mark;
}

size_t
cfgp_path_push_index(struct cfg_parser *p, size_t index)
{
    size_t mark = p->path.length;
    ds_put_format(&p->path, "[%" PRIuSIZE "]", index);
    return mark;
}

void
cfgp_path_pop(struct cfg_parser *p, size_t mark)
{
    ds_truncate(&p->path, mark);
}

void
cfgp_free_strings(char **strings, size_t n)
{
    if (strings) {
        for (size_t i = 0; i < n; i++) {
            free(strings[i]);
        }
        free(strings);
    }
}

void *
cfgp_index_to_data(size_t index)
{
    return (void *) (uintptr_t) (index + 1);
}

size_t
cfgp_data_to_index(const void *data)
{
    return (uintptr_t) data - 1;
}

const char *
cfgp_json_kind(const json_t *v)
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
bool
cfgp_check_object(struct cfg_parser *p, const json_t *v,
                  const char *const allowed[])
{
    if (!json_is_object(v)) {
        cfgp_error(p, "expected an object, got %s", cfgp_json_kind(v));
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
            key_error(p, VERR_UNKNOWN_FIELD, key,
                      "unknown key \"%s\" (allowed: %s)", key,
                      ds_cstr(&list));
            ds_destroy(&list);
            return false;
        }
    }
    return true;
}

bool
cfgp_check_string(struct cfg_parser *p, const json_t *v, const char **s)
{
    if (!json_is_string(v)) {
        cfgp_error(p, "expected a string, got %s", cfgp_json_kind(v));
        return false;
    }
    *s = json_string_value(v);
    return true;
}

bool
cfgp_check_array(struct cfg_parser *p, const json_t *v)
{
    if (!json_is_array(v)) {
        cfgp_error(p, "expected an array, got %s", cfgp_json_kind(v));
        return false;
    }
    return true;
}

bool
cfgp_check_int(struct cfg_parser *p, const json_t *v, long long min,
               long long max, const char *hint, long long *out)
{
    if (!json_is_integer(v)) {
        cfgp_error(p, "expected an integer, got %s", cfgp_json_kind(v));
        return false;
    }
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        cfgp_error(p, "%lld is out of range (%lld..%lld)%s%s", x, min, max,
                   hint ? "; " : "", hint ? hint : "");
        return false;
    }
    *out = x;
    return true;
}

/* Names of aliases and members: [A-Za-z0-9_.-]{1,63}, not "." or "..":
 * the API takes names in paths, where those two cannot be used. */
bool
cfgp_check_name(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    if (!len) {
        cfgp_error(p, "a name cannot be empty");
        return false;
    }
    if (!strcmp(s, ".") || !strcmp(s, "..")) {
        cfgp_error(p, "\"%s\" cannot be a name", s);
        return false;
    }
    if (len > NAME_MAX_LEN) {
        cfgp_error(p,
                   "\"%s\" is %" PRIuSIZE " characters long; "
                   "a name has at most %d",
                   s, len, NAME_MAX_LEN);
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!isalnum((unsigned char) *c) && !strchr("_.-", *c)) {
            cfgp_error(p,
                       "\"%s\" contains '%c' (0x%02x); a name may only "
                       "use letters, digits, '_', '.' and '-'",
                       s, isprint((unsigned char) *c) ? *c : '?',
                       (unsigned char) *c);
            return false;
        }
    }
    return true;
}

/* Bridge and port names, as Linux accepts interface names (ifname.h: the
 * same rule applies to the names switches give their bridges). */
bool
cfgp_check_ifname(struct cfg_parser *p, const char *s)
{
    const char *rule = ifname_problem(s);
    if (!rule) {
        return true;
    }
    size_t len = strlen(s);
    if (!len) {
        cfgp_error(p, "an interface name cannot be empty");
    } else if (len > IFNAME_MAX_LEN) {
        cfgp_error(p,
                   "\"%s\" is %" PRIuSIZE " characters long; "
                   "an interface name has at most %d",
                   s, len, IFNAME_MAX_LEN);
    } else {
        cfgp_error(p, "\"%s\" is not a valid interface name (%s)", s, rule);
    }
    return false;
}

/* Parses 'mac' in strict xx:xx:xx:xx:xx:xx form (either case) and checks
 * that it is unicast.  'what' names the role in messages. */
bool
cfgp_check_mac(struct cfg_parser *p, const char *s, const char *what,
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
        cfgp_error(p,
                   "\"%s\" is not a MAC address "
                   "(expected xx:xx:xx:xx:xx:xx)",
                   s);
        return false;
    }

    if (eth_addr_is_zero(*mac)) {
        cfgp_error(p, "\"%s\" is all zeros; %s must be a unicast address", s,
                   what);
        return false;
    }
    if (eth_addr_is_broadcast(*mac)) {
        cfgp_error(p, "\"%s\" is the broadcast address; %s must be unicast", s,
                   what);
        return false;
    }
    if (eth_addr_is_multicast(*mac)) {
        cfgp_error(p, "\"%s\" is a multicast address; %s must be unicast", s,
                   what);
        return false;
    }
    return true;
}

void
cfgp_cfg_ip_format(const struct cfg_ip *ip, char buf[INET6_ADDRSTRLEN])
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
const char *
cfgp_ip_unusable_reason(const struct cfg_ip *ip)
{
    if (!ip->is_v6) {
        uint32_t h = ntohl(ip->ip4);
        if (h == 0xffffffff) {
            return "is the broadcast address";
        } else if ((h >> 24) == 0) {
            return "is in 0.0.0.0/8 (\"this network\")";
        } else if ((h >> 24) == 127) {
            return "is a loopback address";
        } else if ((h >> 16) == 0xa9fe) {
            return "is a link-local address (169.254.0.0/16)";
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
bool
cfgp_check_ip(struct cfg_parser *p, const char *s, const char *what,
              struct cfg_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    ip->is_v6 = strchr(s, ':') != NULL;
    int ok = (ip->is_v6 ? inet_pton(AF_INET6, s, &ip->ip6)
                        : inet_pton(AF_INET, s, &ip->ip4));
    if (ok != 1) {
        cfgp_error(p, "\"%s\" is not an IPv4 or IPv6 address%s", s,
                   strchr(s, '/') ? " (a prefix length is not allowed here)"
                                  : "");
        return false;
    }

    const char *reason = cfgp_ip_unusable_reason(ip);
    if (reason) {
        cfgp_error(p, "%s %s; %s must be a unicast host address", s, reason,
                   what);
        return false;
    }
    return true;
}

/* Parses decimal 'port' (1..65535) of 'len' bytes. */
bool
cfgp_parse_port(const char *s, size_t len)
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
bool
cfgp_parse_target_ip(const char *s, size_t len)
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

/* Returns true if 's' is an "ssl:" or "pssl:" target. */
bool
cfgp_target_is_tls(const char *s)
{
    return !strncmp(s, "ssl:", 4) || !strncmp(s, "pssl:", 5);
}

/* Returns NULL if 's' is a valid OpenFlow target of the kind wanted
 * ('passive' for "listen", active for "connect"), otherwise a reason. */
const char *
cfgp_target_problem(const char *s, bool passive)
{
    const char *syntax
        = (passive ? "expected ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH"
                   : "expected tcp:IP:PORT, ssl:IP:PORT or unix:PATH");
    const char *unix_prefix = passive ? "punix:" : "unix:";
    const char *tcp_prefix = passive ? "ptcp:" : "tcp:";
    if (cfgp_target_is_tls(s)) {
        /* The same syntax as the TCP target. */
        tcp_prefix = passive ? "pssl:" : "ssl:";
    }

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
            if (!cfgp_parse_port(rest, port_len)) {
                return "the port must be a number in 1..65535";
            }
            if (colon && !cfgp_parse_target_ip(colon + 1, strlen(colon + 1))) {
                return "the IP must be IPv4 or [IPv6] in brackets";
            }
            return NULL;
        } else {
            /* IP:PORT */
            const char *colon = strrchr(rest, ':');
            if (!colon) {
                return syntax;
            }
            if (!cfgp_parse_target_ip(rest, colon - rest)) {
                return "the IP must be IPv4 or [IPv6] in brackets";
            }
            if (!cfgp_parse_port(colon + 1, strlen(colon + 1))) {
                return "the port must be a number in 1..65535";
            }
            return NULL;
        }
    }
    return syntax;
}

/* Field helpers: each looks up 'key' in 'obj' and checks it at path
 * "...key".  Optional fields that are absent leave '*out' alone. */

bool
cfgp_field_missing(struct cfg_parser *p, const char *key)
{
    key_error(p, VERR_MISSING_FIELD, key, "missing required key \"%s\"",
              key);
    return false;
}

bool
cfgp_field_int(struct cfg_parser *p, const json_t *obj, const char *key,
               long long min, long long max, const char *hint, long long *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return true;
    }
    size_t mark = cfgp_path_push_key(p, key);
    bool ok = cfgp_check_int(p, v, min, max, hint, out);
    cfgp_path_pop(p, mark);
    return ok;
}

bool
cfgp_field_uint(struct cfg_parser *p, const json_t *obj, const char *key,
                long long min, long long max, const char *hint,
                unsigned int *out)
{
    long long x = *out;
    bool ok = cfgp_field_int(p, obj, key, min, max, hint, &x);
    *out = x;
    return ok;
}

bool
cfgp_field_bool(struct cfg_parser *p, const json_t *obj, const char *key,
                bool *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return true;
    }
    if (!json_is_boolean(v)) {
        size_t mark = cfgp_path_push_key(p, key);
        cfgp_error(p, "expected true or false, got %s", cfgp_json_kind(v));
        cfgp_path_pop(p, mark);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* Required string field checked by 'check' (cfgp_check_name,
 * cfgp_check_ifname). */
bool
cfgp_field_string(struct cfg_parser *p, const json_t *obj, const char *key,
                  bool (*check)(struct cfg_parser *, const char *), char **out)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        return cfgp_field_missing(p, key);
    }
    size_t mark = cfgp_path_push_key(p, key);
    const char *s;
    bool ok = cfgp_check_string(p, v, &s) && check(p, s);
    if (ok) {
        *out = xstrdup(s);
    }
    cfgp_path_pop(p, mark);
    return ok;
}
