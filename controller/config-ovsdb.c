/*
 * config-ovsdb: the "ovsdb" section (vmacd's OVSDB client) and the
 * members' "iface_id" (config-private.h): parsing, validation, the way
 * back to JSON and comparison.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config-private.h"
#include "util.h"

#define DEFAULT_OVSDB_REMOTE "unix:/var/run/openvswitch/db.sock"
#define IFACE_ID_MAX_LEN 255
#define TLS_PATH_MAX_LEN 4095

/* Returns NULL if 's' is a remote vmacd can use, else the problem. */
static const char *
remote_problem(const char *s)
{
    static const char syntax[]
        = "expected unix:PATH, tcp:IP:PORT or ssl:IP:PORT";

    if (strchr(s, ',')) {
        return "one remote only (the local Open vSwitch database)";
    } else if (!strncmp(s, "unix:", 5)) {
        size_t len = strlen(s + 5);
        if (!len) {
            return "the socket path is empty";
        } else if (len > SUN_PATH_MAX) {
            return "the socket path is longer than 107 bytes";
        }
        return NULL;
    } else if (!strncmp(s, "tcp:", 4) || !strncmp(s, "ssl:", 4)) {
        const char *rest = s + 4;
        const char *colon = strrchr(rest, ':');
        if (!colon) {
            return syntax;
        } else if (!cfgp_parse_target_ip(rest, colon - rest)) {
            return "the IP must be IPv4 or [IPv6] in brackets";
        } else if (!cfgp_parse_port(colon + 1, strlen(colon + 1))) {
            return "the port must be a number in 1..65535";
        }
        return NULL;
    }
    return syntax;
}

static bool
check_tls_path(struct cfg_parser *p, const char *s)
{
    size_t len = strlen(s);
    if (!len) {
        cfgp_error(p, "the file name is empty");
    } else if (len > TLS_PATH_MAX_LEN) {
        cfgp_error(p, "the file name is %" PRIuSIZE " bytes long; at most %d",
                   len, TLS_PATH_MAX_LEN);
    }
    return !p->error;
}

bool
cfgp_parse_ovsdb(struct cfg_parser *p, const json_t *v, struct config *cfg)
{
    static const char *const keys[] = {
        "remote", "fail_mode", "private_key", "certificate", "ca_cert", NULL,
    };
    static const char *const tls_keys[] = {
        "private_key",
        "certificate",
        "ca_cert",
    };
    if (!cfgp_check_object(p, v, keys)) {
        return false;
    }

    struct cfg_ovsdb *o = xzalloc(sizeof *o);
    cfg->ovsdb = o;
    o->fail_mode = CFG_FAIL_MODE_SECURE;

    const json_t *remote = json_object_get(v, "remote");
    const char *s = DEFAULT_OVSDB_REMOTE;
    if (remote) {
        size_t mark = cfgp_path_push_key(p, "remote");
        const char *problem;
        if (cfgp_check_string(p, remote, &s)
            && (problem = remote_problem(s)) != NULL) {
            cfgp_error(p, "\"%s\" is not a valid remote: %s", s, problem);
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }
    o->remote = xstrdup(s);

    const json_t *mode = json_object_get(v, "fail_mode");
    if (mode) {
        size_t mark = cfgp_path_push_key(p, "fail_mode");
        if (cfgp_check_string(p, mode, &s)) {
            if (!strcmp(s, "secure")) {
                o->fail_mode = CFG_FAIL_MODE_SECURE;
            } else if (!strcmp(s, "check")) {
                o->fail_mode = CFG_FAIL_MODE_CHECK;
            } else {
                cfgp_error(p,
                           "\"%s\" is not a fail_mode: expected \"secure\" "
                           "(vmacd sets the bridges' fail_mode to secure) or "
                           "\"check\" (vmacd only reports)",
                           s);
            }
        }
        cfgp_path_pop(p, mark);
        if (p->error) {
            return false;
        }
    }

    bool ssl = !strncmp(o->remote, "ssl:", 4);
    char **files[] = { &o->private_key, &o->certificate, &o->ca_cert };
    for (size_t i = 0; i < ARRAY_SIZE(tls_keys); i++) {
        const char *key = tls_keys[i];
        if (!json_object_get(v, key)) {
            if (ssl) {
                cfgp_error(p,
                           "an ssl: remote needs \"private_key\", "
                           "\"certificate\" and \"ca_cert\" (PEM files); "
                           "\"%s\" is missing",
                           key);
                return false;
            }
            continue;
        } else if (!ssl) {
            size_t mark = cfgp_path_push_key(p, key);
            cfgp_error(p, "only an ssl: remote takes TLS files");
            cfgp_path_pop(p, mark);
            return false;
        } else if (!cfgp_field_string(p, v, key, check_tls_path, files[i])) {
            return false;
        }
    }
    return true;
}

/* Members: "port" or "iface_id". */

static bool
check_iface_id(struct cfg_parser *p, const json_t *v, const char *s)
{
    size_t len = json_string_length(v);
    if (len != strlen(s)) {
        cfgp_error(p, "an iface_id must not contain a NUL character");
    } else if (!len) {
        cfgp_error(p, "the iface_id is empty; it has 1 to %d bytes",
                   IFACE_ID_MAX_LEN);
    } else if (len > IFACE_ID_MAX_LEN) {
        cfgp_error(p, "the iface_id is %" PRIuSIZE " bytes long; at most %d",
                   len, IFACE_ID_MAX_LEN);
    } else {
        for (const char *c = s; *c; c++) {
            if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                cfgp_error(p,
                           "the iface_id contains a control character "
                           "(byte %" PRIuSIZE ")",
                           (size_t) (c - s));
                break;
            }
        }
    }
    return !p->error;
}

