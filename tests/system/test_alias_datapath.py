"""Datapath behaviour of a cluster alias (issue "Cluster aliases").

Real ovs-vswitchd (userspace) in a sandbox, vmacd as its controller, the
standard topology of topo.py.  Everything is checked on packets, kernel
state and the API: ARP/ND answered in the switch with the VMAC, traffic
steered to the master and answered from the VMAC, failover on a master link
down without the clients re-resolving anything, the preemption policies,
the datapath surviving a SIGKILLed vmacd and a hitless restart, and the
outage a 1 kHz UDP client sees on failover.
"""

import re
import time

from scapy.layers.inet import IP
from scapy.layers.inet6 import (ICMPv6ND_NA, ICMPv6ND_NS,
                                 ICMPv6NDOptDstLLAddr, IPv6)
from scapy.layers.l2 import ARP, Ether

from sandbox import wait_until
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS4, ALIAS6, BRIDGE, VMAC

# Sends one ARP request (argv: arp MAC IP TARGET) or one multicast NS with
# a source link-layer option (argv: ns MAC IP6 TARGET6) out of eth0 and
# prints the hex bytes of the first ARP reply / NA about TARGET seen on
# eth0, or nothing.  Up to three tries of one second each.
_EXCHANGE = r"""
import sys, threading
from socket import AF_INET6, inet_ntop, inet_pton
from scapy.all import (conf, sendp, AsyncSniffer, Ether, ARP, IPv6,
                       ICMPv6ND_NS, ICMPv6ND_NA, ICMPv6NDOptSrcLLAddr)
from scapy.utils6 import in6_getnsma, in6_getnsmac
conf.verb = 0
kind, mac, ip, target = sys.argv[1:5]
if kind == "arp":
    req = (Ether(src=mac, dst="ff:ff:ff:ff:ff:ff")
           / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00",
                 pdst=target))
    def match(p):
        return ARP in p and p[ARP].op == 2 and p[ARP].psrc == target
else:
    nsma = in6_getnsma(inet_pton(AF_INET6, target))
    req = (Ether(src=mac, dst=in6_getnsmac(nsma))
           / IPv6(src=ip, dst=inet_ntop(AF_INET6, nsma), hlim=255)
           / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=mac))
    def match(p):
        return ICMPv6ND_NA in p and p[ICMPv6ND_NA].tgt == target
for attempt in range(3):
    started = threading.Event()
    sn = AsyncSniffer(iface="eth0", lfilter=match, count=1, timeout=1.0,
                      started_callback=started.set)
    sn.start()
    started.wait(5)
    sendp(req, iface="eth0")
    sn.join()
    if sn.results:
        print(bytes(sn.results[0]).hex())
        break
"""


def exchange(t, kind, host="c1"):
    """The reply frame (scapy Ether) to an ARP request ("arp") or NS
    ("ns") for the alias sent from 'host', or None."""
    if kind == "arp":
        args = ("arp", t.mac(host), t.ip(host, 4), ALIAS4)
    else:
        args = ("ns", t.mac(host), t.ip(host, 6), ALIAS6)
    out = t.py(host, _EXCHANGE, *args, timeout=30).strip()
    return Ether(bytes.fromhex(out)) if out else None


def check_arp_reply(t, frame, host="c1"):
    assert frame is not None, "no ARP reply for %s" % ALIAS4
    assert frame[Ether].dst == t.mac(host)
    assert frame[Ether].src == VMAC
    arp = frame[ARP]
    assert arp.op == 2
    assert arp.hwsrc == VMAC
    assert arp.psrc == ALIAS4
    assert arp.hwdst == t.mac(host)
    assert arp.pdst == t.ip(host, 4)


