"""vmacctl against a stub API: a Python HTTP server on a unix socket that
serves canned JSON in the shapes the daemon documents.  Checks rendering
(aligned tables, --json), exit codes (0 ok, 1 API error, 2 usage, 3 cannot
connect), error messages and the event stream.  Needs no root and no OVS.
"""

import json
import os
import socketserver
import subprocess
import threading
import http.server

import pytest

# Talks to a stub server on a unix socket: needs neither root nor OVS.
NEEDS_SANDBOX = False

HERE = os.path.dirname(os.path.abspath(__file__))
VMACCTL = os.path.join(HERE, "..", "..", "build", "bin", "vmacctl")

BRIDGE = {
    "name": "br0",
    "datapath_id": "0000aabbccddeeff",
    "connected": True,
    "openflow_version": "OpenFlow15",
    "ports": [
        {"name": "up0", "number": 1, "mac": "02:00:00:00:01:01",
         "link_down": False, "admin_down": False, "uplink": True},
        {"name": "m1-p", "number": 12, "mac": "02:00:00:00:01:02",
         "link_down": True, "admin_down": False, "uplink": False},
    ],
    "aliases": ["web"],
    "extra_field": {"ignored": 1},
}

ALIAS = {
    "name": "web",
    "addresses": ["192.0.2.100", "2001:db8::100"],
    "vmac": "02:00:5e:00:01:01",
    "preempt": True,
    "preempt_delay_ms": 0,
    "announce": {"count": 3, "interval_ms": 100, "refresh_s": 60},
    "probe": {"type": "arp", "interval_ms": 100, "fall": 3, "rise": 3},
    "master": "m1",
    "members": [
        {"name": "m1", "bridge": "br0", "port": "m1-p",
         "mac": "02:00:00:00:00:11", "ip": "192.0.2.11", "priority": 150,
         "state": "up", "master": True},
        {"name": "m2", "bridge": "br0", "port": "m2-p",
         "mac": "02:00:00:00:00:12", "ip": "192.0.2.12", "priority": 100,
         "state": "down", "master": False},
    ],
}

ROUTES = {
    "/v1/status": {"version": "0.1.0", "uptime_s": 12,
                   "bridges": [{"name": "br0",
                                "datapath_id": "0000aabbccddeeff",
                                "connected": True}],
                   "counts": {"bridges": 1, "aliases": 2}},
    "/v1/bridges": {"bridges": [BRIDGE]},
    "/v1/bridges/br0": BRIDGE,
    "/v1/aliases": {"aliases": [ALIAS, dict(ALIAS, name="db-long-name",
                                            master=None, members=[])]},
    "/v1/aliases/web": ALIAS,
    "/v1/bridges/br0/flows": {
        "bridge": "br0",
        "flows": ["cookie=0x1, priority=100,arp actions=NORMAL"],
        "groups": ["group_id=1,type=ff,bucket=watch_port:12,output:12"]},
}

EVENTS = [
    {"seq": 1, "time": 1700000000.25, "type": "master", "alias": "web",
     "master": "m1"},
    {"seq": 2, "time": 1700000001.5, "type": "member", "alias": "web",
     "member": "m2", "state": "down"},
]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "unix"

    def _send(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status, code, message):
        self._send(status, {"error": {"code": code, "message": message}})

    def do_GET(self):
        path, _, query = self.path.partition("?")
        self.server.seen.append(("GET", self.path, None))
        if path == "/v1/events":
            body = "".join(json.dumps(e) + "\n" for e in EVENTS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True
            return
        if path in ROUTES:
            self._send(200, ROUTES[path])
        else:
            self._error(404, "not_found", "no such resource: %s" % path)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length).decode()
        self.server.seen.append(("POST", self.path,
                                 (self.headers.get("Content-Type"), body)))
        if self.path == "/v1/echo":
            self._send(200, {"got": json.loads(body)})
        else:
            self._error(409, "conflict", "alias web already exists")


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def stub(tmp_path):
    path = str(tmp_path / "vmacd.sock")
    server = Server(path, Handler)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield path, server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def run(sock, *args, env=None):
    full_env = dict(os.environ)
    full_env.pop("VMACD_SOCKET", None)
    if env:
        full_env.update(env)
    cmd = [VMACCTL] + (["--socket", sock] if sock else []) + list(args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                          env=full_env)


def columns(line, header):
    """Start offsets of each header word; checks alignment of 'line'."""
    return [header.index(word) for word in header.split()]


def test_status(stub):
    sock, _ = stub
    r = run(sock, "status")
    assert r.returncode == 0, r.stderr
    assert "vmacd 0.1.0, up 12 s" in r.stdout
    assert "bridges: 1, aliases: 2" in r.stdout
    assert "br0" in r.stdout and "0000aabbccddeeff" in r.stdout


