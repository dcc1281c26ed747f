"""The API's optional TCP listener: loopback only unless the config says
otherwise, the same API as on the unix socket; the socket's group."""

import grp
import http.client
import json
import os
import socket
import stat
import subprocess

from vmacd import vmacd_bin


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tcp_listener_serves_the_api(sandbox, vmacd_config, vmacd_factory):
    port = free_port()
    cfg = vmacd_config()
    gid = os.getgid()
    group = grp.getgrgid(gid).gr_name
    cfg["api"]["group"] = group
    cfg["api"]["tcp"] = {"address": "127.0.0.1", "port": port}
    v = vmacd_factory(cfg)
    v.start()

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/v1/status")
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 200
    status, via_unix = v.api("GET", "/v1/status")
    assert status == 200 and body["version"] == via_unix["version"]
    conn.request("GET", "/v1/aliases/nope")
    resp = conn.getresponse()
    assert resp.status == 404
    assert json.loads(resp.read())["error"]["code"] == "not_found"
    conn.close()

    st = os.stat(cfg["api"]["socket"])
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == gid
    v.stop()
    v.check_logs()


def test_tcp_listener_refuses_non_loopback(sandbox, vmacd_config):
    cfg = vmacd_config()
    cfg["api"]["tcp"] = {"address": "192.0.2.1", "port": 8080}
    path = sandbox.dir / "nonloop.json"
    path.write_text(json.dumps(cfg))
    p = subprocess.run([str(vmacd_bin()), "--check-config", "--config",
                        str(path)], capture_output=True, text=True,
                       timeout=10)
    assert p.returncode == 1
    assert "api.tcp.address: 192.0.2.1 is not a loopback address" in p.stderr
