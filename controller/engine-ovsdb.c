/*
 * engine-ovsdb: what the engine takes from the Open vSwitch database when
 * the config has "ovsdb" (docs/config.md):
 *
 *   - the port of each member given by "iface_id": the Interface on the
 *     member's bridge whose external_ids:iface-id it is (libvirt renames a
 *     VM's tap on every start; the member follows in one run);
 *   - whether a connected switch is the bridge the config means: its
 *     datapath id and its name must match one Bridge row, or vmacd does
 *     not write to it (another Open vSwitch on the host, a wrong name);
 *   - the ports' VLANs (tag, trunks, vlan_mode: flows/README.md, "VLANs"):
 *     a bridge whose ports' VLANs changed gets its inputs again, and the
 *     aliases with a member on a port whose VLAN changed their VLAN and
 *     their members' standing, so that a tag change costs the bridge's
 *     ports and the aliases it touches, never all aliases.
 *
 * The snapshots come from vsdb (ovsdbc.h), newest first, only once synced.
 */
#include "engine-core.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flowinput.h"
#include "flowtab.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ovsdbc.h"
#include "ratelog.h"
#include "switches.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(engine_ovsdb);

static void ebridge_vlans_sync(struct ebridge *);

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

/* VLANs. */

/* The interface 'name' of 'bridge' in 'snap' (a member's or an uplink's
 * "port" is an OpenFlow port: an interface), if it has an OpenFlow
 * number. */
static const struct ovsdbc_iface *
snap_iface(const struct ovsdbc_snap *snap, const char *bridge,
           const char *name)
{
    const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(snap, bridge);
    const struct ovsdbc_port *p = ovsdbc_bridge_port(br, name);
    const struct ovsdbc_iface *iface = NULL;
    for (size_t i = 0; p && i < p->n_ifaces; i++) {
        if (!strcmp(p->ifaces[i].name, name)) {
            iface = &p->ifaces[i];
        }
    }
    if (!iface && br) {
        iface = ovsdbc_bridge_iface(br, name); /* Port named otherwise. */
    }
    return iface && iface->ofport >= 0 ? iface : NULL;
}

/* Port 'p''s VLAN settings as Open vSwitch applies them (vswitchd/bridge.c,
 * port_configure(): no vlan_mode is "access" with a tag, "trunk"
 * without). */
static void
port_vlan(const struct ovsdbc_port *p, struct flowgen_vlan *v,
          bool *configured)
{
    static const enum flowgen_vlan_mode modes[] = {
        [OVSDBC_VLAN_ACCESS] = FLOWGEN_VLAN_ACCESS,
        [OVSDBC_VLAN_TRUNK] = FLOWGEN_VLAN_TRUNK,
        [OVSDBC_VLAN_NATIVE_TAGGED] = FLOWGEN_VLAN_NATIVE_TAGGED,
        [OVSDBC_VLAN_NATIVE_UNTAGGED] = FLOWGEN_VLAN_NATIVE_UNTAGGED,
        [OVSDBC_VLAN_DOT1Q_TUNNEL] = FLOWGEN_VLAN_DOT1Q_TUNNEL,
    };
    *v = (struct flowgen_vlan){
        .mode = (p->vlan_mode == OVSDBC_VLAN_UNSET
                     ? (p->tag >= 0 ? FLOWGEN_VLAN_ACCESS : FLOWGEN_VLAN_TRUNK)
                     : modes[p->vlan_mode]),
        .tag = p->tag,
        .n_trunks = p->n_trunks,
        .trunks = p->trunks,
    };
    *configured
        = (p->tag >= 0 || p->n_trunks || p->vlan_mode != OVSDBC_VLAN_UNSET);
}

bool
engine_port_vlan(const struct engine *eng, const char *bridge,
                 const char *port, struct flowgen_vlan *v, bool *configured)
{
    const struct ovsdbc_iface *iface
        = (eng->snap ? snap_iface(eng->snap, bridge, port) : NULL);
    if (!iface) {
        return false;
    }
    port_vlan(iface->port, v, configured);
    return true;
}

