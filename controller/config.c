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

#include "config-private.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"
#include "probemeter.h"
#include "util.h"
#include "verror.h"

/* Sections. */

/* "tls": {"private_key", "certificate", "ca_cert"}: three file names, all
 * required.  The files are read when vmacd starts (and by
 * --check-config). */
static bool
parse_tls(struct cfg_parser *p, const json_t *v, struct cfg_tls *tls)
{
    static const char *const keys[] = {
        "private_key",
        "certificate",
        "ca_cert",
        NULL,
    };
    char **fields[] = { &tls->private_key, &tls->certificate, &tls->ca_cert };
    if (!cfgp_check_object(p, v, keys)) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(fields) && !p->error; i++) {
        const json_t *f = json_object_get(v, keys[i]);
        if (!f) {
            cfgp_field_missing(p, keys[i]);
            break;
        }
        size_t mark = cfgp_path_push_key(p, keys[i]);
        const char *s;
        if (cfgp_check_string(p, f, &s)) {
            if (!s[0]) {
                cfgp_error(p, "the file name is empty");
            } else {
                *fields[i] = xstrdup(s);
            }
        }
        cfgp_path_pop(p, mark);
    }
    return !p->error;
}

/* The bounds of the OpenFlow peers. */
static bool
parse_openflow_limits(struct cfg_parser *p, const json_t *v,
                      struct config *cfg)
{
    long long total = cfg->max_queue_bytes;
    if (!cfgp_field_uint(p, v, "max_peers", 1, 65536, NULL, &cfg->max_peers)
        || !cfgp_field_int(p, v, "max_queue_bytes", MIN_QUEUE_BYTES,
                           MAX_QUEUE_BYTES, NULL, &total)) {
        return false;
    }
    long long per = total;
    if (!cfgp_field_int(p, v, "max_peer_queue_bytes", MIN_QUEUE_BYTES, total,
                        "at most max_queue_bytes", &per)) {
        return false;
    }
    cfg->max_queue_bytes = total;
    cfg->max_peer_queue_bytes = per;
    return true;
}

static bool
parse_targets(struct cfg_parser *p, const json_t *obj, const char *key,
              bool passive, size_t *n_out, char ***out)
{
    const json_t *arr = json_object_get(obj, key);
    if (!arr) {
        return true;
    }

    size_t mark = cfgp_path_push_key(p, key);
    if (!cfgp_check_array(p, arr)) {
        cfgp_path_pop(p, mark);
        return false;
    }

    size_t n = json_array_size(arr);
    *out = xcalloc(n, sizeof **out);
    *n_out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t mark2 = cfgp_path_push_index(p, i);
        const char *s;
        const char *problem = NULL;
        if (!cfgp_check_string(p, json_array_get(arr, i), &s)) {
            cfgp_path_pop(p, mark2);
            break;
        }
        problem = cfgp_target_problem(s, passive);
        if (problem) {
            cfgp_error(p, "\"%s\" is not a valid %s target: %s", s,
                       passive ? "listen" : "connect", problem);
            cfgp_path_pop(p, mark2);
            break;
        }
        if (cfgp_target_is_tls(s) && !json_object_get(obj, "tls")) {
            cfgp_error(p,
                       "\"%s\" needs the TLS settings: \"openflow\": "
                       "{\"tls\": {\"private_key\", \"certificate\", "
                       "\"ca_cert\"}}",
                       s);
            cfgp_path_pop(p, mark2);
            break;
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp((*out)[j], s)) {
                cfgp_error(p,
                           "\"%s\" is listed twice (also %s[%" PRIuSIZE "])",
                           s, key, j);
                break;
            }
        }
        cfgp_path_pop(p, mark2);
        if (p->error) {
            break;
        }
        (*out)[(*n_out)++] = xstrdup(s);
    }
    cfgp_path_pop(p, mark);
    return !p->error;
}

