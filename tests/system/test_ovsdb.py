"""vmacd's OVSDB side (issue "OVSDB side of OVS"), against the sandbox's
real ovsdb-server and ovs-vswitchd.

- "fail_mode": "secure": a bridge made with a plain "ovs-vsctl add-br" (no
  fail_mode) is set secure, so that with vmacd SIGKILLed the datapath
  still answers ARP for the alias and steers to the master 20 s later
  (past the fail-open that a standalone bridge goes into after about 15 s);
- "fail_mode": "check": vmacd writes nothing, the API reports the bridge
  standalone, and with vmacd killed the alias stops being answered: the
  time bomb the secure mode defuses;
- ovsdb-server killed and started again: vmacd reconnects (API), the
  datapath does not move (flows not re-added, counters go on, no probe
  lost);
- an unreachable remote at start: vmacd says so and still serves
  OpenFlow;
- an ssl: remote (a private ovsdb-server with TLS), and a wrong CA;
- what the API shows of the database: ports' VLAN settings, interfaces'
  iface-id, and a libvirt-style replug (new port name and ofport, same
  iface-id).
"""

import json
import os
import signal
import socket
import time

from sandbox import _pid_alive, run, wait_until
from test_alias_control import assert_kept
from test_alias_datapath import check_arp_reply, exchange
from test_restart import switch_flows
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS4, BRIDGE, HOSTS, VMAC
from vmacd import SLOW, VALGRIND, make_config, of_socket

# ovs-vswitchd goes fail-open 3 inactivity probes (3 x 5 s) after its
# controller went away; this is well past that.
PAST_FAIL_OPEN_S = 20

SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"

# Warnings an OVSDB test may cause on purpose.
OVSDB_DOWN = (r"ovsdb: lost the connection", r"ovsdb: cannot connect")
# Under valgrind a TLS handshake or a snapshot takes the client's thread
# more than a second, which OVS's poll loop reports (timeval module, the
# thread is "ovsdbN").
SLOW_THREAD = (r"\|timeval\(ovsdb\d+\)\|WARN\|",) if VALGRIND else ()


def check_logs(d, allowed=()):
    d.check_logs(allowed=tuple(allowed) + SLOW_THREAD)


def ovsdb_state(t, state):
    """GET /v1/ovsdb if its state is 'state', else None."""
    o = t.ovsdb()
    return o if o["state"] == state else None


def wait_ovsdb(t, state, timeout=15):
    return wait_until(lambda: ovsdb_state(t, state), timeout * SLOW, 0.05,
                      "GET /v1/ovsdb state %s" % state)


def db_fail_mode(sb, bridge=BRIDGE):
    """The Bridge fail_mode column: "secure", "standalone" or ""."""
    out = sb.vsctl("get", "bridge", bridge, "fail_mode").strip()
    return "" if out == "[]" else out


