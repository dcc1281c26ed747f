"""Python face of ovs-scripts/sandbox.sh for the system tests.

A Sandbox is a private ovsdb-server + userspace ovs-vswitchd running in their
own network namespace, with namespaced hosts on veth ports.  All the set-up
work is done by sandbox.sh (one implementation for tests and the demo); this
module only calls it and wraps the OVS tools.  Every subprocess call has a
timeout; waits go through wait_until(), never bare sleeps.

Teardown (see also reap() and signals_deferred()):
- Sandbox.stop() runs in a finally (fixtures, topologies, bench parts); it
  defers SIGINT/SIGTERM/SIGHUP until it is done and runs "sandbox.sh stop"
  in a session of its own, so neither a second Ctrl-C nor a signal to the
  caller's process group cuts it short.
- Creating a Sandbox makes SIGTERM and SIGHUP raise Terminated (a
  KeyboardInterrupt) in a program that left them at their defaults, so that
  "kill PID" unwinds through the finally blocks instead of ending the
  process with its sandboxes running; at exit, any sandbox still running is
  stopped.
- Processes started for a sandbox outside its namespaces are recorded in
  its state file (track()), so that "sandbox.sh stop" stops them too, even
  when the Python that started them was SIGKILLed and a parent reaps its
  sandboxes with reap().
"""

import atexit
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SANDBOX_SH = REPO / "ovs-scripts" / "sandbox.sh"

# How long one call of a tool may take before the test fails.
DEFAULT_TIMEOUT = 30


# Where sandboxes put their directories unless told: VMACD_SANDBOX_BASE (a
# parent that may have to reap() what a child left sets it), else $TMPDIR.
BASE_ENV = "VMACD_SANDBOX_BASE"
DIR_PREFIX = "vmacd-sbx-"
# What stops are deferred for (and what Terminated stands for).
TEARDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run(cmd, timeout=DEFAULT_TIMEOUT, check=True, env=None, input=None,
        new_session=False):
    """Runs 'cmd' (a list) and returns the CompletedProcess (text output).
    With 'new_session' it runs in a session of its own: a Ctrl-C or a
    signal to the caller's process group does not reach it.

    Raises AssertionError with the command's output when 'check' is set and
    it fails, or when it outlives 'timeout' seconds."""
    cmd = [str(c) for c in cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout, env=env, input=input,
                              start_new_session=new_session)
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


class Terminated(KeyboardInterrupt):
    """Raised by the SIGTERM/SIGHUP handler of exit_on_signals(): like a
    Ctrl-C, it unwinds through every finally (and pytest tears its fixtures
    down on it).  'signum' is the signal; exit with 128 + signum."""

    def __init__(self, signum):
        super().__init__("signal %d" % signum)
        self.signum = signum


def _raise_terminated(signum, _frame):
    raise Terminated(signum)


def exit_on_signals(force=False):
    """Makes SIGTERM and SIGHUP raise Terminated in the main thread.  Without
    'force' only signals still at their default action are changed (a
    program's own handler stays).  Sandbox() calls this."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if force or signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _raise_terminated)


@contextlib.contextmanager
def signals_deferred():
    """Holds SIGINT, SIGTERM and SIGHUP back while the block runs (teardown
    must not be cut in half by a second Ctrl-C), then delivers the first one
    that came to the handler that was there before.  Main thread only;
    elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got = []
    old = {}
    for sig in TEARDOWN_SIGNALS:
        old[sig] = signal.signal(sig, lambda n, _f: got.append(n))
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler if handler is not None
                          else signal.SIG_DFL)
        if got:
            signal.raise_signal(got[0])


# Sandboxes started and not stopped yet by this process.
_live = []


@atexit.register
def stop_all():
    """Stops every sandbox this process started and has not stopped (a
    last resort at exit: normally each is stopped in a finally)."""
    for sb in list(_live):
        try:
            sb.stop()
        except Exception as e:          # Keep going: stop the others.
            print("sandbox: stopping %s: %s" % (sb.dir, e))


