/*
 * config: vmacd's configuration, parsed and validated from JSON.
 *
 * The same shape is used by the config file and (later) by the API's alias
 * objects.  Parsing is strict: unknown keys, wrong types, invalid addresses
 * and conflicts are refused with a message that names the origin (file
 * name), line/column where known, and the field (e.g.
 * "aliases[0].members[1].mac").  A refused config changes nothing.
 */
#ifndef VMACD_CONFIG_H
#define VMACD_CONFIG_H 1

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "openvswitch/compiler.h"
#include "openvswitch/types.h"
#include "packets.h"

struct verror;
struct cfg_index;

/* Health probe settings (see docs/config.md, "probe"). */
enum cfg_probe_type {
    CFG_PROBE_ARP, /* Default: address resolution (ARP, or ND for IPv6). */
    CFG_PROBE_TCP,
    CFG_PROBE_NONE,
};

struct cfg_probe {
    enum cfg_probe_type type;
    unsigned int interval_ms;        /* Default 100. */
    unsigned int timeout_ms;         /* Default = interval_ms. */
    unsigned int backup_interval_ms; /* Members that are not the master;
                                      * 0 (default): interval_ms. */
    unsigned int fall;               /* Default 3. */
    unsigned int rise;               /* Default 3. */
    uint16_t tcp_port;               /* Required when type == CFG_PROBE_TCP. */
};

struct cfg_member {
    char *name;
    char *bridge;   /* Bridge name (its LOCAL port's name). */
    char *port;     /* OpenFlow port name on that bridge; "" (never NULL)
                     * for a member given by "iface_id". */
    char *iface_id; /* "iface_id": the port is the Interface whose
                     * external_ids:iface-id is this (1..255 bytes); NULL
                     * for a member given by "port".  The engine finds its
                     * port in OVSDB (engine-ovsdb.c). */
    bool has_mac;   /* False when "mac" was omitted. */
    struct eth_addr mac;
    bool has_ip; /* False when "ip" was omitted. */
    bool ip_is_v6;
    ovs_be32 ip4;           /* When has_ip && !ip_is_v6. */
    struct in6_addr ip6;    /* When has_ip && ip_is_v6. */
    int priority;           /* 0..255, default 100. */
    bool has_probe;         /* The member has its own "probe". */
    struct cfg_probe probe; /* Effective: the alias's unless has_probe
                             * (member keys override the alias's). */
    bool drained;           /* Never elected; default false.  Written
                             * back only when true. */
};

struct cfg_announce {
    unsigned int count;       /* Default 3, 0..100. */
    unsigned int interval_ms; /* Default 100. */
    unsigned int refresh_s;   /* Default 60; 0 disables. Must be < 300. */
};

/* "notify": a program run after each master change (hooks.h). */
struct cfg_notify {
    char *program;           /* Absolute path; NULL when not configured. */
    unsigned int timeout_ms; /* Default 10000, 1..600000. */
};

struct cfg_alias {
    char *name; /* [A-Za-z0-9_.-]{1,63}. */
    size_t n_ip4;
    ovs_be32 *ip4;
    size_t n_ip6;
    struct in6_addr *ip6;
    struct eth_addr vmac;          /* Unicast (not multicast, not zero). */
    bool preempt;                  /* Default true. */
    unsigned int preempt_delay_ms; /* Default 0. */
    struct cfg_announce announce;
    struct cfg_probe probe;
    struct cfg_notify notify;
    size_t n_members;
    struct cfg_member *members;
    size_t n_access_bridges; /* "access_bridges": bridges that carry */
    char **access_bridges;   /* the alias for their clients without a
                              * member of it. */

    /* Derived, not in the JSON: a stable id in 1..0x7fffffff from the
     * alias's name (hash, collisions resolved deterministically over the
     * sorted names).  Used as OpenFlow group id and low half of cookies.
     * It is the one field that may change while the alias is shared: when
     * another alias's arrival or departure resolves a collision anew
     * (config_put_alias() reports it). */
    uint32_t id;

    /* An alias is immutable once parsed and shared by reference: by the
     * configs that hold it and the engine. */
    int refcnt;
    char *json_text; /* Cache of config_alias_json_text(), or NULL. */
    size_t json_len;
};

/* The identity health probes are sent from, on one bridge. */
struct cfg_probe_source {
    bool configured;     /* "probe_source" was given. */
    struct eth_addr mac; /* Default 02:76:6d:61:63:70. */
    bool has_ip;         /* Needed for tcp probes. */
    ovs_be32 ip4;
    uint32_t meter_id;     /* Default 0x766d; 1..0xffff0000. */
    unsigned int rate_pps; /* Probe replies to vmacd; 0 = auto. */
};