def test_bridge_list_aligned(stub):
    sock, _ = stub
    r = run(sock, "bridge", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = lines[0]
    assert header.split() == ["NAME", "DATAPATH_ID", "CONNECTED",
                              "OPENFLOW", "PORTS", "ALIASES"]
    starts = columns(header, header)
    row = lines[1]
    for start, value in zip(starts, ["br0", "0000aabbccddeeff", "yes",
                                     "OpenFlow15", "2", "web"]):
        assert row[start:start + len(value)] == value


def test_bridge_show(stub):
    sock, _ = stub
    r = run(sock, "bridge", "show", "br0")
    assert r.returncode == 0, r.stderr
    assert "openflow_version: OpenFlow15" in r.stdout
    port_lines = [l for l in r.stdout.splitlines() if l.startswith("m1-p")]
    assert port_lines and port_lines[0].split()[3] == "down"


def test_alias_list_and_show(stub):
    sock, _ = stub
    r = run(sock, "alias", "list")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSES", "VMAC", "MASTER",
                                "MEMBERS"]
    assert lines[1].split()[:4] == ["web", "192.0.2.100,2001:db8::100",
                                    "02:00:5e:00:01:01", "m1"]
    assert "1 up / 2" in lines[1]
    # Columns line up although names differ in length.
    vmac_col = lines[0].index("VMAC")
    assert lines[1][vmac_col:].startswith("02:00:5e")
    assert lines[2][vmac_col:].startswith("02:00:5e")
    assert lines[2].split()[3] == "-"

    r = run(sock, "alias", "show", "web")
    assert r.returncode == 0, r.stderr
    assert "master:           m1" in r.stdout
    m1 = [l for l in r.stdout.splitlines() if l.startswith("m1 ")][0]
    assert m1.split()[-2:] == ["up", "*"]


def test_json_output(stub):
    sock, _ = stub
    r = run(sock, "--json", "alias", "show", "web")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == ALIAS
    assert "\n  " in r.stdout  # Pretty-printed.


def test_flows(stub):
    sock, _ = stub
    r = run(sock, "flows", "br0")
    assert r.returncode == 0, r.stderr
    assert "flows (1):" in r.stdout and "groups (1):" in r.stdout
    assert " cookie=0x1, priority=100,arp actions=NORMAL" in r.stdout


def test_api_error(stub):
    sock, _ = stub
    r = run(sock, "alias", "show", "nope")
    assert r.returncode == 1
    assert "no such resource: /v1/aliases/nope" in r.stderr
    assert "not_found" in r.stderr


def test_raw(stub):
    sock, server = stub
    r = run(sock, "raw", "POST", "/v1/echo", '{"a": 1}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"got": {"a": 1}}
    assert server.seen[-1] == ("POST", "/v1/echo",
                               ("application/json", '{"a": 1}'))
    r = run(sock, "raw", "POST", "/v1/aliases", "{}")
    assert r.returncode == 1
    assert "alias web already exists" in r.stderr


def test_events(stub):
    sock, server = stub
    r = run(sock, "events")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 2
    assert "master alias=web master=m1" in lines[0]
    assert lines[0].split()[0] == "1"
    assert server.seen[-1][1] == "/v1/events?follow=false"
    r = run(sock, "--json", "events", "--follow")
    assert r.returncode == 0, r.stderr
    assert [json.loads(l) for l in r.stdout.splitlines()] == EVENTS
    assert server.seen[-1][1] == "/v1/events?history=true"


def test_usage(stub):
    sock, _ = stub
    for args in (["bogus"], ["bridge"], ["bridge", "show"],
                 ["alias", "show", "../x"], ["flows"], ["raw", "GET"],
                 ["raw", "get", "/v1"], ["--nope", "status"], [],
                 ["events", "--bad"]):
        r = run(sock, *args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert "usage:" in r.stderr
    for args in (["--help"], ["bridge", "--help"], ["alias", "show", "-h"],
                 ["events", "--help"], ["raw", "--help"]):
        r = run(sock, *args)
        assert r.returncode == 0 and "usage:" in r.stdout, args


def test_cannot_connect(tmp_path):
    r = run(str(tmp_path / "missing.sock"), "status")
    assert r.returncode == 3
    assert "cannot connect" in r.stderr


def test_env_socket(stub):
    sock, _ = stub
    r = run(None, "status", env={"VMACD_SOCKET": sock})
    assert r.returncode == 0, r.stderr
    r = run(None, "status", env={"VMACD_SOCKET": sock + ".no"})
    assert r.returncode == 3
    assert sock + ".no" in r.stderr
