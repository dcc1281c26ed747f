#!/usr/bin/python3
"""Tiny name service for vmacd's demo: a member answers with its own name.

    demo-service.py serve NAME ADDR... [--port P] [--ready-file F]
    demo-service.py ask udp|tcp ADDR [--port P] [--timeout S] [--tries N]

serve: binds UDP and TCP on each ADDR (the alias addresses on the member's
loopback; binding them, not the wildcard, makes replies leave from the
alias address).  A UDP datagram gets "NAME PAYLOAD" back (the payload is
echoed, at most 64 bytes, so a prober can match replies to requests); a TCP
connection gets "NAME\\n" and is closed.  Creates --ready-file once every
socket listens.  Runs until SIGTERM or SIGINT.

ask: one request to ADDR; prints the answer.  Exit 1 if no answer came
within --timeout seconds after --tries attempts.
"""

import argparse
import os
import selectors
import signal
import socket
import sys

DEFAULT_PORT = 7000


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def serve(args):
    name = args.name.encode()
    sel = selectors.DefaultSelector()
    socks = []
    for addr in args.addrs:
        fam = family_of(addr)
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((addr, args.port))
        u.setblocking(False)
        sel.register(u, selectors.EVENT_READ, "udp")
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        t.bind((addr, args.port))
        t.listen(64)
        t.setblocking(False)
        sel.register(t, selectors.EVENT_READ, "tcp")
        socks += [u, t]

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))

    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("%d\n" % os.getpid())

    while not stopping:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                if key.data == "udp":
                    # Drain what is queued: at 1 kHz one wakeup may see
                    # several datagrams.
                    while True:
                        data, peer = s.recvfrom(2048)
                        s.sendto(name + b" " + data[:64], peer)
                else:
                    conn, _ = s.accept()
                    with conn:
                        conn.settimeout(1.0)
                        conn.sendall(name + b"\n")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                # A peer that went away must not stop the service.
                sys.stderr.write("demo-service %s: %s\n" % (args.name, e))
    for s in socks:
        s.close()
    return 0


def ask_once(proto, addr, port, timeout):
    fam = family_of(addr)
    if proto == "udp":
        with socket.socket(fam, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            s.connect((addr, port))
            s.send(b"hello")
            data = s.recv(2048)
            return data.split(b" ", 1)[0].decode()
    with socket.create_connection((addr, port), timeout=timeout) as s:
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()


def ask(args):
    last = None
    for _ in range(args.tries):
        try:
            answer = ask_once(args.proto, args.addr, args.port, args.timeout)
            if answer:
                print(answer)
                return 0
        except OSError as e:
            last = e
    sys.stderr.write("no %s answer from %s port %d (%s)\n"
                     % (args.proto, args.addr, args.port,
                        last or "empty answer"))
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("name")
    s.add_argument("addrs", nargs="+")
    s.add_argument("--port", type=int, default=DEFAULT_PORT)
    s.add_argument("--ready-file")
    a = sub.add_parser("ask")
    a.add_argument("proto", choices=("udp", "tcp"))
    a.add_argument("addr")
    a.add_argument("--port", type=int, default=DEFAULT_PORT)
    a.add_argument("--timeout", type=float, default=1.0)
    a.add_argument("--tries", type=int, default=3)
    args = ap.parse_args()
    return serve(args) if args.cmd == "serve" else ask(args)


if __name__ == "__main__":
    sys.exit(main())
