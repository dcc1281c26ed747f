/*
 * config internals, shared by config.c (top level, openflow, api, entry
 * points), config-bridge.c ("bridges"), config-alias.c (aliases and
 * members), config-ovsdb.c ("ovsdb", members' "iface_id"), config-json.c
 * and config-check.c (the parser's state, value checkers and field
 * helpers).
 */
#ifndef VMACD_CONFIG_PRIVATE_H
#define VMACD_CONFIG_PRIVATE_H 1

#include <stdbool.h>
#include <stddef.h>
#include <sys/un.h>

#include "config.h"
#include "ifname.h"
#include "openvswitch/compiler.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/shash.h"

/* Defaults (also documented in config.h and docs/config.md). */
#define DEFAULT_LISTEN "ptcp:6653:127.0.0.1"
#define DEFAULT_INACTIVITY_PROBE_MS 5000
#define DEFAULT_FORGET_BRIDGES_S 60
#define DEFAULT_COOKIE_PREFIX 0x766d6163 /* "vmac" */
#define DEFAULT_API_SOCKET "/run/vmacd/vmacd.sock"
#define DEFAULT_MAX_PEERS 1024
#define DEFAULT_MAX_QUEUE_BYTES (64u << 20)
#define MIN_QUEUE_BYTES (1u << 20)
#define MAX_QUEUE_BYTES (1ull << 40)
#define DEFAULT_API_MAX_CONNECTIONS 128
#define DEFAULT_API_MAX_INCOMPLETE 32
#define DEFAULT_API_REQUEST_TIMEOUT_MS 10000
#define DEFAULT_PRIORITY 100
#define DEFAULT_ANNOUNCE_COUNT 3
#define DEFAULT_NOTIFY_TIMEOUT_MS 10000
#define DEFAULT_ANNOUNCE_INTERVAL_MS 100
#define DEFAULT_ANNOUNCE_REFRESH_S 60
#define DEFAULT_PROBE_INTERVAL_MS 100
#define DEFAULT_PROBE_FALL 3
#define DEFAULT_PROBE_RISE 3
#define DEFAULT_PROBE_METER_ID 0x766d
#define MAX_METER_ID 0xffff0000u

#define NAME_MAX_LEN 63
#define SUN_PATH_MAX (sizeof((struct sockaddr_un *) NULL)->sun_path - 1)
#define ALIAS_ID_MAX 0x7fffffffu

/* Parser state: the origin for messages, the path of the field being
 * parsed, the first error (its message, kind and field path), and what
 * the cross checks look at: the config whose index holds the other
 * aliases ('cfg': the one being built, whose aliases are indexed as they
 * are parsed, or for one alias the running config), skipping the alias
 * being replaced ('skip'). */
struct cfg_parser {
    const char *origin;
    struct ds path;
    char *error;
    const char *error_kind; /* VERR_*. */
    char *error_field;

    const struct config *cfg;
    const struct cfg_alias *skip;
    struct shash alias_names; /* File parse: alias name -> index + 1. */
};

/* An address as the config holds it. */
struct cfg_ip {
    bool is_v6;
    ovs_be32 ip4;
    struct in6_addr ip6;
};