def check_na(t, frame, host="c1"):
    assert frame is not None, "no NA for %s" % ALIAS6
    assert frame[Ether].dst == t.mac(host)
    assert frame[Ether].src == VMAC
    ip6 = frame[IPv6]
    assert ip6.src == ALIAS6
    assert ip6.dst == t.ip(host, 6)
    assert ip6.hlim == 255
    na = frame[ICMPv6ND_NA]
    assert na.type == 136
    assert (na.R, na.S, na.O) == (0, 1, 1)
    assert na.tgt == ALIAS6
    opt = frame[ICMPv6NDOptDstLLAddr]
    assert opt.type == 2 and opt.len == 1
    assert opt.lladdr == VMAC
    # Let scapy recompute the checksum and compare.
    copy = Ether(bytes(frame))
    del copy[ICMPv6ND_NA].cksum
    assert Ether(bytes(copy))[ICMPv6ND_NA].cksum == na.cksum, \
        "bad ICMPv6 checksum %#x" % na.cksum


def ping(t, host, addr, count=1):
    return t.sb.host_exec(host, "ping", "-n", "-q", "-c", str(count), "-i",
                          "0.2", "-W", "1", addr, check=False,
                          timeout=count + 10).returncode == 0


def test_arp_and_nd_answered_with_vmac(make_topo):
    t = make_topo()
    check_arp_reply(t, exchange(t, "arp"))
    check_na(t, exchange(t, "ns"))

    # The client's kernel resolves both addresses to the VMAC.
    t.sb.host_exec("c1", "ip", "neigh", "flush", "dev", "eth0")
    for addr in (ALIAS4, ALIAS6):
        assert t.neigh("c1", addr) is None
        assert ping(t, "c1", addr, count=2), "ping %s" % addr
        entry = t.neigh("c1", addr)
        assert entry is not None and entry["lladdr"] == VMAC, entry
        assert not set(entry["state"]) & {"FAILED", "INCOMPLETE"}, entry
    t.vmacd.check_logs()


def test_udp_and_tcp_reach_master_and_replies_come_from_vmac(make_topo):
    t = make_topo()
    cap = t.capture("c1", "udp port 7777 or tcp port 7777")
    for addr in (ALIAS4, ALIAS6):
        for proto in ("udp", "tcp"):
            assert t.ask(addr, proto) == "m1", (addr, proto)
    wanted = {(ALIAS4, "UDP"), (ALIAS4, "TCP"), (ALIAS6, "UDP"),
              (ALIAS6, "TCP")}

    def sources(frames):
        return {(f[1].src, f[2].name) for f in frames
                if f[Ether].src != t.mac("c1")}

    frames = cap.stop(until=lambda fs: wanted <= sources(fs))
    # Both families and both protocols answered.
    assert wanted <= sources(frames), sources(frames)
    replies = [f for f in frames if f[Ether].src != t.mac("c1")]
    for f in replies:
        assert f[Ether].src == VMAC, f.summary()
        assert f[1].src in (ALIAS4, ALIAS6), f.summary()
    # Requests were addressed to the VMAC too.
    requests = [f for f in frames if f[Ether].src == t.mac("c1")]
    assert requests and all(f[Ether].dst == VMAC for f in requests)
    t.vmacd.check_logs()


