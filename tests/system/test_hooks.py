"""Notify hooks: an alias's "notify" program runs after each master change
with the change in its environment, never delays the failover, and is
killed at its timeout."""

import copy
import os
import time

from sandbox import wait_until
from topo import make_topo  # noqa: F401  (pytest fixture)
from topo import ALIAS
from vmacd import SLOW


def write_hook(path, body):
    path.write_text("#!/bin/sh\n" + body + "\n")
    os.chmod(path, 0o755)
    return str(path)


def hook_runs(outdir):
    """Every environment the hook wrote, as dicts."""
    runs = []
    for name in sorted(os.listdir(outdir)):
        if name.startswith("env."):
            env = {}
            for line in (outdir / name).read_text().splitlines():
                key, _, value = line.partition("=")
                env[key] = value
            runs.append(env)
    return runs


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def test_hook_environment_on_failover(sandbox, make_topo):
    out = sandbox.dir / "hook-out"
    out.mkdir()
    # Written then renamed, so that a reader never sees half a file.
    hook = write_hook(sandbox.dir / "env-hook.sh",
                      'env > %s/tmp.$$ && mv %s/tmp.$$ %s/env.$$'
                      % (out, out, out))
    t = make_topo(alias_extra={"notify": {"program": hook,
                                          "timeout_ms": 5000}})
    t0 = time.time()
    t.sb.link("m1-p", False)
    t.wait_settled("m2", timeout=10)

    def failover_run():
        return [r for r in hook_runs(out)
                if r.get("VMACD_OLD_MASTER") == "m1"]
    wait_until(lambda: failover_run(), 10 * SLOW, 0.05,
               "the hook ran for the failover")
    env = failover_run()[0]
    assert env["VMACD_ALIAS"] == ALIAS
    assert env["VMACD_NEW_MASTER"] == "m2"
    assert env["VMACD_REASON"], env
    assert env["VMACD_BRIDGE"] == "br0"
    assert env["PATH"] == "/usr/sbin:/usr/bin:/sbin:/bin"
    assert abs(float(env["VMACD_EVENT_TIME"]) - t0) < 10 * SLOW
    assert int(env["VMACD_APPLIED_MS"]) >= 0
    # Nothing of vmacd's environment is inherited.
    assert set(env) <= {"VMACD_ALIAS", "VMACD_OLD_MASTER", "VMACD_NEW_MASTER",
                        "VMACD_REASON", "VMACD_EVENT_TIME",
                        "VMACD_APPLIED_MS", "VMACD_BRIDGE", "PATH", "PWD",
                        "SHLVL", "_"}, env
    t.vmacd.check_logs()


def test_hung_hook_does_not_delay_next_failover(sandbox, make_topo):
    pids = sandbox.dir / "hook-pids"
    hook = write_hook(sandbox.dir / "hung-hook.sh",
                      "echo $$ >> %s; exec sleep 1000" % pids)
    timeout_ms = 6000
    t = make_topo(alias_extra={"notify": {"program": hook,
                                          "timeout_ms": timeout_ms}})
    t.sb.link("m1-p", False)
    t.wait_settled("m2", timeout=10)
    wait_until(lambda: pids.exists() and pids.read_text().count("\n") >= 2,
               10 * SLOW, 0.05, "the failover's hook started")
    first = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in first[-1:])

    # The next failover while the hook still sleeps.
    start = time.monotonic()
    t.sb.link("m2-p", False)
    t.wait_settled("m3", timeout=3)
    assert time.monotonic() - start < 3 * SLOW
    assert alive(first[-1]), "the first hook should still be running"

    # Every hook is killed at its timeout.
    wait_until(lambda: not any(alive(int(p))
                               for p in pids.read_text().split()),
               (timeout_ms / 1000.0 + 10) * SLOW, 0.1,
               "the hung hooks were killed")
    t.vmacd.check_logs(allowed=[r"still running after %d ms, killed"
                                % timeout_ms])


def test_api_refuses_relative_program(make_topo):
    t = make_topo()
    before = t.alias()
    body = copy.deepcopy(t.config["aliases"][0])
    body["notify"] = {"program": "hooks/notify.sh"}
    status, reply = t.vmacd.api("PUT", "/v1/aliases/%s" % ALIAS, body)
    assert status == 400, (status, reply)
    assert "notify.program" in str(reply), reply
    assert "is not an absolute path" in str(reply), reply
    after = t.alias()
    assert "notify" not in str(after.get("config", after))
    assert after.get("master") == before.get("master")
    t.vmacd.check_logs()
