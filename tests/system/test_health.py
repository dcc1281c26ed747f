"""System tests of the health probes (real OVS, namespaces).

A "hung" member keeps its link up but answers nothing: its kernel stops
answering ARP (arp_ignore=8) and its service is stopped (SIGSTOP).  There
is no iptables/nft or sch_netem on the test machines, so this is how a hang
is made without touching the link.
"""

import ipaddress
import json
import math
import os
import re
import signal
import subprocess
import time

from sandbox import wait_until
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS, ALIAS4, HOSTS, MEMBERS, SERVICE_PORT
from vmacd import SLOW

PROBE_MAC = "02:76:6d:61:63:70"     # vmacd's default probe identity.
PROBE_IP = "192.0.2.250"
PROBE_LLA = "fe80::76:6dff:fe61:6370"  # Its link-local address (ND probes).


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

    assert res.first_answer_after("m2", t0) is not None, "m2 never answered"
    # The outage the client saw: the longest gap between answered
    # datagrams (hang() itself takes milliseconds to start a process in
    # m1's namespace, which a clock started before it would count).
    outage_ms = res.max_gap() * 1000
    budget_ms = fall * interval_ms + timeout_ms + 15 + 10 * (SLOW - 1) * 100
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


def test_status_sums_every_prober(make_topo):
    t = make_topo()
    wait_probe_state(t, "m3", "up")
    before = {m["name"]: m["probe_state"] for m in t.alias()["members"]}
    probes = t.vmacd.api("GET", "/v1/status")[1]["probes"]
    after = {m["name"]: m["probe_state"] for m in t.alias()["members"]}
    assert probes["probers"] == 3
    for key in ("sent", "replies", "timeouts"):
        assert (sum(p[key] for p in before.values()) <= probes[key]
                <= sum(p[key] for p in after.values())), key
    hist = probes["send_late_histogram"]
    assert set(hist) == set(after["m1"]["send_late_histogram"])
    for k in hist:
        assert (sum(p["send_late_histogram"][k] for p in before.values())
                <= hist[k] <= sum(p["send_late_histogram"][k]
                                  for p in after.values())), k
    assert sum(hist.values()) >= probes["sent"] > 0


def test_member_back_from_link_down_waits_for_rise(make_topo):
    """A probed member whose link returns is back only after 'rise'
    answered probes: if it came back hung, it never gets the traffic."""
    t = make_topo(probe={"type": "arp", "interval_ms": int(50 * SLOW),
                         "fall": 3, "rise": 3})
    wait_probe_state(t, "m1", "up")
    t.sb.link("m1-p", False)
    t.wait_settled("m2", timeout=5)
    hang(t, "m1")
    t.sb.link("m1-p", True)
    end = time.monotonic() + 1.0 * SLOW
    while time.monotonic() < end:
        a = t.alias()
        assert a["master"] == "m2", a["master"]
        time.sleep(0.02)
    assert member(t, "m1")["probe_state"]["state"] == "down"
    hang(t, "m1", False)
    wait_probe_state(t, "m1", "up")
    t.wait_settled("m1", timeout=5)
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



def change_mac_and_follow(t, name, new_mac="02:00:00:00:01:11"):
    """Gives 'name''s eth0 another MAC: vmacd learns it from the probe
    replies and the group follows; traffic still reaches 'name'."""
    t.sb.host_exec(name, "ip", "link", "set", "eth0", "address", new_mac)
    wait_until(lambda: member(t, name)["probe_state"]["mac"] == new_mac,
               5 * SLOW, 0.05, "new MAC learned")
    t.wait_answer(name)
    assert member(t, name)["probe_state"]["mac_changes"] == 1
    assert new_mac in t.sb.ofctl("dump-groups", "br0")

def test_mac_learned_and_follows_change(make_topo):
    t = make_topo(start=False)
    for m in t.config["aliases"][0]["members"]:
        del m["mac"]
    t.start()
    assert member(t, "m1")["probe_state"]["mac"] == HOSTS["m1"][1]
    t.wait_answer("m1")
    # m1's interface gets another MAC: traffic follows.
    change_mac_and_follow(t, "m1")
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


