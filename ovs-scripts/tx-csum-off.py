#!/usr/bin/python3
"""Turns off transmit checksum offload on network interfaces.

Usage: tx-csum-off.py IFNAME...   (in the namespace that holds IFNAME)

The equivalent of "ethtool -K IFNAME tx off", which sandbox.sh needs on the
hosts' veth ends and which is done here with the ethtool ioctl so that the
ethtool program is not required.  Without it a host's TCP and UDP packets
leave its veth with only a partial checksum, which the userspace datapath
(reading them over AF_PACKET) forwards unchanged, so receivers drop them.
Turning off checksum offload also turns off TSO, which depends on it.
"""

import ctypes
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_GTXCSUM = 0x16
ETHTOOL_STXCSUM = 0x17
IFNAMSIZ = 16


def ethtool_value(sock, ifname, cmd, data=0):
    """Runs one ETHTOOL_[GS]* value command; returns the value."""
    value = ctypes.create_string_buffer(struct.pack("II", cmd, data))
    ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
    ifreq += b"\0" * (40 - len(ifreq))
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)
    return struct.unpack("II", value.raw[:8])[1]


def main(argv):
    if len(argv) < 2 or any(len(n.encode()) >= IFNAMSIZ for n in argv[1:]):
        sys.stderr.write("usage: tx-csum-off.py IFNAME...\n")
        return 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for ifname in argv[1:]:
            try:
                ethtool_value(sock, ifname, ETHTOOL_STXCSUM, 0)
                if ethtool_value(sock, ifname, ETHTOOL_GTXCSUM) != 0:
                    raise OSError("still on after setting it off")
            except OSError as e:
                sys.stderr.write("tx-csum-off.py: %s: %s\n" % (ifname, e))
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