void
engine_bridge_vlans(const struct engine *eng, const char *bridge,
                    flowinput_vlan_cb *cb, void *ctx)
{
    const struct ovsdbc_bridge *br = ovsdbc_snap_bridge(eng->snap, bridge);
    for (size_t i = 0; br && i < br->n_ports; i++) {
        const struct ovsdbc_port *p = &br->ports[i];
        struct flowgen_vlan v;
        bool configured;
        port_vlan(p, &v, &configured);
        for (size_t k = 0; k < p->n_ifaces; k++) {
            if (p->ifaces[k].ofport >= 0) {
                cb(ctx, p->ifaces[k].ofport, &v, configured);
            }
        }
    }
}

static bool
env_port_vlan(const void *eng, const char *bridge, const char *port,
              struct flowgen_vlan *v, bool *configured)
{
    return engine_port_vlan(eng, bridge, port, v, configured);
}

static void
env_bridge_vlans(const void *eng, const char *bridge, flowinput_vlan_cb *cb,
                 void *ctx)
{
    engine_bridge_vlans(eng, bridge, cb, ctx);
}

struct flowinput_env
engine_vlan_env(const struct engine *eng)
{
    return (struct flowinput_env){
        .port_vlan = env_port_vlan,
        .bridge_vlans = env_bridge_vlans,
        .aux = eng,
    };
}

/* Do two Bridge rows (or NULLs) say the same about their ports' VLANs and
 * OpenFlow numbers? */
static bool
bridge_vlans_equal(const struct ovsdbc_bridge *a,
                   const struct ovsdbc_bridge *b)
{
    if (!a || !b) {
        return a == b;
    }
    if (a->n_ports != b->n_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        const struct ovsdbc_port *p = &a->ports[i], *q = &b->ports[i];
        if (strcmp(p->name, q->name) || p->tag != q->tag
            || p->vlan_mode != q->vlan_mode || p->n_trunks != q->n_trunks
            || (p->n_trunks
                && memcmp(p->trunks, q->trunks,
                          p->n_trunks * sizeof *p->trunks))
            || p->n_ifaces != q->n_ifaces) {
            return false;
        }
        for (size_t k = 0; k < p->n_ifaces; k++) {
            if (strcmp(p->ifaces[k].name, q->ifaces[k].name)
                || p->ifaces[k].ofport != q->ifaces[k].ofport) {
                return false;
            }
        }
    }
    return true;
}

/* The ports of members on 'br' whose VLAN changed: their aliases' VLANs
 * and members' standing anew. */
static void
ebridge_vlans_sync(struct ebridge *br)
{
    struct flowinput_env env = engine_vlan_env(br->eng);
    struct eport *p;
    HMAP_FOR_EACH (p, node, &br->ports) {
        int vlan = flowinput_port_vlan(&env, br->name, p->name);
        if (vlan != p->vlan) {
            p->vlan = vlan;
            struct emember *em;
            LIST_FOR_EACH (em, port_node, &p->users) {
                ealias_update_vlan(em->ea, true);
            }
        }
    }
}

/* Why member 'm' of 'ea' is not live because of VLANs (malloc'd), or
 * NULL. */
static char *
member_vlan_error(const struct ealias *ea, size_t m,
                  enum flowinput_member_vlan standing, int port_vlan, int vlan)
{
    const struct cfg_member *mb = &ea->cfg->members[m];
    if (standing == FLOWINPUT_MEMBER_VLAN_OTHER) {
        return xasprintf("port \"%s\" is in VLAN %d, the alias in VLAN %d "
                         "(its highest-priority member's): not live",
                         mb->port, port_vlan, vlan);
    } else if (standing == FLOWINPUT_MEMBER_VLAN_UNUSABLE) {
        struct flowgen_vlan v;
        bool configured;
        const char *what = "unusable";
        if (engine_port_vlan(ea->eng, mb->bridge, mb->port, &v, &configured)) {
            what = (v.mode == FLOWGEN_VLAN_NATIVE_TAGGED ? "native-tagged"
                    : v.mode == FLOWGEN_VLAN_DOT1Q_TUNNEL
                        ? "dot1q-tunnel"
                        : "a trunk without untagged frames (trunks "
                          "without 0)");
        }
        return xasprintf("port \"%s\" is %s: a member there would get "
                         "frames tagged otherwise than the alias's flows "
                         "send them; not live",
                         mb->port, what);
    }
    return NULL;
}

