#!/usr/bin/python3
"""UDP prober for vmacd's demo, and the timeline it prints afterwards.

    demo-prober.py run ADDR --out FILE [--port P] [--rate HZ]
                   [--status FILE] [--max-seconds S]
    demo-prober.py report FILE --events FILE --down T0 T1 --up T0 T1
                   [--from NAME] [--to NAME] [--link PORT]
                   [--max-outage-ms MS]

run: sends one UDP datagram (payload: its sequence number) to ADDR at
--rate per second; the demo service answers "NAME SEQ".  Every reply is
recorded with its wall-clock receive time and the member's name.  Every
50 ms --status is rewritten with "SENT ANSWERED LAST_NAME".  On SIGTERM or
SIGINT (or after --max-seconds) it stops sending, waits 200 ms for replies
still in flight and writes FILE (JSON: send times and replies).

report: prints the timeline of a failover and a switch-back from FILE, the
wall-clock times (seconds, as "date +%s.%N" prints them) just before and
after the link-down and link-up commands (of PORT, the link of member
--from), and vmacd's event stream (JSON lines of GET /v1/events).  Exit status 1, with the reason, if
traffic never reached --to after the link went down, never came back to
--from after it came up, or stopped for longer than --max-outage-ms.
"""

import argparse
import gc
import json
import os
import select
import signal
import socket
import sys
import time

DEFAULT_PORT = 7000


def run(args):
    fam = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.connect((args.addr, args.port))
    s.setblocking(False)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    # The records hold no cycles: a collector pass in the middle of the
    # run would only show up as a gap in the replies.
    gc.disable()
    sent = []          # sent[seq] = wall-clock send time
    replies = []       # [seq, wall-clock receive time, name]
    errors = 0
    last_name = "-"
    interval = 1.0 / args.rate
    start = time.monotonic()
    end = start + args.max_seconds
    next_send = start
    next_status = start

    def drain():
        nonlocal errors, last_name
        while True:
            try:
                data = s.recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ICMP errors (e.g. port unreachable) surface here.
                errors += 1
                continue
            now = time.time()
            try:
                name, seq = data.decode().split(" ", 1)
                replies.append([int(seq), now, name])
                last_name = name
            except ValueError:
                errors += 1

    def write_status():
        if not args.status:
            return
        tmp = args.status + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d %s\n" % (len(sent), len(replies), last_name))
        os.replace(tmp, args.status)

    while not stopping:
        mono = time.monotonic()
        if mono >= end:
            break
        if mono >= next_send:
            seq = len(sent)
            sent.append(time.time())
            try:
                s.send(b"%d" % seq)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                errors += 1
            next_send += interval
            if mono - next_send > 0.05:
                # Far behind (the machine stalled): restart the schedule
                # instead of sending a burst.
                next_send = mono + interval
        if mono >= next_status:
            write_status()
            next_status = mono + 0.05
        wait = max(0.0, min(next_send, next_status) - time.monotonic())
        try:
            readable, _, _ = select.select([s], [], [], wait)
        except InterruptedError:
            continue
        if readable:
            drain()

    # Replies still in flight.
    linger = time.monotonic() + 0.2
    while time.monotonic() < linger:
        readable, _, _ = select.select([s], [], [],
                                       max(0.0, linger - time.monotonic()))
        if readable:
            drain()
    write_status()
    s.close()
    with open(args.out + ".tmp", "w") as f:
        json.dump({"addr": args.addr, "port": args.port, "rate": args.rate,
                   "sent": sent, "replies": replies, "errors": errors}, f)
    os.replace(args.out + ".tmp", args.out)
    return 0


def load_events(path):
    events = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                events.append(json.loads(line))
    return events


def ms(t, t0):
    return (t - t0) * 1000.0


