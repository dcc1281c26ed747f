"""The HTTP/JSON API against a real vmacd driving a real OVS bridge.

Every write is checked three ways: the API's reply, the flows on the switch
(ovs-ofctl), and the config file vmacd persists to.  Bad requests must
change none of the three.
"""

import http.client
import json
import random
import signal
import socket
import subprocess
import threading
import time

import pytest

from sandbox import run, wait_until
from topo import ALIAS, ALIAS4, BRIDGE, HOSTS, make_topo  # noqa: F401
from vmacd import SLOW, _UnixHTTPConnection, vmacd_bin

DB = {
    "name": "db",
    "addresses": ["192.0.2.200"],
    "vmac": "02:00:5e:00:02:01",
    "members": [
        {"name": "m2", "bridge": BRIDGE, "port": "m2-p",
         "mac": HOSTS["m2"][1], "ip": HOSTS["m2"][2], "priority": 120},
        {"name": "m3", "bridge": BRIDGE, "port": "m3-p",
         "mac": HOSTS["m3"][1], "ip": HOSTS["m3"][2], "priority": 110},
    ],
}

# Fields of GET /v1/aliases/X that are state, not configuration.
STATE_KEYS = ("master", "state", "cookie", "group_id", "announcements_sent",
              "generation", "pending_bridges", "vlan", "vlan_conflict")
MEMBER_STATE_KEYS = ("state", "master", "bridge_known", "probe_state",
                     "vlan", "vlan_error")


def request(vmacd, method, path, body=None, raw=None, headers=None,
            timeout=10):
    """One request; returns (status, headers dict, decoded JSON or None).
    'raw' (bytes) is sent as is; 'body' is JSON-encoded."""
    conn = _UnixHTTPConnection(vmacd.config["api"]["socket"],
                               timeout * SLOW)
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
    if data is not None:
        hdrs.setdefault("Content-Type", "application/json")
    try:
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        payload = resp.read()
    finally:
        conn.close()
    decoded = json.loads(payload) if payload.strip() else None
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, \
        decoded


def raw_request(vmacd, method, path, data, headers):
    """Sends headers, then as much of 'data' as the server reads (it may
    answer and close early, e.g. 413); returns (status, headers, JSON)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10 * SLOW)
    sock.connect(vmacd.config["api"]["socket"])
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" \
        % (method, path)
    for k, v in dict(headers, **{"Content-Length": str(len(data))}).items():
        head += "%s: %s\r\n" % (k, v)
    sock.sendall(head.encode() + b"\r\n")
    try:
        sock.sendall(data)
    except OSError:
        pass
    buf = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    sock.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
    return status, hdrs, json.loads(body) if body.strip() else None


def restart_keeping_file(vmacd):
    """Restarts vmacd on the file it persisted (Vmacd.start() writes
    vmacd.config to the file first)."""
    vmacd.config = file_config(vmacd)
    vmacd.restart()


def config_part(alias):
    """An alias from the API without its state fields."""
    a = {k: v for k, v in alias.items() if k not in STATE_KEYS}
    a["members"] = [{k: v for k, v in m.items()
                     if k not in MEMBER_STATE_KEYS}
                    for m in alias["members"]]
    return a


def api_aliases(vmacd):
    status, body = vmacd.api("GET", "/v1/aliases")
    assert status == 200
    return [config_part(a) for a in body["aliases"]]


def file_config(vmacd):
    return json.loads(vmacd.config_path.read_text())


def dump_flows(t):
    flows = t.sb.ofctl("dump-flows", "--no-stats", BRIDGE)
    groups = t.sb.ofctl("dump-groups", BRIDGE)
    return (sorted(line.strip() for line in flows.splitlines()
                   if "cookie=" in line),
            sorted(line.strip() for line in groups.splitlines()
                   if "group_id" in line))


def alias_flows(t, name):
    status, alias = t.vmacd.api("GET", "/v1/aliases/%s" % name)
    assert status == 200
    out = t.sb.ofctl("dump-flows", "--no-stats", BRIDGE,
                     "cookie=%s/-1" % alias["cookie"])
    return [line.strip() for line in out.splitlines() if "cookie=" in line
            or "priority=" in line]


def assert_persisted(vmacd):
    """The file parses, is valid for vmacd, and equals the API's state."""
    cfg = file_config(vmacd)
    assert cfg["aliases"] == api_aliases(vmacd)
    run([vmacd_bin(), "--check-config", "--config", vmacd.config_path])


