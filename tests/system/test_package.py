"""The Debian package (issue 15): make deb builds vmacd_VERSION_ARCH.deb
(lintian clean but for the explained overrides), it installs on this machine
(user and group vmacd, /etc/vmacd/vmacd.json from the example, the unit
enabled), the unit passes systemd-analyze verify, the daemon runs the way
the unit runs it, and the package purges without a trace.

Where systemd is PID 1 the unit itself is started, reloaded and stopped.
Elsewhere (containers, this CI) the daemon is started as the unit says:
ExecStart as User=/Group= vmacd, RuntimeDirectory= created with its mode,
UMask=, $NOTIFY_SOCKET for Type=notify (a socket of the test's), and
ExecReload= for the reload; its syslog goes to a socket of the test's
through $OVS_SYSLOG_METHOD, standing in for journald's /dev/log.  It runs
in a network namespace of its own, so that the example configuration's
ptcp:6653 cannot clash with anything on the host.

Needs root; skipped if a vmacd is installed already (never touched).
"""

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from sandbox import REPO, wait_until

NEEDS_SANDBOX = False

VERSION = (REPO / "VERSION").read_text().strip()
UNIT = Path("/lib/systemd/system/vmacd.service")
DEADLINE = 30
SYSTEM_DB_SOCK = "/var/run/openvswitch/db.sock"  # The example config's remote.


def run(cmd, timeout=120, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check:
        assert r.returncode == 0, "%s: exit %d\n%s%s" % (
            " ".join(cmd), r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    return r


def why_skip():
    if os.geteuid() != 0:
        return "installs a package: needs root"
    for tool in ("dpkg", "apt-get", "systemd-analyze", "setpriv", "unshare"):
        if not shutil.which(tool):
            return "needs %s" % tool
    status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "vmacd"],
                            capture_output=True, text=True).stdout
    if "installed" in status and "not-installed" not in status:
        return "a vmacd package is installed on this machine: not touched"
    for path in ("/usr/sbin/vmacd", "/etc/vmacd", "/run/vmacd"):
        if os.path.exists(path):
            return "%s exists: not touched" % path
    return None


pytestmark = pytest.mark.skipif(why_skip() is not None,
                                reason=str(why_skip()))


def systemd_is_pid1():
    return os.path.isdir("/run/systemd/system")


def unit_service_keys(path):
    """The [Service] section: key -> list of values (continuations
    joined)."""
    keys, section = {}, None
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line \
                and not line.startswith("#"):
            k, v = line.split("=", 1)
            keys.setdefault(k, []).append(v)
    return keys


class Notify:
    def __init__(self, directory):
        os.chmod(directory, 0o755)
        self.path = str(directory / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)      # The daemon is not root.
        self.sock.settimeout(0.05)
        self.got = []

    def wait(self, state, after=0):
        def found():
            while True:
                try:
                    data = self.sock.recv(4096).decode()
                except socket.timeout:
                    break
                self.got.extend(data.splitlines())
            return state in self.got[after:]
        wait_until(found, DEADLINE, 0.05, "%s from vmacd" % state)
        # Where to look for what comes next.
        return self.got.index(state, after) + 1


