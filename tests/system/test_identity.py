"""Which switch may be which bridge (issue 16, defects 1 and 7), on a real
ovs-vswitchd and fake switches (fakeswitch.py).

- "bridges[].datapath_id" pins a bridge: a switch with another datapath id
  is refused (the API shows the bridge's pin and the refusal, its flows
  stay out of that switch) while the other bridges are served; the pinned
  datapath cannot serve another bridge either; a reload that breaks the
  pin of a serving bridge disconnects it, and one that fixes it lets it
  in;
- a switch that names its bridge "", "..", "../x%\\x01" or with bytes that
  are not UTF-8 is refused and never listed;
- disconnected bridges that nothing configured are forgotten after
  "openflow.forget_bridges_s": they leave /v1/bridges, and write replies'
  "pending_bridges" never name them; configured ones stay.

(The certificate CN pin, "bridges[].peer_cn", is in test_tls.py.)
"""

import json
import signal

from fakeswitch import FakeSwitch
from sandbox import wait_until
from vmacd import SLOW, of_socket

DEADLINE = 15 * SLOW
WRONG_DPID = "00000000000000ff"

WEB = {
    "name": "web",
    "addresses": ["192.0.2.100"],
    "vmac": "02:00:5e:00:01:01",
    "members": [{"name": "m1", "bridge": "br0", "port": "m1-p",
                 "mac": "02:00:00:00:00:11", "priority": 100}],
}
DB = {
    "name": "db",
    "addresses": ["192.0.2.200"],
    "vmac": "02:00:5e:00:01:02",
    "members": [{"name": "m2", "bridge": "br1", "port": "m2-p",
                 "mac": "02:00:00:00:00:12", "priority": 100}],
}


def dpid_of(sandbox, bridge):
    return sandbox.vsctl("get", "bridge", bridge, "datapath_id").strip() \
        .strip('"')


def bridge(d, name):
    status, body = d.api("GET", "/v1/bridges/%s" % name)
    assert status == 200, (status, body)
    return body


def bridge_names(d):
    return [b["name"] for b in d.api("GET", "/v1/bridges")[1]["bridges"]]


def has_alias_flows(sandbox, name, address):
    return "arp_tpa=%s" % address in sandbox.ofctl("dump-flows", name)


def vmac_flows(sandbox, name):
    """vmacd's flows on bridge 'name' (cookie prefix "vmac")."""
    out = sandbox.ofctl("--no-stats", "dump-flows", name)
    return sorted(line for line in out.splitlines()
                  if "cookie=0x766d6163" in line)


def reload(d, config):
    d.config = config
    d.config_path.write_text(json.dumps(config))
    d.proc.send_signal(signal.SIGHUP)


def refused_count(d, name):
    return bridge(d, name).get("refused", {}).get("count", 0)


def test_datapath_id_pin(sandbox, vmacd_factory, vmacd_config):
    for name in ("br0", "br1"):
        sandbox.add_bridge(name, "unix:%s" % of_socket(sandbox))
    dpid0 = dpid_of(sandbox, "br0")
    dpid1 = dpid_of(sandbox, "br1")
    assert WRONG_DPID not in (dpid0, dpid1)
    config = vmacd_config(
        bridges=[{"name": "br0", "datapath_id": dpid0},
                 {"name": "br1", "datapath_id": WRONG_DPID}],
        aliases=[WEB, DB])
    d = vmacd_factory(config)
    d.start()

    # br0 matches its pin: served, with its flows.
    b0 = d.wait_bridge("br0", DEADLINE)
    assert b0["pinned"] == {"datapath_id": dpid0}, b0
    wait_until(lambda: has_alias_flows(sandbox, "br0", "192.0.2.100"),
               DEADLINE, 0.1, "web's flows on br0")

    # br1 does not: refused each time OVS tries, shown in the API, and
    # vmacd writes nothing to it.
    wait_until(lambda: refused_count(d, "br1") >= 1, DEADLINE, 0.1,
               "br1 refused")
    b1 = bridge(d, "br1")
    assert b1["connected"] is False, b1
    assert b1["pinned"] == {"datapath_id": WRONG_DPID}, b1
    last = b1["refused"]["last"]
    assert last["datapath_id"] == dpid1, last
    assert last["reason"] == ("bridge br1 is pinned to datapath %s, not %s"
                              % (WRONG_DPID, dpid1)), last
    assert last["peer"].startswith("punix:"), last
    assert vmac_flows(sandbox, "br1") == []
    assert not has_alias_flows(sandbox, "br1", "192.0.2.200")
    status = d.api("GET", "/v1/status")[1]
    assert status["counts"]["connections_refused"] >= 1
    # A write reaches br0 and waits for br1, which stays out.
    status, body = d.api("PUT", "/v1/aliases/web",
                         dict(WEB, addresses=["192.0.2.101"]))
    assert status == 200 and body["pending_bridges"] == ["br1"], body
    wait_until(lambda: has_alias_flows(sandbox, "br0", "192.0.2.101"),
               DEADLINE, 0.1, "web's new address on br0")
    assert vmac_flows(sandbox, "br1") == []
    assert bridge(d, "br0")["connects"] == 1

    # The pinned datapath under another name: refused too, and shown on
    # the bridge it is pinned to.
    before = refused_count(d, "br0")
    with FakeSwitch(of_socket(sandbox), dpid=int(dpid0, 16),
                    name="brX") as imp:
        imp.handshake()
        assert imp.wait_closed(DEADLINE), "impostor not refused"
    last = bridge(d, "br0")["refused"]["last"]
    assert last["reason"] == ("datapath %s is pinned to bridge br0, not brX"
                              % dpid0), last
    assert refused_count(d, "br0") == before + 1
    assert "brX" not in bridge_names(d)
    assert bridge(d, "br0")["connected"]

    # A reload that fixes br1's pin lets it in (at OVS's next try); one
    # that breaks br0's disconnects it.  Its flows stay on the switch, as
    # for any disconnected bridge.
    config = dict(config, bridges=[
        {"name": "br0", "datapath_id": WRONG_DPID},
        {"name": "br1", "datapath_id": dpid1}])
    reload(d, config)
    d.wait_bridge("br1", DEADLINE)
    wait_until(lambda: has_alias_flows(sandbox, "br1", "192.0.2.200"),
               DEADLINE, 0.1, "db's flows on br1")
    wait_until(lambda: not bridge(d, "br0")["connected"], DEADLINE, 0.1,
               "br0 disconnected")
    assert bridge(d, "br0")["refused"]["last"]["reason"] == (
        "bridge br0 is pinned to datapath %s, not %s" % (WRONG_DPID, dpid0))
    status, body = d.api("PUT", "/v1/aliases/web",
                         dict(WEB, addresses=["192.0.2.102"]))
    assert status == 200 and body["pending_bridges"] == ["br0"], body
    assert not has_alias_flows(sandbox, "br0", "192.0.2.102")
    d.check_logs(allowed=[r"refused: bridge br[01] is pinned to datapath",
                          r"refused: datapath [0-9a-f]+ is pinned to bridge",
                          r"bridge br0 disconnected"])


