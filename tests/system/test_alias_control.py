"""Control-plane behaviour of cluster aliases against a real ovs-vswitchd:
uplink announcements (GARP / unsolicited NA), the guard against rogue
claims, several aliases on one bridge, one OpenFlow bundle per change, and
SIGHUP reloads.

Frames are captured with tcpdump inside the hosts' namespaces and decoded
with scapy; OpenFlow traffic is watched with "ovs-ofctl snoop".
"""

import copy
import json
import os
import re
import signal
import select
import struct
import subprocess
import time

from scapy.layers.inet6 import ICMPv6ND_NA, ICMPv6NDOptDstLLAddr, IPv6
from scapy.layers.inet import UDP
from scapy.layers.l2 import ARP, Ether

from sandbox import wait_until
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS, ALIAS4, ALIAS6, BRIDGE, HOSTS, VMAC
from vmacd import SLOW

BROADCAST = "ff:ff:ff:ff:ff:ff"

# A second alias sharing member m2 with "web".
DB = "db"
DB4 = "192.0.2.200"
DB6 = "2001:db8::200"
DB_VMAC = "02:00:5e:00:01:02"

# A rogue client on an access port.
C2 = ("c2", "c2-p", "02:00:00:00:00:02", "192.0.2.2", "2001:db8::2")

ANNOUNCE_FAST = {"count": 3, "interval_ms": 100, "refresh_s": 0}


# Captures.

