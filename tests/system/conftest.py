"""Fixtures for vmacd's system tests (real ovs-vswitchd, namespaces).

- sandbox: a started Sandbox with a unique prefix, stopped after the test
  whatever happens.  VMACD_KEEP_SANDBOX=1 keeps its directory (logs,
  configs) for a post-mortem; a failing test prints the log tails.
- vmacd_config: make_config(sandbox, bridges, aliases, **extra).
- vmacd_factory: vmacd_factory(config, **kw) -> a Vmacd (not started) that
  is stopped after the test.

Teardown: SIGTERM and SIGHUP stop the run like a Ctrl-C (pytest then tears
every fixture down, so the sandboxes go); a test that runs past
VMACD_TEST_TIMEOUT seconds (default 600, x10 under valgrind) fails with
TimedOut, and its fixtures are torn down as after any failure.
"""

import itertools
import os
import shutil
import signal
import sys

import pytest

from sandbox import Sandbox, exit_on_signals
from vmacd import SLOW, Vmacd, make_config

_counter = itertools.count(1)


def _why_skip():
    if os.geteuid() != 0:
        return "system tests need root (network namespaces, veths, OVS)"
    for tool in ("ovs-vswitchd", "ovsdb-server", "ovs-vsctl", "ip"):
        if shutil.which(tool) is None:
            return "system tests need %s (run make deps)" % tool
    return None


def pytest_collection_modifyitems(config, items):
    reason = _why_skip()
    if reason is None:
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for item in items:
        # Modules that need neither root nor OVS say NEEDS_SANDBOX = False.
        if (str(item.fspath).startswith(here + os.sep)
                and getattr(item.module, "NEEDS_SANDBOX", True)):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_configure(config):
    exit_on_signals(force=True)


class TimedOut(BaseException):
    """A test ran past its time.  Not an Exception, so that no "except
    AssertionError" in a polling loop swallows it; pytest reports it as a
    failure and tears the test's fixtures down."""


def test_timeout():
    return float(os.environ.get("VMACD_TEST_TIMEOUT", "600")) * SLOW


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    limit = test_timeout()

    def expired(_signum, _frame):
        raise TimedOut("%s ran past %g s (VMACD_TEST_TIMEOUT)"
                       % (item.nodeid, limit))
    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def _failed(request):
    return any(getattr(request.node, "rep_" + when, None) is not None
               and getattr(request.node, "rep_" + when).failed
               for when in ("setup", "call"))


def _print_tails(sb, lines=30):
    for path in sorted(sb.dir.glob("*.log")):
        text = path.read_text(errors="replace").splitlines()[-lines:]
        sys.stderr.write("==> %s <==\n%s\n" % (path, "\n".join(text)))


def new_prefix():
    """A namespace prefix unique among concurrent runs and tests."""
    return "vt%dn%d-" % (os.getpid(), next(_counter))


@pytest.fixture
def sandbox(request):
    sb = Sandbox(new_prefix())
    try:
        yield sb
    finally:
        keep = os.environ.get("VMACD_KEEP_SANDBOX") == "1"
        if _failed(request):
            _print_tails(sb)
        if keep:
            sys.stderr.write("sandbox kept in %s\n" % sb.dir)
        sb.stop(keep_files=keep)


@pytest.fixture
def vmacd_config(sandbox):
    def build(bridges=(), aliases=(), **extra):
        return make_config(sandbox, bridges, aliases, **extra)
    return build


@pytest.fixture
def vmacd_factory(sandbox):
    daemons = []

    def create(config, **kwargs):
        d = Vmacd(sandbox, config, **kwargs)
        daemons.append(d)
        return d

    yield create
    for d in daemons:
        if d.running():
            d.stop()
