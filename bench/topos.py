"""Topologies of "make bench" (see bench/README.md).

Both failover topologies have the same hosts on one bridge of a private
ovs-vswitchd sandbox (tests/system/sandbox.py):

    c1 192.0.2.1   -c1-p-+
    m1 192.0.2.11  -m1-p-+- bridge
    m2 192.0.2.12  -m2-p-+
    m3 192.0.2.13  -m3-p-+

- VmacdTopo: bridge br0 run by vmacd; alias web (192.0.2.100,
  2001:db8::100, VMAC 02:00:5e:00:01:01) carried by every member on lo
  (arp_ignore=1, arp_announce=2); members m1 > m2 > m3.
- KeepalivedTopo: bridge kbr, standalone (NORMAL), no controller; every
  member runs keepalived (VRRPv3, virtual_router_id 51, VIP
  192.0.2.100/24 on eth0 or on a use_vmac macvlan), priorities m1 > m2 >
  m3.

Every member runs "prober serve NAME 7777" (bench/prober.c).  Every
subprocess call is bounded in time; every wait polls with a deadline.
"""

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "system"))

from sandbox import Sandbox, run, wait_until  # noqa: E402
from topo import carry_alias_on_lo  # noqa: E402
from vmacd import Vmacd, make_config, of_socket  # noqa: E402


def events(vm):
    """vmacd's event history; [] if it does not answer (killed, say)."""
    try:
        return vm.events(timeout=10)
    except (OSError, http.client.HTTPException, AssertionError):
        return []

BIN = Path(os.environ.get("BENCH_BIN", REPO / "build" / "bench"))
PROBER = BIN / "prober"
SERVICE_PORT = 7777
ALIAS = "web"
ALIAS4 = "192.0.2.100"
ALIAS6 = "2001:db8::100"
VMAC = "02:00:5e:00:01:01"
VRRP_VMAC = "00:00:5e:00:01:33"     # VRRP virtual router 51 (0x33).
HOSTS = {
    "c1": ("c1-p", "02:00:00:00:00:01", "192.0.2.1", "2001:db8::1"),
    "m1": ("m1-p", "02:00:00:00:00:11", "192.0.2.11", "2001:db8::11"),
    "m2": ("m2-p", "02:00:00:00:00:12", "192.0.2.12", "2001:db8::12"),
    "m3": ("m3-p", "02:00:00:00:00:13", "192.0.2.13", "2001:db8::13"),
}
PRIORITIES = {"m1": 150, "m2": 100, "m3": 50}
MEMBERS = tuple(PRIORITIES)
HANG_COOKIE = "0x6e67"              # The drop flow of a "hung" member.


def mono_ns():
    return time.monotonic_ns()