class Capture:
    """tcpdump of ARP and ICMPv6 on a host's eth0, into a pcap file."""

    def __init__(self, sb, host, what="arp or icmp6"):
        self.host = host
        self.path = sb.dir / ("%s.pcap" % host)
        self.proc = sb.host_popen(host, "tcpdump", "-i", "eth0", "-U", "-n",
                                  "-Z", "root", "-w", self.path, what,
                                  stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10 * SLOW
        line = ""
        while "listening on" not in line:
            left = deadline - time.monotonic()
            assert left > 0 and self.proc.poll() is None, \
                "tcpdump on %s did not start: %s" % (host, line)
            if select.select([self.proc.stderr], [], [], left)[0]:
                line = self.proc.stderr.readline()

    def frames(self):
        """[(timestamp, scapy Ether)] of every complete record so far."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        if len(data) < 24:
            return out
        magic = struct.unpack("<I", data[:4])[0]
        endian = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
        nano = magic in (0xa1b23c4d, 0x4d3cb2a1)
        off = 24
        while off + 16 <= len(data):
            sec, frac, caplen, _ = struct.unpack(endian + "IIII",
                                                 data[off:off + 16])
            if off + 16 + caplen > len(data):
                break
            ts = sec + frac / (1e9 if nano else 1e6)
            out.append((ts, Ether(data[off + 16:off + 16 + caplen])))
            off += 16 + caplen
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)


def is_garp(p, ip, vmac):
    """A gratuitous ARP in request form announcing 'ip' at 'vmac'."""
    return (ARP in p and p[Ether].src == vmac and p[Ether].dst == BROADCAST
            and p[ARP].op == 1 and p[ARP].psrc == ip and p[ARP].pdst == ip
            and p[ARP].hwsrc == vmac)


def is_una(p, ip6, vmac):
    """An unsolicited NA for 'ip6' with TLL 'vmac', O set, S and R clear,
    to all nodes, hop limit 255."""
    if ICMPv6ND_NA not in p or ICMPv6NDOptDstLLAddr not in p:
        return False
    na = p[ICMPv6ND_NA]
    return (p[Ether].src == vmac and p[Ether].dst == "33:33:00:00:00:01"
            and p[IPv6].dst == "ff02::1" and p[IPv6].hlim == 255
            and na.tgt == ip6 and na.O == 1 and na.S == 0 and na.R == 0
            and p[ICMPv6NDOptDstLLAddr].lladdr == vmac)


def claims(p, ips, vmac):
    """True if 'p' claims one of 'ips' over ARP or ND, or comes from the
    VMAC (whatever it is)."""
    if p[Ether].src == vmac:
        return True
    if ARP in p and p[ARP].psrc in ips:
        return True
    return ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt in ips


def announcements(cap, ip4=ALIAS4, ip6=ALIAS6, vmac=VMAC):
    """Timestamps of the GARPs and unsolicited NAs for the alias seen by
    'cap'; fails on any other frame that claims the alias."""
    garps, nas = [], []
    for ts, p in cap.frames():
        if is_garp(p, ip4, vmac):
            garps.append(ts)
        elif is_una(p, ip6, vmac):
            nas.append(ts)
        else:
            assert not claims(p, (ip4, ip6), vmac), \
                "%s saw a malformed announcement: %r" % (cap.host, p)
    return garps, nas


def wait_announcements(cap, n, timeout=5):
    """Waits until 'cap' has seen 'n' GARPs and 'n' NAs; returns both."""
    def enough():
        g, a = announcements(cap)
        return (g, a) if len(g) >= n and len(a) >= n else None
    return wait_until(enough, timeout * SLOW, 0.05,
                      "%d GARPs and NAs at %s" % (n, cap.host))


def check_spacing(stamps, interval):
    """Consecutive announcements of one burst are 'interval' apart (with
    generous bounds for a loaded machine)."""
    for a, b in zip(stamps, stamps[1:]):
        assert interval * 0.5 <= b - a <= interval + 1.0, \
            "announcements %.3f s apart, want about %.3f: %s" % (
                b - a, interval, stamps)


def no_claims(cap, ips=(ALIAS4, ALIAS6), vmac=VMAC):
    bad = [p for _, p in cap.frames() if claims(p, ips, vmac)]
    assert not bad, "%s saw frames claiming the alias: %s" % (
        cap.host, [p.summary() for p in bad])


# Flows and groups.

DUMP_FLOW = re.compile(
    r"^\s*cookie=(0x[0-9a-f]+), duration=([\d.]+)s, table=(\d+), "
    r"n_packets=(\d+), n_bytes=\d+, (?:[a-z_]+=[^,]+, )*"
    r"priority=(\d+)(?:,(\S+))? actions=(\S+)$")
API_FLOW = re.compile(
    r"^cookie=(0x[0-9a-f]+),actions=(.*),table=(\d+),priority=(\d+)"
    r"(?:,(.*))?$")


def switch_flows(sb, cookie=None):
    """{(cookie, table, priority, match, actions): {"duration", "n_packets"}}
    from ovs-ofctl dump-flows (only 'cookie' if given)."""
    args = ["dump-flows", BRIDGE]
    if cookie:
        args.append("cookie=%s/-1" % cookie)
    flows = {}
    for line in sb.ofctl(*args).splitlines()[1:]:
        m = DUMP_FLOW.match(line)
        assert m, "cannot parse flow: %r" % line
        key = (int(m.group(1), 16), int(m.group(3)), int(m.group(5)),
               m.group(6) or "", m.group(7))
        assert key not in flows, "flow listed twice: %r" % line
        flows[key] = {"duration": float(m.group(2)),
                      "n_packets": int(m.group(4))}
    return flows


def api_flows(t):
    """The installed flows and groups as the API reports them, keyed like
    switch_flows() and switch_groups()."""
    status, body = t.vmacd.api("GET", "/v1/bridges/%s/flows" % BRIDGE)
    assert status == 200, body
    flows = set()
    for line in body["flows"]:
        m = API_FLOW.match(line)
        assert m, "cannot parse API flow: %r" % line
        flows.add((int(m.group(1), 16), int(m.group(3)), int(m.group(4)),
                   m.group(5) or "", m.group(2)))
    return flows, parse_groups(body["groups"])


def parse_groups(lines):
    """{group_id: (type, [(watch_port, actions)...])} from group lines of
    ovs-ofctl or of the API (which differ in type names and ids)."""
    groups = {}
    for line in lines:
        head, *buckets = line.strip().split(",bucket=")
        m = re.match(r"group_id=(\d+),type=(\w+)$", head)
        assert m, "cannot parse group: %r" % line
        gtype = {"3": "ff"}.get(m.group(2), m.group(2))
        parsed = []
        for b in buckets:
            b = re.sub(r"bucket_id:\d+,", "", b)
            b = re.sub(r"watch_group:4294967295,", "", b)
            m2 = re.match(r"watch_port:(\d+),actions=(.*)$", b)
            assert m2, "cannot parse bucket: %r" % b
            parsed.append((int(m2.group(1)), m2.group(2)))
        groups[int(m.group(1))] = (gtype, parsed)
    return groups


def switch_groups(sb, group_id=None):
    args = ["dump-groups", BRIDGE] + ([str(group_id)] if group_id else [])
    return parse_groups(sb.ofctl(*args).splitlines()[1:])


def assert_switch_matches_api(t):
    """The switch holds exactly the flows and groups the API reports."""
    want_flows, want_groups = api_flows(t)
    got_flows = set(switch_flows(t.sb))
    assert got_flows == want_flows, (
        "switch and API differ:\nonly on switch: %s\nonly in API: %s"
        % (sorted(got_flows - want_flows), sorted(want_flows - got_flows)))
    assert switch_groups(t.sb) == want_groups
    return want_flows, want_groups


def port_number(t, port):
    return t.sb.port_desc(BRIDGE)[port]["number"]


def fnv1a_id(name):
    """docs/config.md: 32-bit FNV-1a of the name, masked to 31 bits."""
    h = 2166136261
    for c in name.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return (h & 0x7fffffff) or 1


# Helpers on the topology.

def post_announce(t, alias=ALIAS):
    return t.vmacd.api("POST", "/v1/aliases/%s/announce" % alias)


def bridge_stats(t):
    br = t.bridge()
    return br["generation"], br["applied_generation"], br["flowtab"]


def wait_synced(t):
    def synced():
        br = t.bridge()
        return (br["connected"] and br["flowtab"]["synced"]
                and br["generation"] == br["applied_generation"])
    wait_until(synced, 5 * SLOW, 0.05, "br0 synced")


def resolve(t, host, addrs):
    """Asks the switch for each address from 'host' with scapy (ARP
    request, or NS with a source link-layer option); returns {addr: MAC of
    the answer or None}."""
    port, mac, ip4, ip6 = HOSTS[host] if host in HOSTS else C2[1:]
    script = r"""
import json, sys
from socket import AF_INET6, inet_ntop, inet_pton
from scapy.all import conf, srp1, Ether, ARP, IPv6, ICMPv6ND_NS, \
    ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr, ICMPv6NDOptDstLLAddr, in6_getnsma, \
    in6_getnsmac
conf.verb = 0
mac, ip4, ip6 = sys.argv[1:4]
out = {}
for a in sys.argv[4:]:
    ans = None
    for _ in range(3):
        if ":" in a:
            nsma = inet_ntop(AF_INET6, in6_getnsma(inet_pton(AF_INET6, a)))
            q = (Ether(src=mac, dst=in6_getnsmac(inet_pton(AF_INET6, nsma)))
                 / IPv6(src=ip6, dst=nsma, hlim=255) / ICMPv6ND_NS(tgt=a)
                 / ICMPv6NDOptSrcLLAddr(lladdr=mac))
        else:
            q = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
                 / ARP(op=1, hwsrc=mac, psrc=ip4, pdst=a))
        r = srp1(q, iface="eth0", timeout=1)
        if r is None:
            continue
        if ARP in r and r[ARP].op == 2 and r[ARP].psrc == a:
            ans = r[ARP].hwsrc
        elif ICMPv6ND_NA in r and r[ICMPv6ND_NA].tgt == a \
                and ICMPv6NDOptDstLLAddr in r:
            ans = r[ICMPv6NDOptDstLLAddr].lladdr
        if ans:
            break
    out[a] = ans