def default_base_dir():
    """The directory new sandboxes go in (VMACD_SANDBOX_BASE or $TMPDIR)."""
    return os.environ.get(BASE_ENV) or None


def reap(base, ns_prefixes=()):
    """Tears down what a killed process left: every sandbox directory in
    'base' ("sandbox.sh stop", which also stops the processes tracked in
    it and waits for a stop already running there), then every namespace
    whose name starts with one of 'ns_prefixes' (a sandbox killed before it
    recorded one), killing what runs inside.  Returns the sandbox
    directories and namespaces it removed."""
    removed = []
    for d in sorted(Path(base).glob(DIR_PREFIX + "*")):
        if (d / "sandbox.state").exists():
            run(["bash", SANDBOX_SH, "stop", d], timeout=_stop_timeout(d),
                check=False, new_session=True)
        shutil.rmtree(d, ignore_errors=True)
        removed.append(str(d))
    for ns in namespaces_with(ns_prefixes):
        pids = run(["ip", "netns", "pids", ns], timeout=30,
                   check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        for pid in pids:
            wait_until(lambda pid=pid: not _pid_alive(int(pid)), 10, 0.05,
                       "PID %s in %s gone" % (pid, ns))
        run(["ip", "netns", "del", ns], timeout=30, check=False)
        removed.append(ns)
    return removed


def namespaces_with(prefixes):
    """The network namespaces whose names start with one of 'prefixes'."""
    prefixes = tuple(prefixes)
    if not prefixes:
        return []
    out = run(["ip", "netns", "list"], timeout=10).stdout
    return [line.split()[0] for line in out.splitlines()
            if line and line.split()[0].startswith(prefixes)]


def _stop_timeout(d):
    """Time for "sandbox.sh stop" on directory 'd': a minute plus a second
    per namespace it recorded (200 hosts take a while to delete on a busy
    machine; a stop cut short would leave the rest)."""
    try:
        n = (Path(d) / "sandbox.state").read_text().count("\nnetns ")
    except OSError:
        n = 0
    return 60 + n


class Sandbox:
    """One sandbox: Sandbox(prefix) starts it in a new temporary directory
    (in 'base_dir', default: VMACD_SANDBOX_BASE or $TMPDIR).

    'prefix' names the namespaces (PREFIXsw, PREFIXhost); it must be unique
    among the sandboxes running at the same time."""

    def __init__(self, prefix, base_dir=None):
        exit_on_signals()
        self.prefix = prefix
        base = base_dir or default_base_dir()
        self.dir = Path(tempfile.mkdtemp(prefix=DIR_PREFIX, dir=base))
        self.sw_ns = prefix + "sw"
        self.hosts = {}             # Host name -> namespace.
        self.bridges = []
        self._popens = []
        self._stopped = False
        _live.append(self)
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
        otherwise the directory is removed.  Signals that arrive meanwhile
        are delivered when it is done (signals_deferred())."""
        if self._stopped:
            return
        with signals_deferred():
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
                run(["bash", SANDBOX_SH, "stop", self.dir] + args,
                    timeout=_stop_timeout(self.dir), new_session=True)
            finally:
                if not keep_files:
                    shutil.rmtree(self.dir, ignore_errors=True)
                if self in _live:
                    _live.remove(self)

    def track(self, name, pid):
        """Records process 'pid' (started for this sandbox outside its
        namespaces, with the sandbox directory in its command line) so that
        stop() stops it, SIGTERM then SIGKILL, if it still runs then."""
        with open(self.dir / "sandbox.state", "a") as f:
            f.write("pid %s %d\n" % (name, pid))

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

    def sw_popen(self, *cmd, **kwargs):
        """Starts 'cmd' in the switch namespace in the background (e.g.
        tcpdump on a bridge's port); returns the Popen.  The sandbox kills
        it (if still running) on stop."""
        p = subprocess.Popen(["ip", "netns", "exec", self.sw_ns]
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

