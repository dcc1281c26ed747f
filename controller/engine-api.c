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
#include "ofswitch.h"
#include "openvswitch/vlog.h"
#include "procsched.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_api);

static json_t *
bridge_to_json(const struct engine *eng, const struct bridge *br)
{
    json_t *o;
    bool ready = br->conn && br->conn->ft;

    if (ready) {
        o = ofswitch_to_json(br->conn->sw);
        json_t *ports = json_object_get(o, "ports");
        size_t i;
        json_t *port;
        json_array_foreach (ports, i, port) {
            const char *name
                = json_string_value(json_object_get(port, "name"));
            json_object_set_new(
                port, "uplink",
                json_boolean(config_is_uplink(eng->cfg, br->name, name)));
        }
        struct flowtab_stats fs;
        flowtab_get_stats(br->conn->ft, &fs);
        json_t *flows = json_object();
        json_object_set_new(flows, "synced",
                            json_boolean(flowtab_is_synced(br->conn->ft)));
        json_object_set_new(flows, "flows", json_integer(fs.n_flows));
        json_object_set_new(flows, "groups", json_integer(fs.n_groups));
        json_object_set_new(flows, "bundles", json_integer(fs.bundles));
        json_object_set_new(flows, "flow_mods", json_integer(fs.flow_mods));
        json_object_set_new(flows, "group_mods", json_integer(fs.group_mods));
        json_object_set_new(flows, "failures", json_integer(fs.failures));
        json_object_set_new(o, "flowtab", flows);
        json_object_set_new(o, "connected_for_s",
                            json_real(ev_time() - br->conn->connected_at));
    } else {
        char dpid[17];
        snprintf(dpid, sizeof dpid, "%016" PRIx64, br->dpid);
        o = json_object();
        json_object_set_new(o, "name", json_string(br->name));
        json_object_set_new(o, "datapath_id", json_string(dpid));
        json_object_set_new(o, "connected", json_false());
        json_object_set_new(o, "ports", json_array());
    }
    json_object_set_new(o, "connects", json_integer(br->n_connects));
    json_object_set_new(o, "generation", json_integer(br->generation));
    json_object_set_new(o, "applied_generation",
                        json_integer(br->applied_generation));

    json_t *aliases = json_array();
    const struct config *cfg = eng->cfg;
    for (size_t i = 0; i < cfg->n_aliases; i++) {
        const struct cfg_alias *a = &cfg->aliases[i];
        bool carried = false;
        for (size_t m = 0; m < a->n_members && !carried; m++) {
            carried = !strcmp(a->members[m].bridge, br->name);
        }
        for (size_t b = 0; b < a->n_access_bridges && !carried; b++) {
            carried = !strcmp(a->access_bridges[b], br->name);
        }
        if (carried) {
            json_array_append_new(aliases, json_string(a->name));
        }
    }
    json_object_set_new(o, "aliases", aliases);
    return o;
}

json_t *
engine_alias_to_json(struct engine *eng, size_t idx)
{
    const struct cfg_alias *a = &eng->cfg->aliases[idx];
    const struct alias_state *st = eng->states[idx];
    const struct alias_rt *rt = &eng->rts[idx];
    int master = alias_state_master(st);

    json_t *o = config_alias_to_json(a);
    engine_health_yield(eng);
    json_object_set_new(o, "master",
                        master >= 0 ? json_string(a->members[master].name)
                                    : json_null());
    json_object_set_new(o, "state", json_string(alias_state_name(st)));
    char cookie[19];
    snprintf(cookie, sizeof cookie, "%#018" PRIx64,
             flowgen_cookie(eng->cfg, a->id));
    json_object_set_new(o, "cookie", json_string(cookie));
    json_object_set_new(o, "group_id", json_integer(a->id));
    json_object_set_new(o, "announcements_sent",
                        json_integer(rt->n_announced));

    json_t *members = json_object_get(o, "members");
    size_t i;
    json_t *mj;
    json_array_foreach (members, i, mj) {
        json_object_set_new(mj, "state",
                            json_string(alias_member_state_name(st, i)));
        json_object_set_new(mj, "master", json_boolean((int) i == master));
        json_object_set_new(
            mj, "bridge_known",
            json_boolean(engine_bridge_known(eng, a->members[i].bridge)));
        json_object_set_new(mj, "probe_state",
                            engine_health_to_json(eng, idx, i));
        /* About 10 us per member: let due probes leave meanwhile. */
        engine_health_yield(eng);
    }
    return o;
}

/* Is 'name' a bridge vmacd knows: listed in the config's "bridges", or
 * connected now? */
bool
engine_bridge_known(const struct engine *eng, const char *name)
{
    const struct bridge *br = engine_bridge_find(eng, name);
    return (config_find_bridge(eng->cfg, name)
            || (br && br->conn && br->conn->ft));
}

