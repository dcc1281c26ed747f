/*
 * config-index: the indexes of a config's aliases (config-private.h), so
 * that finding an alias by name or id and checking one alias against all
 * the others cost in proportion to that alias, not to the config.
 *
 * Per alias the index keeps a record (its name and id nodes and the keys
 * it uses).  A key (an alias address, a VMAC, a member's mac or ip) has
 * the list of its users: an alias address or a VMAC has one user in a
 * valid config, while members' MACs and ips may be shared by many
 * members.  A lookup takes the key's first user that is not the alias
 * being skipped, in at most two steps.
 */
#include "config.h"

#include <string.h>

#include "config-private.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "util.h"

enum key_kind {
    KEY_ADDRESS,    /* An alias address. */
    KEY_VMAC,       /* An alias's VMAC. */
    KEY_MEMBER_MAC, /* A member's configured mac. */
    KEY_MEMBER_IP,  /* A member's ip. */
};

struct index_key {
    struct hmap_node node; /* In cfg_index.keys. */
    enum key_kind kind;
    struct in6_addr ip; /* Addresses (IPv4 mapped). */
    struct eth_addr mac;
    struct ovs_list users; /* struct index_use. */
};

struct index_use {
    struct ovs_list node; /* In index_key.users. */
    struct index_key *key;
    const struct cfg_alias *alias;
    size_t member;
};

struct index_alias {
    struct hmap_node by_ptr;  /* In cfg_index.aliases. */
    struct hmap_node by_name; /* In cfg_index.names. */
    struct hmap_node by_id;   /* In cfg_index.ids. */
    const struct cfg_alias *alias;
    uint32_t id;
    size_t n_uses;
    struct index_use *uses;
};

struct cfg_index {
    struct hmap aliases; /* struct index_alias, by pointer. */
    struct hmap names;   /* struct index_alias, by name. */
    struct hmap ids;     /* struct index_alias, by id. */
    struct hmap keys;    /* struct index_key. */
};

void
cfg_index_create(struct config *cfg)
{
    struct cfg_index *ix = xmalloc(sizeof *ix);
    hmap_init(&ix->aliases);
    hmap_init(&ix->names);
    hmap_init(&ix->ids);
    hmap_init(&ix->keys);
    cfg->index = ix;
}

void
cfg_index_destroy(struct config *cfg)
{
    struct cfg_index *ix = cfg->index;
    if (!ix) {
        return;
    }
    struct index_alias *ia;
    HMAP_FOR_EACH_POP (ia, by_ptr, &ix->aliases) {
        free(ia->uses);
        free(ia);
    }
    struct index_key *k;
    HMAP_FOR_EACH_POP (k, node, &ix->keys) {
        free(k);
    }
    hmap_destroy(&ix->aliases);
    hmap_destroy(&ix->names);
    hmap_destroy(&ix->ids);
    hmap_destroy(&ix->keys);
    free(ix);
    cfg->index = NULL;
}

static uint32_t
key_hash(enum key_kind kind, const struct in6_addr *ip, struct eth_addr mac)
{
    return hash_bytes(&mac, sizeof mac, hash_bytes(ip, sizeof *ip, kind));
}

static struct index_key *
key_find(const struct cfg_index *ix, enum key_kind kind,
         const struct in6_addr *ip, struct eth_addr mac)
{
    struct index_key *k;
    HMAP_FOR_EACH_WITH_HASH (k, node, key_hash(kind, ip, mac), &ix->keys) {
        if (k->kind == kind && ipv6_addr_equals(&k->ip, ip)
            && eth_addr_equals(k->mac, mac)) {
            return k;
        }
    }
    return NULL;
}

static struct in6_addr
cfg_ip_key(const struct cfg_ip *ip)
{
    return ip->is_v6 ? ip->ip6 : in6_addr_mapped_ipv4(ip->ip4);
}

static void
add_use(struct cfg_index *ix, struct index_alias *ia, enum key_kind kind,
        struct in6_addr ip, struct eth_addr mac, size_t member)
{
    struct index_key *k = key_find(ix, kind, &ip, mac);
    if (!k) {
        k = xzalloc(sizeof *k);
        k->kind = kind;
        k->ip = ip;
        k->mac = mac;
        ovs_list_init(&k->users);
        hmap_insert(&ix->keys, &k->node, key_hash(kind, &ip, mac));
    }
    struct index_use *u = &ia->uses[ia->n_uses++];
    u->key = k;
    u->alias = ia->alias;
    u->member = member;
    ovs_list_push_back(&k->users, &u->node);
}

static struct index_alias *
alias_find(const struct cfg_index *ix, const struct cfg_alias *a)
{
    struct index_alias *ia;
    HMAP_FOR_EACH_WITH_HASH (ia, by_ptr, hash_pointer(a, 0), &ix->aliases) {
        if (ia->alias == a) {
            return ia;
        }
    }
    return NULL;
}

