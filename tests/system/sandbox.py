"""Python face of ovs-scripts/sandbox.sh for the system tests.

A Sandbox is a private ovsdb-server + userspace ovs-vswitchd running in their
own network namespace, with namespaced hosts on veth ports.  All the set-up
work is done by sandbox.sh (one implementation for tests and the demo); this
module only calls it and wraps the OVS tools.  Every subprocess call has a
timeout; waits go through wait_until(), never bare sleeps.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SH = REPO / "ovs-scripts" / "sandbox.sh"

# How long one call of a tool may take before the test fails.
DEFAULT_TIMEOUT = 30


def run(cmd, timeout=DEFAULT_TIMEOUT, check=True, env=None, input=None):
    """Runs 'cmd' (a list) and returns the CompletedProcess (text output).

    Raises AssertionError with the command's output when 'check' is set and
    it fails, or when it outlives 'timeout' seconds."""
    cmd = [str(c) for c in cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, env=env, input=input)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("timed out after %ss: %s" % (timeout,
                                                         " ".join(cmd))) from e
    if check and proc.returncode != 0:
        raise AssertionError("exit %d: %s\nstdout: %s\nstderr: %s"
                             % (proc.returncode, " ".join(cmd),
                                proc.stdout.strip(), proc.stderr.strip()))
    return proc


def wait_until(predicate, timeout=5.0, interval=0.05, what=None):
    """Polls 'predicate' until it returns something true; returns that.

    Raises AssertionError naming 'what' (or the predicate) once 'timeout'
    seconds have passed; the predicate is always tried one last time after
    the deadline, so a slow poll cannot make a true condition fail."""
    deadline = time.monotonic() + timeout
    while True:
        last_try = time.monotonic() >= deadline
        result = predicate()
        if result:
            return result
        if last_try:
            raise AssertionError("timed out after %.1f s waiting for %s"
                                 % (timeout, what or predicate))
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))


def _pid_alive(pid):
    """True if 'pid' exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