static bool
parse_openflow(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "listen",
        "connect",
        "inactivity_probe_ms",
        "base_table",
        "next_table",
        "cookie_prefix",
        "tls",
        "max_peers",
        "max_queue_bytes",
        "max_peer_queue_bytes",
        "forget_bridges_s",
        NULL,
    };
    if (!cfgp_check_object(p, v, keys)
        || !cfgp_field_uint(p, v, "forget_bridges_s", 1, 86400, NULL,
                            &cfg->forget_bridges_s)) {
        return false;
    }
    const json_t *tls = json_object_get(v, "tls");
    if (tls) {
        size_t mark = cfgp_path_push_key(p, "tls");
        parse_tls(p, tls, &cfg->openflow_tls);
        cfgp_path_pop(p, mark);
    }
    if (p->error || !parse_openflow_limits(p, v, cfg)) {
        return false;
    }

    if (json_object_get(v, "listen")) {
        /* Replace the default. */
        cfgp_free_strings(cfg->listen, cfg->n_listen);
        cfg->listen = NULL;
        cfg->n_listen = 0;
    }
    if (!parse_targets(p, v, "listen", true, &cfg->n_listen, &cfg->listen)
        || !parse_targets(p, v, "connect", false, &cfg->n_connect,
                          &cfg->connect)) {
        return false;
    }
    if (!cfg->n_listen && !cfg->n_connect) {
        cfgp_error(p, "both \"listen\" and \"connect\" are empty; vmacd "
                      "would never talk to a switch");
        return false;
    }

    unsigned int probe = cfg->inactivity_probe_ms;
    if (!cfgp_field_uint(p, v, "inactivity_probe_ms", 0, 3600000, NULL,
                         &probe)) {
        return false;
    }
    if (probe && probe < 100) {
        size_t mark = cfgp_path_push_key(p, "inactivity_probe_ms");
        cfgp_error(p, "%u is too short; use 0 to disable or at least 100",
                   probe);
        cfgp_path_pop(p, mark);
        return false;
    }
    cfg->inactivity_probe_ms = probe;

    unsigned int base = cfg->base_table;
    if (!cfgp_field_uint(p, v, "base_table", 0, 250, NULL, &base)) {
        return false;
    }
    cfg->base_table = base;

    const json_t *next = json_object_get(v, "next_table");
    if (next) {
        size_t mark = cfgp_path_push_key(p, "next_table");
        long long x;
        if (json_is_string(next)) {
            if (strcmp(json_string_value(next), "NORMAL")) {
                cfgp_error(p,
                           "\"%s\" is not a table; expected an integer "
                           "or \"NORMAL\"",
                           json_string_value(next));
            } else {
                cfg->next_table = -1;
            }
        } else if (!json_is_integer(next)) {
            cfgp_error(p, "expected an integer or \"NORMAL\", got %s",
                       cfgp_json_kind(next));
        } else if (cfgp_check_int(p, next, base + 2, 254,
                                  "it must come after base_table + 1", &x)) {
            cfg->next_table = x;
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *cookie = json_object_get(v, "cookie_prefix");
    if (cookie) {
        size_t mark = cfgp_path_push_key(p, "cookie_prefix");
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
                cfgp_error(p,
                           "\"%s\" is not a 32-bit hexadecimal number "
                           "(expected \"0x\" and 1 to 8 hex digits)",
                           s);
            }
        } else if (json_is_integer(cookie)) {
            if (cfgp_check_int(p, cookie, 0, UINT32_MAX, NULL, &x)) {
                cfg->cookie_prefix = x;
            }
        } else {
            cfgp_error(p, "expected a \"0x...\" string or an integer, got %s",
                       cfgp_json_kind(cookie));
        }
        cfgp_path_pop(p, mark);
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
        cfgp_error(p, "\"%s\" is not a valid group name", s);
    }
    return ok;
}