def test_index_lists_every_route(make_topo):
    t = make_topo()
    status, _, body = request(t.vmacd, "GET", "/v1")
    assert status == 200
    routes = {(r["method"], r["path"]) for r in body["routes"]}
    for route in [("GET", "/v1/status"), ("GET", "/v1/aliases"),
                  ("POST", "/v1/aliases"), ("GET", "/v1/aliases/{name}"),
                  ("PUT", "/v1/aliases/{name}"),
                  ("DELETE", "/v1/aliases/{name}"),
                  ("PUT", "/v1/aliases/{name}/members/{member}"),
                  ("DELETE", "/v1/aliases/{name}/members/{member}"),
                  ("POST", "/v1/aliases/{name}/move"),
                  ("POST", "/v1/aliases/{name}/members/{member}/drain"),
                  ("POST", "/v1/aliases/{name}/members/{member}/undrain"),
                  ("POST", "/v1/aliases/{name}/announce"),
                  ("GET", "/v1/bridges"), ("GET", "/v1/bridges/{name}"),
                  ("GET", "/v1/bridges/{name}/flows"),
                  ("GET", "/v1/events")]:
        assert route in routes
    # Reads.
    assert request(t.vmacd, "GET", "/v1/status")[0] == 200
    status, _, body = request(t.vmacd, "GET", "/v1/bridges")
    assert [b["name"] for b in body["bridges"]] == [BRIDGE]
    status, _, br = request(t.vmacd, "GET", "/v1/bridges/%s" % BRIDGE)
    assert br["connected"] and ALIAS in br["aliases"]
    assert {p["name"] for p in br["ports"]} >= {"m1-p", "m2-p", "up0"}
    status, _, fl = request(t.vmacd, "GET", "/v1/bridges/%s/flows" % BRIDGE)
    assert status == 200 and fl["flows"]
    status, hdrs, al = request(t.vmacd, "GET", "/v1/aliases/%s" % ALIAS)
    assert status == 200 and al["master"] == "m1"
    assert hdrs["etag"].startswith('"') and len(hdrs["etag"]) == 18
    status, _, _ = request(t.vmacd, "POST", "/v1/aliases/%s/announce"
                           % ALIAS)
    assert status == 202
    t.vmacd.check_logs()


def test_alias_create_replace_delete(make_topo):
    t = make_topo()
    before = api_aliases(t.vmacd)

    status, hdrs, body = request(t.vmacd, "POST", "/v1/aliases", DB)
    assert status == 201, body
    assert hdrs["location"] == "/v1/aliases/db"
    assert body["master"] == "m2" and body["pending_bridges"] == []
    # The reply came after the switch confirmed: the flows are there now.
    flows = alias_flows(t, "db")
    assert any("192.0.2.200" in f for f in flows), flows
    assert_persisted(t.vmacd)
    assert len(file_config(t.vmacd)["aliases"]) == len(before) + 1

    # Replace: new address; the old one's flows go.
    new = dict(DB, addresses=["192.0.2.201"])
    status, hdrs, body = request(t.vmacd, "PUT", "/v1/aliases/db", new)
    assert status == 200, body
    assert body["addresses"] == ["192.0.2.201"]
    flows = alias_flows(t, "db")
    assert any("192.0.2.201" in f for f in flows)
    assert not any("192.0.2.200" in f for f in flows)
    assert_persisted(t.vmacd)

    # Delete.
    status, _, body = request(t.vmacd, "DELETE", "/v1/aliases/db")
    assert status == 200 and body["deleted"] == "db"
    assert "192.0.2.201" not in t.sb.ofctl("dump-flows", BRIDGE)
    assert file_config(t.vmacd)["aliases"] == before
    assert request(t.vmacd, "GET", "/v1/aliases/db")[0] == 404
    t.vmacd.check_logs()


