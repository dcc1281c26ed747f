"""vmacd as a service (issue 15): --pidfile and --detach, SIGUSR1's state
dump (to the log and to a --state-file), systemd notification (READY,
STATUS, RELOADING, STOPPING, WATCHDOG on a test $NOTIFY_SOCKET), logging
(syslog, run-time levels through PUT /v1/log and vmacctl log), a member on
an unknown bridge (warning, "bridge_known"), and vmacctl's --timeout,
--version and global options anywhere on the line.

These run vmacd on unix sockets in a temporary directory, with a fake
switch (fakeswitch.py) where a connection is needed: no OVS, no root.
"""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import types
from pathlib import Path

import pytest

from fakeswitch import FakeSwitch
from sandbox import REPO, wait_until
from vmacd import SLOW, Vmacd, make_config, of_socket, vmacd_bin

NEEDS_SANDBOX = False

DEADLINE = 15 * SLOW
VMACCTL = REPO / "build" / "bin" / "vmacctl"
VERSION = (REPO / "VERSION").read_text().strip()

WEB = {
    "name": "web",
    "addresses": ["192.0.2.100"],
    "vmac": "02:00:5e:00:01:01",
    "members": [
        {"name": "m1", "bridge": "br0", "port": "m1-p",
         "mac": "02:00:00:00:00:11", "priority": 150},
        {"name": "m2", "bridge": "br0", "port": "m2-p",
         "mac": "02:00:00:00:00:12"},
    ],
}


@pytest.fixture
def place(tmp_path):
    """What Vmacd and make_config need of a sandbox: a directory (unix
    socket paths must stay short, hence not pytest's deep tmp_path) and
    track(), a no-op: the daemons fixture stops what the tests start."""
    short = Path(subprocess.run(["mktemp", "-d", "/tmp/vsvc.XXXXXX"],
                                capture_output=True, text=True,
                                check=True).stdout.strip())
    yield types.SimpleNamespace(dir=short, track=lambda name, pid: None)
    subprocess.run(["rm", "-rf", str(short)], check=False)


@pytest.fixture
def daemons():
    started = []
    yield started
    for d in started:
        if d.running():
            d.proc.send_signal(signal.SIGCONT)
            d.stop()


def start(place, daemons, aliases=(WEB,), bridges=("br0",), args=(),
          **extra):
    d = Vmacd(place, make_config(place, bridges, aliases, **extra),
              args=args)
    daemons.append(d)
    d.start()
    return d


class ServingSwitch:
    """A fake switch "br0" with the members' ports, answering vmacd from a
    thread (flow reads, bundles, barriers) until closed."""

    def __init__(self, place, name="br0"):
        self.sw = FakeSwitch(of_socket(place), name=name)
        for number, member in enumerate(WEB["members"], 1):
            self.sw.ports[number] = (member["port"], member["mac"], 0, 0)
        self.sw.handshake()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop and self.sw.serve(0.05):
            pass

    def close(self):
        self.stop = True
        self.thread.join(10)
        self.sw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# The fake switch leaving is logged as a warning.
SWITCH_GONE = r"\|WARN\|bridge \S+ disconnected \(connection closed"


def wait_master(d, master):
    wait_until(lambda: d.api("GET", "/v1/aliases/web")[1]["master"]
               == master, DEADLINE, 0.05, "master %s" % master)


def vmacctl(d, *args, timeout=30, socket_path=None):
    cmd = [str(VMACCTL), "--socket",
           socket_path or d.config["api"]["socket"]] + list(args)
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout)


# --pidfile, --detach.

