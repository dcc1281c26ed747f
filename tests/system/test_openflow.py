"""The OpenFlow channel against a real ovs-vswitchd (the Foundation issue).

Bridges connect to vmacd (passive unix and TCP, and vmacd as the active
side), port changes reach vmacd's port table, vmacd restarts are picked up by
OVS, and misbehaving peers (fakeswitch.py) are disconnected one by one while
a real bridge stays connected with its flows.  Also SIGHUP reloads and the
command line.  Every wait polls with a deadline.
"""

import json
import signal
import socket
import struct
import subprocess
import threading
import time

from fakeswitch import (ERR_HELLO_FAILED, ERROR, HFC_INCOMPATIBLE, OFP10,
                        OFP15, PPR_MODIFY, PS_LINK_DOWN, FakeSwitch, header,
                        hello, message)
from sandbox import REPO, wait_until
from vmacd import SLOW, of_socket, vmacd_bin

# Generous: a loaded 2-core machine, and valgrind (SLOW).
DEADLINE = 15 * SLOW

WEB = {
    "name": "web",
    "addresses": ["192.0.2.100"],
    "vmac": "02:00:5e:00:01:01",
    "members": [{"name": "m1", "bridge": "br0", "port": "m1-p",
                 "mac": "02:00:00:00:00:11", "ip": "192.0.2.11",
                 "priority": 100}],
}
DB = {
    "name": "db",
    "addresses": ["192.0.2.200"],
    "vmac": "02:00:5e:00:01:02",
    "members": [],
}

def dpid_of(sandbox, bridge):
    return sandbox.vsctl("get", "bridge", bridge, "datapath_id").strip() \
        .strip('"')


def _controller_row(sandbox, bridge):
    """OVS's Controller row of 'bridge' as {column: value}."""
    uuid = sandbox.vsctl("get", "bridge", bridge, "controller").strip() \
        .strip("[]")
    if not uuid:
        return {}
    out = sandbox.vsctl("--columns=is_connected,role", "list", "controller",
                        uuid)
    row = {}
    for line in out.splitlines():
        key, _, value = line.partition(":")
        row[key.strip()] = value.strip()
    return row


def ports_by_name(bridge_json):
    return {p["name"]: p for p in bridge_json["ports"]}


def api_bridge(vmacd, name):
    status, body = vmacd.api("GET", "/v1/bridges/%s" % name)
    assert status == 200, (status, body)
    return body


def wait_port(vmacd, bridge, port, predicate, what):
    """Polls vmacd's port table until predicate(port JSON or None)."""
    def check():
        ports = ports_by_name(api_bridge(vmacd, bridge))
        return predicate(ports.get(port))
    wait_until(check, DEADLINE, 0.05, what)


def flow_count(sandbox, bridge):
    out = sandbox.ofctl("dump-flows", bridge)
    return len([line for line in out.splitlines() if "cookie=" in line])


def start_with_bridges(sandbox, vmacd_factory, vmacd_config, bridges=("br0",),
                       **config):
    """Adds the bridges (controller: vmacd's punix socket), starts vmacd and
    waits until they are connected.  Returns the Vmacd."""
    for b in bridges:
        sandbox.add_bridge(b, "unix:%s" % of_socket(sandbox))
    # Listed, so that the members' bridges are known before they connect.
    d = vmacd_factory(vmacd_config(bridges=bridges, **config))
    d.start()
    for b in bridges:
        d.wait_bridge(b, DEADLINE)
    return d


def check_bridge_view(sandbox, vmacd, name, ovs_status=True):
    """vmacd's view of bridge 'name' matches OVS's.  With 'ovs_status', OVS
    must also report the controller connected (OVS only tracks that for
    active controller targets, not for punix:/ptcp: ones)."""
    b = vmacd.wait_bridge(name, DEADLINE)
    assert b["name"] == name
    assert b["datapath_id"] == dpid_of(sandbox, name)
    assert b["openflow_version"] == "OpenFlow15"
    ovs_ports = sandbox.port_desc(name)
    ours = ports_by_name(b)
    assert set(ours) == set(ovs_ports), (ours, ovs_ports)
    for pname, p in ovs_ports.items():
        assert ours[pname]["number"] == p["number"]
        assert ours[pname]["mac"] == p["mac"]
    if not ovs_status:
        return
    wait_until(lambda: _controller_row(sandbox, name).get("is_connected")
               == "true", DEADLINE, 0.2, "OVS reports %s connected" % name)


