"""A two-host alias topology for vmacd's system tests (issue "Aliases across
several bridges and hosts").

                      p1 (physical client)
                       |
                     p1-p
            +------ phys ------+      standalone bridge: fail_mode
            |  pa          pb  |      standalone, MAC learning, no
            |                  |      controller (the physical switch)
           ua                  ub     uplinks
    ca --- ha --- m1     cb --- hb --- m2, m3

ha and hb are bridges whose controller is vmacd (one vmacd for both);
ha: member m1 (prio 150) and client ca; hb: members m2 (prio 100) and m3
(prio 50) and client cb.  Alias "web" (192.0.2.100 + 2001:db8::100, VMAC
02:00:5e:00:01:01, announce count 3 every 100 ms): m1 is the master while
everything is up.  Members are set up exactly as in topo.py (alias on lo,
arp_ignore/arp_announce, the UDP/TCP name service).

Usage from a test module:

    from topo_multi import make_multi  # noqa: F401  (pytest fixture)

    def test_something(make_multi):
        t = make_multi()                 # started, settled, m1 master
        assert t.ask(ALIAS4, "udp", host="cb") == "m1"
        assert t.vmac_port() == "pa"     # phys learnt the VMAC towards ha

MultiTopo reuses topo.Topo's host helpers (ask, wait_answer, neigh, prober,
capture, py, events, alias); it adds bridge(name), settled(master,
bridges), fdb(), vmac_port(), port_packets(), flows(bridge), and
stop_prober() (which keeps duplicate replies).

make_multi(access=True) adds a third host bridge, an *access bridge* of the
alias (docs/config.md, "access_bridges"):

            phys --- pc
                      |
                      uc          uplink
               cc --- hc          only a client: no member of "web"

hc is in the config's "bridges" with its uplink uc and in the alias's
"access_bridges"; cc is its client (HOSTS_ACCESS).  Without 'access' the
topology is exactly the two-host one above.
"""

import collections
import http.client
import json
import re

import pytest

import topo
from sandbox import wait_until
from topo import ALIAS, ALIAS4, ALIAS6, VMAC, ProbeResult
from vmacd import SLOW, make_config, of_socket

PHYS = "phys"
# Controlled bridge -> (its uplink, the peer port of that uplink on phys).
HOST_BRIDGES = {"ha": ("ua", "pa"), "hb": ("ub", "pb")}

# name -> (bridge, port, mac, ipv4, ipv6).  Members and p1 keep topo.py's
# ports and addresses (Topo's member set-up reads them from topo.HOSTS).
HOSTS = {
    "p1": (PHYS, "p1-p") + topo.HOSTS["p1"][1:],
    "ca": ("ha", "ca-p", "02:00:00:00:00:0a", "192.0.2.10", "2001:db8::a"),
    "cb": ("hb", "cb-p", "02:00:00:00:00:0b", "192.0.2.20", "2001:db8::b"),
    "m1": ("ha",) + topo.HOSTS["m1"],
    "m2": ("hb",) + topo.HOSTS["m2"],
    "m3": ("hb",) + topo.HOSTS["m3"],
}
# The access bridge and its client (make_multi(access=True) only).
ACCESS_BRIDGES = {"hc": ("uc", "pc")}
HOSTS_ACCESS = {
    "cc": ("hc", "cc-p", "02:00:00:00:00:0c", "192.0.2.30", "2001:db8::c"),
}
PRIORITIES = {"m1": 150, "m2": 100, "m3": 50}
MEMBERS = tuple(PRIORITIES)
CLIENTS = ("ca", "cb", "p1")
ANNOUNCE = {"count": 3, "interval_ms": 100}

_FLOW_COUNTERS = re.compile(
    r"\s*\b(duration|n_packets|n_bytes|idle_age|hard_age)=[^,\s]*,?")


