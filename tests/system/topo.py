"""The standard alias topology for vmacd's system tests.

    p1 (physical segment) --- up0 [uplink]
    c1 (client)           --- c1-p
    m1 (prio 150)         --- m1-p        all on bridge br0, whose
    m2 (prio 100)         --- m2-p        controller is vmacd
    m3 (prio  50)         --- m3-p

Alias "web": 192.0.2.100 + 2001:db8::100, VMAC 02:00:5e:00:01:01, members
m1..m3.  Every member carries the alias addresses on `lo` with
arp_ignore=1/arp_announce=2 (LVS direct-routing style, so it never answers
ARP for them) and runs a tiny service on port SERVICE_PORT (UDP and TCP,
IPv4 and IPv6, bound to the alias addresses and to its own addresses):

- UDP: every datagram is answered with b"NAME:" + the datagram itself
  (so a sender can number its datagrams and match the replies);
- TCP: every connection gets b"NAME\\n" and is closed.

Usage from a test module (the fixture must be imported into the module for
pytest to find it; it builds on conftest's sandbox and vmacd_factory):

    from topo import make_topo  # noqa: F401  (pytest fixture)
    from topo import ALIAS4, ALIAS6, VMAC, HOSTS

    def test_something(make_topo):
        t = make_topo()                       # started, settled, m1 master
        t = make_topo(preempt=False)          # or with alias parameters
        assert t.ask(ALIAS4, "udp") == "m1"
        t.sb.link("m1-p", False)
        t.wait_answer("m2", ALIAS4, "udp")
        t.vmacd.check_logs()

make_topo(**kw) takes the keyword arguments of Topo.__init__ (preempt,
preempt_delay_ms, announce, probe, alias_extra, members, start, log_level,
fail_mode, ovsdb).
Build it once per test.  Topo attributes: sb (Sandbox), vmacd (Vmacd),
config (dict written for vmacd), services ({member: Popen}).  Everything is
stopped by the sandbox / vmacd_factory fixtures.

Helpers on a Topo (see each docstring):
- alias(), bridge(), ovsdb(), events(): the API; settled(master),
  wait_settled(master, timeout): bridge connected, flowtab synced,
  applied_generation == generation and the API names 'master'.
- ask(addr, proto, host) -> answering member or None; wait_answer(name,
  addr, proto, host, timeout).
- neigh(host, addr) -> {"lladdr", "state"} of the host's kernel entry.
- prober(addr, host, interval) -> Prober (numbered UDP at e.g. 1 kHz);
  .stop() -> ProbeResult (lost(), max_gap(), answered_by(), ...).
- capture(host, bpf) -> Capture (tcpdump on eth0); .stop() -> scapy frames.
- py(host, script, *args): /usr/bin/python3 -c script in the host's ns.
- mac(host), ip(host, family).

Without the fixture: Topo(sandbox, vmacd_factory, **kw) with conftest's
two fixtures.
"""

import http.client
import ipaddress
import json
import select
import subprocess
import time

import pytest

from sandbox import wait_until
from vmacd import SLOW, make_config, of_socket

BRIDGE = "br0"
UPLINK = "up0"
ALIAS = "web"
ALIAS4 = "192.0.2.100"
ALIAS6 = "2001:db8::100"
VMAC = "02:00:5e:00:01:01"
SERVICE_PORT = 7777

# name -> (port, mac, ipv4, ipv6).  p1 sits directly on the uplink port.
HOSTS = {
    "p1": (UPLINK, "02:00:00:00:00:21", "192.0.2.21", "2001:db8::21"),
    "c1": ("c1-p", "02:00:00:00:00:01", "192.0.2.1", "2001:db8::1"),
    "m1": ("m1-p", "02:00:00:00:00:11", "192.0.2.11", "2001:db8::11"),
    "m2": ("m2-p", "02:00:00:00:00:12", "192.0.2.12", "2001:db8::12"),
    "m3": ("m3-p", "02:00:00:00:00:13", "192.0.2.13", "2001:db8::13"),
}
PRIORITIES = {"m1": 150, "m2": 100, "m3": 50}
MEMBERS = tuple(PRIORITIES)

