"""Tests of the test sandbox itself (ovs-scripts/sandbox.sh via Sandbox).

No vmacd here: a standalone bridge forwards with NORMAL, so these check
that hosts, links, the OVS tools and clean-up behave as the vmacd tests
assume.
"""

import os
import socket
import subprocess

from conftest import new_prefix
from sandbox import REPO, SANDBOX_SH, Sandbox, run, wait_until

H1 = ("h1", "h1-p", "02:00:00:00:00:01", "192.0.2.1/24", "2001:db8::1/64")
H2 = ("h2", "h2-p", "02:00:00:00:00:02", "192.0.2.2/24", "2001:db8::2/64")


def two_hosts(sb, bridge="br0"):
    sb.add_bridge(bridge)
    for name, port, mac, ip4, ip6 in (H1, H2):
        sb.add_host(name, bridge, port, mac, ip4, ip6)


def ping(sb, host, addr, count=3):
    """True if 'addr' answers at least one of 'count' pings from 'host'."""
    return sb.host_exec(host, "ping", "-n", "-q", "-c", str(count),
                        "-i", "0.2", "-W", "1", addr, check=False,
                        timeout=count + 5).returncode == 0


def test_hosts_reach_each_other(sandbox):
    two_hosts(sandbox)
    assert ping(sandbox, "h1", "192.0.2.2")
    assert ping(sandbox, "h2", "2001:db8::1")
    out = sandbox.host_exec("h1", "ip", "-o", "link", "show", "eth0").stdout
    assert "02:00:00:00:00:01" in out
    ports = sandbox.port_desc("br0")
    assert set(ports) == {"br0", "h1-p", "h2-p"}
    assert ports["h1-p"]["number"] == 1 and ports["h2-p"]["number"] == 2
    assert ports["h1-p"]["state"] == ["LIVE"]


def test_tcp_payload_crosses_userspace_datapath(sandbox):
    # Partial checksums from veth offload would make this hang.
    two_hosts(sandbox)
    server = sandbox.host_popen(
        "h2", "/usr/bin/python3", "-c",
        "import socket,sys\n"
        "s=socket.create_server(('192.0.2.2', 9000))\n"
        "c,_=s.accept()\n"
        "n=0\n"
        "while True:\n"
        "    b=c.recv(65536)\n"
        "    if not b: break\n"
        "    n+=len(b)\n"
        "print(n)\n",
        stdout=subprocess.PIPE, text=True)
    wait_until(lambda: ":9000" in sandbox.host_exec(
        "h2", "ss", "-Htln").stdout, 5, what="TCP server on h2")
    payload = b"x" * 1000000
    sandbox.host_exec("h1", "/usr/bin/python3", "-c",
                      "import socket,sys\n"
                      "c=socket.create_connection(('192.0.2.2', 9000), 5)\n"
                      "c.sendall(sys.stdin.buffer.read())\n"
                      "c.close()\n",
                      input=payload.decode(), timeout=20)
    out, _ = server.communicate(timeout=20)
    assert out.strip() == str(len(payload))


def test_link_down_and_up(sandbox):
    two_hosts(sandbox)
    assert ping(sandbox, "h1", "192.0.2.2")

    # Switch-side end down: admin PORT_DOWN and LINK_DOWN.
    sandbox.link("h2-p", up=False)
    wait_until(lambda: sandbox.port_desc("br0")["h2-p"]["state"]
               == ["LINK_DOWN"], 5, what="LINK_DOWN on h2-p")
    assert sandbox.port_desc("br0")["h2-p"]["config"] == ["PORT_DOWN"]
    assert sandbox.port_desc("br0")["h1-p"]["state"] == ["LIVE"]
    assert not ping(sandbox, "h1", "192.0.2.2", count=2)
    assert not ping(sandbox, "h1", "2001:db8::2", count=2)

    sandbox.link("h2-p", up=True)
    wait_until(lambda: sandbox.port_desc("br0")["h2-p"]["state"]
               == ["LIVE"], 5, what="h2-p LIVE again")
    assert sandbox.port_desc("br0")["h2-p"]["config"] == []
    wait_until(lambda: ping(sandbox, "h1", "192.0.2.2", count=1), 5,
               what="ping over h2-p after link up")
    assert ping(sandbox, "h1", "2001:db8::2")

    # Host-side end down: LINK_DOWN only; addresses survive.
    sandbox.host_link("h2", up=False)
    wait_until(lambda: sandbox.port_desc("br0")["h2-p"]["state"]
               == ["LINK_DOWN"], 5, what="LINK_DOWN from h2's eth0")
    assert sandbox.port_desc("br0")["h2-p"]["config"] == []
    sandbox.host_link("h2", up=True)
    wait_until(lambda: ping(sandbox, "h1", "2001:db8::2", count=1), 5,
               what="IPv6 ping after h2's eth0 came back")


