"""Teardown: a bench part or a test run that is interrupted (SIGINT to its
process group as a Ctrl-C sends it, SIGTERM to its PID as "kill" does),
that runs past its time limit, or that is SIGKILLed and reaped by its
parent, leaves nothing behind: no namespace with its prefix, no process it
started (none naming its files, none inside its namespaces), no veth, no
sandbox directory.

Each case runs the real thing in a child process: bench/probe_jitter.py
(the part that leaked its whole sandbox when its parent SIGKILLed it on a
timeout), the bench driver with a part time limit, pytest with the
sandbox fixtures, and a plain Python owner of a sandbox killed with
SIGKILL.
"""

import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from sandbox import (BASE_ENV, DIR_PREFIX, REPO, namespaces_with, reap, run,
                     wait_until)
from vmacd import SLOW

PYTHON = "/usr/bin/python3"
PROBE_JITTER = REPO / "bench" / "probe_jitter.py"
BENCH = REPO / "bench" / "bench.py"
# A child gets this long to tear down and exit once interrupted.
EXIT_S = 180 * SLOW


_children = []


@pytest.fixture(autouse=True)
def stop_children():
    """A failed case must not leave its child running: SIGTERM (its own
    teardown), then SIGKILL to its process group, then reap its
    namespaces."""
    yield
    while _children:
        c = _children.pop()
        if c.proc.poll() is None:
            c.proc.send_signal(signal.SIGTERM)
            try:
                c.proc.wait(timeout=EXIT_S)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(c.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        c.proc.wait(timeout=30)
        if c.ns_prefix:
            reap(c.tmp, [c.ns_prefix])


@pytest.fixture
def tmp():
    """A directory with a short path: the children's sockets go in it, and
    AF_UNIX paths stop at 107 bytes (pytest's tmp is long)."""
    d = Path(tempfile.mkdtemp(prefix="vtd"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Child:
    """A child process in a session of its own (so that a SIGINT to its
    process group reaches it and its children only), with its output in a
    file and a record of the namespaces it created."""

    def __init__(self, cmd, tmp, ns_prefix, env=None):
        self.tmp = Path(tmp)
        self.log = self.tmp / "child.log"
        self.ns_prefix = ns_prefix
        self.inodes = {}                    # Namespace -> nsfs inode.
        with open(self.log, "wb") as f:
            self.proc = subprocess.Popen(
                [str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True,
                env=dict(os.environ, **(env or {})))
        _children.append(self)
        if callable(ns_prefix):
            self.ns_prefix = ns_prefix(self.proc.pid)

    def output(self):
        return self.log.read_text(errors="replace")

    def wait_for(self, what, timeout=120):
        """Waits until the child printed 'what' (while noting its
        namespaces); fails if it exits first."""
        def seen():
            self.note_namespaces()
            assert self.proc.poll() is None, \
                "child exited %s before %r:\n%s" % (self.proc.returncode,
                                                    what, self.output())
            return what in self.output()
        wait_until(seen, timeout * SLOW, 0.1, "child printing %r" % what)

    def note_namespaces(self):
        if not self.ns_prefix:
            return
        for ns in namespaces_with([self.ns_prefix]):
            if ns not in self.inodes:
                try:
                    self.inodes[ns] = os.stat("/run/netns/" + ns).st_ino
                except FileNotFoundError:
                    pass

    def interrupt(self, sig, group):
        self.note_namespaces()
        assert self.inodes, "the child has no namespace yet"
        if group:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def watch_until_exit(self, timeout):
        """Notes the child's namespaces until it exits by itself (within
        'timeout' seconds); returns its exit status."""
        deadline = time.monotonic() + timeout * SLOW
        while self.proc.poll() is None and time.monotonic() < deadline:
            self.note_namespaces()
            time.sleep(0.1)
        return self.exit_status()

    def exit_status(self):
        try:
            return self.proc.wait(timeout=EXIT_S)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
            raise AssertionError("child did not exit within %d s of being "
                                 "interrupted:\n%s" % (EXIT_S, self.output()))


def _proc_pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def leftovers(child, names=(), base=None):
    """What 'child' left: namespaces with its prefix, processes naming its
    directory or living in one of its namespaces, veths named 'names' in
    this namespace, sandbox directories in 'base'."""
    left = ["namespace %s" % ns for ns in namespaces_with([child.ns_prefix])]
    inodes = {"net:[%d]" % i for i in child.inodes.values()}
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        try:
            cmdline = Path("/proc/%d/cmdline" % pid).read_bytes()
            netns = os.readlink("/proc/%d/ns/net" % pid)
            state = Path("/proc/%d/stat" % pid).read_text().rsplit(
                ")", 1)[1].split()[0]
        except OSError:
            continue
        if state == "Z":
            continue
        text = cmdline.replace(b"\0", b" ").decode(errors="replace")
        if str(child.tmp) in text or netns in inodes:
            left.append("process %d: %s" % (pid, text[:200]))
    links = run(["ip", "-o", "link", "show", "type", "veth"],
                timeout=10).stdout
    for name in names:
        if " %s@" % name in links or " %s:" % name in links:
            left.append("veth %s" % name)
    if base is not None:
        left += ["sandbox directory %s" % d
                 for d in Path(base).glob(DIR_PREFIX + "*")]
    return left


def assert_nothing_left(child, names=(), base=None):
    # Namespaces disappear with "ip netns del" at once, the processes in
    # them once killed: nothing should be left by the time the child exits.
    left = leftovers(child, names, base)
    assert not left, "left behind:\n%s\n--- child output:\n%s" % (
        "\n".join(left), child.output())


def probe_jitter(tmp, seconds=120, members=3, deadline=600):
    base = Path(tmp) / "sandboxes"
    base.mkdir()
    c = Child([PYTHON, PROBE_JITTER, "--members", members, "--seconds",
               seconds, "--deadline", deadline, "--out", Path(tmp) / "o.json",
               "--pidfile", Path(tmp) / "vmacd.pid"],
              tmp, lambda pid: "pj%d-" % pid, env={BASE_ENV: str(base)})
    return c, base


def vmacd_gone(c):
    pid = int((c.tmp / "vmacd.pid").read_text())
    return not os.path.exists("/proc/%d" % pid) or Path(
        "/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] \
        == "Z"


def test_probe_part_ctrl_c_during_window(tmp):
    c, base = probe_jitter(tmp)
    c.wait_for("window of")
    c.interrupt(signal.SIGINT, group=True)
    assert c.exit_status() == 130, c.output()
    assert "torn down" in c.output()
    assert vmacd_gone(c)
    assert_nothing_left(c, ["p0", "p1", "p2"], base)


def test_probe_part_sigterm_during_set_up(tmp):
    c, base = probe_jitter(tmp, members=40)
    wait_until(lambda: c.note_namespaces() or len(c.inodes) >= 6,
               120 * SLOW, 0.05, "a few hosts set up")
    c.interrupt(signal.SIGTERM, group=False)
    assert c.exit_status() == 128 + signal.SIGTERM, c.output()
    assert "signal 15: torn down" in c.output()
    assert_nothing_left(c, ["p%d" % i for i in range(40)], base)


def test_probe_part_past_its_deadline(tmp):
    c, base = probe_jitter(tmp, seconds=600, deadline=15 * SLOW)
    assert c.watch_until_exit(300) == 3, c.output()
    assert c.inodes, c.output()
    assert "past its %g s deadline" % (15 * SLOW) in c.output()
    assert_nothing_left(c, ["p0", "p1", "p2"], base)


def test_bench_part_past_its_time_limit(tmp):
    """The bench driver stops a part at its time limit (SIGTERM), the part
    tears its sandbox down, and the driver reports it and reaps."""
    out = tmp / "results"
    c = Child([PYTHON, BENCH, "--only", "probes", "--quick",
               "--probe-members", "3", "--probe-seconds", "600",
               "--part-timeout", 12 * SLOW, "--no-baseline", "--out", out],
              tmp, None, env={"TMPDIR": str(tmp)})
    c.wait_for("probes part (PID ")
    pid = int(c.output().split("probes part (PID ")[1].split(",")[0])
    c.ns_prefix = "vb%dn" % pid
    assert c.watch_until_exit(300) == 1, c.output()
    assert c.inodes, c.output()
    assert "past its" in c.output()
    table = (out / "table.md").read_text()
    assert "- probes: timed out after" in table
    # The part tore its sandbox down itself: the driver's reaper (its
    # second line of defence) found nothing.
    assert "reaped" not in table, table
    assert_nothing_left(c, ["p0", "p1", "p2"])
    assert not list(tmp.glob("vmacd-bench-*")), c.output()


def test_reap_after_sigkill(tmp):
    """A sandbox owner SIGKILLed (no finally runs): its vmacd dies with it
    (PR_SET_PDEATHSIG); the daemons and namespaces stay until the parent
    reaps its sandbox directory."""
    base = tmp / "sandboxes"
    base.mkdir()
    script = textwrap.dedent("""\
        import sys, time
        sys.path.insert(0, %r)
        from sandbox import Sandbox
        from vmacd import Vmacd, make_config, of_socket
        sb = Sandbox(sys.argv[1])
        sb.add_bridge("br0", "unix:%%s" %% of_socket(sb))
        sb.add_host("h1", "br0", "h1-p", "02:00:00:00:00:01",
                    "192.0.2.1/24")
        v = Vmacd(sb, make_config(sb, ["br0"], []), log_level="warn")
        v.start()
        v.wait_bridge("br0")
        print("ready", v.pid, sb.dir, flush=True)
        time.sleep(600)
        """ % str(REPO / "tests" / "system"))
    c = Child([PYTHON, "-c", script, "rk%d-" % os.getpid()], tmp,
              "rk%d-" % os.getpid(), env={BASE_ENV: str(base)})
    c.wait_for("ready")
    vmacd_pid = int(c.output().split("ready ")[1].split()[0])
    c.note_namespaces()
    c.interrupt(signal.SIGKILL, group=False)
    c.exit_status()
    wait_until(lambda: not os.path.exists("/proc/%d" % vmacd_pid), 10, 0.05,
               "vmacd killed with its parent")
    # Without a reaper the sandbox would stay: this is what reap() is for.
    assert namespaces_with([c.ns_prefix]), "sandbox gone without a reaper"
    assert list(base.glob(DIR_PREFIX + "*"))
    removed = reap(base, [c.ns_prefix])
    assert removed
    assert_nothing_left(c, ["h1-p"], base)


_PYTEST_CASE = """\
import time


def test_sleeps_in_a_sandbox(sandbox, vmacd_config, vmacd_factory):
    sandbox.add_bridge("br0", "unix:%s" % (sandbox.dir / "of.sock"))
    sandbox.add_host("h1", "br0", "h1-p", "02:00:00:00:00:01",
                     "192.0.2.1/24")
    v = vmacd_factory(vmacd_config(["br0"]))
    v.start()
    v.wait_bridge("br0")
    print("sleeping", flush=True)
    time.sleep(600)
"""


def pytest_child(tmp, env=None):
    (tmp / "test_case.py").write_text(_PYTEST_CASE)
    return Child([PYTHON, "-m", "pytest", "-p", "no:cacheprovider", "-p",
                  "conftest", "-s", "--rootdir", tmp,
                  tmp / "test_case.py"], tmp,
                 lambda pid: "vt%dn" % pid,
                 env=dict(env or {}, PYTHONPATH=str(REPO / "tests" /
                                                    "system"),
                          TMPDIR=str(tmp)))


def test_pytest_sigterm_tears_fixtures_down(tmp):
    c = pytest_child(tmp)
    c.wait_for("sleeping")
    c.interrupt(signal.SIGTERM, group=False)
    assert c.exit_status() == 2, c.output()       # pytest: interrupted.
    assert "Terminated: signal 15" in c.output()
    assert_nothing_left(c, ["h1-p"], tmp)


def test_pytest_ctrl_c_tears_fixtures_down(tmp):
    c = pytest_child(tmp)
    c.wait_for("sleeping")
    c.interrupt(signal.SIGINT, group=True)
    assert c.exit_status() == 2, c.output()       # pytest: interrupted.
    assert_nothing_left(c, ["h1-p"], tmp)


def test_pytest_test_past_its_timeout(tmp):
    c = pytest_child(tmp, env={"VMACD_TEST_TIMEOUT": "8"})
    assert c.watch_until_exit(300) == 1, c.output()   # A test failed.
    assert c.inodes and "sleeping" in c.output(), c.output()
    assert "TimedOut" in c.output() and "VMACD_TEST_TIMEOUT" in c.output()
    assert_nothing_left(c, ["h1-p"], tmp)


def test_sandbox_stop_finishes_despite_signals(tmp):
    """A second SIGINT and a SIGTERM during Sandbox.stop() do not cut it
    short: they are delivered once the teardown is done."""
    base = tmp / "sandboxes"
    base.mkdir()
    script = textwrap.dedent("""\
        import os, signal, sys
        sys.path.insert(0, %r)
        import sandbox
        sb = sandbox.Sandbox(sys.argv[1])
        sb.add_bridge("br0")
        for i in range(4):
            sb.add_host("h%%d" %% i, "br0", "h%%d-p" %% i,
                        "02:00:00:00:00:0%%d" %% (i + 1),
                        "192.0.2.%%d/24" %% (i + 1))
        print("ready", flush=True)
        real_run = sandbox.run

        def run(cmd, **kw):
            # A Ctrl-C and a SIGTERM right as the teardown starts.
            if "stop" in [str(x) for x in cmd]:
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGTERM)
            return real_run(cmd, **kw)
        sandbox.run = run
        try:
            sb.stop()
        except KeyboardInterrupt as e:
            print("after stop:", type(e).__name__, flush=True)
        print("namespaces:", sb.namespaces(), flush=True)
        """ % str(REPO / "tests" / "system"))
    prefix = "sd%d-" % os.getpid()
    c = Child([PYTHON, "-c", script, prefix], tmp, prefix,
              env={BASE_ENV: str(base)})
    c.wait_for("ready")
    assert c.watch_until_exit(120) == 0, c.output()
    out = c.output()
    assert "after stop: KeyboardInterrupt" in out, out
    assert "namespaces: []" in out, out
    assert_nothing_left(c, ["h0-p", "h1-p", "h2-p", "h3-p"], base)