/* "api": {"tcp": {"address", "port", "allow_nonloopback"}}. */
static bool
parse_api_tcp(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "address", "port", "allow_nonloopback", "tls", NULL,
    };
    if (!cfgp_check_object(p, v, keys)) {
        return false;
    }
    const json_t *tls = json_object_get(v, "tls");
    if (tls) {
        size_t mark = cfgp_path_push_key(p, "tls");
        parse_tls(p, tls, &cfg->api_tls);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    if (!json_object_get(v, "address")) {
        return cfgp_field_missing(p, "address");
    } else if (!json_object_get(v, "port")) {
        return cfgp_field_missing(p, "port");
    }
    if (!cfgp_field_bool(p, v, "allow_nonloopback",
                         &cfg->api_tcp_allow_nonloopback)
        || !cfgp_field_uint(p, v, "port", 1, 65535, NULL,
                            &cfg->api_tcp_port)) {
        return false;
    }

    size_t mark = cfgp_path_push_key(p, "address");
    const char *s;
    struct in_addr a4;
    struct in6_addr a6;
    if (cfgp_check_string(p, json_object_get(v, "address"), &s)) {
        bool v4 = inet_pton(AF_INET, s, &a4) == 1;
        bool v6 = !v4 && inet_pton(AF_INET6, s, &a6) == 1;
        if (!v4 && !v6) {
            cfgp_error(p, "\"%s\" is not an IPv4 or IPv6 address", s);
        } else if (!cfg->api_tcp_allow_nonloopback && !tls
                   && !(v4 ? (ntohl(a4.s_addr) >> 24) == 127
                           : IN6_IS_ADDR_LOOPBACK(&a6))) {
            cfgp_error(p,
                       "%s is not a loopback address; without \"tls\" "
                       "(client certificates) the API has no "
                       "authentication: set \"allow_nonloopback\": true to "
                       "listen there anyway",
                       s);
        } else {
            free(cfg->api_tcp_address);
            cfg->api_tcp_address = xstrdup(s);
        }
    }
    cfgp_path_pop(p, mark);
    return !p->error;
}

static bool
parse_api(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "socket",
        "group",
        "tcp",
        "max_connections",
        "max_incomplete",
        "request_timeout_ms",
        NULL,
    };
    if (!cfgp_check_object(p, v, keys)
        || (json_object_get(v, "group")
            && !cfgp_field_string(p, v, "group", check_group_name,
                                  &cfg->api_group))
        || !cfgp_field_uint(p, v, "max_connections", 1, 4096, NULL,
                            &cfg->api_max_connections)
        || !cfgp_field_uint(p, v, "request_timeout_ms", 100, 3600000, NULL,
                            &cfg->api_request_timeout_ms)) {
        return false;
    }
    cfg->api_max_incomplete
        = MIN(cfg->api_max_incomplete, cfg->api_max_connections);
    if (!cfgp_field_uint(p, v, "max_incomplete", 1, cfg->api_max_connections,
                         "at most max_connections",
                         &cfg->api_max_incomplete)) {
        return false;
    }
    const json_t *tcp = json_object_get(v, "tcp");
    if (tcp) {
        size_t mark = cfgp_path_push_key(p, "tcp");
        parse_api_tcp(p, tcp, cfg);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *sock = json_object_get(v, "socket");
    if (sock) {
        size_t mark = cfgp_path_push_key(p, "socket");
        const char *s;
        if (cfgp_check_string(p, sock, &s)) {
            if (!s[0]) {
                cfgp_error(p, "the socket path is empty");
            } else if (strlen(s) > SUN_PATH_MAX) {
                cfgp_error(p,
                           "\"%s\" is %" PRIuSIZE " bytes long; a unix "
                           "socket path has at most %" PRIuSIZE,
                           s, strlen(s), SUN_PATH_MAX);
            } else {
                free(cfg->api_socket);
                cfg->api_socket = xstrdup(s);
            }
        }
        cfgp_path_pop(p, mark);
    }
    return !p->error;
}

/* Alias ids.  The rule: aliases taken in name order, each gets the first
 * id not yet taken from the hash of its name on (wrapping to 1).  Under
 * that rule the ids of one run of consecutive taken ids depend only on the
 * aliases in the run, so a change recomputes one run, not the config. */

static uint32_t
id_next(uint32_t id)
{
    return id % ALIAS_ID_MAX + 1;
}