/* TLS files (PEM): all NULL when TLS is not configured, else all set. */
struct cfg_tls {
    char *private_key;
    char *certificate;
    char *ca_cert;
};

struct cfg_bridge {
    char *name;
    size_t n_uplinks;
    char **uplinks; /* Port names. */
    struct cfg_probe_source probe_source;
    uint64_t datapath_id; /* "datapath_id": the only datapath that may be
                           * this bridge; 0: any.  Unique among bridges. */
    char *peer_cn;        /* "peer_cn": the CN its switch's TLS certificate
                           * must have; NULL: any (needs openflow.tls). */
};

/* "ovsdb": {...}: vmacd's OVSDB client (see docs/config.md, "ovsdb"). */
enum cfg_fail_mode {
    CFG_FAIL_MODE_SECURE, /* Default: set fail_mode=secure on the bridges. */
    CFG_FAIL_MODE_CHECK,  /* Only report bridges that are not secure. */
};

struct cfg_ovsdb {
    char *remote; /* "unix:PATH", "tcp:IP:PORT" or "ssl:IP:PORT"; default
                   * "unix:/var/run/openvswitch/db.sock". */
    enum cfg_fail_mode fail_mode;
    /* TLS files, for an ssl: remote only (then all three are set). */
    char *private_key;
    char *certificate;
    char *ca_cert;
};

struct config {
    char *origin; /* File name or "<api>", for messages. */

    /* "openflow": {...} */
    size_t n_listen;
    char **listen; /* Default ["ptcp:6653:127.0.0.1"]. */
    size_t n_connect;
    char **connect;                   /* Default []. */
    unsigned int inactivity_probe_ms; /* Default 5000; 0 disables. */
    int base_table;                   /* Default 0; 0..250. */
    int next_table;                   /* Default -1 = fall through to NORMAL;
                                       * else > base_table + 1, < 255. */
    uint32_t cookie_prefix;           /* High 32 bits of every cookie vmacd
                                       * sets; default 0x766d6163 ("vmac"). */
    struct cfg_tls openflow_tls;      /* "tls": for ssl: and pssl: targets. */
    unsigned int max_peers;           /* Default 1024. */
    size_t max_queue_bytes;           /* Output queued to all peers; default
                                       * 64 MiB. */
    size_t max_peer_queue_bytes;      /* To one peer; default
                                       * max_queue_bytes. */
    unsigned int forget_bridges_s;    /* A disconnected bridge that is not
                                       * configured is forgotten after it;
                                       * default 60, 1..86400. */

    /* "api": {...} */
    char *api_socket;                 /* Default "/run/vmacd/vmacd.sock". */
    char *api_group;                  /* "group": owner group of the socket, or
                                       * NULL (the daemon's). */
    char *api_tcp_address;            /* "tcp": {"address"}: an IP literal, or
                                       * NULL: no TCP listener. */
    unsigned int api_tcp_port;        /* "tcp": {"port"}: 1..65535. */
    bool api_tcp_allow_nonloopback;   /* "tcp": {"allow_nonloopback"}. */
    struct cfg_tls api_tls;           /* "tcp": {"tls"}: TLS with client
                                       * certificates on the TCP listener. */
    unsigned int api_max_connections; /* Per listener; default 128. */
    unsigned int api_max_incomplete;  /* Connections without a complete
                                       * request; default 32. */
    unsigned int api_request_timeout_ms; /* For a whole request; 10000. */

    struct cfg_ovsdb *ovsdb; /* "ovsdb": {...}, or NULL when absent. */

    size_t n_bridges;
    struct cfg_bridge *bridges;
    size_t n_aliases;
    struct cfg_alias **aliases; /* In config order. */
    size_t allocated_aliases;

    /* Indexes of the aliases (config-index.c): names, ids, addresses,
     * VMACs, members' MACs and ips, for lookups and cross checks. */
    struct cfg_index *index;
};

/* Parses and validates 'json' text.  Returns 0 and stores a new config in
 * '*cfgp', or an errno and fills 'e' (verror.h): its message is "ORIGIN:
 * LINE:COL: FIELD: problem" (line/column only when known), its field the
 * path of the field ("aliases[0].members[1].mac").  'origin' names the
 * source in messages. */