def test_members_drain_move_and_restart(make_topo):
    t = make_topo()
    path = "/v1/aliases/%s" % ALIAS

    # Member replace: m3 gets the highest priority -> preempt.
    m3 = {"bridge": BRIDGE, "port": "m3-p", "mac": HOSTS["m3"][1],
          "ip": HOSTS["m3"][2], "priority": 200}
    status, _, body = request(t.vmacd, "PUT", path + "/members/m3", m3)
    assert status == 200, body
    assert body["master"] == "m3"
    t.wait_answer("m3")
    # Member delete, then add back (201).
    status, _, body = request(t.vmacd, "DELETE", path + "/members/m3")
    assert status == 200 and body["master"] == "m1"
    assert [m["name"] for m in body["members"]] == ["m1", "m2"]
    t.wait_answer("m1")
    m3["priority"] = 50
    status, _, body = request(t.vmacd, "PUT", path + "/members/m3", m3)
    assert status == 201 and body["master"] == "m1"
    assert_persisted(t.vmacd)

    # Drain the master: m2 takes over, the file says so.
    status, _, body = request(t.vmacd, "POST", path + "/members/m1/drain")
    assert status == 200, body
    assert body["master"] == "m2"
    assert [m["state"] for m in body["members"]][0] == "drained"
    t.wait_answer("m2")
    m1 = file_config(t.vmacd)["aliases"][0]["members"][0]
    assert m1["name"] == "m1" and m1["drained"] is True
    assert_persisted(t.vmacd)
    # A drained member cannot be moved to.
    status, _, body = request(t.vmacd, "POST", path + "/move",
                              {"member": "m1"})
    assert status == 409 and body["error"]["code"] == "not_eligible"

    # Drained survives a restart.
    restart_keeping_file(t.vmacd)
    t.wait_settled("m2", timeout=15)
    t.wait_answer("m2")

    # Move to m3, then to "the best other" (m2).
    status, _, body = request(t.vmacd, "POST", path + "/move",
                              {"member": "m3"})
    assert status == 200 and body["master"] == "m3", body
    t.wait_answer("m3")
    status, _, body = request(t.vmacd, "POST", path + "/move", {})
    assert status == 200 and body["master"] == "m2", body
    t.wait_answer("m2")

    # Undrain: m1 is eligible again, but a moved master stays until it
    # fails (preemption is suspended after a move); move it back.
    status, _, body = request(t.vmacd, "POST", path + "/members/m1/undrain")
    assert status == 200 and body["master"] == "m2", body
    assert body["members"][0]["state"] == "up"
    status, _, body = request(t.vmacd, "POST", path + "/move",
                              {"member": "m1"})
    assert status == 200 and body["master"] == "m1", body
    t.wait_answer("m1")
    assert "drained" not in file_config(t.vmacd)["aliases"][0]["members"][0]
    assert_persisted(t.vmacd)
    t.vmacd.check_logs()


def test_etag_if_match(make_topo):
    t = make_topo()
    path = "/v1/aliases/%s" % ALIAS
    status, hdrs, alias = request(t.vmacd, "GET", path)
    etag = hdrs["etag"]
    body = config_part(alias)
    body["preempt_delay_ms"] = 10

    status, _, err = request(t.vmacd, "PUT", path, body,
                             headers={"If-Match": '"0000000000000000"'})
    assert status == 412 and err["error"]["code"] == "precondition_failed"
    status, hdrs2, new = request(t.vmacd, "PUT", path, body,
                                 headers={"If-Match": etag})
    assert status == 200 and new["preempt_delay_ms"] == 10
    assert hdrs2["etag"] != etag
    # The old tag is stale now, for PUT and DELETE alike.
    assert request(t.vmacd, "PUT", path, body,
                   headers={"If-Match": etag})[0] == 412
    assert request(t.vmacd, "DELETE", path,
                   headers={"If-Match": etag})[0] == 412
    assert request(t.vmacd, "GET", path)[1]["etag"] == hdrs2["etag"]
    status, _, _ = request(t.vmacd, "DELETE", path,
                           headers={"If-Match": "*"})
    assert status == 200
    t.vmacd.check_logs()