static uint32_t
id_prev(uint32_t id)
{
    return id == 1 ? ALIAS_ID_MAX : id - 1;
}

static int
compare_alias_names(const void *a_, const void *b_)
{
    const struct cfg_alias *const *a = a_;
    const struct cfg_alias *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* Gives the 'n' aliases of 'v' (indexed, without ids) their ids by the
 * rule, among the ids the other aliases of 'cfg' hold. */
static void
assign_ids(struct config *cfg, struct cfg_alias **v, size_t n)
{
    qsort(v, n, sizeof *v, compare_alias_names);
    for (size_t i = 0; i < n; i++) {
        uint32_t id = cfg_index_hash_id(v[i]->name);
        while (cfg_index_id(cfg, id)) {
            id = id_next(id);
        }
        cfg_index_set_id(cfg, v[i], id);
    }
}

/* A growable list of aliases with the ids they had when they joined. */
struct id_vec {
    struct cfg_alias **v;
    uint32_t *old_ids;
    size_t n, allocated;
};

static bool
id_vec_has(const struct id_vec *vec, const struct cfg_alias *a)
{
    for (size_t i = 0; i < vec->n; i++) {
        if (vec->v[i] == a) {
            return true;
        }
    }
    return false;
}

static void
id_vec_push(struct id_vec *vec, struct cfg_alias *a)
{
    if (vec->n >= vec->allocated) {
        vec->v = x2nrealloc(vec->v, &vec->allocated, sizeof *vec->v);
        vec->old_ids = xrealloc(vec->old_ids,
                                vec->allocated * sizeof *vec->old_ids);
    }
    vec->v[vec->n] = a;
    vec->old_ids[vec->n++] = a->id;
}

/* Adds to 'vec' the aliases of the run of taken ids around 'id'. */
static void
collect_run(const struct config *cfg, uint32_t id, struct id_vec *vec)
{
    if (!cfg_index_id(cfg, id)) {
        return;
    }
    uint32_t start = id;
    for (size_t k = 0; k < cfg->n_aliases && cfg_index_id(cfg, id_prev(start));
         k++) {
        start = id_prev(start);
    }
    uint32_t x = start;
    for (size_t k = 0; k < cfg->n_aliases; k++) {
        struct cfg_alias *a = CONST_CAST(struct cfg_alias *,
                                         cfg_index_id(cfg, x));
        if (!a) {
            break;
        }
        if (!id_vec_has(vec, a)) {
            id_vec_push(vec, a);
        }
        x = id_next(x);
    }
}

/* The ids of the run of taken ids around 'id' anew, with 'add' (indexed,
 * id 0) joining it or 'del' (indexed) leaving it, until no other alias
 * touches the run.  Aliases other than 'add' whose id changed go to 'r'. */
static void
recompute_run(struct config *cfg, uint32_t id, struct cfg_alias *add,
              struct cfg_alias *del, struct cfg_renumbering *r)
{
    struct id_vec set = { .v = NULL };
    if (add) {
        id_vec_push(&set, add);
    }
    collect_run(cfg, id, &set);
    if (del) {
        cfg_index_set_id(cfg, del, 0);
    }
    for (size_t i = 0; i < set.n; i++) {
        if (set.v[i] == del) {
            set.v[i] = set.v[--set.n];
            set.old_ids[i] = set.old_ids[set.n];
            break;
        }
    }

    struct cfg_alias **sorted = NULL;
    for (size_t round = 0; round <= cfg->n_aliases; round++) {
        for (size_t i = 0; i < set.n; i++) {
            cfg_index_set_id(cfg, set.v[i], 0);
        }
        sorted = xrealloc(sorted, MAX(set.n, 1) * sizeof *sorted);
        memcpy(sorted, set.v, set.n * sizeof *sorted);
        assign_ids(cfg, sorted, set.n);

        size_t n_before = set.n;
        for (size_t i = 0; i < n_before; i++) {
            collect_run(cfg, set.v[i]->id, &set);
        }
        if (set.n == n_before) {
            break;
        }
    }
    free(sorted);

    for (size_t i = 0; i < set.n; i++) {
        if (set.v[i] != add && set.v[i]->id != set.old_ids[i]) {
            size_t k = r->n++;
            r->aliases = xrealloc(r->aliases, r->n * sizeof *r->aliases);
            r->old_ids = xrealloc(r->old_ids, r->n * sizeof *r->old_ids);
            r->aliases[k] = set.v[i];
            r->old_ids[k] = set.old_ids[i];
        }
    }
    free(set.v);
    free(set.old_ids);
}

/* Checks that the probe reply meters of every bridge of 'plan' (one per
 * probed port, probemeter.h) fit: their ids up to MAX_METER_ID, and an
 * explicit rate_pps for each within the bridge's total.  The error names
 * the first member (config order) whose port does not fit: at its path in
 * the file, or (checking one alias, 'self') in 'self' or else by name. */
static bool
check_meters(struct cfg_parser *p, const struct config *cfg,
             const struct probemeter_plan *plan, const struct cfg_alias *self)
{
    const struct probemeter_bridge *bad_b = NULL;
    const struct probemeter *bad = NULL;
    bool bad_rate = false;

    struct shash_node *node;
    SHASH_FOR_EACH (node, &plan->bridges) {
        const struct probemeter_bridge *b = node->data;
        unsigned int rate = config_probe_source(cfg, b->name)->rate_pps;
        /* The first port past the id range, and past the rate total. */
        size_t k_id = MAX_METER_ID - b->base + 1;
        size_t k_rate = rate ? PROBEMETER_MAX_BRIDGE_PPS / rate : SIZE_MAX;
        size_t k = MIN(k_id, k_rate);
        if (k >= b->n) {
            continue;
        }
        const struct probemeter *m = &b->meters[k];
        if (!bad || m->alias_idx < bad->alias_idx
            || (m->alias_idx == bad->alias_idx
                && m->member_idx < bad->member_idx)) {
            bad_b = b;
            bad = m;
            bad_rate = k_rate < k_id;
        }
    }
    if (!bad) {
        return true;
    }

    size_t mark = p->path.length;
    if (!self) {
        ds_put_format(&p->path,
                      "aliases[%" PRIuSIZE "].members[%" PRIuSIZE "]",
                      bad->alias_idx, bad->member_idx);
    } else if (bad->alias == self) {
        ds_put_format(&p->path, "members[%" PRIuSIZE "]", bad->member_idx);
    }
    char *who = (self && bad->alias != self
                     ? xasprintf(" (member %s of alias %s)",
                                 bad->alias->members[bad->member_idx].name,
                                 bad->alias->name)
                     : xstrdup(""));
    size_t k = bad - bad_b->meters;
    if (bad_rate) {
        unsigned int rate = config_probe_source(cfg, bad_b->name)->rate_pps;
        cfgp_error(p,
                   "port \"%s\"%s is probed port number %" PRIuSIZE
                   " on bridge %s, whose probe meters at "
                   "probe_source.rate_pps %u each would pass %llu "
                   "packets/s, more than %d in all; lower rate_pps (at "
                   "most %" PRIuSIZE " for its %" PRIuSIZE
                   " probed ports) or set it to 0 (automatic)",
                   bad->port, who, k + 1, bad_b->name, rate,
                   (unsigned long long) rate * (k + 1),
                   PROBEMETER_MAX_BRIDGE_PPS,
                   PROBEMETER_MAX_BRIDGE_PPS / bad_b->n, bad_b->n);
    } else {
        cfgp_error(p,
                   "port \"%s\"%s would get probe meter %llu on bridge "
                   "%s (probe_source.meter_id %" PRIu32 " + %" PRIuSIZE
                   "), past the largest meter id %u (0x%x): with one "
                   "meter per probed port (%" PRIuSIZE "), the bridge's "
                   "probe_source.meter_id must be at most %llu",
                   bad->port, who, (unsigned long long) bad_b->base + k,
                   bad_b->name, bad_b->base, k, MAX_METER_ID, MAX_METER_ID,
                   bad_b->n, (unsigned long long) MAX_METER_ID - bad_b->n + 1);
    }
    free(who);
    cfgp_path_pop(p, mark);
    return false;
}

static bool
check_probe_meters(struct cfg_parser *p, const struct config *cfg)
{
    struct probemeter_plan *plan = probemeter_plan_create(cfg);
    bool ok = check_meters(p, cfg, plan, NULL);
    probemeter_plan_destroy(plan);
    return ok;
}

/* The same for 'cfg' with 'a' in place of 'old' (NULL: added).  Only
 * when one of them has a probed member: otherwise the meters stay. */
static bool
check_probe_meters_with(struct cfg_parser *p, const struct config *cfg,
                        const struct cfg_alias *old,
                        const struct cfg_alias *a)
{
    bool probed = false;
    for (size_t m = 0; m < a->n_members && !probed; m++) {
        probed = config_member_probed(&a->members[m]);
    }
    for (size_t m = 0; old && m < old->n_members && !probed; m++) {
        probed = config_member_probed(&old->members[m]);
    }
    if (!probed) {
        return true;
    }
    struct probemeter_plan *plan = probemeter_plan_create_with(cfg, old, a);
    bool ok = check_meters(p, cfg, plan, a);
    probemeter_plan_destroy(plan);
    return ok;
}

static bool
parse_config(struct cfg_parser *p, const json_t *root, struct config *cfg)
{
    static const char *const keys[] = {
        "openflow", "api", "bridges", "aliases", "ovsdb", NULL,
    };
    if (!cfgp_check_object(p, root, keys)) {
        return false;
    }

    const json_t *v = json_object_get(root, "openflow");
    if (v) {
        size_t mark = cfgp_path_push_key(p, "openflow");
        parse_openflow(p, v, cfg);
        cfgp_path_pop(p, mark);
    }

    v = json_object_get(root, "api");
    if (v && !p->error) {
        size_t mark = cfgp_path_push_key(p, "api");
        parse_api(p, v, cfg);
        cfgp_path_pop(p, mark);
    }

    v = json_object_get(root, "ovsdb");
    if (v && !p->error) {
        size_t mark = cfgp_path_push_key(p, "ovsdb");
        cfgp_parse_ovsdb(p, v, cfg);
        cfgp_path_pop(p, mark);
    }

    v = json_object_get(root, "bridges");
    if (v && !p->error) {
        size_t mark = cfgp_path_push_key(p, "bridges");
        cfgp_parse_bridges(p, v, cfg);
        cfgp_path_pop(p, mark);
    }

    v = json_object_get(root, "aliases");
    if (v && !p->error) {
        size_t mark = cfgp_path_push_key(p, "aliases");
        if (cfgp_check_array(p, v)) {
            size_t n = json_array_size(v);
            cfg->aliases = xcalloc(MAX(n, 1), sizeof *cfg->aliases);
            cfg->allocated_aliases = MAX(n, 1);
            for (size_t i = 0; i < n && !p->error; i++) {
                size_t mark2 = cfgp_path_push_index(p, i);
                struct cfg_alias *a
                    = cfgp_parse_alias(p, json_array_get(v, i), i);
                if (a) {
                    /* Indexed at once: the next aliases are checked
                     * against it. */
                    cfg->aliases[cfg->n_aliases++] = a;
                    cfg_index_insert(cfg, a);
                }
                cfgp_path_pop(p, mark2);
            }
        }
        cfgp_path_pop(p, mark);
    }

    if (p->error || !cfgp_check_members_vs_aliases(p, cfg)
        || !cfgp_check_iface_ids_need_ovsdb(p, cfg)
        || !check_probe_meters(p, cfg)) {
        return false;
    }
    struct cfg_alias **sorted
        = xcalloc(MAX(cfg->n_aliases, 1), sizeof *sorted);
    if (cfg->n_aliases) {
        memcpy(sorted, cfg->aliases, cfg->n_aliases * sizeof *sorted);
    }
    assign_ids(cfg, sorted, cfg->n_aliases);
    free(sorted);
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
    cfg->forget_bridges_s = DEFAULT_FORGET_BRIDGES_S;
    cfg->base_table = 0;
    cfg->next_table = -1;
    cfg->cookie_prefix = DEFAULT_COOKIE_PREFIX;
    cfg->max_peers = DEFAULT_MAX_PEERS;
    cfg->max_queue_bytes = DEFAULT_MAX_QUEUE_BYTES;
    cfg->max_peer_queue_bytes = DEFAULT_MAX_QUEUE_BYTES;
    cfg->api_socket = xstrdup(DEFAULT_API_SOCKET);
    cfg->api_max_connections = DEFAULT_API_MAX_CONNECTIONS;
    cfg->api_max_incomplete = DEFAULT_API_MAX_INCOMPLETE;
    cfg->api_request_timeout_ms = DEFAULT_API_REQUEST_TIMEOUT_MS;
    cfg_index_create(cfg);
    return cfg;
}

static void
parser_init(struct cfg_parser *p, const char *origin,
            const struct config *cfg, const struct cfg_alias *skip)
{
    *p = (struct cfg_parser){
        .origin = origin,
        .path = DS_EMPTY_INITIALIZER,
        .cfg = cfg,
        .skip = skip,
    };
    shash_init(&p->alias_names);
}

int
config_parse_json(const json_t *json, const char *origin,
                  struct config **cfgp, struct verror *e)
{
    struct cfg_parser p;
    struct config *cfg = config_create_default(origin);
    parser_init(&p, origin, cfg, NULL);
    int error = 0;
    if (!parse_config(&p, json, cfg)) {
        error = cfgp_to_verror(&p, e);
        config_destroy(cfg);
        cfg = NULL;
    }
    cfgp_parser_destroy(&p);
    *cfgp = cfg;
    return error;
}

static int
json_error(const char *origin, const json_error_t *err, struct verror *e)
{
    if (err->line > 0) {
        return verror_set(e, EINVAL, VERR_INVALID, NULL, "%s:%d:%d: %s",
                          origin, err->line, err->column, err->text);
    }
    return verror_set(e, EINVAL, VERR_INVALID, NULL, "%s: %s", origin,
                      err->text);
}

int
config_parse_string(const char *json, const char *origin,
                    struct config **cfgp, struct verror *e)
{
    json_error_t err;
    json_t *root = json_loads(json, JSON_REJECT_DUPLICATES, &err);
    *cfgp = NULL;
    if (!root) {
        return json_error(origin, &err, e);
    }
    int error = config_parse_json(root, origin, cfgp, e);
    json_decref(root);
    return error;
}

int
config_load(const char *path, struct config **cfgp, struct verror *e)
{
    *cfgp = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int error = errno;
        return verror_set(e, error, VERR_IO, NULL, "%s: cannot open: %s",
                          path, ovs_strerror(error));
    }

    json_error_t err;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
    int read_error = ferror(f) ? errno : 0;
    fclose(f);
    if (!root) {
        return (read_error ? verror_set(e, read_error, VERR_IO, NULL,
                                        "%s: read error: %s", path,
                                        ovs_strerror(read_error))
                           : json_error(path, &err, e));
    }
    int error = config_parse_json(root, path, cfgp, e);
    json_decref(root);
    return error;
}