class Sandbox:
    """One sandbox: Sandbox(prefix) starts it in a new temporary directory.

    'prefix' names the namespaces (PREFIXsw, PREFIXhost); it must be unique
    among the sandboxes running at the same time."""

    def __init__(self, prefix, base_dir=None):
        self.prefix = prefix
        self.dir = Path(tempfile.mkdtemp(prefix="vmacd-sbx-", dir=base_dir))
        self.sw_ns = prefix + "sw"
        self.hosts = {}             # Host name -> namespace.
        self.bridges = []
        self._popens = []
        self._stopped = False
        self.env = dict(os.environ, OVS_RUNDIR=str(self.dir),
                        OVS_DBDIR=str(self.dir), OVS_LOGDIR=str(self.dir),
                        OVS_SYSCONFDIR=str(self.dir))
        try:
            self._sh("start", prefix)
            self.daemon_pids = {name: self._read_pid(name)
                                for name in ("ovsdb-server", "ovs-vswitchd")}
        except BaseException:
            self.stop()
            raise

    # Life cycle.

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self, keep_files=False):
        """Stops everything the sandbox started; idempotent.

        With 'keep_files' the directory and the logs stay for a post-mortem;
        otherwise the directory is removed."""
        if self._stopped:
            return
        self._stopped = True
        for p in self._popens:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass
        args = ["--keep-logs"] if keep_files else []
        try:
            self._sh("stop", *args, timeout=60)
        finally:
            if not keep_files:
                shutil.rmtree(self.dir, ignore_errors=True)

    # Topology.

    def add_bridge(self, name, controller=None, uplinks=(), fail_mode=None):
        """Adds bridge 'name'.  'controller' is an OpenFlow target such as
        "unix:/path/of.sock" (fail_mode=secure); None means no controller
        and fail_mode=standalone.  'fail_mode' ("secure", "standalone" or
        "none": the column left empty, as a plain "ovs-vsctl add-br" does)
        overrides that.  Each uplink is a port name already in the switch
        namespace or "PORT:PEERBRIDGE:PEERPORT" (a new veth pair)."""
        opts = ["--fail-mode", fail_mode] if fail_mode else []
        self._sh("add-bridge", *opts, name, controller or "none", *uplinks)
        self.bridges.append(name)

    def add_link(self, bridge_a, port_a, bridge_b, port_b):
        """Connects two of the sandbox's bridges by a veth pair."""
        self._sh("add-link", bridge_a, port_a, bridge_b, port_b)

    def add_host(self, name, bridge, port, mac, ip4=None, ip6=None,
                 tag=None, iface_id=None):
        """Adds host 'name' (namespace PREFIXname, eth0 with 'mac' and the
        addresses, given as "ADDR/LEN") on switch port 'port' of 'bridge'.
        'tag': the port is an access port of that VLAN.  'iface_id': the
        Interface gets external_ids:iface-id and attached-mac (libvirt's
        way of naming a VM's port)."""
        opts = []
        if tag is not None:
            opts += ["--tag", str(tag)]
        if iface_id is not None:
            opts += ["--iface-id", iface_id]
        self._sh("add-host", *opts, name, bridge, port, mac, ip4 or "-",
                 ip6 or "-")
        self.hosts[name] = self.prefix + name

    def port_vlan(self, port, kind, *args):
        """VLANs of switch port 'port': port_vlan(p, "access", 10),
        port_vlan(p, "trunk", "10,20"[, "native-untagged", 30]) or
        port_vlan(p, "none")."""
        self._sh("port-vlan", port, kind, *[str(a) for a in args])

    def replug(self, host, new_port):
        """What libvirt does on a VM restart: 'host''s port is deleted and
        it comes back on a new veth whose switch end is 'new_port' (same
        MAC, addresses, tag and iface-id; another OpenFlow port number)."""
        self._sh("replug", host, new_port)

    # The database server.

    @property
    def ovsdb_remote(self):
        """The sandbox's OVSDB remote, for vmacd's "ovsdb" section."""
        return "unix:%s" % (self.dir / "db.sock")

    def stop_ovsdb(self, kill=False):
        """Stops the sandbox's ovsdb-server by PID (SIGTERM, or SIGKILL)."""
        self._sh("ovsdb-stop", *(["--kill"] if kill else []))

    def start_ovsdb(self):
        """Starts ovsdb-server again; returns once it answers."""
        self._sh("ovsdb-start")
        self.daemon_pids["ovsdb-server"] = self._read_pid("ovsdb-server")

    def link(self, port, up):
        """Sets switch-side port 'port' up or down (down: OpenFlow reports
        PORT_DOWN and LINK_DOWN)."""
        self._sh("link", port, "up" if up else "down")

    def host_link(self, host, up):
        """Sets 'host''s eth0 up or down (down: the switch port reports
        LINK_DOWN, config unchanged)."""
        self._sh("host-link", host, "up" if up else "down")

    def ns(self, host):
        """The namespace name of 'host'."""
        if host not in self.hosts:
            raise KeyError("no host %r in sandbox %s" % (host, self.prefix))
        return self.hosts[host]

    # Running things.

    def vsctl(self, *args, timeout=DEFAULT_TIMEOUT, check=True):
        """Runs ovs-vsctl against the sandbox; returns its stdout."""
        return run(["ovs-vsctl", "--timeout=%d" % timeout] + list(args),
                   timeout=timeout + 5, check=check, env=self.env).stdout

    def ofctl(self, *args, timeout=DEFAULT_TIMEOUT, check=True):
        """Runs ovs-ofctl (with -O OpenFlow15 unless a protocol is given:
        controller bridges speak OpenFlow 1.3-1.5 only); returns stdout."""
        args = list(args)
        if not any(a.startswith(("-O", "--protocols")) for a in args):
            args = ["-O", "OpenFlow15"] + args
        return run(["ovs-ofctl", "--timeout=%d" % timeout] + args,
                   timeout=timeout + 5, check=check, env=self.env).stdout

    def appctl(self, *args, target="ovs-vswitchd", timeout=DEFAULT_TIMEOUT,
               check=True):
        """Runs ovs-appctl against a sandbox daemon; returns stdout."""
        return run(["ovs-appctl", "-T", str(timeout), "-t", target]
                   + list(args), timeout=timeout + 5, check=check,
                   env=self.env).stdout

    def host_exec(self, host, *cmd, timeout=DEFAULT_TIMEOUT, check=True,
                  input=None):
        """Runs 'cmd' inside 'host''s namespace; returns CompletedProcess."""
        return run(["ip", "netns", "exec", self.ns(host)] + list(cmd),
                   timeout=timeout, check=check, input=input)

    def host_popen(self, host, *cmd, **kwargs):
        """Starts 'cmd' in 'host''s namespace in the background; returns
        the Popen.  The sandbox kills it (if still running) on stop."""
        p = subprocess.Popen(["ip", "netns", "exec", self.ns(host)]
                             + [str(c) for c in cmd], **kwargs)
        self._popens.append(p)
        return p

    def sw_exec(self, *cmd, timeout=DEFAULT_TIMEOUT, check=True):
        """Runs 'cmd' inside the switch namespace."""
        return run(["ip", "netns", "exec", self.sw_ns] + list(cmd),
                   timeout=timeout, check=check)

    # Inspection.

    def port_desc(self, bridge):
        """Parses "ovs-ofctl dump-ports-desc": returns {port name: {"number":
        N or "LOCAL", "mac": .., "config": [..], "state": [..]}}."""
        ports = {}
        current = None
        for line in self.ofctl("dump-ports-desc", bridge).splitlines():
            m = re.match(r"^\s*(\w+)\(([^)]+)\): addr:(\S+)", line)
            if m:
                number = m.group(1)
                current = ports[m.group(2)] = {
                    "number": int(number) if number.isdigit() else number,
                    "mac": m.group(3), "config": [], "state": []}
                continue
            m = re.match(r"^\s*(config|state):\s*(.*)$", line)
            if m and current is not None:
                current[m.group(1)] = [w for w in m.group(2).split()
                                       if w != "0"]
        return ports

    def log_path(self, daemon="ovs-vswitchd"):
        return self.dir / ("%s.log" % daemon)

    def alive_pids(self):
        """The recorded daemon PIDs that are still running."""
        return [pid for pid in self.daemon_pids.values() if _pid_alive(pid)]

    def namespaces(self):
        """The sandbox's namespaces as the kernel lists them now."""
        out = run(["ip", "netns", "list"], timeout=10).stdout
        names = [line.split()[0] for line in out.splitlines() if line]
        return [n for n in names if n.startswith(self.prefix)]

    # Internals.

    def _sh(self, command, *args, timeout=DEFAULT_TIMEOUT * 2):
        return run(["bash", SANDBOX_SH, command, self.dir] + list(args),
                   timeout=timeout)

    def _read_pid(self, daemon):
        return int((self.dir / ("%s.pid" % daemon)).read_text().strip())

