/*
 * config-alias: parsing and validation of "aliases[]" and their members
 * (config-private.h); the cross checks between aliases use the parser's
 * hash maps, so ten thousand aliases still parse in linear time.
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
        cfgp_check_object(p, v, keys)
        && cfgp_field_uint(p, v, "count", 0, 100, NULL, &an->count)
        && cfgp_field_uint(p, v, "interval_ms", 1, 60000, NULL,
                           &an->interval_ms)
        && cfgp_field_uint(p, v, "refresh_s", 0, 299,
                           "keep it below the typical switch MAC aging time "
                           "of 300 s (0 disables refreshes)",
                           &an->refresh_s));
}

/* "notify.program": an absolute path (the hook runs with a fixed PATH and
 * no working directory of the caller's). */
static bool
check_program(struct cfg_parser *p, const char *s)
{
    if (s[0] != '/') {
        cfgp_error(p, "\"%s\" is not an absolute path", s);
        return false;
    } else if (strlen(s) >= 4096) {
        cfgp_error(p, "the program path is longer than 4095 bytes");
        return false;
    }
    return true;
}

/* The alias 'al_json''s optional "notify"; false on error. */
static bool
parse_notify(struct cfg_parser *p, const json_t *al_json,
             struct cfg_notify *nt)
{
    static const char *const keys[] = {
        "program",
        "timeout_ms",
        NULL,
    };
    const json_t *v = json_object_get(al_json, "notify");
    if (!v) {
        return true;
    }
    size_t mark = cfgp_path_push_key(p, "notify");
    bool ok
        = (cfgp_check_object(p, v, keys)
           && cfgp_field_string(p, v, "program", check_program, &nt->program)
           && cfgp_field_uint(p, v, "timeout_ms", 1, 600000, NULL,
                              &nt->timeout_ms));
    cfgp_path_pop(p, mark);
    return ok;
}