def _stop_popen(p, sig=signal.SIGTERM, timeout=5):
    """Stops one process we started, by its PID."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=10)


class Probe:
    """bench/prober.c probing ADDR from a host; stop() -> list of
    (seq, sent_ns, reply_ns or 0, name or None)."""

    def __init__(self, topo, host, addr, rate, max_s, out):
        self.out = Path(out)
        self.rate = rate
        self.max_s = max_s
        self.proc = topo.sb.host_popen(
            host, PROBER, "probe", addr, SERVICE_PORT, rate, max_s, out,
            max(20, rate // 20), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = b""
        deadline = time.monotonic() + 8
        while line.strip() != b"ready":
            if self.proc.poll() is not None or time.monotonic() > deadline:
                _stop_popen(self.proc)
                raise AssertionError("prober on %s to %s not ready: %s"
                                     % (host, addr,
                                        self.proc.stderr.read().decode()))
            line = self.proc.stdout.readline()

    def stop(self):
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=self.max_s + 10)
        except subprocess.TimeoutExpired:
            _stop_popen(self.proc)
        rows = []
        for line in self.out.read_text().splitlines():
            if line.startswith("#"):
                continue
            seq, sent, reply, name = line.split()
            rows.append((int(seq), int(sent), int(reply),
                         None if name == "-" else name))
        return rows


class BaseTopo:
    """Sandbox, hosts and member services shared by both topologies."""

    bridge = None

    def __init__(self, prefix, workdir):
        self.workdir = Path(workdir)
        self.sb = Sandbox(prefix)
        self.services = {}
        try:
            self.sb.add_bridge(self.bridge, self.controller_target())
            for host, (port, mac, ip4, ip6) in HOSTS.items():
                self.sb.add_host(host, self.bridge, port, mac, ip4 + "/24",
                                 ip6 + "/64")
            for m in MEMBERS:
                self._setup_member(m)
                p = self.sb.host_popen(m, PROBER, "serve", m, SERVICE_PORT,
                                       stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL)
                if p.stdout.readline().strip() != b"ready":
                    raise AssertionError("echo service on %s" % m)
                self.services[m] = p
        except BaseException:
            self.stop()
            raise

    def controller_target(self):
        return None                 # Standalone (NORMAL).

    def _setup_member(self, m):
        pass

    def stop(self):
        for p in self.services.values():
            _stop_popen(p)
        self.sb.stop()

    def sw(self, *cmd, check=True):
        return self.sb.sw_exec(*cmd, timeout=10, check=check)

    def host(self, host, *cmd, check=True, timeout=10):
        return self.sb.host_exec(host, *cmd, timeout=timeout, check=check)

    def probe(self, rate, max_s, out, addr=ALIAS4, host="c1"):
        return Probe(self, host, addr, rate, max_s, out)

    # Failures.  Each returns (t_before_ns, t_after_ns) of the action.

    def link(self, member, up):
        t0 = mono_ns()
        self.sw("ip", "link", "set", HOSTS[member][0],
                "up" if up else "down")
        return t0, mono_ns()

    def hang(self, member, hung):
        """A hung host with its link up: the switch drops everything the
        member sends (so it answers nothing: no service replies, no ARP,
        no VRRP adverts), while its port stays up and keeps receiving."""
        t0 = mono_ns()
        if hung:
            self.sb.ofctl("add-flow", self.bridge,
                          "cookie=%s,table=0,priority=65000,in_port=%s,"
                          "actions=drop" % (HANG_COOKIE, HOSTS[member][0]))
        else:
            self.sb.ofctl("del-flows", self.bridge,
                          "cookie=%s/-1" % HANG_COOKIE)
        return t0, mono_ns()

    def port_packets(self):
        """{port: (rx_packets, tx_packets)} of the host ports."""
        out = self.sb.ofctl("dump-ports", self.bridge)
        stats, port = {}, None
        names = {str(self.sb.port_desc(self.bridge)[HOSTS[h][0]]["number"]):
                 h for h in HOSTS}
        for line in out.splitlines():
            line = line.strip()
            if line.startswith("port"):
                port = line.split()[1].rstrip(":").strip('"')
                rx = int(line.split("pkts=")[1].split(",")[0])
                stats[port] = [rx, 0]
            elif line.startswith("tx") and port is not None:
                stats[port][1] = int(line.split("pkts=")[1].split(",")[0])
        return {names[p]: tuple(v) for p, v in stats.items() if p in names}

    def static_neigh(self, mac):
        """Pins c1's neighbour entry for the alias to 'mac' (None: removes
        it)."""
        if mac is None:
            # "flush" leaves permanent entries alone unless told "nud all".
            self.host("c1", "ip", "neigh", "flush", "to", ALIAS4, "nud",
                      "all", check=False)
            return
        self.host("c1", "ip", "neigh", "replace", ALIAS4, "lladdr", mac,
                  "nud", "permanent", "dev", "eth0")

    def neigh_mac(self):
        out = self.host("c1", "ip", "-j", "neigh", "show", "to",
                        ALIAS4).stdout
        for e in json.loads(out or "[]"):
            return (e.get("lladdr") or "").lower() or None
        return None


class VmacdTopo(BaseTopo):
    bridge = "br0"

    def __init__(self, prefix, workdir, log_level="warn"):
        self.vmacd = None
        self.log_level = log_level
        self.probe_cfg = None
        self.flaps = 0
        self.harvested = {}         # (pid, seq) -> event of past runs.
        super().__init__(prefix, workdir)

    def controller_target(self):
        return "unix:%s" % of_socket(self.sb)

    def _setup_member(self, m):
        carry_alias_on_lo(self.host, m, ALIAS4, ALIAS6)

    def start_vmacd(self, probe=None):
        """(Re)starts vmacd with alias web ('probe': its probe object, None
        for the defaults) and waits until m1 is master and applied."""
        alias = {
            "name": ALIAS, "addresses": [ALIAS4, ALIAS6], "vmac": VMAC,
            "members": [{"name": m, "bridge": self.bridge,
                         "port": HOSTS[m][0], "mac": HOSTS[m][1],
                         "ip": HOSTS[m][2], "priority": PRIORITIES[m]}
                        for m in MEMBERS],
        }
        if probe is not None:
            alias["probe"] = probe
        self.probe_cfg = probe
        config = make_config(self.sb, [self.bridge], [alias])
        if self.vmacd is not None and self.vmacd.running():
            self.harvest()
            self.vmacd.stop()
        self.vmacd = Vmacd(self.sb, config, log_level=self.log_level)
        self.vmacd.start()
        self.wait_master("m1", 15)

    def api(self, method, path, body=None, timeout=10):
        return self.vmacd.api(method, path, body, timeout=timeout)

    def settled(self, master):
        try:
            st, br = self.api("GET", "/v1/bridges/%s" % self.bridge)
            st2, al = self.api("GET", "/v1/aliases/%s" % ALIAS)
        except OSError:
            return False
        ft = (br or {}).get("flowtab") or {}
        return (st == 200 and st2 == 200 and br.get("connected")
                and ft.get("synced")
                and br.get("applied_generation") == br.get("generation")
                and al.get("master") == master)

    def wait_master(self, master, timeout=10):
        wait_until(lambda: self.settled(master), timeout, 0.02,
                   "vmacd: master %s applied" % master)

    def restore(self, how):
        """Undoes a failure of m1 ("link" or "hang") and waits until m1 is
        master again.  Every fifth time vmacd is restarted instead, so
        that its flap damping (a member that flaps is held down for
        seconds) does not turn the next runs into a wait."""
        if how == "link":
            self.link("m1", True)
        else:
            self.hang("m1", False)
        self.flaps += 1
        if self.flaps % 5 == 0:
            self.start_vmacd(self.probe_cfg)
        else:
            self.wait_master("m1", 15)

    def harvest(self):
        """Keeps the events of the running vmacd (they go with it)."""
        for e in self.events():
            self.harvested[(self.vmacd.pid, e["seq"])] = e

    def all_events(self):
        self.harvest()
        return list(self.harvested.values())

    def events(self):
        return events(self.vmacd)

    def stop(self):
        if self.vmacd is not None and self.vmacd.running():
            try:
                self.vmacd.stop()
            except AssertionError as e:
                sys.stderr.write("bench: %s\n" % e)
        super().stop()


KEEPALIVED_CONF = """\
global_defs {
    router_id %(name)s
    vrrp_version 3
    script_user root
    enable_script_security
}
vrrp_instance web {
    state %(state)s
    interface eth0
    virtual_router_id 51
    priority %(priority)d
    advert_int %(advert_int)s
%(extra)s    virtual_ipaddress {
        %(vip)s/24
    }
}
"""


class KeepalivedTopo(BaseTopo):
    bridge = "kbr"

    def __init__(self, prefix, workdir):
        self.kprocs = {}
        self.variant = None
        super().__init__(prefix, workdir)

    def start_keepalived(self, advert_int, down_timer_adverts=None,
                         use_vmac=False):
        """(Re)starts keepalived on every member and waits until m1 holds
        the VIP and c1 reaches it."""
        self.stop_keepalived()
        self.variant = (advert_int, down_timer_adverts, use_vmac)
        for m in MEMBERS:
            self._arp_sysctls(m, use_vmac)
            extra = ""
            if down_timer_adverts is not None:
                extra += "    down_timer_adverts %d\n" % down_timer_adverts
            if use_vmac:
                extra += "    use_vmac vrrp.51\n"
            d = self.workdir / ("ka-%s" % m)
            d.mkdir(parents=True, exist_ok=True)
            conf = d / "keepalived.conf"
            conf.write_text(KEEPALIVED_CONF % {
                "name": m, "priority": PRIORITIES[m],
                "state": "MASTER" if m == "m1" else "BACKUP",
                "advert_int": advert_int, "extra": extra, "vip": ALIAS4})
            log = open(d / "keepalived.log", "ab")
            p = self.sb.host_popen(
                m, "keepalived", "--dont-fork", "--log-console", "--vrrp",
                "--use-file=%s" % conf, "--pid=%s" % (d / "k.pid"),
                "--vrrp_pid=%s" % (d / "v.pid"),
                "--checkers_pid=%s" % (d / "c.pid"),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            log.close()
            self.kprocs[m] = p
        self.wait_holder("m1", 15 + 4 * float(advert_int))
        if use_vmac:
            # No checksum set-up is needed on vrrp.51: the macvlan hands
            # its frames to eth0, whose TX checksum offload is off, so the
            # kernel completes the checksum there (ethtool cannot change
            # a macvlan's offloads anyway).
            for m in MEMBERS:
                wait_until(lambda m=m: self.host(
                    m, "ip", "link", "show", "vrrp.51",
                    check=False).returncode == 0, 5, 0.05,
                    "vrrp.51 on %s" % m)
        wait_until(lambda: self._reaches("m1"), 10, 0.1,
                   "c1 reaching the VIP on m1")
        if use_vmac:
            mac = self.neigh_mac()
            if mac != VRRP_VMAC:
                raise AssertionError("use_vmac: c1 resolved the VIP to %s, "
                                     "not %s" % (mac, VRRP_VMAC))

    def _arp_sysctls(self, m, use_vmac):
        """ARP settings of member 'm' for a keepalived variant.

        With use_vmac the VIP lives on vrrp.51 while the member's own
        traffic (the echo replies too: the route via eth0 comes first)
        leaves through eth0.  With the default arp_announce=0 the kernel
        then asks for the client's MAC from eth0 with the VIP as sender
        address, and the client, which has an entry for the VIP, rewrites
        it to the member's real MAC: the VRRP MAC is lost at the first
        reply of a new master.  arp_announce=2 makes eth0 announce only
        its own address.  arp_ignore=1 on all follows keepalived's note on
        VMACs (keepalived itself sets arp_ignore/arp_filter on eth0 and
        accept_local/rp_filter on vrrp.51).  Without use_vmac the kernel
        defaults stay."""
        v = "1" if use_vmac else "0"
        a = "2" if use_vmac else "0"
        for key in ("all", "eth0"):
            self.host(m, "sysctl", "-q", "-w",
                      "net.ipv4.conf.%s.arp_announce=%s" % (key, a))
        self.host(m, "sysctl", "-q", "-w",
                  "net.ipv4.conf.all.arp_ignore=%s" % v)

    def _reaches(self, name):
        out = self.host("c1", "/usr/bin/python3", "-c", _ASK, ALIAS4,
                        str(SERVICE_PORT), check=False).stdout
        return out.strip() == name

    def vrrp_pid(self, m):
        try:
            return int((self.workdir / ("ka-%s" % m) / "v.pid")
                       .read_text().strip())
        except (OSError, ValueError):
            return None

    def holders(self):
        """Members that have the VIP configured right now."""
        out = []
        for m in MEMBERS:
            addrs = self.host(m, "ip", "-4", "-o", "addr", "show",
                              check=False).stdout
            if " %s/" % ALIAS4 in addrs:
                out.append(m)
        return out

    def wait_holder(self, m, timeout):
        wait_until(lambda: self.holders() == [m], timeout, 0.05,
                   "keepalived: VIP on %s only" % m)

    def kill_keepalived(self, m, sig):
        """Signals keepalived on 'm' (the VRRP child first, then the
        parent), by PID; returns when both are gone."""
        child = self.vrrp_pid(m)
        parent = self.kprocs.get(m)
        if child and sig == signal.SIGKILL:
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                pass
        if parent is not None:
            _stop_popen(parent, sig, timeout=10)
        del self.kprocs[m]

    def restart_keepalived_on(self, m):
        """Starts keepalived again on 'm' only, same variant."""
        d = self.workdir / ("ka-%s" % m)
        # A SIGKILLed keepalived leaves its VIP and vmac interface behind.
        self.host(m, "ip", "addr", "del", ALIAS4 + "/24", "dev", "eth0",
                  check=False)
        self.host(m, "ip", "link", "del", "vrrp.51", check=False)
        for f in ("k.pid", "v.pid", "c.pid"):
            (d / f).unlink(missing_ok=True)
        log = open(d / "keepalived.log", "ab")
        self.kprocs[m] = self.sb.host_popen(
            m, "keepalived", "--dont-fork", "--log-console", "--vrrp",
            "--use-file=%s" % (d / "keepalived.conf"),
            "--pid=%s" % (d / "k.pid"), "--vrrp_pid=%s" % (d / "v.pid"),
            "--checkers_pid=%s" % (d / "c.pid"),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()

    def stop_keepalived(self):
        for m in list(self.kprocs):
            self.kill_keepalived(m, signal.SIGTERM)
        for m in MEMBERS:
            self.host(m, "ip", "addr", "del", ALIAS4 + "/24", "dev", "eth0",
                      check=False)
            self.host(m, "ip", "link", "del", "vrrp.51", check=False)
        self.static_neigh(None)

    def stop(self):
        try:
            self.stop_keepalived()
        finally:
            super().stop()


# One UDP query: prints the answering member's name or nothing.
_ASK = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(b"0")
    print(s.recv(100).split(b":")[0].decode())
except OSError:
    pass
"""
