/*
 * ovsdbc-json: a snapshot (ovsdbc.h) as JSON for the API.  Kept apart
 * from ovsdbc-idl.c, which must not see jansson's names.
 */
#include "ovsdbc.h"

#include <inttypes.h>
#include <stdio.h>

#include <jansson.h>

#include "packets.h"
#include "util.h"

static json_t *
nullable_string(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *
uuid_to_json(const struct uuid *uuid)
{
    char text[UUID_LEN + 1];
    snprintf(text, sizeof text, UUID_FMT, UUID_ARGS(uuid));
    return json_string(text);
}

static json_t *
iface_to_json(const struct ovsdbc_iface *iface)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(iface->name));
    json_object_set_new(o, "uuid", uuid_to_json(&iface->uuid));
    json_object_set_new(
        o, "ofport",
        (iface->ofport >= 0 ? json_integer(iface->ofport) : json_null()));
    json_object_set_new(o, "iface_id", nullable_string(iface->iface_id));
    if (iface->has_attached_mac) {
        char mac[ETH_ADDR_STRLEN + 1];
        snprintf(mac, sizeof mac, ETH_ADDR_FMT,
                 ETH_ADDR_ARGS(iface->attached_mac));
        json_object_set_new(o, "attached_mac", json_string(mac));
    } else {
        json_object_set_new(o, "attached_mac", json_null());
    }
    return o;
}

static json_t *
port_to_json(const struct ovsdbc_port *port)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(port->name));
    json_object_set_new(o, "uuid", uuid_to_json(&port->uuid));
    json_object_set_new(
        o, "tag", (port->tag >= 0 ? json_integer(port->tag) : json_null()));
    json_t *trunks = json_array();
    for (size_t i = 0; i < port->n_trunks; i++) {
        json_array_append_new(trunks, json_integer(port->trunks[i]));
    }
    json_object_set_new(o, "trunks", trunks);
    json_object_set_new(
        o, "vlan_mode",
        nullable_string(ovsdbc_vlan_mode_name(port->vlan_mode)));
    json_t *ifaces = json_array();
    for (size_t i = 0; i < port->n_ifaces; i++) {
        json_array_append_new(ifaces, iface_to_json(&port->ifaces[i]));
    }
    json_object_set_new(o, "interfaces", ifaces);
    return o;
}

static json_t *
bridge_to_json(const struct ovsdbc_bridge *br)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(br->name));
    json_object_set_new(o, "uuid", uuid_to_json(&br->uuid));
    if (br->has_datapath_id) {
        char dpid[17];
        snprintf(dpid, sizeof dpid, "%016" PRIx64, br->datapath_id);
        json_object_set_new(o, "datapath_id", json_string(dpid));
    } else {
        json_object_set_new(o, "datapath_id", json_null());
    }
    /* What OVS does ("standalone" when the column is empty), and whether
     * the column is set at all. */
    json_object_set_new(o, "fail_mode",
                        json_string(br->fail_mode == OVSDBC_FAIL_SECURE
                                        ? "secure"
                                        : "standalone"));
    json_object_set_new(o, "fail_mode_set",
                        json_boolean(br->fail_mode != OVSDBC_FAIL_UNSET));
    json_t *ctls = json_array();
    for (size_t i = 0; i < br->n_controllers; i++) {
        json_array_append_new(ctls, json_string(br->controllers[i]));
    }
    json_object_set_new(o, "controllers", ctls);
    json_t *ports = json_array();
    for (size_t i = 0; i < br->n_ports; i++) {
        json_array_append_new(ports, port_to_json(&br->ports[i]));
    }
    json_object_set_new(o, "ports", ports);
    return o;
}

json_t *
ovsdbc_snap_to_json(const struct ovsdbc_snap *snap)
{
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(snap->seq));
    if (snap->has_ovs_row) {
        json_t *ovs = json_object();
        json_object_set_new(ovs, "ovs_version",
                            nullable_string(snap->ovs_version));
        json_object_set_new(ovs, "db_version",
                            nullable_string(snap->db_version));
        json_object_set_new(ovs, "system_id",
                            nullable_string(snap->system_id));
        json_object_set_new(ovs, "next_cfg", json_integer(snap->next_cfg));
        json_object_set_new(ovs, "cur_cfg", json_integer(snap->cur_cfg));
        json_object_set_new(o, "open_vswitch", ovs);
    } else {
        json_object_set_new(o, "open_vswitch", json_null());
    }
    json_t *bridges = json_array();
    for (size_t i = 0; i < snap->n_bridges; i++) {
        json_array_append_new(bridges, bridge_to_json(&snap->bridges[i]));
    }
    json_object_set_new(o, "bridges", bridges);
    return o;
}
