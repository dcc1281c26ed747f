"""What the engine takes from OVSDB (issue "OVSDB side of OVS"), against the
sandbox's real ovsdb-server and ovs-vswitchd:

- a member given by "iface_id" runs on the interface that carries it, and
  follows a libvirt-style replug (the port deleted, a new one with another
  name and OpenFlow number and the same iface-id): traffic returns to it,
  the API shows the new port;
- two interfaces with one iface-id, or none: the member is not live and
  the API says why;
- a switch that the database does not name so (no such bridge, another
  datapath id: another Open vSwitch on the host) is not written to; the
  API's bridge and status say why;
- "fail_mode": "check" with a standalone bridge degrades the status.
"""

from fakeswitch import BUNDLE_CONTROL, MULTIPART_REQUEST, FakeSwitch
from sandbox import wait_until
from test_ovsdb import OVSDB_DOWN, check_logs, wait_ovsdb
from test_restart import switch_groups
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS4, BRIDGE, HOSTS
from vmacd import SLOW, of_socket

# Logged on purpose by a replug: the member's port goes away for a moment.
PORT_GONE = (r"port .* (deleted|gone)",)


def member(t, name):
    (m,) = [m for m in t.alias()["members"] if m["name"] == name]
    return m


def status(t):
    code, body = t.vmacd.api("GET", "/v1/status")
    assert code == 200, body
    return body


def test_member_follows_its_iface_id(make_topo):
    t = make_topo(ovsdb={}, iface_ids={"m1": "vm-m1"})
    m1 = member(t, "m1")
    numbers = t.sb.port_desc(BRIDGE)
    assert m1["iface_id"] == "vm-m1" and "port" in m1, m1
    assert (m1["port"], m1["ofport"], m1["port_error"]) == \
        ("m1-p", numbers["m1-p"]["number"], None), m1
    assert m1["master"] and t.ask(ALIAS4, "udp") == "m1"

    # libvirt restarts the VM: its tap comes back as vnet7.
    t.sb.replug("m1", "vnet7")

    def followed():
        m = member(t, "m1")
        new = t.sb.port_desc(BRIDGE).get("vnet7")
        # (Its probes start again on the new port: the VM behind it may
        # be new.)
        return (m if new and m["port"] == "vnet7"
                and m["ofport"] == new["number"] and m["state"] == "up"
                and t.settled("m1") else None)

    m1 = wait_until(followed, 10 * SLOW, 0.05, "m1 on vnet7")
    assert t.ask(ALIAS4, "udp") == "m1"
    assert t.ask(ALIAS4, "tcp") == "m1"
    # The group's first bucket is m1's new port.
    group = switch_groups(t.sb)[t.alias()["group_id"]]
    assert group[1][0][0] == m1["ofport"], group
    check_logs(t.vmacd, allowed=PORT_GONE)


def test_duplicate_and_missing_iface_ids(make_topo):
    t = make_topo(ovsdb={}, iface_ids={"m1": "vm-m1"})
    assert t.alias()["master"] == "m1"

    # m2's interface claims m1's iface-id too: m1 is not live, m2 takes
    # the traffic, and the API says why.
    t.sb.vsctl("set", "interface", HOSTS["m2"][0],
               "external_ids:iface-id=vm-m1")
    t.wait_settled("m2")
    m1 = member(t, "m1")
    assert m1["port"] is None and m1["ofport"] is None, m1
    assert "2 interfaces" in m1["port_error"], m1
    assert t.ask(ALIAS4, "udp") == "m2"

    t.sb.vsctl("remove", "interface", HOSTS["m2"][0], "external_ids",
               "iface-id")
    t.wait_settled("m1")
    assert member(t, "m1")["port"] == "m1-p"

    # An iface-id nothing carries: accepted (a VM may start later), not
    # live, with the reason.
    code, alias = t.vmacd.api("PUT", "/v1/aliases/web/members/m4", {
        "bridge": BRIDGE, "iface_id": "vm-later", "mac": "02:00:00:00:00:14",
        "priority": 250})
    assert code == 201, alias
    (m4,) = [m for m in alias["members"] if m["name"] == "m4"]
    assert m4["port"] is None and "no interface" in m4["port_error"], m4
    assert alias["master"] == "m1" and m4["state"] != "up"
    check_logs(t.vmacd)


def _fake_switch(t, name, dpid):
    sw = FakeSwitch(of_socket(t.sb), dpid=dpid, name=name)
    sw.handshake()
    return sw


