"""vmacd --check-config on the "ovsdb" section and members' "iface_id":
refused with exit 1 and a message naming file and field, or accepted.

Only the binary on files in a temporary directory: no root, no OVS.  The
messages are those of controller/config-ovsdb.c (docs/config.md).
"""

import copy
import json

import pytest

from test_config_cli import BASE, EXAMPLE, assert_refused, check_config

NEEDS_SANDBOX = False


def with_ovsdb(cfg, **ovsdb):
    cfg["ovsdb"] = ovsdb
    return cfg


def member2(cfg, **keys):
    """Makes the second member of BASE's alias 'keys' (port dropped)."""
    m = cfg["aliases"][0]["members"][1]
    del m["port"]
    m.update(keys)
    return cfg


CASES = [
    ("both-port-and-iface-id",
     lambda c: member2(with_ovsdb(c), port="m2-p", iface_id="vm-2"),
     'aliases[0].members[1]: both "port" and "iface_id" are given; a member '
     'has exactly one: "port" (its OpenFlow port name) or "iface_id" (its '
     "Interface's external_ids:iface-id)"),
    ("neither-port-nor-iface-id", lambda c: member2(with_ovsdb(c)),
     'aliases[0].members[1]: missing required key "port" (its OpenFlow port '
     "name), or else \"iface_id\" (its Interface's external_ids:iface-id)"),
    ("iface-id-too-long",
     lambda c: member2(with_ovsdb(c), iface_id="x" * 256),
     "aliases[0].members[1].iface_id: the iface_id is 256 bytes long; at "
     "most 255"),
    ("iface-id-empty", lambda c: member2(with_ovsdb(c), iface_id=""),
     "aliases[0].members[1].iface_id: the iface_id is empty; it has 1 to "
     "255 bytes"),
    ("iface-id-not-a-string", lambda c: member2(with_ovsdb(c), iface_id=7),
     "aliases[0].members[1].iface_id: expected a string, got an integer"),
    ("iface-id-without-ovsdb", lambda c: member2(c, iface_id="vm-2"),
     'aliases[0].members[1].iface_id: a member given by iface_id needs '
     '"ovsdb" at the top level: vmacd looks its port up in the Open vSwitch '
     'database'),
    ("bad-remote", lambda c: with_ovsdb(c, remote="/var/run/db.sock"),
     'ovsdb.remote: "/var/run/db.sock" is not a valid remote: expected '
     'unix:PATH, tcp:IP:PORT or ssl:IP:PORT'),
    ("remote-hostname", lambda c: with_ovsdb(c, remote="tcp:ovs:6640"),
     'ovsdb.remote: "tcp:ovs:6640" is not a valid remote: the IP must be '
     'IPv4 or [IPv6] in brackets'),
    ("bad-fail-mode", lambda c: with_ovsdb(c, fail_mode="standalone"),
     'ovsdb.fail_mode: "standalone" is not a fail_mode: expected "secure" '
     '(vmacd sets the bridges\' fail_mode to secure) or "check" (vmacd only '
     'reports)'),
    ("ssl-without-files",
     lambda c: with_ovsdb(c, remote="ssl:192.0.2.1:6640"),
     'ovsdb: an ssl: remote needs "private_key", "certificate" and '
     '"ca_cert" (PEM files); "private_key" is missing'),
    ("tls-files-without-ssl",
     lambda c: with_ovsdb(c, private_key="/k.pem"),
     "ovsdb.private_key: only an ssl: remote takes TLS files"),
    ("unknown-ovsdb-key", lambda c: with_ovsdb(c, remotes=["unix:/x"]),
     'ovsdb: unknown key "remotes" (allowed: remote, fail_mode, '
     'private_key, certificate, ca_cert)'),
]


@pytest.mark.parametrize("mutate,expected",
                         [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_refused(tmp_path, mutate, expected):
    path = tmp_path / "vmacd.json"
    path.write_text(json.dumps(mutate(copy.deepcopy(BASE))))
    assert_refused(path, " " + expected)


@pytest.mark.parametrize("ovsdb", [
    {},
    {"remote": "unix:/var/run/openvswitch/db.sock", "fail_mode": "check"},
    {"remote": "tcp:[::1]:6640"},
    {"remote": "ssl:192.0.2.1:6640", "private_key": "/etc/vmacd/key.pem",
     "certificate": "/etc/vmacd/cert.pem", "ca_cert": "/etc/vmacd/ca.pem"},
])
def test_accepted(tmp_path, ovsdb):
    cfg = member2(with_ovsdb(copy.deepcopy(BASE), **ovsdb),
                  iface_id="7c2b5e1a-1f3d-4c7e-9a53-0d0d5b8e6a11")
    path = tmp_path / "vmacd.json"
    path.write_text(json.dumps(cfg))
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_example_has_ovsdb():
    """The example (and the install) point at Debian's socket."""
    example = json.loads(EXAMPLE.read_text())
    assert example["ovsdb"] == {"remote": "unix:/var/run/openvswitch/db.sock",
                                "fail_mode": "secure"}
    proc = check_config(EXAMPLE)
    assert proc.returncode == 0, proc.stderr
