/*
 * engine-api: the API's read handlers and simple actions over the engine's
 * state.  Every table vmacd keeps can be dumped here.
 */
#include "engine-private.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "alias.h"
#include "api.h"
#include "cfgedit.h"
#include "config.h"
#include "flowgen.h"
#include "flowtab.h"
#include "hooks.h"
#include "ofswitch.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "probemeter.h"
#include "probes.h"
#include "procsched.h"
#include "store.h"
#include "switches.h"
#include "util.h"
#include "verror.h"

VLOG_DEFINE_THIS_MODULE(engine_api);

void
engine_reply_verror(struct api_request *req, unsigned int status,
                    const struct verror *e)
{
    api_reply_error(req, status, e->kind ? e->kind : VERR_INVALID, e->field,
                    "%s", e->message ? e->message : "error");
}

/* What the Open vSwitch database says of bridge 'name', into 'o': its
 * fail_mode (with a warning in "check" mode when it is not secure) and
 * why vmacd does not write to its switch, if it does not. */
static void
ovsdb_bridge_to_json(const struct engine *eng, const char *name, json_t *o)
{
    const struct config *cfg = engine_config(eng);
    json_t *warnings = json_array();
    const char *error = engine_bridge_identity_error(eng, name);
    if (error) {
        json_array_append_new(warnings, json_string(error));
    }
    json_object_set_new(
        o, "written", json_boolean(engine_bridge_flowtab(eng, name) != NULL));
    json_object_set_new(o, "vlan_aware",
                        json_boolean(engine_bridge_vlan_aware(eng, name)));
    const struct ovsdbc_snap *snap = engine_ovsdb_snapshot(eng);
    const struct ovsdbc_bridge *br
        = (cfg->ovsdb && snap ? ovsdbc_snap_bridge(snap, name) : NULL);
    if (br) {
        bool secure = br->fail_mode == OVSDBC_FAIL_SECURE;
        json_object_set_new(o, "fail_mode",
                            json_string(secure ? "secure" : "standalone"));
        if (!secure && cfg->ovsdb->fail_mode == CFG_FAIL_MODE_CHECK) {
            json_array_append_new(
                warnings,
                json_string("fail_mode is standalone: about 15 s after "
                            "vmacd stops, ovs-vswitchd goes fail-open and "
                            "vmacd's flows stop answering"));
        }
    } else {
        json_object_set_new(o, "fail_mode", json_null());
    }
    json_object_set_new(o, "warnings", warnings);
}

static json_t *
bridge_to_json(const struct engine *eng, const char *name)
{
    const struct config *cfg = engine_config(eng);
    struct switches *sw = engine_switches(eng);
    const struct flowtab *ft = engine_bridge_flowtab(eng, name);
    json_t *o = switches_bridge_to_json(sw, name);
    if (!o) {
        o = json_object();
        json_object_set_new(o, "name", json_string(name));
        json_object_set_new(o, "datapath_id", json_string("0000000000000000"));
        json_object_set_new(o, "connected", json_false());
        json_object_set_new(o, "ports", json_array());
    }

    if (ft) {
        json_t *ports = json_object_get(o, "ports");
        size_t i;
        json_t *port;
        json_array_foreach (ports, i, port) {
            const char *pname
                = json_string_value(json_object_get(port, "name"));
            json_object_set_new(
                port, "uplink",
                json_boolean(config_is_uplink(cfg, name, pname)));
        }
        struct flowtab_stats fs;
        flowtab_get_stats(ft, &fs);
        json_t *flows = json_object();
        json_object_set_new(flows, "synced",
                            json_boolean(flowtab_is_synced(ft)));
        json_object_set_new(flows, "flows", json_integer(fs.n_flows));
        json_object_set_new(flows, "groups", json_integer(fs.n_groups));
        json_object_set_new(flows, "bundles", json_integer(fs.bundles));
        json_object_set_new(flows, "flow_mods", json_integer(fs.flow_mods));
        json_object_set_new(flows, "group_mods", json_integer(fs.group_mods));
        json_object_set_new(flows, "failures", json_integer(fs.failures));
        json_object_set_new(o, "flowtab", flows);
        json_object_set_new(
            o, "connected_for_s",
            json_real(ev_time() - switches_connected_since(sw, name)));
    }
    uint64_t handed, applied;
    engine_bridge_generations(eng, name, &handed, &applied);
    json_object_set_new(o, "connects",
                        json_integer(switches_n_connects(sw, name)));
    json_object_set_new(o, "generation", json_integer(handed));
    json_object_set_new(o, "applied_generation", json_integer(applied));

    ovsdb_bridge_to_json(eng, name, o);

    json_t *aliases = json_array();
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        if (engine_carries(cfg->aliases[i], name)) {
            json_array_append_new(aliases, json_string(cfg->aliases[i]->name));
        }
    }
    json_object_set_new(o, "aliases", aliases);
    return o;
}