static bool
parse_probe(struct cfg_parser *p, const json_t *v, struct cfg_probe *pr)
{
    static const char *const keys[] = {
        "type",       "interval_ms", "backup_interval_ms",
        "timeout_ms", "fall",        "rise",
        "port",       NULL,
    };
    if (!cfgp_check_object(p, v, keys)) {
        return false;
    }

    const json_t *type = json_object_get(v, "type");
    if (type) {
        size_t mark = cfgp_path_push_key(p, "type");
        const char *s;
        if (cfgp_check_string(p, type, &s)) {
            if (!strcmp(s, "arp")) {
                pr->type = CFG_PROBE_ARP;
            } else if (!strcmp(s, "tcp")) {
                pr->type = CFG_PROBE_TCP;
            } else if (!strcmp(s, "none")) {
                pr->type = CFG_PROBE_NONE;
            } else {
                cfgp_error(p,
                           "\"%s\" is not a probe type (expected \"arp\", "
                           "\"tcp\" or \"none\")",
                           s);
            }
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    bool has_timeout = json_object_get(v, "timeout_ms") != NULL;
    /* A member's probe starts from its alias's: it inherits the port while
     * it stays a tcp probe. */
    unsigned int port = pr->type == CFG_PROBE_TCP ? pr->tcp_port : 0;
    if (!cfgp_field_uint(p, v, "interval_ms", 10, 60000, NULL,
                         &pr->interval_ms)
        || !cfgp_field_uint(p, v, "backup_interval_ms", 10, 60000, NULL,
                            &pr->backup_interval_ms)
        || !cfgp_field_uint(p, v, "timeout_ms", 1, 60000, NULL,
                            &pr->timeout_ms)
        || !cfgp_field_uint(p, v, "fall", 1, 100, NULL, &pr->fall)
        || !cfgp_field_uint(p, v, "rise", 1, 100, NULL, &pr->rise)
        || !cfgp_field_uint(p, v, "port", 1, 65535, NULL, &port)) {
        return false;
    }
    if (!has_timeout) {
        pr->timeout_ms = pr->interval_ms;
    }

    if (pr->type == CFG_PROBE_TCP && !port) {
        cfgp_error(p, "a tcp probe needs \"port\" (1..65535)");
        return false;
    } else if (pr->type != CFG_PROBE_TCP && port) {
        size_t mark = cfgp_path_push_key(p, "port");
        cfgp_error(p, "only a tcp probe takes a port");
        cfgp_path_pop(p, mark);
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
        "name",     "bridge", "port",    "mac",      "ip",
        "priority", "probe",  "drained", "iface_id", NULL,
    };
    if (!cfgp_check_object(p, v, keys)
        || !cfgp_field_string(p, v, "name", cfgp_check_name, &m->name)
        || !cfgp_field_string(p, v, "bridge", cfgp_check_ifname, &m->bridge)
        || !cfgp_parse_member_port(p, v, m)) {
        return false;
    }

    if (config_is_uplink(cfg, m->bridge, m->port)) {
        size_t mark = cfgp_path_push_key(p, "port");
        cfgp_error(p,
                   "\"%s\" is an uplink of bridge \"%s\"; a member "
                   "cannot sit behind an uplink",
                   m->port, m->bridge);
        cfgp_path_pop(p, mark);
        return false;
    }
    if (!strcmp(m->port, m->bridge)) {
        size_t mark = cfgp_path_push_key(p, "port");
        cfgp_error(p, "\"%s\" is the bridge's own LOCAL port", m->port);
        cfgp_path_pop(p, mark);
        return false;
    }

    const json_t *mac = json_object_get(v, "mac");
    if (mac) {
        size_t mark = cfgp_path_push_key(p, "mac");
        const char *s;
        m->has_mac = (cfgp_check_string(p, mac, &s)
                      && cfgp_check_mac(p, s, "a member's mac", &m->mac));
        cfgp_path_pop(p, mark);
        if (!m->has_mac) {
            return false;
        }
    }

    const json_t *ip = json_object_get(v, "ip");
    if (ip) {
        size_t mark = cfgp_path_push_key(p, "ip");
        const char *s;
        struct cfg_ip a;
        m->has_ip = (cfgp_check_string(p, ip, &s)
                     && cfgp_check_ip(p, s, "a member's ip", &a));
        cfgp_path_pop(p, mark);
        if (!m->has_ip) {
            return false;
        }
        m->ip_is_v6 = a.is_v6;
        m->ip4 = a.ip4;
        m->ip6 = a.ip6;
    }

    unsigned int prio = DEFAULT_PRIORITY;
    if (!cfgp_field_uint(p, v, "priority", 0, 255, NULL, &prio)) {
        return false;
    }
    m->priority = prio;

    const json_t *probe = json_object_get(v, "probe");
    if (probe) {
        size_t mark = cfgp_path_push_key(p, "probe");
        m->has_probe = true;
        parse_probe(p, probe, &m->probe);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    if (!cfgp_field_bool(p, v, "drained", &m->drained)) {
        return false;
    }
    if (!m->has_mac && !config_member_probed(m)) {
        cfgp_error(p,
                   "member \"%s\" needs \"mac\": only a probed member "
                   "(with \"ip\" and a probe type other than \"none\") "
                   "can learn it",
                   m->name);
        return false;
    }
    return true;
}

static bool
parse_members(struct cfg_parser *p, const json_t *arr, struct cfg_alias *al)
{
    if (!cfgp_check_array(p, arr)) {
        return false;
    }

    size_t n = json_array_size(arr);
    al->members = xcalloc(n, sizeof *al->members);
    al->n_members = n;
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = cfgp_path_push_index(p, i);
        struct cfg_member *m = &al->members[i];
        m->probe = al->probe;
        if (parse_member(p, p->cfg, json_array_get(arr, i), m)) {
            for (size_t j = 0; j < i; j++) {
                const struct cfg_member *o = &al->members[j];
                if (!strcmp(o->name, m->name)) {
                    size_t m2 = cfgp_path_push_key(p, "name");
                    cfgp_error(p,
                               "member \"%s\" is listed twice (also "
                               "members[%" PRIuSIZE "])",
                               m->name, j);
                    cfgp_path_pop(p, m2);
                    break;
                }
                if (!cfgp_check_member_iface_ids(p, o, m)) {
                    break;
                }
                if (!strcmp(o->bridge, m->bridge) && !m->iface_id
                    && !o->iface_id && !strcmp(o->port, m->port)) {
                    cfgp_conflict(p,
                                  "port \"%s\" on bridge \"%s\" is already "
                                  "used by member \"%s\"",
                                  m->port, m->bridge, o->name);
                    break;
                }
            }
        }
        cfgp_path_pop(p, mark);
    }
    return !p->error;
}

static bool
parse_addresses(struct cfg_parser *p, const json_t *arr, struct cfg_alias *al)
{
    if (!cfgp_check_array(p, arr)) {
        return false;
    }
    size_t n = json_array_size(arr);
    if (!n) {
        cfgp_error(p, "an alias needs at least one address");
        return false;
    }

    al->ip4 = xcalloc(n, sizeof *al->ip4);
    al->ip6 = xcalloc(n, sizeof *al->ip6);
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = cfgp_path_push_index(p, i);
        const char *s;
        struct cfg_ip ip;
        if (cfgp_check_string(p, json_array_get(arr, i), &s)
            && cfgp_check_ip(p, s, "an alias address", &ip)) {
            char text[INET6_ADDRSTRLEN];
            cfgp_cfg_ip_format(&ip, text);

            bool twice = false;
            for (size_t j = 0; j < al->n_ip4 && !ip.is_v6; j++) {
                twice |= al->ip4[j] == ip.ip4;
            }
            for (size_t j = 0; j < al->n_ip6 && ip.is_v6; j++) {
                twice |= ipv6_addr_equals(&al->ip6[j], &ip.ip6);
            }
            const struct cfg_alias *other
                = cfg_index_address(p->cfg, &ip, p->skip);
            if (twice) {
                cfgp_error(p, "%s is listed twice in this alias", text);
            } else if (other) {
                cfgp_conflict(p, "%s is already used by alias \"%s\"", text,
                              other->name);
            } else if (ip.is_v6) {
                al->ip6[al->n_ip6++] = ip.ip6;
            } else {
                al->ip4[al->n_ip4++] = ip.ip4;
            }
        }
        cfgp_path_pop(p, mark);
    }
    return !p->error;
}

/* "access_bridges": bridge names, each once, none that already has a
 * member of the alias (it carries the alias anyway). */
static void
parse_access_bridges(struct cfg_parser *p, const json_t *v,
                     struct cfg_alias *al)
{
    if (!cfgp_check_array(p, v)) {
        return;
    }
    size_t n = json_array_size(v);
    al->access_bridges = xcalloc(MAX(n, 1), sizeof *al->access_bridges);
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = cfgp_path_push_index(p, i);
        const char *s;
        if (cfgp_check_string(p, json_array_get(v, i), &s)
            && cfgp_check_ifname(p, s)) {
            for (size_t j = 0; j < al->n_access_bridges && !p->error; j++) {
                if (!strcmp(al->access_bridges[j], s)) {
                    cfgp_error(p,
                               "bridge \"%s\" is listed twice (also "
                               "access_bridges[%" PRIuSIZE "])",
                               s, j);
                }
            }
            for (size_t m = 0; m < al->n_members && !p->error; m++) {
                if (!strcmp(al->members[m].bridge, s)) {
                    cfgp_error(p,
                               "bridge \"%s\" has member \"%s\" of this "
                               "alias; list only bridges without members",
                               s, al->members[m].name);
                }
            }
            if (!p->error) {
                al->access_bridges[al->n_access_bridges++] = xstrdup(s);
            }
        }
        cfgp_path_pop(p, mark);
    }
}

