"""Access bridges (docs/config.md, "access_bridges"), on a real
ovs-vswitchd: the two-host topology of topo_multi.py plus a third host
bridge hc that has no member of alias "web" but carries it for its client
cc (make_multi(access=True)); hc's uplink uc sits on the physical switch
next to ha's and hb's.

Checked on packets (captures on hosts and on hc's uplink), kernel
neighbour entries, OpenFlow flow and group counters, and the flow tables:
hc answers cc's ARP/NS itself (nothing reaches the physical segment); cc's
traffic leaves hc's uplink addressed to the VMAC and reaches the master
wherever it is, across a failover between hosts, without cc re-resolving;
requests for the alias from the physical segment are dropped at hc and
answered by the master's bridge only; removing hc from "access_bridges"
(SIGHUP reload) removes the alias's flows and group from hc and leaves the
other bridges' flows in place, and adding it back (API PUT) restores them.
"""

import copy
import json
import re
import select
import signal
import subprocess
import time

from scapy.layers.inet import IP, UDP
from scapy.layers.inet6 import ICMPv6ND_NS, IPv6
from scapy.layers.l2 import ARP, Ether

import topo
from sandbox import wait_until
from test_alias_datapath import check_arp_reply, check_na, exchange
from topo import ALIAS, ALIAS4, ALIAS6, SERVICE_PORT, VMAC
from topo_multi import ACCESS_BRIDGES, HOST_BRIDGES
from topo_multi import make_multi  # noqa: F401  (pytest fixture)
from vmacd import SLOW

GROUP_ID = 265927825    # Alias "web" (docs/config.md, "Alias ids").
ALIAS_COOKIE = "0x766d6163%08x/-1" % GROUP_ID
ACCESS = "hc"
UPLINK = ACCESS_BRIDGES[ACCESS][0]
CLIENT = "cc"
UNUSED4 = "192.0.2.250"

# Responder and uplink-drop flows of the alias on hc, as they appear in
# MultiTopo.flows() keys (ports as numbers; %d is the uplink's number).
RESPONDER_ARP = "priority=300,arp,arp_tpa=%s,arp_op=1 " % ALIAS4
RESPONDER_NS = "priority=300,icmp6,icmp_type=135,nd_target=%s " % ALIAS6
UPLINK_DROP_ARP = "priority=320,arp,in_port=%%d,arp_tpa=%s,arp_op=1 " \
    "actions=drop" % ALIAS4
UPLINK_DROP_NS = "priority=320,icmp6,in_port=%%d,icmp_type=135," \
    "nd_target=%s actions=drop" % ALIAS6

_DURATION = re.compile(r"\bduration=([0-9.]+)s")

# An ARP request (broadcast) for an address nobody has: a marker that
# flooding from 'host' does reach the other side.
_ARP_FOR_UNUSED = r"""
import sys
from scapy.all import conf, sendp, Ether, ARP
conf.verb = 0
mac, ip, target = sys.argv[1:4]
sendp(Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
      / ARP(op=1, hwsrc=mac, psrc=ip, pdst=target), iface="eth0")
"""


class SwitchCapture(topo.Capture):
    """tcpdump on interface 'iface' of the switch namespace (e.g. an
    uplink, to see what a bridge sends towards the physical switch).  The
    sandbox kills it on stop with everything else in its namespaces."""

    def __init__(self, sb, iface, bpf=""):
        topo.Capture._n += 1
        self.path = sb.dir / ("cap-sw-%s-%d.pcap" % (iface, topo.Capture._n))
        cmd = ["ip", "netns", "exec", sb.sw_ns, "tcpdump", "-i", iface,
               "--immediate-mode", "-U", "-n", "-Z", "root", "-w",
               str(self.path)]
        if bpf:
            cmd.append(bpf)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10 * SLOW
        line = ""
        while "listening on" not in line:
            left = deadline - time.monotonic()
            if self.proc.poll() is not None or left <= 0:
                if self.proc.poll() is None:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
                raise AssertionError("tcpdump on %s did not start: %s"
                                     % (iface, line))
            if select.select([self.proc.stderr], [], [], left)[0]:
                line = self.proc.stderr.readline()


