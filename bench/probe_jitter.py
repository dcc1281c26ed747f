#!/usr/bin/env python3
"""Health-probe send timing at scale: N members on one bridge probed every
INTERVAL ms (ARP), for SECONDS; prints how late probes left against their
schedule (vmacd's own per-prober figures from the API) and writes
bench/results/probe_jitter.json.

Needs root (a private OVS sandbox in network namespaces, documentation
addresses only).  Usage: probe_jitter.py [--members 200] [--interval 10]
[--seconds 10] [--realtime] [--poll-hz 1] [--deadline 900] [--out FILE]

--realtime runs vmacd with --realtime-priority 50 --mlockall.  --poll-hz N
reads the whole alias view (GET /v1/aliases/web, 200 members) N times a
second during the window, as a monitoring system would: each read holds
vmacd's loop for a few milliseconds.  --deadline bounds the whole run: past
it the run stops where it is, tears its sandbox down and exits 3.  SIGINT,
SIGTERM and SIGHUP tear it down too (exit 130 / 143 / 129).

The hosts are set up before vmacd starts (see bench/README.md, "Why the
probes part ran past its time"): a port added while 10 ms probes run
stalls the userspace datapath long enough to time the probes of every
member out, and the flapping members are then held down for seconds.
"""
import argparse
import collections
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from sandbox import Sandbox, Terminated, exit_on_signals, wait_until  # noqa
from vmacd import Vmacd, make_config, of_socket  # noqa: E402

# How long members may take to be all up after vmacd starts.
ALL_UP_S = 60


class PastDeadline(AssertionError):
    """The run went past its --deadline."""


class Deadline:
    def __init__(self, seconds):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise PastDeadline("probe timing: past its %g s deadline during "
                               "%s" % (self.seconds, what))


def member_addr(i):
    # 198.51.100.1..254 then 203.0.113.1..254: documentation ranges.
    net, host = divmod(i, 250)
    return ("198.51.100.%d" if net == 0 else "203.0.113.%d") % (host + 1)


def _log(msg):
    sys.stderr.write("probe_jitter: %s\n" % msg)
    sys.stderr.flush()


def measure(members=200, interval=10, seconds=10.0, timeout=None,
            variants=((False, 0),), deadline=900, log=_log, pidfile=None,
            prefix=None):
    """Sets up one sandbox with 'members' hosts, then for each (realtime,
    poll_hz) in 'variants' runs vmacd on it and measures a window of
    'seconds'.  Returns one result dict per variant.  The sandbox and every
    vmacd are gone when it returns or raises (PastDeadline past
    'deadline' seconds, Terminated on a signal)."""
    assert 1 <= members <= 500
    dl = Deadline(deadline)
    t_start = time.monotonic()
    sb = Sandbox(prefix or "pj%d-" % os.getpid())
    v = None
    try:
        mem = [{"name": "m%d" % i, "bridge": "br0", "port": "p%d" % i,
                "mac": "02:00:00:01:%02x:%02x" % (i >> 8, i & 255),
                "ip": member_addr(i), "priority": 100}
               for i in range(members)]
        alias = {"name": "web", "addresses": ["192.0.2.100"],
                 "vmac": "02:00:5e:00:01:01",
                 "probe": {"type": "arp", "interval_ms": interval,
                           "fall": 3,
                           **({"timeout_ms": timeout} if timeout else {}),
                           "rise": 3},
                 "members": mem}
        cfg = make_config(sb, bridges=[{"name": "br0"}], aliases=[alias])
        sb.add_bridge("br0", "unix:%s" % of_socket(sb))
        t0 = time.monotonic()
        for i, m in enumerate(mem):
            dl.check("set-up (%d of %d hosts)" % (i, members))
            sb.add_host("h%d" % i, "br0", m["port"], m["mac"],
                        ip4=m["ip"] + "/22")
            if (i + 1) % 50 == 0:
                log("%d hosts in %.0f s" % (i + 1, time.monotonic() - t0))
        setup_s = time.monotonic() - t0
        results = []
        for realtime, poll_hz in variants:
            dl.check("start of a variant")
            v = Vmacd(sb, cfg, log_level="warn",
                      args=(["--realtime-priority", "50", "--mlockall"]
                            if realtime else []))
            v.start()
            if pidfile:
                with open(pidfile, "w") as f:
                    f.write("%d\n" % v.pid)
            r = _window(v, dl, members, interval, seconds, realtime,
                        poll_hz, log)
            r["setup_s"] = round(setup_s, 1)
            r["elapsed_s"] = round(time.monotonic() - t_start, 1)
            results.append(r)
            v.stop()
            v = None
        return results
    finally:
        if v is not None and v.running():
            v.kill()
        sb.stop()


