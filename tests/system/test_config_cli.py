"""vmacd --check-config: invalid configurations are refused with exit code 1
and a message that names the file and the field; valid ones exit 0.

Runs only the binary on files in a temporary directory: needs no root, no
OVS and no network.  The expected messages are those of controller/config.c
(documented in docs/config.md).
"""

import copy
import os
import shutil
import json
import re
import subprocess

import pytest

from sandbox import REPO
from vmacd import vmacd_bin

# Read by conftest (once it honours it): these tests need no root and no
# OVS, so they must not be skipped with the sandbox tests.
NEEDS_SANDBOX = False

EXAMPLE = REPO / "vmacd.example.json"

# A valid base config that each case below breaks in one place.
BASE = {
    "openflow": {"listen": ["ptcp:6653:127.0.0.1"]},
    "api": {"socket": "/run/vmacd/vmacd.sock"},
    "bridges": [{"name": "br0", "uplinks": ["up0"]}],
    "aliases": [{
        "name": "web",
        "addresses": ["192.0.2.100", "2001:db8::100"],
        "vmac": "02:00:5e:00:01:01",
        "announce": {"count": 3, "interval_ms": 100, "refresh_s": 60},
        "probe": {"type": "arp", "interval_ms": 100, "fall": 3, "rise": 3},
        "members": [
            {"name": "m1", "bridge": "br0", "port": "m1-p",
             "mac": "02:00:00:00:00:11", "ip": "192.0.2.11",
             "priority": 150},
            {"name": "m2", "bridge": "br0", "port": "m2-p",
             "mac": "02:00:00:00:00:12", "ip": "192.0.2.12",
             "priority": 100},
        ],
    }],
}

DB = {
    "name": "db",
    "addresses": ["192.0.2.200"],
    "vmac": "02:00:5e:00:01:02",
    "members": [{"name": "m2", "bridge": "br0", "port": "m2-p",
                 "mac": "02:00:00:00:00:12"}],
}


def _alias(cfg, i=0):
    return cfg["aliases"][i]


def _member(cfg, m, a=0):
    return cfg["aliases"][a]["members"][m]


def _set(getter, key, value):
    """A mutation that sets getter(cfg)[key] = value."""
    def mutate(cfg):
        getter(cfg)[key] = value
    return mutate


def _add_alias(**changes):
    def mutate(cfg):
        cfg["aliases"].append(dict(copy.deepcopy(DB), **changes))
    return mutate


def _dup_member(**changes):
    def mutate(cfg):
        m = dict(copy.deepcopy(_member(cfg, 0)), **changes)
        _alias(cfg)["members"].append(m)
    return mutate


def _unknown_key(path, key, allowed):
    """The message for an unknown key: the allowed keys listed start with
    'allowed' (later issues may add keys at the end)."""
    return re.compile(re.escape('%sunknown key "%s" (allowed: %s'
                                % (path + ": " if path else "", key, allowed))
                      + r"(, [a-z_]+)*\)")


