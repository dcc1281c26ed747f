/*
 * config-bridge: the "bridges" section: names, uplinks, the probe source,
 * and what pins a bridge to its switch ("datapath_id", "peer_cn").
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "openvswitch/shash.h"
#include "util.h"

/* "datapath_id": 16 hex digits (as ovs-vsctl shows it), or "0x" and 1 to
 * 16 hex digits; not 0. */
static bool
parse_datapath_id(struct cfg_parser *p, const json_t *v, uint64_t *dpid)
{
    const char *s;
    if (!cfgp_check_string(p, v, &s)) {
        return false;
    }
    const char *digits = s;
    size_t len = strlen(s);
    bool ok = len == 16;
    if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        digits = s + 2;
        len -= 2;
        ok = len <= 16;
    }
    for (size_t i = 0; ok && i < len; i++) {
        ok = isxdigit((unsigned char) digits[i]);
    }
    if (!ok) {
        cfgp_error(p,
                   "\"%s\" is not a datapath id (expected 16 hex digits, "
                   "as ovs-vsctl shows it, or \"0x\" and 1 to 16 hex "
                   "digits)",
                   s);
        return false;
    }
    *dpid = strtoull(digits, NULL, 16);
    if (!*dpid) {
        cfgp_error(p, "\"%s\": datapath id 0 cannot be pinned", s);
        return false;
    }
    return true;
}

/* "peer_cn": the CN of the certificate the bridge's switch must present,
 * as vmacd shows it ("peer_cn" in the API: printable ASCII). */
static bool
check_peer_cn(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    bool ok = len >= 1 && len <= 255;
    for (size_t i = 0; ok && i < len; i++) {
        ok = s[i] >= 0x20 && s[i] <= 0x7e;
    }
    if (!ok) {
        cfgp_error(p, "a certificate CN is 1 to 255 printable ASCII "
                      "characters");
    }
    return ok;
}

/* A bridge's pins: "datapath_id" and, with OpenFlow TLS, "peer_cn". */
static bool
parse_identity(struct cfg_parser *p, const json_t *v, const struct config *cfg,
               struct cfg_bridge *br)
{
    const json_t *dpid = json_object_get(v, "datapath_id");
    if (dpid) {
        size_t mark = cfgp_path_push_key(p, "datapath_id");
        parse_datapath_id(p, dpid, &br->datapath_id);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    if (!json_object_get(v, "peer_cn")) {
        return true;
    }
    if (!cfgp_field_string(p, v, "peer_cn", check_peer_cn, &br->peer_cn)) {
        return false;
    }
    if (!cfg->openflow_tls.private_key) {
        size_t mark = cfgp_path_push_key(p, "peer_cn");
        cfgp_error(p, "a certificate CN needs OpenFlow over TLS: "
                      "\"openflow\": {\"tls\": {...}} and ssl: or pssl: "
                      "targets");
        cfgp_path_pop(p, mark);
        return false;
    }
    return true;
}

static bool
parse_probe_source(struct cfg_parser *p, const json_t *v,
                   struct cfg_probe_source *ps)
{
    static const char *const keys[] = {
        "mac", "ip", "meter_id", "rate_pps", NULL,
    };
    if (!cfgp_check_object(p, v, keys)) {
        return false;
    }
    ps->configured = true;