def test_two_sandboxes_coexist(sandbox):
    two_hosts(sandbox)
    with Sandbox(new_prefix()) as other:
        two_hosts(other)
        assert ping(other, "h1", "192.0.2.2")
        assert ping(sandbox, "h1", "192.0.2.2")
        other.link("h2-p", up=False)
        assert not ping(other, "h1", "192.0.2.2", count=2)
        assert ping(sandbox, "h1", "192.0.2.2")
    assert ping(sandbox, "h2", "2001:db8::1")


def test_bridges_linked_through_uplinks(sandbox):
    # phys is the "physical" switch; br0 and br1 reach it via uplinks.
    sandbox.add_bridge("phys")
    sandbox.add_bridge("br0", uplinks=["up0:phys:phys-0"])
    sandbox.add_bridge("br1")
    sandbox.add_link("br1", "up1", "phys", "phys-1")
    sandbox.add_host("h1", "br0", "h1-p", H1[2], H1[3])
    sandbox.add_host("h2", "br1", "h2-p", H2[2], H2[3])
    assert ping(sandbox, "h1", "192.0.2.2")
    assert set(sandbox.port_desc("phys")) == {"phys", "phys-0", "phys-1"}
    sandbox.link("phys-1", up=False)
    wait_until(lambda: sandbox.port_desc("br1")["up1"]["state"]
               == ["LINK_DOWN"], 5, what="LINK_DOWN on up1 (peer down)")


def test_controller_bridge_settings(sandbox):
    of_sock = sandbox.dir / "of.sock"
    sandbox.add_bridge("br0", "unix:%s" % of_sock)

    def get(table, record, column):
        return sandbox.vsctl("get", table, record, column).strip()
    assert get("bridge", "br0", "fail_mode") == "secure"
    assert get("bridge", "br0", "datapath_type") == "netdev"
    assert get("bridge", "br0", "protocols") == \
        "[OpenFlow13, OpenFlow14, OpenFlow15]"
    assert get("bridge", "br0", "other_config:disable-in-band") == '"true"'
    assert get("controller", "br0", "max_backoff") == "1000"
    assert get("controller", "br0", "target") == '"unix:%s"' % of_sock
    assert not of_sock.exists()     # The stand-in controller cleaned up.

    # The switch keeps retrying every second (not backing off to 8 s):
    # let it fail three times, then a listener must be called within 2.5 s.
    def failures():
        log = sandbox.log_path().read_text()
        return log.count("%s: connection failed" % of_sock) >= 3
    wait_until(failures, 10, 0.1, "3 failed controller connections")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(str(of_sock))
        listener.listen(1)
        listener.settimeout(2.5)
        conn, _ = listener.accept()
        conn.close()


def test_plain_bridge_has_no_fail_mode(sandbox):
    sandbox.add_bridge("br0", "unix:%s" % (sandbox.dir / "of.sock"),
                       fail_mode="none")
    sandbox.add_bridge("phys", fail_mode="secure")
    assert sandbox.vsctl("get", "bridge", "br0", "fail_mode").strip() == "[]"
    assert sandbox.vsctl("get", "controller", "br0",
                         "max_backoff").strip() == "1000"
    assert sandbox.vsctl("get", "bridge", "phys",
                         "fail_mode").strip() == "secure"
    assert sandbox.ovsdb_remote == "unix:%s/db.sock" % sandbox.dir
    out = run(["bash", SANDBOX_SH, "db", sandbox.dir]).stdout.strip()
    assert out == sandbox.ovsdb_remote