print(json.dumps(out))
"""
    return json.loads(t.py(host, script, mac, ip4, ip6, *addrs,
                           timeout=60).strip().splitlines()[-1])


# 1. Uplink announcements.

def test_announcements_on_start_master_change_and_demand(make_topo):
    t = make_topo(start=False, announce=ANNOUNCE_FAST)
    caps = {h: Capture(t.sb, h) for h in ("p1", "c1", "m1", "m2", "m3")}
    p1 = caps["p1"]

    # Start-up: one burst of 'count' GARPs and NAs once br0 connects.
    t.start()
    garps, nas = wait_announcements(p1, 3)
    wait_until(lambda: t.alias()["announcements_sent"] == 6, 5 * SLOW,
               what="6 announcements counted by the API")
    check_spacing(garps, 0.1)
    check_spacing(nas, 0.1)

    # Master change: another burst, after the event.
    t_change = time.time()
    t.sb.link("m1-p", False)
    t.wait_settled("m2")
    garps, nas = wait_announcements(p1, 6)
    assert len(garps) == 6 and len(nas) == 6, (garps, nas)
    assert min(garps[3:] + nas[3:]) >= t_change - 0.01, \
        "master-change burst before the change"
    check_spacing(garps[3:], 0.1)
    check_spacing(nas[3:], 0.1)

    # On demand.
    status, body = post_announce(t)
    assert status == 202, body
    assert body["master"] == "m2"
    garps, nas = wait_announcements(p1, 9)
    check_spacing(garps[6:], 0.1)
    check_spacing(nas[6:], 0.1)

    # refresh_s 0: nothing more comes.
    time.sleep(0.6)
    for c in caps.values():
        c.stop()
    garps, nas = announcements(p1)
    assert len(garps) == 9 and len(nas) == 9, (garps, nas)
    assert t.alias()["announcements_sent"] == 18

    # Only the uplink carries them.
    for host in ("c1", "m1", "m2", "m3"):
        no_claims(caps[host])
    t.vmacd.check_logs()


def test_announce_unknown_alias_is_404(make_topo):
    t = make_topo(announce=ANNOUNCE_FAST)
    status, body = post_announce(t, "nope")
    assert status == 404, body
    t.vmacd.check_logs()


def test_announcement_refresh(make_topo):
    t = make_topo(start=False, announce={"count": 2, "interval_ms": 50,
                                         "refresh_s": 1})
    p1 = Capture(t.sb, "p1")
    t.start()
    # The start-up burst and at least two refreshes, each of 'count'.
    garps, nas = wait_announcements(p1, 6, timeout=8)
    p1.stop()
    garps, nas = announcements(p1)
    for stamps in (garps, nas):
        bursts = [stamps[i:i + 2] for i in range(0, 6, 2)]
        for b in bursts:
            check_spacing(b, 0.05)
        starts = [b[0] for b in bursts]
        for a, b in zip(starts, starts[1:]):
            assert 0.8 <= b - a <= 3.0, \
                "refresh bursts %.3f s apart, want about 1 s: %s" % (
                    b - a, stamps)
    t.vmacd.check_logs()


def test_announcement_refresh_continues_after_reload(make_topo):
    t = make_topo(announce={"count": 1, "interval_ms": 50, "refresh_s": 1})
    cfg = copy.deepcopy(t.config)
    cfg["aliases"][0]["preempt_delay_ms"] = 10
    write_config(t, cfg)
    p1 = Capture(t.sb, "p1")
    t.vmacd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: t.alias()["preempt_delay_ms"] == 10, 5 * SLOW,
               what="reloaded config in the API")
    # Refreshes go on at 1 s: two within 4 s.
    try:
        wait_announcements(p1, 2, timeout=4)
    except AssertionError as e:
        raise AssertionError("%s; announcements_sent after the reload: %s"
                             % (e, t.alias()["announcements_sent"])) from e
    p1.stop()
    t.vmacd.check_logs()


# 2. Guard.

ROGUE = r"""
import sys
from scapy.all import conf, sendp, Ether, ARP, IPv6, ICMPv6ND_NA, \
    ICMPv6NDOptDstLLAddr, IP, UDP