void
ealias_vlan_free(struct ealias *ea)
{
    engine_port_errors_free(ea->vlan_errors,
                            ea->member_vlan ? ea->cfg->n_members : 0);
    free(ea->member_vlans);
    free(ea->member_vlan);
    ea->vlan_errors = NULL;
    ea->member_vlans = NULL;
    ea->member_vlan = NULL;
}

void
ealias_update_vlan(struct ealias *ea, bool sync)
{
    const struct cfg_alias *a = ea->cfg;
    size_t n = MAX(a->n_members, 1);
    int *vlans = xcalloc(n, sizeof *vlans);
    enum flowinput_member_vlan *standing = xcalloc(n, sizeof *standing);
    struct flowinput_env env = engine_vlan_env(ea->eng);
    int vlan = flowinput_alias_vlan(a, &env, vlans, standing);
    bool conflict = false;
    for (size_t m = 0; m < a->n_members; m++) {
        conflict |= standing[m] == FLOWINPUT_MEMBER_VLAN_OTHER;
    }

    bool first = !ea->member_vlan;
    bool changed
        = (first || vlan != ea->vlan
           || memcmp(vlans, ea->member_vlans, n * sizeof *vlans)
           || memcmp(standing, ea->member_vlan, n * sizeof *standing));
    if (!changed) {
        free(vlans);
        free(standing);
        return;
    }
    enum flowinput_member_vlan *old = ea->member_vlan;
    ea->member_vlan = NULL;
    if (old) {
        engine_port_errors_free(ea->vlan_errors, a->n_members);
        free(ea->member_vlans);
    }
    ea->vlan_errors = xcalloc(n, sizeof *ea->vlan_errors);
    for (size_t m = 0; m < a->n_members; m++) {
        ea->vlan_errors[m]
            = member_vlan_error(ea, m, standing[m], vlans[m], vlan);
        if (ea->vlan_errors[m] && (!old || old[m] != standing[m])) {
            RL_WARN("alias %s: member %s: %s", a->name, a->members[m].name,
                    ea->vlan_errors[m]);
        }
    }
    if (!first && !conflict && ea->vlan_conflict) {
        VLOG_INFO("alias %s: every member with a known port is in VLAN %d "
                  "now",
                  a->name, vlan);
    }
    if (!first && vlan != ea->vlan) {
        VLOG_INFO("alias %s: VLAN %d -> %d", a->name, ea->vlan, vlan);
    }
    ea->vlan = vlan;
    ea->vlan_conflict = conflict;
    ea->member_vlans = vlans;
    ea->member_vlan = standing;
    for (size_t m = 0; sync && m < a->n_members; m++) {
        if (!old || old[m] != standing[m]) {
            ealias_member_sync(ea, m);
        }
    }
    free(old);
    if (sync) {
        ealias_mark(ea);
    }
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
    HMAP_FOR_EACH (br, node, &eng->bridges) {
        if (!bridge_vlans_equal(ovsdbc_snap_bridge(old, br->name),
                                ovsdbc_snap_bridge(snap, br->name))) {
            ebridge_update_inputs(br);
            ebridge_vlans_sync(br);
        }
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

int
engine_alias_vlan(const struct engine *eng, const char *alias, bool *conflict)
{
    const struct ealias *ea = ealias_find(eng, alias);
    *conflict = ea && ea->vlan_conflict;
    return ea ? ea->vlan : FLOWINPUT_VLAN_UNKNOWN;
}

int
engine_member_vlan(const struct engine *eng, const char *alias, size_t m,
                   const char **error)
{
    const struct ealias *ea = ealias_find(eng, alias);
    if (!ea || !ea->member_vlan || m >= ea->cfg->n_members) {
        *error = NULL;
        return FLOWINPUT_VLAN_UNKNOWN;
    }
    *error = ea->vlan_errors[m];
    return ea->member_vlans[m];
}

bool
engine_bridge_vlan_aware(const struct engine *eng, const char *bridge)
{
    const struct ebridge *br = ebridge_find(eng, bridge);
    return br && br->fg.vlan_aware;
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