void
cfg_index_insert(struct config *cfg, const struct cfg_alias *a)
{
    struct cfg_index *ix = cfg->index;
    struct index_alias *ia = xzalloc(sizeof *ia);
    ia->alias = a;
    ia->id = a->id;
    ia->uses = xcalloc(a->n_ip4 + a->n_ip6 + 1 + 2 * a->n_members,
                       sizeof *ia->uses);
    hmap_insert(&ix->aliases, &ia->by_ptr, hash_pointer(a, 0));
    hmap_insert(&ix->names, &ia->by_name, hash_string(a->name, 0));
    if (a->id) {
        hmap_insert(&ix->ids, &ia->by_id, hash_int(a->id, 0));
    }

    struct eth_addr zero = eth_addr_zero;
    for (size_t i = 0; i < a->n_ip4; i++) {
        add_use(ix, ia, KEY_ADDRESS, in6_addr_mapped_ipv4(a->ip4[i]), zero,
                SIZE_MAX);
    }
    for (size_t i = 0; i < a->n_ip6; i++) {
        add_use(ix, ia, KEY_ADDRESS, a->ip6[i], zero, SIZE_MAX);
    }
    add_use(ix, ia, KEY_VMAC, in6addr_any, a->vmac, SIZE_MAX);
    for (size_t m = 0; m < a->n_members; m++) {
        const struct cfg_member *mb = &a->members[m];
        if (mb->has_mac) {
            add_use(ix, ia, KEY_MEMBER_MAC, in6addr_any, mb->mac, m);
        }
        if (mb->has_ip) {
            struct cfg_ip ip = {
                .is_v6 = mb->ip_is_v6,
                .ip4 = mb->ip4,
                .ip6 = mb->ip6,
            };
            add_use(ix, ia, KEY_MEMBER_IP, cfg_ip_key(&ip), zero, m);
        }
    }
}

void
cfg_index_remove(struct config *cfg, const struct cfg_alias *a)
{
    struct cfg_index *ix = cfg->index;
    struct index_alias *ia = alias_find(ix, a);
    if (!ia) {
        return;
    }
    for (size_t i = 0; i < ia->n_uses; i++) {
        struct index_use *u = &ia->uses[i];
        ovs_list_remove(&u->node);
        if (ovs_list_is_empty(&u->key->users)) {
            hmap_remove(&ix->keys, &u->key->node);
            free(u->key);
        }
    }
    hmap_remove(&ix->aliases, &ia->by_ptr);
    hmap_remove(&ix->names, &ia->by_name);
    if (ia->id) {
        hmap_remove(&ix->ids, &ia->by_id);
    }
    free(ia->uses);
    free(ia);
}

/* The first user of the key that is not 'skip'. */
static const struct index_use *
lookup(const struct config *cfg, enum key_kind kind, struct in6_addr ip,
       struct eth_addr mac, const struct cfg_alias *skip)
{
    const struct index_key *k
        = cfg && cfg->index ? key_find(cfg->index, kind, &ip, mac) : NULL;
    const struct index_use *u;
    if (k) {
        LIST_FOR_EACH (u, node, &k->users) {
            if (u->alias != skip) {
                return u;
            }
        }
    }
    return NULL;
}

const struct cfg_alias *
cfg_index_address(const struct config *cfg, const struct cfg_ip *ip,
                  const struct cfg_alias *skip)
{
    const struct index_use *u
        = lookup(cfg, KEY_ADDRESS, cfg_ip_key(ip), eth_addr_zero, skip);
    return u ? u->alias : NULL;
}

const struct cfg_alias *
cfg_index_vmac(const struct config *cfg, struct eth_addr mac,
               const struct cfg_alias *skip)
{
    const struct index_use *u = lookup(cfg, KEY_VMAC, in6addr_any, mac, skip);
    return u ? u->alias : NULL;
}

const struct cfg_alias *
cfg_index_member_mac(const struct config *cfg, struct eth_addr mac,
                     const struct cfg_alias *skip, size_t *member)
{
    const struct index_use *u
        = lookup(cfg, KEY_MEMBER_MAC, in6addr_any, mac, skip);
    *member = u ? u->member : SIZE_MAX;
    return u ? u->alias : NULL;
}

const struct cfg_alias *
cfg_index_member_ip(const struct config *cfg, const struct cfg_ip *ip,
                    const struct cfg_alias *skip, size_t *member)
{
    const struct index_use *u
        = lookup(cfg, KEY_MEMBER_IP, cfg_ip_key(ip), eth_addr_zero, skip);
    *member = u ? u->member : SIZE_MAX;
    return u ? u->alias : NULL;
}

const struct cfg_alias *
cfg_index_name(const struct config *cfg, const char *name)
{
    const struct index_alias *ia;
    if (!cfg->index) {
        return NULL;
    }
    HMAP_FOR_EACH_WITH_HASH (ia, by_name, hash_string(name, 0),
                             &cfg->index->names) {
        if (!strcmp(ia->alias->name, name)) {
            return ia->alias;
        }
    }
    return NULL;
}

const struct cfg_alias *
cfg_index_id(const struct config *cfg, uint32_t id)
{
    const struct index_alias *ia;
    HMAP_FOR_EACH_WITH_HASH (ia, by_id, hash_int(id, 0), &cfg->index->ids) {
        if (ia->id == id) {
            return ia->alias;
        }
    }
    return NULL;
}

uint32_t
cfg_index_hash_id(const char *name)
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

void
cfg_index_set_id(struct config *cfg, struct cfg_alias *a, uint32_t id)
{
    struct cfg_index *ix = cfg->index;
    struct index_alias *ia = alias_find(ix, a);
    ovs_assert(ia);
    if (ia->id) {
        hmap_remove(&ix->ids, &ia->by_id);
    }
    a->id = ia->id = id;
    if (id) {
        hmap_insert(&ix->ids, &ia->by_id, hash_int(id, 0));
    }
}