def run_detached(place, config, extra=()):
    path = place.dir / ("%s.json" % config["api"]["socket"].split("/")[-1])
    path.write_text(json.dumps(config))
    return subprocess.run([str(vmacd_bin()), "--config", str(path),
                           "--detach"] + list(extra),
                          capture_output=True, text=True, timeout=DEADLINE)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def test_detach_and_pidfile(place):
    pidfile = place.dir / "vmacd.pid"
    log = place.dir / "detached.log"
    config = make_config(place, ["br0"], [WEB])
    api = config["api"]["socket"]
    r = run_detached(place, config, ["--pidfile=%s" % pidfile,
                                     "--log-file=%s" % log])
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    try:
        # Returned once ready: the API answers at once.
        st = subprocess.run([str(VMACCTL), "--socket", api, "status"],
                            capture_output=True, text=True, timeout=10)
        assert st.returncode == 0, st.stderr
        assert pid_alive(pid)
        # The daemon is not a child of ours (its parent exited).
        ppid = int(Path("/proc/%d/stat" % pid).read_text()
                   .rsplit(")", 1)[1].split()[1])
        assert ppid != os.getpid()

        # A second daemon with the same pidfile refuses to start (another
        # API socket, so that only the pidfile is in the way).
        other = make_config(place, ["br0"], [WEB])
        other["api"]["socket"] = str(place.dir / "other.sock")
        other["openflow"]["listen"] = ["punix:%s" % (place.dir / "o.sock")]
        r2 = run_detached(place, other, ["--pidfile=%s" % pidfile])
        assert r2.returncode == 1
        assert "already running as PID %d" % pid in r2.stderr, r2.stderr
        assert int(pidfile.read_text()) == pid
        assert not Path(other["api"]["socket"]).exists()

        # A daemon that fails after the fork (the API socket is taken):
        # --detach returns its exit status and message.
        r3 = run_detached(place, config, ["--pidfile=%s" %
                                          (place.dir / "third.pid")])
        assert r3.returncode == 1
        assert "another vmacd is running" in r3.stderr, r3.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not pid_alive(pid), DEADLINE, 0.05, "vmacd exit")
    assert not pidfile.exists()
    assert not Path(api).exists()
    # Its log went to the --log-file (stderr is /dev/null once detached).
    assert re.search(r"\|main\|INFO\|signal 15: exiting", log.read_text())


def test_stale_pidfile_is_taken_over(place, daemons):
    pidfile = place.dir / "stale.pid"
    pidfile.write_text("999999\n")     # Nobody holds its lock.
    d = start(place, daemons, args=["--pidfile=%s" % pidfile])
    assert int(pidfile.read_text()) == d.pid
    d.stop()
    assert not pidfile.exists()


# SIGUSR1: the state dump.

def test_sigusr1_writes_the_state_file(place, daemons):
    state = place.dir / "state.json"
    d = start(place, daemons, args=["--state-file", str(state)])
    with ServingSwitch(place):
        d.wait_bridge("br0", DEADLINE)
        wait_master(d, "m1")
        d.proc.send_signal(signal.SIGUSR1)
        wait_until(state.exists, DEADLINE, 0.05, "state file")
        dump = json.loads(state.read_text())
        assert d.running(), "SIGUSR1 must not kill vmacd"
        assert sorted(dump) == ["aliases", "bridges", "hooks", "status"]
        assert dump["status"]["version"] == VERSION
        _, aliases = d.api("GET", "/v1/aliases")
        _, bridges = d.api("GET", "/v1/bridges")
        assert [a["name"] for a in dump["aliases"]] == ["web"]
        web = dump["aliases"][0]
        assert web["master"] == aliases["aliases"][0]["master"] == "m1"
        assert [(m["name"], m["state"], m["master"])
                for m in web["members"]] \
            == [(m["name"], m["state"], m["master"])
                for m in aliases["aliases"][0]["members"]] \
            == [("m1", "up", True), ("m2", "up", False)]
        assert "probe_state" in web["members"][0]
        assert [(b["name"], b["connected"]) for b in dump["bridges"]] \
            == [(b["name"], b["connected"]) for b in bridges["bridges"]] \
            == [("br0", True)]
        assert [p["name"] for p in dump["bridges"][0]["ports"]] \
            == ["m1-p", "m2-p", "br0"]
        assert oct(state.stat().st_mode & 0o777) == "0o640"

        # Again, after a change: the file is replaced.
        status, body = d.api("POST", "/v1/aliases/web/members/m1/drain")
        assert status == 200, body
        before = state.stat().st_ino
        d.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: state.stat().st_ino != before, DEADLINE, 0.05,
                   "state file replaced")
        dump = json.loads(state.read_text())
        assert dump["aliases"][0]["master"] == "m2"
        assert not list(place.dir.glob("state.json.tmp*"))
    d.stop()
    d.check_logs(allowed=[SWITCH_GONE])


def test_sigusr1_logs_the_state(place, daemons):
    d = start(place, daemons)
    with ServingSwitch(place):
        d.wait_bridge("br0", DEADLINE)
        wait_master(d, "m1")
        for i in range(3):
            d.proc.send_signal(signal.SIGUSR1)
            wait_until(lambda: d.log_text().count("state dump ends") == i + 1,
                       DEADLINE, 0.05, "state dump %d in the log" % (i + 1))
        assert d.running()
    lines = d.log_text().splitlines()
    parts = {}
    for line in lines:
        m = re.search(r"\|statedump\|INFO\|state dump: (status|alias \S+|"
                      r"bridge \S+) (\{.*\})$", line)
        if m:
            parts[m.group(1)] = json.loads(m.group(2))
    assert sorted(parts) == ["alias web", "bridge br0", "status"]
    assert parts["alias web"]["master"] == "m1"
    assert parts["status"]["counts"]["aliases"] == 1
    assert re.search(r"state dump ends \(1 aliases, 1 bridges\)",
                     d.log_text())
    d.stop()
    # Its sockets are gone with it (SIGUSR1 used to kill it and leave them).
    assert not Path(d.config["api"]["socket"]).exists()
    assert not of_socket(place).exists()
    d.check_logs(allowed=[SWITCH_GONE])