def _bad_requests():
    """(name, method, path, raw body or JSON body, headers, status, code,
    message substring)."""
    a = "/v1/aliases/%s" % ALIAS
    ct = {"Content-Type": "application/json"}
    good_member = {"bridge": BRIDGE, "port": "c1-p", "priority": 10,
                   "mac": "02:00:00:00:00:99"}
    return [
        ("malformed json", "POST", "/v1/aliases", b"{", ct, 400,
         "invalid_json", "invalid JSON"),
        ("truncated json", "POST", "/v1/aliases", b'{"name": "x", "addr',
         ct, 400, "invalid_json", "invalid JSON"),
        ("not an object", "POST", "/v1/aliases", b"[1, 2]", ct, 400,
         "invalid_json", "must be a JSON object"),
        ("duplicate keys", "POST", "/v1/aliases",
         b'{"name": "x", "name": "y"}', ct, 400, "invalid_json",
         "duplicate"),
        ("wrong content type", "POST", "/v1/aliases", json.dumps(DB)
         .encode(), {"Content-Type": "text/plain"}, 415,
         "unsupported_media_type", "application/json"),
        ("huge body", "POST", "/v1/aliases",
         b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}', ct, 413,
         "payload_too_large", "exceeds"),
        ("missing body", "POST", "/v1/aliases", None, {}, 400,
         "invalid_value", "requires an alias"),
        ("unknown field", "POST", "/v1/aliases", dict(DB, colour="red"),
         None, 400, "unknown_field", 'unknown key "colour"'),
        ("unknown member field", "POST", "/v1/aliases",
         dict(DB, members=[dict(DB["members"][0], prio=1)]), None, 400,
         "unknown_field", 'unknown key "prio"'),
        ("missing vmac", "POST", "/v1/aliases",
         {k: v for k, v in DB.items() if k != "vmac"}, None, 400,
         "missing_field", '"vmac"'),
        ("wrong type", "POST", "/v1/aliases", dict(DB, preempt="yes"),
         None, 400, "invalid_value", "expected true or false"),
        ("wrong type name", "POST", "/v1/aliases", dict(DB, name=5), None,
         400, "invalid_value", "expected a string"),
        ("invalid ip", "POST", "/v1/aliases",
         dict(DB, addresses=["192.0.2.300"]), None, 400, "invalid_value",
         "192.0.2.300"),
        ("multicast ip", "POST", "/v1/aliases",
         dict(DB, addresses=["224.0.0.1"]), None, 400, "invalid_value",
         "224.0.0.1"),
        ("invalid mac", "POST", "/v1/aliases",
         dict(DB, vmac="02:00:5e:00:02"), None, 400, "invalid_value",
         "vmac"),
        ("multicast vmac", "POST", "/v1/aliases",
         dict(DB, vmac="01:00:5e:00:00:01"), None, 400, "invalid_value",
         "multicast"),
        ("priority out of range", "POST", "/v1/aliases",
         dict(DB, members=[dict(DB["members"][0], priority=256)]), None,
         400, "invalid_value", "out of range"),
        ("name exists", "POST", "/v1/aliases", dict(DB, name=ALIAS), None,
         409, "conflict", "already exists"),
        ("duplicate address", "POST", "/v1/aliases",
         dict(DB, addresses=[ALIAS4]), None, 409, "conflict",
         "already used by alias"),
        ("duplicate vmac", "POST", "/v1/aliases",
         dict(DB, vmac="02:00:5e:00:01:01"), None, 409, "conflict",
         "already the VMAC"),
        ("member ip is an alias address", "PUT", a + "/members/m9",
         dict(good_member, ip=ALIAS4), None, 409, "conflict",
         "is an address of alias"),
        ("member port used twice", "PUT", a + "/members/m9",
         dict(good_member, port="m1-p"), None, 409, "conflict",
         "already used by member"),
        ("rename in PUT", "PUT", a, dict(DB, name="other"), None, 400,
         "invalid_value", "renaming"),
        ("member name mismatch", "PUT", a + "/members/m9",
         dict(good_member, name="m8"), None, 400, "invalid_value",
         "renaming"),
        ("wrong method", "PATCH", a, {"preempt": False}, None, 405,
         "method_not_allowed", "not allowed"),
        ("wrong method on collection", "DELETE", "/v1/aliases", None, {},
         405, "method_not_allowed", "not allowed"),
        ("unknown alias", "PUT", "/v1/aliases/nope", DB, None, 404,
         "not_found", "no alias"),
        ("unknown member drain", "POST", a + "/members/m9/drain", None, {},
         404, "not_found", "no member"),
        ("unknown member move", "POST", a + "/move", {"member": "m9"},
         None, 404, "not_found", "no member"),
        ("move bad field", "POST", a + "/move", {"to": "m2"}, None, 400,
         "unknown_field", "to"),
        ("drain with fields", "POST", a + "/members/m2/drain",
         {"now": True}, None, 400, "unknown_field", "now"),
        ("if-match mismatch", "DELETE", a, None,
         {"If-Match": '"deadbeefdeadbeef"'}, 412, "precondition_failed",
         "does not match"),
        ("path traversal", "GET", "/v1/aliases/..", None, {}, 400,
         "invalid_parameter", '".."'),
        ("encoded traversal", "DELETE", "/v1/aliases/%2e%2e%2fetc", None,
         {}, 400, "invalid_parameter", "may contain only"),
        ("too deep", "GET", "/v1/aliases/web/x/y", None, {}, 404,
         "not_found", "no such resource"),
        ("body on DELETE", "DELETE", a, {"x": 1}, None, 400, "bad_request",
         "takes no request body"),
        # Names that no path could name (issue 16): refused in bodies too.
        ("alias named .", "POST", "/v1/aliases", dict(DB, name="."), None,
         400, "invalid_value", '"." cannot be a name'),
        ("alias named ..", "POST", "/v1/aliases", dict(DB, name=".."), None,
         400, "invalid_value", '".." cannot be a name'),
        ("alias named empty", "POST", "/v1/aliases", dict(DB, name=""),
         None, 400, "invalid_value", "cannot be empty"),
        ("alias name with a control character", "POST", "/v1/aliases",
         dict(DB, name="db\x01"), None, 400, "invalid_value",
         "may only use letters"),
        ("member named ..", "POST", "/v1/aliases",
         dict(DB, members=[dict(DB["members"][0], name="..")]), None, 400,
         "invalid_value", '".." cannot be a name'),
        ("member named .", "PUT", a + "/members/.", good_member, None, 400,
         "invalid_parameter", '"."'),
        ("bridge named ..", "POST", "/v1/aliases",
         dict(DB, members=[dict(DB["members"][0], bridge="..")]), None,
         400, "invalid_value", "not a valid interface name"),
        ("port with a control character", "PUT", a + "/members/m9",
         dict(good_member, port="p\x7f"), None, 400, "invalid_value",
         "not a valid interface name"),
        ("member without mac, not probed", "PUT", a + "/members/m9",
         {"bridge": BRIDGE, "port": "c1-p"}, None, 400, "invalid_value",
         'needs "mac"'),
        ("member without mac, probe none", "PUT", a + "/members/m9",
         {"bridge": BRIDGE, "port": "c1-p", "ip": "192.0.2.99",
          "probe": {"type": "none"}}, None, 400, "invalid_value",
         'needs "mac"'),
        ("ipv4 link-local alias address", "POST", "/v1/aliases",
         dict(DB, addresses=["169.254.10.1"]), None, 400, "invalid_value",
         "link-local"),
        ("NUL in the path", "DELETE", a + "\0../x", None, {}, 400,
         "bad_request", "0x00"),
        ("control byte in the path", "GET", a + "\x01", None, {}, 400,
         "bad_request", "0x01"),
    ]


