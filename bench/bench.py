#!/usr/bin/python3
"""make bench: vmacd's failover, controller, scale, API and ARP figures,
side by side with keepalived on the same OVS topology.

    bench.py [--quick] [--only PART,...] [--out DIR] [--baseline REV |
             --no-baseline] [--part-timeout S] [--probe-members N]
             [--probe-seconds S]

PARTs: vmacd, keepalived, scale, api, arp, probes (default: all).  Each
part runs in a child process of its own, bounded in time, and leaves
nothing running (driver.py).  Writes DIR/results.json, DIR/table.md and
DIR/timeline-*.png (DIR: bench/results) and prints the table.  Needs
root.  See bench/README.md for how to read it.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"
                       / "system"))

import baseline  # noqa: E402
import driver  # noqa: E402
import probe_jitter  # noqa: E402
import scale  # noqa: E402
from scale import percentile  # noqa: E402
import topos  # noqa: E402
from sandbox import Terminated, exit_on_signals  # noqa: E402
from topos import (ALIAS, ALIAS4, BIN, HOSTS, MEMBERS, VMAC,  # noqa: E402
                   KeepalivedTopo, VmacdTopo, mono_ns, run,
                   wait_until)
from vmacd import vmacd_bin  # noqa: E402

MS = 1e6                            # ns per ms


# ---------------------------------------------------------------- analysis

def analyse(rows, t_fail, failed, rate):
    """Outage seen by the client around a failure at 't_fail' (ns) of
    member 'failed': the longest time between the send times of two
    consecutive answered probes from the last answer before the failure
    on (ms); None if nobody but 'failed' answered after the failure."""
    before = [r for r in rows if r[2] and r[1] < t_fail]
    start = before[-1][1] if before else t_fail
    win = [r for r in rows if r[1] >= start]
    answered = [r for r in win if r[2]]
    lost = sum(1 for r in win if not r[2])
    recovered = any(r[1] >= t_fail and r[3] != failed for r in answered)
    if not recovered:
        span = (rows[-1][1] - t_fail) / MS if rows else 0
        return {"outage_ms": None, "lost": lost, "recovered": False,
                "observed_ms": round(span, 1), "new": None}
    gap, new = 0.0, None
    for a, b in zip(answered, answered[1:]):
        if b[1] - a[1] > gap:
            gap, new = b[1] - a[1], b[3]
    return {"outage_ms": round(gap / MS, 3), "lost": lost,
            "recovered": True, "new": new}


def summarise(runs):
    outs = [r["outage_ms"] for r in runs if r["outage_ms"] is not None]
    failed = [r for r in runs if r["outage_ms"] is None]
    s = {"runs": len(runs), "not_recovered": len(failed)}
    if outs:
        s["median_ms"] = round(statistics.median(outs), 2)
        s["worst_ms"] = round(max(outs), 2)
        s["best_ms"] = round(min(outs), 2)
        s["lost_median"] = statistics.median(r["lost"] for r in runs
                                             if r["outage_ms"] is not None)
    if failed:
        s["observed_ms"] = max(r.get("observed_ms", 0) for r in failed)
    return s


# ---------------------------------------------------------------- plotting

class Plots:
    """One timeline picture per scenario: every probe of the median run,
    by answering member over time from the failure."""

    def __init__(self, out):
        self.out = out
        self.ok = shutil.which("gnuplot") is not None

    def timeline(self, slug, title, rows, t_fail, span_ms):
        if not self.ok or not rows:
            return None
        data = self.out / ("timeline-%s.dat" % slug)
        ymap = {"m1": 1, "m2": 2, "m3": 3}
        with open(data, "w") as f:
            for _, sent, reply, name in rows:
                t = (sent - t_fail) / MS
                if -span_ms * 0.2 <= t <= span_ms:
                    f.write("%.3f %d\n" % (t, ymap.get(name, 0) if reply
                                           else 0))
        png = self.out / ("timeline-%s.png" % slug)
        script = """
