"""System tests of the health probes (real OVS, namespaces).

A "hung" member keeps its link up but answers nothing: its kernel stops
answering ARP (arp_ignore=8) and its service is stopped (SIGSTOP).  There
is no iptables/nft or sch_netem on the test machines, so this is how a hang
is made without touching the link.
"""

import os
import re
import signal
import time

from sandbox import wait_until
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS4, HOSTS, SERVICE_PORT
from vmacd import SLOW

PROBE_MAC = "02:76:6d:61:63:70"     # vmacd's default probe identity.
PROBE_IP = "192.0.2.250"


def member(t, name):
    for m in t.alias()["members"]:
        if m["name"] == name:
            return m
    raise AssertionError("no member %s" % name)


def hang(t, name, hung=True):
    """Makes member 'name' stop (or resume) answering, link kept up."""
    t.sb.host_exec(name, "sysctl", "-q", "-w",
                   "net.ipv4.conf.eth0.arp_ignore=%d" % (8 if hung else 1))
    t.services[name].send_signal(signal.SIGSTOP if hung else signal.SIGCONT)


def wait_probe_state(t, name, state, timeout=5):
    wait_until(lambda: member(t, name)["probe_state"]["state"] == state,
               timeout * SLOW, 0.02,
               "member %s probe state %s" % (name, state))


def hung_master_failover(make_topo, interval_ms, timeout_ms, fall):
    t = make_topo(probe={"type": "arp", "interval_ms": interval_ms,
                         "timeout_ms": timeout_ms, "fall": fall, "rise": 3})
    wait_probe_state(t, "m1", "up")
    assert t.ask(ALIAS4, "udp") == "m1"
    before = t.neigh("c1", ALIAS4)

    prober = t.prober(interval=0.001)
    time.sleep(0.3)
    t0 = time.monotonic()
    hang(t, "m1")
    t.wait_settled("m2", timeout=5)
    time.sleep(0.3)
    res = prober.stop()

    first_m2 = res.first_answer_after("m2", t0)
    assert first_m2 is not None, "m2 never answered"
    outage_ms = (first_m2 - t0) * 1000
    budget_ms = fall * interval_ms + timeout_ms + 5 + 10 * (SLOW - 1) * 100
    # The hang can start right after a good probe: detection takes up to
    # fall intervals plus one timeout.
    assert outage_ms <= budget_ms, "outage %.1f ms > %d ms" % (outage_ms,
                                                               budget_ms)
    ev = [e for e in t.events() if e.get("type") == "member_state"
          or e.get("event") == "member_state"]
    assert ev, "no member_state event"
    assert member(t, "m1")["probe_state"]["state"] == "down"
    assert t.neigh("c1", ALIAS4)["lladdr"] == before["lladdr"]

    # Recovery: after 'rise' good probes, m1 (preempt) takes over again.
    hang(t, "m1", False)
    wait_probe_state(t, "m1", "up")
    t.wait_settled("m1", timeout=5)
    t.wait_answer("m1")
    assert t.neigh("c1", ALIAS4)["lladdr"] == before["lladdr"]
    t.vmacd.check_logs()
    return outage_ms


def test_hung_master_default_interval(make_topo):
    ms = hung_master_failover(make_topo, 100, 100, 3)
    print("hung master, 100 ms probes, fall 3: outage %.1f ms" % ms)


def test_hung_master_10ms(make_topo):
    ms = hung_master_failover(make_topo, 10, 5, 3)
    print("hung master, 10 ms probes, fall 3: outage %.1f ms" % ms)


def test_meter_and_probe_flows(make_topo):
    t = make_topo()
    flows = t.sb.ofctl("-O", "OpenFlow15", "dump-flows", "br0")
    assert "dl_dst=%s" % PROBE_MAC in flows
    assert "meter:" in flows
    meters = t.sb.ofctl("-O", "OpenFlow15", "dump-meters", "br0")
    assert "meter=30317" in meters, meters
    wait_probe_state(t, "m1", "up")
    st = member(t, "m1")["probe_state"]
    assert st["type"] == "arp" and st["replies"] > 0
    assert st["last_rtt_ms"] is not None


