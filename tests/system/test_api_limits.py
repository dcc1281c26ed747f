"""The API against slow, malformed and truncated clients (issue 16), on the
unix socket and on the TCP listener:

- with 300 slowloris connections open (one byte now and then, reconnecting
  when dropped) the API still answers within 100 ms;
- a request not completed within request_timeout_ms gets 408 and is
  closed;
- a NUL-led request line, "Content-Length: abc", two different
  Content-Length headers: a JSON 400 at once, nothing changed;
- a request cut short (Content-Length larger than the body, then
  half-close): 400 at once, not after a timeout;
- the OpenFlow punix: socket is created 0660 whatever the umask, and
  ptcp:PORT listens on 127.0.0.1 only.
"""

import json
import os
import socket
import stat
import statistics
import threading
import time

import pytest

from sandbox import wait_until
from vmacd import SLOW, of_socket

NEEDS_SANDBOX = False   # vmacd only: no OVS.

DEADLINE = 15 * SLOW


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """Where the API listens: the unix socket, or TCP on 127.0.0.1."""

    def __init__(self, vmacd, tcp_port=None):
        self.vmacd = vmacd
        self.tcp_port = tcp_port

    def connect(self, timeout=5):
        if self.tcp_port:
            s = socket.create_connection(("127.0.0.1", self.tcp_port),
                                         timeout=timeout * SLOW)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.vmacd.config["api"]["socket"])
            s.settimeout(timeout * SLOW)
        return s

    def exchange(self, data, half_close=False, timeout=5):
        """Sends 'data'; returns (seconds until the reply ended, the raw
        reply)."""
        s = self.connect(timeout)
        t = time.monotonic()
        try:
            s.sendall(data)
            if half_close:
                s.shutdown(socket.SHUT_WR)
            out = b""
            while True:
                try:
                    d = s.recv(65536)
                except ConnectionResetError:
                    break
                if not d:
                    break
                out += d
        finally:
            s.close()
        return time.monotonic() - t, out

    def listener(self):
        lst = self.vmacd.api("GET", "/v1/status")[1]["limits"]["api"]
        name = "127.0.0.1" if self.tcp_port else \
            self.vmacd.config["api"]["socket"]
        return [x for x in lst["listeners"] if x["name"] == name][0]


