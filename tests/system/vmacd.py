"""Runs the vmacd daemon for the system tests and talks to its API.

The daemon contract: "vmacd --config FILE [--log-level LEVEL]", logs to
stderr in OVS vlog format, exits 0 on SIGTERM, serves HTTP/1.1 + JSON on the
unix socket config["api"]["socket"].  With VMACD_VALGRIND=1 the daemon runs
under valgrind and stop() fails on valgrind errors (exit code 99).
"""

import ctypes
import http.client
import json
import os
import re
import signal
import socket
import subprocess
from pathlib import Path

from sandbox import REPO, wait_until

VALGRIND = os.environ.get("VMACD_VALGRIND") == "1"
VALGRIND_ERROR = 99
# Valgrind slows start-up and shutdown by an order of magnitude.
SLOW = 10 if VALGRIND else 1

LOG_PROBLEM = re.compile(r"\|(WARN|ERR|EMER)\|")


def vmacd_bin():
    return Path(os.environ.get("VMACD_BIN", REPO / "build" / "bin" / "vmacd"))


_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """preexec_fn: the daemon gets SIGKILL when the thread that started it
    ends, so a SIGKILLed test or bench part cannot leave it running (it
    survives the exec of "ip netns exec" and of valgrind)."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG,
                                            int(signal.SIGKILL), 0, 0, 0)


def make_config(sandbox, bridges=(), aliases=(), **extra):
    """A minimal config for a vmacd serving 'sandbox': OpenFlow on
    punix:DIR/of.sock (the target to give add_bridge), API on DIR/api.sock.
    'bridges' are names or {"name":..., "uplinks": [...]} dicts."""
    config = {
        "openflow": {"listen": ["punix:%s" % of_socket(sandbox)]},
        "api": {"socket": str(sandbox.dir / "api.sock")},
        "bridges": [b if isinstance(b, dict) else {"name": b}
                    for b in bridges],
        "aliases": list(aliases),
    }
    config.update(extra)
    return config


def of_socket(sandbox):
    """The unix socket path make_config() has vmacd listen on."""
    return sandbox.dir / "of.sock"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class Vmacd:
    """One vmacd process; Vmacd(sandbox, config).start() runs it."""

    def __init__(self, sandbox, config, name="vmacd", log_level="info",
                 netns=None, args=(), binary=None, wrapper=()):
        self.sandbox = sandbox
        self.binary = binary    # Default: vmacd_bin().
        self.config = config
        self.name = name
        self.log_level = log_level
        self.netns = netns      # Run inside this network namespace.
        self.args = list(args)  # More command-line options.
        self.wrapper = list(wrapper)    # E.g. ["prlimit", "--nofile=.."].
        self.config_path = sandbox.dir / ("%s.json" % name)
        self.log_path = sandbox.dir / ("%s.log" % name)
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, timeout=10):
        """Writes the config and starts the daemon; with 'wait', returns
        once its API answers GET /v1/status."""
        assert not self.running(), "%s already running" % self.name
        self.config_path.write_text(json.dumps(self.config, indent=2))
        cmd = [str(self.binary or vmacd_bin()), "--config",
               str(self.config_path),
               "--log-level", self.log_level] + self.args
        if VALGRIND:
            cmd = ["valgrind", "-q", "--error-exitcode=%d" % VALGRIND_ERROR,
                   "--leak-check=full", "--errors-for-leak-kinds=definite",
                   "--log-file=%s.valgrind.%%p" % self.log_path] + cmd
        # Wrappers that exec in place (prlimit, taskset): the PID stays the
        # daemon's.
        cmd = self.wrapper + cmd
        if self.netns:
            # "ip netns exec" execs in place: the PID stays the daemon's.
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log,
                                         preexec_fn=_die_with_parent)
        # The sandbox's stop stops it too if nothing else did (its command
        # line names the config in the sandbox directory).
        self.sandbox.track(self.name, self.proc.pid)
        if wait:
            wait_until(self._answers, timeout * SLOW, 0.05,
                       "%s API on %s" % (self.name, self._api_socket()))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends 'sig' (by PID) and waits for the exit; returns the exit
        status.  After SIGTERM the daemon must exit 0; under valgrind it
        must not report errors whatever the signal."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            raise AssertionError("%s ignored signal %d for %d s\n%s"
                                 % (self.name, sig, timeout * SLOW,
                                    self._log_tail()))
        assert rc != VALGRIND_ERROR or not VALGRIND, \
            "valgrind found errors in %s: see %s.valgrind.*" % (
                self.name, self.log_path)
        if sig == signal.SIGTERM:
            assert rc == 0, "%s exited %d after SIGTERM\n%s" % (
                self.name, rc, self._log_tail())
        return rc

    def kill(self):
        """SIGKILL: the daemon gets no chance to clean up."""
        return self.stop(signal.SIGKILL)

    def restart(self, wait=True):
        self.stop()
        self.start(wait=wait)

    def api(self, method, path, body=None, timeout=5):
        """One HTTP request; returns (status, decoded JSON or None)."""
        conn = _UnixHTTPConnection(self._api_socket(), timeout * SLOW)
        try:
            headers = {}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        finally:
            conn.close()
        return resp.status, (json.loads(raw) if raw.strip() else None)

    def events(self, timeout=5):
        """GET /v1/events?follow=false (JSON lines), as a list of dicts;
        asserts 200."""
        conn = _UnixHTTPConnection(self._api_socket(), timeout * SLOW)
        try:
            conn.request("GET", "/v1/events?follow=false")
            resp = conn.getresponse()
            raw = resp.read().decode()
        finally:
            conn.close()
        assert resp.status == 200, "GET events: %s %s" % (resp.status, raw)
        return [json.loads(line) for line in raw.splitlines()
                if line.strip()]

    def wait_bridge(self, name, timeout=10):
        """Polls GET /v1/bridges/NAME until it says connected; returns it."""
        def connected():
            try:
                status, bridge = self.api("GET", "/v1/bridges/%s" % name)
            except (OSError, http.client.HTTPException):
                return None
            return bridge if status == 200 and bridge.get("connected") \
                else None
        return wait_until(connected, timeout * SLOW, 0.05,
                          "bridge %s connected to %s" % (name, self.name))

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def check_logs(self, allowed=()):
        """Fails on any WARN/ERR/EMER line not matched by a regex in
        'allowed'."""
        patterns = [re.compile(a) for a in allowed]
        bad = [line for line in self.log_text().splitlines()
               if LOG_PROBLEM.search(line)
               and not any(p.search(line) for p in patterns)]
        assert not bad, "%s logged unexpected problems:\n%s" % (
            self.name, "\n".join(bad))

    def _api_socket(self):
        return str(self.config["api"]["socket"])

    def _answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("%s exited %d during start-up\n%s"
                                 % (self.name, self.proc.returncode,
                                    self._log_tail()))
        try:
            return self.api("GET", "/v1/status", timeout=1)[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def _log_tail(self, lines=20):
        return "\n".join(self.log_text().splitlines()[-lines:])
