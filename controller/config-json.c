/*
 * config-json: the parsed configuration back to JSON (the input shape,
 * defaults filled in, stable key order: what the API shows and what
 * persistence writes), lookups, and comparison.  Parsing and validation are
 * in config.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config-private.h"
#include "util.h"

static json_t *
new_object(void)
{
    return json_pack("{}");
}

static json_t *
new_array(void)
{
    return json_pack("[]");
}

static json_t *
new_string(const char *s)
{
    return json_stringn(s, strlen(s));
}

static json_t *
new_integer(long long x)
{
    return json_pack("I", (json_int_t) x);
}

static json_t *
strings_to_json(char **strings, size_t n)
{
    json_t *arr = new_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, new_string(strings[i]));
    }
    return arr;
}

static json_t *
mac_to_json(struct eth_addr mac)
{
    char text[ETH_ADDR_STRLEN + 1];
    snprintf(text, sizeof text, ETH_ADDR_FMT, ETH_ADDR_ARGS(mac));
    return new_string(text);
}

static json_t *
ip_to_json(bool is_v6, ovs_be32 ip4, const struct in6_addr *ip6)
{
    char text[INET6_ADDRSTRLEN];
    if (is_v6) {
        inet_ntop(AF_INET6, ip6, text, sizeof text);
    } else {
        inet_ntop(AF_INET, &ip4, text, sizeof text);
    }
    return new_string(text);
}

static const char *
probe_type_name(enum cfg_probe_type type)
{
    switch (type) {
    case CFG_PROBE_ARP:
        return "arp";
    case CFG_PROBE_TCP:
        return "tcp";
    case CFG_PROBE_NONE:
        return "none";
    }
    OVS_NOT_REACHED();
}

static json_t *
probe_to_json(const struct cfg_probe *pr)
{
    json_t *probe = new_object();
    json_object_set_new(probe, "type", new_string(probe_type_name(pr->type)));
    json_object_set_new(probe, "interval_ms", new_integer(pr->interval_ms));
    if (pr->backup_interval_ms) {
        json_object_set_new(probe, "backup_interval_ms",
                            new_integer(pr->backup_interval_ms));
    }
    json_object_set_new(probe, "timeout_ms", new_integer(pr->timeout_ms));
    json_object_set_new(probe, "fall", new_integer(pr->fall));
    json_object_set_new(probe, "rise", new_integer(pr->rise));
    if (pr->type == CFG_PROBE_TCP) {
        json_object_set_new(probe, "port", new_integer(pr->tcp_port));
    }
    return probe;
}

static bool
probe_equal(const struct cfg_probe *a, const struct cfg_probe *b)
{
    return (a->type == b->type && a->interval_ms == b->interval_ms
            && a->backup_interval_ms == b->backup_interval_ms
            && a->timeout_ms == b->timeout_ms && a->fall == b->fall
            && a->rise == b->rise && a->tcp_port == b->tcp_port);
}

json_t *
config_alias_to_json(const struct cfg_alias *al)
{
    json_t *o = new_object();
    json_object_set_new(o, "name", new_string(al->name));

    json_t *addrs = new_array();
    for (size_t i = 0; i < al->n_ip4; i++) {
        json_array_append_new(addrs, ip_to_json(false, al->ip4[i], NULL));
    }
    for (size_t i = 0; i < al->n_ip6; i++) {
        json_array_append_new(addrs, ip_to_json(true, 0, &al->ip6[i]));
    }
    json_object_set_new(o, "addresses", addrs);
    json_object_set_new(o, "vmac", mac_to_json(al->vmac));
    json_object_set_new(o, "preempt", json_boolean(al->preempt));
    json_object_set_new(o, "preempt_delay_ms",
                        new_integer(al->preempt_delay_ms));

    json_t *an = new_object();
    json_object_set_new(an, "count", new_integer(al->announce.count));
    json_object_set_new(an, "interval_ms",
                        new_integer(al->announce.interval_ms));
    json_object_set_new(an, "refresh_s", new_integer(al->announce.refresh_s));
    json_object_set_new(o, "announce", an);

    json_object_set_new(o, "probe", probe_to_json(&al->probe));
    if (al->notify.program) {
        json_t *nt = new_object();
        json_object_set_new(nt, "program", new_string(al->notify.program));
        json_object_set_new(nt, "timeout_ms",
                            new_integer(al->notify.timeout_ms));
        json_object_set_new(o, "notify", nt);
    }

    json_t *members = new_array();
    for (size_t i = 0; i < al->n_members; i++) {
        const struct cfg_member *m = &al->members[i];
        json_t *mo = new_object();
        json_object_set_new(mo, "name", new_string(m->name));
        json_object_set_new(mo, "bridge", new_string(m->bridge));
        if (m->iface_id) {
            json_object_set_new(mo, "iface_id", new_string(m->iface_id));
        } else {
            json_object_set_new(mo, "port", new_string(m->port));
        }
        if (m->has_mac) {
            json_object_set_new(mo, "mac", mac_to_json(m->mac));
        }
        if (m->has_ip) {
            json_object_set_new(mo, "ip",
                                ip_to_json(m->ip_is_v6, m->ip4, &m->ip6));
        }
        json_object_set_new(mo, "priority", new_integer(m->priority));
        if (m->has_probe) {
            json_object_set_new(mo, "probe", probe_to_json(&m->probe));
        }
        if (m->drained) {
            json_object_set_new(mo, "drained", json_true());
        }
        json_array_append_new(members, mo);
    }
    json_object_set_new(o, "members", members);
    if (al->n_access_bridges) {
        json_object_set_new(
            o, "access_bridges",
            strings_to_json(al->access_bridges, al->n_access_bridges));
    }
    return o;
}

const char *
config_alias_json_text(const struct cfg_alias *a_, size_t *len)
{
    struct cfg_alias *a = CONST_CAST(struct cfg_alias *, a_);
    if (!a->json_text) {
        json_t *j = config_alias_to_json(a);
        a->json_text = json_dumps(j, JSON_COMPACT);
        json_decref(j);
        a->json_len = strlen(a->json_text);
    }
    *len = a->json_len;
    return a->json_text;
}

static json_t *
tls_to_json(const struct cfg_tls *tls)
{
    json_t *o = new_object();
    json_object_set_new(o, "private_key", new_string(tls->private_key));
    json_object_set_new(o, "certificate", new_string(tls->certificate));
    json_object_set_new(o, "ca_cert", new_string(tls->ca_cert));
    return o;
}

json_t *
config_to_json(const struct config *cfg)
{
    json_t *root = config_settings_to_json(cfg);
    json_t *aliases = new_array();
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        json_array_append_new(aliases, config_alias_to_json(cfg->aliases[i]));
    }
    json_object_set_new(root, "aliases", aliases);
    return root;
}

json_t *
config_settings_to_json(const struct config *cfg)
{
    json_t *root = new_object();

    json_t *of = new_object();
    json_object_set_new(of, "listen",
                        strings_to_json(cfg->listen, cfg->n_listen));
    json_object_set_new(of, "connect",
                        strings_to_json(cfg->connect, cfg->n_connect));
    json_object_set_new(of, "inactivity_probe_ms",
                        new_integer(cfg->inactivity_probe_ms));
    json_object_set_new(of, "base_table", new_integer(cfg->base_table));
    json_object_set_new(of, "next_table",
                        (cfg->next_table < 0 ? new_string("NORMAL")
                                             : new_integer(cfg->next_table)));
    char cookie[16];
    snprintf(cookie, sizeof cookie, "0x%08" PRIx32, cfg->cookie_prefix);
    json_object_set_new(of, "cookie_prefix", new_string(cookie));
    if (cfg->openflow_tls.private_key) {
        json_object_set_new(of, "tls", tls_to_json(&cfg->openflow_tls));
    }
    json_object_set_new(of, "max_peers", new_integer(cfg->max_peers));
    json_object_set_new(of, "max_queue_bytes",
                        new_integer(cfg->max_queue_bytes));
    json_object_set_new(of, "max_peer_queue_bytes",
                        new_integer(cfg->max_peer_queue_bytes));
    json_object_set_new(of, "forget_bridges_s",
                        new_integer(cfg->forget_bridges_s));
    json_object_set_new(root, "openflow", of);

    json_t *api = new_object();
    json_object_set_new(api, "socket", new_string(cfg->api_socket));
    if (cfg->api_group) {
        json_object_set_new(api, "group", new_string(cfg->api_group));
    }
    if (cfg->api_tcp_address) {
        json_t *tcp = new_object();
        json_object_set_new(tcp, "address", new_string(cfg->api_tcp_address));
        json_object_set_new(tcp, "port", new_integer(cfg->api_tcp_port));
        json_object_set_new(tcp, "allow_nonloopback",
                            json_boolean(cfg->api_tcp_allow_nonloopback));
        if (cfg->api_tls.private_key) {
            json_object_set_new(tcp, "tls", tls_to_json(&cfg->api_tls));
        }
        json_object_set_new(api, "tcp", tcp);
    }
    json_object_set_new(api, "max_connections",
                        new_integer(cfg->api_max_connections));
    json_object_set_new(api, "max_incomplete",
                        new_integer(cfg->api_max_incomplete));
    json_object_set_new(api, "request_timeout_ms",
                        new_integer(cfg->api_request_timeout_ms));
    json_object_set_new(root, "api", api);
    if (cfg->ovsdb) {
        json_object_set_new(root, "ovsdb", cfgp_ovsdb_to_json(cfg->ovsdb));
    }

    json_t *bridges = new_array();
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        const struct cfg_bridge *br = &cfg->bridges[i];
        json_t *bo = new_object();
        json_object_set_new(bo, "name", new_string(br->name));
        json_object_set_new(bo, "uplinks",
                            strings_to_json(br->uplinks, br->n_uplinks));
        const struct cfg_probe_source *ps = &br->probe_source;
        if (ps->configured) {
            json_t *po = new_object();
            json_object_set_new(po, "mac", mac_to_json(ps->mac));
            if (ps->has_ip) {
                json_object_set_new(po, "ip",
                                    ip_to_json(false, ps->ip4, NULL));
            }
            json_object_set_new(po, "meter_id", new_integer(ps->meter_id));
            json_object_set_new(po, "rate_pps", new_integer(ps->rate_pps));
            json_object_set_new(bo, "probe_source", po);
        }
        if (br->datapath_id) {
            char dpid[17];
            snprintf(dpid, sizeof dpid, "%016" PRIx64, br->datapath_id);
            json_object_set_new(bo, "datapath_id", new_string(dpid));
        }
        if (br->peer_cn) {
            json_object_set_new(bo, "peer_cn", new_string(br->peer_cn));
        }
        json_array_append_new(bridges, bo);
    }
    json_object_set_new(root, "bridges", bridges);
    return root;
}

/* Lookups. */

