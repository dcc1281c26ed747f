"""The driver of "make bench": every part in a child process of its own,
bounded in time, and nothing left running whatever happens.

A part ("bench.py --part NAME") runs in a new session with
VMACD_SANDBOX_BASE pointing at a directory of its own, so that:

- a Ctrl-C or a SIGTERM reaches the driver only: the driver then sends
  SIGTERM to the running part, which unwinds through its finally blocks
  (Sandbox.stop(): tracked processes, daemons, namespaces, veths);
- a part past its time limit gets the same SIGTERM;
- a part that does not finish its teardown within GRACE seconds is
  SIGKILLed with its whole process group (vmacd dies with it: it runs with
  PR_SET_PDEATHSIG), and the driver then reaps what it left: every sandbox
  in its directory ("sandbox.sh stop") and any namespace named with its
  prefix.

After every part, finished or not, the driver reaps the same way, so a
part can never leave a sandbox behind for the parts (or the people) after
it.  Each part writes its results to a JSON file, merged here.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import baseline
from sandbox import BASE_ENV, Terminated, reap, signals_deferred

BENCH_PY = Path(__file__).resolve().parent / "bench.py"

# name, the --only keys that select it, time limit in QUICK and full runs.
PARTS = [
    ("vmacd", ("vmacd", "api", "arp"), 300, 900),
    ("keepalived", ("keepalived",), 300, 1200),
    ("scale", ("scale",), 600, 2400),
    ("probes", ("probes",), 480, 900),
]
# Seconds a part has after SIGTERM to tear its sandboxes down (a 200-host
# sandbox takes tens of seconds on a busy machine).
GRACE = 180


def merge(dst, src):
    """Merges a part's results into the run's (one level deep: parts add
    their own scenarios to "failover", "segment_pps", "sigkill")."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            dst[k].update(v)
        else:
            dst[k] = v


class Driver:
    def __init__(self, args, argv, render):
        self.args = args
        self.argv = list(argv)
        self.render = render
        self.quick = args.quick
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        for f in self.out.glob("timeline-*.png"):
            f.unlink()
        self.tmp = Path(tempfile.mkdtemp(prefix="vmacd-bench-"))
        self.results = {"quick": self.quick, "failover": {},
                        "segment_pps": {}, "parts": {}}
        self.t_start = time.monotonic()

    def log(self, msg):
        sys.stdout.write("[%5.1f s] %s\n" % (time.monotonic() - self.t_start,
                                             msg))
        sys.stdout.flush()

    def run(self):
        """Runs the selected parts; returns the exit status (0: all parts
        completed; 1: one failed or timed out; 128 + N: signal N)."""
        selected = set(self.args.only.split(","))
        code = None
        try:
            for name, keys, quick_s, full_s in PARTS:
                if not selected.intersection(keys):
                    continue
                limit = self.args.part_timeout or (quick_s if self.quick
                                                   else full_s)
                extra = self.baseline_args() if name == "scale" else []
                self.results["parts"][name] = self.run_child(name, limit,
                                                             extra)
        except KeyboardInterrupt as e:
            signum = e.signum if isinstance(e, Terminated) else signal.SIGINT
            self.results["interrupted"] = "signal %d" % signum
            self.log("interrupted (signal %d): parts torn down" % signum)
            code = 128 + signum
        finally:
            self.finish()
        if code is None:
            code = 0 if all(p["status"] == "ok" for p in
                            self.results["parts"].values()) else 1
        return code

    def finish(self):
        self.results["elapsed_s"] = round(time.monotonic() - self.t_start,
                                          1)
        (self.out / "results.json").write_text(
            json.dumps(self.results, indent=2) + "\n")
        table = self.render(self.results)
        (self.out / "table.md").write_text(table)
        print()
        print(table)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def baseline_args(self):
        """Builds the baseline vmacd (--baseline REV) for the scale part;
        the part's extra arguments, or none with a note why."""
        if self.args.no_baseline:
            self.results["baseline_note"] = "--no-baseline"
            return []
        try:
            path, sha = baseline.build(self.args.baseline, log=self.log)
        except (baseline.Unavailable, OSError,
                subprocess.SubprocessError) as e:
            self.results["baseline_note"] = str(e)
            self.log("baseline: not available: %s; current figures only"
                     % e)
            return []
        self.log("baseline: vmacd at %s (%s)" % (sha[:7], path))
        return ["--baseline-bin", str(path), "--baseline-rev", sha[:7]]

    def run_child(self, name, limit, extra):
        out = self.tmp / ("part-%s.json" % name)
        base = self.tmp / name           # Short: sockets go in there.
        base.mkdir()
        cmd = ([sys.executable, str(BENCH_PY)] + self.argv
               + ["--part", name, "--part-out", str(out),
                  "--part-limit", str(limit),
                  "--elapsed", "%.1f" % (time.monotonic() - self.t_start)]
               + extra)
        env = dict(os.environ, **{BASE_ENV: str(base)})
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, env=env, start_new_session=True)
        self.log("%s part (PID %d, time limit %d s)" % (name, p.pid, limit))
        status = "interrupted"
        try:
            try:
                rc = p.wait(timeout=limit)
                status = "ok" if rc == 0 else "failed (exit %d)" % rc
            except subprocess.TimeoutExpired:
                self.log("%s part: past its %d s limit: SIGTERM, it tears "
                         "its sandboxes down" % (name, limit))
                self.stop_child(p)
                status = "timed out after %d s (stopped)" % limit
        except BaseException:
            self.log("%s part: interrupted: SIGTERM, it tears its "
                     "sandboxes down" % name)
            self.stop_child(p)
            raise
        finally:
            with signals_deferred():
                left = self.reap_child(p, base)
            if left:
                status += "; reaped what it left: %s" % ", ".join(left)
            if out.exists():
                merge(self.results, json.loads(out.read_text()))
            self.log("%s part: %s (%.0f s)" % (name, status,
                                               time.monotonic() - t0))
        return {"status": status, "seconds": round(time.monotonic() - t0,
                                                   1)}

    def stop_child(self, p):
        """SIGTERM to the part, GRACE seconds for its teardown, then SIGKILL
        to its process group.  A second Ctrl-C does not cut this short."""
        with signals_deferred():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=GRACE)
                except subprocess.TimeoutExpired:
                    self.log("part %d: teardown took over %d s: SIGKILL to "
                             "its process group" % (p.pid, GRACE))
                    self._killpg(p.pid)
                    p.wait(timeout=30)

    @staticmethod
    def _killpg(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def reap_child(self, p, base):
        """Whatever the part left: stragglers of its process group, then
        its sandboxes (bench.py names their namespaces vb<PID>n...)."""
        self._killpg(p.pid)
        removed = reap(base, ["vb%dn" % p.pid])
        shutil.rmtree(base, ignore_errors=True)
        return removed