class Syslog:
    def __init__(self, directory):
        self.path = str(directory / "log.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)
        self.sock.settimeout(0.05)
        self.lines = []

    def text(self):
        while True:
            try:
                self.lines.append(self.sock.recv(65536).decode(
                    errors="replace"))
            except socket.timeout:
                return "\n".join(self.lines)


def start_like_the_unit(tmp_path):
    """Starts /usr/sbin/vmacd as the installed unit says.  Returns the
    Popen, the notify socket and the syslog socket."""
    keys = unit_service_keys(UNIT)
    assert keys["Type"] == ["notify"]
    user, group = keys["User"][0], keys["Group"][0]
    rundir = Path("/run") / keys["RuntimeDirectory"][0]
    rundir.mkdir(mode=int(keys["RuntimeDirectoryMode"][0], 8))
    os.chmod(rundir, int(keys["RuntimeDirectoryMode"][0], 8))
    shutil.chown(rundir, user, group)

    env_opts = ""
    for env_file in keys.get("EnvironmentFile", []):
        assert env_file.startswith("-"), env_file
        assert not os.path.exists(env_file[1:])  # Nothing there by default.
    exec_start = keys["ExecStart"][0].replace("$VMACD_OPTS", env_opts)
    argv = shlex.split(exec_start)
    assert argv[0] == "/usr/sbin/vmacd"

    notify = Notify(tmp_path)
    syslog = Syslog(tmp_path)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
           "NOTIFY_SOCKET": notify.path,
           "OVS_SYSLOG_METHOD": "unix:%s" % syslog.path}
    umask = keys["UMask"][0]
    setpriv = ["setpriv", "--reuid=%s" % user, "--regid=%s" % group,
               "--init-groups", "--no-new-privs", "--inh-caps=-all",
               "--bounding-set=-all"]
    script = "ip link set lo up && umask %s && exec %s" % (
        umask, " ".join(shlex.quote(a) for a in setpriv + argv))
    proc = subprocess.Popen(["unshare", "--net", "sh", "-c", script],
                            env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    return proc, notify, syslog, keys


def vmacctl(*args):
    return run(["/usr/bin/vmacctl"] + list(args), timeout=30, check=False)


@pytest.fixture
def shared_tmp():
    """A directory the daemon (user vmacd) can reach: pytest's tmp_path is
    inside a 0700 directory."""
    path = Path(subprocess.run(["mktemp", "-d", "/tmp/vpkg.XXXXXX"],
                               capture_output=True, text=True,
                               check=True).stdout.strip())
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_deb_builds_installs_runs_and_purges(shared_tmp):
    tmp_path = shared_tmp
    arch = run(["dpkg-architecture", "-qDEB_HOST_ARCH"]).stdout.strip()
    deb = REPO / "build" / "deb" / ("vmacd_%s_%s.deb" % (VERSION, arch))
    # The unit tests run in make check already.
    run(["make", "-s", "--no-print-directory", "-C", str(REPO), "deb"],
        timeout=900, env=dict(os.environ, DEB_BUILD_OPTIONS="nocheck"))
    assert deb.exists()
    lintian = (REPO / "build" / "deb" / "lintian.log").read_text()
    assert not re.search(r"^[EW]: ", lintian, re.M), lintian
    contents = run(["dpkg-deb", "-c", str(deb)]).stdout
    for path in ("./usr/sbin/vmacd", "./usr/bin/vmacctl",
                 "./lib/systemd/system/vmacd.service",
                 "./usr/share/man/man8/vmacd.8.gz",
                 "./usr/share/man/man8/vmacctl.8.gz",
                 "./usr/share/man/man5/vmacd.json.5.gz",
                 "./usr/share/bash-completion/completions/vmacctl",
                 "./usr/share/vmacd/vmacd.example.json",
                 "./usr/share/doc/vmacd/copyright"):
        assert re.search(r" %s$" % re.escape(path), contents, re.M), path
    # /etc/vmacd/vmacd.json is the postinst's, not the package's.
    assert "./etc/" not in contents

    had_user = True
    try:
        pwd.getpwnam("vmacd")
    except KeyError:
        had_user = False
    procs = []
    try:
        run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "install", "-y",
             "-q", "--no-install-recommends", str(deb)], timeout=600)
        check_installed()
        if systemd_is_pid1():
            exercise_systemd_unit()
        else:
            r = run(["systemd-analyze", "verify", str(UNIT)], check=False,
                    timeout=60)
            assert r.returncode == 0 and not r.stderr.strip(), r.stderr
            exercise_like_the_unit(tmp_path, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=600", "purge",
                        "-y", "-q", "vmacd"], capture_output=True,
                       timeout=600)
        shutil.rmtree("/run/vmacd", ignore_errors=True)
        if not had_user:
            subprocess.run(["userdel", "vmacd"], capture_output=True)
            subprocess.run(["groupdel", "vmacd"], capture_output=True)

    # Purged: nothing left.
    for path in ("/usr/sbin/vmacd", "/usr/bin/vmacctl", str(UNIT),
                 "/etc/vmacd",
                 "/etc/systemd/system/multi-user.target.wants/vmacd.service"):
        assert not os.path.lexists(path), path
    status = run(["dpkg-query", "-W", "-f=${Status}", "vmacd"],
                 check=False).stdout
    assert "installed" not in status or "not-installed" in status, status


def check_installed():
    user = pwd.getpwnam("vmacd")
    group = grp.getgrnam("vmacd")
    assert user.pw_gid == group.gr_gid
    assert user.pw_dir == "/nonexistent"
    st = os.stat("/etc/vmacd")
    assert (st.st_uid, st.st_gid) == (0, group.gr_gid)
    assert stat.S_IMODE(st.st_mode) == 0o2770
    cfg = Path("/etc/vmacd/vmacd.json")
    st = cfg.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) \
        == (0, group.gr_gid, 0o660)
    assert cfg.read_text() \
        == Path("/usr/share/vmacd/vmacd.example.json").read_text()
    # Enabled (deb-systemd-helper: the symlink, with or without systemd).
    link = Path("/etc/systemd/system/multi-user.target.wants/vmacd.service")
    assert link.is_symlink() and os.readlink(link) == str(UNIT)
    r = run(["/usr/sbin/vmacd", "--check-config", "--config", str(cfg)])
    assert "valid" in r.stdout
    assert run(["man", "-w", "vmacd"]).stdout.strip().endswith("vmacd.8.gz")