conf.verb = 0
mac, ip4, ip6, alias4, alias6, vmac, c1 = sys.argv[1:8]
frames = [
    # Gratuitous ARP, request and reply forms, claiming the alias.
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=1, hwsrc=mac, psrc=alias4, hwdst="00:00:00:00:00:00",
          pdst=alias4),
    Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
    / ARP(op=2, hwsrc=mac, psrc=alias4, hwdst="ff:ff:ff:ff:ff:ff",
          pdst=alias4),
    # Unsolicited NA claiming the alias (override).
    Ether(src=mac, dst="33:33:00:00:00:01")
    / IPv6(src=alias6, dst="ff02::1", hlim=255)
    / ICMPv6ND_NA(tgt=alias6, R=0, S=0, O=1)
    / ICMPv6NDOptDstLLAddr(lladdr=mac),
    # Anything from the VMAC.
    Ether(src=vmac, dst=c1) / IP(src=alias4, dst="192.0.2.1")
    / UDP(sport=7777, dport=9),
]
for _ in range(2):
    for f in frames:
        sendp(f, iface="eth0")
"""


def is_rogue(p, mac):
    """One of the frames ROGUE sends from 'mac'."""
    return ((ARP in p and p[ARP].hwsrc == mac)
            or (ICMPv6NDOptDstLLAddr in p
                and p[ICMPv6NDOptDstLLAddr].lladdr == mac)
            or (UDP in p and p[UDP].dport == 9))


def guard_counters(t, cookie):
    """{match: n_packets} of the alias's drop flows at priority 400."""
    return {k[3]: v["n_packets"] for k, v in switch_flows(t.sb, cookie).items()
            if k[2] == 400 and k[4] == "drop"}