set terminal png size 900,300
set output '%s'
set title "%s"
set xlabel 'probe send time from the failure (ms)'
set ytics ('lost' 0, 'm1' 1, 'm2' 2, 'm3' 3)
set yrange [-0.5:3.5]
set grid xtics
set arrow from 0, graph 0 to 0, graph 1 nohead dt 2
plot '%s' using 1:2 with points pt 7 ps 0.3 notitle
""" % (png, title.replace('"', "'"), data)
        r = run(["gnuplot"], input=script, timeout=30, check=False)
        data.unlink()
        return png.name if r.returncode == 0 else None


# ------------------------------------------------------------------ runner

class Bench:
    """The parts, each run by the driver (driver.py) in a child process of
    its own: "bench.py --part NAME --part-out FILE"."""

    def __init__(self, args):
        self.args = args
        self.parts = set(args.only.split(","))
        self.quick = args.quick
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix="vmacd-bench-"))
        self.plots = Plots(self.out)
        self.results = {"quick": self.quick, "failover": {},
                        "segment_pps": {}}
        self.prefix_n = 0
        self.t_start = time.monotonic() - args.elapsed

    def prefix(self):
        self.prefix_n += 1
        return "vb%dn%d-" % (os.getpid(), self.prefix_n)

    def n(self, full, quick):
        return quick if self.quick else full

    def log(self, msg):
        sys.stdout.write("[%5.1f s] %s\n" % (time.monotonic() - self.t_start,
                                             msg))
        sys.stdout.flush()

    def save(self, name, data):
        (self.out / ("%s.json" % name)).write_text(
            json.dumps(data, indent=2) + "\n")

    # One failover scenario: 'runs' times fail(), observe, restore().
    def scenario(self, key, title, topo, runs, rate, fail, restore,
                 observe_s, failed="m1", extra=None):
        results, datasets = [], []
        for i in range(runs):
            out = self.tmp / ("probe-%s-%d.txt" % (key, i))
            p = topo.probe(rate, observe_s + 5, out)
            time.sleep(0.15)
            t0, t1 = fail()
            time.sleep(observe_s)
            rows = p.stop()
            r = analyse(rows, t0, failed, rate)
            r["inject_ms"] = round((t1 - t0) / MS, 2)
            results.append(r)
            datasets.append((r, rows, t0))
            out.unlink(missing_ok=True)
            restore()
        s = summarise(results)
        s.update({"title": title, "rate_hz": rate, "observe_s": observe_s,
                  "outages_ms": [r["outage_ms"] for r in results],
                  "lost": [r["lost"] for r in results]})
        if extra:
            s.update(extra)
        # The picture of the median run (or of the first one).
        ok = [d for d in datasets if d[0]["outage_ms"] is not None]
        pick = sorted(ok, key=lambda d: d[0]["outage_ms"])[len(ok) // 2] \
            if ok else datasets[0]
        span = max(50.0, min(observe_s * 1000,
                             3 * (pick[0]["outage_ms"] or observe_s * 1000)))
        s["timeline"] = self.plots.timeline(key, title, pick[1], pick[2],
                                            span)
        self.results["failover"][key] = s
        self.log("%s: %s" % (title, fmt_summary(s)))
        return s

    # ------------------------------------------------------------ vmacd
    def part_vmacd(self):
        t = VmacdTopo(self.prefix(), self.tmp / "vmacd")
        try:
            t.start_vmacd()
            if "vmacd" in self.parts:
                self.vmacd_failover(t)
                self.vmacd_reaction(t)
                self.vmacd_hung(t)
            if "api" in self.parts:
                self.part_api(t)
            if "arp" in self.parts:
                self.part_arp(t)
            if "vmacd" in self.parts:
                self.vmacd_sigkill(t)
        finally:
            t.stop()

    def vmacd_failover(self, t):
        def down():
            return t.link("m1", False)

        def up():
            t.restore("link")

        runs = self.n(10, 3)
        self.scenario("vmacd-linkdown-1k", "vmacd, master link down, 1 kHz",
                      t, runs, 1000, down, up, 0.3)
        self.scenario("vmacd-linkdown-10k", "vmacd, master link down, "
                      "10 kHz", t, self.n(10, 1), 10000, down, up, 0.3)

        def move():
            t0 = mono_ns()
            st, body = t.api("POST", "/v1/aliases/%s/move" % ALIAS,
                             {"member": "m2"})
            assert st == 200, "move: %s %s" % (st, body)
            return t0, mono_ns()

        def back():
            st, body = t.api("POST", "/v1/aliases/%s/move" % ALIAS,
                             {"member": "m1"})
            assert st == 200, "move back: %s %s" % (st, body)
            t.wait_master("m1", 10)

        self.scenario("vmacd-move-1k", "vmacd, planned move (API), 1 kHz",
                      t, runs, 1000, move, back, 0.3)

        # A client that pinned the alias's MAC (static neighbour entry).
        t.static_neigh(VMAC)
        try:
            self.scenario("vmacd-static-neigh", "vmacd, client with static "
                          "neighbour entry (VMAC), master link down",
                          t, self.n(3, 1), 1000, down, up, 0.3)
        finally:
            t.static_neigh(None)
        self.results["segment_pps"]["vmacd-default"] = \
            self.segment_pps(t, "vmacd, default probes")

    def vmacd_reaction(self, t):
        """event_to_barrier_ms of link-down master changes: those of the
        failover runs plus a series of link flaps of m1."""
        for _ in range(self.n(30, 5)):
            t.link("m1", False)
            t.wait_master("m2", 10)
            t.restore("link")
        self.collect_reaction(t)

    def collect_reaction(self, t):
        xs = [e["event_to_barrier_ms"] for e in t.all_events()
              if e.get("type") == "master_change"
              and e.get("reason") == "master link down"
              and e.get("event_to_barrier_ms") is not None]
        self.results["reaction"] = {
            "what": "PORT_STATUS (link down of the master) received to "
                    "barrier reply of the rewrite, vmacd's own timestamps "
                    "(event_to_barrier_ms of master_change events)",
            "samples": len(xs),
            "median_ms": round(statistics.median(xs), 3) if xs else None,
            "p99_ms": round(percentile(xs, 0.99), 3) if xs else None,
            "max_ms": round(max(xs), 3) if xs else None,
        }
        self.log("controller reaction: %s" % self.results["reaction"])

    def vmacd_hung(self, t):
        """Master hung with its link up, for several probe settings."""
        variants = [("default", None, "probes 100 ms, fall 3"),
                    ("10ms-fall3", {"type": "arp", "interval_ms": 10,
                                    "timeout_ms": 5, "fall": 3},
                     "probes 10 ms (timeout 5), fall 3"),
                    ("10ms-fall1", {"type": "arp", "interval_ms": 10,
                                    "timeout_ms": 5, "fall": 1},
                     "probes 10 ms (timeout 5), fall 1"),
                    ("10ms-fall1-backup100",
                     {"type": "arp", "interval_ms": 10, "timeout_ms": 5,
                      "backup_interval_ms": 100, "fall": 1},
                     "probes 10 ms (timeout 5; backups 100 ms), fall 1")]
        for slug, probe, label in variants:
            if probe is not None:
                t.start_vmacd(probe)

            def hang():
                return t.hang("m1", True)

            def unhang():
                t.restore("hang")

            # Watch for three times the detection time (fall x interval).
            p = probe or {"interval_ms": 100, "fall": 3}
            observe = max(0.5, 3 * p["interval_ms"] * p["fall"] / 1000)
            self.scenario("vmacd-hung-%s" % slug, "vmacd, master hung "
                          "(link up), %s" % label, t, self.n(10, 1), 1000,
                          hang, unhang, observe)
            self.results["segment_pps"]["vmacd-%s" % slug] = \
                self.segment_pps(t, "vmacd, %s" % label)
        t.start_vmacd()

    def vmacd_sigkill(self, t):
        """vmacd SIGKILLed under traffic: the datapath keeps serving."""
        out = self.tmp / "probe-vmacd-kill.txt"
        p = t.probe(1000, 10, out)
        time.sleep(0.15)
        t0 = mono_ns()
        t.vmacd.kill()
        time.sleep(1.0)
        rows = p.stop()
        r = analyse(rows, t0, None, 1000)
        after = [x for x in rows if x[1] >= t0]
        self.results["sigkill"] = {"vmacd": {
            "lost": sum(1 for x in after if not x[2]),
            "sent": len(after),
            "answered_by": sorted({x[3] for x in after if x[2]}),
            "split_brain": False,
            "note": "one writer: the switch's group keeps steering to m1",
            "max_gap_ms": r["outage_ms"]}}
        self.log("vmacd SIGKILL: %s" % self.results["sigkill"]["vmacd"])
        t.start_vmacd()

    def segment_pps(self, t, label, na=None, seconds=None):
        """Frames per second on the member links (both directions) with
        no client traffic: health probes and their replies, or VRRP
        adverts (one per advert from the master, plus the flooded copies
        to the other members)."""
        seconds = seconds or self.n(2.0, 1.0)
        a = t.port_packets()
        time.sleep(seconds)
        b = t.port_packets()
        total = sum(b[m][0] + b[m][1] - a[m][0] - a[m][1] for m in MEMBERS)
        r = {"label": label, "pps": round(total / seconds, 1)}
        if na:
            r["na"] = na
        return r

    # ------------------------------------------------------------ keepalived
    def part_keepalived(self):
        if shutil.which("keepalived") is None:
            self.results["keepalived_na"] = "keepalived not installed"
            return
        ver = run(["keepalived", "--version"], check=False, timeout=10)
        self.results["keepalived_version"] = (ver.stdout + ver.stderr) \
            .splitlines()[0].strip()
        t = KeepalivedTopo(self.prefix(), self.tmp / "keepalived")
        try:
            self.keepalived_variants(t)
        finally:
            t.stop()

    def ka_scenarios(self, t, slug, label, advert, modes, runs, rate=1000):
        adv = float(advert)

        def down():
            return t.link("m1", False)

        def up():
            t.link("m1", True)
            self.ka_settle(t)

        def hang():
            return t.hang("m1", True)

        def unhang():
            t.hang("m1", False)
            self.ka_settle(t)

        def planned():
            t0 = mono_ns()
            t.kill_keepalived("m1", signal.SIGTERM)
            return t0, mono_ns()

        def restart():
            t.restart_keepalived_on("m1")
            self.ka_settle(t)

        observe = max(0.3, 4 * adv + 0.3)
        if t.variant[2]:
            # use_vmac: the VRRP MAC moves between switch ports, and the
            # bridge relearns it only when its revalidators next look at
            # the new master's cached datapath flows (every 0.5 s; see
            # bench/README.md, "use_vmac"): watch long enough to see that.
            observe += 1.0
        table = {"linkdown": ("master link down", down, up),
                 "hung": ("master hung (link up)", hang, unhang),
                 "planned": ("planned (SIGTERM on master: priority 0)",
                             planned, restart)}
        for mode in modes:
            what, fail, restore = table[mode]
            self.scenario("ka-%s-%s%s" % (slug, mode,
                                          "" if rate == 1000 else "-10k"),
                          "keepalived %s, %s, %s" % (
                              label, what, "%d kHz" % (rate // 1000)),
                          t, runs, rate, fail, restore, observe)

    def ka_settle(self, t):
        adv = float(t.variant[0])
        t.wait_holder("m1", 10 + 5 * adv)
        wait_until(lambda: t._reaches("m1"), 10 + 5 * adv, 0.05,
                   "c1 reaching m1 again")

    def keepalived_variants(self, t):
        q = self.quick
        variants = [
            # slug, label, advert_int, down_timer_adverts, use_vmac,
            # modes, runs
            ("10ms", "advert 0.01 s", "0.01", None, False,
             ["linkdown"] if q else ["linkdown", "hung", "planned"],
             2 if q else 10),
            ("10ms-dta1", "advert 0.01 s + down_timer_adverts 1", "0.01", 1,
             False, ["linkdown", "hung"] if q else
             ["linkdown", "hung", "planned"], 2 if q else 10),
        ]
        if not q:
            # advert_int 1 takes seconds per run: not in QUICK mode.
            variants.insert(0, ("1s", "advert 1 s", "1", None, False,
                                ["linkdown", "hung", "planned"], 3))
            variants += [
                ("10ms-vmac", "advert 0.01 s + use_vmac", "0.01", None,
                 True, ["linkdown"], 5),
                ("10ms-dta1-vmac", "advert 0.01 s + down_timer_adverts 1 + "
                 "use_vmac", "0.01", 1, True, ["linkdown", "hung"], 5)]
        for slug, label, advert, dta, vmac, modes, runs in variants:
            try:
                t.start_keepalived(advert, dta, vmac)
            except AssertionError as e:
                self.results["failover"]["ka-%s" % slug] = {
                    "title": "keepalived %s" % label, "na": str(e)}
                self.log("keepalived %s: n/a (%s)" % (label, e))
                continue
            self.results["segment_pps"]["ka-%s" % slug] = \
                self.segment_pps(t, "keepalived %s" % label)
            self.ka_scenarios(t, slug, label, advert, modes, runs)
            if slug == "10ms-dta1" and not q:
                self.ka_scenarios(t, slug, label, advert, ["linkdown"], 5,
                                  rate=10000)
            if slug in ("10ms-dta1", "10ms-dta1-vmac"):
                self.ka_static_neigh(t, slug, label)
            if slug == "10ms-dta1":
                self.ka_sigkill(t, label)
        t.stop_keepalived()

    def ka_static_neigh(self, t, slug, label):
        mac = t.neigh_mac()
        t.static_neigh(mac)
        try:
            def down():
                return t.link("m1", False)

            def up():
                t.link("m1", True)
                self.ka_settle(t)

            self.scenario("ka-%s-static-neigh" % slug,
                          "keepalived %s, client with static neighbour "
                          "entry (%s), master link down" % (label, mac),
                          t, 1, 1000, down, up, 2.0,
                          extra={"static_mac": mac})
        finally:
            t.static_neigh(None)

    def ka_sigkill(self, t, label):
        """SIGKILL keepalived (parent and VRRP child) on the master: the
        VIP stays on m1 while m2 takes it too."""
        adv = float(t.variant[0])
        t0 = time.monotonic()
        t.kill_keepalived("m1", signal.SIGKILL)
        try:
            wait_until(lambda: "m2" in t.holders(), 5 + 5 * adv, 0.01,
                       "m2 taking the VIP")
        except AssertionError:
            pass
        time.sleep(0.2)
        holders = t.holders()
        self.results["sigkill"] = self.results.get("sigkill", {})
        self.results["sigkill"]["keepalived"] = {
            "variant": label, "holders": holders,
            "split_brain": len(holders) > 1,
            "after_s": round(time.monotonic() - t0, 3)}
        self.log("keepalived SIGKILL: VIP on %s" % holders)
        t.restart_keepalived_on("m1")
        self.ka_settle(t)

    # ------------------------------------------------------------ API
    def part_api(self, t):
        secs = self.n(2.0, 1.0)
        sock = t.vmacd.config["api"]["socket"]
        self.results["api"] = {}
        for path in ("/v1/status", "/v1/aliases/%s" % ALIAS):
            out = run([BIN / "apiload", sock, path, 8, secs],
                      timeout=secs + 30).stdout
            self.results["api"][path] = json.loads(out)
            self.log("API %s: %s" % (path, out.strip()))

    # ------------------------------------------------------------ ARP
    def part_arp(self, t):
        lat_s, thr_s = self.n(1.0, 0.5), self.n(2.0, 1.0)
        self.results["arp"] = {}
        for label, target in (("vmacd flow (alias)", ALIAS4),
                              ("plain host (m2's kernel)", HOSTS["m2"][2])):
            r = {}
            for key, window, secs in (("latency", 1, lat_s),
                                      ("throughput", 16, thr_s)):
                out = t.host("c1", BIN / "arpbench", "eth0", target, window,
                             secs, timeout=secs + 30).stdout
                r[key] = json.loads(out)
            self.results["arp"][label] = r
            self.log("ARP %s: %s" % (label, r))

    # ------------------------------------------------------------ scale
    def part_scale(self):
        """Scale figures of the current vmacd and, when --baseline built
        one, of the baseline vmacd, size by size (scale.py)."""
        binaries = []
        revs = {}
        if self.args.baseline_bin:
            binaries.append(("baseline", self.args.baseline_bin))
            revs["baseline"] = self.args.baseline_rev
        binaries.append(("now", str(vmacd_bin())))
        revs["now"] = baseline.describe_head()
        sizes = scale.SIZES_QUICK if self.quick else scale.SIZES
        self.results["scale"] = {"labels": [lb for lb, _ in binaries],
                                 "sizes": list(sizes), "revs": revs,
                                 "runs": {lb: {} for lb, _ in binaries}}
        # Filled in run by run, so that a part stopped half-way still
        # reports the runs it finished.
        for n in sizes:
            for label, binary in binaries:
                self.log("scale %d: %s vmacd (%s)" % (n, label, binary))
                self.results["scale"]["runs"][label][str(n)] = \
                    scale.run_one(n, binary, self.prefix(), self.log)

    # ------------------------------------------------------------ probes
    def part_probes(self):
        """Probe send timing at 200 members x 10 ms (probe_jitter.py), every
        variant on one sandbox (its 200 hosts are most of the time)."""
        variants = [("default scheduling", (False, 0)),
                    ("--realtime-priority 50 --mlockall", (True, 0)),
                    ("--realtime-priority, alias view read 1/s", (True, 1))]
        if self.quick:
            variants = variants[1:2]
        self.results["probe_timing"] = {}
        # Its own deadline leaves the part's last two minutes to teardown.
        deadline = max(30, self.args.part_limit - 120) \
            if self.args.part_limit else 900
        rs = probe_jitter.measure(
            members=self.args.probe_members,
            seconds=self.args.probe_seconds or self.n(10, 5),
            variants=[v for _, v in variants], deadline=deadline,
            log=self.log, prefix=self.prefix())
        for (label, _), r in zip(variants, rs):
            self.results["probe_timing"][label] = r
            self.log("probe timing, %s: %s" % (label, r["window_histogram"]))

    # ------------------------------------------------------------ main
    def run_part(self, name):
        """Runs part 'name' in this process (the child the driver started
        for it); True if it completed.  Its sandboxes are torn down on the
        way out whatever happens (each is stopped in a finally)."""
        fn = {"vmacd": self.part_vmacd, "keepalived": self.part_keepalived,
              "scale": self.part_scale, "probes": self.part_probes}[name]
        try:
            fn()
            return True
        except Exception:
            self.log("%s part failed:\n%s" % (name, traceback.format_exc()))
            return False
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ------------------------------------------------------------------ table

def fmt_ms(x):
    if x is None:
        return "n/a"
    if x >= 1000:
        return "%.2f s" % (x / 1000)
    if x >= 100:
        return "%.0f ms" % x
    return "%.1f ms" % x


def fmt_summary(s):
    if s.get("na"):
        return "n/a: %s" % s["na"]
    if "median_ms" not in s:
        return "no recovery within %s (%d runs)" % (
            fmt_ms(s.get("observed_ms")), s["runs"])
    txt = "median %s, worst %s, %d runs" % (fmt_ms(s["median_ms"]),
                                             fmt_ms(s["worst_ms"]),
                                             s["runs"])
    if s.get("not_recovered"):
        txt += ", %d never recovered" % s["not_recovered"]
    return txt


def bucket_text(name):
    """"lt_0.5ms" -> "< 0.5 ms", "ge_20ms" -> ">= 20 ms"."""
    if not name:
        return "-"
    op, ms = name.split("_", 1)
    return "%s %s ms" % ("<" if op == "lt" else ">=", ms[:-2])


def render_table(res):
    L = []
    fo = res.get("failover", {})
    pps = res.get("segment_pps", {})
    bad = {k: p for k, p in res.get("parts", {}).items()
           if p["status"] != "ok"}
    if bad or res.get("interrupted"):
        L.append("Parts that did not complete (their figures below are "
                 "partial or missing)%s:" % (
                     "; run interrupted by %s" % res["interrupted"]
                     if res.get("interrupted") else ""))
        L.append("")
        L.extend("- %s: %s" % (k, p["status"]) for k, p in bad.items())
        L.append("")
    if fo:
        L.extend(render_failover(res, fo, pps))
    rest = render_rest(res)
    return "\n".join(L + rest) + "\n"


def render_failover(res, fo, pps):
    L = []
    L.append("Failover outage seen by a client (longest gap between "
             "answered UDP probes; median / worst of N runs; lost = "
             "median probes lost)%s" % (" [QUICK]" if res.get("quick")
                                        else ""))
    L.append("")
    L.append("| scenario | probe rate | median | worst | runs | lost "
             "| member-link frames/s |")
    L.append("| --- | --- | --- | --- | --- | --- | --- |")
    pps_of = {
        "vmacd-linkdown": "vmacd-default", "vmacd-move": "vmacd-default",
        "vmacd-static": "vmacd-default",
    }
    for key, s in fo.items():
        if s.get("na") and "runs" not in s:
            L.append("| %s | | n/a: %s | | | | |" % (s["title"], s["na"]))
            continue
        pk = None
        for prefix, v in pps_of.items():
            if key.startswith(prefix):
                pk = v
        if key.startswith("vmacd-hung-"):
            pk = "vmacd-" + key[len("vmacd-hung-"):]
        if key.startswith("ka-"):
            for cand in sorted(pps, key=len, reverse=True):
                if cand.startswith("ka-") and key.startswith(cand + "-"):
                    pk = cand
                    break
        p = pps.get(pk, {})
        ptxt = ("%g" % p["pps"]) if p else ""
        if p.get("na"):
            ptxt += " (%s)" % p["na"]
        if s.get("na"):
            L.append("| %s | %d Hz | n/a: %s | | %d | | %s |"
                     % (s["title"], s["rate_hz"], s["na"], s["runs"], ptxt))
        elif "median_ms" not in s:
            L.append("| %s | %d Hz | never (watched %s) | never | %d | | %s |"
                     % (s["title"], s["rate_hz"],
                        fmt_ms(s.get("observed_ms")), s["runs"], ptxt))
        else:
            worst = fmt_ms(s["worst_ms"])
            if s.get("not_recovered"):
                worst += " (%d never)" % s["not_recovered"]
            L.append("| %s | %d Hz | %s | %s | %d | %g | %s |"
                     % (s["title"], s["rate_hz"], fmt_ms(s["median_ms"]),
                        worst, s["runs"], s["lost_median"], ptxt))
    L.append("")

    # Ratios vmacd : keepalived on the same failure.
    pairs = [("vmacd-linkdown-1k", "ka-1s-linkdown"),
             ("vmacd-linkdown-1k", "ka-10ms-linkdown"),
             ("vmacd-linkdown-1k", "ka-10ms-dta1-linkdown"),
             ("vmacd-hung-10ms-fall3", "ka-10ms-hung"),
             ("vmacd-hung-10ms-fall1", "ka-10ms-dta1-hung"),
             ("vmacd-hung-10ms-fall1-backup100", "ka-10ms-dta1-hung"),
             ("vmacd-move-1k", "ka-10ms-dta1-planned")]
    rl = []
    for a, b in pairs:
        sa, sb = fo.get(a, {}), fo.get(b, {})
        if "median_ms" in sa and "median_ms" in sb and not sa.get("na"):
            rl.append("| %s vs %s | 1 : %.1f | 1 : %.1f |"
                      % (sa["title"], sb["title"],
                         sb["median_ms"] / sa["median_ms"],
                         sb["worst_ms"] / sa["worst_ms"]))
        elif sa and sb:
            rl.append("| %s vs %s | n/a | n/a |" % (sa.get("title"),
                                                     sb.get("title")))
    if rl:
        L.append("Ratios vmacd : keepalived (outage; same topology)")
        L.append("")
        L.append("| pair | median | worst |")
        L.append("| --- | --- | --- |")
        L.extend(rl)
        L.append("")

    return L


def render_rest(res):
    L = []
    sk = res.get("sigkill", {})
    if sk:
        L.append("Agent SIGKILLed on the master")
        L.append("")
        L.append("| who | result |")
        L.append("| --- | --- |")
        if "vmacd" in sk:
            v = sk["vmacd"]
            L.append("| vmacd | %d of %d probes lost in 1 s after the kill; "
                     "no split brain (one writer: the switch) |"
                     % (v["lost"], v["sent"]))
        if "keepalived" in sk:
            k = sk["keepalived"]
            L.append("| keepalived (%s) | VIP on %s after %.1f s: %s |"
                     % (k["variant"], ", ".join(k["holders"]) or "nobody",
                        k["after_s"], "split brain" if k["split_brain"]
                        else "no split brain"))
        L.append("")

    r = res.get("reaction")
    if r:
        L.append("Controller reaction (PORT_STATUS to barrier reply, vmacd's "
                 "timestamps): median %s, p99 %s, max %s over %d link-downs"
                 % (fmt_ms(r["median_ms"]), fmt_ms(r["p99_ms"]),
                    fmt_ms(r["max_ms"]), r["samples"]))
        L.append("")

    sc = res.get("scale")
    if sc:
        L.extend(scale.render(sc, res.get("baseline_note")))

    api = res.get("api")
    if api:
        L.append("API over the unix socket, 8 concurrent clients")
        L.append("")
        L.append("| request | req/s | p50 | p99 | errors |")
        L.append("| --- | --- | --- | --- | --- |")
        for path, a in api.items():
            L.append("| GET %s | %.0f | %.2f ms | %.2f ms | %d |"
                     % (path, a["rps"], a["p50_ms"], a["p99_ms"],
                        a["errors"]))
        L.append("")

    arp = res.get("arp")
    if arp:
        L.append("ARP answered on the same bridge (requests from c1)")
        L.append("")
        L.append("| responder | answered/s (16 outstanding) | latency p50 "
                 "| p99 | lost |")
        L.append("| --- | --- | --- | --- | --- |")
        for label, a in arp.items():
            L.append("| %s | %.0f | %.0f us | %.0f us | %d |"
                     % (label, a["throughput"]["rps"],
                        a["latency"]["p50_us"], a["latency"]["p99_us"],
                        a["throughput"]["lost"] + a["latency"]["lost"]))
        L.append("")
    pt = res.get("probe_timing")
    if pt:
        L.append("Health probe send timing: 200 members on one bridge, ARP "
                 "every 10 ms; how late each send left against its "
                 "schedule, over a steady window")
        L.append("")
        L.append("| vmacd | sends | p99 | worst | over 2 ms | timeouts "
                 "| members down |")
        L.append("| --- | --- | --- | --- | --- | --- | --- |")
        for label, r in pt.items():
            h = r["window_histogram"]
            over2 = sum(n for k, n in h.items()
                        if k.startswith("ge_") or float(
                            k.split("_")[1][:-2]) > 2)
            L.append("| %s | %d | %s | %s | %d | %d | %d |"
                     % (label, r["window_sends"],
                        bucket_text(r["window_p99_bucket"]),
                        bucket_text(r["window_worst_bucket"]), over2,
                        r["window_timeouts"], r["members_down"]))
        L.append("")
    if res.get("keepalived_version"):
        L.append("keepalived: %s (VRRPv3)." % res["keepalived_version"])
    L.append("Elapsed: %s s." % res.get("elapsed_s"))
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only",
                    default="vmacd,keepalived,scale,api,arp,probes")
    ap.add_argument("--out", default=str(topos.REPO / "bench" / "results"))
    ap.add_argument("--baseline", default=baseline.DEFAULT_REV,
                    metavar="REV", help="git revision of the baseline vmacd "
                    "of the scale part (default %(default)s)")
    ap.add_argument("--no-baseline", action="store_true",
                    help="scale part: the current vmacd only")
    ap.add_argument("--part-timeout", type=float, default=None,
                    metavar="S", help="time limit of every part (default: "
                    "per part, see driver.py)")
    ap.add_argument("--probe-members", type=int, default=200,
                    help="members of the probes part")
    ap.add_argument("--probe-seconds", type=float, default=None,
                    help="window of each probes variant (10, QUICK 5)")
    # Set by the driver for the child that runs one part.
    for opt in ("--part", "--part-out", "--baseline-bin", "--baseline-rev"):
        ap.add_argument(opt, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--part-limit", type=float, default=None,
                    help=argparse.SUPPRESS)
    ap.add_argument("--elapsed", type=float, default=0.0,
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: needs root (network namespaces, veths, OVS)")
    if args.part:
        sys.exit(run_part(args))
    parts = set(args.only.split(","))
    need = [vmacd_bin()]
    if parts & {"vmacd", "keepalived", "api", "arp"}:
        need.append(BIN / "prober")
    need += [BIN / b for p, b in (("api", "apiload"), ("arp", "arpbench"))
             if p in parts]
    for b in need:
        if not Path(b).exists():
            sys.exit("bench: %s missing (make bench builds it)" % b)
    exit_on_signals(force=True)
    sys.exit(driver.Driver(args, sys.argv[1:], render_table).run())


def run_part(args):
    """The child process of one part: runs it, writes its results (also
    those of a part stopped half-way) to --part-out; returns the exit
    status.  SIGTERM (from the driver) unwinds like a Ctrl-C, through the
    finally blocks that stop the sandboxes."""
    exit_on_signals(force=True)
    bench = Bench(args)
    code = 1
    try:
        code = 0 if bench.run_part(args.part) else 1
    except Terminated as e:
        bench.log("%s part: %s: torn down" % (args.part, e))
        code = 128 + e.signum
    except KeyboardInterrupt:
        bench.log("%s part: interrupted: torn down" % args.part)
        code = 130
    finally:
        res = dict(bench.results)
        res.pop("quick", None)
        Path(args.part_out).write_text(json.dumps(res, indent=2) + "\n")
    return code


if __name__ == "__main__":
    main()