def meters(t):
    """{meter id: rate of its drop band} from ovs-ofctl dump-meters."""
    out = t.sb.ofctl("dump-meters", "br0")
    return {int(m): int(r) for m, r in
            re.findall(r"meter=(\d+) .*\n\s*type=drop rate=(\d+)", out)}


def meter_stats(t):
    """{meter id: {"flows", "packet_in", "drops"}} from ovs-ofctl
    meter-stats ("drops": packets its drop band dropped)."""
    out = t.sb.ofctl("meter-stats", "br0")
    found = re.findall(r"meter:(\d+) flow_count:(\d+) packet_in_count:(\d+)"
                       r".*\n0: packet_count:(\d+)", out)
    assert found, out
    return {int(m): {"flows": int(f), "packet_in": int(p), "drops": int(d)}
            for m, f, p, d in found}


def ofport(t, port):
    return int(t.sb.vsctl("get", "Interface", port, "ofport"))


def reply_meter(t, name):
    """The meter of the ARP probe reply flow of member 'name''s port."""
    flows = t.sb.ofctl("dump-flows", "--no-stats", "br0",
                       "arp,in_port=%d,dl_dst=%s,arp_op=2"
                       % (ofport(t, HOSTS[name][0]), PROBE_MAC))
    found = re.findall(r"actions=meter:(\d+),CONTROLLER", flows)
    assert len(found) == 1, flows
    return int(found[0])


def probe_states(t):
    return {m["name"]: m["probe_state"] for m in t.alias()["members"]}


def test_flood_at_probe_identity_is_metered(make_topo):
    """One meter per probed port: a member that floods replies at the
    probe identity uses up its own port's meter only, and the other
    members' probe replies keep reaching vmacd."""
    # (Slower probes under valgrind, which cannot keep up with 20 ms.  The
    # timeout leaves room for a switch and a host busy with the flood.)
    interval = int(20 * SLOW)
    t = make_topo(probe={"interval_ms": interval,
                         "timeout_ms": int(15 * SLOW)})
    for name in ("m1", "m2", "m3"):
        wait_probe_state(t, name, "up")
    ids = {"m1": 30317, "m2": 30318, "m3": 30319}  # Config order.
    rate = math.ceil(4000 / interval) + 10           # Automatic.
    assert meters(t) == {i: rate for i in ids.values()}, meters(t)
    for name, st in probe_states(t).items():
        assert st["meter_id"] == ids[name] == reply_meter(t, name)
        assert st["meter_rate_pps"] == rate
    cap = t.capture("c1", "ether src %s" % PROBE_MAC)

    # A client floods ARP replies at the probe identity: dropped by the
    # switch before any meter; every member keeps being probed.
    sent = int(t.py("c1", _FLOOD, PROBE_MAC, HOSTS["c1"][1],
                    HOSTS["c1"][2], "2"))
    assert sent > 1000
    for name, st in probe_states(t).items():
        assert st["state"] == "up" and st["flaps"] == 0, (name, st)
    assert t.alias()["master"] == "m1"

    # m3 floods (its port may send replies to vmacd): its own meter drops
    # the excess; m1's and m2's replies keep coming through theirs.
    before = meter_stats(t)
    flood = t.sb.host_popen("m3", "/usr/bin/python3", "-c", _FLOOD,
                            PROBE_MAC, HOSTS["m3"][1], HOSTS["m3"][2], "3",
                            stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    samples = []
    for _ in range(4):
        samples.append(probe_states(t))
        time.sleep(0.5)
    out, _ = flood.communicate(timeout=30)
    assert flood.returncode == 0
    sent = int(out)
    after = meter_stats(t)
    for name in ("m1", "m2"):
        for a, b in zip(samples, samples[1:]):
            assert b[name]["state"] == "up" and b[name]["flaps"] == 0, \
                (name, b[name])
            # Most probes of the last 0.5 s were answered (with one meter
            # for all ports, practically none are).
            probes = b[name]["sent"] - a[name]["sent"]
            replies = b[name]["replies"] - a[name]["replies"]
            assert probes > 0 and replies >= probes * 3 // 4, (
                name, a[name], b[name])
        assert after[ids[name]]["drops"] == before[ids[name]]["drops"]
    drops = after[ids["m3"]]["drops"] - before[ids["m3"]]["drops"]
    assert drops > sent // 4, (sent, before, after)
    assert t.alias()["master"] == "m1"
    assert t.vmacd.api("GET", "/v1/status")[0] == 200

    frames = cap.stop()
    assert not frames, "probe traffic seen on c1: %r" % frames[:3]
    t.vmacd.check_logs()


