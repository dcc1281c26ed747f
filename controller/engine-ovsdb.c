/*
 * engine-ovsdb: what the engine takes from the Open vSwitch database when
 * the config has "ovsdb" (docs/config.md):
 *
 *   - the port of each member given by "iface_id": the Interface on the
 *     member's bridge whose external_ids:iface-id it is (libvirt renames a
 *     VM's tap on every start; the member follows in one run);
 *   - whether a connected switch is the bridge the config means: its
 *     datapath id and its name must match one Bridge row, or vmacd does
 *     not write to it (another Open vSwitch on the host, a wrong name).
 *
 * The snapshots come from vsdb (ovsdbc.h), newest first, only once synced.
 */
#include "engine-core.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flowtab.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "ratelog.h"
#include "switches.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_ovsdb);

bool
engine_alias_has_iface_ids(const struct cfg_alias *a)
{
    for (size_t m = 0; a && m < a->n_members; m++) {
        if (a->members[m].iface_id) {
            return true;
        }
    }
    return false;
}

void
engine_port_errors_free(char **errors, size_t n)
{
    for (size_t i = 0; errors && i < n; i++) {
        free(errors[i]);
    }
    free(errors);
}

/* The port of member 'mb' (given by "iface_id") in the database, or NULL
 * with '*error'. */
static const char *
find_port(const struct engine *eng, const struct cfg_member *mb,
          char **error)
{
    if (!eng->snap) {
        *error = xstrdup("the Open vSwitch database is not connected (yet): "
                         "the port of an iface_id is unknown");
        return NULL;
    }
    const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(eng->snap,
                                                        mb->bridge);
    if (!br) {
        *error = xasprintf("the Open vSwitch database has no bridge \"%s\"",
                           mb->bridge);
        return NULL;
    }
    const struct ovsdbc_iface *iface;
    size_t n = ovsdbc_bridge_find_iface_id(br, mb->iface_id, &iface);
    if (!n) {
        *error = xasprintf("no interface on bridge \"%s\" has "
                           "external_ids:iface-id \"%s\"",
                           mb->bridge, mb->iface_id);
        return NULL;
    } else if (n > 1) {
        *error = xasprintf("%zu interfaces on bridge \"%s\" have "
                           "external_ids:iface-id \"%s\" (one expected): "
                           "the member is not live until one is left",
                           n, mb->bridge, mb->iface_id);
        return NULL;
    }
    return iface->name;
}

struct cfg_alias *
engine_resolve_alias(const struct engine *eng, struct cfg_alias *orig,
                     char ***errorsp)
{
    *errorsp = NULL;
    if (!engine_alias_has_iface_ids(orig)) {
        return cfg_alias_ref(orig);
    }
    size_t n = orig->n_members;
    const char **ports = xcalloc(n, sizeof *ports);
    char **errors = xcalloc(n, sizeof *errors);
    for (size_t m = 0; m < n; m++) {
        const struct cfg_member *mb = &orig->members[m];
        if (mb->iface_id) {
            const char *port = find_port(eng, mb, &errors[m]);
            ports[m] = port ? port : "";
        }
    }
    struct cfg_alias *a = cfg_alias_with_ports(orig, ports);
    free(ports);
    *errorsp = errors;
    return a;
}

char *
ebridge_identity_error(const struct ebridge *br)
{
    const struct engine *eng = br->eng;
    if (!eng->cfg->ovsdb || !eng->snap) {
        return NULL; /* Nothing to check against (yet). */
    }
    uint64_t dpid = switches_dpid(eng->sw, br->name);
    const struct ovsdbc_bridge *by_name = ovsdbc_snap_bridge(eng->snap,
                                                             br->name);
    const struct ovsdbc_bridge *by_dpid
        = ovsdbc_snap_bridge_by_dpid(eng->snap, dpid);
    if (by_dpid && strcmp(by_dpid->name, br->name)) {
        return xasprintf("the switch named \"%s\" has datapath id %016"
                         PRIx64 ", which is bridge \"%s\" in the Open "
                         "vSwitch database",
                         br->name, dpid, by_dpid->name);
    }
    if (!by_name) {
        return xasprintf("the Open vSwitch database has no bridge \"%s\" "
                         "(the switch, datapath id %016" PRIx64 ", belongs "
                         "to another Open vSwitch?)",
                         br->name, dpid);
    }
    if (by_name->has_datapath_id && by_name->datapath_id != dpid) {
        return xasprintf("bridge \"%s\" has datapath id %016" PRIx64
                         " in the Open vSwitch database, the switch that "
                         "connected under that name %016" PRIx64
                         " (another Open vSwitch on this host?)",
                         br->name, by_name->datapath_id, dpid);
    }
    /* A missing datapath_id (an ephemeral column, empty for a moment after
     * an ovsdb-server restart) is "not known yet", not a mismatch. */
    return NULL;
}