def test_guard_drops_rogue_claims(make_topo):
    t = make_topo(start=False, members=("m1", "m2"))
    name, port, mac, ip4, ip6 = C2
    t.sb.add_host(name, BRIDGE, port, mac, ip4 + "/24", ip6 + "/64")
    # c1 would accept a rogue ARP at once (no 1 s lock after an update).
    t.sb.host_exec("c1", "sysctl", "-q", "-w",
                   "net.ipv4.neigh.eth0.locktime=0")
    t.start()
    cookie = t.alias()["cookie"]

    # c1 learns the alias: the VMAC.
    assert t.ask(ALIAS4) == "m1" and t.ask(ALIAS6) == "m1"
    for a in (ALIAS4, ALIAS6):
        assert t.neigh("c1", a)["lladdr"] == VMAC, t.neigh("c1", a)
    before = guard_counters(t, cookie)
    assert set(before) == {"arp,arp_spa=%s" % ALIAS4,
                           "dl_src=%s" % VMAC,
                           "icmp6,icmp_type=136,nd_target=%s" % ALIAS6}

    c1 = Capture(t.sb, "c1", "arp or icmp6 or udp")
    t.py(name, ROGUE, mac, ip4, ip6, ALIAS4, ALIAS6, VMAC, HOSTS["c1"][1],
         timeout=60)

    # Each guard flow dropped its frames (2 rounds each).
    def counted():
        now = guard_counters(t, cookie)
        return now if all(now[k] - before[k] >= 2 for k in now) else None
    after = wait_until(counted, 5 * SLOW, 0.1, "guard counters")
    assert after["arp,arp_spa=%s" % ALIAS4] - before[
        "arp,arp_spa=%s" % ALIAS4] >= 4

    # c1 never saw them and still has the VMAC.
    c1.stop()
    seen = [p.summary() for _, p in c1.frames() if is_rogue(p, mac)]
    assert not seen, "rogue frames reached c1: %s" % seen
    for a in (ALIAS4, ALIAS6):
        assert t.neigh("c1", a)["lladdr"] == VMAC, t.neigh("c1", a)
    assert t.ask(ALIAS4) == "m1" and t.ask(ALIAS6) == "m1"
    t.vmacd.check_logs()


# 3. Two aliases with overlapping members.

def add_db_alias(t):
    t.config["aliases"].append({
        "name": DB, "addresses": [DB4, DB6], "vmac": DB_VMAC,
        "announce": ANNOUNCE_FAST,
        "members": [
            {"name": m, "bridge": BRIDGE, "port": HOSTS[m][0],
             "mac": HOSTS[m][1], "ip": HOSTS[m][2], "priority": prio}
            for m, prio in (("m2", 120), ("m3", 100))],
    })