def test_vlans_behind_a_trunk(sandbox):
    """Clients in VLANs 10 and 20 on a "physical" switch, a trunk to br0,
    a member on an access port of VLAN 10: only VLAN 10 reaches it."""
    sandbox.add_bridge("br0")
    sandbox.add_bridge("phys", uplinks=["ph-up:br0:up0"])
    sandbox.port_vlan("up0", "trunk", "10,20")
    sandbox.port_vlan("ph-up", "trunk", "10,20")
    sandbox.add_host("m1", "br0", "m1-p", "02:00:00:00:00:11",
                     "192.0.2.11/24", tag=10)
    sandbox.add_host("c1", "phys", "c1-p", "02:00:00:00:00:01",
                     "192.0.2.1/24", tag=10)
    sandbox.add_host("c2", "phys", "c2-p", "02:00:00:00:00:02",
                     "192.0.2.2/24", tag=20)

    def col(port, column):
        return sandbox.vsctl("get", "port", port, column).strip()
    assert (col("m1-p", "tag"), col("up0", "trunks"),
            col("up0", "vlan_mode")) == ("10", "[10, 20]", "trunk")
    assert not ping(sandbox, "c2", "192.0.2.11", count=2)
    # The echo requests cross the trunk tagged with VLAN 10.
    tcpdump = subprocess.Popen(
        ["ip", "netns", "exec", sandbox.sw_ns, "timeout", "20", "tcpdump",
         "-c", "1", "-e", "-n", "-l", "-i", "up0", "vlan 10 and icmp"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        for line in tcpdump.stderr:
            if "listening on" in line:
                break
        assert "listening on up0" in line, "tcpdump did not start: " + line
        assert ping(sandbox, "c1", "192.0.2.11")
        out, _ = tcpdump.communicate(timeout=20)
    finally:
        if tcpdump.poll() is None:
            tcpdump.kill()
            tcpdump.wait()
    assert "vlan 10" in out and "02:00:00:00:00:01 > 02:00:00:00:00:11" \
        in out, out
    sandbox.port_vlan("up0", "trunk", "20", "native-untagged", "10")
    assert col("up0", "tag") == "10"
    assert col("up0", "vlan_mode") == "native-untagged"
    sandbox.port_vlan("up0", "none")
    assert (col("up0", "tag"), col("up0", "trunks"),
            col("up0", "vlan_mode")) == ("[]", "[]", "[]")
    sandbox.port_vlan("m1-p", "access", 20)
    assert col("m1-p", "tag") == "20"


def test_replug_like_libvirt(sandbox):
    sandbox.add_bridge("br0")
    sandbox.add_host("h1", "br0", "h1-p", H1[2], H1[3], H1[4], tag=10,
                     iface_id="vm-h1")
    sandbox.add_host("h2", "br0", "h2-p", H2[2], H2[3], H2[4], tag=10)

    def iface(name, column):
        return sandbox.vsctl("get", "interface", name, column).strip()
    assert iface("h1-p", "external_ids:iface-id") == "vm-h1"
    assert iface("h1-p", "external_ids:attached-mac") == '"%s"' % H1[2]
    old = sandbox.port_desc("br0")["h1-p"]["number"]
    assert ping(sandbox, "h2", "192.0.2.1")

    sandbox.replug("h1", "vnet7")
    ports = sandbox.port_desc("br0")
    assert "h1-p" not in ports and ports["vnet7"]["number"] != old
    assert iface("vnet7", "external_ids:iface-id") == "vm-h1"
    assert iface("vnet7", "external_ids:attached-mac") == '"%s"' % H1[2]
    assert sandbox.vsctl("get", "port", "vnet7", "tag").strip() == "10"
    out = sandbox.host_exec("h1", "ip", "-o", "addr", "show", "eth0").stdout
    assert "192.0.2.1/24" in out and "2001:db8::1/64" in out
    assert ping(sandbox, "h2", "192.0.2.1")
    assert ping(sandbox, "h2", "2001:db8::1")
    proc = run(["bash", SANDBOX_SH, "replug", sandbox.dir, "nosuch", "p9"],
               check=False)
    assert proc.returncode != 0 and "no host nosuch" in proc.stderr


def test_ovsdb_server_stop_and_start(sandbox):
    sandbox.add_bridge("br0")
    old = sandbox.daemon_pids["ovsdb-server"]
    sandbox.stop_ovsdb(kill=True)
    assert old not in sandbox.alive_pids()
    proc = run(["ovs-vsctl", "--timeout=1", "show"], check=False,
               env=sandbox.env)
    assert proc.returncode != 0
    proc = run(["bash", SANDBOX_SH, "ovsdb-stop", sandbox.dir], check=False)
    assert proc.returncode != 0 and "not running" in proc.stderr
    sandbox.start_ovsdb()
    new = sandbox.daemon_pids["ovsdb-server"]
    assert new != old and new in sandbox.alive_pids()
    assert sandbox.vsctl("list-br").split() == ["br0"]
    sandbox.stop_ovsdb()            # SIGTERM this time.
    sandbox.start_ovsdb()
    assert len(sandbox.alive_pids()) == 2


def test_env_sh_points_tools_at_sandbox(sandbox):
    sandbox.add_bridge("br0", "unix:%s" % (sandbox.dir / "of.sock"))
    script = ("source ovs-scripts/env.sh %s && ovs-vsctl br-exists br0 && "
              "ovs-appctl version && ovs-ofctl -O OpenFlow15 show br0"
              % sandbox.dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OVS_")}
    out = subprocess.run(["bash", "-c", script], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "OFPT_FEATURES_REPLY (OF1.5)" in out.stdout
    assert str(sandbox.dir) in out.stdout       # The one-line hint.


def _root_links():
    return run(["ip", "-o", "link", "show"], timeout=10).stdout


def test_stop_leaves_nothing_behind():
    sb = Sandbox(new_prefix())
    try:
        two_hosts(sb)
        sb.add_bridge("br1", uplinks=["up1:br0:br0-up"])
        pids = sb.alive_pids()
        assert len(pids) == 2
        assert sorted(sb.namespaces()) == sorted(
            sb.prefix + n for n in ("sw", "h1", "h2"))
        # Something a test left running inside a host namespace.
        sb.host_popen("h1", "sleep", "600")
    finally:
        sb.stop()
    assert sb.namespaces() == []
    assert sb.alive_pids() == []
    links = _root_links()
    for port in ("h1-p", "h2-p", "up1", "br0-up"):
        assert port + "@" not in links and port + ":" not in links
    assert not sb.dir.exists()
    sb.stop()                       # Idempotent.


def test_stop_cleans_half_set_up_sandbox(tmp_path):
    d = tmp_path / "sb"
    prefix = new_prefix()
    sh = ["bash", SANDBOX_SH]
    run(sh + ["start", d, prefix])
    run(sh + ["add-bridge", d, "br0", "none"])
    # A failed add-host (bad bridge) after its namespace and veth exist.
    bad = run(sh + ["add-host", d, "h1", "nosuchbr", "h1-p",
                    "02:00:00:00:00:01", "192.0.2.1/24"], check=False)
    assert bad.returncode != 0
    pids = [int((d / n).read_text()) for n in
            ("ovsdb-server.pid", "ovs-vswitchd.pid")]
    os.kill(pids[1], 9)             # A crashed ovs-vswitchd.
    run(sh + ["stop", d])
    run(sh + ["stop", d])
    out = run(["ip", "netns", "list"], timeout=10).stdout
    assert prefix not in out
    assert "h1-p" not in _root_links()
    assert not d.exists()           # start created it, stop removed it.
    assert all(not os.path.exists("/proc/%d/cmdline" % p)
               or open("/proc/%d/stat" % p).read().split()[2] == "Z"
               for p in pids)


def test_bad_arguments_change_nothing(sandbox):
    sh = ["bash", SANDBOX_SH]
    for args in (["add-host", sandbox.dir, "h1", "br0", "way-too-long-port",
                  "02:00:00:00:00:01"],
                 ["add-host", sandbox.dir, "h1", "br0", "p1", "not-a-mac"],
                 ["add-host", sandbox.dir, "h1", "br0", "p1",
                  "02:00:00:00:00:01", "192.0.2.1"],
                 ["link", sandbox.dir, "p1", "sideways"],
                 ["add-bridge", sandbox.dir, "br0", "bogus:target"],
                 ["add-bridge", sandbox.dir, "--fail-mode", "open", "br0",
                  "none"],
                 ["add-host", sandbox.dir, "--tag", "4096", "h1", "br0",
                  "p1", "02:00:00:00:00:01"],
                 ["add-host", sandbox.dir, "--iface-id", "a b", "h1", "br0",
                  "p1", "02:00:00:00:00:01"],
                 ["port-vlan", sandbox.dir, "p1", "trunk", "10,x"],
                 ["port-vlan", sandbox.dir, "p1", "sideways"]):
        proc = run(sh + args, check=False)
        assert proc.returncode != 0 and proc.stderr, args
    assert sandbox.namespaces() == [sandbox.sw_ns]
    assert sandbox.vsctl("list-br").split() == []
    assert run(sh + ["--help"]).stdout.startswith("usage:")