/* One alias at a time. */

int
config_parse_alias(const struct config *cfg, const json_t *json,
                   const char *replacing, struct cfg_alias **aliasp,
                   struct verror *e)
{
    const struct cfg_alias *old
        = replacing ? config_find_alias(cfg, replacing) : NULL;
    struct cfg_parser p;
    parser_init(&p, NULL, cfg, old);

    struct cfg_alias *a = cfgp_parse_alias(&p, json, cfg->n_aliases);
    if (a && (!cfgp_check_alias_vs_others(&p, a)
              || !cfgp_check_alias_iface_ids_need_ovsdb(&p, cfg, a)
              || !check_probe_meters_with(&p, cfg, old, a))) {
        cfg_alias_unref(a);
        a = NULL;
    }
    int error = a ? 0 : cfgp_to_verror(&p, e);
    cfgp_parser_destroy(&p);
    *aliasp = a;
    return error;
}

struct cfg_alias *
cfg_alias_ref(const struct cfg_alias *a_)
{
    struct cfg_alias *a = CONST_CAST(struct cfg_alias *, a_);
    if (a) {
        a->refcnt++;
    }
    return a;
}

void
cfg_alias_unref(struct cfg_alias *a)
{
    if (a && --a->refcnt == 0) {
        cfgp_alias_free(a);
    }
}