def flow_key(flows, pattern):
    """The one key of 'flows' (MultiTopo.flows()) containing 'pattern'."""
    keys = [k for k in flows if pattern in k]
    assert len(keys) == 1, (pattern, sorted(flows))
    return keys[0]


def wait_grown(t, bridge, key, before, what):
    # Datapath counters reach OpenFlow stats with the revalidators.
    wait_until(lambda: t.flows(bridge).get(key, -1) > before, 5 * SLOW,
               0.1, what)


def group_packets(t, bridge):
    out = t.sb.ofctl("dump-group-stats", bridge, "group_id=%d" % GROUP_ID)
    m = re.search(r"group_id=%d,.*?\bpacket_count=(\d+)" % GROUP_ID, out)
    assert m, out
    return int(m.group(1))


def group_text(t, bridge):
    """The alias's group on 'bridge' as dump-groups prints it (ports as
    numbers), or "" if there is none."""
    out = t.sb.ofctl("--no-names", "dump-groups", bridge)
    lines = [line.strip() for line in out.splitlines()
             if "group_id=%d," % GROUP_ID in line]
    assert len(lines) <= 1, out
    return lines[0] if lines else ""


def durations(t, bridge):
    """{flow text without counters: duration in s} of vmacd's flows on
    'bridge'."""
    result = {}
    for line in t.sb.ofctl("--no-names", "dump-flows", bridge,
                           "cookie=0x766d616300000000/0xffffffff00000000"
                           ).splitlines():
        m = _DURATION.search(line)
        if m and line.strip().startswith("cookie="):
            key = re.sub(r"\s*\b(duration|n_packets|n_bytes|idle_age|"
                         r"hard_age)=[^,\s]*,?", " ", line.strip())
            result[re.sub(r"\s+", " ", key).strip()] = float(m.group(1))
    return result


def requests_for_alias(frames, mac, broadcast_only=False):
    """ARP requests for ALIAS4 and NS for ALIAS6 sent from 'mac' (with
    'broadcast_only': only the broadcast / multicast ones, i.e. a new
    resolution rather than a unicast reachability check)."""
    found = []
    for f in frames:
        if Ether not in f or f[Ether].src != mac:
            continue
        if broadcast_only and not int(f[Ether].dst.split(":")[0], 16) & 1:
            continue
        if ARP in f and f[ARP].op == 1 and f[ARP].pdst == ALIAS4:
            found.append(f)
        elif ICMPv6ND_NS in f and f[ICMPv6ND_NS].tgt == ALIAS6:
            found.append(f)
    return found


def unused_arp(frames, mac):
    return [f for f in frames if ARP in f and f[ARP].op == 1
            and f[ARP].pdst == UNUSED4 and f[Ether].src == mac]


def send_unused_arp(t, host):
    t.py(host, _ARP_FOR_UNUSED, t.mac(host), t.ip(host), UNUSED4)


def resolve_locally(t):
    """cc's ARP request and NS for the alias are answered with the VMAC by
    hc's responder flows, and neither request reaches the physical
    segment (p1)."""
    flows = t.flows(ACCESS)
    arp_key = flow_key(flows, RESPONDER_ARP)
    ns_key = flow_key(flows, RESPONDER_NS)
    cap = t.capture("p1", "arp or icmp6")
    check_arp_reply(t, exchange(t, "arp", CLIENT), CLIENT)
    check_na(t, exchange(t, "ns", CLIENT), CLIENT)
    # Marker: a broadcast from cc sent after the requests does reach p1,
    # so the requests would have by then.
    send_unused_arp(t, CLIENT)
    frames = cap.stop(until=lambda fs: unused_arp(fs, t.mac(CLIENT)))
    assert unused_arp(frames, t.mac(CLIENT)), \
        "cc's marker broadcast did not reach p1"
    leaked = requests_for_alias(frames, t.mac(CLIENT))
    assert not leaked, [f.summary() for f in leaked]
    wait_grown(t, ACCESS, arp_key, flows[arp_key],
               "hc's ARP responder counting cc's request")
    wait_grown(t, ACCESS, ns_key, flows[ns_key],
               "hc's NS responder counting cc's solicitation")