const struct cfg_probe_source *
config_probe_source(const struct config *cfg, const char *bridge)
{
    static const struct cfg_probe_source defaults = {
        .mac = ETH_ADDR_C(02, 76, 6d, 61, 63, 70),
        .meter_id = 0x766d,
    };
    const struct cfg_bridge *br
        = (cfg && bridge ? config_find_bridge(cfg, bridge) : NULL);
    return br ? &br->probe_source : &defaults;
}

bool
config_member_probed(const struct cfg_member *m)
{
    return m->probe.type != CFG_PROBE_NONE && m->has_ip;
}

const struct cfg_alias *
config_find_alias(const struct config *cfg, const char *name)
{
    return cfg_index_name(cfg, name);
}

enum cfg_probe_type
config_member_probe_type(const struct config *cfg, const struct cfg_member *m)
{
    if (!config_member_probed(m)) {
        return CFG_PROBE_NONE;
    }
    if (m->probe.type == CFG_PROBE_TCP
        && (m->ip_is_v6 || !config_probe_source(cfg, m->bridge)->has_ip)) {
        return CFG_PROBE_ARP;
    }
    return m->probe.type;
}

const struct cfg_bridge *
config_find_bridge(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_bridges; i++) {
        if (cfg->bridges[i].name && !strcmp(cfg->bridges[i].name, name)) {
            return &cfg->bridges[i];
        }
    }
    return NULL;
}