int
config_alias_position(const struct config *cfg, const struct cfg_alias *a)
{
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        if (cfg->aliases[i] == a) {
            return i;
        }
    }
    return -1;
}

void
cfg_renumbering_destroy(struct cfg_renumbering *r)
{
    if (r) {
        free(r->aliases);
        free(r->old_ids);
        *r = (struct cfg_renumbering){ 0 };
    }
}

struct cfg_alias *
config_put_alias(struct config *cfg, struct cfg_alias *a,
                 struct cfg_renumbering *r)
{
    struct cfg_alias *old
        = CONST_CAST(struct cfg_alias *, config_find_alias(cfg, a->name));
    if (old) {
        int pos = config_alias_position(cfg, old);
        cfg_index_remove(cfg, old);
        a->id = old->id;
        cfg->aliases[pos] = a;
        cfg_index_insert(cfg, a);
        return old;
    }

    if (cfg->n_aliases >= cfg->allocated_aliases) {
        cfg->aliases = x2nrealloc(cfg->aliases, &cfg->allocated_aliases,
                                  sizeof *cfg->aliases);
    }
    cfg->aliases[cfg->n_aliases++] = a;
    uint32_t h = cfg_index_hash_id(a->name);
    a->id = 0;
    cfg_index_insert(cfg, a);
    if (!cfg_index_id(cfg, h)) {
        cfg_index_set_id(cfg, a, h);
    } else {
        recompute_run(cfg, h, a, NULL, r);
    }
    return NULL;
}