# The member service: one select loop over UDP and TCP sockets on every
# address given on the command line.  Prints "ready" once all are bound.
_SERVICE = r"""
import selectors, socket, sys
name, port, addrs = sys.argv[1].encode(), int(sys.argv[2]), sys.argv[3:]
sel = selectors.DefaultSelector()
for a in addrs:
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    u = socket.socket(fam, socket.SOCK_DGRAM)
    u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    u.bind((a, port))
    sel.register(u, selectors.EVENT_READ, "udp")
    t = socket.socket(fam, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((a, port))
    t.listen(64)
    sel.register(t, selectors.EVENT_READ, "tcp")
print("ready", flush=True)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        try:
            if key.data == "udp":
                data, peer = s.recvfrom(65535)
                s.sendto(name + b":" + data, peer)
            else:
                c, _ = s.accept()
                c.settimeout(1)
                c.sendall(name + b"\n")
                c.close()
        except OSError:
            pass
"""

# One query from a client: prints the first field of the answer or nothing.
_ASK = r"""
import socket, sys
addr, port, proto, timeout = sys.argv[1], int(sys.argv[2]), sys.argv[3], \
    float(sys.argv[4])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
try:
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(timeout)
        s.sendto(b"?", (addr, port))
        data = s.recv(65535).split(b":", 1)[0]
    else:
        s = socket.create_connection((addr, port), timeout)
        s.settimeout(timeout)
        data = b""
        while not data.endswith(b"\n"):
            b = s.recv(100)
            if not b:
                break
            data += b
    print(data.decode().strip())
except OSError:
    pass
"""

# A UDP prober: sends numbered datagrams to ADDR:PORT every INTERVAL
# seconds until its stdin closes (or MAX_S passes), then waits DRAIN seconds
# for late replies and prints {"sent": [[seq, t]], "replies": [[seq, name,
# t]]} as JSON; t is time.monotonic() (one clock for all namespaces).
_PROBER = r"""
import json, select, socket, sys, time
addr, port, interval, max_s, drain = sys.argv[1], int(sys.argv[2]), \
    float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.connect((addr, port))
s.setblocking(False)
sent, replies = [], []
def receive():
    while True:
        try:
            data = s.recv(1000)
        except BlockingIOError:
            return
        except OSError:
            continue
        name, _, seq = data.partition(b":")
        try:
            replies.append([int(seq), name.decode(), time.monotonic()])
        except ValueError:
            pass
print("ready", flush=True)
start = time.monotonic()
nxt = start
seq = 0
stdin_open = True
while stdin_open and time.monotonic() - start < max_s:
    now = time.monotonic()
    if now >= nxt:
        try:
            s.send(b"%d" % seq)
        except OSError:
            pass
        sent.append([seq, now])
        seq += 1
        nxt = max(nxt + interval, now - interval)
    r, _, _ = select.select([s, sys.stdin], [], [],
                            max(0.0, nxt - time.monotonic()))
    if s in r:
        receive()
    if sys.stdin in r and not sys.stdin.buffer.read1(100):
        stdin_open = False
end = time.monotonic() + drain
while time.monotonic() < end:
    if select.select([s], [], [], end - time.monotonic())[0]:
        receive()
json.dump({"sent": sent, "replies": replies}, sys.stdout)
"""


def carry_alias_on_lo(run_in, host, alias4=ALIAS4, alias6=ALIAS6):
    """Makes member 'host' carry the alias addresses on lo (LVS style) and
    answer ARP only for its own eth0 address, from it; 'run_in(host,
    *cmd)' runs a command in the host's namespace."""
    for key in ("all", "eth0"):
        run_in(host, "sysctl", "-q", "-w",
               "net.ipv4.conf.%s.arp_ignore=1" % key)
        run_in(host, "sysctl", "-q", "-w",
               "net.ipv4.conf.%s.arp_announce=2" % key)
    run_in(host, "ip", "addr", "add", alias4 + "/32", "dev", "lo")
    run_in(host, "ip", "-6", "addr", "add", alias6 + "/128", "dev", "lo",
           "nodad")