def check_alias_flows(t, alias, own, other):
    """dump-flows with the alias's cookie shows only its flows: its own
    addresses and VMAC, never the other alias's; and equals the API's
    flows with that cookie."""
    status, a = t.vmacd.api("GET", "/v1/aliases/%s" % alias)
    assert status == 200, a
    cookie = a["cookie"]
    assert int(cookie, 16) == (0x766d6163 << 32) | a["group_id"]
    flows = switch_flows(t.sb, cookie)
    assert flows
    api = {k for k in api_flows(t)[0] if k[0] == int(cookie, 16)}
    assert set(flows) == api
    text = " ".join("%s %s" % (k[3], k[4]) for k in flows)
    for s in own:
        assert s in text, "%s not in the flows of %s" % (s, alias)
    for s in other:
        assert s not in text, "%s in the flows of %s" % (s, alias)
    probe_mac = "02:76:6d:61:63:70"     # The default probe identity.
    for k in flows:
        assert k[0] == int(cookie, 16)
        # Every flow names one of the alias's addresses or its VMAC, or is
        # the health probes' reply flow of one of its members' ports.
        assert (any(s in k[3] or s in k[4] for s in own)
                or "dl_dst=%s" % probe_mac in k[3]), k
    return a


def test_two_aliases_with_overlapping_members(make_topo):
    t = make_topo(start=False, members=("m1", "m2"),
                  announce=ANNOUNCE_FAST)
    add_db_alias(t)
    t.start()
    wait_until(lambda: t.vmacd.api("GET", "/v1/aliases/db")[1]["master"]
               == "m2", 5 * SLOW, what="db master m2")
    wait_synced(t)

    # Each alias is answered with its own VMAC.
    answers = resolve(t, "c1", [ALIAS4, DB4, ALIAS6, DB6])
    assert answers == {ALIAS4: VMAC, DB4: DB_VMAC, ALIAS6: VMAC,
                       DB6: DB_VMAC}

    web = check_alias_flows(t, ALIAS, (ALIAS4, ALIAS6, VMAC),
                            (DB4, DB6, DB_VMAC))
    db = check_alias_flows(t, DB, (DB4, DB6, DB_VMAC),
                           (ALIAS4, ALIAS6, VMAC))
    assert web["group_id"] == fnv1a_id(ALIAS) == 0x0fd9bc91
    assert db["group_id"] == fnv1a_id(DB)
    assert web["cookie"] != db["cookie"]

    # Both groups, each with its members' buckets in election order.
    groups = switch_groups(t.sb)
    ports = {m: port_number(t, HOSTS[m][0]) for m in ("m1", "m2", "m3")}
    assert set(groups) == {web["group_id"], db["group_id"]}
    assert groups[web["group_id"]] == ("ff", [
        (ports["m1"], "set_field:%s->eth_dst,output:%d"
         % (HOSTS["m1"][1], ports["m1"])),
        (ports["m2"], "set_field:%s->eth_dst,output:%d"
         % (HOSTS["m2"][1], ports["m2"]))])
    assert [b[0] for b in groups[db["group_id"]][1]] == [ports["m2"],
                                                          ports["m3"]]
    before = switch_flows(t.sb)

    # The same config after a restart: the same ids, no flow re-added.
    t.vmacd.restart()
    wait_synced(t)
    for old in (web, db):
        status, new = t.vmacd.api("GET", "/v1/aliases/%s" % old["name"])
        assert status == 200
        assert (new["cookie"], new["group_id"]) == (old["cookie"],
                                                    old["group_id"])
    after = switch_flows(t.sb)
    assert set(after) == set(before)
    for k, v in before.items():
        assert after[k]["duration"] >= v["duration"], k
    assert t.bridge()["flowtab"]["flow_mods"] == 0
    assert switch_groups(t.sb) == groups
    t.vmacd.check_logs()


# 4. One bundle per change.

