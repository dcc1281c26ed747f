"""Building and installing (issue 15).  make -jN runs ovs-scripts/deps.sh
once, and each target asks it for its own tools: building needs no test or
bench tool, and debian/control's Build-Depends are what building needs.
make install / make uninstall with PREFIX and DESTDIR: the tree it lays out, the unit file's paths, a configuration that is never
overwritten, and an uninstall that leaves a changed configuration.  Also the
man pages: they render without warnings, vmacd.json(5) names every key of
docs/config.md, vmacctl(8) every vmacctl command, vmacd(8) every vmacd
option.  Needs no root and no OVS.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from sandbox import REPO

NEEDS_SANDBOX = False


def make(*args):
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO)]
                       + list(args), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, "make %s: %s%s" % (" ".join(args), r.stdout,
                                                  r.stderr)
    return r.stdout


def deps_list(*profiles):
    r = subprocess.run(["bash", str(REPO / "ovs-scripts" / "deps.sh"),
                        "--list"] + list(profiles), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return set(r.stdout.split())


def test_build_needs_no_test_tools():
    build = deps_list()
    assert build == deps_list("build")
    assert {"build-essential", "openvswitch-source", "libjansson-dev",
            "libsystemd-dev", "scdoc"} <= build
    tools = {"openvswitch-switch", "keepalived", "gnuplot-nox",
             "python3-scapy", "python3-pytest", "libcmocka-dev", "valgrind",
             "tcpdump", "lintian", "clang", "curl"}
    assert not build & tools, build & tools
    check = deps_list("check")
    assert build | {"openvswitch-switch", "python3-pytest", "python3-scapy",
                    "libcmocka-dev", "lintian", "debhelper", "man-db"} \
        <= check
    assert not check & {"keepalived", "gnuplot-nox", "valgrind"}
    assert {"keepalived", "gnuplot-nox", "openvswitch-switch",
            "python3-scapy"} <= deps_list("bench")
    assert "valgrind" in deps_list("check-memory")
    assert deps_list("unit") == build | {"libcmocka-dev"}
    assert "openvswitch-switch" in deps_list("demo")

    # debian/control builds with the same packages (debhelper aside, and
    # cmocka for the unit tests unless nocheck).
    control = (REPO / "debian" / "control").read_text()
    field = re.search(r"^Build-Depends:(.*?)\n(?=\S)", control,
                      re.M | re.S).group(1)
    names = {re.match(r"\s*([a-z0-9.+-]+)", dep).group(1)
             for dep in field.split(",") if dep.strip()}
    assert names == (build - {"build-essential"}) \
        | {"debhelper-compat", "libcmocka-dev"}, names


def test_make_j_runs_deps_once(tmp_path):
    """In a fresh tree (no build/), make -j8 runs deps.sh once, for the
    build profile only; check and bench add theirs after it."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, symlinks=True,
                    ignore=shutil.ignore_patterns("build", ".git",
                                                  "__pycache__"))

    def dry_run(*targets):
        r = subprocess.run(["make", "-n", "-j8", "-C", str(tree)]
                           + list(targets), capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 0, r.stderr
        return re.findall(r"ovs-scripts/deps\.sh(.*)", r.stdout)

    assert dry_run("all") == [" build"]
    assert dry_run() == [" build"]
    # (make -n still runs the recursive makes of check and bench, each of
    # which finds no stamp in a dry run: only the order is telling.)
    for target in ("check", "bench", "deb", "demo"):
        runs = dry_run(target)
        assert runs[:2] == [" build", " " + target], (target, runs)
        assert set(runs) <= {" build", " " + target, " unit", " check",
                             " fuzz"}
    # CI builds in parallel, and still runs make check.
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make -j\S* check$", ci, re.M), ci


def files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() or p.is_symlink())


def layout(prefix):
    p = prefix.lstrip("/")
    return sorted([
        "etc/vmacd/vmacd.json",
        p + "/bin/vmacctl",
        p + "/lib/systemd/system/vmacd.service",
        p + "/sbin/vmacd",
        p + "/share/bash-completion/completions/vmacctl",
        p + "/share/doc/vmacd/README.md",
        p + "/share/doc/vmacd/api.md",
        p + "/share/doc/vmacd/config.md",
        p + "/share/doc/vmacd/flows.md",
        p + "/share/man/man5/vmacd.json.5",
        p + "/share/man/man8/vmacctl.8",
        p + "/share/man/man8/vmacd.8",
        p + "/share/vmacd/vmacd.example.json",
    ])