def fail_over(t):
    """Brings m1-p down and checks that m2 takes over (UDP and TCP, both
    families) without any client re-resolving the alias.  c1 has dynamic
    neighbour entries; p1 (behind the uplink) has PERMANENT ones."""
    for addr in (ALIAS4, ALIAS6):
        t.sb.host_exec("p1", "ip", "neigh", "replace", addr, "lladdr", VMAC,
                       "nud", "permanent", "dev", "eth0")
        assert t.ask(addr, "udp", host="c1") == "m1"
        assert t.ask(addr, "udp", host="p1") == "m1"
    before = {a: t.neigh("c1", a) for a in (ALIAS4, ALIAS6)}
    for a, entry in before.items():
        assert entry and entry["lladdr"] == VMAC, (a, entry)

    cap = t.capture("c1", "arp or icmp6 or port 7777")
    t.sb.link("m1-p", False)
    for addr in (ALIAS4, ALIAS6):
        t.wait_answer("m2", addr, "udp", "c1")
        assert t.ask(addr, "tcp", host="c1") == "m2"
        t.wait_answer("m2", addr, "udp", "p1")
    t.wait_settled("m2")

    def replies_from_m2(frames):
        return [f for f in frames if f.haslayer("UDP")
                and f[1].src in (ALIAS4, ALIAS6)
                and bytes(f["UDP"].payload).startswith(b"m2:")]

    frames = cap.stop(until=lambda fs: len(replies_from_m2(fs)) >= 2)
    assert replies_from_m2(frames), "capture on c1 saw no reply from m2"

    al = t.alias()
    states = {m["name"]: (m["state"], m["master"]) for m in al["members"]}
    assert states["m1"] == ("down", False), states
    assert states["m2"][1] is True, states

    for a in (ALIAS4, ALIAS6):
        entry = t.neigh("c1", a)
        assert entry and entry["lladdr"] == VMAC, (a, entry)
        entry = t.neigh("p1", a)
        assert entry and entry["lladdr"] == VMAC \
            and "PERMANENT" in entry["state"], (a, entry)
    # Never re-resolved: c1 asked nobody for the alias during failover,
    # and nothing spoke for the alias with another MAC than the VMAC.
    for f in frames:
        if ARP in f:
            assert not (f[ARP].op == 1 and f[ARP].pdst == ALIAS4
                        and f[Ether].src == t.mac("c1")), f.summary()
            if f[ARP].psrc == ALIAS4:
                assert f[ARP].hwsrc == VMAC, f.summary()
        if f.haslayer(ICMPv6ND_NS) and f[ICMPv6ND_NS].tgt == ALIAS6:
            assert f[Ether].src != t.mac("c1"), f.summary()
        if f.haslayer(ICMPv6ND_NA) and f[ICMPv6ND_NA].tgt == ALIAS6:
            assert f[Ether].src == VMAC, f.summary()
        if (f.haslayer(IP) or f.haslayer(IPv6)) \
                and f[1].src in (ALIAS4, ALIAS6):
            assert f[Ether].src == VMAC, f.summary()


def wait_member_up(t, name, timeout=5):
    def up():
        return any(m["name"] == name and m["state"] == "up"
                   for m in t.alias()["members"])
    wait_until(up, timeout, 0.05, "member %s up" % name)


def test_failover_and_preempt(make_topo):
    t = make_topo()
    fail_over(t)
    t.sb.link("m1-p", True)
    t.wait_settled("m1")
    for host in ("c1", "p1"):
        for addr in (ALIAS4, ALIAS6):
            t.wait_answer("m1", addr, "udp", host)
    assert t.ask(ALIAS4, "tcp") == "m1"
    assert t.neigh("c1", ALIAS4)["lladdr"] == VMAC
    t.vmacd.check_logs()


def test_failover_without_preempt_stays(make_topo):
    t = make_topo(preempt=False)
    fail_over(t)
    t.sb.link("m1-p", True)
    wait_member_up(t, "m1")
    t.wait_settled("m2")
    # m1 is healthy again but the master stays m2: one second of 100 Hz
    # probes, all answered by m2.
    probe = t.prober(ALIAS4, interval=0.01)
    time.sleep(1.0)
    result = probe.stop()
    assert result.sent and not result.answered_by("m1")
    assert len(result.answered_by("m2")) >= len(result.sent) - 5, \
        "lost %s" % result.lost()
    assert t.alias()["master"] == "m2"
    assert t.ask(ALIAS6, "tcp") == "m2"
    t.vmacd.check_logs()


def test_failover_with_preempt_delay(make_topo):
    delay = 1.5
    t = make_topo(preempt_delay_ms=int(delay * 1000))
    fail_over(t)
    probe = t.prober(ALIAS4, interval=0.01, max_s=30)
    t_up = time.monotonic()
    t.sb.link("m1-p", True)
    # Shortly after the link came back m2 is still the master.
    assert t.alias()["master"] == "m2"
    assert t.ask(ALIAS6, "udp") == "m2"
    wait_member_up(t, "m1")
    t.wait_settled("m1", timeout=delay + 8)
    t.wait_answer("m1", ALIAS4, "udp")
    result = probe.stop()

    moved = result.first_answer_after("m1", t_up)
    assert moved is not None, "m1 never answered the prober"
    elapsed = moved - t_up
    print("preempt_delay_ms=%d: back on m1 %.0f ms after link up"
          % (delay * 1000, elapsed * 1000))
    assert delay - 0.1 <= elapsed <= delay + 5, elapsed
    # Until then m2 answered (the alias was served during the delay).
    during = [seq for seq, ts in result.sent if t_up <= ts < moved - 0.05]
    assert during
    assert all(result.replies.get(seq, ("lost",))[0] in ("m2", "lost")
               for seq in during)
    assert len([s for s in during if s in result.replies]) \
        >= 0.9 * len(during)
    t.vmacd.check_logs()