/* A copy of 'n' elements of 'size' bytes at 'p' (NULL for none). */
static void *
copy_array(const void *p, size_t n, size_t size)
{
    return n ? xmemdup(p, n * size) : NULL;
}

struct cfg_alias *
cfg_alias_with_ports(const struct cfg_alias *a, const char *const *ports)
{
    struct cfg_alias *c = xmemdup(a, sizeof *a);
    c->name = xstrdup(a->name);
    c->ip4 = copy_array(a->ip4, a->n_ip4, sizeof *a->ip4);
    c->ip6 = copy_array(a->ip6, a->n_ip6, sizeof *a->ip6);
    c->members = copy_array(a->members, a->n_members, sizeof *a->members);
    for (size_t i = 0; i < a->n_members; i++) {
        const struct cfg_member *om = &a->members[i];
        struct cfg_member *m = &c->members[i];
        m->name = xstrdup(om->name);
        m->bridge = xstrdup(om->bridge);
        m->port = xstrdup(ports[i] ? ports[i] : om->port);
        m->iface_id = nullable_xstrdup(om->iface_id);
    }
    c->access_bridges = copy_array(a->access_bridges, a->n_access_bridges,
                                   sizeof *a->access_bridges);
    for (size_t i = 0; i < a->n_access_bridges; i++) {
        c->access_bridges[i] = xstrdup(a->access_bridges[i]);
    }
    c->refcnt = 1;
    c->json_text = NULL;
    c->json_len = 0;
    return c;
}

void
cfgp_alias_free(struct cfg_alias *al)
{
    if (!al) {
        return;
    }
    free(al->name);
    free(al->ip4);
    free(al->ip6);
    for (size_t i = 0; i < al->n_members; i++) {
        struct cfg_member *m = &al->members[i];
        free(m->name);
        free(m->bridge);
        free(m->port);
        free(m->iface_id);
    }
    free(al->members);
    cfgp_free_strings(al->access_bridges, al->n_access_bridges);
    free(al->notify.program);
    free(al->json_text);
    free(al);
}

