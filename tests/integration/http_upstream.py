"""A TLS HTTP/1.1 upstream for the HTTP forwarding tests, hand-written on ssl + socket +
threads so that every byte on the wire is the test's to decide: keep-alive, Content-Length
and chunked bodies both ways (read and written in pieces, never required whole), trailers,
Expect: 100-continue and other 1xx, HEAD of every GET endpoint, server-sent events held
open by the test, and a minimal WebSocket echo on /ws.

It counts accepted TCP connections and records every request (method, target, headers,
body length and SHA-256, trailers, which connection it came on), so a test can prove what
reached the upstream, how often, and on how many connections.

Endpoints (any method; a body is always read, hashed and recorded):
  /                  HTML page: loads /style.css and /app.js, holds its load event with an
                     iframe on /hold until the script reported to /report (for --dump-dom)
  /app.js /style.css the page's script (fetch /api/json, POST /api/echo, EventSource /events,
                     WebSocket /ws; writes "json:ok post:ok sse:ok ws:ok css:ok" into #result)
  /api/json          {"ok": true, ...}
  /api/echo          the request body back with Content-Length, X-Body-Sha256, X-Body-Length,
                     X-Method
  /chunked-echo      the request body back as a chunked response, X-Body-Sha256 as a trailer
  /bytes?n=N&chunked=0|1   pattern(N), by Content-Length or chunked
  /events            text/event-stream: "data: first" at once, "data: second" and the end only
                     after the test set server.events_release
  /redirect          302 to https://localhost:PORT/landing (the upstream's own origin)
  /redirect-relative 302 to /landing;  /redirect-foreign 302 to https://example.com/elsewhere
  /content-location  200 with Content-Location https://localhost:PORT/api/json
  /landing           200 "landed"
  /cookie            Set-Cookie: sid=1; Domain=localhost; Path=/; HttpOnly  and  theme=dark; Path=/
  /slow-head?ms=N    waits N ms before the response head
  /headers           the request as JSON: method, target, version, headers [[name, value], ...]
  /hop-response      a 200 carrying hop-by-hop headers (Connection: X-Hop-Secret, X-Hop-Secret,
                     Keep-Alive, Proxy-Connection, Upgrade) besides X-Kept
  /early-hints       103 Early Hints (Link) before the 200
  /close-after       200 with Connection: close, then closes the connection
  /status/NNN        that status with a short text body
  /ws                WebSocket upgrade, echoes data frames, answers ping and close
  /hold, /report     the page's load-event hold and outcome report

server.drop_idle_connections() closes every idle keep-alive connection at once (a FIN,
no close_notify, nothing else sent); server.doom_idle_connections() makes every idle one
close, without answering, as soon as its next request arrives — the race a pool cannot see
coming (the upstream's keep-alive timeout firing just as the request is on its way)."""

import base64
import hashlib
import json
import random
import socket
import ssl
import threading
import time
import urllib.parse

import recording_upstream
from recording_upstream import server_frame

MAX_HEAD_BYTES = 1 << 20
PIECE = 1 << 16

STYLE_CSS = "#result { color: rgb(1, 2, 3); font-family: monospace; }\n"

APP_JS = r"""
(async function () {
  const base = window.LOOPGATE_BASE || "";
  const wsUrl = (base ? base.replace(/^http/, "ws") : "ws://" + location.host) + "/ws";
  const names = ["json", "post", "sse", "ws", "css"];
  const results = {};
  const out = document.getElementById("result");
  const show = () => { out.textContent = names.map((n) => n + ":" + (results[n] || "pending")).join(" "); };
  const withTimeout = (promise, ms) =>
    Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve("timeout"), ms))]);
  async function json() {
    const response = await fetch(base + "/api/json");
    if (!response.ok) return "status" + response.status;
    const data = await response.json();
    return data.ok === true ? "ok" : "bad";
  }
  async function post() {
    const body = "posted from the page " + "x".repeat(3000);
    const response = await fetch(base + "/api/echo", {method: "POST", body: body});
    if (!response.ok) return "status" + response.status;
    return (await response.text()) === body ? "ok" : "mismatch";
  }
  function sse() {
    return new Promise((resolve) => {
      const source = new EventSource(base + "/events");
      source.onmessage = (event) => { source.close(); resolve(event.data === "first" ? "ok" : "data=" + event.data); };
      source.onerror = () => { source.close(); resolve("error"); };
    });
  }
  function ws() {
    return new Promise((resolve) => {
      const socket = new WebSocket(wsUrl);
      socket.onopen = () => socket.send("hello from the page");
      socket.onmessage = (event) => {
        resolve(event.data === "hello from the page" ? "ok" : "data=" + event.data);
        socket.close(1000);
      };
      socket.onerror = () => resolve("error");
      socket.onclose = (event) => resolve("closed" + event.code);
    });
  }
  function css() {
    return getComputedStyle(out).color === "rgb(1, 2, 3)" ? "ok" : "unstyled";
  }
  const settle = (name, run) => withTimeout(Promise.resolve().then(run), 8000)
      .catch(() => "error").then((value) => { results[name] = value; show(); });
  show();
  await Promise.all([settle("json", json), settle("post", post), settle("sse", sse), settle("ws", ws),
                     settle("css", css)]);
  fetch("/report?outcome=" + encodeURIComponent(out.textContent));
})();
"""