def _window(v, dl, members, interval, seconds, realtime, poll_hz, log):
    def members_view():
        status, a = v.api("GET", "/v1/aliases/web", timeout=10)
        assert status == 200, a
        return a["members"]

    last = {}

    def all_up():
        dl.check("the wait for all members up")
        ms = members_view()
        last["states"] = collections.Counter(
            "%s (%s)" % (m["state"], m["probe_state"].get("reason"))
            for m in ms)
        return all(m["state"] == "up" for m in ms)
    try:
        wait_until(all_up, min(ALL_UP_S, max(1.0, dl.left())), 0.5,
                   "all members up")
    except PastDeadline:
        raise
    except AssertionError as e:
        raise AssertionError("%s; member states: %s"
                             % (e, dict(last.get("states", {})))) from e
    log("all %d members up; window of %g s" % (members, seconds))

    # Set-up (ports appearing, flows rewritten) is not part of the
    # measurement: difference the lateness histograms over the window.  The
    # window is read from GET /v1/status (all probers summed, a fraction of
    # a millisecond); the per-member alias view, which holds the loop for
    # milliseconds at 200 members, is read only by --poll-hz inside the
    # window and once after it.
    def status():
        status_, st = v.api("GET", "/v1/status", timeout=10)
        assert status_ == 200, st
        return st["probes"]
    s0 = status()
    t_end = time.monotonic() + seconds
    get_ms = []
    while time.monotonic() < t_end:
        dl.check("the window")
        if poll_hz:
            t = time.monotonic()
            members_view()
            get_ms.append((time.monotonic() - t) * 1000)
            time.sleep(max(0.0, min(1 / poll_hz, t_end - time.monotonic())))
        else:
            time.sleep(max(0.0, min(1.0, t_end - time.monotonic())))
    s1 = status()
    h0, h1 = s0["send_late_histogram"], s1["send_late_histogram"]
    ms = members_view()
    window = {k: h1[k] - h0.get(k, 0) for k in h1}
    order = sorted(window, key=lambda k: float(
        k.split("_")[1][:-2]) + (1000 if k.startswith("ge") else 0))
    n_window = sum(window.values())
    worst = max((k for k in order if window[k]), key=order.index,
                default=None)
    cum, p99 = 0, None
    for k in order:
        cum += window[k]
        if p99 is None and cum >= 0.99 * n_window:
            p99 = k
    ps = [m["probe_state"] for m in ms]
    late_max = [p["send_late_max_ms"] for p in ps]
    late_mean = [p["send_late_mean_ms"] for p in ps]
    return {
        "members": members, "interval_ms": interval,
        "realtime": realtime, "poll_hz": poll_hz,
        "get_alias_ms_max": round(max(get_ms), 2) if get_ms else None,
        "seconds": seconds,
        "send_late_max_ms": round(max(late_max), 3),
        "send_late_p99_of_member_max_ms": round(
            sorted(late_max)[int(0.99 * (len(late_max) - 1))], 3),
        "send_late_mean_ms": round(statistics.mean(late_mean), 3),
        "window_timeouts": s1["timeouts"] - s0["timeouts"],
        "members_down": sum(1 for m in ms if m["state"] != "up"),
        "window_sends": n_window,
        "window_histogram": {k: window[k] for k in order},
        "window_worst_bucket": worst,
        "window_p99_bucket": p99,
        "probes_sent": sum(p.get("sent", 0) for p in ps),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pidfile", default=None,
                    help="write vmacd's PID here once it runs")
    ap.add_argument("--timeout", type=int, default=None,
                    help="probe timeout_ms (default: vmacd's)")
    ap.add_argument("--realtime", action="store_true",
                    help="vmacd --realtime-priority 50 --mlockall")
    ap.add_argument("--poll-hz", type=float, default=0,
                    help="GET the alias view this often during the window")
    ap.add_argument("--deadline", type=float, default=900,
                    help="seconds for the whole run (set-up included) "
                    "before it stops and tears down")
    ap.add_argument("--out", default=os.path.join(HERE, "results",
                                                  "probe_jitter.json"))
    args = ap.parse_args()
    exit_on_signals(force=True)
    try:
        res = measure(args.members, args.interval, args.seconds,
                      args.timeout, [(args.realtime, args.poll_hz)],
                      args.deadline, pidfile=args.pidfile)[0]
    except PastDeadline as e:
        _log("%s (torn down)" % e)
        sys.exit(3)
    except Terminated as e:
        _log("%s: torn down" % e)
        sys.exit(128 + e.signum)
    except KeyboardInterrupt:
        _log("interrupted: torn down")
        sys.exit(130)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(res, f, indent=2)
    print("probe send timing (realtime %(realtime)s, API polls "
          "%(poll_hz)g/s): %(members)d members every "
          "%(interval_ms)d ms, %(window_sends)d sends in the window: "
          "p99 %(window_p99_bucket)s, worst %(window_worst_bucket)s; "
          "since start: max %(send_late_max_ms).3f ms, mean "
          "%(send_late_mean_ms).3f ms; %(window_timeouts)d probe "
          "timeouts in the window; %(members_down)d members marked "
          "down; set-up %(setup_s)g s" % res)
    print("  window histogram: %s" % ", ".join(
        "%s %d" % (k, n) for k, n in res["window_histogram"].items()))


if __name__ == "__main__":
    main()