bool
config_is_uplink(const struct config *cfg, const char *bridge,
                 const char *port)
{
    const struct cfg_bridge *br = config_find_bridge(cfg, bridge);
    if (br) {
        for (size_t i = 0; i < br->n_uplinks; i++) {
            if (!strcmp(br->uplinks[i], port)) {
                return true;
            }
        }
    }
    return false;
}

/* Comparison. */

static bool
str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
strings_eq(char **a, size_t n_a, char **b, size_t n_b)
{
    if (n_a != n_b) {
        return false;
    }
    for (size_t i = 0; i < n_a; i++) {
        if (!str_eq(a[i], b[i])) {
            return false;
        }
    }
    return true;
}

static bool
member_equal(const struct cfg_member *a, const struct cfg_member *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->bridge, b->bridge)
        || !str_eq(a->port, b->port) || !str_eq(a->iface_id, b->iface_id)
        || a->has_mac != b->has_mac || a->has_ip != b->has_ip
        || a->priority != b->priority || a->drained != b->drained
        || a->has_probe != b->has_probe
        || !probe_equal(&a->probe, &b->probe)) {
        return false;
    }
    if (a->has_mac && !eth_addr_equals(a->mac, b->mac)) {
        return false;
    }
    if (a->has_ip) {
        if (a->ip_is_v6 != b->ip_is_v6) {
            return false;
        }
        return (a->ip_is_v6 ? ipv6_addr_equals(&a->ip6, &b->ip6)
                            : a->ip4 == b->ip4);
    }
    return true;
}