# systemd notification.

class NotifySocket:
    """A $NOTIFY_SOCKET: collects what vmacd sends, with arrival times."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.got = []

    def poll(self):
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                return self.got
            for line in data.decode().splitlines():
                self.got.append((time.monotonic(), line))

    def wait(self, state, after=0, timeout=DEADLINE):
        def found():
            self.poll()
            return [(t, s) for t, s in self.got[after:] if s == state]
        return wait_until(found, timeout, 0.02, "%s on NOTIFY_SOCKET" % state)

    def close(self):
        self.sock.close()


def test_sd_notify(place, daemons):
    ns = NotifySocket(place.dir / "notify.sock")
    config = make_config(place, ["br0", "br1"], [WEB])
    d = Vmacd(place, config)
    daemons.append(d)
    env = dict(os.environ, NOTIFY_SOCKET=ns.path, WATCHDOG_USEC="200000")
    old = os.environ.copy()
    os.environ.update(env)
    try:
        d.start(wait=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    try:
        ns.wait("READY=1")
        # READY=1 comes once the API listens.
        assert d.api("GET", "/v1/status")[0] == 200
        ns.wait("STATUS=1 aliases, 0 of 2 bridges connected")

        # WATCHDOG=1 from the loop every 100 ms (half of 200 ms).
        n = len(ns.poll())
        time.sleep(1.0)
        pings = [t for t, s in ns.poll()[n:] if s == "WATCHDOG=1"]
        assert len(pings) >= 4, ns.got[n:]
        # A stopped loop pings no more.
        d.proc.send_signal(signal.SIGSTOP)
        time.sleep(0.2)
        n = len(ns.poll())
        time.sleep(0.6)
        assert not [s for _, s in ns.poll()[n:] if s == "WATCHDOG=1"]
        d.proc.send_signal(signal.SIGCONT)
        ns.wait("WATCHDOG=1", after=n)

        # The status follows the switches.
        with FakeSwitch(of_socket(place), name="br0") as sw:
            sw.handshake()
            d.wait_bridge("br0", DEADLINE)
            ns.wait("STATUS=1 aliases, 1 of 2 bridges connected",
                    timeout=DEADLINE + 6)
            sw.serve(0.1)

        # SIGHUP: RELOADING=1, then READY=1.
        n = len(ns.poll())
        d.proc.send_signal(signal.SIGHUP)
        t_reload = ns.wait("RELOADING=1", after=n)[0][0]
        t_ready = ns.wait("READY=1", after=n)[0][0]
        assert t_ready >= t_reload

        n = len(ns.poll())
        d.stop()
        ns.wait("STOPPING=1", after=n)
        d.check_logs(allowed=[SWITCH_GONE])
    finally:
        ns.close()


def test_no_notify_socket_no_watchdog(place, daemons):
    """Without $NOTIFY_SOCKET, WATCHDOG_USEC alone starts nothing."""
    old = os.environ.copy()
    os.environ.pop("NOTIFY_SOCKET", None)
    os.environ["WATCHDOG_USEC"] = "100000"
    try:
        d = start(place, daemons)
    finally:
        os.environ.clear()
        os.environ.update(old)
    d.stop()
    assert "systemd watchdog" not in d.log_text()
    d.check_logs()


# Logging.

class DgramServer:
    def __init__(self, family, address):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)
        self.lines = []

    def collect(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode(
                    errors="replace"))
            except socket.timeout:
                return self.lines

    def wait_for(self, regex):
        return wait_until(lambda: [x for x in self.collect()
                                   if re.search(regex, x)],
                          DEADLINE, 0.05, "syslog line %s" % regex)


def test_syslog_unix_socket(place, daemons):
    """-vsyslog:info with --syslog-method=unix:PATH: the lines reach a
    syslog socket, with their level, in vmacd's pattern."""
    server = DgramServer(socket.AF_UNIX, str(place.dir / "log.sock"))
    d = start(place, daemons,
              args=["--syslog-method=unix:%s" % (place.dir / "log.sock"),
                    "-vsyslog:info"])
    got = server.wait_for(r"\|main\|INFO\|vmacd %s started" % VERSION)
    # "<PRI>" then the pattern, with no "ovs|" prefix.
    assert re.match(r"<\d+>", got[0]), got[0]
    assert "ovs|" not in got[0]
    # debug stays out at info.
    assert not [x for x in server.collect() if "|DBG|" in x]
    d.stop()
    server.wait_for(r"signal 15: exiting")


