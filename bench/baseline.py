"""The baseline vmacd of "make bench": the daemon built at an earlier git
revision (default: 52d939f, the last commit before the engine redesign of
issue 18), so that the scale part measures both under the same conditions
and prints them side by side.

build(rev) exports the revision with "git archive" into
build/bench-baseline/SHA/src (no git worktree: nothing is added to the
repository's metadata), links its build/ovs to this tree's libopenvswitch
build and runs the old Makefile for build/bin/vmacd only.  libopenvswitch
is now built with OpenSSL, so the old Makefile's LDLIBS (read from the
Makefile itself) get -lssl -lcrypto appended on the make command line
when they lack them.  A finished build is reused (stamp file).
"""

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_REV = "52d939f"
OUT = REPO / "build" / "bench-baseline"
BUILD_TIMEOUT = 900


class Unavailable(Exception):
    """No baseline: why, in a sentence the table prints."""


def _git(*args, timeout=60):
    return subprocess.run(["git", "-C", str(REPO)] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def describe_head():
    """This tree's revision as "SHA" or "SHA+changes"."""
    r = _git("rev-parse", "--short=7", "HEAD")
    if r.returncode != 0:
        return "unknown"
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return r.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def resolve(rev):
    """The full SHA of 'rev'; Unavailable if the history does not have it
    (a shallow clone, say)."""
    r = _git("rev-parse", "--verify", "--quiet", "%s^{commit}" % rev)
    if r.returncode == 0:
        return r.stdout.strip()
    shallow = _git("rev-parse", "--is-shallow-repository").stdout.strip()
    if shallow == "true":
        raise Unavailable("revision %s is not in this shallow clone (git "
                          "fetch --unshallow brings the history)" % rev)
    raise Unavailable("revision %s not found in %s" % (rev, REPO))


def _make_var(src, name):
    """The value of variable 'name' in the Makefile at 'src'."""
    r = subprocess.run(["make", "-s", "-C", str(src), "--no-print-directory",
                        "--eval", "bench-print-var: ; @echo $(%s)" % name,
                        "bench-print-var"],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise Unavailable("cannot read %s from the baseline Makefile: %s"
                          % (name, r.stderr.strip()[-300:]))
    return r.stdout.strip()


def build(rev=DEFAULT_REV, log=print):
    """Returns (path of the baseline vmacd, full SHA), building it if
    needed; raises Unavailable with the reason otherwise."""
    sha = resolve(rev)
    top = OUT / sha[:12]
    src = top / "src"
    binary = src / "build" / "bin" / "vmacd"
    stamp = top / "built"
    if binary.exists() and stamp.exists() \
            and stamp.read_text().strip() == sha:
        return binary, sha
    ovs = (REPO / "build" / "ovs").resolve()
    if not (ovs / "libopenvswitch-vmacd.a").exists():
        raise Unavailable("no libopenvswitch build in %s (make deps)" % ovs)
    log("baseline: building vmacd at %s in %s" % (sha[:12], src))
    shutil.rmtree(top, ignore_errors=True)
    src.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(REPO), "archive", sha],
                               stdout=subprocess.PIPE)
    untar = subprocess.run(["tar", "-x", "-C", str(src)],
                           stdin=archive.stdout, capture_output=True,
                           timeout=120)
    archive.stdout.close()
    if archive.wait(timeout=60) != 0 or untar.returncode != 0:
        raise Unavailable("git archive %s failed: %s"
                          % (sha[:12], untar.stderr.decode()[-300:]))
    (src / "build").mkdir(exist_ok=True)
    os.symlink(ovs, src / "build" / "ovs")
    ldlibs = _make_var(src, "LDLIBS")
    for lib in ("-lssl", "-lcrypto"):
        if lib not in ldlibs.split():
            ldlibs += " " + lib
    logf = top / "build.log"
    with open(logf, "w") as f:
        try:
            r = subprocess.run(["make", "-C", str(src), "-j2",
                                "build/bin/vmacd", "LDLIBS=%s" % ldlibs],
                               stdout=f, stderr=subprocess.STDOUT,
                               timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Unavailable("baseline build took over %d s (see %s)"
                              % (BUILD_TIMEOUT, logf))
    if r.returncode != 0 or not binary.exists():
        raise Unavailable("baseline build failed (see %s)" % logf)
    stamp.write_text(sha + "\n")
    return binary, sha