def test_bad_bridge_names_are_refused(sandbox, vmacd_factory, vmacd_config):
    sandbox.add_bridge("br0", "unix:%s" % of_socket(sandbox))
    d = vmacd_factory(vmacd_config(bridges=["br0"], aliases=[WEB]))
    d.start()
    d.wait_bridge("br0", DEADLINE)
    wait_until(lambda: has_alias_flows(sandbox, "br0", "192.0.2.100"),
               DEADLINE, 0.1, "web's flows on br0")
    flows = vmac_flows(sandbox, "br0")

    bad = ["", ".", "..", "../x%\x01", "a b", "x:y", b"\xff\xfe",
           b"br\xc0\xaf"]
    for i, name in enumerate(bad):
        with FakeSwitch(of_socket(sandbox), dpid=0xbad000 + i,
                        name=name) as sw:
            sw.handshake()
            assert sw.wait_closed(DEADLINE), "%r not refused" % name
    assert bridge_names(d) == ["br0"]
    status = d.api("GET", "/v1/status")[1]
    assert status["counts"]["connections_refused"] == len(bad)
    assert status["counts"]["bridges"] == 1
    b = bridge(d, "br0")
    assert b["connected"] and b["connects"] == 1 and "refused" not in b
    assert vmac_flows(sandbox, "br0") == flows
    # The log shows the name escaped.
    assert "bridge name \"../x%\\x01\" (datapath 0000000000bad003) is " \
        "not a valid interface name" in d.log_text()
    d.check_logs(allowed=[r"is not a valid interface name"])


def test_disconnected_bridges_are_forgotten(sandbox, vmacd_factory,
                                            vmacd_config):
    sandbox.add_bridge("br0", "unix:%s" % of_socket(sandbox))
    # "brc" is configured and never connects: it is kept.
    d = vmacd_factory(vmacd_config(
        bridges=["br0", "brc"], aliases=[WEB],
        openflow={"listen": ["punix:%s" % of_socket(sandbox)],
                  "forget_bridges_s": 2}))
    d.start()
    d.wait_bridge("br0", DEADLINE)

    # A flood of switches that come and go.
    names = ["fake%d" % i for i in range(40)]
    for i, name in enumerate(names):
        with FakeSwitch(of_socket(sandbox), dpid=0xf00000 + i,
                        name=name) as sw:
            sw.handshake()
            d.wait_bridge(name, DEADLINE)
    wait_until(lambda: not any(bridge(d, n)["connected"] for n in names
                               if n in bridge_names(d)),
               DEADLINE, 0.1, "the fake switches disconnected")
    # Until forgotten they are listed, disconnected; a write never waits
    # for them (they carry nothing).
    status, body = d.api("PUT", "/v1/aliases/web",
                         dict(WEB, addresses=["192.0.2.101"]))
    assert status == 200 and body["pending_bridges"] == [], body
    # The write kept the setting in the config file.
    saved = json.loads(d.config_path.read_text())
    assert saved["openflow"]["forget_bridges_s"] == 2, saved["openflow"]
    wait_until(lambda: bridge_names(d) == ["br0", "brc"], DEADLINE, 0.2,
               "the fake bridges forgotten")
    assert d.api("GET", "/v1/bridges/fake0")[0] == 404
    assert bridge(d, "brc")["connected"] is False
    counts = d.api("GET", "/v1/status")[1]["counts"]
    assert counts["bridges"] == 2 and counts["bridges_connected"] == 1
    assert "bridge fake0: forgotten (disconnected for 2 s and not " \
        "configured)" in d.log_text()
    d.check_logs(allowed=[r"bridge fake\d+ disconnected"])