class Snoop:
    """ovs-ofctl snoop on br0: the OpenFlow messages between the switch
    and vmacd, line-buffered into a file."""

    def __init__(self, sb):
        self.path = sb.dir / "snoop.txt"
        log = sb.log_path()
        n = log.read_text().count("new monitor connection")
        self.out = open(self.path, "w")
        self.proc = subprocess.Popen(
            ["stdbuf", "-oL", "ovs-ofctl", "-O", "OpenFlow15", "snoop",
             BRIDGE], env=sb.env, stdout=self.out,
            stderr=subprocess.STDOUT)
        wait_until(lambda: log.read_text().count("new monitor connection")
                   > n, 10 * SLOW, 0.05, "snoop connected")

    def messages(self, start=0):
        """[(type, text)] of the messages from line 'start' on, and the
        number of lines read."""
        lines = self.path.read_text().splitlines()
        msgs = []
        for line in lines[start:]:
            m = re.match(r"^(OFP\w+)(?: request| reply)? \(OF1\.\d\)", line)
            if m:
                msgs.append([m.group(1), line])
            elif msgs:
                msgs[-1][1] += "\n" + line
        return msgs, len(lines)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.out.close()


def check_one_bundle(msgs):
    """'msgs' hold exactly one bundle (open, adds, commit), and every
    flow or group mod is inside it.  Returns the mods."""
    def bundle_ctrl(kind):
        return [i for i, (t, text) in enumerate(msgs)
                if t == "OFPT_BUNDLE_CONTROL" and "type=%s" % kind in text]
    opens, commits = bundle_ctrl("OPEN_REQUEST"), bundle_ctrl(
        "COMMIT_REQUEST")
    assert len(opens) == 1 and len(commits) == 1, msgs
    assert bundle_ctrl("COMMIT_REPLY"), "commit not answered: %s" % msgs
    mods = []
    for i, (t, text) in enumerate(msgs):
        if t in ("OFPT_FLOW_MOD", "OFPT_GROUP_MOD"):
            assert opens[0] < i < commits[0], "mod outside the bundle"
            assert msgs[i - 1][0] == "OFPT_BUNDLE_ADD_MESSAGE", \
                "mod not in a bundle: %s" % text
            mods.append(text)
    assert mods
    return mods


def test_master_change_is_one_bundle(make_topo):
    t = make_topo(start=False, members=("m1", "m2"),
                  announce=ANNOUNCE_FAST)
    snoop = Snoop(t.sb)
    t.start()
    wait_synced(t)
    _, groups = assert_switch_matches_api(t)
    gid = t.alias()["group_id"]
    m1, m2 = port_number(t, "m1-p"), port_number(t, "m2-p")
    assert [b[0] for b in groups[gid][1]] == [m1, m2]

    gen, applied, ft = bridge_stats(t)
    assert gen == applied
    _, mark = snoop.messages()
    t.sb.link("m1-p", False)
    t.wait_settled("m2")
    gen2, applied2, ft2 = bridge_stats(t)
    assert applied2 == gen2 and gen2 > gen
    assert ft2["bundles"] == ft["bundles"] + 1, (ft, ft2)
    assert ft2["failures"] == ft["failures"]

    # The switch saw exactly that bundle (its commit answered).
    def committed():
        msgs, _ = snoop.messages(mark)
        return msgs if any("COMMIT_REPLY" in m[1] for m in msgs) else None
    msgs = wait_until(committed, 5 * SLOW, 0.05, "bundle commit in snoop")
    time.sleep(0.2)
    msgs, _ = snoop.messages(mark)
    snoop.stop()
    mods = check_one_bundle(msgs)
    assert any("OFPT_GROUP_MOD" in m and "group_id=%d" % gid in m
               for m in mods), mods

    # What the switch has is what the API says, master m2 first.
    _, groups = assert_switch_matches_api(t)
    assert [b[0] for b in groups[gid][1]] == [m2, m1]
    t.vmacd.check_logs()


# 5. SIGHUP reload.

def write_config(t, cfg):
    tmp = t.vmacd.config_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=2))
    os.replace(tmp, t.vmacd.config_path)


def assert_kept(before, after, gap):
    """Every flow of 'before' is still in 'after', not re-added: its
    duration went on ('gap' = seconds between the end of the first dump and
    the start of the second) and its counters did not reset."""
    for k, v in before.items():
        assert k in after, "flow removed: %s" % (k,)
        assert after[k]["duration"] >= v["duration"] + gap - 0.01, \
            "flow re-added: %s %s -> %s" % (k, v, after[k])
        assert after[k]["n_packets"] >= v["n_packets"], k


