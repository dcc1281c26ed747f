"""vmacctl against a real vmacd driving a real OVS bridge: every
subcommand, its table and --json output, exit codes and error messages,
and the switch's flows following the writes."""

import json
import os
import select
import subprocess
import time

from sandbox import run
from topo import ALIAS, BRIDGE, HOSTS, make_topo  # noqa: F401
from vmacd import REPO

VMACCTL = REPO / "build" / "bin" / "vmacctl"

DB = {
    "name": "db",
    "addresses": ["192.0.2.200"],
    "vmac": "02:00:5e:00:02:01",
    "members": [{"name": "m2", "bridge": BRIDGE, "port": "m2-p",
                 "mac": HOSTS["m2"][1], "priority": 120}],
}


def ctl(t, *args, rc=0, input=None):
    """Runs vmacctl against 't''s vmacd; asserts the exit code."""
    proc = subprocess.run([str(VMACCTL), "--socket",
                           t.config["api"]["socket"]] + list(args),
                          capture_output=True, text=True, timeout=30,
                          input=input)
    assert proc.returncode == rc, (args, proc.returncode, proc.stdout,
                                   proc.stderr)
    return proc


def ctl_json(t, *args):
    return json.loads(ctl(t, "--json", *args).stdout)


def test_read_commands(make_topo):
    t = make_topo()
    out = ctl(t, "status").stdout
    assert out.startswith("vmacd ") and BRIDGE in out
    assert ctl_json(t, "status")["counts"]["aliases"] == 1
    out = ctl(t, "alias", "list").stdout.splitlines()
    assert out[0].split()[:4] == ["NAME", "ADDRESSES", "VMAC", "MASTER"]
    assert out[1].split()[0] == ALIAS and out[1].split()[3] == "m1"
    out = ctl(t, "alias", "show", ALIAS).stdout
    assert "master:" in out and "m3-p" in out
    assert ctl_json(t, "alias", "show", ALIAS)["master"] == "m1"
    out = ctl(t, "bridge", "list").stdout
    assert out.splitlines()[1].split()[0] == BRIDGE
    out = ctl(t, "bridge", "show", BRIDGE).stdout
    assert "m1-p" in out and "up0" in out
    out = ctl(t, "flows", BRIDGE).stdout
    assert out.startswith("flows (") and "groups (" in out
    out = ctl(t, "events").stdout
    assert "master_change" in out
    assert ctl(t, "announce", ALIAS).stdout.strip() == \
        "alias %s announced (master m1)" % ALIAS
    # Errors: the API's message, exit 1; usage, exit 2.
    err = ctl(t, "alias", "show", "nope", rc=1).stderr
    assert 'no alias "nope"' in err and "HTTP 404" in err
    ctl(t, "alias", rc=2)
    ctl(t, "alias", "show", "../x", rc=2)
    ctl(t, "frobnicate", rc=2)
    for level in (["--help"], ["alias", "--help"], ["member", "--help"],
                  ["move", "--help"], ["bridge", "--help"],
                  ["events", "--help"], ["announce", "--help"]):
        assert ctl(t, *level).stdout.startswith("usage:")
    t.vmacd.check_logs()


def test_write_commands_change_flows_and_file(make_topo):
    t = make_topo()
    # alias add from stdin.
    out = ctl(t, "alias", "add", "-f", "-", input=json.dumps(DB)).stdout
    assert out.strip() == "alias db added (master m2)"
    cookie = ctl_json(t, "alias", "show", "db")["cookie"]
    flows = t.sb.ofctl("dump-flows", BRIDGE, "cookie=%s/-1" % cookie)
    assert "192.0.2.200" in flows
    # Adding it again: conflict, exit 1, message from the API.
    err = ctl(t, "alias", "add", "-f", "-", input=json.dumps(DB),
              rc=1).stderr
    assert 'alias "db" already exists' in err and "HTTP 409" in err

    # alias set from a file made of "alias show --json" output.
    shown = ctl_json(t, "alias", "show", "db")
    shown["addresses"] = ["192.0.2.201"]
    f = t.sb.dir / "db.json"
    f.write_text(json.dumps(shown))
    ctl(t, "alias", "set", "db", "-f", str(f))
    flows = t.sb.ofctl("dump-flows", BRIDGE, "cookie=%s/-1" % cookie)
    assert "192.0.2.201" in flows and "192.0.2.200" not in flows

    # member add / drain / undrain / remove.
    # (A member needs a MAC, given or learned by probing its ip, before it
    # can be elected.)
    out = ctl(t, "member", "add", "db", "m3", "--bridge", BRIDGE, "--port",
              "m3-p", "--mac", HOSTS["m3"][1], "--priority", "130").stdout
    assert out.strip() == "member m3 of alias db set (master m3)"
    ctl(t, "member", "drain", "db", "m3")
    a = ctl_json(t, "alias", "show", "db")
    assert a["master"] == "m2" and a["members"][1]["state"] == "drained"
    saved = json.loads(t.vmacd.config_path.read_text())
    assert saved["aliases"][1]["members"][1]["drained"] is True
    ctl(t, "member", "undrain", "db", "m3")
    assert ctl_json(t, "alias", "show", "db")["master"] == "m3"
    ctl(t, "member", "remove", "db", "m3")
    assert ctl_json(t, "alias", "show", "db")["master"] == "m2"
    ctl(t, "member", "add", "db", "m9", "--port", "x", rc=2)

    # move: the client's traffic follows.
    out = ctl(t, "move", ALIAS, "m3").stdout
    assert out.strip() == "alias %s moved (master m3)" % ALIAS
    t.wait_answer("m3")
    ctl(t, "move", ALIAS)
    t.wait_answer("m1")
    err = ctl(t, "move", ALIAS, "m9", rc=1).stderr
    assert "no member" in err

    # --if-match.
    etag_bad = '"0000000000000000"'
    err = ctl(t, "--if-match", etag_bad, "alias", "remove", "db",
              rc=1).stderr
    assert "HTTP 412" in err
    ctl(t, "alias", "remove", "db")
    ctl(t, "alias", "show", "db", rc=1)
    assert "192.0.2.201" not in t.sb.ofctl("dump-flows", BRIDGE)
    run([REPO / "build" / "bin" / "vmacd", "--check-config", "--config",
         t.vmacd.config_path])
    t.vmacd.check_logs()


def test_cannot_connect(tmp_path):
    proc = subprocess.run([str(VMACCTL), "--socket",
                           str(tmp_path / "nothing.sock"), "status"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 3
    assert "cannot connect" in proc.stderr


def test_events_follow_shows_failover(make_topo):
    t = make_topo()
    p = subprocess.Popen([str(VMACCTL), "--socket",
                          t.config["api"]["socket"], "events", "--follow"],
                         stdout=subprocess.PIPE, bufsize=0)
    try:
        t.sb.link("m1-p", False)
        t.wait_answer("m2")
        text = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and b"master link down" not in text:
            if select.select([p.stdout], [], [], 0.5)[0]:
                text += os.read(p.stdout.fileno(), 65536)
        lines = text.decode().splitlines()
        assert any("master_change" in ln and "new_master=m2" in ln
                   and "reason=master link down" in ln
                   and "event_to_barrier_ms=" in ln for ln in lines), lines
    finally:
        p.kill()
        p.wait(timeout=10)