def test_probe_meters_follow_members_and_restart(make_topo):
    """Members removed and added through the API: a port no longer probed
    loses its meter (after the flows that used it moved away), a new port
    gets one first.  A restart against a switch that has the meters
    modifies them in place."""
    t = make_topo(probe={"interval_ms": int(20 * SLOW)})
    for name in ("m1", "m2", "m3"):
        wait_probe_state(t, name, "up")
    assert sorted(meters(t)) == [30317, 30318, 30319]
    path = "/v1/aliases/%s/members/" % ALIAS

    # Without m2, m3's port is the second probed port: its flow moves to
    # meter 30318 and 30319 is deleted.
    m2 = next(m for m in t.alias()["members"] if m["name"] == "m2")
    status, body = t.vmacd.api("DELETE", path + "m2")
    assert status == 200, body
    wait_until(lambda: sorted(meters(t)) == [30317, 30318], 5 * SLOW, 0.05,
               "meter 30319 deleted")
    assert reply_meter(t, "m3") == 30318
    assert member(t, "m3")["probe_state"]["meter_id"] == 30318
    stats = meter_stats(t)
    assert {i: s["flows"] for i, s in stats.items()} == {30317: 1,
                                                         30318: 1}, stats
    # m3's replies come through its new meter, without a miss.
    st = member(t, "m3")["probe_state"]
    wait_until(lambda: member(t, "m3")["probe_state"]["replies"]
               >= st["replies"] + 10, 5 * SLOW, 0.05, "m3 answered")
    st = member(t, "m3")["probe_state"]
    assert st["state"] == "up" and st["flaps"] == 0, st
    assert st["timeouts"] == 0, st

    # m2 back, now last in the config: its port gets meter 30319.
    body = {k: v for k, v in m2.items()
            if k not in ("name", "state", "master", "bridge_known",
                         "probe_state", "vlan", "vlan_error")}
    status, reply = t.vmacd.api("PUT", path + "m2", body)
    assert status == 201, reply
    wait_until(lambda: sorted(meters(t)) == [30317, 30318, 30319],
               5 * SLOW, 0.05, "meter 30319 added")
    wait_probe_state(t, "m2", "up")
    assert reply_meter(t, "m2") == 30319
    assert member(t, "m2")["probe_state"]["meter_id"] == 30319

    # Restart on the persisted config with another rate: every ADD finds
    # its meter, which is then modified (no error logged).
    t.vmacd.config = json.loads(t.vmacd.config_path.read_text())
    t.vmacd.config["bridges"][0]["probe_source"] = {"rate_pps": 777}
    t.vmacd.restart()
    t.wait_settled("m1", timeout=15)
    wait_until(lambda: meters(t) == {30317: 777, 30318: 777, 30319: 777},
               5 * SLOW, 0.05, "meters modified to 777 pps")
    for name, want in (("m1", 30317), ("m3", 30318), ("m2", 30319)):
        wait_probe_state(t, name, "up")
        st = member(t, name)["probe_state"]
        assert st["meter_id"] == want == reply_meter(t, name), (name, st)
        assert st["meter_rate_pps"] == 777 and st["flaps"] == 0, st
    t.vmacd.check_logs()