# (id, mutation of BASE, expected message after "FILE: "; a compiled
# pattern must match all of it).
CASES = [
    ("bad-ipv4", _set(_alias, "addresses", ["192.0.2.300"]),
     'aliases[0].addresses[0]: "192.0.2.300" is not an IPv4 or IPv6 '
     'address'),
    ("bad-ipv6", _set(_alias, "addresses", ["2001:db8::100::1"]),
     'aliases[0].addresses[0]: "2001:db8::100::1" is not an IPv4 or IPv6 '
     'address'),
    ("prefix-length", _set(_alias, "addresses", ["192.0.2.100/24"]),
     'aliases[0].addresses[0]: "192.0.2.100/24" is not an IPv4 or IPv6 '
     'address (a prefix length is not allowed here)'),
    ("multicast-ipv4", _set(_alias, "addresses", ["224.0.0.18"]),
     "aliases[0].addresses[0]: 224.0.0.18 is a multicast address; an alias "
     "address must be a unicast host address"),
    ("link-local-ipv6", _set(_alias, "addresses", ["fe80::100"]),
     "aliases[0].addresses[0]: fe80::100 is a link-local address "
     "(fe80::/10); an alias address must be a unicast host address"),
    ("no-address", _set(_alias, "addresses", []),
     "aliases[0].addresses: an alias needs at least one address"),
    ("bad-mac", _set(_alias, "vmac", "02:00:5e:00:01"),
     'aliases[0].vmac: "02:00:5e:00:01" is not a MAC address '
     '(expected xx:xx:xx:xx:xx:xx)'),
    ("bad-mac-digits", _set(_alias, "vmac", "02:00:5e:00:01:0g"),
     'aliases[0].vmac: "02:00:5e:00:01:0g" is not a MAC address '
     '(expected xx:xx:xx:xx:xx:xx)'),
    ("multicast-vmac", _set(_alias, "vmac", "01:00:5e:00:00:01"),
     'aliases[0].vmac: "01:00:5e:00:00:01" is a multicast address; '
     'a VMAC must be unicast'),
    ("zero-vmac", _set(_alias, "vmac", "00:00:00:00:00:00"),
     'aliases[0].vmac: "00:00:00:00:00:00" is all zeros; a VMAC must be a '
     'unicast address'),
    ("broadcast-vmac", _set(_alias, "vmac", "FF:FF:FF:FF:FF:FF"),
     'aliases[0].vmac: "FF:FF:FF:FF:FF:FF" is the broadcast address; '
     'a VMAC must be unicast'),
    ("multicast-member-mac",
     _set(lambda c: _member(c, 1), "mac", "33:33:00:00:00:01"),
     'aliases[0].members[1].mac: "33:33:00:00:00:01" is a multicast '
     'address; a member\'s mac must be unicast'),
    ("duplicate-alias-name", _add_alias(name="web"),
     'aliases[1].name: alias "web" is defined twice (also aliases[0])'),
    ("duplicate-ip-across-aliases",
     _add_alias(addresses=["198.51.100.1", "192.0.2.100"]),
     'aliases[1].addresses[1]: 192.0.2.100 is already used by alias "web"'),
    ("duplicate-ipv6-non-canonical",
     _add_alias(addresses=["2001:DB8:0::100"]),
     'aliases[1].addresses[0]: 2001:db8::100 is already used by alias '
     '"web"'),
    ("duplicate-ip-in-alias",
     _set(_alias, "addresses", ["192.0.2.100", "192.0.2.100"]),
     "aliases[0].addresses[1]: 192.0.2.100 is listed twice in this alias"),
    ("duplicate-vmac", _add_alias(vmac="02:00:5E:00:01:01"),
     'aliases[1].vmac: 02:00:5e:00:01:01 is already the VMAC of alias '
     '"web"'),
    ("member-name-twice", _dup_member(port="m3-p"),
     'aliases[0].members[2].name: member "m1" is listed twice (also '
     'members[0])'),
    ("member-port-twice", _dup_member(name="m3"),
     'aliases[0].members[2]: port "m1-p" on bridge "br0" is already used '
     'by member "m1"'),
    ("member-mac-is-vmac",
     _set(lambda c: _member(c, 1), "mac", "02:00:5e:00:01:01"),
     'aliases[0].members[1].mac: 02:00:5e:00:01:01 is the VMAC of alias '
     '"web"; a member needs its own MAC'),
    ("member-ip-is-alias-address",
     _set(lambda c: _member(c, 0), "ip", "2001:db8::100"),
     'aliases[0].members[0].ip: 2001:db8::100 is an address of alias '
     '"web"; a member\'s ip is its own address'),
    ("unknown-member-key",
     _set(lambda c: _member(c, 1), "prio", 100),
     _unknown_key("aliases[0].members[1]", "prio",
                  "name, bridge, port, mac, ip, priority")),
    ("unknown-top-level-key", _set(lambda c: c, "alias", []),
     _unknown_key("", "alias", "openflow, api, bridges, aliases")),
    ("unknown-announce-key",
     _set(lambda c: _alias(c)["announce"], "counts", 3),
     _unknown_key("aliases[0].announce", "counts",
                  "count, interval_ms, refresh_s")),
    ("wrong-type-string-for-int",
     _set(lambda c: _member(c, 0), "priority", "150"),
     "aliases[0].members[0].priority: expected an integer, got a string"),
    ("wrong-type-real-for-int",
     _set(lambda c: _alias(c)["announce"], "count", 3.0),
     "aliases[0].announce.count: expected an integer, got a real number"),
    ("wrong-type-string-for-bool", _set(_alias, "preempt", "true"),
     "aliases[0].preempt: expected true or false, got a string"),
    ("wrong-type-addresses", _set(_alias, "addresses", "192.0.2.100"),
     "aliases[0].addresses: expected an array, got a string"),
    ("missing-vmac", lambda c: _alias(c).pop("vmac"),
     'aliases[0]: missing required key "vmac"'),
    ("member-port-is-uplink",
     _set(lambda c: _member(c, 1), "port", "up0"),
     'aliases[0].members[1].port: "up0" is an uplink of bridge "br0"; '
     'a member cannot sit behind an uplink'),
    ("member-port-is-local", _set(lambda c: _member(c, 1), "port", "br0"),
     'aliases[0].members[1].port: "br0" is the bridge\'s own LOCAL port'),
    ("bad-interface-name",
     _set(lambda c: _member(c, 1), "port", "m2/p"),
     'aliases[0].members[1].port: "m2/p" is not a valid interface name '
     "(no '/', ':', spaces or control characters)"),
    ("bad-alias-name", _set(_alias, "name", "web site"),
     "aliases[0].name: \"web site\" contains ' ' (0x20); a name may only "
     "use letters, digits, '_', '.' and '-'"),
    ("priority-out-of-range",
     _set(lambda c: _member(c, 0), "priority", 256),
     "aliases[0].members[0].priority: 256 is out of range (0..255)"),
    ("negative-priority",
     _set(lambda c: _member(c, 0), "priority", -1),
     "aliases[0].members[0].priority: -1 is out of range (0..255)"),
    ("refresh-too-long",
     _set(lambda c: _alias(c)["announce"], "refresh_s", 300),
     "aliases[0].announce.refresh_s: 300 is out of range (0..299); keep it "
     "below the typical switch MAC aging time of 300 s (0 disables "
     "refreshes)"),
    ("announce-interval-zero",
     _set(lambda c: _alias(c)["announce"], "interval_ms", 0),
     "aliases[0].announce.interval_ms: 0 is out of range (1..60000)"),
    ("tcp-probe-without-port",
     _set(lambda c: _alias(c)["probe"], "type", "tcp"),
     'aliases[0].probe: a tcp probe needs "port" (1..65535)'),
    ("arp-probe-with-port",
     _set(lambda c: _alias(c)["probe"], "port", 80),
     "aliases[0].probe.port: only a tcp probe takes a port"),
    ("unknown-probe-type",
     _set(lambda c: _alias(c)["probe"], "type", "icmp"),
     'aliases[0].probe.type: "icmp" is not a probe type (expected "arp", '
     '"tcp" or "none")'),
    ("active-target-in-listen",
     _set(lambda c: c["openflow"], "listen", ["tcp:127.0.0.1:6653"]),
     'openflow.listen[0]: "tcp:127.0.0.1:6653" is not a valid listen '
     'target: expected ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH'),
    ("listen-port-out-of-range",
     _set(lambda c: c["openflow"], "listen", ["ptcp:70000"]),
     'openflow.listen[0]: "ptcp:70000" is not a valid listen target: '
     'the port must be a number in 1..65535'),
    ("listen-ipv6-without-brackets",
     _set(lambda c: c["openflow"], "listen", ["ptcp:6653:::1"]),
     'openflow.listen[0]: "ptcp:6653:::1" is not a valid listen target: '
     'the IP must be IPv4 or [IPv6] in brackets'),
    ("listen-twice",
     _set(lambda c: c["openflow"], "listen",
          ["punix:/tmp/x.sock", "punix:/tmp/x.sock"]),
     'openflow.listen[1]: "punix:/tmp/x.sock" is listed twice (also '
     'listen[0])'),
    ("no-listen-no-connect",
     _set(lambda c: c["openflow"], "listen", []),
     'openflow: both "listen" and "connect" are empty; vmacd would never '
     'talk to a switch'),
    ("next-table-too-low",
     _set(lambda c: c["openflow"], "next_table", 1),
     "openflow.next_table: 1 is out of range (2..254); it must come after "
     "base_table + 1"),
    ("bad-cookie-prefix",
     _set(lambda c: c["openflow"], "cookie_prefix", "0x123456789"),
     'openflow.cookie_prefix: "0x123456789" is not a 32-bit hexadecimal '
     'number (expected "0x" and 1 to 8 hex digits)'),
    ("bridge-twice",
     _set(lambda c: c, "bridges", [{"name": "br0"}, {"name": "br0"}]),
     'bridges[1].name: bridge "br0" is listed twice (also bridges[0])'),
    ("api-socket-too-long",
     _set(lambda c: c["api"], "socket", "/" + "s" * 107),
     'api.socket: "/%s" is 108 bytes long; a unix socket path has at most '
     '107' % ("s" * 107)),
]

