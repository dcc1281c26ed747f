"""A small raw-socket OpenFlow peer for vmacd's system tests.

FakeSwitch connects to vmacd's OpenFlow listener like a switch would and lets
a test send well-formed or malformed bytes.  It packs OpenFlow by hand (test
code only) and knows just enough to pass vmacd's handshake: HELLO, FEATURES,
PORT_DESC, and empty answers to the flow table's reads and barriers.

Only OpenFlow 1.3 (0x04) and 1.5 (0x06) messages are built here.
"""

import socket
import struct
import time

OFP10 = 0x01
OFP13 = 0x04
OFP14 = 0x05
OFP15 = 0x06

# Message types (the same numbers in 1.3 to 1.5 for these).
HELLO = 0
ERROR = 1
ECHO_REQUEST = 2
ECHO_REPLY = 3
FEATURES_REQUEST = 5
FEATURES_REPLY = 6
SET_CONFIG = 9
PORT_STATUS = 12
MULTIPART_REQUEST = 18
MULTIPART_REPLY = 19
BARRIER_REQUEST = 20
BARRIER_REPLY = 21
BUNDLE_CONTROL = 33

# Multipart types.
MP_PORT_DESC = 13

# Error types and codes.
ERR_HELLO_FAILED = 0
HFC_INCOMPATIBLE = 0

# Port status reasons, config and state bits.
PPR_ADD, PPR_DELETE, PPR_MODIFY = 0, 1, 2
PC_PORT_DOWN = 1 << 0
PS_LINK_DOWN = 1 << 0

OFPP_LOCAL = 0xfffffffe

HEADER = struct.Struct("!BBHI")


def header(version, msg_type, length, xid):
    return HEADER.pack(version, msg_type, length, xid)


def message(version, msg_type, body=b"", xid=0):
    return header(version, msg_type, HEADER.size + len(body), xid) + body


def hello(versions):
    """HELLO offering 'versions' (a list of wire versions): the header has
    the highest, plus a version bitmap element."""
    bitmap = 0
    for v in versions:
        bitmap |= 1 << v
    element = struct.pack("!HHI", 1, 8, bitmap)    # OFPHET_VERSIONBITMAP.
    return message(max(versions), HELLO, element)


def port(version, number, name, mac, config=0, state=0):
    """One port description ('mac' as 6 bytes; 'name' text or bytes)."""
    if isinstance(name, str):
        name = name.encode()
    name = name[:15].ljust(16, b"\0")
    if version == OFP13:
        # ofp11_port: 64 bytes.
        return struct.pack("!I4x6s2x16sIIIIIIII", number, mac, name, config,
                           state, 0, 0, 0, 0, 0, 0)
    # ofp14_port without properties: 40 bytes.
    return struct.pack("!IH2x6s2x16sII", number, 40, mac, name, config,
                       state)


def mac_bytes(text):
    return bytes(int(b, 16) for b in text.split(":"))


