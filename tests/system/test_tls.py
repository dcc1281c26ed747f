"""TLS (issue 16): OpenFlow over ssl:/pssl: against a real ovs-vswitchd,
with certificates made by ovs-pki in the test's own directory, and the
API's TCP listener with client certificates.

- a switch with a certificate from vmacd's CA connects (its bridge comes up
  over TLS, with the certificate's CN in the API, and gets its flows);
- a switch with a certificate from another CA is refused, and so is one
  that speaks plaintext to the pssl: port;
- a bridge pinned to a certificate CN ("bridges[].peer_cn") refuses a
  switch whose certificate has another CN, and serves one that has it;
- the API over TLS answers a client with a good certificate, and refuses
  one without a certificate, one from another CA, and plaintext.
"""

import http.client
import json
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from sandbox import run, wait_until
from vmacd import SLOW, vmacd_bin

DEADLINE = 15 * SLOW

WEB = {
    "name": "web",
    "addresses": ["192.0.2.100"],
    "vmac": "02:00:5e:00:01:01",
    "members": [{"name": "m1", "bridge": "br0", "port": "m1-p",
                 "mac": "02:00:00:00:00:11", "priority": 100}],
}

pytestmark = pytest.mark.skipif(shutil.which("ovs-pki") is None,
                                reason="needs ovs-pki (openvswitch-common)")


class Pki:
    """An ovs-pki directory: its two CAs, a controller certificate (signed
    by controllerca) and a switch certificate (signed by switchca)."""

    def __init__(self, base):
        self.base = base
        base.mkdir()
        pki = base / "pki"
        log = base / "pki.log"
        run(["ovs-pki", "--dir=%s" % pki, "--log=%s" % log, "init"],
            timeout=120)
        for name, kind in (("ctl", "controller"), ("sw", "switch")):
            subprocess.run(["ovs-pki", "--dir=%s" % pki, "--log=%s" % log,
                            "-b", "req+sign", name, kind], cwd=base,
                           check=True, capture_output=True, timeout=120)
        self.controller_ca = pki / "controllerca" / "cacert.pem"
        self.switch_ca = pki / "switchca" / "cacert.pem"

    def key(self, name):
        return self.base / ("%s-privkey.pem" % name)

    def cert(self, name):
        return self.base / ("%s-cert.pem" % name)

    def tls(self, name, ca):
        return {"private_key": str(self.key(name)),
                "certificate": str(self.cert(name)), "ca_cert": str(ca)}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def limits(vmacd):
    return vmacd.api("GET", "/v1/status")[1]["limits"]


def start_tls_vmacd(sandbox, vmacd_factory, vmacd_config, pki, port,
                    aliases=()):
    """vmacd in the switch's namespace (OVS reaches its 127.0.0.1 there),
    listening on pssl:PORT:127.0.0.1 with pki's controller certificate and
    trusting pki's switch CA."""
    # The aliases' bridge listed (else vmacd warns of a typo at start).
    cfg = vmacd_config(bridges=["br0"] if aliases else [],
                       aliases=list(aliases))
    cfg["openflow"]["listen"] = ["pssl:%d:127.0.0.1" % port]
    cfg["openflow"]["tls"] = pki.tls("ctl", pki.switch_ca)
    v = vmacd_factory(cfg, netns=sandbox.sw_ns)
    v.start()
    return v


def test_switch_with_a_good_certificate_connects(sandbox, vmacd_factory,
                                                 vmacd_config):
    pki = Pki(sandbox.dir / "a")
    port = free_port()
    v = start_tls_vmacd(sandbox, vmacd_factory, vmacd_config, pki, port,
                        aliases=[WEB])
    sandbox.vsctl("set-ssl", pki.key("sw"), pki.cert("sw"),
                  pki.controller_ca)
    sandbox.add_bridge("br0", "ssl:127.0.0.1:%d" % port)

    b = v.wait_bridge("br0", DEADLINE)
    assert b["peer"].startswith("ssl:127.0.0.1:"), b
    assert b["peer_cn"].startswith("sw id:"), b
    # The flows went over TLS too.
    wait_until(lambda: "arp_tpa=192.0.2.100" in sandbox.ofctl(
        "dump-flows", "br0"), DEADLINE, 0.1, "alias flows on br0")
    lim = limits(v)["openflow"]
    assert lim["peers"] == 1 and lim["tls_handshakes_failed"] == 0, lim
    v.check_logs()