def unit_keys(path):
    keys = {}
    text = path.read_text().replace("\\\n", " ")
    for line in text.splitlines():
        m = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if m:
            keys.setdefault(m.group(1), []).append(m.group(2))
    return keys


@pytest.mark.parametrize("prefix", ["/usr/local", "/usr"])
def test_install_uninstall(tmp_path, prefix):
    root = tmp_path / "root"
    args = ["DESTDIR=%s" % root]
    if prefix != "/usr/local":
        args.append("PREFIX=%s" % prefix)
    make("install", *args)
    assert files(root) == layout(prefix)

    p = root / prefix.lstrip("/")
    for exe in ("sbin/vmacd", "bin/vmacctl"):
        assert os.access(p / exe, os.X_OK)
    r = subprocess.run([str(p / "sbin/vmacd"), "--version"],
                       capture_output=True, text=True, timeout=10)
    version = (REPO / "VERSION").read_text().strip()
    assert r.stdout == "vmacd %s\n" % version
    example = (REPO / "vmacd.example.json").read_text()
    assert (root / "etc/vmacd/vmacd.json").read_text() == example
    assert (p / "share/vmacd/vmacd.example.json").read_text() == example

    # The unit runs the installed binary on the installed configuration.
    unit = p / "lib/systemd/system/vmacd.service"
    keys = unit_keys(unit)
    assert keys["ExecStart"][0].split()[:3] == [
        prefix + "/sbin/vmacd", "--config", "/etc/vmacd/vmacd.json"]
    assert keys["ReadWritePaths"] == ["/etc/vmacd"]
    # systemd-analyze verify, with the binary where DESTDIR put it.
    if shutil.which("systemd-analyze"):
        copy = tmp_path / "vmacd.service"
        copy.write_text(unit.read_text().replace(
            prefix + "/sbin/vmacd", str(p / "sbin/vmacd")))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                            str(copy)], capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr

    # A second install never overwrites the configuration.
    cfg = root / "etc/vmacd/vmacd.json"
    cfg.write_text(example.replace("\"web\"", "\"www\""))
    out = make("install", *args)
    assert "keeping %s" % cfg in out
    assert "\"www\"" in cfg.read_text()

    # uninstall removes everything but the changed configuration...
    out = make("uninstall", *args)
    assert "keeping %s (changed)" % cfg in out
    assert files(root) == ["etc/vmacd/vmacd.json"]
    # ...which goes too once it is the example again.
    make("install", *args)
    cfg.write_text(example)
    make("uninstall", *args)
    assert files(root) == []
    assert not (root / "etc/vmacd").exists()
    assert not (p / "share/doc/vmacd").exists()


# Man pages.

def render(page):
    path = REPO / "build" / "man" / page
    assert path.exists(), "make did not build %s" % path
    r = subprocess.run(["man", "--warnings", "-l", str(path)],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="",
                                LC_ALL="C.UTF-8"))
    assert r.returncode == 0, r.stderr
    assert not r.stderr.strip(), "%s: %s" % (page, r.stderr)
    # No formatting left in the text: bold/underline by backspaces.
    return re.sub(r".\x08", "", r.stdout)


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man (man-db)")
@pytest.mark.parametrize("page", ["vmacd.8", "vmacctl.8", "vmacd.json.5"])
def test_man_page_renders(page):
    text = render(page)
    name = page.rsplit(".", 1)[0]
    assert text.startswith("%s(%s)" % (name, page.rsplit(".", 1)[1]))
    for section in ("NAME", "DESCRIPTION", "SEE ALSO"):
        assert "\n%s\n" % section in text, (page, section)


