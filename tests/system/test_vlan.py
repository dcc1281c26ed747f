"""VLANs from OVSDB (issue "OVSDB side of OVS", point 3; flows/README.md,
"VLANs"), against the sandbox's real ovsdb-server and ovs-vswitchd, on the
topology of topo_vlan.py (members on access ports of VLAN 10, a trunk of
10 and 20 to a "physical" bridge with a client in each):

- a client in VLAN 10 behind the trunk resolves the alias to the VMAC
  (the reply crosses the trunk tagged 10), reaches the master over UDP
  (IPv4 and IPv6; on the member's access port untagged) and gets its
  replies; a client in VLAN 20 gets no answer and reaches nobody;
- a failover puts tagged GARPs and NAs on the trunk, untagged ones on the
  access uplink of VLAN 10, none on the access uplink of VLAN 20;
- a member on another VLAN, or on a native-tagged port, is not live and
  the API says why;
- a tag changed in OVSDB moves the alias's flows in one bundle and leaves
  another alias's flows alone;
- without VLAN settings nothing of this shows (the existing tests run that
  way too).
"""

import time

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NA, IPv6
from scapy.layers.l2 import ARP, Dot1Q, Ether

from sandbox import wait_until
from test_alias_control import assert_kept, switch_flows
from test_ovsdb import check_logs, wait_ovsdb
from topo import ALIAS4, ALIAS6, SERVICE_PORT, VMAC, Capture
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo_vlan import DB, DB4, make_vlan  # noqa: F401  (pytest fixture)
from vmacd import SLOW


def vlan_of(frame):
    """The VLAN of a frame's 802.1Q tag, or None (untagged)."""
    return frame[Dot1Q].vlan if Dot1Q in frame else None


def from_vmac(frames, vmac=VMAC):
    return [f for f in frames if Ether in f and f[Ether].src == vmac]


def garps(frames, addr=ALIAS4):
    return [f for f in from_vmac(frames) if ARP in f and f[ARP].op == 1
            and f[ARP].psrc == addr and f[ARP].pdst == addr]


def nas(frames, addr=ALIAS6):
    return [f for f in from_vmac(frames)
            if ICMPv6ND_NA in f and f[ICMPv6ND_NA].tgt == addr]


def test_client_behind_trunk(make_vlan):
    t = make_vlan()
    al = t.alias()
    assert (al["vlan"], al["vlan_conflict"]) == (10, False), al
    assert [(m["vlan"], m["vlan_error"]) for m in al["members"]] == \
        [(10, None), (10, None)], al
    assert t.bridge()["vlan_aware"] is True
    trunk = t.trunk_capture()
    m1 = Capture(t.sb, "m1", "udp port %d" % SERVICE_PORT)

    # c1, in VLAN 10 behind the trunk: both addresses resolve to the VMAC,
    # UDP reaches the master both ways.
    assert t.resolve("c1", ALIAS4) == VMAC
    assert t.resolve("c1", ALIAS6) == VMAC
    assert t.ask(ALIAS4, "udp", "c1") == "m1"
    assert t.ask(ALIAS6, "udp", "c1") == "m1"

    def replies(frames):
        return [f for f in from_vmac(frames)
                if UDP in f and f[UDP].sport == SERVICE_PORT]

    frames = trunk.stop(until=lambda fs: len(replies(fs)) >= 2)
    # On the trunk, what br0 sends for the alias is tagged 10: the ARP
    # reply, the NA and the member's UDP replies (from the VMAC).
    arp = [f for f in from_vmac(frames) if ARP in f and f[ARP].op == 2]
    na = nas(frames)
    assert arp and na and len(replies(frames)) >= 2, frames
    assert {vlan_of(f) for f in from_vmac(frames)} == {10}, \
        [f.summary() for f in from_vmac(frames)]
    assert {f[IP].src for f in replies(frames) if IP in f} == {ALIAS4}
    assert {f[IPv6].src for f in replies(frames) if IPv6 in f} == {ALIAS6}
    # The requests came tagged 10 from c1, and reached m1 untagged, with
    # its MAC.
    to_m1 = [f for f in m1.stop(until=lambda fs: len(fs) >= 4)
             if UDP in f and f[UDP].dport == SERVICE_PORT]
    assert len(to_m1) >= 2 and not [f for f in to_m1 if Dot1Q in f], to_m1
    assert {f[Ether].dst for f in to_m1} == {t.mac("m1")}

    # c3, on an access port of VLAN 10 of br0, as ever; p3 too (the access
    # uplink of VLAN 10).
    assert t.resolve("c3", ALIAS4) == VMAC
    assert t.ask(ALIAS4, "udp", "c3") == "m1"
    assert t.resolve("p3", ALIAS6) == VMAC

    # c2 in VLAN 20 (behind the trunk) and p2 (access uplink of VLAN 20):
    # no answer, and traffic sent to the VMAC anyway reaches nobody.
    for host in ("c2", "p2"):
        assert t.resolve(host, ALIAS4) is None, host
        assert t.resolve(host, ALIAS6) is None, host
    t.set_neigh("c2", ALIAS4, VMAC)
    assert t.ask(ALIAS4, "udp", "c2") is None
    check_logs(t.vmacd)