bool
config_alias_equal(const struct cfg_alias *a, const struct cfg_alias *b)
{
    if (!str_eq(a->name, b->name) || a->id != b->id || a->n_ip4 != b->n_ip4
        || a->n_ip6 != b->n_ip6 || !eth_addr_equals(a->vmac, b->vmac)
        || a->preempt != b->preempt
        || a->preempt_delay_ms != b->preempt_delay_ms
        || a->announce.count != b->announce.count
        || a->announce.interval_ms != b->announce.interval_ms
        || a->announce.refresh_s != b->announce.refresh_s
        || a->probe.type != b->probe.type
        || a->probe.interval_ms != b->probe.interval_ms
        || a->probe.backup_interval_ms != b->probe.backup_interval_ms
        || a->probe.timeout_ms != b->probe.timeout_ms
        || a->probe.fall != b->probe.fall || a->probe.rise != b->probe.rise
        || a->probe.tcp_port != b->probe.tcp_port
        || !str_eq(a->notify.program, b->notify.program)
        || a->notify.timeout_ms != b->notify.timeout_ms
        || a->n_members != b->n_members) {
        return false;
    }
    for (size_t i = 0; i < a->n_ip4; i++) {
        if (a->ip4[i] != b->ip4[i]) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        if (!ipv6_addr_equals(&a->ip6[i], &b->ip6[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_members; i++) {
        if (!member_equal(&a->members[i], &b->members[i])) {
            return false;
        }
    }
    if (!strings_eq(a->access_bridges, a->n_access_bridges, b->access_bridges,
                    b->n_access_bridges)) {
        return false;
    }
    return true;
}

static bool
tls_eq(const struct cfg_tls *a, const struct cfg_tls *b)
{
    return (str_eq(a->private_key, b->private_key)
            && str_eq(a->certificate, b->certificate)
            && str_eq(a->ca_cert, b->ca_cert));
}

bool
config_settings_equal(const struct config *a, const struct config *b)
{
    if (!strings_eq(a->listen, a->n_listen, b->listen, b->n_listen)
        || !strings_eq(a->connect, a->n_connect, b->connect, b->n_connect)
        || a->inactivity_probe_ms != b->inactivity_probe_ms
        || a->base_table != b->base_table || a->next_table != b->next_table
        || a->cookie_prefix != b->cookie_prefix
        || !str_eq(a->api_socket, b->api_socket)
        || !str_eq(a->api_group, b->api_group)
        || !str_eq(a->api_tcp_address, b->api_tcp_address)
        || a->api_tcp_port != b->api_tcp_port
        || a->api_tcp_allow_nonloopback != b->api_tcp_allow_nonloopback
        || !cfgp_ovsdb_equal(a->ovsdb, b->ovsdb)
        || !tls_eq(&a->openflow_tls, &b->openflow_tls)
        || !tls_eq(&a->api_tls, &b->api_tls) || a->max_peers != b->max_peers
        || a->max_queue_bytes != b->max_queue_bytes
        || a->max_peer_queue_bytes != b->max_peer_queue_bytes
        || a->forget_bridges_s != b->forget_bridges_s
        || a->api_max_connections != b->api_max_connections
        || a->api_max_incomplete != b->api_max_incomplete
        || a->api_request_timeout_ms != b->api_request_timeout_ms
        || a->n_bridges != b->n_bridges) {
        return false;
    }
    for (size_t i = 0; i < a->n_bridges; i++) {
        if (!config_bridge_equal(&a->bridges[i], &b->bridges[i])) {
            return false;
        }
    }
    return true;
}

bool
config_bridge_equal(const struct cfg_bridge *x, const struct cfg_bridge *y)
{
    const struct cfg_probe_source *px = &x->probe_source;
    const struct cfg_probe_source *py = &y->probe_source;
    return (str_eq(x->name, y->name)
            && strings_eq(x->uplinks, x->n_uplinks, y->uplinks, y->n_uplinks)
            && px->configured == py->configured
            && eth_addr_equals(px->mac, py->mac) && px->has_ip == py->has_ip
            && px->ip4 == py->ip4 && px->meter_id == py->meter_id
            && px->rate_pps == py->rate_pps && x->datapath_id == y->datapath_id
            && str_eq(x->peer_cn, y->peer_cn));
}

bool
config_equal(const struct config *a, const struct config *b)
{
    if (!config_settings_equal(a, b) || a->n_aliases != b->n_aliases) {
        return false;
    }
    for (size_t i = 0; i < a->n_aliases; i++) {
        if (!config_alias_equal(a->aliases[i], b->aliases[i])) {
            return false;
        }
    }
    return true;
}
