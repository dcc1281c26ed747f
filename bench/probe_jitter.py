#!/usr/bin/env python3
"""Health-probe send timing at scale: N members on one bridge probed every
INTERVAL ms (ARP), for SECONDS; prints how late probes left against their
schedule (vmacd's own per-prober figures from the API) and writes
bench/results/probe_jitter.json.

Needs root (a private OVS sandbox in network namespaces, documentation
addresses only).  Usage: probe_jitter.py [--members 200] [--interval 10]
[--seconds 10] [--realtime] [--poll-hz 1] [--out FILE]

--realtime runs vmacd with --realtime-priority 50 --mlockall.  --poll-hz N
reads the whole alias view (GET /v1/aliases/web, 200 members) N times a
second during the window, as a monitoring system would: each read holds
vmacd's loop for a few milliseconds.
"""
import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

from sandbox import Sandbox, wait_until  # noqa: E402
from vmacd import Vmacd, make_config, of_socket  # noqa: E402


def member_addr(i):
    # 198.51.100.1..254 then 203.0.113.1..254: documentation ranges.
    net, host = divmod(i, 250)
    return ("198.51.100.%d" if net == 0 else "203.0.113.%d") % (host + 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=200)
    ap.add_argument("--interval", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pidfile", default=None,
                    help="write vmacd's PID here once it runs")
    ap.add_argument("--timeout", type=int, default=None,
                    help="probe timeout_ms (default: vmacd's, interval/2)")
    ap.add_argument("--realtime", action="store_true",
                    help="vmacd --realtime-priority 50 --mlockall")
    ap.add_argument("--poll-hz", type=float, default=0,
                    help="GET the alias view this often during the window")
    ap.add_argument("--out", default=os.path.join(HERE, "results",
                                                  "probe_jitter.json"))
    args = ap.parse_args()
    assert 1 <= args.members <= 500

    sb = Sandbox("pj%d-" % os.getpid())
    v = None
    try:
        members = []
        for i in range(args.members):
            members.append({"name": "m%d" % i, "bridge": "br0",
                            "port": "p%d" % i,
                            "mac": "02:00:00:01:%02x:%02x" % (i >> 8, i & 255),
                            "ip": member_addr(i), "priority": 100})
        alias = {"name": "web", "addresses": ["192.0.2.100"],
                 "vmac": "02:00:5e:00:01:01",
                 "probe": {"type": "arp", "interval_ms": args.interval,
                           "fall": 3,
                           **({"timeout_ms": args.timeout}
                              if args.timeout else {}),
                           "rise": 3},
                 "members": members}
        cfg = make_config(sb, bridges=[{"name": "br0"}], aliases=[alias])
        v = Vmacd(sb, cfg, log_level="warn",
                  args=(["--realtime-priority", "50", "--mlockall"]
                        if args.realtime else []))
        v.start()
        if args.pidfile:
            with open(args.pidfile, "w") as f:
                f.write("%d\n" % v.pid)
        sb.add_bridge("br0", "unix:%s" % of_socket(sb))
        t0 = time.monotonic()
        for i, m in enumerate(members):
            sb.add_host("h%d" % i, "br0", m["port"], m["mac"],
                        ip4=m["ip"] + "/22")
        setup_s = time.monotonic() - t0
        wait_until(lambda: all(
            mm["state"] == "up"
            for mm in v.api("GET", "/v1/aliases/web")[1]["members"]),
            60, 0.5, "all members up")
        # Set-up (ports appearing, flows rewritten) is not part of the
        # measurement: difference the lateness histograms over the window.
        def histogram():
            status, a = v.api("GET", "/v1/aliases/web")
            assert status == 200, a
            total = {}
            for m in a["members"]:
                for k, n in m["probe_state"]["send_late_histogram"].items():
                    total[k] = total.get(k, 0) + n
            return total, a
        # The window is read from GET /v1/status (all probers summed, a
        # fraction of a millisecond); the per-member alias view, which
        # holds the loop for milliseconds at 200 members, is read only by
        # --poll-hz inside the window and once after it.
        def status():
            status_, st = v.api("GET", "/v1/status")
            assert status_ == 200, st
            return st["probes"]
        s0 = status()
        t_end = time.monotonic() + args.seconds
        get_ms = []
        while time.monotonic() < t_end:
            if args.poll_hz:
                t = time.monotonic()
                histogram()
                get_ms.append((time.monotonic() - t) * 1000)
                time.sleep(max(0.0, min(1 / args.poll_hz,
                                        t_end - time.monotonic())))
            else:
                time.sleep(max(0.0, t_end - time.monotonic()))
        s1 = status()
        h0, h1 = s0["send_late_histogram"], s1["send_late_histogram"]
        _, a = histogram()
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
        ps = [m["probe_state"] for m in a["members"]]
        late_max = [p["send_late_max_ms"] for p in ps]
        late_mean = [p["send_late_mean_ms"] for p in ps]
        sent = sum(p.get("sent", 0) for p in ps)
        res = {
            "members": args.members, "interval_ms": args.interval,
            "realtime": args.realtime, "poll_hz": args.poll_hz,
            "get_alias_ms_max": round(max(get_ms), 2) if get_ms else None,
            "seconds": args.seconds, "setup_s": round(setup_s, 1),
            "send_late_max_ms": round(max(late_max), 3),
            "send_late_p99_of_member_max_ms": round(
                sorted(late_max)[int(0.99 * (len(late_max) - 1))], 3),
            "send_late_mean_ms": round(statistics.mean(late_mean), 3),
            "window_timeouts": s1["timeouts"] - s0["timeouts"],
            "members_down": sum(1 for m in a["members"]
                                if m["state"] != "up"),
            "window_sends": n_window,
            "window_histogram": {k: window[k] for k in order},
            "window_worst_bucket": worst,
            "window_p99_bucket": p99,
            "probes_sent": sent,
        }
        os.makedirs(os.path.dirname(os.path.abspath(args.out)),
                    exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(res, f, indent=2)
        print("probe send timing (realtime %(realtime)s, API polls "
              "%(poll_hz)g/s): %(members)d members every "
              "%(interval_ms)d ms, %(window_sends)d sends in the window: "
              "p99 %(window_p99_bucket)s, worst %(window_worst_bucket)s; "
              "since start: max %(send_late_max_ms).3f ms, mean "
              "%(send_late_mean_ms).3f ms; %(window_timeouts)d probe "
              "timeouts in the window; %(members_down)d members marked "
              "down" % res)
        print("  window histogram: %s" % ", ".join(
            "%s %d" % (k, n) for k, n in res["window_histogram"].items()))
        v.stop()
        v = None
    finally:
        if v:
            v.kill()
        sb.stop()


if __name__ == "__main__":
    main()
