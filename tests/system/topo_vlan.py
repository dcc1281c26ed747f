"""A VLAN topology for vmacd's system tests (issue "OVSDB side of OVS",
VLANs; flows/README.md, "VLANs"):

    c1 (VLAN 10) --- c1-p         standalone "physical" bridge, no
    c2 (VLAN 20) --- c2-p  phys   controller; its ph-up trunks 10,20
                          ph-up
                            |     trunk of VLANs 10,20 (both ends)
                           up0
    m1, m2 (VLAN 10) ----- br0 --- up1 (uplink, access VLAN 20): p2
    c3 (VLAN 10) --------/   \\--- up2 (uplink, access VLAN 10): p3
    m3 (VLAN 10, with 'second')

br0's controller is vmacd, which reads its ports' VLANs from the sandbox's
OVSDB; its uplinks are up0, up1 and up2.  This kernel has no 802.1Q
devices, so a client "in VLAN 10 behind a trunk" is c1 on an access port
of phys, whose link to br0 is a trunk; every host's eth0 is untagged.

Alias "web" (192.0.2.100 + 2001:db8::100, VMAC 02:00:5e:00:01:01,
announcements 3 every 100 ms): m1 (prio 150) and m2 (prio 100), set up as
in topo.py (alias on lo, the UDP/TCP name service).  With 'second', alias
"db" (192.0.2.200, 2001:db8::200, VMAC 02:00:5e:00:01:09) with member m3.

VlanTopo reuses topo.Topo's host and API helpers (ask, wait_answer,
capture, py, alias, bridge, settled...); trunk_capture() captures on br0's
end of the trunk (what br0 sends and receives there, tags included).
"""

import subprocess

import pytest

import topo
from topo import ALIAS, ALIAS4, ALIAS6, SERVICE_PORT, VMAC
from vmacd import SLOW, make_config, of_socket

BRIDGE = "br0"
PHYS = "phys"
TRUNK = ("up0", "ph-up")
VLANS = "10,20"
UPLINKS = ("up0", "up1", "up2")
ANNOUNCE = {"count": 3, "interval_ms": 100}

# name -> (bridge, port, mac, ipv4, ipv6, access VLAN).  Members keep
# topo.py's ports and addresses (Topo's member set-up reads topo.HOSTS).
HOSTS = {
    "m1": (BRIDGE,) + topo.HOSTS["m1"] + (10,),
    "m2": (BRIDGE,) + topo.HOSTS["m2"] + (10,),
    "c3": (BRIDGE, "c3-p", "02:00:00:00:00:03", "192.0.2.3", "2001:db8::3",
           10),
    "p2": (BRIDGE, "up1", "02:00:00:00:00:22", "192.0.2.22",
           "2001:db8::22", 20),
    "p3": (BRIDGE, "up2", "02:00:00:00:00:23", "192.0.2.23",
           "2001:db8::23", 10),
    "c1": (PHYS, "c1-p", "02:00:00:00:00:01", "192.0.2.1", "2001:db8::1",
           10),
    "c2": (PHYS, "c2-p", "02:00:00:00:00:02", "192.0.2.2", "2001:db8::2",
           20),
}
M3 = (BRIDGE,) + topo.HOSTS["m3"] + (10,)
PRIORITIES = {"m1": 150, "m2": 100}
DB = "db"
DB4, DB6, DB_VMAC = "192.0.2.200", "2001:db8::200", "02:00:5e:00:01:09"