# Connecting.

def test_bridge_connects(sandbox, vmacd_factory, vmacd_config):
    sandbox.add_bridge("br0", "unix:%s" % of_socket(sandbox))
    sandbox.add_host("h1", "br0", "h1-p", "02:00:00:00:00:01",
                     "192.0.2.1/24")
    d = vmacd_factory(vmacd_config())
    d.start()
    check_bridge_view(sandbox, d, "br0")
    b = api_bridge(d, "br0")
    assert ports_by_name(b)["br0"]["number"] == "LOCAL"
    assert ports_by_name(b)["h1-p"]["number"] == 1
    assert b["connects"] == 1
    assert _controller_row(sandbox, "br0").get("role") == "other"
    status, st = d.api("GET", "/v1/status")
    assert status == 200 and st["counts"]["bridges_connected"] == 1
    d.check_logs()


def test_two_bridges(sandbox, vmacd_factory, vmacd_config):
    d = start_with_bridges(sandbox, vmacd_factory, vmacd_config,
                           ("br0", "br1"))
    # OVS's is_connected lags by seconds: test_bridge_connects checks it.
    check_bridge_view(sandbox, d, "br0", ovs_status=False)
    check_bridge_view(sandbox, d, "br1", ovs_status=False)
    assert dpid_of(sandbox, "br0") != dpid_of(sandbox, "br1")
    status, body = d.api("GET", "/v1/bridges")
    assert status == 200
    assert [b["name"] for b in body["bridges"]] == ["br0", "br1"]
    assert all(b["connected"] for b in body["bridges"])
    d.check_logs()


def test_port_changes(sandbox, vmacd_factory, vmacd_config):
    d = start_with_bridges(sandbox, vmacd_factory, vmacd_config)

    sandbox.add_host("h1", "br0", "h1-p", "02:00:00:00:00:01",
                     "192.0.2.1/24")
    wait_port(d, "br0", "h1-p", lambda p: p and p["number"] == 1
              and not p["link_down"] and not p["admin_down"], "h1-p added")
    mac = sandbox.port_desc("br0")["h1-p"]["mac"]
    assert ports_by_name(api_bridge(d, "br0"))["h1-p"]["mac"] == mac

    # Switch-side link down: PORT_DOWN and LINK_DOWN.
    sandbox.link("h1-p", False)
    wait_port(d, "br0", "h1-p", lambda p: p and p["link_down"]
              and p["admin_down"], "h1-p down")
    sandbox.link("h1-p", True)
    wait_port(d, "br0", "h1-p", lambda p: p and not p["link_down"]
              and not p["admin_down"], "h1-p up")

    # Host-side link down: LINK_DOWN only.
    sandbox.host_link("h1", False)
    wait_port(d, "br0", "h1-p", lambda p: p and p["link_down"]
              and not p["admin_down"], "h1-p link down (host side)")
    sandbox.host_link("h1", True)
    wait_port(d, "br0", "h1-p", lambda p: p and not p["link_down"],
              "h1-p link up (host side)")

    sandbox.vsctl("del-port", "br0", "h1-p")
    wait_port(d, "br0", "h1-p", lambda p: p is None, "h1-p removed")
    assert set(ports_by_name(api_bridge(d, "br0"))) == {"br0"}
    assert api_bridge(d, "br0")["connects"] == 1
    d.check_logs()


def test_restart_after_sigkill(sandbox, vmacd_factory, vmacd_config):
    d = start_with_bridges(sandbox, vmacd_factory, vmacd_config)
    d.kill()
    assert not d.running()
    d.start()
    started = time.monotonic()
    b = d.wait_bridge("br0", DEADLINE)
    # max_backoff=1000: OVS retries every second.
    assert time.monotonic() - started < 5 * SLOW
    assert b["datapath_id"] == dpid_of(sandbox, "br0")
    assert b["connects"] == 1       # Counted since this process started.
    d.check_logs()