def diff(a, b, path=""):
    """The paths where JSON values 'a' and 'b' differ, for messages."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b))
                for d in diff(a.get(k), b.get(k), "%s.%s" % (path, k))]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in diff(x, y, "%s[%d]" % (path, i))]
    return [] if a == b else ["%s: %r -> %r" % (path, a, b)]


def api_bridge(o, name=BRIDGE):
    (b,) = [b for b in o["bridges"] if b["name"] == name]
    return b


def db_bridge(o, name=BRIDGE):
    (b,) = [b for b in o["database"]["bridges"] if b["name"] == name]
    return b


def test_plain_bridge_set_secure_and_datapath_outlives_vmacd(make_topo):
    t = make_topo(fail_mode="none", ovsdb={})
    o = wait_ovsdb(t, "synced")
    wait_until(lambda: db_fail_mode(t.sb) == "secure", 10 * SLOW, 0.05,
               "br0 fail_mode=secure in OVSDB")
    o = wait_until(lambda: (lambda x: x if api_bridge(x)["fail_mode_sets"]
                            else None)(t.ovsdb()), 5 * SLOW, 0.05,
                   "the API counting the write")
    b = api_bridge(o)
    assert b["in_database"] and b["fail_mode"] == "secure", b
    assert b["fail_mode_sets"] == 1 and b["warning"] is None, b
    assert o["remote"] == t.sb.ovsdb_remote and o["fail_mode"] == "secure"
    sets = [e for e in t.events() if e["type"] == "fail_mode_set"]
    assert [(e["bridge"], e["was"]) for e in sets] == \
        [(BRIDGE, "unset (standalone)")], sets
    assert t.ask(ALIAS4, "udp") == "m1"

    t.vmacd.kill()
    # Nothing to poll for: the point is that this much time passes.
    time.sleep(PAST_FAIL_OPEN_S)
    check_arp_reply(t, exchange(t, "arp"))
    assert t.ask(ALIAS4, "udp") == "m1"
    assert t.ask(ALIAS4, "tcp") == "m1"
    check_logs(t.vmacd)


def test_check_mode_reports_and_changes_nothing(make_topo):
    t = make_topo(fail_mode="none", ovsdb={"fail_mode": "check"})
    o = wait_ovsdb(t, "synced")
    b = api_bridge(o)
    assert b["fail_mode"] == "standalone" and b["fail_mode_sets"] == 0, b
    assert "standalone" in b["warning"], b
    assert db_bridge(o)["fail_mode"] == "standalone"
    assert db_bridge(o)["fail_mode_set"] is False
    assert [e["bridge"] for e in t.events()
            if e["type"] == "fail_mode_not_secure"] == [BRIDGE]
    # Some time for a write that must not come.
    time.sleep(1)
    assert db_fail_mode(t.sb) == ""
    assert not [e for e in t.events() if e["type"] == "fail_mode_set"]
    check_logs(t.vmacd, [r"br0: fail_mode is unset \(standalone\)"])

    # The time bomb: with vmacd gone the standalone bridge goes fail-open
    # and the switch no longer answers for the alias.
    check_arp_reply(t, exchange(t, "arp"))
    t.vmacd.kill()
    wait_until(lambda: exchange(t, "arp") is None,
               (PAST_FAIL_OPEN_S + 20) * SLOW, 0.5,
               "the alias no longer answered (fail-open)")
    assert db_fail_mode(t.sb) == ""


def test_check_mode_secure_bridge_has_no_warning(make_topo):
    t = make_topo(ovsdb={"fail_mode": "check"})
    b = api_bridge(wait_ovsdb(t, "synced"))
    assert b["fail_mode"] == "secure" and b["warning"] is None, b
    check_logs(t.vmacd)


def test_someone_sets_standalone_again(make_topo):
    t = make_topo(ovsdb={})
    wait_ovsdb(t, "synced")
    assert db_fail_mode(t.sb) == "secure"
    t.sb.vsctl("set-fail-mode", BRIDGE, "standalone")
    wait_until(lambda: db_fail_mode(t.sb) == "secure", 10 * SLOW, 0.05,
               "br0 secure again")
    wait_until(lambda: api_bridge(t.ovsdb())["fail_mode_sets"] == 1,
               5 * SLOW, 0.05, "one write")
    sets = [e for e in t.events() if e["type"] == "fail_mode_set"]
    assert [e["was"] for e in sets] == ["standalone"], sets
    check_logs(t.vmacd)


def restart_ovsdb(t, down_s=0.5):
    """Kills ovsdb-server, waits until vmacd noticed, starts it again after
    'down_s' and waits until vmacd is in sync again; returns GET
    /v1/ovsdb and the monotonic time of the restart."""
    t.sb.stop_ovsdb(kill=True)
    o = wait_ovsdb(t, "connecting")
    assert o["database"]["stale"] is True and o["last_error"], o
    time.sleep(down_s)
    t.sb.start_ovsdb()
    restarted = time.monotonic()
    # The IDL backs off up to 8 s between attempts.
    return wait_ovsdb(t, "synced", timeout=20), restarted


def test_ovsdb_restart_moves_nothing(make_topo):
    """vmacd reconnects and changes nothing.  Health probes are off here:
    while ovs-vswitchd has no database it does not run its bridges at all
    (bridge_run() returns early without the OVSDB lock), so OpenFlow
    stops, and on this userspace datapath forwarding stops too; see the
    next test for what that does to the probes."""
    t = make_topo(ovsdb={}, probe={"type": "none"})
    o = wait_ovsdb(t, "synced")
    assert o["connects"] == 1 and o["disconnects"] == 0, o
    t.wait_answer("m1")
    db = t.ovsdb()["database"]
    before = switch_flows(t.sb)
    t_dump = time.monotonic()
    ft = t.bridge()["flowtab"]
    prober = t.prober(interval=0.002, max_s=60)
    try:
        time.sleep(0.3)
        o, restarted = restart_ovsdb(t)
        # ovs-vswitchd reconnects with a backoff of its own.
        t.wait_answer("m1", timeout=20)
        time.sleep(0.5)
    finally:
        result = prober.stop()
    gap = time.monotonic() - t_dump
    after = switch_flows(t.sb)
    # Not one flow re-added, and the counters went on.
    assert_kept(before, after, gap)
    assert set(after) == set(before)
    assert sum(f["n_packets"] for f in after.values()) > \
        sum(f["n_packets"] for f in before.values())
    assert t.bridge()["flowtab"] == ft, \
        "vmacd sent something: %s -> %s" % (ft, t.bridge()["flowtab"])
    assert o["connects"] == 2 and o["disconnects"] == 1, o
    # The same database, nothing written.  (Bridge datapath_id is an
    # ephemeral column: the restarted server has none until ovs-vswitchd
    # writes it again, which may show as snapshots in between.)
    o = wait_until(lambda: (lambda x: x if db_bridge(x)["datapath_id"]
                            else None)(t.ovsdb()), 10 * SLOW, 0.05,
                   "datapath_id back")
    del db["seq"], o["database"]["seq"]
    assert o["database"] == db, diff(db, o["database"])
    assert api_bridge(o)["fail_mode_sets"] == 0
    ev = [e["type"] for e in t.events()
          if e["type"].startswith("ovsdb_")]
    assert ev == ["ovsdb_connected", "ovsdb_disconnected",
                  "ovsdb_connected"], ev
    masters = [e["new_master"] for e in t.events()
               if e["type"] == "master_change"]
    assert masters == ["m1"], masters
    # Every answer came from m1, and answers went on after the restart.
    answered = {seq for seq, _ in result.sent if seq in result.replies}
    assert set(result.answered_by("m1")) == answered
    assert result.first_answer_after("m1", restarted) is not None
    print("ovsdb-server down %.1f s: %d of %d probes lost"
          % (restarted - t_dump, len(result.lost()), len(result.sent)))
    check_logs(t.vmacd, OVSDB_DOWN)


def test_ovsdb_restart_keeps_master_with_health_probes(make_topo):
    """While ovs-vswitchd has no database it runs no bridge and reads no
    OpenFlow: the probes it never read give no verdict, so no member falls
    and the master keeps its role."""
    t = make_topo(ovsdb={})
    wait_ovsdb(t, "synced")
    ft = t.bridge()["flowtab"]
    t0 = time.time()
    restart_ovsdb(t)
    t.wait_settled("m1", timeout=10)
    changes = [(e["old_master"], e["new_master"]) for e in t.events()
               if e["type"] == "master_change" and e["time"] >= t0]
    assert not changes, changes
    assert t.bridge()["flowtab"] == ft


def test_unreachable_remote_at_start(sandbox, vmacd_factory):
    sandbox.add_bridge(BRIDGE, "unix:%s" % of_socket(sandbox))
    remote = "unix:%s" % (sandbox.dir / "nothing-here.sock")
    d = vmacd_factory(make_config(sandbox, [BRIDGE],
                                  ovsdb={"remote": remote}))
    d.start()
    d.wait_bridge(BRIDGE)
    status, o = d.api("GET", "/v1/ovsdb")
    assert status == 200
    wait_until(lambda: d.api("GET", "/v1/ovsdb")[1]["last_error"],
               5 * SLOW, 0.05, "a connection error in the API")
    status, o = d.api("GET", "/v1/ovsdb")
    assert o["state"] == "connecting" and not o["connected"], o
    assert o["last_error"] == "No such file or directory", o
    assert o["database"] is None
    assert api_bridge(o)["in_database"] is False
    # The OpenFlow side works: the bridge is run (its flows installed).
    status, br = d.api("GET", "/v1/bridges/%s" % BRIDGE)
    assert br["flowtab"]["synced"] and br["flowtab"]["flows"] > 0, br
    assert db_fail_mode(sandbox) == "secure"
    warnings = [line for line in d.log_text().splitlines()
                if "|WARN|" in line]
    assert any("cannot connect to %s (No such file or directory)" % remote
               in w for w in warnings), warnings
    check_logs(d, OVSDB_DOWN)


def test_without_ovsdb_nothing_is_checked(make_topo):
    t = make_topo(fail_mode="none")
    o = t.ovsdb()
    assert o["configured"] is False and "not checked" in o["message"], o
    time.sleep(0.5)
    assert db_fail_mode(t.sb) == ""
    lines = [line for line in t.vmacd.log_text().splitlines()
             if "are not checked" in line]
    assert len(lines) == 1 and "|INFO|" in lines[0], lines
    check_logs(t.vmacd)


def test_database_view_and_replug(sandbox, vmacd_factory):
    """The API shows what OVSDB says of ports and interfaces, and follows
    a libvirt-style replug: the same iface-id on a new port."""
    sandbox.add_bridge(BRIDGE, "unix:%s" % of_socket(sandbox))
    port, mac, ip4, _ = HOSTS["m1"]
    sandbox.add_host("m1", BRIDGE, port, mac, ip4 + "/24", tag=10,
                     iface_id="vm-m1")
    sandbox.add_host("c1", BRIDGE, "c1-p", HOSTS["c1"][1])
    sandbox.port_vlan("c1-p", "trunk", "10,20")
    d = vmacd_factory(make_config(sandbox, [BRIDGE],
                                  ovsdb={"remote": sandbox.ovsdb_remote}))
    d.start()

    def view():
        status, o = d.api("GET", "/v1/ovsdb")
        assert status == 200
        if o["state"] != "synced":
            return None
        br = db_bridge(o)
        return {p["name"]: p for p in br["ports"]}, br, o

    ports, br, o = wait_until(view, 10 * SLOW, 0.05, "synced view")
    assert br["controllers"] == ["unix:%s" % of_socket(sandbox)]
    assert len(br["datapath_id"]) == 16
    assert o["database"]["open_vswitch"]["cur_cfg"] >= 1
    m1 = ports[port]
    assert (m1["tag"], m1["trunks"], m1["vlan_mode"]) == (10, [], None)
    (iface,) = m1["interfaces"]
    assert iface["iface_id"] == "vm-m1" and iface["attached_mac"] == mac
    old_ofport = iface["ofport"]
    assert old_ofport == sandbox.port_desc(BRIDGE)[port]["number"]
    c1 = ports["c1-p"]
    assert (c1["tag"], c1["trunks"], c1["vlan_mode"]) == \
        (None, [10, 20], "trunk")
    assert c1["interfaces"][0]["iface_id"] is None

    sandbox.replug("m1", "vnet7")

    def replugged():
        v = view()
        if not v or port in v[0] or "vnet7" not in v[0]:
            return None
        ifc = v[0]["vnet7"]["interfaces"][0]
        return ifc if ifc["ofport"] is not None else None

    iface = wait_until(replugged, 10 * SLOW, 0.05, "the view after replug")
    assert iface["iface_id"] == "vm-m1" and iface["attached_mac"] == mac
    assert iface["ofport"] != old_ofport
    assert iface["ofport"] == sandbox.port_desc(BRIDGE)["vnet7"]["number"]
    assert view()[0]["vnet7"]["tag"] == 10
    check_logs(d)


def _openssl(*args, cwd):
    """Runs openssl in 'cwd' (file names in 'args' are relative to it)."""
    run(["sh", "-c", 'cd "$0" && exec openssl "$@"', cwd] + list(args),
        timeout=60)


def _free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_ssl_remote(sandbox, vmacd_factory, tmp_path):
    """An ssl: remote with vmacd's key, certificate and CA: a private
    ovsdb-server on 127.0.0.1 (no vswitchd needed to see the database and
    write to it); then a CA that did not sign the server's certificate."""
    d = tmp_path
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj",
             "/CN=vmacd test CA", cwd=d)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
             "other-key.pem", "-out", "other-ca.pem", "-days", "2", "-subj",
             "/CN=another CA", cwd=d)
    for n in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                 "%s-key.pem" % n, "-out", "%s.csr" % n, "-subj", "/CN=" + n,
                 cwd=d)
        _openssl("x509", "-req", "-in", "%s.csr" % n, "-CA", "ca.pem",
                 "-CAkey", "ca-key.pem", "-CAcreateserial", "-out",
                 "%s-cert.pem" % n, "-days", "2", cwd=d)
    run(["ovsdb-tool", "create", d / "conf.db", SCHEMA])
    port = _free_tcp_port()
    run(["ovsdb-server", d / "conf.db",
         "--remote=pssl:%d:127.0.0.1" % port,
         "--remote=punix:%s" % (d / "db.sock"),
         "--private-key=%s" % (d / "server-key.pem"),
         "--certificate=%s" % (d / "server-cert.pem"),
         "--ca-cert=%s" % (d / "ca.pem"), "--unixctl=%s" % (d / "ctl"),
         "--pidfile=%s" % (d / "pid"), "--log-file=%s" % (d / "log"),
         "--detach", "--no-chdir", "-vconsole:off", "--syslog-method=null"],
        timeout=20)
    pid = int((d / "pid").read_text())
    try:
        run(["ovs-vsctl", "--timeout=10", "--db=unix:%s" % (d / "db.sock"),
             "--no-wait", "init", "--", "add-br", "br7"])
        ovsdb = {"remote": "ssl:127.0.0.1:%d" % port,
                 "private_key": str(d / "client-key.pem"),
                 "certificate": str(d / "client-cert.pem"),
                 "ca_cert": str(d / "ca.pem")}
        v = vmacd_factory(make_config(sandbox, ["br7"], ovsdb=ovsdb))
        v.start()

        def fail_mode_set():
            o = v.api("GET", "/v1/ovsdb")[1]
            return o if o["state"] == "synced" and \
                api_bridge(o, "br7")["fail_mode"] == "secure" else None
        o = wait_until(fail_mode_set, 10 * SLOW, 0.05, "br7 secure over TLS")
        assert api_bridge(o, "br7")["fail_mode_sets"] == 1
        out = run(["ovs-vsctl", "--db=unix:%s" % (d / "db.sock"), "get",
                   "bridge", "br7", "fail_mode"]).stdout.strip()
        assert out == "secure"
        v.stop()
        check_logs(v)

        # vmacd trusts another CA: the handshake fails, clearly.
        bad = vmacd_factory(make_config(
            sandbox, ["br7"], ovsdb=dict(ovsdb,
                                         ca_cert=str(d / "other-ca.pem"))),
            name="vmacd-bad-ca")
        bad.start()
        o = wait_until(lambda: (lambda x: x if x["last_error"] else None)(
            bad.api("GET", "/v1/ovsdb")[1]), 10 * SLOW, 0.05,
            "a TLS error in the API")
        assert o["state"] == "connecting" and o["database"] is None, o
        assert "certificate verify failed" in bad.log_text()
        bad.stop()
    finally:
        os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _pid_alive(pid), 10, 0.05, "ovsdb-server gone")


