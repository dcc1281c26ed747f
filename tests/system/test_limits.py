"""Bounds on what OpenFlow peers can take (issue 16), with fake switches
(fakeswitch.py) on vmacd's listener and the daemon's own numbers from
/proc:

- output queued to peers that do not read stays below the total bound
  (RSS), the peers that caused it are dropped and counted;
- a peer that passes its own bound is dropped;
- at most max_peers peers: the excess is refused at once;
- under a 256-descriptor limit, 300 switches cannot starve the API;
- 20,000 PORT_STATUS adds cost well under a second of CPU (ports are
  hashed by number and name).
"""

import json
import os
import signal
import socket
import statistics
import struct
import time

from fakeswitch import ECHO_REQUEST, OFP15, PPR_ADD, FakeSwitch, message
from sandbox import wait_until
from vmacd import SLOW, VALGRIND, of_socket

DEADLINE = 15 * SLOW
MIB = 1 << 20

NEEDS_SANDBOX = False   # vmacd and fake switches only: no OVS.


def proc_status(pid, field):
    """A 'kB' field of /proc/PID/status, in bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def cpu_seconds(pid):
    """User + system CPU time of PID."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_cpu_idle(pid, quiet=0.5, timeout=60):
    """Waits until PID's CPU time stops growing for 'quiet' seconds;
    returns it."""
    deadline = time.monotonic() + timeout
    last, since = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        now = cpu_seconds(pid)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return now
    raise AssertionError("vmacd still busy after %d s" % timeout)


def openflow_limits(vmacd):
    return vmacd.api("GET", "/v1/status")[1]["limits"]["openflow"]