# (id, file text, expected message after "FILE:"): syntax errors carry
# LINE:COLUMN from jansson.
SYNTAX_CASES = [
    ("missing-comma",
     '{\n  "api": {"socket": "/tmp/a.sock"}\n  "aliases": []\n}\n',
     "3:11: '}' expected near '\"aliases\"'"),
    ("trailing-comma",
     '{\n  "aliases": [\n    {"name": "web",}\n  ]\n}\n',
     "3:20: string or '}' expected near '}'"),
    ("duplicate-key",
     '{\n  "api": {"socket": "/tmp/a.sock"},\n'
     '  "api": {"socket": "/tmp/b.sock"}\n}\n',
     "3:7: duplicate object key near '\"api\"'"),
    ("not-an-object", '[]\n', " expected an object, got an array"),
    ("empty-file", '', "1:0: '[' or '{' expected near end of file"),
]


def check_config(path, timeout=10):
    return subprocess.run([str(vmacd_bin()), "--check-config", "--config",
                           str(path)], capture_output=True, text=True,
                          timeout=timeout)


def assert_refused(path, expected):
    """--check-config exits 1 and prints "vmacd: PATH:" and 'expected' (a
    string, or a pattern for the rest of the line) on stderr only."""
    proc = check_config(path)
    assert proc.returncode == 1, (
        "exit %d (want 1)\nstdout: %s\nstderr: %s"
        % (proc.returncode, proc.stdout, proc.stderr))
    got = proc.stderr.strip()
    prefix = "vmacd: %s:" % path
    if isinstance(expected, re.Pattern):
        ok = (got.startswith(prefix + " ")
              and expected.fullmatch(got[len(prefix) + 1:]))
        want = prefix + " " + expected.pattern
    else:
        want = prefix + expected
        ok = got == want
    assert ok, "stderr:\n  %r\nwant:\n  %r" % (got, want)
    assert proc.stdout == ""