def test_bad_requests_change_nothing(make_topo):
    t = make_topo()
    file_before = t.vmacd.config_path.read_bytes()
    state_before = api_aliases(t.vmacd)
    flows_before = dump_flows(t)
    cases = _bad_requests()
    assert len(cases) >= 25
    for name, method, path, body, headers, status, code, msg in cases:
        headers = dict(headers or {})
        if body is None:
            body = b""
        elif not isinstance(body, bytes):
            body = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        got, _, reply = raw_request(t.vmacd, method, path, body, headers)
        assert got == status, (name, got, reply)
        err = reply["error"]
        assert err["code"] == code, (name, err)
        assert msg in err["message"], (name, err)
        assert t.vmacd.config_path.read_bytes() == file_before, name
        assert api_aliases(t.vmacd) == state_before, name
    assert dump_flows(t) == flows_before
    t.vmacd.check_logs()


def test_field_names_relative_to_body(make_topo):
    t = make_topo()
    status, _, reply = request(
        t.vmacd, "POST", "/v1/aliases",
        dict(DB, members=[DB["members"][0],
                          dict(DB["members"][1], mac="zz")]))
    assert status == 400
    assert reply["error"]["field"] == "members[1].mac"
    status, _, reply = request(t.vmacd, "POST", "/v1/aliases",
                               dict(DB, vmac="02:00:5e:00:01:01"))
    assert reply["error"]["field"] == "vmac"