/* Applies the identity check to the connected bridge 'br': a switch that
 * no longer matches stops being written to (its flows stay); one that
 * matches now gets its flow table. */
static void
bridge_recheck(struct ebridge *br)
{
    char *error = ebridge_identity_error(br);
    if (error && br->ft) {
        RL_WARN("%s: %s; vmacd stops writing to it (its flows stay)",
                br->name, error);
        ebridge_disconnect(br, error);
    } else if (!error && br->identity_error) {
        VLOG_INFO("%s: the Open vSwitch database now matches the switch",
                  br->name);
        ebridge_connect(br);
    } else if (error && br->identity_error
               && strcmp(error, br->identity_error)) {
        free(br->identity_error);
        br->identity_error = xstrdup(error);
    }
    free(error);
}

void
engine_set_ovsdb(struct engine *eng, const struct ovsdbc_snap *snap)
{
    if (snap == eng->snap) {
        return;
    }
    struct ovsdbc_snap *old = eng->snap;
    eng->snap = ovsdbc_snap_ref(snap);

    struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        if (switches_is_connected(eng->sw, br->name)) {
            bridge_recheck(br);
        }
    }
    struct ealias *ea;
    LIST_FOR_EACH_SAFE (ea, iface_node, &eng->iface_aliases) {
        ealias_reresolve(ea);
    }
    ovsdbc_snap_unref(old);
    engine_schedule_update(eng, ev_time(), "ovsdb changed");
}

const char *
engine_member_port(const struct engine *eng, const char *alias, size_t m,
                   const char **error)
{
    const struct ealias *ea = ealias_find(eng, alias);
    if (!ea || m >= ea->cfg->n_members) {
        *error = NULL;
        return NULL;
    }
    *error = ea->port_errors ? ea->port_errors[m] : NULL;
    return ea->cfg->members[m].port;
}

const char *
engine_bridge_identity_error(const struct engine *eng, const char *bridge)
{
    const struct ebridge *br = ebridge_find(eng, bridge);
    return br ? br->identity_error : NULL;
}

const struct ovsdbc_snap *
engine_ovsdb_snapshot(const struct engine *eng)
{
    return eng->snap;
}

json_t *
engine_health_to_json(const struct engine *eng)
{
    json_t *problems = json_array();
    const struct cfg_ovsdb *ovsdb = eng->cfg->ovsdb;
    const struct ebridge *br;
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        if (br->identity_error) {
            json_array_append_new(problems, json_sprintf(
                "%s: not written: %s", br->name, br->identity_error));
        }
        if (ovs_list_is_empty(&br->recs) || !ovsdb || !eng->snap
            || ovsdb->fail_mode != CFG_FAIL_MODE_CHECK) {
            continue;
        }
        const struct ovsdbc_bridge *row = ovsdbc_snap_bridge(eng->snap,
                                                             br->name);
        if (row && row->fail_mode != OVSDBC_FAIL_SECURE) {
            json_array_append_new(problems, json_sprintf(
                "%s: fail_mode is standalone: about 15 s after vmacd "
                "stops, its flows stop answering", br->name));
        }
    }
    return json_pack("{s:s, s:o}", "status",
                     json_array_size(problems) ? "degraded" : "ok",
                     "problems", problems);
}
