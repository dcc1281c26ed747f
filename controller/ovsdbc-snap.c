/*
 * ovsdbc-snap: the snapshot model of ovsdbc.h (reference counts, lookups,
 * comparison).  Pure: no IDL, no I/O, so that the unit tests can build
 * snapshots by hand.
 */
#include "ovsdbc.h"

#include <stdlib.h>
#include <string.h>

#include "ovsdbc-private.h"
#include "packets.h"
#include "util.h"

struct ovsdbc_snap *
ovsdbc_snap_ref(const struct ovsdbc_snap *snap_)
{
    struct ovsdbc_snap *snap = CONST_CAST(struct ovsdbc_snap *, snap_);
    if (snap) {
        ovs_refcount_ref(&snap->ref);
    }
    return snap;
}

static void
port_free(struct ovsdbc_port *p)
{
    free(p->name);
    free(p->trunks);
    for (size_t i = 0; i < p->n_ifaces; i++) {
        free(p->ifaces[i].name);
        free(p->ifaces[i].iface_id);
    }
    free(p->ifaces);
}

void
ovsdbc_snap_free__(struct ovsdbc_snap *snap)
{
    for (size_t i = 0; i < snap->n_bridges; i++) {
        struct ovsdbc_bridge *br = &snap->bridges[i];
        free(br->name);
        for (size_t c = 0; c < br->n_controllers; c++) {
            free(br->controllers[c]);
        }
        free(br->controllers);
        for (size_t p = 0; p < br->n_ports; p++) {
            port_free(&br->ports[p]);
        }
        free(br->ports);
    }
    free(snap->bridges);
    free(snap->ovs_version);
    free(snap->db_version);
    free(snap->system_id);
    free(snap);
}

void
ovsdbc_snap_unref(struct ovsdbc_snap *snap)
{
    if (snap && ovs_refcount_unref(&snap->ref) == 1) {
        ovsdbc_snap_free__(snap);
    }
}

/* Lookups.  Bridges, ports and interfaces are sorted by name. */

static int
compare_bridge_name(const void *key, const void *elem)
{
    const struct ovsdbc_bridge *br = elem;
    return strcmp(key, br->name);
}

static int
compare_port_name(const void *key, const void *elem)
{
    const struct ovsdbc_port *p = elem;
    return strcmp(key, p->name);
}

const struct ovsdbc_bridge *
ovsdbc_snap_bridge(const struct ovsdbc_snap *snap, const char *name)
{
    return (snap && snap->n_bridges
                ? bsearch(name, snap->bridges, snap->n_bridges,
                          sizeof *snap->bridges, compare_bridge_name)
                : NULL);
}

const struct ovsdbc_bridge *
ovsdbc_snap_bridge_by_dpid(const struct ovsdbc_snap *snap, uint64_t dpid)
{
    for (size_t i = 0; snap && i < snap->n_bridges; i++) {
        const struct ovsdbc_bridge *br = &snap->bridges[i];
        if (br->has_datapath_id && br->datapath_id == dpid) {
            return br;
        }
    }
    return NULL;
}

const struct ovsdbc_port *
ovsdbc_bridge_port(const struct ovsdbc_bridge *br, const char *name)
{
    return (br && br->n_ports ? bsearch(name, br->ports, br->n_ports,
                                        sizeof *br->ports, compare_port_name)
                              : NULL);
}

const struct ovsdbc_iface *
ovsdbc_bridge_iface(const struct ovsdbc_bridge *br, const char *name)
{
    for (size_t p = 0; br && p < br->n_ports; p++) {
        const struct ovsdbc_port *port = &br->ports[p];
        for (size_t i = 0; i < port->n_ifaces; i++) {
            if (!strcmp(port->ifaces[i].name, name)) {
                return &port->ifaces[i];
            }
        }
    }
    return NULL;
}

size_t
ovsdbc_bridge_find_iface_id(const struct ovsdbc_bridge *br,
                            const char *iface_id,
                            const struct ovsdbc_iface **first)
{
    size_t n = 0;
    *first = NULL;
    for (size_t p = 0; br && p < br->n_ports; p++) {
        const struct ovsdbc_port *port = &br->ports[p];
        for (size_t i = 0; i < port->n_ifaces; i++) {
            const struct ovsdbc_iface *iface = &port->ifaces[i];
            if (iface->iface_id && !strcmp(iface->iface_id, iface_id)) {
                if (!n++) {
                    *first = iface;
                }
            }
        }
    }
    return n;
}

