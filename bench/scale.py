"""The scale part of "make bench" (see bench/README.md, "Scale").

N IPv6 aliases x 4 members on one bridge (10, 1,000 and 10,000; QUICK: 10
and 1,000), run once with each vmacd binary given (the baseline and the
current build), size by size, each run in a fresh sandbox:

- install: start to installed, and connect to installed (the target);
- RSS: VmRSS after install, VmHWM at the end of the run;
- all fail over: the port of every alias's master goes down; time until
  the new generation is applied and until the first and the last alias
  name the new master;
- API create / update / delete: p50 / p99 over 20 requests each while the
  N aliases exist;
- single PORT_STATUS -> barrier: EXTRA more aliases with ports of their
  own; one master port at a time goes down (and up again), and vmacd's
  master_change event gives event_to_barrier_ms.

render() prints every figure with the baseline, the current build and the
target side by side, and the 1,000 -> 10,000 ratio.
"""

import time

from sandbox import Sandbox, run, wait_until
from vmacd import Vmacd, make_config, of_socket

SIZES = (10, 1000, 10000)
SIZES_QUICK = (10, 1000)
API_N = 20                  # Requests of each kind per run.
EXTRA = 8                   # Aliases with ports of their own.
PORT_SAMPLES = 20           # Single PORT_STATUS samples per run.
PORTS = ["sp1", "sp2", "sp3", "sp4"]


def step_limit(n):
    """Seconds one step (install, fail over, one request) may take."""
    return 60 if n <= 1000 else 240


def scale_alias(i, ports=PORTS):
    return {
        "name": "s%05d" % i,
        "addresses": ["2001:db8:5ca1:%x::1" % i],
        "vmac": "02:00:5e:%02x:%02x:%02x" % ((i >> 16) & 0xff,
                                             (i >> 8) & 0xff, i & 0xff),
        "announce": {"count": 0, "interval_ms": 100, "refresh_s": 0},
        "members": [{"name": "m%d" % (k + 1), "bridge": "br0", "port": p,
                     "mac": "02:00:00:00:0a:%02x" % (k + 1),
                     "priority": 200 - 50 * k}
                    for k, p in enumerate(ports)],
    }


def extra_alias(k):
    """Alias x<k>: members a (port xa<k>, master) and b (port xb<k>), not
    shared with any other alias."""
    return {
        "name": "x%d" % k,
        "addresses": ["2001:db8:5ca2:%x::1" % k],
        "vmac": "02:00:5e:ff:00:%02x" % k,
        "announce": {"count": 0, "interval_ms": 100, "refresh_s": 0},
        "members": [{"name": "a", "bridge": "br0", "port": "xa%d" % k,
                     "mac": "02:00:00:00:0b:%02x" % k, "priority": 200},
                    {"name": "b", "bridge": "br0", "port": "xb%d" % k,
                     "mac": "02:00:00:00:0c:%02x" % k, "priority": 100}],
    }