def exercise_systemd_unit():
    wait_until(lambda: run(["systemctl", "is-active", "vmacd"],
                           check=False).stdout.strip() == "active",
               DEADLINE, 0.2, "vmacd.service active")
    r = vmacctl("status")
    assert r.returncode == 0 and "vmacd %s" % VERSION in r.stdout, r.stderr
    status = run(["systemctl", "show", "-p", "StatusText", "vmacd"]).stdout
    assert "aliases" in status, status
    run(["systemctl", "reload", "vmacd"])
    assert vmacctl("status").returncode == 0
    run(["systemctl", "stop", "vmacd"])
    assert not os.path.exists("/run/vmacd/vmacd.sock")


def exercise_like_the_unit(tmp_path, procs):
    proc, notify, syslog, keys = start_like_the_unit(tmp_path)
    procs.append(proc)
    try:
        n = notify.wait("READY=1")
    except AssertionError:
        proc.kill()
        raise AssertionError("no READY=1; vmacd: %s" % (proc.communicate(
            timeout=10),))
    assert proc.poll() is None
    st = os.stat("/run/vmacd")
    assert stat.S_IMODE(st.st_mode) == 0o750
    sock = os.stat("/run/vmacd/vmacd.sock")
    vm = pwd.getpwnam("vmacd")
    assert stat.S_ISSOCK(sock.st_mode)
    assert (sock.st_uid, sock.st_gid) == (vm.pw_uid, vm.pw_gid)
    assert stat.S_IMODE(sock.st_mode) == 0o660
    assert any(s.startswith("STATUS=2 aliases, 0 of 2 bridges")
               for s in notify.got), notify.got

    r = vmacctl("status")
    assert r.returncode == 0 and "vmacd %s" % VERSION in r.stdout, r.stderr
    r = vmacctl("alias", "list")
    assert r.returncode == 0 and re.search(r"^web ", r.stdout, re.M)
    # Writes persist into /etc/vmacd as user vmacd (ReadWritePaths).
    r = vmacctl("member", "drain", "web", "m1")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(Path("/etc/vmacd/vmacd.json").read_text())
    web = [a for a in cfg["aliases"] if a["name"] == "web"][0]
    assert web["members"][0]["drained"] is True
    assert Path("/etc/vmacd/vmacd.json").stat().st_uid == vm.pw_uid

    # ExecReload, as systemd runs it.
    reload_cmd = keys["ExecReload"][0].replace("$MAINPID", str(proc.pid))
    run(shlex.split(reload_cmd))
    n = notify.wait("RELOADING=1", after=n)
    n = notify.wait("READY=1", after=n)
    # Its log went to syslog, at info, in vmacd's pattern.
    wait_until(lambda: re.search(r"\|main\|INFO\|vmacd %s started" % VERSION,
                                 syslog.text()), DEADLINE, 0.05,
               "vmacd's start in its syslog")
    wait_until(lambda: "configuration reloaded" in syslog.text(), DEADLINE,
               0.05, "the reload in syslog")
    # The installed configuration names the host's OVSDB; a host without
    # a running ovsdb-server gets the one warning that says so.
    logged = syslog.text()
    if not os.path.exists(SYSTEM_DB_SOCK):
        logged = re.sub(r".*\|vsdb\|WARN\|ovsdb: cannot connect to unix:%s "
                        r"\(No such file or directory\).*\n?"
                        % re.escape(SYSTEM_DB_SOCK), "", logged)
    assert not re.search(r"\|(WARN|ERR|EMER)\|", logged), syslog.text()

    # SIGUSR1: a dump, not a death.
    proc.send_signal(signal.SIGUSR1)
    wait_until(lambda: "state dump ends" in syslog.text(), DEADLINE, 0.05,
               "state dump in syslog")
    assert proc.poll() is None

    proc.send_signal(signal.SIGTERM)
    notify.wait("STOPPING=1", after=n)
    assert proc.wait(DEADLINE) == 0
    assert not os.path.exists("/run/vmacd/vmacd.sock")
    # Nothing went to stderr (console logging is off in the unit).
    assert proc.stderr.read() == ""
