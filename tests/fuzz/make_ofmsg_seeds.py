#!/usr/bin/python3
"""Writes the seed inputs of fuzz_ofmsg.c into tests/fuzz/seeds-ofmsg/.

Each seed is one selector byte (see fuzz_ofmsg.c: mode in bits 0-1, 0x40
OpenFlow 1.3 only, 0x80 EOF after the bytes) followed by OpenFlow messages
packed by hand: HELLO, FEATURES_REPLY, PORT_DESC reply, PORT_STATUS, ERROR,
flow stats and group desc replies (multipart, with the "more" flag too),
BUNDLE_CONTROL, echo.  Run it again after changing it; the files are
committed.
"""

import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent / "seeds-ofmsg"

OF13, OF15 = 0x04, 0x06
RAW, AFTER_HELLO, SWITCH, DIRECT = 0, 1, 2, 3
ONLY13, EOF = 0x40, 0x80


def msg(version, mtype, body=b"", xid=0):
    return struct.pack("!BBHI", version, mtype, 8 + len(body), xid) + body


def hello(versions):
    bitmap = 0
    for v in versions:
        bitmap |= 1 << v
    return msg(max(versions), 0, struct.pack("!HHI", 1, 8, bitmap))


def mac(i):
    return bytes([2, 0xfe, 0, 0, 0, i])


def port(version, number, name, config=0, state=0):
    name = name.encode().ljust(16, b"\0")
    if version == OF13:
        return struct.pack("!I4x6s2x16sIIIIIIII", number, mac(number & 0xff),
                           name, config, state, 0, 0, 0, 0, 0, 0)
    # OpenFlow 1.4+: ofp14_port with an ethernet property.
    eth = struct.pack("!HH4xIIIIII", 0, 32, 0, 0, 0, 0, 0, 0)
    return struct.pack("!IH2x6s2x16sII", number, 40 + len(eth),
                       mac(number & 0xff), name, config, state) + eth


def features(version, xid, dpid=0xf00d):
    return msg(version, 6, struct.pack("!QIBB2xII", dpid, 0, 254, 0, 0, 0),
               xid)


def multipart(version, mp_type, payload, xid, more=False):
    return msg(version, 19, struct.pack("!HH4x", mp_type, 1 if more else 0)
               + payload, xid)


def port_status(version, reason, number, name, config=0, state=0):
    return msg(version, 12, struct.pack("!B7x", reason)
               + port(version, number, name, config, state), 0x99)


def error(version, etype, code, xid, data=b""):
    return msg(version, 1, struct.pack("!HH", etype, code) + data, xid)


def oxm_match(fields):
    body = b"".join(fields)
    length = 4 + len(body)
    pad = (8 - length % 8) % 8
    return struct.pack("!HH", 1, length) + body + b"\0" * pad


def oxm_in_port(n):
    return struct.pack("!HBBI", 0x8000, 0 << 1, 4, n)


def oxm_eth_type(t):
    return struct.pack("!HBBH", 0x8000, 5 << 1, 2, t)


def oxm_ipv4_dst(a):
    return struct.pack("!HBB4s", 0x8000, 12 << 1, 4, bytes(a))


def apply_actions(actions):
    body = b"".join(actions)
    return struct.pack("!HH4x", 4, 8 + len(body)) + body


def output(port_no):
    return struct.pack("!HHIH6x", 0, 16, port_no, 0xffff)


def group_action(gid):
    return struct.pack("!HHI", 22, 8, gid)


def flow_stats_13(priority, cookie, match, instructions):
    body = (struct.pack("!BxIIHHHH4xQQQ", 0, 5, 0, priority, 0, 0, 0, cookie,
                        3, 180) + match + instructions)
    return struct.pack("!H", 2 + len(body)) + body


def group_desc_13(gid, gtype, buckets):
    body = b""
    for watch_port, actions in buckets:
        acts = b"".join(actions)
        body += struct.pack("!HHII4x", 16 + len(acts), 0, watch_port,
                            0xffffffff) + acts
    return struct.pack("!HBxI", 8 + len(body), gtype, gid) + body