@pytest.mark.parametrize("mutate,expected",
                         [pytest.param(m, e, id=i) for i, m, e in CASES])
def test_invalid_config_refused(tmp_path, mutate, expected):
    cfg = copy.deepcopy(BASE)
    mutate(cfg)
    path = tmp_path / "vmacd.json"
    path.write_text(json.dumps(cfg, indent=2))
    if not isinstance(expected, re.Pattern):
        expected = " " + expected
    assert_refused(path, expected)


@pytest.mark.parametrize("text,expected",
                         [pytest.param(t, e, id=i)
                          for i, t, e in SYNTAX_CASES])
def test_syntax_error_refused(tmp_path, text, expected):
    path = tmp_path / "vmacd.json"
    path.write_text(text)
    assert_refused(path, expected)


def test_missing_file_refused(tmp_path):
    path = tmp_path / "absent.json"
    assert_refused(path, " cannot open: No such file or directory")


def test_base_config_is_valid(tmp_path):
    """The cases above break a config that is itself valid, so each
    refusal is due to its one change."""
    path = tmp_path / "vmacd.json"
    path.write_text(json.dumps(BASE))
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "%s: valid (1 aliases, 1 bridges)" % path
    assert proc.stderr == ""


def test_two_aliases_sharing_members_valid(tmp_path):
    """The same bridge port may serve several aliases."""
    cfg = copy.deepcopy(BASE)
    cfg["aliases"].append(copy.deepcopy(DB))
    path = tmp_path / "vmacd.json"
    path.write_text(json.dumps(cfg))
    proc = check_config(path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "%s: valid (2 aliases, 1 bridges)" % path


def test_example_config_valid(tmp_path):
    proc = check_config(EXAMPLE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "%s: valid (2 aliases, 2 bridges)" \
        % EXAMPLE
    assert proc.stderr == ""


@pytest.mark.parametrize("value", ["0", "100", "-1", "fifo", "5x", ""])
def test_bad_realtime_priority_refused(value):
    proc = subprocess.run([str(vmacd_bin()), "--realtime-priority", value],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 2
    assert proc.stderr == ('vmacd: bad --realtime-priority "%s" (expected '
                           '1..99)\n' % value)


def test_refused_realtime_priority_stops_the_start(tmp_path):
    """Without CAP_SYS_NICE (dropped from the bounding set) SCHED_FIFO is
    refused: vmacd says so and does not start, rather than run without
    the punctuality it was asked for."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    path = tmp_path / "vmacd.json"
    sock = tmp_path / "api.sock"
    path.write_text(json.dumps({"openflow": {"listen": [
                                    "punix:%s" % (tmp_path / "of.sock")]},
                                "api": {"socket": str(sock)}}))
    proc = subprocess.run(["setpriv", "--bounding-set=-sys_nice",
                           str(vmacd_bin()), "--config", str(path),
                           "--realtime-priority", "5"],
                          capture_output=True, text=True, timeout=10)
    assert proc.returncode == 1, proc.stderr
    assert ("vmacd: --realtime-priority 5: sched_setscheduler failed "
            "(Operation not permitted)") in proc.stderr
    assert not sock.exists()