def test_failover_tags_announcements(make_vlan):
    t = make_vlan()
    time.sleep(0.4)  # The start-up burst (3 x 100 ms) is over.
    caps = {"trunk": t.trunk_capture()}
    for host in ("p3", "c1", "p2", "c2"):
        caps[host] = Capture(t.sb, host)

    t.sb.link("m1-p", False)
    t.wait_settled("m2")
    assert t.ask(ALIAS4, "udp", "c1") == "m2"

    def burst(frames):
        return len(garps(frames)) >= 3 and len(nas(frames)) >= 3

    got = {name: cap.stop(until=burst if name in ("trunk", "p3", "c1")
                          else None)
           for name, cap in caps.items()}
    # The trunk carries VLAN 10 tagged: 3 GARPs and 3 NAs, tagged 10.
    trunk = got["trunk"]
    assert len(garps(trunk)) >= 3 and len(nas(trunk)) >= 3, trunk
    assert {vlan_of(f) for f in garps(trunk) + nas(trunk)} == {10}
    # Untagged on the access uplink of VLAN 10 and, through the trunk and
    # phys, at c1 in VLAN 10.
    for host in ("p3", "c1"):
        assert len(garps(got[host])) >= 3 and len(nas(got[host])) >= 3, host
        assert not [f for f in got[host] if Dot1Q in f], host
    # Nothing from the VMAC in VLAN 20: not out of up1, not to c2.
    assert not from_vmac(got["p2"]), got["p2"]
    assert not from_vmac(got["c2"]), got["c2"]
    check_logs(t.vmacd, allowed=[r"m1-p"])


def test_members_on_other_vlans(make_vlan):
    t = make_vlan()

    # m2 moved to VLAN 20: not live, the alias flagged, m1 stays master.
    t.sb.vsctl("set", "port", "m2-p", "tag=20")
    wait_until(lambda: t.alias()["vlan_conflict"], 5 * SLOW, 0.05,
               "web flagged")
    m2 = t.member("m2")
    assert (m2["vlan"], m2["state"]) == (20, "down"), m2
    assert "VLAN 20" in m2["vlan_error"] and "not live" in m2["vlan_error"]
    al = t.alias()
    assert (al["vlan"], al["master"]) == (10, "m1"), al

    # m1 goes down: nobody to fail over to.
    t.sb.link("m1-p", False)
    t.wait_settled(None)
    assert t.ask(ALIAS4, "udp", "c1") is None

    # m2 back in VLAN 10: it takes over, the flag goes.
    t.sb.vsctl("set", "port", "m2-p", "tag=10")
    t.wait_settled("m2")
    al = t.alias()
    assert al["vlan_conflict"] is False and t.member("m2")["vlan_error"] is \
        None, al
    assert t.ask(ALIAS4, "udp", "c1") == "m2"

    # A native-tagged port would get untagged frames for its native VLAN
    # tagged: not live either.
    t.sb.vsctl("set", "port", "m2-p", "vlan_mode=native-tagged")
    t.wait_settled(None)
    m2 = t.member("m2")
    assert "native-tagged" in m2["vlan_error"] and m2["state"] == "down", m2
    check_logs(t.vmacd, allowed=[r"alias web: member m2: port \"m2-p\"",
                                 r"m1-p", r"no live member"])


def test_tag_change_moves_one_alias(make_vlan):
    t = make_vlan(second=True)
    wait_until(lambda: t.alias(DB)["master"] == "m3", 5 * SLOW, 0.05,
               "db settled")
    web, db = t.alias(), t.alias(DB)
    assert t.ask(DB4, "udp", "c1") == "m3"
    assert t.ask(ALIAS4, "udp", "c1") == "m1"
    time.sleep(0.3)
    before = switch_flows(t.sb, db["cookie"])
    bundles = t.bridge()["flowtab"]["bundles"]
    t_before = time.monotonic()

    # web's members both go to VLAN 20, in one transaction.
    t.sb.vsctl("set", "port", "m1-p", "tag=20", "--", "set", "port", "m2-p",
               "tag=20")
    wait_until(lambda: t.alias()["vlan"] == 20 and t.settled("m1"),
               5 * SLOW, 0.05, "web in VLAN 20")
    gap = time.monotonic() - t_before
    after = switch_flows(t.sb, db["cookie"])
    # db's flows were not touched; web's match VLAN 20's class now; one
    # bundle did it.
    assert_kept(before, after, gap)
    assert set(after) == set(before)
    matches = " ".join(k[3] for k in switch_flows(t.sb, web["cookie"]))
    assert "reg13=0x1014" in matches and "reg13=0x100a" not in matches
    assert t.bridge()["flowtab"]["bundles"] == bundles + 1
    assert t.alias(DB)["vlan"] == 10

    # c2 (VLAN 20) reaches web now, c1 (VLAN 10) does not; db stays in
    # VLAN 10.
    assert t.resolve("c2", ALIAS4) == VMAC
    assert t.ask(ALIAS4, "udp", "c2") == "m1"
    assert t.resolve("c1", ALIAS4) is None
    assert t.resolve("c1", DB4) == "02:00:5e:00:01:09"
    assert t.ask(DB4, "udp", "c1") == "m3"
    check_logs(t.vmacd)


def test_without_vlan_settings_nothing_changes(make_topo):
    t = make_topo(ovsdb={})
    wait_ovsdb(t, "synced")
    al = t.alias()
    assert (al["vlan"], al["vlan_conflict"]) == (0, False), al
    assert t.bridge()["vlan_aware"] is False
    flows = t.sb.ofctl("dump-flows", "br0")
    assert "reg13" not in flows and "priority=500" not in flows, flows
    assert t.ask(ALIAS4, "udp") == "m1"
    check_logs(t.vmacd)
