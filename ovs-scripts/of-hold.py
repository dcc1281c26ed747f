#!/usr/bin/python3
"""Plays a minimal OpenFlow controller while a command runs.

Usage: of-hold.py [--timeout SECS] SOCKET_PATH -- COMMAND [ARG...]

Listens on the unix socket SOCKET_PATH, accepts one switch connection,
completes the OpenFlow 1.3 handshake (HELLO, FEATURES_REQUEST/REPLY), runs
COMMAND while the connection is up, then closes it and removes the socket.
Exits with COMMAND's status, or 1 if no switch connected in time.

sandbox.sh uses it when adding a bridge: ovs-vswitchd 3.1 creates a
controller connection with an 8 s maximum backoff and applies the Controller
row's max_backoff only while that connection is up, so the row is rewritten
(COMMAND) while this stand-in is connected.
"""

import os
import socket
import struct
import subprocess
import sys
import time

OFP13 = 0x04
OFPT_HELLO, OFPT_ECHO_REQUEST, OFPT_ECHO_REPLY = 0, 2, 3
OFPT_FEATURES_REQUEST, OFPT_FEATURES_REPLY = 5, 6


def ofp_msg(msg_type, xid, body=b""):
    return struct.pack("!BBHI", OFP13, msg_type, 8 + len(body), xid) + body


def recv_msg(conn, deadline):
    """Returns (type, xid, body) of the next message; raises on timeout."""
    buf = b""
    need = 8
    while len(buf) < need:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no OpenFlow message from the switch")
        conn.settimeout(left)
        chunk = conn.recv(need - len(buf))
        if not chunk:
            raise ConnectionError("switch closed the connection")
        buf += chunk
        if len(buf) == 8:
            need = struct.unpack("!H", buf[2:4])[0]
            if need < 8:
                raise ValueError("bad OpenFlow length %d" % need)
    _, msg_type, _, xid = struct.unpack("!BBHI", buf[:8])
    return msg_type, xid, buf[8:]


def handshake(conn, deadline):
    conn.sendall(ofp_msg(OFPT_HELLO, 1) + ofp_msg(OFPT_FEATURES_REQUEST, 2))
    while True:
        msg_type, xid, body = recv_msg(conn, deadline)
        if msg_type == OFPT_ECHO_REQUEST:
            conn.sendall(ofp_msg(OFPT_ECHO_REPLY, xid, body))
        elif msg_type == OFPT_FEATURES_REPLY and xid == 2:
            return


def main(argv):
    timeout = 10.0
    args = argv[1:]
    if args[:1] == ["--timeout"] and len(args) > 1:
        timeout = float(args[1])
        args = args[2:]
    if len(args) < 3 or args[1] != "--":
        sys.stderr.write(__doc__.split("\n\n")[1] + "\n")
        return 2
    path, command = args[0], args[2:]
    deadline = time.monotonic() + timeout
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(path)
    except OSError as e:
        sys.stderr.write("of-hold.py: %s: %s\n" % (path, e))
        listener.close()
        return 1
    try:
        listener.listen(1)
        listener.settimeout(timeout)
        conn, _ = listener.accept()
        with conn:
            handshake(conn, deadline)
            return subprocess.run(command, timeout=timeout).returncode
    except (OSError, ValueError, subprocess.TimeoutExpired) as e:
        sys.stderr.write("of-hold.py: %s: %s\n" % (path, e))
        return 1
    finally:
        listener.close()
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    sys.exit(main(sys.argv))