def config_keys():
    """Every key that a table of docs/config.md lists (first column), and
    the keys its notes give in the form `key` (...) for objects."""
    keys = set()
    for line in (REPO / "docs" / "config.md").read_text().splitlines():
        m = re.match(r"^\| `([a-z_]+)` \|", line)
        if m:
            keys.add(m.group(1))
    # api.tcp's keys are in a note.
    keys.update(["address", "port", "allow_nonloopback"])
    return keys


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man (man-db)")
def test_config_page_names_every_key():
    keys = config_keys()
    assert {"listen", "inactivity_probe_ms", "probe_source", "rate_pps",
            "backup_interval_ms", "access_bridges", "drained"} <= keys
    words = set(re.findall(r"[a-z_]+", render("vmacd.json.5")))
    missing = sorted(keys - words)
    assert not missing, "vmacd.json(5) lacks %s" % missing


def vmacctl_commands():
    """("alias", "add"), ("status", None)...: from vmacctl --help."""
    r = subprocess.run([str(REPO / "build" / "bin" / "vmacctl"), "--help"],
                       capture_output=True, text=True, timeout=10)
    text = r.stdout.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    commands = set()
    for line in text.splitlines():
        if not line.startswith("  ") or line.startswith("    "):
            continue
        # "  alias add -f FILE      create...": the usage, then 2+ spaces.
        words = re.split(r"\s{2,}", line.strip())[0].split()
        subs = [w for w in words[1].split("|")] if len(words) > 1 and \
            re.fullmatch(r"[a-z|]+", words[1]) else [None]
        for sub in subs:
            commands.add((words[0], sub))
    return commands


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man (man-db)")
def test_vmacctl_page_names_every_command():
    commands = vmacctl_commands()
    assert ("log", "set") in commands and ("member", "undrain") in commands
    assert ("status", None) in commands
    text = re.sub(r"\s+", " ", render("vmacctl.8"))
    phrases = sorted(c if s is None else "%s %s" % (c, s)
                     for c, s in commands)
    missing = [p for p in phrases if p not in text]
    assert not missing, "vmacctl(8) lacks %s" % missing
    for option in ("--socket", "--json", "--if-match", "--timeout",
                   "--version", "--help"):
        assert option in text


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man (man-db)")
def test_vmacd_page_names_every_option():
    r = subprocess.run([str(REPO / "build" / "bin" / "vmacd"), "--help"],
                       capture_output=True, text=True, timeout=10)
    options = set(re.findall(r"(--[a-z][a-z-]+)", r.stdout))
    assert {"--pidfile", "--detach", "--state-file", "--syslog-target",
            "--log-file", "--verbose"} <= options
    text = render("vmacd.8")
    missing = sorted(o for o in options if o not in text)
    assert not missing, "vmacd(8) lacks %s" % missing
    for signal in ("SIGTERM", "SIGHUP", "SIGUSR1"):
        assert signal in text


# Bash completion.

COMPLETION = "/usr/share/bash-completion/bash_completion"


def complete(words):
    """What vmacctl's completion offers for the last word of 'words'
    (vmacctl itself absent from PATH: nothing asks a daemon)."""
    script = ('source %s; source %s; COMP_WORDS=(%s); '
              'COMP_CWORD=%d; COMP_LINE="%s"; COMP_POINT=${#COMP_LINE}; '
              '_vmacctl; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (COMPLETION, REPO / "vmacctl.bash-completion",
                 " ".join('"%s"' % w for w in words), len(words) - 1,
                 " ".join(words)))
    r = subprocess.run(["bash", "-c", script], capture_output=True,
                       text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.split())


@pytest.mark.skipif(not os.path.exists(COMPLETION),
                    reason="needs bash-completion")
def test_bash_completion():
    commands = {c for c, _ in vmacctl_commands()}
    assert complete(["vmacctl", ""]) == sorted(commands)
    assert complete(["vmacctl", "l"]) == ["log"]
    assert complete(["vmacctl", "log", ""]) == ["list", "set"]
    assert set(complete(["vmacctl", "log", "set", ""])) >= {
        "syslog", "console", "file", "dbg", "info"}
    assert complete(["vmacctl", "--t"]) == ["--timeout"]
    assert complete(["vmacctl", "--v"]) == ["--version"]
    # Options anywhere: a global option before the command is skipped.
    assert complete(["vmacctl", "--timeout", "3", "member", ""]) \
        == ["add", "drain", "remove", "undrain"]