static bool
parse_alias(struct cfg_parser *p, const json_t *v, size_t idx,
            struct cfg_alias *al)
{
    static const char *const keys[] = {
        "name",
        "addresses",
        "vmac",
        "preempt",
        "preempt_delay_ms",
        "announce",
        "probe",
        "members",
        "access_bridges",
        "notify",
        NULL,
    };

    al->preempt = true;
    al->announce = (struct cfg_announce){
        .count = DEFAULT_ANNOUNCE_COUNT,
        .interval_ms = DEFAULT_ANNOUNCE_INTERVAL_MS,
        .refresh_s = DEFAULT_ANNOUNCE_REFRESH_S,
    };
    al->notify.timeout_ms = DEFAULT_NOTIFY_TIMEOUT_MS;
    al->probe = (struct cfg_probe){
        .type = CFG_PROBE_ARP,
        .interval_ms = DEFAULT_PROBE_INTERVAL_MS,
        .timeout_ms = DEFAULT_PROBE_INTERVAL_MS,
        .fall = DEFAULT_PROBE_FALL,
        .rise = DEFAULT_PROBE_RISE,
    };

    if (!cfgp_check_object(p, v, keys)
        || !cfgp_field_string(p, v, "name", cfgp_check_name, &al->name)) {
        return false;
    }
    if (!p->skip) {
        void *prev = shash_find_data(&p->alias_names, al->name);
        const struct cfg_alias *other = cfg_index_name(p->cfg, al->name);
        if (prev || other) {
            size_t mark = cfgp_path_push_key(p, "name");
            if (prev) {
                cfgp_conflict(p,
                              "alias \"%s\" is defined twice (also "
                              "aliases[%" PRIuSIZE "])",
                              al->name, cfgp_data_to_index(prev));
            } else {
                cfgp_conflict(p, "alias \"%s\" already exists", al->name);
            }
            cfgp_path_pop(p, mark);
            return false;
        }
        shash_add(&p->alias_names, al->name, cfgp_index_to_data(idx));
    }

    /* Required arrays and the VMAC. */
    const json_t *addrs = json_object_get(v, "addresses");
    const json_t *vmac = json_object_get(v, "vmac");
    const json_t *members = json_object_get(v, "members");
    if (!addrs) {
        return cfgp_field_missing(p, "addresses");
    } else if (!vmac) {
        return cfgp_field_missing(p, "vmac");
    } else if (!members) {
        return cfgp_field_missing(p, "members");
    }

    size_t mark = cfgp_path_push_key(p, "addresses");
    parse_addresses(p, addrs, al);
    cfgp_path_pop(p, mark);
    if (p->error) {
        return false;
    }

    mark = cfgp_path_push_key(p, "vmac");
    const char *s;
    if (cfgp_check_string(p, vmac, &s)
        && cfgp_check_mac(p, s, "a VMAC", &al->vmac)) {
        const struct cfg_alias *other
            = cfg_index_vmac(p->cfg, al->vmac, p->skip);
        if (other) {
            cfgp_conflict(p,
                          ETH_ADDR_FMT " is already the VMAC of alias \"%s\"",
                          ETH_ADDR_ARGS(al->vmac), other->name);
        }
    }
    cfgp_path_pop(p, mark);
    if (p->error) {
        return false;
    }

    if (!cfgp_field_bool(p, v, "preempt", &al->preempt)
        || !cfgp_field_uint(p, v, "preempt_delay_ms", 0, 3600000, NULL,
                            &al->preempt_delay_ms)) {
        return false;
    }