def test_vmacd_connects_to_switch(sandbox, vmacd_factory, vmacd_config):
    path = sandbox.dir / "br0.of.sock"
    sandbox.add_bridge("br0", "punix:%s" % path)
    wait_until(path.exists, DEADLINE, 0.05, "OVS listening on %s" % path)
    d = vmacd_factory(vmacd_config(
        openflow={"listen": ["punix:%s" % of_socket(sandbox)],
                  "connect": ["unix:%s" % path]}))
    d.start()
    check_bridge_view(sandbox, d, "br0", ovs_status=False)
    b = api_bridge(d, "br0")
    assert b["peer"] == "unix:%s" % path
    d.check_logs()


def test_ptcp_listener(sandbox, vmacd_factory, vmacd_config):
    port = 16653
    d = vmacd_factory(vmacd_config(
        openflow={"listen": ["ptcp:%d:127.0.0.1" % port]}),
        netns=sandbox.sw_ns)
    d.start()
    sandbox.add_bridge("br0", "tcp:127.0.0.1:%d" % port)
    check_bridge_view(sandbox, d, "br0")
    assert api_bridge(d, "br0")["peer"].startswith("tcp:127.0.0.1:")
    d.check_logs()


# Misbehaving peers.

def real_bridge_intact(sandbox, d, flows):
    """br0 still connected (never reconnected) with its flows."""
    b = api_bridge(d, "br0")
    assert b["connected"] and b["connects"] == 1, b
    assert flow_count(sandbox, "br0") == flows
    status, _ = d.api("GET", "/v1/status")
    assert status == 200


def test_bad_peers(sandbox, vmacd_factory, vmacd_config):
    sandbox.add_bridge("br0", "unix:%s" % of_socket(sandbox))
    sandbox.add_host("m1", "br0", "m1-p", "02:00:00:00:00:11",
                     "192.0.2.11/24")
    d = vmacd_factory(vmacd_config(
        bridges=["br0"], aliases=[WEB],
        openflow={"listen": ["punix:%s" % of_socket(sandbox)],
                  "inactivity_probe_ms": 1000}))
    d.start()
    d.wait_bridge("br0", DEADLINE)
    wait_until(lambda: api_bridge(d, "br0")["flowtab"]["synced"], DEADLINE,
               0.05, "br0 flows synced")
    flows = flow_count(sandbox, "br0")
    assert flows > 0
    addr = of_socket(sandbox)

    def closed_after(data, versions=None):
        with FakeSwitch(addr) as sw:
            if versions:
                sw.hello(versions)
            sw.send(data)
            assert sw.wait_closed(DEADLINE), "not disconnected"
        real_bridge_intact(sandbox, d, flows)

    # Garbage: a first "message" that is not HELLO, then noise.
    closed_after(bytes([0x47, 0x45, 0x00, 0x10]) + bytes(range(200)))
    # Lengths 0 and 7, before and after HELLO.
    closed_after(header(OFP15, 0, 0, 1))
    closed_after(header(OFP15, 0, 7, 1))
    closed_after(header(OFP15, 2, 7, 1), versions=[OFP15])
    # A valid HELLO, then a message of an unknown type.
    closed_after(message(OFP15, 0xc8, b"", 9), versions=[OFP15])
    # A valid HELLO, then a message in another version.
    closed_after(message(0x04, 2, b"", 9), versions=[OFP15])

    # HELLO with OpenFlow 1.0 only: an ERROR HELLO_FAILED, then closed.
    with FakeSwitch(addr) as sw:
        sw.recv()
        sw.send(hello([OFP10]))
        msg = sw.recv(DEADLINE)
        assert msg is not None and msg[1] == ERROR, msg
        err_type, err_code = struct.unpack_from("!HH", msg[3])
        assert (err_type, err_code) == (ERR_HELLO_FAILED, HFC_INCOMPATIBLE)
        assert msg[0] == OFP10
        assert sw.wait_closed(DEADLINE)
    real_bridge_intact(sandbox, d, flows)

    # Harmless: a flood of PORT_STATUS and replies with unknown xids; the
    # fake switch stays connected.
    with FakeSwitch(addr, dpid=0xfeed0001, name="fake1") as sw:
        sw.handshake()
        d.wait_bridge("fake1", DEADLINE)
        burst = b"".join(
            sw.port_status(PPR_MODIFY, 1, "p1", "02:fe:00:00:01:01",
                           state=PS_LINK_DOWN if i % 2 else 0)
            for i in range(1000))
        unknown = b"".join(message(OFP15, 21, b"", 0x7f000000 + i)
                           for i in range(50))
        assert sw.send(burst + unknown)
        assert sw.serve(0.5), "fake switch disconnected"
        b = api_bridge(d, "fake1")
        assert b["connected"], b
        # The last PORT_STATUS (i = 999) said link down.
        wait_until(lambda: ports_by_name(api_bridge(d, "fake1"))
                   .get("p1", {}).get("link_down"), DEADLINE, 0.05,
                   "fake1 port p1 link down")
        assert sw.serve(0.2)
    real_bridge_intact(sandbox, d, flows)

    d.check_logs(allowed=[
        r"expected HELLO", r"message length \d+ is below 8",
        r"undecodable message", r"differs from negotiated",
        r"version negotiation failed", r"bridge fake1 disconnected",
        # libopenvswitch's own (rate-limited) decoder warning.
        r"ofp_msgs\|WARN\|unknown OpenFlow message",
    ])


