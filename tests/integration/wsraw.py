"""A deliberately small WebSocket client over raw sockets, for the cases a
library client will not produce: frames glued to the request, malformed
frames, exact byte checks and HTTP error responses."""

import base64
import os
import socket
import struct
import threading
import time


def make_key():
    return base64.b64encode(os.urandom(16)).decode()


def upgrade_request(path="/", host="127.0.0.1", key=None, headers=()):
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key or make_key()}",
        "Sec-WebSocket-Version: 13",
    ]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, mask_key=None):
    if isinstance(payload, str):
        payload = payload.encode()
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    n = len(payload)
    mask_bit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 65536:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = mask_key if mask_key is not None else os.urandom(4)
    if key == b"\0\0\0\0":
        return head + key + payload  # masking with a zero key leaves the payload as it is
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


def server_frame_head(opcode, length, fin=True):
    """The header of an unmasked frame, as a server sends it, with the shortest length encoding."""
    head = bytes([(0x80 if fin else 0) | opcode])
    if length < 126:
        return head + bytes([length])
    if length < 65536:
        return head + bytes([126]) + struct.pack("!H", length)
    return head + bytes([127]) + struct.pack("!Q", length)


def close_payload(code, reason=""):
    return struct.pack("!H", code) + reason.encode()


def first_difference(got, want):
    """Index of the first byte where two equally long byte strings differ (they do)."""
    lo, hi = 0, len(got)
    while hi - lo > 64:  # halve with whole-slice compares, then look byte by byte
        mid = (lo + hi) // 2
        if got[lo:mid] != want[lo:mid]:
            hi = mid
        else:
            lo = mid
    return next(i for i in range(lo, hi) if got[i] != want[i])


class Conn:
    """A connected socket with a read buffer."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self, timeout):
        self.sock.settimeout(timeout)
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_exact(self, n, timeout=10.0):
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            self.fill(max(0.01, deadline - time.monotonic()))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def expect_bytes(self, expected, timeout=10.0, what="bytes"):
        """Reads len(expected) bytes, comparing each chunk with `expected` as it arrives: the
        first wrong byte fails at once, naming its offset and the bytes around it, instead of
        waiting out the timeout for a count of bytes that a corrupt length may never bring."""
        deadline = time.monotonic() + timeout
        want_all = memoryview(expected)
        offset = 0
        while offset < len(expected):
            if not self.buf:
                try:
                    self.fill(max(0.01, deadline - time.monotonic()))
                except socket.timeout:
                    raise socket.timeout(f"{what}: only {offset} of {len(expected)} bytes within {timeout} s") \
                        from None
                except EOFError:
                    raise EOFError(f"{what}: connection closed after {offset} of {len(expected)} bytes") from None
            n = min(len(self.buf), len(expected) - offset)
            got, want = memoryview(self.buf)[:n], want_all[offset:offset + n]
            if got != want:
                i = first_difference(got, want)
                lo = max(0, i - 8)
                raise AssertionError(
                    f"{what}: byte {offset + i} of {len(expected)} is 0x{got[i]:02x}, expected 0x{want[i]:02x} "
                    f"(from byte {offset + lo}: got {bytes(got[lo:i + 8]).hex(' ')}, "
                    f"expected {bytes(want[lo:i + 8]).hex(' ')})")
            self.buf = self.buf[n:]
            offset += n

    def expect_frame(self, opcode, payload, fin=True, timeout=10.0):
        """Reads the next frame, checking as its bytes arrive that it is exactly the unmasked
        server frame (fin, opcode, payload); fails at the first wrong byte, header or payload.
        Returns True, so it reads well in an assert."""
        if isinstance(payload, str):
            payload = payload.encode()
        head = server_frame_head(opcode, len(payload), fin)
        try:
            self.expect_bytes(head, timeout, "frame header")
        except AssertionError as error:
            # Whatever came instead (often a close frame, with its reason) says most.
            raise AssertionError(f"{error}; expected {head.hex(' ')} for a {len(payload)}-byte frame, "
                                 f"what followed: {self.buf[:64]!r}") from None
        self.expect_bytes(payload, timeout, f"payload of the {len(payload)}-byte frame")
        return True

    def read_head(self, timeout=10.0):
        """Reads an HTTP head; returns (status, headers dict lower-cased, raw head)."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self.fill(max(0.01, deadline - time.monotonic()))
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers, lines[0]

    def read_response(self, timeout=10.0):
        """Reads a whole HTTP response with a Content-Length body."""
        status, headers, line = self.read_head(timeout)
        body = self.read_exact(int(headers.get("content-length", "0")), timeout)
        return status, headers, body.decode(errors="replace")

    def read_frame(self, timeout=10.0):
        """Returns (fin, opcode, payload) of the next frame (server frames are unmasked)."""
        b0, b1 = self.read_exact(2, timeout)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.read_exact(2, timeout))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.read_exact(8, timeout))[0]
        key = self.read_exact(4, timeout) if b1 & 0x80 else None
        payload = self.read_exact(n, timeout)
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        return bool(b0 & 0x80), b0 & 0x0F, payload

    def read_close(self, timeout=10.0):
        """Skips data frames until a close frame; returns (code, reason)."""
        while True:
            fin, opcode, payload = self.read_frame(timeout)
            if opcode == 0x8:
                if len(payload) < 2:
                    return 1005, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def send(self, data):
        self.sock.sendall(data)

    def send_in_background(self, data, timeout=30.0):
        """Sends from a thread, so a test can read an echo while a large send is still going
        (sending everything first would deadlock once every buffer on the way is full).
        Returns the thread; join it to know the send ended. The thread sends on its own
        duplicate of the socket, so the reader's timeouts do not cut the send short."""
        sender = self.sock.dup()
        sender.settimeout(timeout)

        def send_all():
            with sender:
                sender.sendall(data)

        thread = threading.Thread(target=send_all, daemon=True)
        thread.start()
        return thread

    def read_until_eof(self, timeout=10.0):
        """Reads until the peer closes the connection in order (FIN); returns what arrived
        before it. A reset raises ConnectionResetError, a silent peer socket.timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if time.monotonic() > deadline:
                raise socket.timeout(f"no end of stream within {timeout} s")
            try:
                self.fill(max(0.01, deadline - time.monotonic()))
            except EOFError:
                out, self.buf = self.buf, b""
                return out

    def close(self):
        self.sock.close()


def connect(port, host="127.0.0.1", timeout=5.0):
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Conn(sock)


def open_ws(port, path="/", headers=(), glued=b""):
    """Connects and upgrades; `glued` is sent in the same write as the request."""
    conn = connect(port)
    conn.send(upgrade_request(path, headers=headers) + glued)
    status, response_headers, _ = conn.read_head()
    assert status == 101, f"expected 101, got {status}"
    conn.headers = response_headers
    return conn


def exchange(port, data, timeout=10.0):
    """Sends raw bytes as one request and returns the HTTP response: (status, headers, body)."""
    conn = connect(port, timeout=timeout)
    try:
        conn.send(data)
        return conn.read_response(timeout)
    finally:
        conn.close()