def test_realtime_priority_and_mlockall(make_topo):
    t = make_topo(start=False, probe={"interval_ms": int(10 * SLOW)})
    t.vmacd.args = ["--realtime-priority", "7", "--mlockall"]
    t.start()
    pid = t.vmacd.pid
    assert os.sched_getscheduler(pid) == os.SCHED_FIFO
    assert os.sched_getparam(pid).sched_priority == 7
    with open("/proc/%d/status" % pid) as f:
        locked_kb = int(re.search(r"^VmLck:\s+(\d+) kB", f.read(),
                                  re.M).group(1))
    assert locked_kb > 0
    sched = t.vmacd.api("GET", "/v1/status")[1]["scheduling"]
    assert sched == {"policy": "fifo", "priority": 7, "nice": 0,
                     "memory_locked": True}, sched
    wait_probe_state(t, "m1", "up")
    t.vmacd.check_logs()


def tcp_topo(make_topo, **kw):
    # Slower probes under valgrind, which cannot keep up with 50 ms.
    t = make_topo(start=False, probe={"type": "tcp", "port": SERVICE_PORT,
                                      "interval_ms": int(50 * SLOW),
                                      "fall": 3, "rise": 3}, **kw)
    t.config["bridges"][0]["probe_source"] = {"ip": PROBE_IP}
    t.start()
    return t


def test_tcp_probe_service_stops_and_restarts(make_topo):
    t = tcp_topo(make_topo)
    wait_probe_state(t, "m1", "up")
    # The service stops (its port closes: RST) while the host still
    # answers ARP: the alias fails over.
    svc = t.services["m1"]
    svc.kill()
    svc.wait(timeout=5)
    wait_probe_state(t, "m1", "down")
    t.wait_settled("m2", timeout=5)
    st = member(t, "m1")["probe_state"]
    assert st["refused"] > 0, st
    # It restarts: m1 comes back (preemption).
    t._setup_member_service = None
    from topo import _SERVICE, _wait_ready
    import subprocess
    t.services["m1"] = t.sb.host_popen(
        "m1", "/usr/bin/python3", "-u", "-c", _SERVICE, "m1", SERVICE_PORT,
        ALIAS4, HOSTS["m1"][2], stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True)
    _wait_ready(t.services["m1"], "service on m1", 10 * SLOW)
    wait_probe_state(t, "m1", "up")
    t.wait_settled("m1", timeout=5)
    t.wait_answer("m1")
    t.vmacd.check_logs()


def test_mac_learned_and_follows_change(make_topo):
    t = make_topo(start=False)
    for m in t.config["aliases"][0]["members"]:
        del m["mac"]
    t.start()
    assert member(t, "m1")["probe_state"]["mac"] == HOSTS["m1"][1]
    t.wait_answer("m1")
    # m1's interface gets another MAC: traffic follows.
    new_mac = "02:00:00:00:01:11"
    t.sb.host_exec("m1", "ip", "link", "set", "eth0", "address", new_mac)
    wait_until(lambda: member(t, "m1")["probe_state"]["mac"] == new_mac,
               5 * SLOW, 0.05, "new MAC learned")
    t.wait_answer("m1")
    assert member(t, "m1")["probe_state"]["mac_changes"] == 1
    flows = t.sb.ofctl("dump-groups", "br0")
    assert new_mac in flows
    t.vmacd.check_logs()


_FLOOD = r"""
import socket, sys, time
from scapy.all import Ether, ARP, raw
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("eth0", 0))
f = raw(Ether(dst=sys.argv[1], src=sys.argv[2]) /
        ARP(op=2, hwsrc=sys.argv[2], psrc=sys.argv[3], hwdst=sys.argv[1]))
n, end = 0, time.monotonic() + float(sys.argv[4])
while time.monotonic() < end:
    for _ in range(100):
        s.send(f)
    n += 100
print(n)
"""


def meter_drops(t):
    import re
    stats = t.sb.ofctl("meter-stats", "br0")
    m = re.search(r"0: packet_count:(\d+)", stats)
    assert m, stats
    return int(m.group(1))