def index_html(base=""):
    """The page. With `base` (another origin's URL), the same page as a foreign origin would
    serve it: its script aims every request at `base` instead of its own origin."""
    preset = f'<script>window.LOOPGATE_BASE = "{base}";</script>\n' if base else ""
    return ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>loopgate http test</title>\n"
            "<link rel=\"stylesheet\" href=\"/style.css\"></head>\n"
            "<body><pre id=\"result\">pending</pre>\n"
            f"{preset}<script src=\"/app.js\"></script>\n"
            "<iframe src=\"/hold\"></iframe>\n</body></html>\n")


def pattern(n):
    """N deterministic bytes (the same for the same N), for /bytes."""
    return random.Random(f"loopgate-bytes-{n}").randbytes(n)


def accept_key(key):
    return recording_upstream.accept_key(key.strip())


REASONS = {100: "Continue", 101: "Switching Protocols", 103: "Early Hints", 200: "OK", 204: "No Content",
           302: "Found", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 426: "Upgrade Required", 500: "Internal Server Error", 503: "Service Unavailable"}


class Closed(Exception):
    """The peer closed the connection (or reset it) while the server was reading."""


class Recorded:
    """One request as the upstream saw it. Added when its head arrived; `received` grows while
    its body does, `complete` is set once the whole body was read."""

    def __init__(self, connection, method, target, version, headers):
        self.connection = connection  # the UpstreamConnection's id (1, 2, ... in accept order)
        self.method = method
        self.target = target
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = {k: v[0] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        self.version = version
        self.headers = headers  # [(name, value)] in arrival order, names as sent
        self.received = 0
        self.body_sha256 = None  # hex, once complete
        self.body_length = None
        self.body = None  # kept for the echo endpoints only
        self.trailers = []
        self.chunked = False
        self.sent_continue = False
        self.complete = threading.Event()
        self.ws_messages = []  # (opcode, payload) for /ws

    def header(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def header_all(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def header_names(self):
        return {key.lower() for key, _ in self.headers}

    def __repr__(self):
        return (f"<{self.method} {self.target} conn={self.connection} body={self.body_length} "
                f"complete={self.complete.is_set()}>")


class UpstreamConnection:
    def __init__(self, number, raw):
        self.id = number
        self.sock = raw  # the SSLSocket once the handshake is done (it takes over the descriptor)
        self.state = "tls"  # tls, idle, busy, ws, closed
        self.requests = 0
        self.doomed = False
        self.closed = threading.Event()


class _Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self):
        try:
            data = self.sock.recv(1 << 18)
        except (OSError, ssl.SSLError, ValueError) as error:
            raise Closed(str(error)) from None
        if not data:
            raise Closed("eof")
        self.buf += data

    def read_line(self, limit=65536):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 2]
                return line
            if len(self.buf) > limit:
                raise Closed("line too long")
            self.fill()

    def read_head(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end])
                del self.buf[:end + 4]
                return head
            if len(self.buf) > MAX_HEAD_BYTES:
                raise Closed("head too long")
            self.fill()

    def read_some(self, limit):
        if not self.buf:
            self.fill()
        out = bytes(self.buf[:limit])
        del self.buf[:limit]
        return out

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class HttpUpstream:
    def __init__(self, cert, key, host="127.0.0.1"):
        """TLS with `cert` and `key`; cert=None serves plain HTTP (only for checking the page
        itself in a browser, see test_http_upstream.py)."""
        self.context = None
        if cert is not None:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(str(cert), str(key))
            self.context.set_alpn_protocols(["http/1.1"])
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, 0))
        self._listener.listen(128)
        self._listener.settimeout(0.05)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self.connections = []
        self.requests = []
        self.tls_failures = []
        self.events_release = threading.Event()  # /events sends its second event and ends once set
        self.events_ended = threading.Event()  # set when an /events response was written to its end
        self.reported = threading.Event()  # the page reported its outcome to /report
        self.outcome = None
        self._lock = threading.RLock()  # wait_for predicates may call recorded()
        self._changed = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._threads = []
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    # ---- for the tests ----

    @property
    def origin(self):
        """The upstream's own origin as loopgate's route names it (wss://localhost:PORT)."""
        return f"https://localhost:{self.port}"

    @property
    def accepted(self):
        """TCP connections accepted so far (a failed TLS handshake counts too)."""
        with self._lock:
            return len(self.connections)

    def recorded(self, path=None):
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, predicate, timeout=10.0, what="the condition"):
        """Waits until predicate() is true (re-checked on every change and every 50 ms)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"upstream: timed out after {timeout} s waiting for {what}; "
                                         f"requests: {self.requests}")
                self._changed.wait(min(left, 0.05))

    def wait_requests(self, count, path=None, timeout=10.0, complete=True):
        """Waits for `count` requests (to `path`) whose bodies were read whole; returns them all."""
        def ready():
            found = [r for r in self.requests if (path is None or r.path == path)
                     and (not complete or r.complete.is_set())]
            return len(found) >= count
        self.wait_for(ready, timeout, f"{count} request(s) to {path or 'any path'}")
        return [r for r in self.recorded(path) if not complete or r.complete.is_set()]

    def idle_connections(self):
        with self._lock:
            return [c for c in self.connections if c.state == "idle"]

    def _wait_idle(self, expect, timeout):
        self.wait_for(lambda: sum(c.state == "idle" for c in self.connections) >= expect, timeout,
                      f"{expect} idle keep-alive connection(s)")

    def drop_idle_connections(self, expect=1, timeout=5.0):
        """Once `expect` keep-alive connections are idle, closes every idle one now: a TCP
        FIN, no TLS close_notify, nothing else sent. Returns how many it closed."""
        self._wait_idle(expect, timeout)
        with self._lock:
            idle = [c for c in self.connections if c.state == "idle"]
            for conn in idle:
                conn.state = "closed"
                _shutdown(conn.sock)
        for conn in idle:
            conn.closed.wait(5)
        return len(idle)

    def doom_idle_connections(self, expect=1, timeout=5.0):
        """Once `expect` keep-alive connections are idle, marks every idle one so that it closes
        as soon as the next request's first bytes arrive, reading nothing and answering nothing.
        A pool cannot notice that before it reuses the connection. Returns how many."""
        self._wait_idle(expect, timeout)
        with self._lock:
            idle = [c for c in self.connections if c.state == "idle"]
            for conn in idle:
                conn.doomed = True
        return len(idle)

    def stop(self):
        self._stopping.set()
        self.events_release.set()
        self.reported.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for conn in self.connections:
                _shutdown(conn.sock)
        for thread in list(self._threads):
            thread.join(timeout=2)

    # ---- serving ----

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                raw, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._changed:
                conn = UpstreamConnection(len(self.connections) + 1, raw)
                self.connections.append(conn)
                self._changed.notify_all()
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _set_state(self, conn, state):
        with self._changed:
            if conn.state != "closed":
                conn.state = state
            self._changed.notify_all()

    def _serve(self, conn):
        try:
            conn.sock.settimeout(10)
            try:
                if self.context is not None:
                    conn.sock = self.context.wrap_socket(conn.sock, server_side=True)
            except (OSError, ssl.SSLError) as error:
                with self._lock:
                    self.tls_failures.append(str(error))
                return
            conn.sock.settimeout(None)  # stop() and drop_idle_connections() wake it by shutdown
            reader = _Reader(conn.sock)
            while not self._stopping.is_set():
                self._set_state(conn, "idle")
                if not reader.buf:
                    reader.fill()
                with self._changed:
                    if conn.doomed or conn.state == "closed":
                        conn.state = "closed"
                        return
                    conn.state = "busy"
                if not self._one_request(conn, reader):
                    return
        except (Closed, OSError, ssl.SSLError, ValueError):
            pass  # the peer went away, or a test's stop() or drop woke the thread
        finally:
            with self._changed:
                conn.state = "closed"
                self._changed.notify_all()
            _shutdown(conn.sock)
            try:
                conn.sock.close()
            except OSError:
                pass
            conn.closed.set()

    def _one_request(self, conn, reader):
        """Reads and answers one request; False when the connection is to close."""
        head = reader.read_head().decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, version = lines[0].split(" ")
        except ValueError:
            self._send(conn, _response(400, [("Connection", "close")], b"bad request line\n"))
            return False
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                self._send(conn, _response(400, [("Connection", "close")], b"bad header line\n"))
                return False
            headers.append((name.strip(), value.strip()))
        rec = Recorded(conn.id, method, target, version, headers)
        conn.requests += 1
        with self._changed:
            self.requests.append(rec)
            self._changed.notify_all()

        connection_tokens = {t.strip().lower() for v in rec.header_all("connection") for t in v.split(",")}
        keep_alive = version == "HTTP/1.1" and "close" not in connection_tokens

        if rec.path == "/ws" and "websocket" in (rec.header("upgrade") or "").lower():
            return self._websocket(conn, reader, rec)

        if (rec.header("expect") or "").lower() == "100-continue" and version == "HTTP/1.1":
            self._send(conn, b"HTTP/1.1 100 Continue\r\n\r\n")
            rec.sent_continue = True
        self._read_body(reader, rec)

        keep_alive = self._answer(conn, rec, keep_alive) and keep_alive
        return keep_alive

    def _read_body(self, reader, rec):
        keep = rec.path in ("/api/echo", "/chunked-echo")
        digest = hashlib.sha256()
        pieces = []

        def take(data):
            digest.update(data)
            if keep:
                pieces.append(data)
            with self._changed:
                rec.received += len(data)
                self._changed.notify_all()

        coding = ",".join(rec.header_all("transfer-encoding")).lower()
        if "chunked" in coding:
            rec.chunked = True
            while True:
                size_line = reader.read_line().decode("latin-1")
                size = int(size_line.split(";")[0].strip(), 16)
                if size == 0:
                    break
                left = size
                while left:
                    data = reader.read_some(min(left, PIECE))
                    left -= len(data)
                    take(data)
                if reader.read_exact(2) != b"\r\n":
                    raise Closed("chunk without CRLF")
            while True:
                line = reader.read_line().decode("latin-1")
                if not line:
                    break
                name, _, value = line.partition(":")
                rec.trailers.append((name.strip(), value.strip()))
        else:
            left = int(rec.header("content-length") or "0")
            while left:
                data = reader.read_some(min(left, PIECE))
                left -= len(data)
                take(data)
        rec.body_sha256 = digest.hexdigest()
        rec.body_length = rec.received
        if keep:
            rec.body = b"".join(pieces)
        with self._changed:
            rec.complete.set()
            self._changed.notify_all()

    def _send(self, conn, data):
        view = memoryview(data)
        for start in range(0, len(view), 1 << 18):
            conn.sock.sendall(view[start:start + (1 << 18)])

    def _answer(self, conn, rec, keep_alive):
        """Writes the response; False if the connection must close after it."""
        head_only = rec.method == "HEAD"
        path, query = rec.path, rec.query
        extra = [] if keep_alive else [("Connection", "close")]

        def plain(status, body, headers=(), content_type="text/plain; charset=utf-8"):
            if isinstance(body, str):
                body = body.encode()
            hdrs = [("Content-Type", content_type)] + list(headers) + extra
            self._send(conn, _response(status, hdrs, body, head_only))
            return True

        if path == "/":
            return plain(200, index_html(), content_type="text/html; charset=utf-8")
        if path == "/app.js":
            return plain(200, APP_JS, content_type="text/javascript; charset=utf-8")
        if path == "/style.css":
            return plain(200, STYLE_CSS, content_type="text/css; charset=utf-8")
        if path == "/api/json":
            body = json.dumps({"ok": True, "method": rec.method, "target": rec.target, "n": 42})
            return plain(200, body, content_type="application/json")
        if path == "/api/echo":
            return plain(200, rec.body, [("X-Body-Sha256", rec.body_sha256), ("X-Body-Length", str(rec.body_length)),
                                         ("X-Method", rec.method)],
                         content_type=rec.header("content-type") or "application/octet-stream")
        if path == "/chunked-echo":
            self._send_chunked(conn, [("Content-Type", "application/octet-stream"), ("Trailer", "X-Body-Sha256")]
                               + extra, _pieces(rec.body), [("X-Body-Sha256", rec.body_sha256)], head_only)
            return True
        if path == "/bytes":
            data = pattern(int(query.get("n", "0")))
            if query.get("chunked") == "1":
                self._send_chunked(conn, [("Content-Type", "application/octet-stream")] + extra, _pieces(data), [],
                                   head_only)
                return True
            return plain(200, data, content_type="application/octet-stream")
        if path == "/events":
            hdrs = [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")] + extra
            if head_only:
                self._send_chunked(conn, hdrs, [], [], True)
                return True
            self._send(conn, _head(200, hdrs + [("Transfer-Encoding", "chunked")]) + _chunk(b"data: first\n\n"))
            self.events_release.wait(30)
            self._send(conn, _chunk(b"data: second\n\n") + b"0\r\n\r\n")
            self.events_ended.set()
            return True
        if path == "/redirect":
            return plain(302, "", [("Location", f"{self.origin}/landing")])
        if path == "/redirect-relative":
            return plain(302, "", [("Location", "/landing")])
        if path == "/redirect-foreign":
            return plain(302, "", [("Location", "https://example.com/elsewhere")])
        if path == "/content-location":
            return plain(200, "{}", [("Content-Location", f"{self.origin}/api/json")],
                         content_type="application/json")
        if path == "/landing":
            return plain(200, "landed")
        if path == "/cookie":
            return plain(200, "cookies", [("Set-Cookie", "sid=1; Domain=localhost; Path=/; HttpOnly"),
                                          ("Set-Cookie", "theme=dark; Path=/")])
        if path == "/slow-head":
            if self._stopping.wait(int(query.get("ms", "1000")) / 1000):
                return False
            return plain(200, "slow")
        if path == "/headers":
            body = json.dumps({"method": rec.method, "target": rec.target, "version": rec.version,
                               "headers": rec.headers})
            return plain(200, body, content_type="application/json")
        if path == "/hop-response":
            return plain(200, "hop", [("Connection", "X-Hop-Secret"), ("X-Hop-Secret", "1"),
                                      ("Keep-Alive", "timeout=99"), ("Proxy-Connection", "keep-alive"),
                                      ("Upgrade", "h2c"), ("X-Kept", "1")])
        if path == "/early-hints":
            self._send(conn, b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n")
            return plain(200, "hinted")
        if path == "/close-after":
            if not head_only:
                self._send(conn, _response(200, [("Content-Type", "text/plain"), ("Connection", "close")],
                                           b"closing after this\n"))
            else:
                self._send(conn, _response(200, [("Content-Type", "text/plain"), ("Connection", "close")],
                                           b"closing after this\n", head_only=True))
            return False
        if path.startswith("/status/"):
            status = int(path[len("/status/"):])
            return plain(status, f"status {status} from the upstream\n")
        if path == "/ws":
            return plain(426, "this is a WebSocket endpoint\n", [("Upgrade", "websocket")])
        if path == "/hold":
            self.reported.wait(20)
            return plain(200, "<!doctype html><title>done</title>", content_type="text/html; charset=utf-8")
        if path == "/report":
            self.outcome = query.get("outcome")
            self.reported.set()
            return plain(200, "ok")
        return plain(404, f"no such endpoint: {path}\n")

    def _send_chunked(self, conn, headers, pieces, trailers, head_only):
        out = _head(200, list(headers) + [("Transfer-Encoding", "chunked")])
        if head_only:
            self._send(conn, out)
            return
        self._send(conn, out)
        for piece in pieces:
            self._send(conn, _chunk(piece))
        self._send(conn, b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n")

    def _websocket(self, conn, reader, rec):
        key = rec.header("sec-websocket-key")
        if not key or rec.header("sec-websocket-version") != "13":
            self._send(conn, _response(400, [("Connection", "close")], b"bad WebSocket upgrade\n"))
            return False
        self._send(conn, _head(101, [("Upgrade", "websocket"), ("Connection", "Upgrade"),
                                     ("Sec-WebSocket-Accept", accept_key(key))]))
        rec.complete.set()
        self._set_state(conn, "ws")
        while True:
            opcode, payload, _, fin = recording_upstream.read_frame(reader.read_exact)
            if opcode == 0x8:
                self._send(conn, server_frame(0x8, payload[:2] if len(payload) >= 2 else b""))
                return False
            if opcode == 0x9:
                self._send(conn, server_frame(0xA, payload))
            elif opcode in (0x0, 0x1, 0x2):
                with self._changed:
                    rec.ws_messages.append((opcode, payload))
                    self._changed.notify_all()
                self._send(conn, server_frame(opcode, payload, fin))


def _shutdown(raw):
    """Ends the TCP connection (FIN) without TLS close_notify, waking a thread blocked on it."""
    try:
        socket.socket.shutdown(raw, socket.SHUT_RDWR)
    except OSError:
        pass


def _head(status, headers):
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"] + [f"{n}: {v}" for n, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _response(status, headers, body, head_only=False):
    head = _head(status, list(headers) + [("Content-Length", str(len(body)))])
    return head if head_only else head + body


def _chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _pieces(data):
    """The body in pieces of varying size (the last one short), none empty."""
    out, start, sizes = [], 0, (PIECE, 1, 4093, PIECE - 7)
    i = 0
    while start < len(data):
        size = sizes[i % len(sizes)]
        out.append(data[start:start + size])
        start += size
        i += 1
    return out