def test_sequence_persists_and_survives_restart(make_topo):
    t = make_topo()
    v = t.vmacd
    assert request(v, "POST", "/v1/aliases", DB)[0] == 201
    for i in range(5):
        name = "svc%d" % i
        body = {"name": name, "addresses": ["198.51.100.%d" % (10 + i),
                                            "2001:db8:1::%d" % (10 + i)],
                "vmac": "02:00:5e:00:03:%02x" % i,
                "preempt": i % 2 == 0,
                "members": [{"name": "m1", "bridge": BRIDGE,
                             "port": "m1-p", "mac": HOSTS["m1"][1],
                             "priority": 100 + i}]}
        assert request(v, "POST", "/v1/aliases", body)[0] == 201
    assert request(v, "DELETE", "/v1/aliases/svc2")[0] == 200
    assert request(v, "POST", "/v1/aliases/db/members/m3/drain")[0] == 200
    assert request(v, "PUT", "/v1/aliases/svc4/members/m2",
                   {"bridge": BRIDGE, "port": "m2-p",
                    "mac": HOSTS["m2"][1]})[0] == 201
    assert_persisted(v)
    text = v.config_path.read_text()
    assert text.startswith('{\n  "openflow": {') and text.endswith("}\n")
    state = api_aliases(v)
    restart_keeping_file(v)
    t.wait_settled("m1", timeout=15)
    assert api_aliases(v) == state
    assert_persisted(v)
    v.check_logs()


def test_sigkill_during_writes_never_breaks_the_file(make_topo):
    t = make_topo()
    v = t.vmacd
    rng = random.Random(4)
    for round_ in range(6):
        stop = threading.Event()

        def writer():
            i = 0
            while not stop.is_set():
                i += 1
                # Below m1's priority (150), however many writes land.
                body = {"bridge": BRIDGE, "port": "m3-p",
                        "mac": HOSTS["m3"][1], "priority": i % 140}
                try:
                    request(v, "PUT", "/v1/aliases/%s/members/m3" % ALIAS,
                            body, timeout=2)
                except (OSError, http.client.HTTPException):
                    pass

        th = threading.Thread(target=writer)
        th.start()
        time.sleep(rng.uniform(0.05, 0.4))
        v.stop(signal.SIGKILL)
        stop.set()
        th.join(timeout=10)
        cfg = json.loads(v.config_path.read_text())
        assert [a["name"] for a in cfg["aliases"]] == [ALIAS], round_
        run([vmacd_bin(), "--check-config", "--config", v.config_path])
        leftovers = list(v.config_path.parent.glob(".%s.tmp*"
                                                   % v.config_path.name))
        # A temporary file may be left by the kill, never the target.
        for f in leftovers:
            f.unlink()
        v.proc = None
        v.config = cfg
        v.start()
    t.wait_settled("m1", timeout=15)