json_t *
engine_alias_to_json(struct engine *eng, const struct cfg_alias *a)
{
    const struct alias_state *st = engine_alias_state(eng, a->name);
    const struct probemeter_plan *plan = engine_meter_plan(eng);
    struct probes *probes = engine_probes(eng);
    int master = st ? alias_state_master(st) : -1;

    json_t *o = config_alias_to_json(a);
    probes_yield(probes);
    json_object_set_new(o, "master",
                        master >= 0 ? json_string(a->members[master].name)
                                    : json_null());
    json_object_set_new(o, "state",
                        json_string(st ? alias_state_name(st) : "none"));
    char cookie[19];
    snprintf(cookie, sizeof cookie, "%#018" PRIx64,
             flowgen_cookie(engine_config(eng)->cookie_prefix, a->id));
    json_object_set_new(o, "cookie", json_string(cookie));
    json_object_set_new(o, "group_id", json_integer(a->id));
    json_object_set_new(o, "announcements_sent",
                        json_integer(engine_alias_announced(eng, a->name)));
    bool conflict;
    int vlan = engine_alias_vlan(eng, a->name, &conflict);
    json_object_set_new(o, "vlan",
                        vlan >= 0 ? json_integer(vlan) : json_null());
    json_object_set_new(o, "vlan_conflict", json_boolean(conflict));

    json_t *members = json_object_get(o, "members");
    size_t i;
    json_t *mj;
    json_array_foreach (members, i, mj) {
        const struct cfg_member *m = &a->members[i];
        json_object_set_new(
            mj, "state",
            json_string(st ? alias_member_state_name(st, i) : "unknown"));
        json_object_set_new(mj, "master", json_boolean((int) i == master));
        json_object_set_new(mj, "bridge_known",
                            json_boolean(engine_bridge_known(eng, m->bridge)));
        const char *port_error;
        const char *port = engine_member_port(eng, a->name, i, &port_error);
        port = port ? port : m->port;
        if (m->iface_id) {
            /* Read-only: where the iface-id is now. */
            const struct ofswitch_port *op
                = port[0]
                      ? switches_port(engine_switches(eng), m->bridge, port)
                      : NULL;
            json_object_set_new(mj, "port",
                                port[0] ? json_string(port) : json_null());
            json_object_set_new(mj, "ofport",
                                op ? json_integer(op->number) : json_null());
            json_object_set_new(mj, "port_error",
                                port_error ? json_string(port_error)
                                           : json_null());
        }
        const char *vlan_error;
        int mvlan = engine_member_vlan(eng, a->name, i, &vlan_error);
        json_object_set_new(mj, "vlan",
                            mvlan >= 0 ? json_integer(mvlan) : json_null());
        json_object_set_new(mj, "vlan_error",
                            vlan_error ? json_string(vlan_error)
                                       : json_null());
        json_object_set_new(
            mj, "probe_state",
            probes_member_to_json(probes, a->name, m->name,
                                  probemeter_find(plan, m->bridge, port)));
        /* About 10 us per member: let due probes leave meanwhile. */
        probes_yield(probes);
    }
    return o;
}

static void
count_connected(const char *bridge, void *aux)
{
    void **args = aux;
    const struct engine *eng = args[0];
    json_t *bridges = args[1];
    struct switches *sw = engine_switches(eng);
    char dpid[17];
    snprintf(dpid, sizeof dpid, "%016" PRIx64, switches_dpid(sw, bridge));
    json_t *b = json_object();
    json_object_set_new(b, "name", json_string(bridge));
    json_object_set_new(b, "datapath_id", json_string(dpid));
    json_object_set_new(b, "connected",
                        json_boolean(switches_is_connected(sw, bridge)));
    json_array_append_new(bridges, b);
}

/* Is 'name' a bridge vmacd knows: listed in the config's "bridges", or
 * connected now? */
bool
engine_bridge_known(const struct engine *eng, const char *name)
{
    return (config_find_bridge(engine_config(eng), name)
            || switches_is_connected(engine_switches(eng), name));
}

/* GET /v1/status's body. */
static json_t *
status_to_json(struct engine *eng)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(VMACD_VERSION));
    json_object_set_new(
        o, "uptime_s",
        json_integer((json_int_t) (ev_time() - engine_started(eng))));
    json_object_set_new(o, "health", engine_health_to_json(eng));

    json_t *bridges = json_array();
    void *args[] = { eng, bridges };
    switches_for_each(engine_switches(eng), count_connected, args);
    json_object_set_new(o, "bridges", bridges);

    struct switches_stats ss;
    switches_get_stats(engine_switches(eng), &ss);
    json_t *counts = json_object();
    json_object_set_new(counts, "bridges", json_integer(ss.n_bridges));
    json_object_set_new(counts, "bridges_connected",
                        json_integer(ss.n_connected));
    json_object_set_new(counts, "connections", json_integer(ss.n_connections));
    json_object_set_new(counts, "connections_refused",
                        json_integer(ss.refused));
    json_object_set_new(counts, "aliases",
                        json_integer(engine_config(eng)->n_aliases));
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "probes", probes_status_json(engine_probes(eng)));
    json_object_set_new(o, "scheduling", procsched_to_json());
    struct store *store = engine_store(eng);
    json_object_set_new(o, "store",
                        store ? store_to_json(store) : json_null());
    return o;
}