def test_vmacd_connects_to_a_switch_over_tls(sandbox, vmacd_factory,
                                             vmacd_config):
    # The other way round: the switch listens (pssl:), vmacd connects
    # (ssl: in "connect") and verifies the switch's certificate.
    pki = Pki(sandbox.dir / "a")
    port = free_port()
    sandbox.vsctl("set-ssl", pki.key("sw"), pki.cert("sw"),
                  pki.controller_ca)
    sandbox.add_bridge("br0", "pssl:%d:127.0.0.1" % port)
    cfg = vmacd_config(bridges=["br0"], aliases=[WEB])
    cfg["openflow"]["listen"] = []
    cfg["openflow"]["connect"] = ["ssl:127.0.0.1:%d" % port]
    cfg["openflow"]["tls"] = pki.tls("ctl", pki.switch_ca)
    v = vmacd_factory(cfg, netns=sandbox.sw_ns)
    v.start()
    b = v.wait_bridge("br0", DEADLINE)
    assert b["peer"] == "ssl:127.0.0.1:%d" % port, b
    assert b["peer_cn"].startswith("sw id:"), b
    wait_until(lambda: "arp_tpa=192.0.2.100" in sandbox.ofctl(
        "dump-flows", "br0"), DEADLINE, 0.1, "alias flows on br0")
    v.check_logs()


def test_switch_from_another_ca_is_refused(sandbox, vmacd_factory,
                                           vmacd_config):
    pki = Pki(sandbox.dir / "a")
    other = Pki(sandbox.dir / "b")
    port = free_port()
    v = start_tls_vmacd(sandbox, vmacd_factory, vmacd_config, pki, port)
    # The switch trusts vmacd's certificate, but its own comes from
    # another CA.
    sandbox.vsctl("set-ssl", other.key("sw"), other.cert("sw"),
                  pki.controller_ca)
    sandbox.add_bridge("br0", "ssl:127.0.0.1:%d" % port)

    wait_until(lambda: limits(v)["openflow"]["tls_handshakes_failed"] >= 1,
               DEADLINE, 0.1, "a refused handshake")
    time.sleep(2)       # OVS retries: none of its attempts may get in.
    assert v.api("GET", "/v1/bridges")[1]["bridges"] == []
    assert limits(v)["openflow"]["peers"] == 0
    v.check_logs(allowed=[r"TLS handshake failed: peer certificate "
                          r"refused"])


def test_plaintext_to_pssl_is_refused(sandbox, vmacd_factory, vmacd_config):
    pki = Pki(sandbox.dir / "a")
    port = free_port()
    v = start_tls_vmacd(sandbox, vmacd_factory, vmacd_config, pki, port)
    # A real switch speaking plain OpenFlow to the TLS port.
    sandbox.add_bridge("br0", "tcp:127.0.0.1:%d" % port)
    wait_until(lambda: limits(v)["openflow"]["tls_handshakes_failed"] >= 1,
               DEADLINE, 0.1, "a refused plaintext switch")
    # And a raw plaintext HELLO: the connection is closed, nothing
    # answers in OpenFlow.
    probe = ("import socket, struct\n"
             "s = socket.create_connection(('127.0.0.1', %d), timeout=5)\n"
             "s.sendall(struct.pack('!BBHI', 6, 0, 8, 1))\n"
             "data = b''\n"
             "while True:\n"
             "    try:\n"
             "        d = s.recv(4096)\n"
             "    except ConnectionResetError:\n"
             "        break\n"
             "    if not d:\n"
             "        break\n"
             "    data += d\n"
             "print('closed', data[:1] == bytes([6]))\n" % port)
    out = sandbox.sw_exec("python3", "-c", probe, timeout=20).stdout
    assert out.strip() == "closed False", out
    time.sleep(1)
    assert v.api("GET", "/v1/bridges")[1]["bridges"] == []
    v.check_logs(allowed=[r"TLS handshake failed"])