FLOW_COUNTERS = re.compile(
    r"\s*\b(duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]*,?")


def installed_flows(t):
    """{flow without counters: (duration_s, n_packets)} of br0."""
    flows = {}
    for line in t.sb.ofctl("dump-flows", BRIDGE).splitlines():
        line = line.strip()
        if not line.startswith("cookie="):
            continue
        duration = float(re.search(r"duration=([\d.]+)s", line).group(1))
        packets = int(re.search(r"n_packets=(\d+)", line).group(1))
        key = FLOW_COUNTERS.sub(" ", line).strip()
        key = re.sub(r"\s+", " ", key)
        assert key not in flows, "duplicate flow %s" % key
        flows[key] = (duration, packets)
    return flows


def test_datapath_survives_sigkill_and_restart_is_hitless(make_topo):
    t = make_topo()
    assert t.ask(ALIAS4, "udp") == "m1"
    before = installed_flows(t)
    t_before = time.monotonic()
    assert len(before) == t.bridge()["flowtab"]["flows"]

    t.vmacd.kill()
    # The switch answers on its own.
    check_arp_reply(t, exchange(t, "arp"))
    check_na(t, exchange(t, "ns"))
    assert t.ask(ALIAS4, "udp") == "m1"
    assert t.ask(ALIAS6, "tcp") == "m1"
    # Master link down: the fast_failover group moves to m2 by itself.
    t.sb.link("m1-p", False)
    t.wait_answer("m2", ALIAS4, "udp", timeout=3)
    t.wait_answer("m2", ALIAS6, "udp", timeout=3)

    t.vmacd.start()
    t.wait_settled("m2", timeout=10)
    after = installed_flows(t)
    elapsed = time.monotonic() - t_before
    assert set(after) == set(before), \
        "flows changed: gone %s, new %s" % (set(before) - set(after),
                                            set(after) - set(before))
    for key, (duration, packets) in before.items():
        d2, p2 = after[key]
        # Counters kept running: nothing was deleted and re-added.
        assert d2 >= duration + elapsed - 1.0, (key, duration, d2)
        assert p2 >= packets, (key, packets, p2)
    ft = t.bridge()["flowtab"]
    assert ft["flow_mods"] == 0, ft
    assert t.ask(ALIAS4, "udp") == "m2"

    # The restarted vmacd is in charge: m1 back, preempted.
    t.sb.link("m1-p", True)
    t.wait_settled("m1")
    t.wait_answer("m1", ALIAS4, "udp")
    t.vmacd.check_logs()


def test_outage_on_master_link_down(make_topo):
    t = make_topo()
    assert t.ask(ALIAS4, "udp") == "m1"
    probe = t.prober(ALIAS4, interval=0.001)
    time.sleep(0.5)
    t_down = time.monotonic()
    t.sb.link("m1-p", False)
    t.wait_settled("m2")
    time.sleep(0.5)
    result = probe.stop()

    lost = result.lost()
    gap = result.max_gap()
    changes = [e for e in t.events() if e.get("type") == "master_change"
               and e.get("new_master") == "m2"]
    print("1 kHz UDP: sent %d, lost %d, longest gap %.1f ms, "
          "event_to_barrier_ms %s"
          % (len(result.sent), len(lost), gap * 1000,
             [e.get("event_to_barrier_ms") for e in changes]))
    assert len(changes) == 1, changes
    assert changes[0]["old_master"] == "m1"
    assert len(result.sent) > 500
    assert result.answered_by("m1") and result.answered_by("m2")
    assert result.first_answer_after("m2", t_down) is not None
    assert len(lost) < 200, "lost %d datagrams" % len(lost)
    assert gap < 0.5, gap
    t.vmacd.check_logs()