int config_parse_string(const char *json, const char *origin,
                        struct config **cfgp,
                        struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Same, reading the file 'path' (origin = path). */
int config_load(const char *path, struct config **cfgp,
                struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Same, from an already parsed JSON value.  Messages carry no line/column.
 * Does not take ownership of 'json'.  Documented in docs/config.md. */
int config_parse_json(const json_t *json, const char *origin,
                      struct config **cfgp,
                      struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Validates one alias object 'json' against 'cfg' as the file's validator
 * would with it in the config: in place of the alias named 'replacing'
 * (NULL: added at the end).  Returns 0 and stores the new alias
 * (refcount 1, its id not yet assigned) in '*aliasp', or an errno and
 * fills 'e', whose field is relative to the alias ("members[1].mac") and
 * whose kind is VERR_CONFLICT for clashes with other aliases.  Costs in
 * proportion to the alias, not to the config (except for probed members,
 * whose meters are checked bridge-wide). */
int config_parse_alias(const struct config *cfg, const json_t *json,
                       const char *replacing, struct cfg_alias **aliasp,
                       struct verror *e) OVS_WARN_UNUSED_RESULT;

/* Aliases whose id changed because another alias came or went (a hash
 * collision resolved anew, see cfg_alias.id: rare).  'aliases' are
 * borrowed from the config; 'old_ids' are the ids they had. */
struct cfg_renumbering {
    size_t n;
    struct cfg_alias **aliases;
    uint32_t *old_ids;
};
void cfg_renumbering_destroy(struct cfg_renumbering *); /* Frees arrays. */

/* Puts 'alias' (reference taken) into 'cfg': in place of the alias of the
 * same name (which keeps its position and id) or at the end (with an id
 * from its name).  Returns the alias it replaced (reference passed to the
 * caller), or NULL.  Renumbered aliases are appended to 'r' (which the
 * caller initialized, e.g. with { 0 }). */
struct cfg_alias *config_put_alias(struct config *, struct cfg_alias *alias,
                                   struct cfg_renumbering *r);
/* Removes the alias named 'name' and returns it (reference passed to the
 * caller), or NULL.  Renumbered aliases as above. */
struct cfg_alias *config_remove_alias(struct config *, const char *name,
                                      struct cfg_renumbering *r);

struct cfg_alias *cfg_alias_ref(const struct cfg_alias *);
void cfg_alias_unref(struct cfg_alias *); /* NULL-safe. */
/* A copy of 'a' (refcount 1) whose member i has port 'ports[i]' (NULL:
 * as in 'a'): how the engine runs a member given by "iface_id" once it
 * found its port.  Same name and id, and the same JSON as 'a' (members
 * given by "iface_id" write that, not "port"). */
struct cfg_alias *cfg_alias_with_ports(const struct cfg_alias *,
                                       const char *const *ports);

/* Returns the config as JSON in the input shape, with defaults filled in
 * (stable key order, suitable for persisting and for the API). */
json_t *config_to_json(const struct config *);
/* The same without "aliases". */
json_t *config_settings_to_json(const struct config *);

/* Returns one alias as JSON in the input shape. */
json_t *config_alias_to_json(const struct cfg_alias *);
/* The same as compact text (one line), computed once per alias. */
const char *config_alias_json_text(const struct cfg_alias *, size_t *len);

/* Lookups in O(1). */
const struct cfg_alias *config_find_alias(const struct config *,
                                          const char *name);
int config_alias_position(const struct config *, const struct cfg_alias *);
const struct cfg_bridge *config_find_bridge(const struct config *,
                                            const char *name);

/* The probe identity of bridge 'bridge' (the defaults when the bridge is
 * not listed or has no "probe_source"). */
const struct cfg_probe_source *config_probe_source(const struct config *,
                                                   const char *bridge);

/* Returns true if member 'm' is probed (type arp or tcp, and an "ip": ARP
 * or TCP probes for IPv4, ND probes for IPv6). */
bool config_member_probed(const struct cfg_member *m);

/* Returns true if 'port' is an uplink of bridge 'bridge'. */
bool config_is_uplink(const struct config *, const char *bridge,
                      const char *port);

/* Return true if the two configs (aliases) have the same content, derived
 * ids included.  'origin' is not compared.  Order matters: the same
 * aliases in another order compare unequal.  config_settings_equal()
 * compares everything but the aliases. */
bool config_equal(const struct config *, const struct config *);
bool config_settings_equal(const struct config *, const struct config *);
bool config_bridge_equal(const struct cfg_bridge *, const struct cfg_bridge *);
bool config_alias_equal(const struct cfg_alias *, const struct cfg_alias *);

/* The probe type member 'm' of an alias of 'cfg' is probed with:
 * CFG_PROBE_NONE when it is not probed (config_member_probed()), and
 * CFG_PROBE_ARP for a tcp probe that cannot be sent (an IPv6 ip, which
 * is probed with ND, or no probe_source.ip on its bridge). */
enum cfg_probe_type config_member_probe_type(const struct config *,
                                             const struct cfg_member *m);

void config_destroy(struct config *);

/* A copy of an "ovsdb" section (for a module that outlives the config),
 * and its destruction (accepts NULL). */
struct cfg_ovsdb *config_ovsdb_clone(const struct cfg_ovsdb *);
void config_ovsdb_destroy(struct cfg_ovsdb *);

#endif /* config.h */