    const json_t *announce = json_object_get(v, "announce");
    if (announce) {
        mark = cfgp_path_push_key(p, "announce");
        parse_announce(p, announce, &al->announce);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *probe = json_object_get(v, "probe");
    if (probe) {
        mark = cfgp_path_push_key(p, "probe");
        parse_probe(p, probe, &al->probe);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    if (!parse_notify(p, v, &al->notify)) {
        return false;
    }

    mark = cfgp_path_push_key(p, "members");
    parse_members(p, members, al);
    cfgp_path_pop(p, mark);
    if (p->error) {
        return false;
    }

    const json_t *access = json_object_get(v, "access_bridges");
    if (access) {
        mark = cfgp_path_push_key(p, "access_bridges");
        parse_access_bridges(p, access, al);
        cfgp_path_pop(p, mark);
    }
    return !p->error;
}

struct cfg_alias *
cfgp_parse_alias(struct cfg_parser *p, const json_t *v, size_t idx)
{
    struct cfg_alias *al = xzalloc(sizeof *al);
    al->refcnt = 1;
    if (!parse_alias(p, v, idx, al)) {
        cfgp_alias_free(al);
        return NULL;
    }
    return al;
}

/* Member 'm' of 'al' against the aliases of p->cfg (but p->skip) and 'al'
 * itself: its mac is no VMAC, its ip no alias address. */
static void
check_member(struct cfg_parser *p, const struct cfg_alias *al,
             const struct cfg_member *m)
{
    if (m->has_mac) {
        const struct cfg_alias *other
            = cfg_index_vmac(p->cfg, m->mac, p->skip);
        if (!other && eth_addr_equals(m->mac, al->vmac)) {
            other = al;
        }
        if (other) {
            size_t mark = cfgp_path_push_key(p, "mac");
            cfgp_conflict(p,
                          ETH_ADDR_FMT " is the VMAC of alias \"%s\"; a "
                                       "member needs its own MAC",
                          ETH_ADDR_ARGS(m->mac), other->name);
            cfgp_path_pop(p, mark);
        }
    }
    if (m->has_ip && !p->error) {
        struct cfg_ip ip = {
            .is_v6 = m->ip_is_v6,
            .ip4 = m->ip4,
            .ip6 = m->ip6,
        };
        const struct cfg_alias *other
            = cfg_index_address(p->cfg, &ip, p->skip);
        for (size_t i = 0; !other && !ip.is_v6 && i < al->n_ip4; i++) {
            other = al->ip4[i] == ip.ip4 ? al : NULL;
        }
        for (size_t i = 0; !other && ip.is_v6 && i < al->n_ip6; i++) {
            other = ipv6_addr_equals(&al->ip6[i], &ip.ip6) ? al : NULL;
        }
        if (other) {
            char text[INET6_ADDRSTRLEN];
            cfgp_cfg_ip_format(&ip, text);
            size_t mark = cfgp_path_push_key(p, "ip");
            cfgp_conflict(p,
                          "%s is an address of alias \"%s\"; a member's ip "
                          "is its own address",
                          text, other->name);
            cfgp_path_pop(p, mark);
        }
    }
}

/* Checks members against every alias: a member's mac must not be a VMAC
 * and its ip must not be an alias address. */
bool
cfgp_check_members_vs_aliases(struct cfg_parser *p, const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_aliases && !p->error; i++) {
        const struct cfg_alias *al = cfg->aliases[i];
        for (size_t j = 0; j < al->n_members && !p->error; j++) {
            size_t mark = p->path.length;
            ds_put_format(&p->path,
                          "aliases[%" PRIuSIZE "].members[%" PRIuSIZE "]", i,
                          j);
            check_member(p, al, &al->members[j]);
            cfgp_path_pop(p, mark);
        }
    }
    return !p->error;
}

bool
cfgp_check_alias_vs_others(struct cfg_parser *p, const struct cfg_alias *al)
{
    for (size_t j = 0; j < al->n_members && !p->error; j++) {
        size_t mark = p->path.length;
        ds_put_format(&p->path, "members[%" PRIuSIZE "]", j);
        check_member(p, al, &al->members[j]);
        cfgp_path_pop(p, mark);
    }

    /* The other direction: members of the other aliases. */
    size_t member;
    const struct cfg_alias *other
        = p->error ? NULL
                   : cfg_index_member_mac(p->cfg, al->vmac, p->skip, &member);
    if (other) {
        size_t mark = cfgp_path_push_key(p, "vmac");
        cfgp_conflict(p,
                      ETH_ADDR_FMT " is the mac of member \"%s\" of alias "
                                   "\"%s\"; a VMAC must be no member's MAC",
                      ETH_ADDR_ARGS(al->vmac), other->members[member].name,
                      other->name);
        cfgp_path_pop(p, mark);
    }
    for (size_t i = 0; i < al->n_ip4 + al->n_ip6 && !p->error; i++) {
        struct cfg_ip ip = { .is_v6 = i >= al->n_ip4 };
        if (ip.is_v6) {
            ip.ip6 = al->ip6[i - al->n_ip4];
        } else {
            ip.ip4 = al->ip4[i];
        }
        other = cfg_index_member_ip(p->cfg, &ip, p->skip, &member);
        if (other) {
            char text[INET6_ADDRSTRLEN];
            cfgp_cfg_ip_format(&ip, text);
            size_t mark = p->path.length;
            ds_put_format(&p->path, "addresses[%" PRIuSIZE "]", i);
            cfgp_conflict(p,
                          "%s is the ip of member \"%s\" of alias \"%s\"; "
                          "an alias address must be no member's own",
                          text, other->members[member].name, other->name);
            cfgp_path_pop(p, mark);
        }
    }
    return !p->error;
}