def echo_flood(sw, nbytes):
    """Sends 'nbytes' of 60 kB echo requests without reading the replies.
    Returns False once vmacd has closed the connection."""
    req = message(OFP15, ECHO_REQUEST, b"e" * 60000, 7)
    for _ in range(max(1, nbytes // len(req))):
        if not sw.send(req):
            return False
    return True


def test_output_to_non_reading_peers_is_bounded(sandbox, vmacd_factory,
                                                vmacd_config):
    total, per_peer = 16 * MIB, 8 * MIB
    cfg = vmacd_config()
    cfg["openflow"].update(max_queue_bytes=total,
                           max_peer_queue_bytes=per_peer)
    v = vmacd_factory(cfg)
    v.start()
    rss_before = proc_status(v.pid, "VmRSS")

    peers = [FakeSwitch(of_socket(sandbox), dpid=0x100 + i, name="np%d" % i)
             for i in range(8)]
    for sw in peers:
        sw.hello()
    wait_until(lambda: openflow_limits(v)["peers"] == 8, DEADLINE)
    # Rounds, so that all eight have output queued at once: without the
    # total bound they would hold 8 x 8 MiB.
    alive = set(range(8))
    for _ in range(12):
        for i in sorted(alive):
            if not echo_flood(peers[i], MIB):
                alive.discard(i)
    wait_cpu_idle(v.pid)

    peak = proc_status(v.pid, "VmHWM") - rss_before
    lim = openflow_limits(v)
    print("RSS peak growth %.1f MiB, %d of 8 peers dropped, %s"
          % (peak / MIB, 8 - len(alive), lim))
    assert lim["queued_bytes"] <= total, lim
    assert lim["dropped_total_queue"] >= 1, lim
    assert len(alive) < 8, "no peer was dropped"
    # The queues' bound, and room for buffers and the allocator (valgrind
    # keeps a shadow of every byte).
    assert peak < (total + 16 * MIB) * (3 if VALGRIND else 1), \
        "RSS grew by %.1f MiB" % (peak / MIB)
    assert v.api("GET", "/v1/status")[0] == 200
    for sw in peers:
        sw.close()
    v.check_logs(allowed=[r"OpenFlow output to all peers would pass",
                          r"send queue over"])


def test_peer_past_its_own_bound_is_dropped(sandbox, vmacd_factory,
                                            vmacd_config):
    cfg = vmacd_config()
    cfg["openflow"].update(max_peer_queue_bytes=MIB)
    v = vmacd_factory(cfg)
    v.start()
    with FakeSwitch(of_socket(sandbox)) as sw:
        sw.hello()
        echo_flood(sw, 4 * MIB)
        assert sw.wait_closed(DEADLINE), "vmacd kept the peer"
    wait_until(lambda: openflow_limits(v)["dropped_peer_queue"] == 1,
               DEADLINE)
    assert openflow_limits(v)["queued_bytes"] == 0
    v.check_logs(allowed=[r"send queue over 1048576 bytes"])


def test_peers_beyond_max_peers_are_refused(sandbox, vmacd_factory,
                                            vmacd_config):
    cfg = vmacd_config()
    cfg["openflow"]["max_peers"] = 3
    v = vmacd_factory(cfg)
    v.start()
    peers = []
    for i in range(3):
        sw = FakeSwitch(of_socket(sandbox), dpid=0x200 + i, name="mp%d" % i)
        sw.hello()
        peers.append(sw)
    wait_until(lambda: openflow_limits(v)["peers"] == 3, DEADLINE)
    extra = [FakeSwitch(of_socket(sandbox), dpid=0x300 + i, name="mx%d" % i)
             for i in range(2)]
    for sw in extra:
        assert sw.wait_closed(DEADLINE), "an extra peer was taken"
    lim = openflow_limits(v)
    assert lim["peers"] == 3 and lim["peers_refused"] == 2, lim
    # The three first still talk OpenFlow.
    for sw in peers:
        sw.send(message(OFP15, ECHO_REQUEST, b"x", 9))
        assert sw.expect(3)[2] == 9
    for sw in peers + extra:
        sw.close()
    v.check_logs(allowed=[r"refusing OpenFlow connection: 3 peers",
                          r"bridge mp\d disconnected"])


def test_reload_changes_the_peer_bound(sandbox, vmacd_factory,
                                       vmacd_config):
    cfg = vmacd_config()
    cfg["openflow"]["max_peers"] = 5
    v = vmacd_factory(cfg)
    v.start()
    a = FakeSwitch(of_socket(sandbox), dpid=0x400, name="rl0")
    a.hello()
    wait_until(lambda: openflow_limits(v)["peers"] == 1, DEADLINE)
    v.config["openflow"]["max_peers"] = 1
    v.config_path.write_text(json.dumps(v.config))
    v.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: openflow_limits(v)["max_peers"] == 1, DEADLINE)
    with FakeSwitch(of_socket(sandbox), dpid=0x401, name="rl1") as b:
        assert b.wait_closed(DEADLINE)
    assert openflow_limits(v)["peers_refused"] == 1
    a.close()
    v.check_logs(allowed=[r"refusing OpenFlow connection: 1 peers"])


def _api_latencies(vmacd, n):
    out = []
    for _ in range(n):
        t = time.monotonic()
        status, _ = vmacd.api("GET", "/v1/status", timeout=5)
        out.append(time.monotonic() - t)
        assert status == 200
    return out


def test_api_answers_with_300_switches_under_256_descriptors(
        sandbox, vmacd_factory, vmacd_config):
    v = vmacd_factory(vmacd_config(), wrapper=["prlimit", "--nofile=256:256"])
    v.start()
    socks = []
    for i in range(300):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Blocking: waits while the listen backlog is full.
            s.connect(str(of_socket(sandbox)))
            s.settimeout(5)
            # HELLO, OpenFlow 1.5.
            s.sendall(struct.pack("!BBHIHHI", OFP15, 0, 16, i, 1, 8,
                                  1 << OFP15))
        except OSError:
            pass
        socks.append(s)
    wait_until(lambda: openflow_limits(v)["peers_refused"] > 0, DEADLINE)

    lat = _api_latencies(v, 20)
    lim = v.api("GET", "/v1/status")[1]["limits"]
    print("API with 300 switches: median %.1f ms, max %.1f ms; %s"
          % (statistics.median(lat) * 1e3, max(lat) * 1e3, lim["openflow"]))
    assert lim["descriptors"]["limit"] == 256, lim
    assert lim["openflow"]["peers"] <= lim["descriptors"]["peers"] < 256
    assert lim["openflow"]["peers"] + lim["openflow"]["peers_refused"] \
        >= 300 - 10, lim
    assert statistics.median(lat) < 0.1 * SLOW, lat
    assert max(lat) < 1.0 * SLOW, lat
    for s in socks:
        s.close()
    v.check_logs(allowed=[r"the descriptor limit \(256\) allows",
                          r"refusing OpenFlow connection",
                          r"no HELLO", r"features request timed out",
                          r"timed out"])


def test_20000_port_status_adds_take_under_a_second(sandbox, vmacd_factory,
                                                    vmacd_config):
    v = vmacd_factory(vmacd_config())
    v.start()
    n = 20000
    with FakeSwitch(of_socket(sandbox), name="ps0") as sw:
        sw.handshake()
        v.wait_bridge("ps0", DEADLINE)
        sw.serve(0.5)
        before = wait_cpu_idle(v.pid)
        data = b"".join(sw.port_status(PPR_ADD, i, "p%d" % i,
                                       "02:00:00:%02x:%02x:%02x"
                                       % (i >> 16, (i >> 8) & 255, i & 255))
                        for i in range(1, n + 1))
        assert sw.send(data)
        sw.serve(0.5)
        after = wait_cpu_idle(v.pid, timeout=60 * SLOW)
        ports = v.api("GET", "/v1/bridges/ps0")[1]["ports"]
        assert len(ports) == n + 1
    cpu = after - before
    print("%d PORT_STATUS adds: %.2f s of CPU" % (n, cpu))
    # Valgrind runs everything some 20-50 times slower.
    assert cpu < (30 if VALGRIND else 1.0), \
        "%d PORT_STATUS took %.2f s of CPU" % (n, cpu)
    v.check_logs(allowed=[r"bridge ps0 disconnected"])