def test_concurrent_clients(make_topo):
    t = make_topo()
    v = t.vmacd
    for i in range(5):
        body = {"name": "c%d" % i, "addresses": ["203.0.113.%d" % (10 + i)],
                "vmac": "02:00:5e:00:04:%02x" % i,
                "members": [{"name": "m1", "bridge": BRIDGE, "port": "m1-p",
                             "mac": HOSTS["m1"][1]},
                            {"name": "m2", "bridge": BRIDGE,
                             "port": "m2-p", "mac": HOSTS["m2"][1]}]}
        assert request(v, "POST", "/v1/aliases", body)[0] == 201
    errors = []
    counts = [0] * 50
    deadline = time.monotonic() + 3

    def client(k):
        rng = random.Random(k)
        while time.monotonic() < deadline:
            alias = "c%d" % (k % 5)
            try:
                if k % 2:
                    st, _, body = request(v, "GET", "/v1/aliases/%s" % alias)
                    ok = st == 200
                elif k % 4 == 0:
                    st, _, body = request(
                        v, "PUT", "/v1/aliases/%s/members/m2" % alias,
                        {"bridge": BRIDGE, "port": "m2-p",
                         "mac": HOSTS["m2"][1],
                         "priority": rng.randrange(256)})
                    ok = st in (200, 201)
                else:
                    action = rng.choice(["drain", "undrain"])
                    st, _, body = request(
                        v, "POST", "/v1/aliases/%s/members/m1/%s"
                        % (alias, action))
                    ok = st == 200
                if not ok:
                    errors.append((k, st, body))
                counts[k] += 1
            except (OSError, http.client.HTTPException) as e:
                errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,))
               for k in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=30)
    assert not errors, errors[:5]
    assert all(counts), counts
    assert_persisted(v)
    br = v.api("GET", "/v1/bridges/%s" % BRIDGE)[1]
    wait_until(lambda: v.api("GET", "/v1/bridges/%s" % BRIDGE)[1]
               ["flowtab"]["synced"], 5 * SLOW)
    assert br["connected"]
    v.check_logs()


def test_write_pending_while_bridge_disconnected(make_topo):
    t = make_topo()
    v = t.vmacd
    # Point the bridge at nothing: vmacd loses it.
    t.sb.vsctl("set-controller", BRIDGE, "unix:/nonexistent")
    wait_until(lambda: not v.api("GET", "/v1/bridges/%s" % BRIDGE)[1]
               ["connected"], 10 * SLOW)
    status, _, body = request(v, "POST", "/v1/aliases", DB)
    assert status == 201 and body["pending_bridges"] == [BRIDGE]
    v.check_logs(allowed=[r"bridge br0 disconnected",
                          r"connection closed"])


def test_events_show_failover_with_reason_and_timing(make_topo):
    t = make_topo()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10 * SLOW)
    sock.connect(t.config["api"]["socket"])
    sock.sendall(b"GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += sock.recv(4096)
    assert buf.startswith(b"HTTP/1.1 200")
    t.sb.link("m1-p", False)
    deadline = time.monotonic() + 10 * SLOW
    event = None
    while time.monotonic() < deadline and event is None:
        buf += sock.recv(4096)
        for line in buf.split(b"\n"):
            line = line.strip()
            if not line.startswith(b"{"):
                continue
            e = json.loads(line)
            if e.get("type") == "master_change":
                event = e
    sock.close()
    assert event is not None
    assert event["alias"] == ALIAS and event["old_master"] == "m1"
    assert event["new_master"] == "m2"
    assert event["reason"] == "master link down"
    assert 0 <= event["event_to_barrier_ms"] < 1000
    t.wait_answer("m2")