def test_probe_meter_range_refused_through_api(make_topo):
    """A member whose port would need a meter id past 0xffff0000 is
    refused with a clear error, and nothing changes."""
    t = make_topo(start=False)
    # Three probed ports fit exactly (..0xffff0000).
    t.config["bridges"][0]["probe_source"] = {"meter_id": 0xffff0000 - 2}
    t.start()
    before = meters(t)
    assert sorted(before) == [0xffff0000 - 2, 0xffff0000 - 1, 0xffff0000]
    status, body = t.vmacd.api(
        "PUT", "/v1/aliases/%s/members/m9" % ALIAS,
        {"bridge": "br0", "port": "m9-p", "ip": "192.0.2.19"})
    assert status == 400, body
    assert body["error"]["message"] == (
        'port "m9-p" would get probe meter 4294901761 on bridge br0 '
        "(probe_source.meter_id 4294901758 + 3), past the largest meter id "
        "4294901760 (0xffff0000): with one meter per probed port (4), the "
        "bridge's probe_source.meter_id must be at most 4294901757"), body
    assert [m["name"] for m in t.alias()["members"]] == ["m1", "m2", "m3"]
    assert meters(t) == before
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


def counts(t, key):
    return {m["name"]: m["probe_state"][key] for m in t.alias()["members"]}


# Answers ARP requests for argv[1] (from MAC argv[2]) on eth0 after
# argv[3] seconds, for argv[4] seconds: a member whose replies take a few
# milliseconds, so that a probe is often in flight.
_SLOW_ARP = r"""
import socket, struct, sys, time
ip, mac = socket.inet_aton(sys.argv[1]), bytes.fromhex(sys.argv[2].replace(":", ""))
delay, end = float(sys.argv[3]), time.monotonic() + float(sys.argv[4])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806))
s.bind(("eth0", 0))
s.settimeout(0.2)
print("ready", flush=True)
while time.monotonic() < end:
    try:
        f = s.recv(2048)
    except socket.timeout:
        continue
    if len(f) < 42 or f[20:22] != b"\x00\x01" or f[38:42] != ip:
        continue
    time.sleep(delay)
    s.send(f[22:28] + mac + b"\x08\x06" + f[14:20] + b"\x00\x02" + mac
           + ip + f[22:28] + f[28:32])
"""


def test_busy_vmacd_does_not_take_its_own_delay_for_silence(make_topo):
    """vmacd is stopped (SIGSTOP) for 40 ms, 100 times, as a long API reply
    or reload would hold its loop, while the master answers its probes
    after 4 ms (12 ms timeout, so a probe is often in flight): replies that
    arrived meanwhile wait unread on the OpenFlow connection when the probe
    timeouts fire.  They must be read before a probe counts as missed.
    Without that, 25-30 of the 100 stops cost the master a false miss (and
    about 12 each backup); a couple are allowed for a slow responder on a
    loaded machine."""
    t = make_topo(probe={"type": "arp", "interval_ms": int(20 * SLOW),
                         "timeout_ms": int(12 * SLOW), "fall": 3,
                         "rise": 3})
    wait_probe_state(t, "m1", "up")
    t.sb.host_exec("m1", "sysctl", "-q", "-w",
                   "net.ipv4.conf.eth0.arp_ignore=8")
    slow = t.sb.host_popen("m1", "/usr/bin/python3", "-u", "-c", _SLOW_ARP,
                           HOSTS["m1"][2], HOSTS["m1"][1], "0.004", "30",
                           stdout=subprocess.PIPE)
    try:
        assert slow.stdout.readline().strip() == b"ready"
        time.sleep(0.3)
        wait_probe_state(t, "m1", "up")
        timeouts0, replies0 = counts(t, "timeouts"), counts(t, "replies")
        pid = t.vmacd.pid
        for i in range(100):
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.04)
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.011 + (i % 7) * 0.003)
        time.sleep(0.2)
        timeouts1, replies1 = counts(t, "timeouts"), counts(t, "replies")
    finally:
        slow.kill()
        slow.wait()
    # At least one answered probe per stop/continue cycle (vmacd sends
    # nothing while stopped; valgrind probes 10 times less often).
    assert all(replies1[n] - replies0[n] > 50 / SLOW
               for n in replies0), (replies0, replies1)
    missed = {n: timeouts1[n] - timeouts0[n] for n in timeouts0}
    assert max(missed.values()) <= 3, missed
    assert t.alias()["master"] == "m1"
    assert counts(t, "state") == {"m1": "up", "m2": "up", "m3": "up"}
    t.vmacd.check_logs()


