"""A plain-TCP WebSocket upstream for loopgate (a ws:// route) that records every frame it
receives, so a test can see what loopgate sent toward the upstream — above all the close
frame it owes the other side when an app breaks the protocol. It can also send raw bytes of
the test's choosing after its 101, to play a misbehaving gateway.

Paths: "/echo" echoes data frames and answers a close; "/send/HEX" first sends the bytes HEX
(right behind the 101), then behaves like "/echo"; "/silent" never sends anything.
Two paths wait for the test, which calls release() on the connection: "/hold" reads nothing
until then (so what loopgate sends piles up in front of it: backpressure), then records frames
without echoing them and answers a close; "/send-then-reset/HEX" sends HEX, reads nothing,
and on release() resets the TCP connection (RST, no close frame, no FIN)."""

import base64
import hashlib
import socket
import struct
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def unmask(payload, key):
    """XORs the payload with the 4-byte key, as whole integers: fast for megabytes too."""
    n = len(payload)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def read_frame(take):
    """One frame from `take(n)` (which returns exactly n bytes): (opcode, payload unmasked, was
    masked, fin)."""
    b0, b1 = take(2)
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", take(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", take(8))[0]
    key = take(4) if b1 & 0x80 else None
    payload = take(n)
    if key:
        payload = unmask(payload, key)
    return b0 & 0x0F, payload, key is not None, bool(b0 & 0x80)


def server_frame(opcode, payload=b"", fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([n])
    elif n < 65536:
        head += bytes([126]) + struct.pack("!H", n)
    else:
        head += bytes([127]) + struct.pack("!Q", n)
    return head + payload


class Connection:
    """One connection as the upstream saw it: the request and the frames that arrived."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()
        self.target = None
        self.headers = {}
        self.frames = []  # (opcode, payload unmasked, masked)
        self.closed = threading.Event()  # the TCP connection ended
        self.lock = threading.Lock()
        self.released = threading.Event()  # "/hold", "/send-then-reset/": the test let it go on

    def release(self):
        """Lets a "/hold" connection start reading, or a "/send-then-reset/" one reset."""
        self.released.set()

    def data_frames(self):
        """(opcode, payload) of every data frame received so far, in order."""
        with self.lock:
            return [(opcode, payload) for opcode, payload, _ in self.frames if opcode in (0x0, 0x1, 0x2)]

    def close_frame(self):
        """(code, reason) of the first close frame received, or None."""
        with self.lock:
            for opcode, payload, _ in self.frames:
                if opcode == 0x8:
                    if len(payload) < 2:
                        return 1005, ""
                    return struct.unpack("!H", payload[:2])[0], payload[2:].decode(errors="replace")
        return None

    def wait_close_frame(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.close_frame()
            if found is not None:
                return found
            time.sleep(0.01)
        raise AssertionError(f"no close frame reached the upstream within {timeout} s; got {self.frames}")

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_head(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, rest = bytes(self.buf).split(b"\r\n\r\n", 1)
        self.buf = bytearray(rest)
        lines = head.decode("latin-1").split("\r\n")
        self.target = lines[0].split(" ")[1]
        for line in lines[1:]:
            name, _, value = line.partition(":")
            self.headers[name.strip().lower()] = value.strip()

    def read_frame(self):
        return read_frame(self._take)


class RecordingUpstream:
    def __init__(self):
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.connections = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def route(self, **overrides):
        """A loopgate route in front of this upstream."""
        route = {"name": "rec", "listen": "127.0.0.1:0", "upstream": f"ws://127.0.0.1:{self.port}",
                 "allow_plaintext_upstream": True}
        route.update(overrides)
        return route

    def wait_connections(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                ready = [c for c in self.connections if c.target is not None]
            if len(ready) >= count:
                return ready
            time.sleep(0.01)
        raise AssertionError(f"expected {count} upgraded connections, saw {len(self.connections)}")

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn = Connection(sock)
            with self._lock:
                self.connections.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            conn.read_head()
            key = conn.headers["sec-websocket-key"]
            response = ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept_key(key)}\r\n\r\n").encode()
            for prefix in ("/send/", "/send-then-reset/"):
                if conn.target.startswith(prefix):
                    response += bytes.fromhex(conn.target[len(prefix):].split("?")[0])
            conn.sock.sendall(response)
            if conn.target.startswith("/send-then-reset/"):
                conn.released.wait(timeout=60)
                # A linger time of 0: close() sends RST and drops whatever was not read.
                conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if conn.target.startswith("/hold"):
                conn.released.wait(timeout=60)
            self._echo(conn)
        except (EOFError, OSError):
            pass
        finally:
            conn.closed.set()
            conn.sock.close()

    def _echo(self, conn):
        while True:
            opcode, payload, masked, fin = conn.read_frame()
            with conn.lock:
                conn.frames.append((opcode, payload, masked))
            if conn.target == "/silent":
                continue
            if conn.target.startswith("/hold") and opcode != 0x8:
                continue
            if opcode == 0x8:
                conn.sock.sendall(server_frame(0x8, payload[:2] if len(payload) >= 2 else b""))
                return
            if opcode in (0x0, 0x1, 0x2):
                conn.sock.sendall(server_frame(opcode, payload, fin))
            elif opcode == 0x9:
                conn.sock.sendall(server_frame(0xA, payload))

    def stop(self):
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for conn in self.connections:
                conn.released.set()  # no thread waits for a test that has ended
                try:
                    conn.sock.close()
                except OSError:
                    pass