def test_flood_at_probe_identity_is_metered(make_topo):
    # (Slower probes under valgrind, which cannot keep up with 10 ms.)
    t = make_topo(start=False, probe={"interval_ms": int(10 * SLOW),
                                      "timeout_ms": int(5 * SLOW)})
    t.config["bridges"][0]["probe_source"] = {"rate_pps": 2000}
    t.start()
    wait_probe_state(t, "m2", "up")
    cap = t.capture("c1", "ether src %s" % PROBE_MAC)

    # A client floods ARP replies at the probe identity: dropped by the
    # switch before the meter; every member keeps being probed.
    sent = int(t.py("c1", _FLOOD, PROBE_MAC, HOSTS["c1"][1],
                    HOSTS["c1"][2], "2"))
    assert sent > 1000
    for name in ("m1", "m2", "m3"):
        st = member(t, name)["probe_state"]
        assert st["state"] == "up" and st["flaps"] == 0, (name, st)
    assert t.alias()["master"] == "m1"
    assert t.vmacd.api("GET", "/v1/status")[0] == 200

    # A member floods (its port may send replies to vmacd): the meter
    # bounds what reaches vmacd.
    before = meter_drops(t)
    sent = int(t.py("m3", _FLOOD, PROBE_MAC, HOSTS["m3"][1],
                    HOSTS["m3"][2], "1"))
    assert meter_drops(t) - before > sent // 4, (sent, meter_drops(t))
    assert t.vmacd.api("GET", "/v1/status")[0] == 200

    frames = cap.stop()
    assert not frames, "probe traffic seen on c1: %r" % frames[:3]
    t.vmacd.check_logs()


def test_flapping_link_is_held_down_then_recovers(make_topo):
    t = make_topo()
    wait_probe_state(t, "m1", "up")
    end = time.monotonic() + 5
    held = False
    while time.monotonic() < end:
        t.sb.link("m1-p", False)
        time.sleep(0.05)
        t.sb.link("m1-p", True)
        time.sleep(0.05)
        held = held or member(t, "m1")["probe_state"]["state"] == "held"
    assert held or member(t, "m1")["probe_state"]["state"] == "held"
    st = member(t, "m1")["probe_state"]
    assert st["flaps"] >= 5 and st["hold_ms"] >= 1000, st
    assert t.alias()["master"] == "m2"
    events = [e for e in t.events() if "held" in str(e)]
    assert events, "no held event"
    wait_probe_state(t, "m1", "up", timeout=30)
    t.wait_settled("m1", timeout=5)
    t.vmacd.check_logs()


def sent(t):
    return {m["name"]: m["probe_state"]["sent"] for m in t.alias()["members"]}


def test_backups_probed_slower_than_the_master(make_topo):
    """backup_interval_ms: only the master is probed at interval_ms; after
    a failover the new master is, and a hung new master still fails over
    at the fast rate."""
    interval, backup = int(20 * SLOW), int(200 * SLOW)
    t = make_topo(probe={"type": "arp", "interval_ms": interval,
                         "backup_interval_ms": backup, "timeout_ms":
                         int(10 * SLOW), "fall": 2, "rise": 2})
    wait_probe_state(t, "m1", "up")
    wait_probe_state(t, "m2", "up")
    assert member(t, "m1")["probe_state"]["period_ms"] == interval
    assert member(t, "m2")["probe_state"]["period_ms"] == backup

    s0 = sent(t)
    time.sleep(2.0)
    s1 = sent(t)
    rate = {n: (s1[n] - s0[n]) / 2.0 for n in s0}
    # About 50/s for the master, 5/s for each backup (generous bounds).
    assert 30 / SLOW <= rate["m1"] <= 60 / SLOW, rate
    assert rate["m2"] <= 8 / SLOW and rate["m3"] <= 8 / SLOW, rate

    # The master hangs: it fails over; m2 is probed fast from then on.
    hang(t, "m1")
    t.wait_settled("m2", timeout=5)
    wait_until(lambda: member(t, "m2")["probe_state"]["period_ms"]
               == interval, 2 * SLOW, 0.02, "m2 probed at interval_ms")
    assert member(t, "m1")["probe_state"]["period_ms"] == backup
    t.wait_answer("m2")

    # m2 hangs too: m3 takes over, detected at m2's new, fast rate.
    t0 = time.monotonic()
    hang(t, "m2")
    t.wait_settled("m3", timeout=5)
    assert time.monotonic() - t0 < 1.0 * SLOW
    hang(t, "m1", hung=False)
    hang(t, "m2", hung=False)
    t.wait_settled("m1", timeout=5)
    t.vmacd.check_logs()