def test_bridge_pinned_to_a_certificate_cn(sandbox, vmacd_factory,
                                           vmacd_config):
    # br0 pinned to a CN its switch's certificate does not have: the switch
    # gets through TLS (same CA) but is refused as br0, and gets no flows.
    pki = Pki(sandbox.dir / "a")
    port = free_port()
    cfg = vmacd_config(bridges=[{"name": "br0", "peer_cn": "sw id:nobody"}],
                       aliases=[WEB])
    cfg["openflow"]["listen"] = ["pssl:%d:127.0.0.1" % port]
    cfg["openflow"]["tls"] = pki.tls("ctl", pki.switch_ca)
    v = vmacd_factory(cfg, netns=sandbox.sw_ns)
    v.start()
    sandbox.vsctl("set-ssl", pki.key("sw"), pki.cert("sw"),
                  pki.controller_ca)
    sandbox.add_bridge("br0", "ssl:127.0.0.1:%d" % port)

    def br0():
        return v.api("GET", "/v1/bridges/br0")[1]
    wait_until(lambda: br0().get("refused"), DEADLINE, 0.1, "br0 refused")
    b = br0()
    assert b["connected"] is False
    assert b["pinned"] == {"peer_cn": "sw id:nobody"}, b
    last = b["refused"]["last"]
    cn = last["peer_cn"]
    assert cn.startswith("sw id:"), last
    assert last["reason"] == ('bridge br0 is pinned to certificate CN '
                              '"sw id:nobody", not "%s"' % cn), last
    assert "cookie=0x766d6163" not in sandbox.ofctl("dump-flows", "br0")

    # Pinned to the CN it has (a reload): served, with its flows.
    cfg["bridges"] = [{"name": "br0", "peer_cn": cn}]
    v.config_path.write_text(json.dumps(cfg))
    v.proc.send_signal(signal.SIGHUP)
    b = v.wait_bridge("br0", DEADLINE)
    assert b["peer_cn"] == cn and b["pinned"] == {"peer_cn": cn}, b
    wait_until(lambda: "arp_tpa=192.0.2.100" in sandbox.ofctl(
        "dump-flows", "br0"), DEADLINE, 0.1, "alias flows on br0")
    v.check_logs(allowed=[r"refused: bridge br0 is pinned to certificate "
                          r"CN"])


# The API's TCP listener.

def _https(port, ctx, path="/v1/status"):
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5 * SLOW,
                                       context=ctx)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def _client_ctx(pki, cert=None, key=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(pki.controller_ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def test_api_tls_needs_a_client_certificate(sandbox, vmacd_factory,
                                            vmacd_config):
    pki = Pki(sandbox.dir / "a")
    other = Pki(sandbox.dir / "b")
    port = free_port()
    cfg = vmacd_config()
    cfg["api"]["tcp"] = {"address": "127.0.0.1", "port": port,
                         "tls": pki.tls("ctl", pki.switch_ca)}
    v = vmacd_factory(cfg)
    v.start()

    status, body = _https(port, _client_ctx(pki, pki.cert("sw"),
                                            pki.key("sw")))
    assert status == 200 and "limits" in body

    refused = [_client_ctx(pki),
               _client_ctx(pki, other.cert("sw"), other.key("sw"))]
    for ctx in refused:
        with pytest.raises((ssl.SSLError, OSError,
                            http.client.HTTPException)):
            _https(port, ctx)
    # Plaintext HTTP to the TLS port: no HTTP answer.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        try:
            while True:
                d = s.recv(4096)
                if not d:
                    break
                data += d
        except OSError:
            pass
        assert not data.startswith(b"HTTP/"), data

    api = [lst for lst in limits(v)["api"]["listeners"] if lst["tls"]][0]
    wait_until(lambda: [lst for lst in limits(v)["api"]["listeners"]
                        if lst["tls"]][0]["tls_handshakes_failed"] >= 3,
               DEADLINE, 0.1, "three refused TLS clients")
    assert api["name"] == "127.0.0.1"
    v.check_logs(allowed=[r"TLS handshake failed"])


def test_api_tls_may_listen_beyond_loopback(sandbox, vmacd_config):
    pki = Pki(sandbox.dir / "a")
    cfg = vmacd_config()
    cfg["api"]["tcp"] = {"address": "192.0.2.1", "port": 8443,
                         "tls": pki.tls("ctl", pki.switch_ca)}
    path = sandbox.dir / "nonloop.json"
    path.write_text(json.dumps(cfg))
    p = run([vmacd_bin(), "--check-config", "--config", path], check=False)
    assert p.returncode == 0, p.stderr
    cfg["api"]["tcp"]["tls"]["ca_cert"] = str(sandbox.dir / "missing.pem")
    path.write_text(json.dumps(cfg))
    p = run([vmacd_bin(), "--check-config", "--config", path], check=False)
    assert p.returncode == 1
    assert "api.tcp.tls: CA certificate" in p.stderr, p.stderr