class VlanTopo(topo.Topo):
    """The VLAN topology with vmacd running (see the module doc).

    Topo.__init__ is not called: this class builds its own bridges and
    hosts and only inherits Topo's host and API helpers."""

    def __init__(self, sandbox, vmacd_factory, second=False, start=True,
                 log_level="info"):
        self.sb = sandbox
        self.services = {}
        self.hosts = dict(HOSTS)
        if second:
            self.hosts["m3"] = M3
        sandbox.add_bridge(BRIDGE, "unix:%s" % of_socket(sandbox))
        sandbox.add_bridge(PHYS, None)
        sandbox.add_link(BRIDGE, TRUNK[0], PHYS, TRUNK[1])
        for port in TRUNK:
            sandbox.port_vlan(port, "trunk", VLANS)
        for host, (br, port, mac, ip4, ip6, tag) in self.hosts.items():
            sandbox.add_host(host, br, port, mac, ip4 + "/24", ip6 + "/64",
                             tag=tag)
        for m in PRIORITIES:
            self._setup_member(m)

        aliases = [{
            "name": ALIAS,
            "addresses": [ALIAS4, ALIAS6],
            "vmac": VMAC,
            "announce": dict(ANNOUNCE),
            "members": [self._member(m, PRIORITIES[m]) for m in PRIORITIES],
        }]
        if second:
            topo.carry_alias_on_lo(sandbox.host_exec, "m3", DB4, DB6)
            self.services["m3"] = sandbox.host_popen(
                "m3", "/usr/bin/python3", "-u", "-c", topo._SERVICE, "m3",
                SERVICE_PORT, DB4, DB6, M3[3], M3[4],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True)
            aliases.append({"name": DB, "addresses": [DB4, DB6],
                            "vmac": DB_VMAC, "announce": dict(ANNOUNCE),
                            "members": [self._member("m3", 100)]})
        self.config = make_config(
            sandbox, [{"name": BRIDGE, "uplinks": list(UPLINKS)}], aliases,
            ovsdb={"remote": sandbox.ovsdb_remote})
        self.vmacd = vmacd_factory(self.config, log_level=log_level)
        self.expected_master = "m1"
        for m, proc in self.services.items():
            topo._wait_ready(proc, "service on %s" % m, 10 * SLOW)
        if start:
            self.start()

    def _member(self, m, priority):
        _, port, mac, ip4, _, _ = self.hosts[m]
        return {"name": m, "bridge": BRIDGE, "port": port, "mac": mac,
                "ip": ip4, "priority": priority}

    # vmacd.

    def alias(self, name=ALIAS):
        """GET /v1/aliases/NAME (asserts 200)."""
        status, body = self.vmacd.api("GET", "/v1/aliases/%s" % name)
        assert status == 200, "GET alias %s: %s %s" % (name, status, body)
        return body

    def member(self, name, alias=ALIAS):
        (m,) = [m for m in self.alias(alias)["members"] if m["name"] == name]
        return m

    # Hosts.

    def mac(self, host):
        return self.hosts[host][2]

    def ip(self, host, family=4):
        return self.hosts[host][3 if family == 4 else 4]

    def trunk_capture(self, bpf=""):
        """tcpdump on br0's end of the trunk (see topo.Capture)."""
        return topo.Capture(self.sb, None, bpf, iface=TRUNK[0])

    def resolve(self, host, addr, timeout=1.0):
        """ARP request (or a multicast NS with a source link-layer option)
        for 'addr' from 'host' with scapy; returns the MAC the answer gives
        (ARP sender, NA target link-layer address), or None."""
        return self.py(host, _RESOLVE, self.mac(host), self.ip(host, 4),
                       self.ip(host, 6), addr, timeout).strip() or None

    def set_neigh(self, host, addr, mac):
        """A permanent neighbour entry for 'addr' on 'host''s eth0."""
        fam = "-6" if ":" in addr else "-4"
        self.sb.host_exec(host, "ip", fam, "neigh", "replace", addr,
                          "lladdr", mac, "dev", "eth0", "nud", "permanent")


_RESOLVE = r"""
import sys
from scapy.all import conf, srp1, Ether, ARP, IPv6, ICMPv6ND_NS, \
    ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr, in6_getnsma, \
    in6_getnsmac
from socket import AF_INET6, inet_ntop, inet_pton
conf.verb = 0
mac, ip4, ip6, addr, timeout = sys.argv[1:6]
if ":" in addr:
    ns = inet_ntop(AF_INET6, in6_getnsma(inet_pton(AF_INET6, addr)))
    q = (Ether(src=mac, dst=in6_getnsmac(inet_pton(AF_INET6, ns)))
         / IPv6(src=ip6, dst=ns, hlim=255) / ICMPv6ND_NS(tgt=addr)
         / ICMPv6NDOptSrcLLAddr(lladdr=mac))
else:
    q = Ether(src=mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=mac, psrc=ip4, pdst=addr)
r = srp1(q, iface="eth0", timeout=float(timeout))
if r is not None and ARP in r and r[ARP].op == 2 and r[ARP].psrc == addr:
    print(r[ARP].hwsrc)
elif (r is not None and ICMPv6ND_NA in r and r[ICMPv6ND_NA].tgt == addr
      and ICMPv6NDOptDstLLAddr in r):
    print(r[ICMPv6NDOptDstLLAddr].lladdr)
"""


@pytest.fixture
def make_vlan(sandbox, vmacd_factory):
    """make_vlan(**kw) -> a started VlanTopo (see VlanTopo.__init__)."""
    built = []

    def build(**kwargs):
        assert not built, "make_vlan: one topology per test"
        t = VlanTopo(sandbox, vmacd_factory, **kwargs)
        built.append(t)
        return t

    return build