def test_syslog_target_udp(place, daemons):
    server = DgramServer(socket.AF_INET, ("127.0.0.1", 0))
    port = server.sock.getsockname()[1]
    d = start(place, daemons,
              args=["--syslog-method=null", "-vsyslog:info",
                    "--syslog-target=127.0.0.1:%d" % port])
    # RFC 5424: "<PRI>1 TIME HOST APP PID MODULE - message".
    got = server.wait_for(r"^<\d+>1 .* main - .*vmacd %s started" % VERSION)
    assert " vmacd %d " % d.pid in got[0], got[0]
    d.stop()
    # libopenvswitch says that --syslog-target is deprecated; nothing else.
    d.check_logs(allowed=[r"--syslog-target flag is deprecated"])


def levels(d):
    status, body = d.api("GET", "/v1/log")
    assert status == 200, body
    return body


def test_log_levels_at_run_time(place, daemons):
    d = start(place, daemons)
    body = levels(d)
    assert body["destinations"] == ["syslog", "console", "file"]
    assert body["modules"]["api"] == {"syslog": "off", "console": "info",
                                      "file": "info"}
    for module in ("main", "engine", "api", "logctl", "ofchan"):
        assert module in body["modules"]

    # api logs each request at dbg: nothing at info...
    d.api("GET", "/v1/status")
    assert "GET /v1/status -> 200" not in d.log_text()
    # ...until its console level is dbg.
    status, body = d.api("PUT", "/v1/log", {"set": ["api:console:dbg"]})
    assert status == 200, body
    assert body["modules"]["api"]["console"] == "dbg"
    assert body["modules"]["api"]["syslog"] == "off"
    d.api("GET", "/v1/status")
    wait_until(lambda: "|api|DBG|GET /v1/status -> 200" in d.log_text(),
               DEADLINE, 0.05, "api debug line")

    # A bad spec changes nothing, not even the good one before it.
    before = levels(d)
    for bad in ({"set": ["engine:dbg", "nosuch:info"]},
                {"set": ["engine:loud"]},
                {"set": ["PATTERN:console:%m"]},
                {"set": []},
                {"set": [1]},
                {"levels": "engine:dbg"},
                {}):
        status, err = d.api("PUT", "/v1/log", bad)
        assert status == 400, (bad, err)
        assert levels(d) == before, bad
    status, err = d.api("PUT", "/v1/log", {"set": ["engine:dbg",
                                                   "nosuch:info"]})
    assert err["error"]["code"] == "invalid_value"
    assert 'set[1]: "nosuch:info": no destination, level, or module ' \
        '"nosuch"' in err["error"]["message"]

    # One string is one spec; a module for every destination.
    status, body = d.api("PUT", "/v1/log", {"set": "engine:warn"})
    assert status == 200
    assert set(body["modules"]["engine"].values()) == {"warn"}
    assert re.search(r"\|logctl\|INFO\|log levels set: \[\"engine:warn\"\]",
                     d.log_text())
    d.stop()
    d.check_logs()


def test_vmacctl_log(place, daemons):
    d = start(place, daemons)
    r = vmacctl(d, "log", "set", "engine:dbg", "api:syslog:warn")
    assert r.returncode == 0, r.stderr
    r = vmacctl(d, "log", "list")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.splitlines()]
    assert rows[0] == ["MODULE", "SYSLOG", "CONSOLE", "FILE"]
    table = {row[0]: row[1:] for row in rows[1:]}
    assert table["engine"] == ["dbg", "dbg", "dbg"]
    assert table["api"] == ["warn", "info", "info"]
    # Refused: exit 1 with the API's message; usage errors exit 2.
    r = vmacctl(d, "log", "set", "nosuch:dbg")
    assert r.returncode == 1
    assert 'no destination, level, or module "nosuch"' in r.stderr
    assert vmacctl(d, "log", "set").returncode == 2
    assert vmacctl(d, "log", "frob").returncode == 2
    r = vmacctl(d, "log", "list", "--json")
    assert json.loads(r.stdout)["modules"]["engine"]["console"] == "dbg"
    d.stop()


# A member on an unknown bridge.