def proc_status(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def spread(xs, scale=1.0):
    """{"n", "p50", "p99", "max"} of 'xs' times 'scale', rounded."""
    def r(x):
        return None if x is None else round(x * scale, 3)
    return {"n": len(xs), "p50": r(percentile(xs, 0.5)),
            "p99": r(percentile(xs, 0.99)), "max": r(max(xs) if xs else None)}


def add_ports(sb, names):
    """Veth pairs in the switch namespace (no host behind them), each
    NAME's end a port of br0: one "ip -batch" and one ovs-vsctl call."""
    batch = "".join("link add %s type veth peer name %sx\n"
                    "link set %sx up\nlink set %s up\n" % (p, p, p, p)
                    for p in names)
    run(["ip", "netns", "exec", sb.sw_ns, "ip", "-batch", "-"],
        input=batch, timeout=60)
    args = []
    for p in names:
        args += ["--", "add-port", "br0", p]
    sb.vsctl(*args[1:], timeout=60)


def run_one(n, binary, prefix, log):
    """One run at 'n' aliases with vmacd 'binary'; returns its figures
    (with "error" and the figures taken so far if a step failed)."""
    res = {"aliases": n, "members_per_alias": 4, "binary": str(binary)}
    limit = step_limit(n)
    sb = Sandbox(prefix)
    vm = None
    try:
        sb.add_bridge("br0", "unix:%s" % of_socket(sb))
        add_ports(sb, PORTS + ["x%s%d" % (ab, k) for k in
                               range(1, EXTRA + 1) for ab in "ab"])
        aliases = [scale_alias(i) for i in range(1, n + 1)]
        aliases += [extra_alias(k) for k in range(1, EXTRA + 1)]
        vm = Vmacd(sb, make_config(sb, ["br0"], aliases), log_level="warn",
                   binary=binary)
        _install(vm, sb, n, limit, res, log)
        _fail_over(vm, sb, n, limit, res, log)
        _api(vm, n, limit, res, log)
        _port_status(vm, sb, limit, res, log)
        res["rss_peak_kib"] = proc_status(vm.pid, "VmHWM")
    except AssertionError as e:
        res["error"] = str(e).splitlines()[0]
        log("scale %d: %s" % (n, res["error"]))
    finally:
        try:
            if vm is not None and vm.running():
                vm.stop(timeout=30)
        except AssertionError as e:
            log("scale %d: %s" % (n, e))
        finally:
            sb.stop()
    return res


def _bridge(vm, limit):
    st, b = vm.api("GET", "/v1/bridges/br0", timeout=limit)
    return b if st == 200 else {}


def _master(vm, name, limit):
    st, a = vm.api("GET", "/v1/aliases/%s" % name, timeout=limit)
    return a.get("master") if st == 200 else None


def _install(vm, sb, n, limit, res, log):
    t0 = time.monotonic()
    vm.start(timeout=limit)
    t_api = time.monotonic()
    t_conn = None
    deadline = t0 + limit
    while True:
        b = _bridge(vm, limit)
        now = time.monotonic()
        if b.get("connected") and t_conn is None:
            t_conn = now
        ft = b.get("flowtab") or {}
        if (b.get("connected") and ft.get("synced") and b.get("generation")
                and b.get("applied_generation") == b.get("generation")):
            break
        if now > deadline:
            raise AssertionError("%d aliases not installed within %d s"
                                 % (n, limit))
        time.sleep(0.02)
    t_done = time.monotonic()
    res["start_to_api_s"] = round(t_api - t0, 3)
    res["install_s"] = round(t_done - t0, 3)
    res["connected_to_installed_s"] = round(t_done - t_conn, 3)
    res["rss_kib"] = proc_status(vm.pid, "VmRSS")
    res["hwm_after_install_kib"] = proc_status(vm.pid, "VmHWM")
    agg = sb.ofctl("dump-aggregate", "br0", timeout=120)
    res["flows"] = int(agg.split("flow_count=")[1].split()[0])
    groups = sb.ofctl("dump-groups", "br0", timeout=120)
    res["groups"] = sum(1 for x in groups.splitlines() if "group_id=" in x)
    log("scale %d: installed %.2f s after connect (%.2f s from start), %d "
        "flows, %d groups, RSS %.1f MiB"
        % (n, res["connected_to_installed_s"], res["install_s"],
           res["flows"], res["groups"], res["rss_kib"] / 1024))


def _fail_over(vm, sb, n, limit, res, log):
    """sp1 (m1, every scale alias's master) goes down."""
    gen0 = _bridge(vm, limit)["generation"]
    t1 = time.monotonic()
    sb.sw_exec("ip", "link", "set", "sp1", "down")
    seen = {}
    deadline = t1 + limit
    while len(seen) < 3:
        for key, name in (("first", "s00001"), ("last", "s%05d" % n)):
            if key not in seen and _master(vm, name, limit) == "m2":
                seen[key] = time.monotonic() - t1
        if "applied" not in seen:
            b = _bridge(vm, limit)
            if (b.get("generation", 0) > gen0
                    and b.get("applied_generation") == b.get("generation")):
                seen["applied"] = time.monotonic() - t1
        if len(seen) < 3 and time.monotonic() > deadline:
            raise AssertionError("failover of %d aliases not done within "
                                 "%d s (%s)" % (n, limit, sorted(seen)))
        time.sleep(0.005)
    for key in ("applied", "first", "last"):
        res["failover_%s_s" % key] = round(seen[key], 4)
    st, al = vm.api("GET", "/v1/aliases", timeout=limit)
    res["masters_on_m2"] = sum(1 for a in al["aliases"]
                               if a.get("master") == "m2")
    log("scale %d: all fail over: applied %.3f s, first alias %.3f s, last "
        "%.3f s (%d masters on m2)"
        % (n, seen["applied"], seen["first"], seen["last"],
           res["masters_on_m2"]))


def _api(vm, n, limit, res, log):
    """API_N creates, updates (PUT of an existing alias: m4's priority
    50 -> 120+j, which reorders its group's buckets) and deletes."""
    def timed(method, path, body, want):
        t = time.monotonic()
        st, r = vm.api(method, path, body, timeout=limit)
        dt = time.monotonic() - t
        assert st == want, "%s %s: %s %s" % (method, path, st, r)
        return dt

    create = [timed("POST", "/v1/aliases", scale_alias(n + 1 + j), 201)
              for j in range(API_N)]
    update = []
    for j in range(API_N):
        body = scale_alias(1 + j % n)
        body["members"][3]["priority"] = 120 + j
        update.append(timed("PUT", "/v1/aliases/%s" % body["name"], body,
                            200))
    delete = [timed("DELETE", "/v1/aliases/s%05d" % (n + 1 + j), None, 200)
              for j in range(API_N)]
    for key, xs in (("create", create), ("update", update),
                    ("delete", delete)):
        res["api_%s_ms" % key] = spread(xs, 1000)
    log("scale %d: API p50/p99 ms: create %s/%s, update %s/%s, delete %s/%s"
        % ((n,) + tuple(res["api_%s_ms" % k][p]
                        for k in ("create", "update", "delete")
                        for p in ("p50", "p99"))))


def _port_status(vm, sb, limit, res, log):
    """PORT_SAMPLES link-downs (and link-ups) of the extra aliases' master
    ports, round robin: each member flaps at most PORT_SAMPLES / EXTRA
    times (vmacd holds a member down after 5 flaps within 10 s)."""
    def last_seq():
        return max((e["seq"] for e in vm.events(timeout=limit)), default=0)

    def change(alias, seq, reason=None, new=None):
        for e in vm.events(timeout=limit):
            if (e["seq"] > seq and e.get("type") == "master_change"
                    and e.get("alias") == alias
                    and (reason is None or e.get("reason") == reason)
                    and (new is None or e.get("new_master") == new)):
                return e
        return None

    seq = last_seq()
    down, up = [], []
    for j in range(PORT_SAMPLES):
        k = 1 + j % EXTRA
        alias, port = "x%d" % k, "xa%d" % k
        sb.sw_exec("ip", "link", "set", port, "down")
        e = wait_until(lambda: change(alias, seq, "master link down"),
                       limit, 0.01, "%s: master_change after %s down"
                       % (alias, port))
        seq = e["seq"]
        down.append(e["event_to_barrier_ms"])
        sb.sw_exec("ip", "link", "set", port, "up")
        e = wait_until(lambda: change(alias, seq, new="a"), limit, 0.01,
                       "%s: master back on a after %s up" % (alias, port))
        seq = e["seq"]
        up.append(e["event_to_barrier_ms"])
    res["port_status_ms"] = spread(down)
    res["port_up_ms"] = spread(up)
    log("scale %d: single PORT_STATUS -> barrier p50 %s ms, p99 %s ms "
        "(link up: p50 %s ms)"
        % (res["aliases"], res["port_status_ms"]["p50"],
           res["port_status_ms"]["p99"], res["port_up_ms"]["p50"]))


def part(binaries, sizes, new_prefix, log):
    """Every size with every (label, binary), interleaved size by size so
    that both see the same machine.  Returns results["scale"]."""
    out = {"sizes": list(sizes), "labels": [lb for lb, _ in binaries],
           "runs": {lb: {} for lb, _ in binaries}}
    for n in sizes:
        for label, binary in binaries:
            log("scale %d: %s (%s)" % (n, label, binary))
            out["runs"][label][str(n)] = run_one(n, binary, new_prefix(),
                                                 log)
    return out


# ------------------------------------------------------------------ table

def _sec(x):
    return "n/a" if x is None else _ms(x * 1000)


def _ms(x):
    if x is None:
        return "n/a"
    if x >= 1000:
        return "%.2f s" % (x / 1000)
    for limit, fmt in ((1, "%.3f ms"), (10, "%.2f ms"), (100, "%.1f ms")):
        if x < limit:
            return fmt % x
    return "%.0f ms" % x


def _mib(x):
    return "n/a" if x is None else "%.1f MiB" % (x / 1024)


def _count(x):
    return "n/a" if x is None else "{:,}".format(x)


def _p50_p99(fmt):
    def f(d):
        if not isinstance(d, dict):
            return "n/a"
        return "%s / %s" % (fmt(d.get("p50")), fmt(d.get("p99")))
    return f


# (key, label, formatter, target at 10,000, target for the ratio)
FIGURES = [
    ("connected_to_installed_s", "install after connect", _sec,
     "<= 1.0 s", "<= x10"),
    ("install_s", "install from start", _sec, "", ""),
    ("rss_kib", "RSS after install (VmRSS)", _mib, "<= 64 MiB", "<= x10"),
    ("rss_peak_kib", "RSS peak (VmHWM at the end)", _mib, "", ""),
    ("failover_applied_s", "all fail over: new generation applied", _sec,
     "<= 0.25 s", ""),
    ("failover_first_s", "all fail over: first alias on the new master",
     _sec, "", ""),
    ("failover_last_s", "all fail over: last alias on the new master",
     _sec, "<= 0.25 s", ""),
    ("api_create_ms", "API create p50 / p99", _p50_p99(_ms),
     "<= 10 / 50 ms", "~x1"),
    ("api_update_ms", "API update (PUT) p50 / p99", _p50_p99(_ms),
     "<= 10 / 50 ms", "~x1"),
    ("api_delete_ms", "API delete p50 / p99", _p50_p99(_ms),
     "<= 10 / 50 ms", "~x1"),
    ("port_status_ms", "single PORT_STATUS -> barrier p50 / p99",
     _p50_p99(_ms), "<= 1 ms p50", "~x1"),
    ("flows", "flows", _count, "", ""),
    ("groups", "groups", _count, "", ""),
]


def _value(run, key):
    return None if run is None else run.get(key)


def _ratio(a, b):
    """'b / a' as "x12.3", for numbers or p50/p99 dicts."""
    if isinstance(a, dict) and isinstance(b, dict):
        return "%s / %s" % (_ratio(a.get("p50"), b.get("p50")),
                            _ratio(a.get("p99"), b.get("p99")))
    if not a or b is None:
        return "n/a"
    return "x%.2g" % (b / a) if b / a < 10 else "x%.0f" % (b / a)


def render(sc, baseline_note=None):
    """The scale table (markdown lines)."""
    labels = sc["labels"]
    sizes = [str(n) for n in sc["sizes"]]
    runs = sc["runs"]
    L = ["Scale: IPv6 aliases x 4 members on one bridge; %s; targets "
         "(issue 18) at 10,000 aliases, and for the 1,000 -> 10,000 ratio"
         % "; ".join(
             "%s = %s" % (lb, sc.get("revs", {}).get(lb, "?"))
             for lb in labels)]
    if baseline_note:
        L.append("(no baseline: %s)" % baseline_note)
    if "10000" not in sizes:
        L.append("(no 10,000 run in QUICK: no ratios)")
    L.append("")
    L.append("| figure | aliases | %s | target |" % " | ".join(labels))
    L.append("| --- | --- | %s--- |" % ("--- | " * len(labels)))
    for key, label, fmt, target, rtarget in FIGURES:
        first = True
        for n in sizes:
            cells = [fmt(_value(runs[lb].get(n), key)) for lb in labels]
            L.append("| %s | %s | %s | %s |"
                     % (label if first else "", "{:,}".format(int(n)),
                        " | ".join(cells), target if first else ""))
            first = False
        if "1000" in sizes and "10000" in sizes:
            cells = [_ratio(_value(runs[lb].get("1000"), key),
                            _value(runs[lb].get("10000"), key))
                     for lb in labels]
            L.append("| | 1k -> 10k | %s | %s |" % (" | ".join(cells),
                                                    rtarget))
    errors = ["%s at %s: %s" % (lb, n, r["error"])
              for lb in labels for n, r in runs[lb].items()
              if r.get("error")]
    if errors:
        L.append("")
        L.extend("Failed: %s" % e for e in errors)
    L.append("")
    return L