class MultiTopo(topo.Topo):
    """The two-host topology with vmacd running (see the module doc).

    Topo.__init__ is not called: this class builds its own bridges and
    hosts and only inherits Topo's host and API helpers."""

    def __init__(self, sandbox, vmacd_factory, announce=None, start=True,
                 log_level="info", access=False):
        """With 'access', also builds the access bridge hc and its client
        cc (see the module doc)."""
        self.sb = sandbox
        self.services = {}
        self.host_bridges = dict(HOST_BRIDGES)
        self.hosts = dict(HOSTS)
        if access:
            self.host_bridges.update(ACCESS_BRIDGES)
            self.hosts.update(HOSTS_ACCESS)
        target = "unix:%s" % of_socket(sandbox)
        sandbox.add_bridge(PHYS, None)
        for br, (uplink, peer) in self.host_bridges.items():
            sandbox.add_bridge(br, target, ["%s:%s:%s" % (uplink, PHYS,
                                                          peer)])
        for host, (br, port, mac, ip4, ip6) in self.hosts.items():
            sandbox.add_host(host, br, port, mac, ip4 + "/24", ip6 + "/64")
        for m in MEMBERS:
            self._setup_member(m)

        alias = {
            "name": ALIAS,
            "addresses": [ALIAS4, ALIAS6],
            "vmac": VMAC,
            "announce": dict(announce or ANNOUNCE),
            "members": [{"name": m, "bridge": HOSTS[m][0],
                         "port": HOSTS[m][1], "mac": HOSTS[m][2],
                         "ip": HOSTS[m][3], "priority": PRIORITIES[m]}
                        for m in MEMBERS],
        }
        if access:
            alias["access_bridges"] = list(ACCESS_BRIDGES)
        self.config = make_config(
            sandbox, [{"name": br, "uplinks": [uplink]}
                      for br, (uplink, _) in self.host_bridges.items()],
            [alias])
        self.vmacd = vmacd_factory(self.config, log_level=log_level)
        self.expected_master = "m1"
        for m in MEMBERS:
            topo._wait_ready(self.services[m], "service on %s" % m,
                             10 * SLOW)
        if start:
            self.start()

    # vmacd.

    def bridge(self, name="ha"):
        """GET /v1/bridges/NAME (asserts 200)."""
        status, body = self.vmacd.api("GET", "/v1/bridges/%s" % name)
        assert status == 200, "GET bridge %s: %s %s" % (name, status, body)
        return body

    def settled(self, master, bridges=None):
        """True if every bridge of 'bridges' (default: every controlled
        bridge of the topology) is connected and in sync with its newest
        generation and the API names 'master'."""
        if bridges is None:
            bridges = tuple(self.host_bridges)
        try:
            for name in bridges:
                br = self.bridge(name)
                ft = br.get("flowtab") or {}
                if not (br.get("connected") and ft.get("synced")
                        and br.get("applied_generation")
                        == br.get("generation")):
                    return False
            return self.alias().get("master") == master
        except (OSError, http.client.HTTPException):
            return False

    def wait_settled(self, master, timeout=5, bridges=None):
        if bridges is None:
            bridges = tuple(self.host_bridges)
        wait_until(lambda: self.settled(master, bridges), timeout * SLOW,
                   0.05, "alias %s settled with master %s on %s"
                   % (ALIAS, master, ", ".join(bridges)))

    # Hosts.

    def mac(self, host):
        return self.hosts[host][2]

    def ip(self, host, family=4):
        return self.hosts[host][3 if family == 4 else 4]

    def stop_prober(self, prober):
        """Stops 'prober' (a topo.Prober); returns (ProbeResult, the
        sequence numbers answered more than once)."""
        out, err = prober.proc.communicate(timeout=prober.max_s + 30)
        assert prober.proc.returncode == 0, "prober failed: %s" % err
        data = json.loads(out)
        counts = collections.Counter(seq for seq, _, _ in data["replies"])
        return (ProbeResult(data, prober.interval),
                sorted(seq for seq, n in counts.items() if n > 1))

    # Switches.

    def port_names(self, bridge=PHYS):
        """{OpenFlow port number: port name} of 'bridge'."""
        return {p["number"]: name
                for name, p in self.sb.port_desc(bridge).items()}

    def fdb(self, bridge=PHYS):
        """The MAC learning table of (standalone) 'bridge': {mac: port
        name}."""
        names = self.port_names(bridge)
        table = {}
        for line in self.sb.appctl("fdb/show", bridge).splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0].isdigit():
                table[fields[2].lower()] = names.get(int(fields[0]),
                                                     fields[0])
        return table

    def vmac_port(self):
        """The phys port where the physical switch learnt the VMAC, or
        None."""
        return self.fdb().get(VMAC)

    def wait_vmac_port(self, port, timeout=3):
        wait_until(lambda: self.vmac_port() == port, timeout * SLOW, 0.02,
                   "phys learning %s on %s" % (VMAC, port))

    def port_packets(self, bridge=PHYS):
        """Sum of the rx and tx packet counters of every port of 'bridge'
        (ovs-ofctl dump-ports)."""
        out = self.sb.ofctl("dump-ports", bridge)
        return sum(int(n) for n in re.findall(r"\b[rt]x pkts=(\d+)", out))

    def flows(self, bridge, cookie="0x766d616300000000/0xffffffff00000000"):
        """{flow text without counters: n_packets} of vmacd's flows on
        'bridge' (ports as numbers)."""
        flows = {}
        for line in self.sb.ofctl("--no-names", "dump-flows", bridge,
                                  "cookie=%s" % cookie).splitlines():
            line = line.strip()
            if not line.startswith("cookie="):
                continue
            packets = int(re.search(r"n_packets=(\d+)", line).group(1))
            key = re.sub(r"\s+", " ", _FLOW_COUNTERS.sub(" ", line)).strip()
            assert key not in flows, "flow listed twice: %s" % key
            flows[key] = packets
        return flows

    def port_number(self, bridge, port):
        return self.sb.port_desc(bridge)[port]["number"]


@pytest.fixture
def make_multi(sandbox, vmacd_factory):
    """make_multi(**kw) -> a started MultiTopo (see MultiTopo.__init__)."""
    built = []

    def build(**kwargs):
        assert not built, "make_multi: one topology per test"
        t = MultiTopo(sandbox, vmacd_factory, **kwargs)
        built.append(t)
        return t

    return build