def member_flags(d):
    status, alias = d.api("GET", "/v1/aliases/web")
    assert status == 200
    return {m["name"]: m["bridge_known"] for m in alias["members"]}


def test_member_on_unknown_bridge(place, daemons):
    web = json.loads(json.dumps(WEB))
    web["members"][1]["bridge"] = "brX"
    d = start(place, daemons, aliases=[web], bridges=["br0"])
    warning = (r"\|main\|WARN\|member m2 of alias web is on bridge \"brX\", "
               r"which no \"bridges\" entry lists and no connected switch "
               r"has")
    assert re.search(warning, d.log_text())
    assert member_flags(d) == {"m1": True, "m2": False}

    # A switch of that name connects: known while it is connected.
    with FakeSwitch(of_socket(place), name="brX") as sw:
        sw.handshake()
        d.wait_bridge("brX", DEADLINE)
        assert member_flags(d) == {"m1": True, "m2": True}
        # No warning on reload while it is connected.
        d.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: d.log_text().count("configuration reloaded") == 1,
                   DEADLINE, 0.05, "reload")
        assert len(re.findall(warning, d.log_text())) == 1
        sw.serve(0.1)
    wait_until(lambda: member_flags(d)["m2"] is False, DEADLINE, 0.05,
               "brX unknown again after its switch left")

    # Listing it in "bridges" makes it known for good, without a warning.
    d.config["bridges"].append({"name": "brX"})
    d.config_path.write_text(json.dumps(d.config))
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: d.log_text().count("configuration reloaded") == 2,
               DEADLINE, 0.05, "second reload")
    assert member_flags(d) == {"m1": True, "m2": True}
    assert len(re.findall(warning, d.log_text())) == 1
    # vmacctl alias set takes "alias show --json" back (bridge_known is a
    # state field).
    r = vmacctl(d, "alias", "show", "web", "--json")
    path = place.dir / "web.json"
    path.write_text(r.stdout)
    r = vmacctl(d, "alias", "set", "web", "-f", str(path))
    assert r.returncode == 0, r.stderr
    d.stop()
    d.check_logs(allowed=[warning, SWITCH_GONE])


# vmacctl: --timeout, --version, options anywhere.

def test_vmacctl_timeout_against_stopped_daemon(place, daemons):
    d = start(place, daemons)
    d.proc.send_signal(signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        r = vmacctl(d, "--timeout", "1", "status")
        took = time.monotonic() - t0
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert "no reply from vmacd" in r.stderr and "--timeout" in r.stderr
        assert 0.9 <= took < 5, took

        # The default is 5 s.
        t0 = time.monotonic()
        r = vmacctl(d, "status")
        took = time.monotonic() - t0
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert 4.9 <= took < 15, took
    finally:
        d.proc.send_signal(signal.SIGCONT)
    # Back: the same command answers.
    r = vmacctl(d, "--timeout", "1", "status")
    assert r.returncode == 0, r.stderr
    d.stop()


def test_vmacctl_version_and_global_options(place, daemons):
    r = subprocess.run([str(VMACCTL), "--version"], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0 and r.stdout == "vmacctl %s\n" % VERSION
    r = subprocess.run([str(VMACCTL), "status", "-V"], capture_output=True,
                       text=True, timeout=10)
    assert r.stdout == "vmacctl %s\n" % VERSION

    d = start(place, daemons)
    sock = d.config["api"]["socket"]
    base = [str(VMACCTL)]

    def run(*args):
        return subprocess.run(base + list(args), capture_output=True,
                              text=True, timeout=30)

    # --json, --socket and --timeout before, between and after.
    for args in (["--json", "--socket", sock, "alias", "show", "web"],
                 ["alias", "--json", "show", "--socket=%s" % sock, "web"],
                 ["alias", "show", "web", "--socket", sock, "--json",
                  "--timeout", "2"],
                 ["-t", "2", "alias", "show", "web", "--json", "--socket",
                  sock]):
        r = run(*args)
        assert r.returncode == 0, (args, r.stderr)
        assert json.loads(r.stdout)["name"] == "web", args
    # Without --json: a table.
    r = run("alias", "show", "web", "--socket", sock)
    assert r.returncode == 0 and r.stdout.startswith("name:")
    # Bad values.
    for args in (["status", "--timeout", "soon"],
                 ["status", "--timeout", "-1"],
                 ["status", "--socket"]):
        r = run(*args)
        assert r.returncode == 2, args
    # After "--", an option is an argument (here an alias name).
    r = run("--socket", sock, "alias", "show", "--", "--json")
    assert r.returncode == 1 and 'no alias "--json"' in r.stderr, r.stderr
    d.stop()