def test_sighup_reload(make_topo):
    t = make_topo(members=("m1", "m2"), announce=ANNOUNCE_FAST)
    cookie = int(t.alias()["cookie"], 16)
    gid = t.alias()["group_id"]
    m3 = port_number(t, "m3-p")
    # Traffic, so that counters are not all zero.
    assert t.ask(ALIAS4) == "m1" and t.ask(ALIAS6) == "m1"
    wait_until(lambda: any(v["n_packets"] for k, v in
                           switch_flows(t.sb).items()
                           if k[0] == cookie and k[2] == 200),
               5 * SLOW, 0.1, "steer flow counters")
    time.sleep(0.3)
    before = switch_flows(t.sb)
    t_before = time.monotonic()
    _, _, ft = bridge_stats(t)

    # A new member and a new address.
    new = copy.deepcopy(t.config)
    alias = new["aliases"][0]
    alias["addresses"].append("192.0.2.101")
    alias["members"].append({"name": "m3", "bridge": BRIDGE, "port": "m3-p",
                             "mac": HOSTS["m3"][1], "ip": HOSTS["m3"][2],
                             "priority": 50})
    write_config(t, new)
    t.vmacd.proc.send_signal(signal.SIGHUP)

    def reloaded():
        a = t.alias()
        return a if "192.0.2.101" in a["addresses"] else None
    a = wait_until(reloaded, 5 * SLOW, 0.05, "new address in the API")
    assert [m["name"] for m in a["members"]] == ["m1", "m2", "m3"]
    assert a["members"][2]["port"] == "m3-p"
    assert a["members"][2]["priority"] == 50
    assert a["master"] == "m1" and a["cookie"] == "%#018x" % cookie
    t.wait_settled("m1")
    gap = time.monotonic() - t_before
    after = switch_flows(t.sb)
    _, _, ft2 = bridge_stats(t)

    assert_kept(before, after, gap)
    added = set(after) - set(before)
    assert added
    matches = [k[3] for k in added]
    assert "arp,arp_tpa=192.0.2.101,arp_op=1" in matches
    assert "ip,nw_dst=192.0.2.101" in matches
    assert any("in_port=%d" % m3 in m for m in matches)
    assert all(k[0] == cookie for k in added)
    assert ft2["flow_mods"] - ft["flow_mods"] == len(added), (ft, ft2)
    assert [b[0] for b in switch_groups(t.sb, gid)[gid][1]][-1] == m3
    assert_switch_matches_api(t)
    assert resolve(t, "c1", ["192.0.2.101"]) == {"192.0.2.101": VMAC}
    assert any(e["type"] == "config_reloaded" for e in t.events())

    # An invalid file is refused; nothing changes; the daemon goes on.
    bad = copy.deepcopy(new)
    bad["aliases"][0]["addresses"] = [ALIAS4]
    bad["aliases"][0]["members"][2]["priority"] = 300
    write_config(t, bad)
    gen, applied, ft3 = bridge_stats(t)
    state = t.alias()
    before = switch_flows(t.sb)
    t_before = time.monotonic()
    t.vmacd.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: configuration refused" in
               t.vmacd.log_text(), 5 * SLOW, 0.05, "refusal logged")
    assert ("aliases[0].members[2].priority: 300 is out of range (0..255)"
            in t.vmacd.log_text())
    assert t.vmacd.running()
    a = t.alias()
    for obj in (a, state):
        # Counters and probe results move on by themselves.
        obj.pop("announcements_sent")
        for m in obj["members"]:
            m.pop("probe_state", None)
    assert a == state
    assert bridge_stats(t) == (gen, applied, ft3)
    gap = time.monotonic() - t_before
    after = switch_flows(t.sb)
    assert set(after) == set(before)
    assert_kept(before, after, gap)
    assert t.ask(ALIAS4) == "m1"
    t.vmacd.check_logs(allowed=[r"SIGHUP: configuration refused"])