/* Comparison. */

static bool
str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool
iface_equal(const struct ovsdbc_iface *a, const struct ovsdbc_iface *b)
{
    return (str_eq(a->name, b->name) && uuid_equals(&a->uuid, &b->uuid)
            && a->ofport == b->ofport && str_eq(a->iface_id, b->iface_id)
            && a->has_attached_mac == b->has_attached_mac
            && eth_addr_equals(a->attached_mac, b->attached_mac));
}

static bool
port_equal(const struct ovsdbc_port *a, const struct ovsdbc_port *b)
{
    if (!str_eq(a->name, b->name) || !uuid_equals(&a->uuid, &b->uuid)
        || a->tag != b->tag || a->vlan_mode != b->vlan_mode
        || a->n_trunks != b->n_trunks || a->n_ifaces != b->n_ifaces
        || (a->n_trunks
            && memcmp(a->trunks, b->trunks,
                      a->n_trunks * sizeof *a->trunks))) {
        return false;
    }
    for (size_t i = 0; i < a->n_ifaces; i++) {
        if (!iface_equal(&a->ifaces[i], &b->ifaces[i])) {
            return false;
        }
    }
    return true;
}

static bool
bridge_equal(const struct ovsdbc_bridge *a, const struct ovsdbc_bridge *b)
{
    if (!str_eq(a->name, b->name) || !uuid_equals(&a->uuid, &b->uuid)
        || a->has_datapath_id != b->has_datapath_id
        || a->datapath_id != b->datapath_id || a->fail_mode != b->fail_mode
        || a->n_controllers != b->n_controllers || a->n_ports != b->n_ports) {
        return false;
    }
    for (size_t i = 0; i < a->n_controllers; i++) {
        if (!str_eq(a->controllers[i], b->controllers[i])) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_ports; i++) {
        if (!port_equal(&a->ports[i], &b->ports[i])) {
            return false;
        }
    }
    return true;
}

bool
ovsdbc_snap_equal(const struct ovsdbc_snap *a, const struct ovsdbc_snap *b)
{
    if (a == b) {
        return true;
    } else if (!a || !b || a->has_ovs_row != b->has_ovs_row
               || !str_eq(a->ovs_version, b->ovs_version)
               || !str_eq(a->db_version, b->db_version)
               || !str_eq(a->system_id, b->system_id)
               || a->next_cfg != b->next_cfg || a->cur_cfg != b->cur_cfg
               || a->n_bridges != b->n_bridges) {
        return false;
    }
    for (size_t i = 0; i < a->n_bridges; i++) {
        if (!bridge_equal(&a->bridges[i], &b->bridges[i])) {
            return false;
        }
    }
    return true;
}

/* Names. */

const char *
ovsdbc_fail_mode_name(enum ovsdbc_fail_mode mode)
{
    switch (mode) {
    case OVSDBC_FAIL_UNSET:
        return "";
    case OVSDBC_FAIL_STANDALONE:
        return "standalone";
    case OVSDBC_FAIL_SECURE:
        return "secure";
    }
    OVS_NOT_REACHED();
}

const char *
ovsdbc_vlan_mode_name(enum ovsdbc_vlan_mode mode)
{
    switch (mode) {
    case OVSDBC_VLAN_UNSET:
        return NULL;
    case OVSDBC_VLAN_ACCESS:
        return "access";
    case OVSDBC_VLAN_TRUNK:
        return "trunk";
    case OVSDBC_VLAN_NATIVE_TAGGED:
        return "native-tagged";
    case OVSDBC_VLAN_NATIVE_UNTAGGED:
        return "native-untagged";
    case OVSDBC_VLAN_DOT1Q_TUNNEL:
        return "dot1q-tunnel";
    }
    OVS_NOT_REACHED();
}

const char *
ovsdbc_state_name(enum ovsdbc_state state)
{
    switch (state) {
    case OVSDBC_CONNECTING:
        return "connecting";
    case OVSDBC_SYNCING:
        return "syncing";
    case OVSDBC_SYNCED:
        return "synced";
    }
    OVS_NOT_REACHED();
}

const char *
ovsdbc_write_result_name(enum ovsdbc_write_result r)
{
    switch (r) {
    case OVSDBC_WRITE_OK:
        return "ok";
    case OVSDBC_WRITE_TRY_AGAIN:
        return "try_again";
    case OVSDBC_WRITE_ERROR:
        return "error";
    }
    OVS_NOT_REACHED();
}