def test_same_datapath_id(sandbox, vmacd_factory, vmacd_config):
    """A second connection for a datapath (or a bridge name) that a live
    connection serves does not take it over: it is refused, and the real
    switch keeps its connection.  Only when the serving connection no
    longer answers (a switch that restarted before its old connection was
    known dead) does the newcomer take over."""
    d = start_with_bridges(sandbox, vmacd_factory, vmacd_config)
    addr = of_socket(sandbox)
    real_dpid = api_bridge(d, "br0")["datapath_id"]

    # An impostor for the real bridge (its datapath id, its name): refused
    # at once, since ovs-vswitchd answers; br0's flows stay.
    flows = d.api("GET", "/v1/bridges/br0/flows")[1]["flows"]
    with FakeSwitch(addr, dpid=int(real_dpid, 16), name="br0") as imp:
        imp.handshake()
        assert imp.wait_closed(DEADLINE), "impostor not refused"
    real = api_bridge(d, "br0")
    assert real["connected"] and real["connects"] == 1
    assert d.api("GET", "/v1/bridges/br0/flows")[1]["flows"] == flows

    with FakeSwitch(addr, dpid=0xabc, name="fakeA") as a:
        a.handshake()
        d.wait_bridge("fakeA", DEADLINE)
        # fakeA alive (answering): fakeB is refused, fakeA keeps serving.
        done = threading.Event()
        server = threading.Thread(
            target=lambda: [a.serve(0.1) for _ in iter(done.is_set, True)])
        server.start()
        try:
            with FakeSwitch(addr, dpid=0xabc, name="fakeB") as b:
                b.handshake()
                assert b.wait_closed(DEADLINE), "newcomer not refused"
        finally:
            done.set()
            server.join(DEADLINE)
        assert api_bridge(d, "fakeA")["connected"]
        status = d.api("GET", "/v1/status")[1]
        assert status["counts"]["connections_refused"] == 2

        # fakeA silent: fakeB takes over once fakeA fails to answer.
        with FakeSwitch(addr, dpid=0xabc, name="fakeB") as b:
            b.handshake()
            d.wait_bridge("fakeB", DEADLINE)
            assert a.wait_closed(DEADLINE), "silent connection not closed"
            assert api_bridge(d, "fakeA")["connected"] is False
            assert api_bridge(d, "fakeB")["datapath_id"] == \
                "0000000000000abc"
            assert b.serve(0.3), "newer connection closed"
    real = api_bridge(d, "br0")
    assert real["connected"] and real["connects"] == 1
    d.check_logs(allowed=[r"refused: bridge .* is already served by",
                          r"request xid 0x[0-9a-f]+ timed out",
                          r"the old connection does not answer",
                          r"bridge fake[AB] disconnected"])