def test_member_by_iface_id_through_the_api(make_topo):
    """A member given by iface_id goes through the API and the config file
    (no interface carries it here: no port, not live, the API says why)
    and changes nothing for the other members."""
    t = make_topo(ovsdb={})
    wait_ovsdb(t, "synced")
    body = {"bridge": BRIDGE, "iface_id": "vm-web-4", "priority": 200,
            "mac": "02:00:00:00:00:14"}
    status, alias = t.vmacd.api("PUT", "/v1/aliases/web/members/m4", body)
    assert status == 201, alias
    (m4,) = [m for m in alias["members"] if m["name"] == "m4"]
    assert m4["iface_id"] == "vm-web-4" and m4["port"] is None, m4
    assert "no interface" in m4["port_error"], m4
    assert m4["state"] != "up" and not m4["master"], m4
    assert alias["master"] == "m1"
    saved = json.loads(t.vmacd.config_path.read_text())
    (m4,) = [m for m in saved["aliases"][0]["members"] if m["name"] == "m4"]
    assert m4["iface_id"] == "vm-web-4" and "port" not in m4
    t.wait_settled("m1")
    assert t.ask(ALIAS4, "udp") == "m1"
    # Both at once is refused, with the config's message, and changes
    # nothing.
    status, err = t.vmacd.api("PUT", "/v1/aliases/web/members/m5",
                              dict(body, port="m3-p"))
    assert status == 400, err
    assert "both \"port\" and \"iface_id\"" in err["error"]["message"], err
    assert [m["name"] for m in t.alias()["members"]] == \
        ["m1", "m2", "m3", "m4"]
    check_logs(t.vmacd)
