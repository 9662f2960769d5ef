"""A small HTTP/1.1 client over raw sockets (plain, or TLS to talk to the test upstream
directly), for what library clients hide: 1xx responses, trailers, the framing of each
response, several requests on one socket, a request sent in pieces, a body read as it
arrives. Every read has a deadline."""

import socket
import ssl
import time


class Response:
    def __init__(self, version, status, reason, headers):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(name, value)] as received
        self.informational = []  # earlier 1xx responses: [Response]
        self.body = b""
        self.trailers = []
        self.framing = None  # "length", "chunked", "close" or "none"

    def get(self, name, default=None):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def get_all(self, name):
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def names(self):
        return {key.lower() for key, _ in self.headers}

    def connection_tokens(self):
        return {t.strip().lower() for v in self.get_all("connection") for t in v.split(",") if t.strip()}

    @property
    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.headers} body={self.body[:200]!r}>"


class BodyReader:
    """Reads a response body as it arrives: read_some() returns the next bytes, b"" at its end."""

    def __init__(self, conn, response, length=None):
        self.conn = conn
        self.response = response
        self.framing = response.framing
        self.left = length  # bytes left: of the body ("length") or of the current chunk ("chunked")
        self.done = self.framing == "none" or (self.framing == "length" and length == 0)
        self.need_crlf = False

    def read_some(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        conn = self.conn
        if self.done:
            return b""
        if self.framing == "length":
            if not conn.buf:
                conn.fill(deadline)
            data = bytes(conn.buf[:self.left])
            del conn.buf[:len(data)]
            self.left -= len(data)
            self.done = self.left == 0
            return data
        if self.framing == "close":
            if not conn.buf:
                try:
                    conn.fill(deadline)
                except EOFError:
                    self.done = True
                    return b""
            data = bytes(conn.buf)
            conn.buf.clear()
            return data
        # chunked
        while True:
            if self.need_crlf:
                if conn.read_exact(2, deadline) != b"\r\n":
                    raise AssertionError("chunk data not followed by CRLF")
                self.need_crlf = False
            if not self.left:
                line = conn.read_line(deadline).decode("latin-1")
                size = int(line.split(";")[0].strip(), 16)
                if size == 0:
                    while True:
                        trailer = conn.read_line(deadline).decode("latin-1")
                        if not trailer:
                            break
                        name, _, value = trailer.partition(":")
                        self.response.trailers.append((name.strip(), value.strip()))
                    self.done = True
                    return b""
                self.left = size
            if not conn.buf:
                conn.fill(deadline)
            data = bytes(conn.buf[:self.left])
            del conn.buf[:len(data)]
            self.left -= len(data)
            if not self.left:
                self.need_crlf = True
            return data

    def read_all(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        pieces = []
        while True:
            data = self.read_some(max(0.01, deadline - time.monotonic()))
            if not data:
                self.response.body = b"".join(pieces)
                return self.response.body
            pieces.append(data)


class HttpConn:
    def __init__(self, port, host="127.0.0.1", tls=None, server_hostname="localhost", timeout=10.0):
        raw = socket.create_connection((host, port), timeout=timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = tls.wrap_socket(raw, server_hostname=server_hostname) if tls else raw
        self.buf = bytearray()
        self.authority = f"{host}:{port}"

    # ---- sending ----

    def send(self, data):
        self.sock.settimeout(60)
        self.sock.sendall(data)

    @staticmethod
    def build(method, target, authority, headers=(), body=None, chunks=None, trailers=(), version="HTTP/1.1",
              host=True):
        """The bytes of a request. `body` gets a Content-Length (unless `headers` has one),
        `chunks` a chunked body with `trailers`. host=False leaves Host out, a string replaces it."""
        lines = [f"{method} {target} {version}"]
        if host is True:
            lines.append(f"Host: {authority}")
        elif host:
            lines.append(f"Host: {host}")
        names = {name.lower() for name, _ in headers}
        lines += [f"{name}: {value}" for name, value in headers]
        payload = b""
        if chunks is not None:
            if "transfer-encoding" not in names:
                lines.append("Transfer-Encoding: chunked")
            payload = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks if c)
            payload += b"0\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in trailers) + b"\r\n"
        elif body is not None:
            if "content-length" not in names:
                lines.append(f"Content-Length: {len(body)}")
            payload = body
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload

    def request(self, method, target, headers=(), body=None, chunks=None, trailers=(), version="HTTP/1.1",
                host=True):
        self.send(self.build(method, target, self.authority, headers, body, chunks, trailers, version, host))

    # ---- receiving ----

    def fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(left)
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def read_exact(self, n, deadline):
        while len(self.buf) < n:
            self.fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_line(self, deadline):
        while b"\r\n" not in self.buf:
            self.fill(deadline)
        end = self.buf.find(b"\r\n")
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    def read_head(self, timeout=10.0):
        """The next response head: Response without a body."""
        deadline = time.monotonic() + timeout
        while b"\r\n\r\n" not in self.buf:
            self.fill(deadline)
        end = self.buf.find(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        lines = head.split("\r\n")
        version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        response = Response(version, int(status), reason, headers)
        response.status_line = lines[0]
        return response

    def start_response(self, method="GET", timeout=10.0):
        """Reads 1xx heads (kept in .informational) up to the final head; returns
        (response, BodyReader) without reading the body."""
        deadline = time.monotonic() + timeout
        informational = []
        while True:
            response = self.read_head(max(0.01, deadline - time.monotonic()))
            if 100 <= response.status < 200 and response.status != 101:
                informational.append(response)
                continue
            break
        response.informational = informational
        coding = ",".join(response.get_all("transfer-encoding")).lower()
        length = None
        if method == "HEAD" or response.status in (101, 204, 304):
            response.framing = "none"
        elif "chunked" in coding:
            response.framing = "chunked"
        elif response.get("content-length") is not None:
            response.framing = "length"
            length = int(response.get("content-length"))
        else:
            response.framing = "close"
        return response, BodyReader(self, response, length)

    def read_response(self, method="GET", timeout=10.0):
        """The next whole response (after any 1xx), body decoded, trailers kept."""
        deadline = time.monotonic() + timeout
        response, reader = self.start_response(method, timeout)
        reader.read_all(max(0.01, deadline - time.monotonic()))
        return response

    def exchange(self, method, target, timeout=10.0, **kwargs):
        self.request(method, target, **kwargs)
        return self.read_response(method, timeout)

    def wait_eof(self, timeout=5.0):
        """True once the peer closed the connection (FIN or reset) with nothing more sent;
        raises if bytes arrive instead, socket.timeout if it stays open."""
        deadline = time.monotonic() + timeout
        if self.buf:
            raise AssertionError(f"unexpected bytes instead of the end: {bytes(self.buf[:200])!r}")
        try:
            self.fill(deadline)
        except EOFError:
            return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        raise AssertionError(f"unexpected bytes instead of the end: {bytes(self.buf[:200])!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def tls_client_context(ca_file):
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["http/1.1"])
    return context