/* config-check.c */
void cfgp_error(struct cfg_parser *p, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
/* An error of kind VERR_CONFLICT: a clash with another alias. */
void cfgp_conflict(struct cfg_parser *p, const char *format, ...)
    OVS_PRINTF_FORMAT(2, 3);
/* The parser's error as a verror (0 if none). */
int cfgp_to_verror(struct cfg_parser *p, struct verror *e);
void cfgp_parser_destroy(struct cfg_parser *p);
size_t cfgp_path_push_key(struct cfg_parser *p, const char *key);
size_t cfgp_path_push_index(struct cfg_parser *p, size_t index);
void cfgp_path_pop(struct cfg_parser *p, size_t mark);
void cfgp_free_strings(char **strings, size_t n);
void *cfgp_index_to_data(size_t index);
size_t cfgp_data_to_index(const void *data);
const char *cfgp_json_kind(const json_t *v);
bool cfgp_check_object(struct cfg_parser *p, const json_t *v,
                       const char *const allowed[]);
bool cfgp_check_string(struct cfg_parser *p, const json_t *v, const char **s);
bool cfgp_check_array(struct cfg_parser *p, const json_t *v);
bool cfgp_check_int(struct cfg_parser *p, const json_t *v, long long min,
                    long long max, const char *hint, long long *out);
bool cfgp_check_name(struct cfg_parser *p, const char *s);
bool cfgp_check_ifname(struct cfg_parser *p, const char *s);
bool cfgp_check_mac(struct cfg_parser *p, const char *s, const char *what,
                    struct eth_addr *mac);
void cfgp_cfg_ip_format(const struct cfg_ip *ip, char buf[INET6_ADDRSTRLEN]);
const char *cfgp_ip_unusable_reason(const struct cfg_ip *ip);
bool cfgp_check_ip(struct cfg_parser *p, const char *s, const char *what,
                   struct cfg_ip *ip);
bool cfgp_parse_port(const char *s, size_t len);
bool cfgp_parse_target_ip(const char *s, size_t len);
const char *cfgp_target_problem(const char *s, bool passive);
bool cfgp_target_is_tls(const char *s);
bool cfgp_field_missing(struct cfg_parser *p, const char *key);
bool cfgp_field_int(struct cfg_parser *p, const json_t *obj, const char *key,
                    long long min, long long max, const char *hint,
                    long long *out);
bool cfgp_field_uint(struct cfg_parser *p, const json_t *obj, const char *key,
                     long long min, long long max, const char *hint,
                     unsigned int *out);
bool cfgp_field_bool(struct cfg_parser *p, const json_t *obj, const char *key,
                     bool *out);
bool cfgp_field_string(struct cfg_parser *p, const json_t *obj,
                       const char *key,
                       bool (*check)(struct cfg_parser *, const char *),
                       char **out);

/* config-bridge.c: "bridges" (after "openflow": "peer_cn" needs its
 * "tls"). */
bool cfgp_parse_bridges(struct cfg_parser *p, const json_t *arr,
                        struct config *cfg);

/* config-ovsdb.c: "ovsdb" and the members' "iface_id". */
bool cfgp_parse_ovsdb(struct cfg_parser *p, const json_t *v,
                      struct config *cfg);
/* Parses member 'v''s "port" or "iface_id" (exactly one) into 'm'. */
bool cfgp_parse_member_port(struct cfg_parser *p, const json_t *v,
                            struct cfg_member *m);
/* Reports members 'o' and 'm' (of one alias, 'm' being parsed) that name
 * the same iface_id on one bridge; returns false then. */
bool cfgp_check_member_iface_ids(struct cfg_parser *p,
                                 const struct cfg_member *o,
                                 const struct cfg_member *m);
bool cfgp_check_alias_iface_ids_need_ovsdb(struct cfg_parser *,
                                           const struct config *,
                                           const struct cfg_alias *);
bool cfgp_check_iface_ids_need_ovsdb(struct cfg_parser *p,
                                     const struct config *cfg);
json_t *cfgp_ovsdb_to_json(const struct cfg_ovsdb *);
bool cfgp_ovsdb_equal(const struct cfg_ovsdb *, const struct cfg_ovsdb *);

/* config-alias.c */
/* Parses alias 'v' into a new alias (refcount 1) and checks it against
 * the other aliases of p->cfg (but p->skip).  'idx' is its position for
 * file messages.  Returns NULL on error. */
struct cfg_alias *cfgp_parse_alias(struct cfg_parser *p, const json_t *v,
                                   size_t idx);
/* Checks the members of every alias of 'cfg' against the aliases (a
 * member's mac is no VMAC, its ip no alias address). */
bool cfgp_check_members_vs_aliases(struct cfg_parser *p,
                                   const struct config *cfg);
/* The same for one alias 'a' against the others of p->cfg, in both
 * directions (its VMAC is no member's mac elsewhere, its addresses no
 * member's ip elsewhere). */
bool cfgp_check_alias_vs_others(struct cfg_parser *p,
                                const struct cfg_alias *a);
void cfgp_alias_free(struct cfg_alias *);

/* config-index.c */
void cfg_index_create(struct config *);
void cfg_index_destroy(struct config *);
void cfg_index_insert(struct config *, const struct cfg_alias *);
void cfg_index_remove(struct config *, const struct cfg_alias *);
/* The alias (not 'skip') that uses address 'ip' / VMAC 'mac', or NULL. */
const struct cfg_alias *cfg_index_address(const struct config *,
                                          const struct cfg_ip *,
                                          const struct cfg_alias *skip);
const struct cfg_alias *cfg_index_vmac(const struct config *, struct eth_addr,
                                       const struct cfg_alias *skip);
/* An alias (not 'skip') with a member whose mac / ip this is; '*member'
 * gets its index. */
const struct cfg_alias *cfg_index_member_mac(const struct config *,
                                             struct eth_addr,
                                             const struct cfg_alias *skip,
                                             size_t *member);
const struct cfg_alias *cfg_index_member_ip(const struct config *,
                                            const struct cfg_ip *,
                                            const struct cfg_alias *skip,
                                            size_t *member);
const struct cfg_alias *cfg_index_name(const struct config *,
                                       const char *name);
const struct cfg_alias *cfg_index_id(const struct config *, uint32_t id);
/* Ids: the hash of a name, and moving an indexed alias to another id. */
uint32_t cfg_index_hash_id(const char *name);
void cfg_index_set_id(struct config *, struct cfg_alias *, uint32_t id);

#endif /* config-private.h */
