/*
 * vsdb-api: "GET /v1/ovsdb": the OVSDB client's connection, the database
 * as last seen, and the bridges whose fail_mode vmacd looks after.
 */
#include "vsdb-private.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "util.h"

char *
vsdb_bridge_warning(const struct vsdb *v, const struct vsdb_bridge *b,
                    const struct ovsdbc_bridge *br)
{
    if (!br) {
        return xasprintf("no bridge named %s in the database", b->name);
    } else if (br->fail_mode == OVSDBC_FAIL_SECURE) {
        return NULL;
    } else if (v->cfg->fail_mode == CFG_FAIL_MODE_CHECK) {
        return xasprintf("fail_mode is standalone: about 15 s after vmacd "
                         "stops, ovs-vswitchd goes fail-open and vmacd's "
                         "flows stop answering (ovs-vsctl set-fail-mode %s "
                         "secure)",
                         b->name);
    } else if (b->last_error) {
        return xasprintf("setting fail_mode=secure failed (%s); retrying",
                         b->last_error);
    }
    return NULL;
}

static json_t *
bridge_to_json(const struct vsdb *v, const struct vsdb_bridge *b,
               const struct ovsdbc_snap *snap)
{
    const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(snap, b->name);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(b->name));
    json_object_set_new(o, "in_database", json_boolean(br != NULL));
    json_object_set_new(o, "fail_mode",
                        (!br ? json_null()
                         : br->fail_mode == OVSDBC_FAIL_SECURE
                             ? json_string("secure")
                             : json_string("standalone")));
    json_object_set_new(o, "setting_fail_mode", json_boolean(b->writing));
    json_object_set_new(o, "fail_mode_sets", json_integer(b->n_set));
    json_object_set_new(
        o, "last_error",
        (b->last_error ? json_string(b->last_error) : json_null()));
    char *warning = snap ? vsdb_bridge_warning(v, b, br) : NULL;
    json_object_set_new(o, "warning",
                        warning ? json_string(warning) : json_null());
    free(warning);
    return o;
}

static void
get_ovsdb(struct api_request *req, void *v_)
{
    struct vsdb *v = v_;
    json_t *o = json_object();

    json_object_set_new(o, "configured", json_boolean(v->cfg != NULL));
    if (!v->cfg) {
        json_object_set_new(
            o, "message",
            json_string("no \"ovsdb\" in the configuration: bridges' "
                        "fail_mode, members' iface ids and ports' VLAN "
                        "tags are not checked"));
        api_reply(req, 200, o);
        return;
    }

    const struct ovsdbc_status *s = ovsdbc_status(v->client);
    const struct ovsdbc_snap *snap = ovsdbc_snapshot(v->client);
    json_object_set_new(o, "remote", json_string(v->cfg->remote));
    json_object_set_new(o, "fail_mode",
                        json_string(v->cfg->fail_mode == CFG_FAIL_MODE_CHECK
                                        ? "check"
                                        : "secure"));
    json_object_set_new(o, "state", json_string(ovsdbc_state_name(s->state)));
    json_object_set_new(o, "connected",
                        json_boolean(s->state != OVSDBC_CONNECTING));
    json_object_set_new(o, "state_for_s",
                        json_real(ev_now(v->loop) - v->state_since));
    json_object_set_new(o, "connects", json_integer(s->n_connects));
    json_object_set_new(o, "disconnects", json_integer(s->n_disconnects));
    json_object_set_new(o, "last_error",
                        (s->last_error
                             ? json_string(ovs_retval_to_string(s->last_error))
                             : json_null()));
    json_object_set_new(o, "writes_in_flight",
                        json_integer(ovsdbc_n_writes(v->client)));

    json_t *bridges = json_array();
    const struct shash_node **nodes = shash_sort(&v->bridges);
    for (size_t i = 0; i < shash_count(&v->bridges); i++) {
        json_array_append_new(bridges,
                              bridge_to_json(v, nodes[i]->data, snap));
    }
    free(nodes);
    json_object_set_new(o, "bridges", bridges);

    if (snap) {
        json_t *db = ovsdbc_snap_to_json(snap);
        json_object_set_new(db, "stale",
                            json_boolean(s->state != OVSDBC_SYNCED));
        json_object_set_new(o, "database", db);
    } else {
        json_object_set_new(o, "database", json_null());
    }
    api_reply(req, 200, o);
}

void
vsdb_api_routes(struct vsdb *v, struct api *api)
{
    api_route(api, "GET", "/v1/ovsdb", get_ovsdb, v);
}