# Reload.

def test_sighup(sandbox, vmacd_factory, vmacd_config):
    d = start_with_bridges(sandbox, vmacd_factory, vmacd_config,
                           aliases=[WEB])

    def alias_names():
        status, body = d.api("GET", "/v1/aliases")
        assert status == 200
        return sorted(a["name"] for a in body["aliases"])

    assert alias_names() == ["web"]

    # Invalid: refused, the running config stays.
    d.config_path.write_text('{"aliases": [{"name": "bad"}]')
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "configuration refused" in d.log_text(), DEADLINE,
               0.05, "reload refused")
    assert d.running()
    assert alias_names() == ["web"]
    assert api_bridge(d, "br0")["connected"]

    # Valid and changed: applied.
    cfg = dict(d.config, aliases=[WEB, DB])
    d.config_path.write_text(json.dumps(cfg))
    d.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: alias_names() == ["db", "web"], DEADLINE, 0.05,
               "new config applied")
    assert api_bridge(d, "br0")["connects"] == 1
    d.check_logs(allowed=[r"SIGHUP: configuration refused"])


# Command line.

def run_vmacd(*args, timeout=30):
    return subprocess.run([str(vmacd_bin())] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_command_line(tmp_path):
    version = (REPO / "VERSION").read_text().strip()

    r = run_vmacd("--help")
    assert r.returncode == 0 and "usage: vmacd" in r.stdout
    r = run_vmacd("--version")
    assert r.returncode == 0 and r.stdout.strip() == "vmacd %s" % version
    r = run_vmacd("-V")
    assert r.returncode == 0 and version in r.stdout
    r = run_vmacd("--no-such-option")
    assert r.returncode == 2 and r.stderr
    r = run_vmacd("--log-level", "loud")
    assert r.returncode == 2 and "loud" in r.stderr
    r = run_vmacd("extra-argument")
    assert r.returncode == 2 and "extra-argument" in r.stderr

    # An invalid config at start-up: non-zero, the message on stderr.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({
        "api": {"socket": str(tmp_path / "api.sock")},
        "aliases": [dict(DB, vmac="01:00:5e:00:00:01")]}))
    r = run_vmacd("--config", str(bad))
    assert r.returncode != 0
    assert "bad.json" in r.stderr and "vmac" in r.stderr, r.stderr
    assert not (tmp_path / "api.sock").exists()

    syntax = tmp_path / "syntax.json"
    syntax.write_text("{\n  \"openflow\": {\n}")
    r = run_vmacd("--config", str(syntax))
    assert r.returncode != 0 and "syntax.json:" in r.stderr, r.stderr

    r = run_vmacd("--config", str(tmp_path / "missing.json"))
    assert r.returncode != 0 and "missing.json" in r.stderr

    # A port vmacd cannot listen on: non-zero with the reason.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        cfg = tmp_path / "busy.json"
        cfg.write_text(json.dumps({
            "openflow": {"listen": ["ptcp:%d:127.0.0.1"
                                    % taken.getsockname()[1]]},
            "api": {"socket": str(tmp_path / "api2.sock")}}))
        r = run_vmacd("--config", str(cfg))
        assert r.returncode != 0 and "ptcp:" in r.stderr, r.stderr
    finally:
        taken.close()

    good = tmp_path / "good.json"
    good.write_text(json.dumps(make_config_stub(tmp_path)))
    r = run_vmacd("--check-config", "--config", str(good))
    assert r.returncode == 0 and "valid" in r.stdout, r.stderr


def make_config_stub(tmp_path):
    return {"openflow": {"listen": ["punix:%s" % (tmp_path / "of.sock")]},
            "api": {"socket": str(tmp_path / "api.sock")},
            "aliases": [WEB]}