def test_access_bridge_answers_locally_and_forwards_to_master(make_multi):
    t = make_multi(access=True)
    uc = t.port_number(ACCESS, UPLINK)
    cc_mac = t.mac(CLIENT)

    # hc carries the alias (API), its group sends to its uplink only,
    # addressed to the VMAC.
    assert t.bridge(ACCESS)["aliases"] == [ALIAS]
    assert group_text(t, ACCESS).endswith(
        "type=ff,bucket=bucket_id:0,watch_port:%d,actions=set_field:%s->"
        "eth_dst,output:%d" % (uc, VMAC, uc)), group_text(t, ACCESS)

    resolve_locally(t)

    # cc's traffic reaches the master m1 through hc's group and uplink,
    # addressed to the VMAC.
    up = SwitchCapture(t.sb, UPLINK, "ether src %s" % cc_mac)
    before = group_packets(t, ACCESS)
    for addr in (ALIAS4, ALIAS6):
        for proto in ("udp", "tcp"):
            assert t.ask(addr, proto, CLIENT) == "m1", (addr, proto)
    frames = up.stop(until=lambda fs: [f for f in fs if UDP in f
                                       and IPv6 in f])
    udp = [f for f in frames if UDP in f and f[UDP].dport == SERVICE_PORT]
    assert {(IP in f and f[IP].dst) or f[IPv6].dst for f in udp} \
        == {ALIAS4, ALIAS6}, [f.summary() for f in frames]
    to_alias = [f for f in frames
                if (IP in f and f[IP].dst == ALIAS4)
                or (IPv6 in f and f[IPv6].dst == ALIAS6)]
    assert to_alias and all(f[Ether].dst == VMAC for f in to_alias), \
        [f.summary() for f in to_alias]
    # 2 datagrams and 2 TCP connections (3 packets at least from cc each).
    wait_until(lambda: group_packets(t, ACCESS) >= before + 8, 5 * SLOW,
               0.1, "hc's group counting cc's packets")
    # The physical switch learnt cc behind hc's uplink, the VMAC behind ha.
    assert t.fdb().get(cc_mac) == ACCESS_BRIDGES[ACCESS][1]
    t.wait_vmac_port(HOST_BRIDGES["ha"][1])
    neigh = {addr: t.neigh(CLIENT, addr) for addr in (ALIAS4, ALIAS6)}
    for addr, entry in neigh.items():
        assert entry and entry["lladdr"] == VMAC, (addr, entry)

    # Requests for the alias from the physical segment: hc drops them at
    # its uplink; p1 gets one answer, from the master's bridge.
    flows = t.flows(ACCESS)
    drops = [flow_key(flows, UPLINK_DROP_ARP % uc),
             flow_key(flows, UPLINK_DROP_NS % uc)]
    cap = t.capture("p1", "arp or icmp6")
    check_arp_reply(t, exchange(t, "arp", "p1"), "p1")
    check_na(t, exchange(t, "ns", "p1"), "p1")
    time.sleep(0.3)     # A second reply would come within this.
    frames = cap.stop()
    replies = [f for f in frames if ARP in f and f[ARP].op == 2
               and f[ARP].psrc == ALIAS4 and f[Ether].dst == t.mac("p1")]
    assert len(replies) == 1, [f.summary() for f in replies]
    nas = [f for f in frames if IPv6 in f and f[IPv6].src == ALIAS6
           and f[IPv6].dst == t.ip("p1", 6) and f[IPv6].nh == 58
           and bytes(f[IPv6].payload)[:1] == b"\x88"]
    assert len(nas) == 1, [f.summary() for f in nas]
    for key in drops:
        wait_grown(t, ACCESS, key, flows[key],
                   "hc dropping p1's request at its uplink: %s" % key)
    assert t.vmac_port() == HOST_BRIDGES["ha"][1]

    # Failover to hb: hc's flows stay as they are (it sends to its uplink
    # either way), and cc reaches m2 with the neighbour entries it has.
    hc_flows = set(t.flows(ACCESS))
    cap = t.capture(CLIENT, "arp or icmp6")
    t.sb.link("m1-p", False)
    t.wait_vmac_port(HOST_BRIDGES["hb"][1], timeout=5)
    t.wait_settled("m2", timeout=10)
    for addr in (ALIAS4, ALIAS6):
        t.wait_answer("m2", addr, "udp", CLIENT)
        assert t.ask(addr, "tcp", CLIENT) == "m2", addr
        entry = t.neigh(CLIENT, addr)
        assert entry and entry["lladdr"] == VMAC, (addr, entry)
    frames = cap.stop()
    again = requests_for_alias(frames, cc_mac, broadcast_only=True)
    assert not again, [f.summary() for f in again]
    assert set(t.flows(ACCESS)) == hc_flows
    assert group_text(t, ACCESS).endswith(
        "watch_port:%d,actions=set_field:%s->eth_dst,output:%d"
        % (uc, VMAC, uc)), group_text(t, ACCESS)
    t.vmacd.check_logs()