struct cfg_alias *
config_remove_alias(struct config *cfg, const char *name,
                    struct cfg_renumbering *r)
{
    struct cfg_alias *a
        = CONST_CAST(struct cfg_alias *, config_find_alias(cfg, name));
    if (!a) {
        return NULL;
    }
    int pos = config_alias_position(cfg, a);
    memmove(&cfg->aliases[pos], &cfg->aliases[pos + 1],
            (cfg->n_aliases - pos - 1) * sizeof *cfg->aliases);
    cfg->n_aliases--;
    /* Aliases that probed past its id may move back. */
    uint32_t id = a->id;
    if (cfg_index_id(cfg, id_next(id))) {
        recompute_run(cfg, id, NULL, a, r);
    }
    cfg_index_remove(cfg, a);
    return a;
}

/* Destruction. */

static void
tls_destroy(struct cfg_tls *tls)
{
    free(tls->private_key);
    free(tls->certificate);
    free(tls->ca_cert);
}

void
config_destroy(struct config *cfg)
{
    if (!cfg) {
        return;
    }

    free(cfg->origin);
    cfgp_free_strings(cfg->listen, cfg->n_listen);
    cfgp_free_strings(cfg->connect, cfg->n_connect);
    free(cfg->api_socket);
    free(cfg->api_group);
    free(cfg->api_tcp_address);
    config_ovsdb_destroy(cfg->ovsdb);
    tls_destroy(&cfg->openflow_tls);
    tls_destroy(&cfg->api_tls);
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        free(cfg->bridges[i].name);
        free(cfg->bridges[i].peer_cn);
        cfgp_free_strings(cfg->bridges[i].uplinks, cfg->bridges[i].n_uplinks);
    }
    free(cfg->bridges);
    cfg_index_destroy(cfg);
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        cfg_alias_unref(cfg->aliases[i]);
    }
    free(cfg->aliases);
    free(cfg);
}