    const json_t *mac = json_object_get(v, "mac");
    if (mac) {
        size_t mark = cfgp_path_push_key(p, "mac");
        const char *s;
        if (cfgp_check_string(p, mac, &s)
            && cfgp_check_mac(p, s, "a probe source mac", &ps->mac)
            && !(ps->mac.ea[0] & 0x02)) {
            cfgp_error(p,
                       "%s is not locally administered; the probe source "
                       "needs an address of its own (e.g. 02:...)",
                       s);
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *ip = json_object_get(v, "ip");
    if (ip) {
        size_t mark = cfgp_path_push_key(p, "ip");
        const char *s;
        struct cfg_ip a;
        if (cfgp_check_string(p, ip, &s)
            && cfgp_check_ip(p, s, "a probe source ip", &a)) {
            if (a.is_v6) {
                cfgp_error(p, "%s: the probe source ip must be IPv4", s);
            } else {
                ps->has_ip = true;
                ps->ip4 = a.ip4;
            }
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    return (
        cfgp_field_uint(p, v, "meter_id", 1, MAX_METER_ID, NULL, &ps->meter_id)
        && cfgp_field_uint(p, v, "rate_pps", 0, 1000000, "0 = automatic",
                           &ps->rate_pps));
}

static bool
parse_bridge(struct cfg_parser *p, const json_t *v, const struct config *cfg,
             struct cfg_bridge *br)
{
    static const char *const keys[] = {
        "name", "uplinks", "probe_source", "datapath_id", "peer_cn", NULL,
    };
    br->probe_source = *config_probe_source(NULL, NULL);
    if (!cfgp_check_object(p, v, keys)
        || !cfgp_field_string(p, v, "name", cfgp_check_ifname, &br->name)
        || !parse_identity(p, v, cfg, br)) {
        return false;
    }

    const json_t *ps = json_object_get(v, "probe_source");
    if (ps) {
        size_t mark = cfgp_path_push_key(p, "probe_source");
        parse_probe_source(p, ps, &br->probe_source);
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    const json_t *ups = json_object_get(v, "uplinks");
    if (!ups) {
        return true;
    }
    size_t mark = cfgp_path_push_key(p, "uplinks");
    if (cfgp_check_array(p, ups)) {
        size_t n = json_array_size(ups);
        br->uplinks = xcalloc(n, sizeof *br->uplinks);
        for (size_t i = 0; i < n && !p->error; i++) {
            size_t mark2 = cfgp_path_push_index(p, i);
            const char *s;
            if (cfgp_check_string(p, json_array_get(ups, i), &s)
                && cfgp_check_ifname(p, s)) {
                if (!strcmp(s, br->name)) {
                    cfgp_error(p,
                               "\"%s\" is the bridge's own LOCAL port, "
                               "not an uplink",
                               s);
                }
                for (size_t j = 0; j < i && !p->error; j++) {
                    if (!strcmp(br->uplinks[j], s)) {
                        cfgp_error(p,
                                   "uplink \"%s\" is listed twice "
                                   "(also uplinks[%" PRIuSIZE "])",
                                   s, j);
                    }
                }
                if (!p->error) {
                    br->uplinks[br->n_uplinks++] = xstrdup(s);
                }
            }
            cfgp_path_pop(p, mark2);
        }
    }
    cfgp_path_pop(p, mark);
    return !p->error;
}

bool
cfgp_parse_bridges(struct cfg_parser *p, const json_t *arr, struct config *cfg)
{
    if (!cfgp_check_array(p, arr)) {
        return false;
    }

    struct shash names = SHASH_INITIALIZER(&names);
    size_t n = json_array_size(arr);
    cfg->bridges = xcalloc(n, sizeof *cfg->bridges);
    cfg->n_bridges = n;
    for (size_t i = 0; i < n && !p->error; i++) {
        size_t mark = cfgp_path_push_index(p, i);
        struct cfg_bridge *br = &cfg->bridges[i];
        if (parse_bridge(p, json_array_get(arr, i), cfg, br)) {
            void *prev = shash_find_data(&names, br->name);
            if (prev) {
                size_t m2 = cfgp_path_push_key(p, "name");
                cfgp_error(p,
                           "bridge \"%s\" is listed twice (also "
                           "bridges[%" PRIuSIZE "])",
                           br->name, cfgp_data_to_index(prev));
                cfgp_path_pop(p, m2);
            } else {
                shash_add(&names, br->name, cfgp_index_to_data(i));
            }
        }
        for (size_t j = 0; j < i && br->datapath_id && !p->error; j++) {
            if (cfg->bridges[j].datapath_id == br->datapath_id) {
                size_t m2 = cfgp_path_push_key(p, "datapath_id");
                cfgp_error(p,
                           "datapath %016" PRIx64 " is pinned twice (also "
                           "bridges[%" PRIuSIZE "], \"%s\")",
                           br->datapath_id, j, cfg->bridges[j].name);
                cfgp_path_pop(p, m2);
            }
        }
        cfgp_path_pop(p, mark);
    }
    shash_destroy(&names);
    return !p->error;
}