def parse(raw):
    """(status, headers dict, decoded JSON body) of one HTTP response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    assert int(headers["content-length"]) == len(body), (headers, body)
    return status, headers, json.loads(body)


@pytest.fixture(params=["unix", "tcp"])
def target(request, vmacd_factory, vmacd_config):
    cfg = vmacd_config()
    port = None
    if request.param == "tcp":
        port = free_port()
        cfg["api"]["tcp"] = {"address": "127.0.0.1", "port": port}
    v = vmacd_factory(cfg)
    v.start()
    return Target(v, port)


class Slowloris:
    """'n' connections that send a request head one byte at a time, every
    'period' seconds, and reconnect when the server drops them."""

    HEAD = b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 4000

    def __init__(self, target, n, period=0.5):
        self.target = target
        self.period = period
        self.socks = [None] * n
        self.sent = [0] * n
        self.reconnects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run)

    def _open(self, i):
        try:
            self.socks[i] = self.target.connect()
            self.socks[i].setblocking(False)
            self.sent[i] = 0
        except OSError:
            self.socks[i] = None

    def _run(self):
        for i in range(len(self.socks)):
            self._open(i)
        while not self.stop.wait(self.period):
            for i, s in enumerate(self.socks):
                try:
                    if s is None:
                        raise OSError("closed")
                    s.send(self.HEAD[self.sent[i]:self.sent[i] + 1])
                    self.sent[i] += 1
                except OSError:
                    if s:
                        s.close()
                    self.reconnects += 1
                    self._open(i)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        for s in self.socks:
            if s:
                s.close()


def latencies(target, n):
    out = []
    for _ in range(n):
        took, raw = target.exchange(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
                                    b"Connection: close\r\n\r\n")
        assert parse(raw)[0] == 200
        out.append(took)
    return out


def test_300_slowloris_connections_do_not_lock_out_others(target):
    with Slowloris(target, 300):
        time.sleep(2)      # Everyone connected, trickling.
        lat = latencies(target, 20)
    lst = target.listener()
    print("with 300 slowloris: median %.1f ms, max %.1f ms; %s"
          % (statistics.median(lat) * 1e3, max(lat) * 1e3, lst))
    assert statistics.median(lat) < 0.1 * SLOW, lat
    assert max(lat) < 1.0 * SLOW, lat
    assert lst["evicted"] > 0, lst
    assert lst["incomplete"] <= lst["max_incomplete"], lst
    target.vmacd.check_logs(allowed=[r"connections without a complete "
                                     r"request; closing the oldest"])


def test_incomplete_request_times_out(vmacd_factory, vmacd_config):
    cfg = vmacd_config()
    cfg["api"]["request_timeout_ms"] = 500
    v = vmacd_factory(cfg)
    v.start()
    t = Target(v)
    took, raw = t.exchange(b"GET /v1/status HTTP/1.1\r\nHost:", timeout=10)
    status, _, body = parse(raw)
    assert status == 408 and body["error"]["code"] == "request_timeout"
    assert 0.4 < took < 3 * SLOW, took
    # An idle keep-alive connection is closed too, without a reply.
    s = t.connect(timeout=10)
    s.sendall(b"GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n")
    first = s.recv(65536)
    assert first.startswith(b"HTTP/1.1 200")
    start = time.monotonic()
    rest = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        rest += d
    assert time.monotonic() - start < 3 * SLOW
    s.close()
    assert t.listener()["timed_out"] == 2
    v.check_logs(allowed=[r"did not complete its request within 0.5 s"])


BAD_FRAMING = [
    ("NUL-led request line", b"\0GET /v1 HTTP/1.1\r\nHost: x\r\n\r\n",
     "byte 0x00"),
    ("a lone NUL", b"\0", "byte 0x00"),
    ("NUL in the path", b"DELETE /v1/aliases/web\0../x HTTP/1.1\r\n",
     "byte 0x00"),
    ("Content-Length: abc",
     b"GET /v1/status HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
     "invalid Content-Length"),
    ("two different Content-Length",
     b"POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
     b"Content-Type: application/json\r\nContent-Length: 2\r\n"
     b"Content-Length: 5\r\n\r\n{}",
     "conflicting Content-Length"),
    ("Content-Length and chunked",
     b"POST /v1/aliases HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n{}",
     "together"),
    ("no path", b"GET v1 HTTP/1.1\r\n\r\n", "starting with '/'"),
    ("folded header", b"GET /v1 HTTP/1.1\r\nHost: x\r\n y\r\n\r\n",
     "folded"),
]


def test_bad_framing_gets_a_400_at_once_and_changes_nothing(target):
    v = target.vmacd
    config_before = v.config_path.read_bytes()
    aliases_before = v.api("GET", "/v1/aliases")[1]
    for name, data, message in BAD_FRAMING:
        took, raw = target.exchange(data)
        status, headers, body = parse(raw)
        assert status == 400, (name, raw)
        assert headers["connection"] == "close"
        assert body["error"]["code"] == "bad_request", (name, body)
        assert message in body["error"]["message"], (name, body)
        assert took < 1.0 * SLOW, (name, took)
    # The same Content-Length twice is fine.
    _, raw = target.exchange(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Length: 0\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
    assert parse(raw)[0] == 200
    assert v.config_path.read_bytes() == config_before
    assert v.api("GET", "/v1/aliases")[1] == aliases_before
    assert target.listener()["bad_requests"] == len(BAD_FRAMING)
    v.check_logs()


def test_truncated_request_gets_a_400_when_the_client_ends(target):
    v = target.vmacd
    config_before = v.config_path.read_bytes()
    body = b'{"name": "x"}'
    cases = [
        b"POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 50\r\n\r\n"
        + body,
        b"POST /v1/aliases HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"\r\n10\r\n0123",
        b"GET /v1/status HTTP/1.1\r\nHost: x\r\n",
    ]
    for data in cases:
        took, raw = target.exchange(data, half_close=True)
        status, _, reply = parse(raw)
        assert status == 400, (data, raw)
        assert "ended before its end" in reply["error"]["message"]
        assert took < 1.0 * SLOW, (data, took)
    assert v.config_path.read_bytes() == config_before
    assert target.listener()["truncated"] == len(cases)
    # A complete request followed by a half-close is answered.
    _, raw = target.exchange(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n",
                             half_close=True)
    assert parse(raw)[0] == 200
    v.check_logs()


# OpenFlow listeners.

def test_punix_socket_is_0660_whatever_the_umask(sandbox, vmacd_factory,
                                                vmacd_config):
    v = vmacd_factory(vmacd_config(),
                      wrapper=["sh", "-c", 'umask 000 && exec "$@"', "sh"])
    v.start()
    for path in (of_socket(sandbox), v.config["api"]["socket"]):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == 0o660, (path, oct(mode))
    v.check_logs()


def _tcp_listeners(port):
    """Local addresses of the listening TCP sockets on 'port'."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                local, state = line.split()[1], line.split()[3]
                addr, _, p = local.rpartition(":")
                if state == "0A" and int(p, 16) == port:
                    found.append(addr)
    return found


def test_ptcp_without_ip_listens_on_loopback_only(sandbox, vmacd_factory,
                                                  vmacd_config):
    port = free_port()
    cfg = vmacd_config()
    cfg["openflow"]["listen"] = ["ptcp:%d" % port]
    v = vmacd_factory(cfg)
    v.start()
    wait_until(lambda: _tcp_listeners(port), DEADLINE)
    assert _tcp_listeners(port) == ["0100007F"]   # 127.0.0.1
    v.check_logs()