class FakeSwitch:
    """One fake switch connected to 'address' (a unix socket path, or a
    (host, port) tuple)."""

    def __init__(self, address, dpid=0x0000feedfacecafe, name="fake0",
                 version=OFP15, timeout=10):
        self.dpid = dpid
        self.name = name
        self.version = version
        self.timeout = timeout
        self.ports = {OFPP_LOCAL: (name, "02:fe:00:00:00:01", 0, 0)}
        self._rx = b""
        self._xid = 0x5000
        family = socket.AF_UNIX if isinstance(address, (str, bytes)) \
            or hasattr(address, "__fspath__") else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(str(address) if family == socket.AF_UNIX
                          else address)
        self.received = []      # (version, type, xid, body) seen by serve().

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def next_xid(self):
        self._xid += 1
        return self._xid

    # Bytes.

    def send(self, data):
        """Sends raw bytes; returns False if vmacd already hung up."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            # EPIPE, ECONNRESET...: the peer is gone.
            return False

    def recv(self, timeout=None):
        """The next whole message as (version, type, xid, body), or None on
        EOF.  Raises socket.timeout after 'timeout' seconds."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if len(self._rx) >= HEADER.size:
                version, msg_type, length, xid = HEADER.unpack_from(self._rx)
                assert length >= HEADER.size, "vmacd sent length %d" % length
                if len(self._rx) >= length:
                    body = self._rx[HEADER.size:length]
                    self._rx = self._rx[length:]
                    return version, msg_type, xid, body
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no message from vmacd")
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                return None
            self._rx += data

    def expect(self, msg_type, timeout=None):
        """Receives messages until one of 'msg_type' (answering echo
        requests on the way); returns (version, type, xid, body)."""
        while True:
            msg = self.recv(timeout)
            assert msg is not None, "vmacd closed the connection while " \
                "we waited for message type %d" % msg_type
            if msg[1] == msg_type:
                return msg
            self._answer(msg)

    def wait_closed(self, timeout=None):
        """True once vmacd closes the connection (messages before the EOF
        are dropped); False if it is still open after 'timeout'."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < deadline:
            try:
                if self.recv(deadline - time.monotonic()) is None:
                    return True
            except socket.timeout:
                return False
        return False

    # OpenFlow.

    def hello(self, versions=None):
        """Receives vmacd's HELLO and answers with 'versions' (default: our
        version only).  Returns vmacd's HELLO as received."""
        got = self.recv()
        assert got is not None and got[1] == HELLO, got
        self.send(hello(versions or [self.version]))
        return got

    def port_status(self, reason, number, name, mac, config=0, state=0):
        body = struct.pack("!B7x", reason) + port(self.version, number, name,
                                                  mac_bytes(mac), config,
                                                  state)
        return message(self.version, PORT_STATUS, body, self.next_xid())

    def handshake(self):
        """HELLO, then answers until vmacd has what it needs to call the
        switch ready (features and port desc)."""
        self.hello()
        done = set()
        deadline = time.monotonic() + self.timeout
        while done != {FEATURES_REQUEST, MULTIPART_REQUEST} \
                and time.monotonic() < deadline:
            msg = self.recv(deadline - time.monotonic())
            assert msg is not None, "vmacd closed during the handshake"
            if self._answer(msg) in (FEATURES_REQUEST, MULTIPART_REQUEST):
                done.add(msg[1])
        assert done == {FEATURES_REQUEST, MULTIPART_REQUEST}, done

    def serve(self, duration):
        """Answers vmacd's requests for 'duration' seconds (or until EOF);
        returns False if vmacd closed the connection."""
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            try:
                msg = self.recv(left)
            except socket.timeout:
                return True
            if msg is None:
                return False
            self._answer(msg)

    def _answer(self, msg):
        """Answers one message from vmacd if it needs an answer; returns its
        type (for the multipart port desc request: MULTIPART_REQUEST; other
        multipart requests: None)."""
        version, msg_type, xid, body = msg
        self.received.append(msg)
        if msg_type == ECHO_REQUEST:
            self.send(message(version, ECHO_REPLY, body, xid))
        elif msg_type == FEATURES_REQUEST:
            body = struct.pack("!QIBB2xII", self.dpid, 0, 254, 0, 0, 0)
            self.send(message(version, FEATURES_REPLY, body, xid))
        elif msg_type == MULTIPART_REQUEST:
            mp_type = struct.unpack_from("!H", body)[0]
            payload = b""
            if mp_type == MP_PORT_DESC:
                payload = b"".join(port(version, n, name, mac_bytes(mac), c, s)
                                   for n, (name, mac, c, s)
                                   in sorted(self.ports.items()))
            # Anything else (flows, groups): an empty table.
            reply = struct.pack("!HH4x", mp_type, 0) + payload
            self.send(message(version, MULTIPART_REPLY, reply, xid))
            return MULTIPART_REQUEST if mp_type == MP_PORT_DESC else None
        elif msg_type == BARRIER_REQUEST:
            self.send(message(version, BARRIER_REPLY, b"", xid))
        elif msg_type == BUNDLE_CONTROL:
            # bundle_id, type + 1 (OPEN -> OPEN_REPLY, ...), flags.
            bundle_id, ctrl, flags = struct.unpack_from("!IHH", body)
            self.send(message(version, BUNDLE_CONTROL,
                              struct.pack("!IHH", bundle_id, ctrl + 1, flags),
                              xid))
        return msg_type