def test_access_bridge_removed_by_reload_and_restored_by_put(make_multi):
    t = make_multi(access=True)
    resolve_locally(t)
    assert t.ask(ALIAS4, "udp", CLIENT) == "m1"
    hc_flows = set(t.flows(ACCESS))
    hc_group = group_text(t, ACCESS)
    assert hc_group
    assert set(t.flows(ACCESS, cookie=ALIAS_COOKIE)) == {
        k for k in hc_flows if "priority=0 " not in k}

    # SIGHUP with "access_bridges" gone from the file.
    config = copy.deepcopy(t.vmacd.config)
    alias = next(a for a in config["aliases"] if a["name"] == ALIAS)
    del alias["access_bridges"]
    time.sleep(0.5)     # Let the other bridges' flows age measurably.
    others = {br: durations(t, br) for br in HOST_BRIDGES}
    t.vmacd.config_path.write_text(json.dumps(config, indent=2))
    log_mark = len(t.vmacd.log_text().splitlines())
    t_reload = time.monotonic()
    t.vmacd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: not t.flows(ACCESS, cookie=ALIAS_COOKIE)
               and not group_text(t, ACCESS), 5 * SLOW, 0.05,
               "the alias's flows and group gone from hc")
    t.wait_settled("m1")
    age = time.monotonic() - t_reload
    assert "access_bridges" not in t.alias()
    assert t.bridge(ACCESS)["aliases"] == []
    assert t.bridge(ACCESS)["connected"]
    # hc keeps vmacd's base flow; ha and hb keep every flow, untouched:
    # each is older than the reload.
    assert list(t.flows(ACCESS)) and all(
        "priority=0 " in k for k in t.flows(ACCESS)), t.flows(ACCESS)
    for br, before in others.items():
        after = durations(t, br)
        assert set(after) == set(before), (br, set(after) ^ set(before))
        young = {k: d for k, d in after.items() if d < age}
        assert not young, (br, young)
    new_lines = t.vmacd.log_text().splitlines()[log_mark:]
    for br in HOST_BRIDGES:
        changed = [line for line in new_lines
                   if re.search(r"\|%s: applied generation" % br, line)
                   and not re.search(r": 0 added, 0 modified, 0 deleted "
                                     r"flows, 0 group mods", line)]
        assert not changed, changed

    # cc is a plain client of the segment now: its request goes out of
    # hc's uplink and the master's bridge answers it.
    cap = t.capture("p1", "arp")
    check_arp_reply(t, exchange(t, "arp", CLIENT), CLIENT)
    frames = cap.stop(until=lambda fs: requests_for_alias(fs,
                                                          t.mac(CLIENT)))
    assert requests_for_alias(frames, t.mac(CLIENT)), \
        "cc's request for the alias did not reach p1"
    assert t.ask(ALIAS4, "udp", CLIENT) == "m1"
    t.wait_vmac_port(HOST_BRIDGES["ha"][1])

    # PUT with "access_bridges" back: hc carries the alias again.
    alias["access_bridges"] = [ACCESS]
    status, body = t.vmacd.api("PUT", "/v1/aliases/%s" % ALIAS, alias)
    assert status == 200, (status, body)
    assert body["access_bridges"] == [ACCESS]
    wait_until(lambda: set(t.flows(ACCESS)) == hc_flows
               and group_text(t, ACCESS) == hc_group, 5 * SLOW, 0.05,
               "hc's flows and group back after PUT")
    t.wait_settled("m1")
    assert json.loads(t.vmacd.config_path.read_text())["aliases"][0][
        "access_bridges"] == [ACCESS]
    resolve_locally(t)
    assert t.ask(ALIAS6, "tcp", CLIENT) == "m1"
    t.vmacd.check_logs()