def report(args):
    with open(args.file) as f:
        rec = json.load(f)
    sent = rec["sent"]
    replies = sorted(rec["replies"], key=lambda r: r[1])
    events = load_events(args.events)
    down0, down1 = args.down
    up0, up1 = args.up
    t0 = down0
    problems = []

    if not sent or not replies:
        print("prober: %d probes sent, %d answered: no traffic at all"
              % (len(sent), len(replies)))
        return 1

    answered = set(r[0] for r in replies)
    lost = [seq for seq in range(len(sent)) if seq not in answered]
    by_name = {}
    for r in replies:
        by_name[r[2]] = by_name.get(r[2], 0) + 1

    def longest_gap():
        """The longest time without replies, and where it started."""
        longest, where = 0.0, None
        for prev, cur in zip(replies, replies[1:]):
            if cur[1] - prev[1] > longest:
                longest, where = cur[1] - prev[1], prev[1]
        return longest * 1000.0, where

    def switch_stats(before, after):
        """Between reply 'before' (old member) and reply 'after' (new
        member): the time without replies and the probes lost in between
        (sent after 'before' was sent, before 'after' was received)."""
        n_lost = sum(1 for seq in lost
                     if before[0] < seq and sent[seq] <= after[1])
        return (after[1] - before[1]) * 1000.0, n_lost

    def last_before(name, t):
        cand = [r for r in replies if r[2] == name and r[1] <= t]
        return cand[-1] if cand else None

    def first_after(name, t):
        for r in replies:
            if r[2] == name and r[1] >= t:
                return r
        return None

    def vmacd_events(a, b):
        return [e for e in events
                if a <= e.get("time", 0) <= b
                and e.get("type") in ("port_status", "master_change")]

    timeline = []      # (t, order, text): printed sorted by time

    def show(t, text, order=0):
        timeline.append((t, order, "  t=%9.1f ms  %s" % (ms(t, t0), text)))

    def note(t, text):
        # A comment printed right under the entry at time t.
        timeline.append((t, 1, "  %14s  %s" % ("", text)))

    def show_events(a, b):
        for e in vmacd_events(a, b):
            if e["type"] == "port_status":
                state = "down" if e.get("link_down") else "up"
                show(e["time"], "vmacd: port status %s %s (link %s%s)"
                     % (e.get("bridge"), e.get("port"), state,
                        ", admin down" if e.get("admin_down") else ""))
            else:
                show(e["time"], "vmacd: master %s -> %s (%s): flows and "
                     "group applied %.2f ms after the port status"
                     % (e.get("old_master") or "-", e.get("new_master"),
                        e.get("reason"), e.get("event_to_barrier_ms", 0)))

    frm, to = args.frm, args.to
    show(down0, "link %s down issued (the command returned at t=%.1f ms)"
         % (args.link, ms(down1, t0)))
    last_m1 = last_before(frm, up0)
    first_m2 = first_after(to, down0)
    outage = None
    if last_m1 is None or last_m1[1] < down0 - 1.0:
        problems.append("no reply from %s just before the link went down"
                        % frm)
    else:
        show(last_m1[1], "last reply from %s (probe #%d)"
             % (frm, last_m1[0]))
    show_events(down0 - 0.01, up0)
    if first_m2 is None or first_m2[1] > up0:
        problems.append("traffic never reached %s after %s's link went "
                        "down" % (to, frm))
    else:
        show(first_m2[1], "first reply from %s (probe #%d)"
             % (to, first_m2[0]))
        if last_m1 is not None:
            outage, n_lost = switch_stats(last_m1, first_m2)
            note(first_m2[1], "=> outage: %.1f ms from the last reply of "
                 "%s to the first of %s, %d probe(s) lost"
                 % (outage, frm, to, n_lost))
    if not any(e["type"] == "master_change" and e.get("new_master") == to
               for e in vmacd_events(down0 - 0.01, up0)):
        problems.append("vmacd reported no master change to %s" % to)

    show(up0, "link %s up issued (the command returned at t=%.1f ms)"
         % (args.link, ms(up1, t0)))
    show_events(up0 - 0.01, float("inf"))
    back = first_after(frm, up0)
    if back is None:
        problems.append("traffic did not return to %s after its link came "
                        "up" % frm)
    else:
        last_m2 = last_before(to, back[1])
        if last_m2 is not None and last_m2[1] >= up0:
            show(last_m2[1], "last reply from %s (probe #%d)"
                 % (to, last_m2[0]))
        show(back[1], "first reply from %s again (probe #%d)"
             % (frm, back[0]))
        if last_m2 is not None:
            gap, n_lost = switch_stats(last_m2, back)
            note(back[1], "=> switch-back: %.1f ms between the last reply "
                 "of %s and the first of %s, %d probe(s) lost"
                 % (gap, to, frm, n_lost))

    print("Timeline (t=0: the link-down command was issued):")
    for _, _, text in sorted(timeline, key=lambda e: (e[0], e[1])):
        print(text)

    longest, where = longest_gap()
    rate_desc = ", ".join("%s %d" % kv for kv in sorted(by_name.items()))
    print("Totals: %d probes sent at %d/s over %.1f s, %d answered (%s), "
          "%d lost; longest gap %.1f ms (at t=%.1f ms)"
          % (len(sent), rec["rate"], sent[-1] - sent[0], len(replies),
             rate_desc, len(lost), longest,
             ms(where, t0) if where is not None else 0.0))
    if outage is not None and outage > args.max_outage_ms:
        problems.append("outage of %.1f ms is above %.0f ms"
                        % (outage, args.max_outage_ms))
    for p in problems:
        print("FAILED: %s" % p)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("addr")
    r.add_argument("--out", required=True)
    r.add_argument("--port", type=int, default=DEFAULT_PORT)
    r.add_argument("--rate", type=int, default=1000)
    r.add_argument("--status")
    r.add_argument("--max-seconds", type=float, default=60.0)
    p = sub.add_parser("report")
    p.add_argument("file")
    p.add_argument("--events", required=True)
    p.add_argument("--down", type=float, nargs=2, required=True)
    p.add_argument("--up", type=float, nargs=2, required=True)
    p.add_argument("--from", dest="frm", default="m1")
    p.add_argument("--to", default="m2")
    p.add_argument("--link", default="m1-p")
    p.add_argument("--max-outage-ms", type=float, default=1000.0)
    args = ap.parse_args()
    if args.cmd == "run":
        if not 1 <= args.rate <= 10000:
            ap.error("--rate must be 1..10000")
        return run(args)
    return report(args)


if __name__ == "__main__":
    sys.exit(main())