def main():
    OUT.mkdir(exist_ok=True)
    seeds = {}
    v = OF15
    base = [hello([OF13, 0x05, OF15])]
    seeds["raw-hello"] = bytes([RAW]) + base[0]
    seeds["raw-hello-10"] = bytes([RAW]) + hello([0x01])
    seeds["raw-handshake"] = (bytes([RAW]) + base[0] + features(v, 4)
                              + multipart(v, 13, port(v, 0xfffffffe, "br0")
                                          + port(v, 1, "p1"), 3))
    seeds["hello-features"] = bytes([AFTER_HELLO]) + features(v, 4)
    seeds["hello-port-desc"] = bytes([AFTER_HELLO]) + multipart(
        v, 13, port(v, 0xfffffffe, "br0") + port(v, 1, "p1", 1, 1), 3,
        more=True) + multipart(v, 13, port(v, 2, "p2"), 3)
    seeds["hello-error"] = bytes([AFTER_HELLO]) + error(
        v, 1, 8, 1, msg(v, 18, b"", 1)) + error(v, 17, 2, 0x1234)
    seeds["hello-barrier-echo"] = bytes([AFTER_HELLO | EOF]) + msg(
        v, 21, b"", 5) + msg(v, 2, b"ping", 7) + msg(v, 3, b"", 8)
    seeds["hello-bundle-ctrl"] = bytes([AFTER_HELLO]) + msg(
        v, 33, struct.pack("!IHH", 1, 1, 3), 0x77)
    seeds["hello-port-status"] = bytes([AFTER_HELLO]) + port_status(
        v, 0, 3, "p3")

    w = OF13
    match = oxm_match([oxm_in_port(1), oxm_eth_type(0x0800),
                       oxm_ipv4_dst([192, 0, 2, 100])])
    flow = flow_stats_13(200, 0x766d616300000001, match,
                         apply_actions([group_action(1)]))
    flow2 = flow_stats_13(0, 0x766d616300000000, oxm_match([]),
                          apply_actions([output(0xfffffffa)]))
    seeds["of13-flow-stats"] = bytes([AFTER_HELLO | ONLY13]) + multipart(
        w, 1, flow, 1, more=True) + multipart(w, 1, flow2, 1)
    group = group_desc_13(1, 3, [(1, [output(1)]), (2, [output(2)])])
    seeds["of13-group-desc"] = bytes([AFTER_HELLO | ONLY13]) + multipart(
        w, 7, group, 2)
    seeds["of13-port-desc"] = bytes([AFTER_HELLO | ONLY13]) + multipart(
        w, 13, port(w, 0xfffffffe, "br0") + port(w, 1, "p1"), 3)

    seeds["switch-port-status"] = bytes([SWITCH]) + port_status(
        v, 0, 2, "p2") + port_status(v, 2, 1, "p1", 1, 1) + port_status(
        v, 2, 1, "p1-renamed") + port_status(v, 1, 2, "p2")
    seeds["switch-port-status-13"] = bytes([SWITCH | ONLY13 | EOF]) + \
        port_status(w, 2, 1, "p1", 0, 1) + msg(w, 10, b"\0" * 24, 0)

    seeds["direct-flow-stats"] = bytes([DIRECT]) + multipart(w, 1, flow, 9)
    seeds["direct-group-desc"] = bytes([DIRECT]) + multipart(w, 7, group, 9)
    seeds["direct-port-status"] = bytes([DIRECT]) + port_status(v, 2, 1,
                                                                "p1")
    seeds["direct-features"] = bytes([DIRECT]) + features(v, 9)
    seeds["direct-error"] = bytes([DIRECT]) + error(v, 2, 4, 9, b"x" * 12)
    for name, data in sorted(seeds.items()):
        (OUT / name).write_bytes(data)
    print("wrote %d seeds to %s" % (len(seeds), OUT))


if __name__ == "__main__":
    main()