def nd_reply_meter(t, name):
    """The meter of the ND probe reply flow of member 'name''s port."""
    flows = t.sb.ofctl("dump-flows", "--no-stats", "br0",
                       "icmp6,in_port=%d,dl_dst=%s,icmp_type=136"
                       % (ofport(t, HOSTS[name][0]), PROBE_MAC))
    assert "ipv6_dst=%s" % PROBE_LLA in flows, flows
    found = re.findall(r"actions=meter:(\d+),CONTROLLER", flows)
    assert len(found) == 1, flows
    return int(found[0])


def probe_traffic(frames):
    """The frames among 'frames' that belong to the health probes: from or
    to the probe MAC, NAs for a member's address or the probe's link-local
    address, NSes for them other than a member's own duplicate address
    detection (source ::)."""
    from scapy.layers.inet6 import IPv6, ICMPv6ND_NA, ICMPv6ND_NS
    from scapy.layers.l2 import Ether
    addrs = {ipaddress.ip_address(a)
             for a in [HOSTS[m][3] for m in MEMBERS] + [PROBE_LLA]}
    found = []
    for f in frames:
        if Ether in f and PROBE_MAC in (f[Ether].src.lower(),
                                        f[Ether].dst.lower()):
            found.append(f)
        elif (ICMPv6ND_NA in f
              and ipaddress.ip_address(f[ICMPv6ND_NA].tgt) in addrs):
            found.append(f)
        elif (ICMPv6ND_NS in f
              and ipaddress.ip_address(f[ICMPv6ND_NS].tgt) in addrs
              and not ipaddress.ip_address(f[IPv6].src).is_unspecified):
            found.append(f)
    return found


def ip6_addrs(t, name):
    """'ip -6 addr show dev eth0' in 'name''s namespace."""
    return t.sb.host_exec(name, "ip", "-6", "addr", "show", "dev",
                          "eth0").stdout