/* GET /v1/status's body. */
static json_t *
status_to_json(struct engine *eng)
{
    json_t *o = json_object();
    json_object_set_new(o, "version", json_string(VMACD_VERSION));
    json_object_set_new(o, "uptime_s",
                        json_integer((json_int_t) (ev_time() - eng->started)));

    json_t *bridges = json_array();
    size_t n_connected = 0, n_conns = 0;
    const struct bridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        char dpid[17];
        snprintf(dpid, sizeof dpid, "%016" PRIx64, br->dpid);
        bool up = br->conn && br->conn->ft;
        json_t *b = json_object();
        json_object_set_new(b, "name", json_string(br->name));
        json_object_set_new(b, "datapath_id", json_string(dpid));
        json_object_set_new(b, "connected", json_boolean(up));
        json_array_append_new(bridges, b);
        n_connected += up;
    }
    n_conns = ovs_list_size(&eng->conns);
    json_object_set_new(o, "bridges", bridges);

    json_t *counts = json_object();
    json_object_set_new(counts, "bridges",
                        json_integer(hmap_count(&eng->bridges)));
    json_object_set_new(counts, "bridges_connected",
                        json_integer(n_connected));
    json_object_set_new(counts, "connections", json_integer(n_conns));
    json_object_set_new(counts, "aliases", json_integer(eng->cfg->n_aliases));
    json_object_set_new(o, "counts", counts);
    json_object_set_new(o, "probes", engine_health_status_json(eng));
    json_object_set_new(o, "scheduling", procsched_to_json());
    return o;
}

static void
get_status(struct api_request *req, void *eng_)
{
    api_reply(req, 200, status_to_json(eng_));
}

static int
compare_bridges(const void *a_, const void *b_)
{
    const struct bridge *const *a = a_, *const *b = b_;
    return strcmp((*a)->name, (*b)->name);
}

/* GET /v1/bridges's array. */
static json_t *
bridges_to_json(struct engine *eng)
{
    size_t n = hmap_count(&eng->bridges), i = 0;
    const struct bridge **sorted = xmalloc(MAX(n, 1) * sizeof *sorted);
    const struct bridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        sorted[i++] = br;
    }
    qsort(sorted, n, sizeof *sorted, compare_bridges);

    json_t *a = json_array();
    for (i = 0; i < n; i++) {
        json_array_append_new(a, bridge_to_json(eng, sorted[i]));
    }
    free(sorted);
    return a;
}

static void
get_bridges(struct api_request *req, void *eng_)
{
    api_reply(req, 200, json_pack("{s:o}", "bridges", bridges_to_json(eng_)));
}

static const struct bridge *
bridge_or_404(struct engine *eng, struct api_request *req)
{
    const char *name = api_request_param(req, "name");
    const struct bridge *br = engine_bridge_find(eng, name);
    if (!br) {
        api_reply_error(req, 404, "not_found", "name", "no bridge \"%s\"",
                        name);
    }
    return br;
}

static void
get_bridge(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const struct bridge *br = bridge_or_404(eng, req);
    if (br) {
        api_reply(req, 200, bridge_to_json(eng, br));
    }
}

static void
get_bridge_flows(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    const struct bridge *br = bridge_or_404(eng, req);
    if (!br) {
        return;
    }
    if (!br->conn || !br->conn->ft) {
        api_reply_error(req, 409, "not_connected", "name",
                        "bridge \"%s\" is not connected", br->name);
        return;
    }
    json_t *o = flowtab_to_json(br->conn->ft);
    json_object_set_new(o, "bridge", json_string(br->name));
    api_reply(req, 200, o);
}

/* GET /v1/aliases's array. */
static json_t *
aliases_to_json(struct engine *eng)
{
    json_t *a = json_array();
    for (size_t i = 0; i < eng->cfg->n_aliases; i++) {
        json_array_append_new(a, engine_alias_to_json(eng, i));
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
    }
    return o;
}

int
engine_alias_or_404(struct engine *eng, struct api_request *req)
{
    const char *name = api_request_param(req, "name");
    int idx = engine_alias_index(eng, name);
    if (idx < 0) {
        api_reply_error(req, 404, "not_found", "name", "no alias \"%s\"",
                        name);
    }
    return idx;
}

static void
get_alias(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    int idx = engine_alias_or_404(eng, req);
    if (idx >= 0) {
        char etag[CFGEDIT_ETAG_LEN];
        cfgedit_alias_etag(&eng->cfg->aliases[idx], etag);
        engine_health_yield(eng);
        api_reply_header(req, "ETag", etag);
        json_t *body = engine_alias_to_json(eng, idx);
        engine_health_yield(eng);
        api_reply(req, 200, body);
    }
}

static void
post_announce(struct api_request *req, void *eng_)
{
    struct engine *eng = eng_;
    int idx = engine_alias_or_404(eng, req);
    if (idx < 0) {
        return;
    }
    char *error;
    if (engine_announce_now(eng, idx, &error)) {
        api_reply_error(req, 409, "no_master", "name", "%s", error);
        free(error);
        return;
    }
    api_reply(req, 202, engine_alias_to_json(eng, idx));
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