bool
cfgp_parse_member_port(struct cfg_parser *p, const json_t *v,
                       struct cfg_member *m)
{
    const json_t *port = json_object_get(v, "port");
    const json_t *iface_id = json_object_get(v, "iface_id");

    if (port && iface_id) {
        cfgp_error(p, "both \"port\" and \"iface_id\" are given; a member has "
                      "exactly one: \"port\" (its OpenFlow port name) or "
                      "\"iface_id\" (its Interface's external_ids:iface-id)");
        return false;
    } else if (!port && !iface_id) {
        cfgp_error(p, "missing required key \"port\" (its OpenFlow port "
                      "name), or else \"iface_id\" (its Interface's "
                      "external_ids:iface-id)");
        return false;
    } else if (port) {
        return cfgp_field_string(p, v, "port", cfgp_check_ifname, &m->port);
    }

    size_t mark = cfgp_path_push_key(p, "iface_id");
    const char *s;
    if (cfgp_check_string(p, iface_id, &s) && check_iface_id(p, iface_id, s)) {
        m->iface_id = xstrdup(s);
        m->port = xstrdup("");
    }
    cfgp_path_pop(p, mark);
    return !p->error;
}

bool
cfgp_check_member_iface_ids(struct cfg_parser *p, const struct cfg_member *o,
                            const struct cfg_member *m)
{
    if (m->iface_id && o->iface_id && !strcmp(o->bridge, m->bridge)
        && !strcmp(o->iface_id, m->iface_id)) {
        size_t mark = cfgp_path_push_key(p, "iface_id");
        cfgp_error(p,
                   "iface_id \"%s\" on bridge \"%s\" is already used by "
                   "member \"%s\"",
                   m->iface_id, m->bridge, o->name);
        cfgp_path_pop(p, mark);
        return false;
    }
    return true;
}

/* A member by iface_id needs the OVSDB client that finds its port: checks
 * alias 'al' (its fields under the parser's current path). */
bool
cfgp_check_alias_iface_ids_need_ovsdb(struct cfg_parser *p,
                                      const struct config *cfg,
                                      const struct cfg_alias *al)
{
    for (size_t j = 0; !cfg->ovsdb && j < al->n_members; j++) {
        if (al->members[j].iface_id) {
            size_t mark = p->path.length;
            ds_put_format(&p->path, "%smembers[%" PRIuSIZE "].iface_id",
                          mark ? "." : "", j);
            cfgp_error(p, "a member given by iface_id needs \"ovsdb\" at "
                          "the top level: vmacd looks its port up in the "
                          "Open vSwitch database");
            cfgp_path_pop(p, mark);
            return false;
        }
    }
    return true;
}

/* The same for every alias of 'cfg'. */
bool
cfgp_check_iface_ids_need_ovsdb(struct cfg_parser *p, const struct config *cfg)
{
    for (size_t i = 0; !cfg->ovsdb && i < cfg->n_aliases; i++) {
        size_t mark = p->path.length;
        ds_put_format(&p->path, "aliases[%" PRIuSIZE "]", i);
        bool ok = cfgp_check_alias_iface_ids_need_ovsdb(p, cfg,
                                                        cfg->aliases[i]);
        cfgp_path_pop(p, mark);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Back to JSON, comparison, destruction. */

static const char *
fail_mode_name(enum cfg_fail_mode mode)
{
    return mode == CFG_FAIL_MODE_CHECK ? "check" : "secure";
}

json_t *
cfgp_ovsdb_to_json(const struct cfg_ovsdb *o)
{
    json_t *j = json_pack("{s:s, s:s}", "remote", o->remote, "fail_mode",
                          fail_mode_name(o->fail_mode));
    if (o->private_key) {
        json_object_set_new(j, "private_key", json_string(o->private_key));
        json_object_set_new(j, "certificate", json_string(o->certificate));
        json_object_set_new(j, "ca_cert", json_string(o->ca_cert));
    }
    return j;
}

static bool
str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

bool
cfgp_ovsdb_equal(const struct cfg_ovsdb *a, const struct cfg_ovsdb *b)
{
    if (!a || !b) {
        return a == b;
    }
    return (str_eq(a->remote, b->remote) && a->fail_mode == b->fail_mode
            && str_eq(a->private_key, b->private_key)
            && str_eq(a->certificate, b->certificate)
            && str_eq(a->ca_cert, b->ca_cert));
}

struct cfg_ovsdb *
config_ovsdb_clone(const struct cfg_ovsdb *o)
{
    struct cfg_ovsdb *c = xzalloc(sizeof *c);
    c->remote = xstrdup(o->remote);
    c->fail_mode = o->fail_mode;
    c->private_key = nullable_xstrdup(o->private_key);
    c->certificate = nullable_xstrdup(o->certificate);
    c->ca_cert = nullable_xstrdup(o->ca_cert);
    return c;
}

void
config_ovsdb_destroy(struct cfg_ovsdb *o)
{
    if (o) {
        free(o->remote);
        free(o->private_key);
        free(o->certificate);
        free(o->ca_cert);
        free(o);
    }
}