def test_nd_probes_ipv6_members(make_topo):
    """Members whose ip is IPv6 are probed with Neighbor Solicitations: they
    come up, their MACs are learned from the NAs (and followed), a master
    that stops answering for its address fails over within fall x interval
    + timeout, and comes back when the address returns, even while its
    duplicate address detection runs (probes in the DAD form would make it
    give the address up).  No probe traffic reaches the client."""
    interval, timeout, fall = int(20 * SLOW), int(10 * SLOW), 3
    t = make_topo(start=False, probe={"interval_ms": interval,
                                      "timeout_ms": timeout, "fall": fall,
                                      "rise": 3})
    for m in t.config["aliases"][0]["members"]:
        m["ip"] = HOSTS[m["name"]][3]
        del m["mac"]                # Learned from the NAs.
    t.start()
    cap = t.capture("c1", "icmp6 or ether host %s" % PROBE_MAC)

    for name in MEMBERS:
        wait_probe_state(t, name, "up")
    ids = {"m1": 30317, "m2": 30318, "m3": 30319}
    for name, st in probe_states(t).items():
        assert st["type"] == "nd" and st["replies"] > 0, (name, st)
        assert st["last_rtt_ms"] is not None, (name, st)
        assert st["mac"] == HOSTS[name][1] and st["mac_learned"], (name, st)
        assert st["meter_id"] == ids[name] == nd_reply_meter(t, name)
    # No ARP reply flow on ports with IPv6 members only.
    flows = t.sb.ofctl("dump-flows", "--no-stats", "br0",
                       "arp,dl_dst=%s,arp_op=2" % PROBE_MAC)
    assert "arp_op=2" not in flows, flows
    t.wait_answer("m1")
    # The member keeps a neighbour entry for the probe's link-local
    # address (refreshed by every probe).
    wait_until(lambda: (t.neigh("m2", PROBE_LLA) or {}).get("lladdr")
               == PROBE_MAC, 2 * SLOW, 0.01, "m2's entry for the probe")

    # m1's interface gets another MAC: learned from the NAs, traffic
    # follows.
    change_mac_and_follow(t, "m1")

    # m1 loses its address: it stops answering the probes (it still
    # serves IPv4, so the client sees no gap: measure from the removal to
    # m2's first answer).
    prober = t.prober(interval=0.001)
    time.sleep(0.3)
    t.sb.host_exec("m1", "ip", "-6", "addr", "del", HOSTS["m1"][3] + "/64",
                   "dev", "eth0")
    removed = time.monotonic()
    t.wait_settled("m2", timeout=5)
    time.sleep(0.3)
    res = prober.stop()
    first = res.first_answer_after("m2", removed - 1)
    assert first is not None, "m2 never answered"
    # The address may go right after a good probe: up to fall intervals
    # plus one timeout (and a flow commit).
    took_ms = (first - removed) * 1000
    budget_ms = fall * interval + timeout + 15 + 10 * (SLOW - 1) * 100
    print("IPv6 master lost its address: failover %.1f ms after" % took_ms)
    assert took_ms <= budget_ms, "%.1f ms > %d ms" % (took_ms, budget_ms)
    st = member(t, "m1")["probe_state"]
    assert st["state"] == "down" and st["timeouts"] >= fall, st

    # The address comes back with duplicate address detection: tentative
    # for a second or two while probed every 20 ms; then m1 answers again
    # and takes over (preempt).
    t.sb.host_exec("m1", "sysctl", "-q", "-w",
                   "net.ipv6.conf.eth0.accept_dad=1")
    t.sb.host_exec("m1", "ip", "-6", "addr", "add", HOSTS["m1"][3] + "/64",
                   "dev", "eth0")
    assert "tentative" in ip6_addrs(t, "m1")
    wait_probe_state(t, "m1", "up", timeout=10)
    addrs = ip6_addrs(t, "m1")
    assert HOSTS["m1"][3] in addrs and "dadfailed" not in addrs, addrs
    assert "tentative" not in addrs, addrs
    t.wait_settled("m1", timeout=5)
    t.wait_answer("m1")

    frames = cap.stop()
    bad = probe_traffic(frames)
    assert not bad, "probe traffic seen on c1: %r" % bad[:3]
    t.vmacd.check_logs()


def test_tcp_probe_of_ipv6_member_falls_back_to_nd(make_topo):
    """TCP probes are IPv4 only: a tcp member whose ip is IPv6 is probed
    with ND, with a warning; the others keep their TCP probes."""
    t = tcp_topo_ip6(make_topo)
    wait_probe_state(t, "m1", "up")
    wait_probe_state(t, "m2", "up")
    assert member(t, "m1")["probe_state"]["type"] == "tcp"
    st = member(t, "m2")["probe_state"]
    assert st["type"] == "nd" and st["replies"] > 0, st
    warning = (r"alias web: member m2: tcp probes need an IPv4 ip; probing "
               r"its IPv6 ip with ND")
    assert len(re.findall(warning, t.vmacd.log_text())) == 1
    t.vmacd.check_logs(allowed=[warning])


def tcp_topo_ip6(make_topo):
    t = make_topo(start=False, probe={"type": "tcp", "port": SERVICE_PORT,
                                      "interval_ms": int(50 * SLOW)})
    t.config["bridges"][0]["probe_source"] = {"ip": PROBE_IP}
    t.config["aliases"][0]["members"][1]["ip"] = HOSTS["m2"][3]
    t.start()
    return t