static void
get_status(struct api_request *req, void *eng_)
{
    api_reply(req, 200, status_to_json(eng_));
}

static void
bridge_append(const char *bridge, void *aux)
{
    void **args = aux;
    json_array_append_new(args[1], bridge_to_json(args[0], bridge));
}

/* GET /v1/bridges's array. */
static json_t *
bridges_to_json(struct engine *eng)
{
    json_t *a = json_array();
    void *args[] = { eng, a };
    switches_for_each(engine_switches(eng), bridge_append, args);
    return a;
}

static void
get_bridges(struct api_request *req, void *eng_)
{
    api_reply(req, 200, json_pack("{s:o}", "bridges", bridges_to_json(eng_)));
}

/* The bridge named by the request, or NULL after replying 404. */
static const char *
bridge_or_404(struct engine *eng, struct api_request *req)
{
    const char *name = api_request_param(req, "name");
    if (!switches_knows(engine_switches(eng), name)) {
        api_reply_error(req, 404, "not_found", "name", "no bridge \"%s\"",
                        name);
        return NULL;
    }
    return name;
}

static void
get_bridge(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = bridge_or_404(eng, req);
    if (name) {
        api_reply(req, 200, bridge_to_json(eng, name));
    }
}

static void
get_bridge_flows(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const char *name = bridge_or_404(eng, req);
    if (!name) {
        return;
    }
    const struct flowtab *ft = engine_bridge_flowtab(eng, name);
    if (!ft) {
        api_reply_error(req, 409, "not_connected", "name",
                        "bridge \"%s\" is not connected", name);
        return;
    }
    json_t *o = flowtab_to_json(ft);
    json_object_set_new(o, "bridge", json_string(name));
    api_reply(req, 200, o);
}

/* GET /v1/aliases's array. */
static json_t *
aliases_to_json(struct engine *eng)
{
    const struct config *cfg = engine_config(eng);
    json_t *a = json_array();
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        json_array_append_new(a, engine_alias_to_json(eng, cfg->aliases[i]));
    }
    return a;
}

static void
get_aliases(struct api_request *req, void *eng_)
{
    api_reply(req, 200, json_pack("{s:o}", "aliases", aliases_to_json(eng_)));
}

json_t *
engine_state_dump(struct engine *eng, bool brief)
{
    json_t *o = json_pack("{s:o}", "status", status_to_json(eng));
    if (!brief) {
        json_object_set_new(o, "aliases", aliases_to_json(eng));
        json_object_set_new(o, "bridges", bridges_to_json(eng));
        struct hooks_stats hs;
        hooks_get_stats(engine_hooks(eng), &hs);
        json_object_set_new(o, "hooks",
                            json_pack("{s:I,s:I,s:I,s:I,s:i,s:i}", "started",
                                      (json_int_t) hs.started, "failed",
                                      (json_int_t) hs.failed, "timed_out",
                                      (json_int_t) hs.timed_out, "dropped",
                                      (json_int_t) hs.dropped, "running",
                                      (int) hs.running, "queued",
                                      (int) hs.queued));
    }
    return o;
}

const struct cfg_alias *
engine_alias_or_404(struct engine *eng, struct api_request *req)
{
    const char *name = api_request_param(req, "name");
    const struct cfg_alias *a = config_find_alias(engine_config(eng), name);
    if (!a) {
        api_reply_error(req, 404, "not_found", "name", "no alias \"%s\"",
                        name);
    }
    return a;
}

static void
get_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const struct cfg_alias *a = engine_alias_or_404(eng, req);
    if (a) {
        char etag[CFGEDIT_ETAG_LEN];
        cfgedit_alias_etag(a, etag);
        probes_yield(engine_probes(eng));
        api_reply_header(req, "ETag", etag);
        json_t *body = engine_alias_to_json(eng, a);
        probes_yield(engine_probes(eng));
        api_reply(req, 200, body);
    }
}

static void
post_announce(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const struct cfg_alias *a = engine_alias_or_404(eng, req);
    if (!a) {
        return;
    }
    struct verror e = VERROR_INITIALIZER;
    if (engine_announce_now(eng, a->name, &e)) {
        api_reply_error(req, 409, "no_master", "name", "%s", e.message);
        verror_destroy(&e);
        return;
    }
    api_reply(req, 202, engine_alias_to_json(eng, a));
}

void
engine_api_routes(struct engine *eng, struct api *api)
{
    api_route(api, "GET", "/v1/status", get_status, eng);
    api_route(api, "GET", "/v1/bridges", get_bridges, eng);
    api_route(api, "GET", "/v1/bridges/{name}", get_bridge, eng);
    api_route(api, "GET", "/v1/bridges/{name}/flows", get_bridge_flows, eng);
    api_route(api, "GET", "/v1/aliases", get_aliases, eng);
    api_route(api, "GET", "/v1/aliases/{name}", get_alias, eng);
    api_route(api, "POST", "/v1/aliases/{name}/announce", post_announce, eng);
    engine_write_routes(eng, api);
}