# What vmacd sends a switch it writes to: packet-outs (probes, GARPs),
# flow, group and meter mods, bundles, and the multipart reads of the flow
# table (the handshake's port description aside).
PACKET_OUT, FLOW_MOD, GROUP_MOD, METER_MOD, BUNDLE_ADD = 13, 14, 15, 29, 34
MP_PORT_DESC = 13


def _wrote(sw):
    return [m for m in sw.received
            if m[1] in (PACKET_OUT, FLOW_MOD, GROUP_MOD, METER_MOD,
                        BUNDLE_CONTROL, BUNDLE_ADD)
            or (m[1] == MULTIPART_REQUEST
                and int.from_bytes(m[3][:2], "big") != MP_PORT_DESC)]


def test_switch_the_database_does_not_know_is_not_written(make_topo):
    t = make_topo(ovsdb={}, start=False)
    web = t.config["aliases"][0]
    other = {"name": "db", "addresses": ["192.0.2.200"],
             "vmac": "02:00:5e:00:01:09",
             "members": [{"name": "d1", "bridge": "br9", "port": "d1-p",
                          "mac": "02:00:00:00:00:31"}]}
    t.config["aliases"] = [web, other]
    t.config["bridges"].append({"name": "br9"})
    t.start()
    wait_ovsdb(t, "synced")

    # A switch calling itself br9: the database has no such bridge.
    with _fake_switch(t, "br9", 0x0000feedfacec0de) as sw:
        def refused():
            code, b = t.vmacd.api("GET", "/v1/bridges/br9")
            return b if code == 200 and b.get("connected") else None
        b = wait_until(refused, 5 * SLOW, 0.05, "br9 connected")
        sw.serve(2)
        assert not _wrote(sw), sw.received
        b = t.vmacd.api("GET", "/v1/bridges/br9")[1]
        assert b["written"] is False, b
        assert any("no bridge \"br9\"" in w for w in b["warnings"]), b
        health = status(t)["health"]
        assert health["status"] == "degraded", health
        assert any(p.startswith("br9: not written") for p in
                   health["problems"]), health
    # br0, which the database names so, is written as ever.
    assert t.bridge()["written"] is True
    assert t.ask(ALIAS4, "udp") == "m1"
    check_logs(t.vmacd, allowed=[r"br9: .*vmacd does not write to it",
                                 r"bridge br9 disconnected"])


def test_switch_with_another_datapath_id_is_not_written(make_topo):
    """Another Open vSwitch on the host with a bridge of the same name:
    its datapath id is not the one the database has for br0."""
    t = make_topo(ovsdb={}, start=False)
    # The real br0 talks to some other controller.
    t.sb.vsctl("set-controller", BRIDGE, "unix:%s" % (t.sb.dir / "no.sock"))
    t.vmacd.start()
    wait_ovsdb(t, "synced")
    with _fake_switch(t, BRIDGE, 0x0000feedfacec0de) as sw:
        def seen():
            b = t.bridge()
            return b if b.get("connected") else None
        wait_until(seen, 5 * SLOW, 0.05, "the fake br0 connected")
        sw.serve(2)
        assert not _wrote(sw), sw.received
        b = t.bridge()
        assert b["written"] is False, b
        assert any("another Open vSwitch" in w for w in b["warnings"]), b
        assert status(t)["health"]["status"] == "degraded"
    # The real one comes back: matched and written.
    t.sb.vsctl("set-controller", BRIDGE, "unix:%s" % of_socket(t.sb))
    t.wait_settled("m1", timeout=15)
    assert t.bridge()["written"] is True and t.bridge()["warnings"] == []
    assert status(t)["health"] == {"status": "ok", "problems": []}
    check_logs(t.vmacd, allowed=[r"br0: .*vmacd does not write to it",
                                 r"bridge br0 disconnected"])


def test_check_mode_degrades_the_status(make_topo):
    t = make_topo(ovsdb={"fail_mode": "check"}, fail_mode="none")
    wait_ovsdb(t, "synced")

    def degraded():
        h = status(t)["health"]
        return h if h["status"] == "degraded" else None

    h = wait_until(degraded, 5 * SLOW, 0.05, "status degraded")
    assert any("br0: fail_mode is standalone" in p for p in h["problems"]), h
    b = t.bridge()
    assert b["fail_mode"] == "standalone" and b["warnings"], b
    t.sb.vsctl("set-fail-mode", BRIDGE, "secure")
    wait_until(lambda: status(t)["health"]["status"] == "ok", 5 * SLOW,
               0.05, "status ok once secure")
    assert t.bridge()["fail_mode"] == "secure"
    check_logs(t.vmacd, allowed=[r"fail_mode is (standalone|unset)"]
               + list(OVSDB_DOWN))