class Topo:
    """The standard topology with vmacd running (see the module doc)."""

    def __init__(self, sandbox, vmacd_factory, preempt=None,
                 preempt_delay_ms=None, announce=None, probe=None,
                 alias_extra=None, members=MEMBERS, start=True,
                 log_level="info", fail_mode=None, ovsdb=None,
                 iface_ids=None):
        """Builds bridge, hosts, services and the config; with 'start' also
        starts vmacd and waits until the alias is settled with the
        highest-priority member of 'members' as master.  None parameters
        are left out of the config (vmacd's defaults apply); 'alias_extra'
        is merged into the alias object last.  'fail_mode' is br0's in
        OVSDB ("none": unset, as after a plain "ovs-vsctl add-br"; default
        secure); 'ovsdb' (a dict, may be empty) gives vmacd an "ovsdb"
        section whose remote is the sandbox's database unless it says;
        'iface_ids' ({host: iface-id}) gives those hosts' interfaces that
        external_ids:iface-id and makes their members "iface_id" ones
        (needs 'ovsdb')."""
        iface_ids = iface_ids or {}
        self.sb = sandbox
        self.services = {}
        sandbox.add_bridge(BRIDGE, "unix:%s" % of_socket(sandbox),
                           fail_mode=fail_mode)
        for host, (port, mac, ip4, ip6) in HOSTS.items():
            sandbox.add_host(host, BRIDGE, port, mac, ip4 + "/24",
                             ip6 + "/64", iface_id=iface_ids.get(host))
        for m in members:
            self._setup_member(m)

        alias = {
            "name": ALIAS,
            "addresses": [ALIAS4, ALIAS6],
            "vmac": VMAC,
            "members": [{"name": m, "bridge": BRIDGE, "port": HOSTS[m][0],
                         "mac": HOSTS[m][1], "ip": HOSTS[m][2],
                         "priority": PRIORITIES[m]} for m in members],
        }
        for mb in alias["members"]:
            if mb["name"] in iface_ids:
                del mb["port"]
                mb["iface_id"] = iface_ids[mb["name"]]
        for key, value in (("preempt", preempt),
                           ("preempt_delay_ms", preempt_delay_ms),
                           ("announce", announce), ("probe", probe)):
            if value is not None:
                alias[key] = value
        alias.update(alias_extra or {})
        extra = {}
        if ovsdb is not None:
            extra["ovsdb"] = dict({"remote": sandbox.ovsdb_remote}, **ovsdb)
        self.config = make_config(
            sandbox, [{"name": BRIDGE, "uplinks": [UPLINK]}], [alias],
            **extra)
        self.vmacd = vmacd_factory(self.config, log_level=log_level)
        self.expected_master = max(members, key=lambda m: (PRIORITIES[m],
                                                           m)) \
            if members else None
        for m in members:
            _wait_ready(self.services[m], "service on %s" % m, 10 * SLOW)
        if start:
            self.start()

    # vmacd.

    def start(self):
        """Starts vmacd and waits until the alias is settled."""
        self.vmacd.start()
        self.wait_settled(self.expected_master, timeout=15)

    def alias(self):
        """GET /v1/aliases/web (asserts 200)."""
        status, body = self.vmacd.api("GET", "/v1/aliases/%s" % ALIAS)
        assert status == 200, "GET alias: %s %s" % (status, body)
        return body

    def bridge(self):
        """GET /v1/bridges/br0 (asserts 200)."""
        status, body = self.vmacd.api("GET", "/v1/bridges/%s" % BRIDGE)
        assert status == 200, "GET bridge: %s %s" % (status, body)
        return body

    def ovsdb(self):
        """GET /v1/ovsdb (asserts 200)."""
        status, body = self.vmacd.api("GET", "/v1/ovsdb")
        assert status == 200, "GET ovsdb: %s %s" % (status, body)
        return body

    def settled(self, master):
        """True if br0 is connected and in sync with the newest generation
        and the API names 'master' (a member name or None)."""
        try:
            br = self.bridge()
            al = self.alias()
        except (OSError, http.client.HTTPException):
            return False
        ft = br.get("flowtab") or {}
        return (br.get("connected") and ft.get("synced")
                and br.get("applied_generation") == br.get("generation")
                and al.get("master") == master)

    def wait_settled(self, master, timeout=5):
        wait_until(lambda: self.settled(master), timeout * SLOW, 0.05,
                   "alias %s settled with master %s" % (ALIAS, master))

    def events(self):
        """GET /v1/events?follow=false (JSON lines), as a list of dicts."""
        return self.vmacd.events()

    # Hosts.

    def mac(self, host):
        return HOSTS[host][1]

    def ip(self, host, family=4):
        return HOSTS[host][2 if family == 4 else 3]

    def ask(self, addr=ALIAS4, proto="udp", host="c1", timeout=1.0):
        """One UDP datagram or TCP connection from 'host' to the service
        port of 'addr'; returns the answering member's name or None."""
        out = self.sb.host_exec(host, "/usr/bin/python3", "-c", _ASK, addr,
                                SERVICE_PORT, proto, timeout,
                                timeout=timeout + 20, check=False).stdout
        return out.strip() or None

    def wait_answer(self, name, addr=ALIAS4, proto="udp", host="c1",
                    timeout=5):
        """Polls ask() until 'name' answers."""
        wait_until(lambda: self.ask(addr, proto, host, 0.5) == name,
                   timeout * SLOW, 0.05,
                   "%s answering %s/%s from %s" % (name, addr, proto, host))

    def neigh(self, host, addr):
        """The kernel neighbour entry of 'host''s eth0 for 'addr': a dict
        with "lladdr" (lower case or None) and "state" (list), or None."""
        fam = "-6" if ":" in addr else "-4"
        out = self.sb.host_exec(host, "ip", "-j", fam, "neigh", "show",
                                "dev", "eth0", "to", addr).stdout
        for e in json.loads(out or "[]"):
            if ipaddress.ip_address(e["dst"]) == ipaddress.ip_address(addr):
                return {"lladdr": (e.get("lladdr") or "").lower() or None,
                        "state": e.get("state", [])}
        return None

    def prober(self, addr=ALIAS4, host="c1", interval=0.001, max_s=60):
        """Starts a UDP prober on 'host' (see Prober)."""
        return Prober(self.sb, host, addr, interval, max_s)

    def capture(self, host, bpf=""):
        """Starts tcpdump on 'host''s eth0 (see Capture)."""
        return Capture(self.sb, host, bpf)

    def py(self, host, script, *args, timeout=20):
        """Runs a Python script (e.g. scapy) with /usr/bin/python3 inside
        'host''s namespace; returns its stdout (asserts exit 0)."""
        return self.sb.host_exec(host, "/usr/bin/python3", "-c", script,
                                 *args, timeout=timeout).stdout

    # Internals.

    def _setup_member(self, m):
        sb = self.sb
        carry_alias_on_lo(sb.host_exec, m)
        self.services[m] = sb.host_popen(
            m, "/usr/bin/python3", "-u", "-c", _SERVICE, m, SERVICE_PORT,
            ALIAS4, ALIAS6, HOSTS[m][2], HOSTS[m][3],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


class Prober:
    """A UDP sender at a fixed rate towards the service port of 'addr',
    running in 'host''s namespace; every datagram carries its sequence
    number and the answering member echoes it.  stop() returns a
    ProbeResult."""

    def __init__(self, sb, host, addr, interval=0.001, max_s=60,
                 drain=0.3):
        self.proc = sb.host_popen(
            host, "/usr/bin/python3", "-u", "-c", _PROBER, addr,
            SERVICE_PORT, interval, max_s, drain, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.interval = interval
        self.max_s = max_s
        _wait_ready(self.proc, "prober on %s" % host, 10 * SLOW)

    def stop(self):
        out, err = self.proc.communicate(timeout=self.max_s + 30)
        assert self.proc.returncode == 0, "prober failed: %s" % err
        return ProbeResult(json.loads(out), self.interval)


class ProbeResult:
    """What a Prober saw.  sent: [(seq, t)], replies: {seq: (name, t)}
    (first reply of each seq), t on time.monotonic()."""

    def __init__(self, data, interval):
        self.interval = interval
        self.sent = [tuple(x) for x in data["sent"]]
        self.replies = {}
        for seq, name, t in data["replies"]:
            self.replies.setdefault(seq, (name, t))

    def lost(self):
        """Sequence numbers sent and never answered."""
        return [seq for seq, _ in self.sent if seq not in self.replies]

    def answered_by(self, name):
        return [seq for seq, _ in self.sent
                if self.replies.get(seq, (None,))[0] == name]

    def max_gap(self):
        """The longest time between the send times of two consecutive
        answered datagrams (seconds), i.e. the outage seen by the client."""
        times = [t for seq, t in self.sent if seq in self.replies]
        return max((b - a for a, b in zip(times, times[1:])), default=0.0)

    def first_answer_after(self, name, t0):
        """Send time of the first datagram sent at or after 't0' that
        'name' answered, or None."""
        for seq, t in self.sent:
            if t >= t0 and self.replies.get(seq, (None,))[0] == name:
                return t
        return None


class Capture:
    """tcpdump on 'host''s eth0 (host None: on switch port 'iface' in the
    switch namespace, i.e. what the bridge sends and receives there)
    writing a pcap file in the sandbox directory; the constructor returns
    once tcpdump listens, stop() returns the frames as scapy packets."""

    _n = 0

    def __init__(self, sb, host, bpf="", iface="eth0"):
        Capture._n += 1
        self.path = sb.dir / ("cap-%s-%d.pcap" % (host or iface, Capture._n))
        cmd = ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-n", "-Z",
               "root", "-w", str(self.path)]
        if bpf:
            cmd.append(bpf)
        kwargs = dict(stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                      text=True)
        self.proc = (sb.host_popen(host, *cmd, **kwargs) if host
                     else sb.sw_popen(*cmd, **kwargs))
        deadline = time.monotonic() + 10 * SLOW
        line = ""
        while "listening on" not in line:
            left = deadline - time.monotonic()
            if self.proc.poll() is not None or left <= 0:
                raise AssertionError("tcpdump on %s did not start: %s"
                                     % (host, line))
            if select.select([self.proc.stderr], [], [], left)[0]:
                line = self.proc.stderr.readline()

    def frames(self):
        """The frames written so far (tcpdump writes each at once)."""
        import scapy.layers.inet6  # noqa: F401  (dissectors)
        import scapy.layers.l2  # noqa: F401
        from scapy.utils import rdpcap
        try:
            return list(rdpcap(str(self.path)))
        except Exception:           # Empty or half-written file.
            return []

    def stop(self, until=None, timeout=3):
        """Stops tcpdump (SIGINT) and returns the captured frames.  With
        'until' (a predicate on the frame list), first waits up to
        'timeout' seconds for it to hold, since tcpdump may write a frame
        a little after the receiver got it."""
        if until is not None:
            deadline = time.monotonic() + timeout * SLOW
            while not until(self.frames()) and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        self.proc.wait(timeout=10)
        return self.frames()


def _wait_ready(proc, name, timeout):
    """Waits for the "ready" line of 'proc' (its sockets are bound)."""
    deadline = time.monotonic() + timeout
    line = ""
    while not line.startswith("ready"):
        left = deadline - time.monotonic()
        if proc.poll() is not None or left <= 0:
            raise AssertionError("%s not ready (exit %s)"
                                 % (name, proc.poll()))
        if select.select([proc.stdout], [], [], left)[0]:
            line = proc.stdout.readline()
            if not line:
                proc.wait(timeout=5)


@pytest.fixture
def make_topo(sandbox, vmacd_factory):
    """make_topo(**kw) -> a started Topo (see Topo.__init__)."""
    built = []

    def build(**kwargs):
        assert not built, "make_topo: one topology per test"
        t = Topo(sandbox, vmacd_factory, **kwargs)
        built.append(t)
        return t

    return build
