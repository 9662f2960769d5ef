"""Plain HTTP through a route (issue 11): a request on a route's listener that is not a
WebSocket upgrade is forwarded to the upstream over the route's verified TLS, so a web app
served by the gateway works at http://127.0.0.1:PORT/ — its page, API, event stream and
WebSocket — while no other web page can use the listener.

The upstream is http_upstream.HttpUpstream (TLS, HTTP/1.1, records every request and counts
its TCP connections); the clients are a real headless Chromium, curl, python's http.client
and a raw client (httpraw.py) for what the libraries hide: 1xx, trailers, framing, several
requests on one socket. Every wait has a deadline; nothing passes by sleeping long enough."""

import hashlib
import html
import http.client
import http.server
import json
import signal
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest

import wsraw
from conftest import parse_logfmt
from http_upstream import APP_JS, STYLE_CSS, HttpUpstream, index_html, pattern
from httpraw import HttpConn

CHROMIUM = shutil.which("chromium")
CURL = shutil.which("curl")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/install-deps.sh does it)")
needs_curl = pytest.mark.skipif(CURL is None, reason="curl is not installed (tools/install-deps.sh does it)")

MIB = 1 << 20
TEXT, CLOSE = 0x1, 0x8


# ---- fixtures and helpers ----

@pytest.fixture
def upstream(certs):
    server = HttpUpstream(certs / "server.pem", certs / "server.key")
    yield server
    server.stop()


def web_route(upstream, certs, **overrides):
    route = {
        "name": "web",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://localhost:{upstream.port}",
        "tls": {"ca_file": str(certs / "ca.pem")},
    }
    route.update(overrides)
    return route


@pytest.fixture
def start_web(start_loopgate, upstream, certs):
    """Starts loopgate with one route "web" in front of the upstream; overrides go into the route."""

    def start(**overrides):
        loopgate = start_loopgate({"routes": [web_route(upstream, certs, **overrides)]})
        loopgate.upstream = upstream
        return loopgate

    return start


@pytest.fixture
def web(start_web):
    return start_web()


@pytest.fixture
def connect():
    """Opens raw HTTP connections to a loopgate port; all are closed after the test."""
    opened = []

    def open_one(port):
        conn = HttpConn(port)
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def assert_loopgate_error(response, status, *words):
    """loopgate's own error answer: the status with a reason phrase, a text/plain body that
    says why (containing each of `words`)."""
    assert response.status == status, response
    assert response.reason.strip(), f"no reason phrase: {response.status_line!r}"
    assert (response.get("content-type") or "").startswith("text/plain"), response
    assert response.text.strip(), f"the {status} body does not say why"
    for word in words:
        assert word in response.text, f"{word!r} not in the {status} body {response.text!r}"


def assert_upstream_saw_nothing(upstream):
    assert upstream.recorded() == [], upstream.recorded()
    assert upstream.accepted == 0, f"the upstream accepted {upstream.accepted} connection(s)"


def access_lines(loopgate, count, timeout=10.0):
    """The msg="http request" lines, parsed, once `count` of them were logged."""
    loopgate.process.wait_for(r'msg="http request"', count=count, timeout=timeout)
    return [parse_logfmt(line) for line in loopgate.log().splitlines() if 'msg="http request"' in line]


def curl(*args, timeout=90):
    """Runs curl (no proxy from the environment); returns the CompletedProcess (bytes)."""
    return subprocess.run([CURL, "-sS", "--noproxy", "*", "--max-time", "60", *map(str, args)],
                          capture_output=True, timeout=timeout)


def curl_status(result):
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return int(result.stdout.decode().strip()[-3:])


def read_until(reader, marker, timeout=5.0):
    """Reads body bytes until `marker` arrived; returns what was read."""
    deadline = time.monotonic() + timeout
    got = b""
    while marker not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{marker!r} did not arrive within {timeout} s; got {got!r}")
        try:
            data = reader.read_some(left)
        except socket.timeout:
            raise AssertionError(f"{marker!r} did not arrive within {timeout} s; got {got!r}") from None
        if not data:
            raise AssertionError(f"the response ended before {marker!r}; got {got!r}")
        got += data
    return got


# ---- a real browser ----

def open_in_chromium(url):
    """Loads `url` in a fresh headless Chromium; returns what the page wrote into #result."""
    with tempfile.TemporaryDirectory(prefix="lg-chromium-") as profile:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--dump-dom", url]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=90)
    match = re.search(r'<pre id="result">(.*?)</pre>', result.stdout, re.S)
    assert match, f"no #result in the DOM (exit {result.returncode}):\n{result.stdout}\n{result.stderr[-2000:]}"
    return html.unescape(match.group(1))


class ForeignPage:
    """The same page and script as the upstream serves, from another loopback origin
    (plain HTTP on 127.0.0.1:other-port), aimed at loopgate's listener: what any page the
    user has open could try."""

    def __init__(self, target_base):
        self.outcome = None
        reported = threading.Event()
        self.reported = reported
        page = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                kind = "text/html; charset=utf-8"
                if path == "/":
                    body = index_html(base=target_base)
                elif path == "/app.js":
                    body, kind = APP_JS, "text/javascript; charset=utf-8"
                elif path == "/style.css":
                    body, kind = STYLE_CSS, "text/css; charset=utf-8"
                elif path == "/report":
                    query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                    page.outcome = query["outcome"][0]
                    reported.set()
                    body = "ok"
                elif path == "/hold":
                    reported.wait(20)
                    body = "<!doctype html><title>done</title>"
                else:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.reported.set()
        self._httpd.shutdown()
        self._httpd.server_close()


@needs_chromium
def test_page_through_loopgate_gets_its_api_its_events_and_its_websocket(web, upstream):
    outcome = open_in_chromium(f"http://127.0.0.1:{web.port}/")
    assert outcome == "json:ok post:ok sse:ok ws:ok css:ok"
    assert upstream.outcome == outcome  # the page's report went through loopgate too
    paths = {r.path for r in upstream.recorded()}
    assert {"/", "/style.css", "/app.js", "/api/json", "/api/echo", "/events", "/ws", "/hold", "/report"} <= paths
    [post] = upstream.recorded("/api/echo")
    assert post.header("origin") == f"http://127.0.0.1:{web.port}"  # let in as the listener's own origin
    [ws] = upstream.recorded("/ws")
    assert ws.ws_messages == [(TEXT, b"hello from the page")]


@needs_chromium
def test_same_page_from_a_foreign_loopback_origin_gets_nothing_through_and_the_upstream_sees_nothing(web, upstream):
    page = ForeignPage(target_base=f"http://127.0.0.1:{web.port}")
    try:
        outcome = open_in_chromium(f"http://127.0.0.1:{page.port}/")
    finally:
        page.stop()
    assert outcome == "json:error post:error sse:error ws:error css:ok"
    assert page.outcome == outcome
    assert_upstream_saw_nothing(upstream)
    # loopgate said why, per request: the POST and the WebSocket were refused with 403.
    logged = [parse_logfmt(line) for line in web.log().splitlines()]
    refused = {(f.get("path"), f.get("status")) for f in logged}
    assert ("/api/echo", "403") in refused, web.log()
    assert ("/ws", "403") in refused, web.log()


# ---- bodies, both ways, byte-exact ----

SIZES = [pytest.param(0, id="0B"), pytest.param(1, id="1B"), pytest.param(10 * MIB, id="10MiB")]


@pytest.mark.parametrize("size", SIZES)
def test_body_by_length_echoed_by_length_with_http_client(web, upstream, size):
    body = os.urandom(size)
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
    try:
        conn.request("POST", "/api/echo", body=body, headers={"Content-Type": "application/octet-stream"})
        response = conn.getresponse()
        echoed = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert len(echoed) == size and sha(echoed) == sha(body)
    assert response.getheader("X-Body-Sha256") == sha(body)
    [seen] = upstream.wait_requests(1, "/api/echo")
    assert (seen.body_length, seen.body_sha256, seen.chunked) == (size, sha(body), False)


@needs_curl
@pytest.mark.parametrize("size", SIZES)
def test_body_by_length_echoed_chunked_with_curl(web, upstream, size, tmp_path):
    body = os.urandom(size)
    (tmp_path / "in").write_bytes(body)
    result = curl("--data-binary", f"@{tmp_path / 'in'}", "-H", "Content-Type: application/octet-stream",
                  "-o", tmp_path / "out", "-w", "%{http_code}", f"http://127.0.0.1:{web.port}/chunked-echo")
    assert curl_status(result) == 200
    assert sha((tmp_path / "out").read_bytes()) == sha(body)
    [seen] = upstream.wait_requests(1, "/chunked-echo")
    assert (seen.body_length, seen.body_sha256) == (size, sha(body))


@needs_curl
@pytest.mark.parametrize("size", SIZES)
def test_chunked_body_echoed_by_length_with_curl(web, upstream, size, tmp_path):
    body = os.urandom(size)
    (tmp_path / "in").write_bytes(body)
    result = curl("--data-binary", f"@{tmp_path / 'in'}", "-H", "Transfer-Encoding: chunked",
                  "-H", "Content-Type: application/octet-stream", "-D", tmp_path / "head",
                  "-o", tmp_path / "out", "-w", "%{http_code}", f"http://127.0.0.1:{web.port}/api/echo")
    assert curl_status(result) == 200
    assert sha((tmp_path / "out").read_bytes()) == sha(body)
    assert f"x-body-sha256: {sha(body)}" in (tmp_path / "head").read_text().lower()
    [seen] = upstream.wait_requests(1, "/api/echo")
    assert (seen.body_length, seen.body_sha256) == (size, sha(body))


@pytest.mark.parametrize("size", SIZES)
def test_chunked_body_echoed_chunked_with_http_client(web, upstream, size):
    body = os.urandom(size)
    pieces = [body[i:i + 100_000] for i in range(0, size, 100_000)]
    conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
    try:
        conn.request("POST", "/chunked-echo", body=iter(pieces), encode_chunked=True)
        response = conn.getresponse()
        echoed = response.read()
    finally:
        conn.close()
    assert response.status == 200
    assert len(echoed) == size and sha(echoed) == sha(body)
    [seen] = upstream.wait_requests(1, "/chunked-echo")
    assert (seen.body_length, seen.body_sha256) == (size, sha(body))


@pytest.mark.parametrize("chunked", ["0", "1"], ids=["by_length", "chunked"])
@pytest.mark.parametrize("size", SIZES)
def test_response_body_reaches_the_app_byte_exact(web, size, chunked, tmp_path):
    url = f"http://127.0.0.1:{web.port}/bytes?n={size}&chunked={chunked}"
    if chunked == "1" and CURL:
        result = curl("-o", tmp_path / "out", "-w", "%{http_code}", url)
        assert curl_status(result) == 200
        got = (tmp_path / "out").read_bytes()
    else:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
        try:
            conn.request("GET", f"/bytes?n={size}&chunked={chunked}")
            response = conn.getresponse()
            got = response.read()
            assert response.status == 200
        finally:
            conn.close()
    assert len(got) == size and sha(got) == sha(pattern(size))


def test_request_body_reaches_the_upstream_while_the_app_is_still_sending(web, upstream, connect):
    """Streamed, not buffered whole: the upstream has most of the first 2 MiB of an 8 MiB
    body while the rest has not been sent yet."""
    body = os.urandom(8 * MIB)
    conn = connect(web.port)
    conn.send(HttpConn.build("POST", "/api/echo", conn.authority, body=b"", headers=[
        ("Content-Length", str(len(body))), ("Content-Type", "application/octet-stream")]) + body[:2 * MIB])
    upstream.wait_for(lambda: any(r.received >= MIB for r in upstream.requests), timeout=10,
                      what="the first MiB of the body at the upstream before the app sent the rest")
    [seen] = upstream.recorded("/api/echo")
    assert not seen.complete.is_set()
    conn.send(body[2 * MIB:])
    response = conn.read_response(timeout=60)
    assert response.status == 200 and sha(response.body) == sha(body)


def test_body_arriving_before_the_upstream_connection_is_ready_is_forwarded_whole(web, upstream, connect):
    """The head and 4 MiB of body in one go, while loopgate is still dialing the upstream (no
    pooled connection yet): the bytes read during the dial must not stall the rest."""
    body = os.urandom(4 * MIB)
    conn = connect(web.port)
    request = HttpConn.build("POST", "/api/echo", conn.authority, body=body)
    sending = conn.sock.dup()  # its own timeout, apart from the reader's
    sending.settimeout(30)

    def send():
        with sending:
            try:
                sending.sendall(request)
            except OSError:
                pass  # loopgate answered and closed early: the response says why

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    response = conn.read_response(timeout=30)
    sender.join(5)
    assert response.status == 200, response
    assert sha(response.body) == sha(body)
    [seen] = upstream.wait_requests(1, "/api/echo")
    assert (seen.body_length, seen.body_sha256) == (len(body), sha(body))


def test_event_stream_delivers_its_first_event_before_the_upstream_ends_the_response(web, upstream, connect):
    conn = connect(web.port)
    conn.request("GET", "/events", headers=[("Accept", "text/event-stream")])
    response, reader = conn.start_response(timeout=5)
    assert response.status == 200
    assert response.get("content-type") == "text/event-stream"
    first = read_until(reader, b"data: first\n\n", timeout=5)
    assert first == b"data: first\n\n"
    assert not upstream.events_ended.is_set(), "the upstream already ended: this proves nothing"
    upstream.events_release.set()
    rest = reader.read_all(timeout=10)
    assert rest == b"data: second\n\n"
    # The response ended and the connection still serves the next request.
    assert json.loads(conn.exchange("GET", "/api/json").body)["ok"] is True


def test_head_gets_the_headers_of_get_and_no_body_and_the_connection_stays_in_step(web, upstream, connect):
    conn = connect(web.port)
    get = conn.exchange("GET", "/style.css")
    for target in ("/bytes?n=1000", "/bytes?n=1000&chunked=1", "/style.css", "/events"):
        head = conn.exchange("HEAD", target)
        assert head.status == 200, (target, head)
        assert head.body == b""
        # The next response on the socket is the next request's, not a stray body.
        after = conn.exchange("GET", "/api/json")
        assert json.loads(after.body)["ok"] is True, (target, after)
    head_css = [r for r in upstream.recorded("/style.css") if r.method == "HEAD"]
    assert len(head_css) == 1, "HEAD reaches the upstream as HEAD"
    assert conn.exchange("HEAD", "/style.css").get("content-length") == get.get("content-length")
    assert conn.exchange("HEAD", "/bytes?n=1000").get("content-length") == "1000"
    assert upstream.accepted == 1


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "PURGE"])
def test_every_method_reaches_the_upstream(web, upstream, connect, method):
    body = f"body of a {method}".encode() if method in ("POST", "PUT", "PATCH", "PROPFIND") else None
    response = connect(web.port).exchange(method, "/api/echo", body=body)
    assert response.status == 200, response
    assert response.get("x-method") == method
    assert response.body == (body or b"")
    [seen] = upstream.wait_requests(1, "/api/echo")
    assert seen.method == method


def test_expect_100_continue_reaches_the_app_before_it_sends_the_body(web, upstream, connect):
    body = os.urandom(100_000)
    conn = connect(web.port)
    conn.send(f"POST /api/echo HTTP/1.1\r\nHost: {conn.authority}\r\nContent-Length: {len(body)}\r\n"
              "Expect: 100-continue\r\n\r\n".encode())
    interim = conn.read_head(timeout=5)  # the body is not sent before the 100 came
    assert interim.status == 100, interim
    conn.send(body)
    response = conn.read_response(timeout=30)
    assert response.status == 200
    assert sha(response.body) == sha(body)
    [seen] = upstream.wait_requests(1, "/api/echo")
    assert seen.body_sha256 == sha(body)


@needs_curl
def test_curl_with_expect_100_continue_gets_its_100_at_once(web, tmp_path):
    body = os.urandom(2 * MIB)
    (tmp_path / "in").write_bytes(body)
    started = time.monotonic()
    # curl waits up to --expect100-timeout for the 100: without it this takes 30 s.
    result = curl("-v", "--expect100-timeout", "30", "-H", "Expect: 100-continue", "--data-binary",
                  f"@{tmp_path / 'in'}", "-o", tmp_path / "out", "-w", "%{http_code}",
                  f"http://127.0.0.1:{web.port}/api/echo")
    assert curl_status(result) == 200
    assert time.monotonic() - started < 15, "curl did not get its 100 Continue"
    assert b"< HTTP/1.1 100 Continue" in result.stderr
    assert sha((tmp_path / "out").read_bytes()) == sha(body)


def test_early_hints_103_reaches_the_app_before_the_response(web, connect):
    response = connect(web.port).exchange("GET", "/early-hints")
    assert [r.status for r in response.informational] == [103]
    assert response.informational[0].get("link") == "</style.css>; rel=preload; as=style"
    assert (response.status, response.body) == (200, b"hinted")


def test_response_trailers_reach_the_app(web, connect):
    body = os.urandom(60_000)  # small: large bodies have tests of their own
    response = connect(web.port).exchange("POST", "/chunked-echo", body=body, timeout=30)
    assert response.status == 200 and response.body == body
    assert response.framing == "chunked"
    assert ("x-body-sha256", sha(body)) in [(n.lower(), v) for n, v in response.trailers], response.trailers


def test_request_trailers_reach_the_upstream(web, upstream, connect):
    body = os.urandom(50_000)
    chunks = [body[:20_000], body[20_000:]]
    response = connect(web.port).exchange("POST", "/chunked-echo", chunks=chunks,
                                          trailers=[("X-Client-Trailer", "sealed")], timeout=30)
    assert response.status == 200 and response.body == body
    [seen] = upstream.wait_requests(1, "/chunked-echo")
    assert ("x-client-trailer", "sealed") in [(n.lower(), v) for n, v in seen.trailers], seen.trailers


# ---- limits and loopgate's own answers ----

def test_body_over_max_body_bytes_by_content_length_is_413_at_once_and_never_reaches_the_upstream(
        start_web, upstream, connect):
    web = start_web(limits={"max_body_bytes": 1000})
    ok = connect(web.port).exchange("POST", "/api/echo", body=b"a" * 1000)
    assert ok.status == 200 and ok.body == b"a" * 1000  # exactly the limit is fine
    conn = connect(web.port)
    # Only the head: the 413 must not wait for a body it will refuse anyway.
    conn.send(f"POST /api/echo HTTP/1.1\r\nHost: {conn.authority}\r\nContent-Length: 1001\r\n\r\n".encode())
    response = conn.read_response(timeout=5)
    assert_loopgate_error(response, 413, "1000")
    assert len(upstream.recorded()) == 1, upstream.recorded()  # the first POST only


def test_chunked_body_growing_past_max_body_bytes_is_413_and_the_connection_closes(start_web, upstream, connect):
    web = start_web(limits={"max_body_bytes": 1000})
    ok = connect(web.port).exchange("POST", "/api/echo", chunks=[b"a" * 600, b"b" * 400])
    assert ok.status == 200 and ok.body == b"a" * 600 + b"b" * 400
    conn = connect(web.port)
    conn.request("POST", "/api/echo", chunks=[b"c" * 600, b"d" * 600])
    response = conn.read_response(timeout=5)
    assert_loopgate_error(response, 413, "1000")
    assert conn.wait_eof(timeout=5)
    complete = [r for r in upstream.recorded("/api/echo") if r.complete.is_set()]
    assert [r.body_length for r in complete] == [1000], "the oversized body never reached the upstream whole"
    # The route keeps serving, on a fresh upstream connection or a clean pooled one.
    after = connect(web.port).exchange("GET", "/api/json")
    assert json.loads(after.body)["ok"] is True


def test_request_head_over_max_request_header_bytes_is_431(web, upstream, connect):
    response = connect(web.port).exchange("GET", "/api/json", headers=[("X-Padding", "p" * 20000)])
    assert_loopgate_error(response, 431, "16384")
    assert_upstream_saw_nothing(upstream)


def test_request_head_not_complete_within_request_ms_is_408(start_web, upstream, connect):
    web = start_web(timeouts={"request_ms": 300})
    conn = connect(web.port)
    started = time.monotonic()
    conn.send(f"GET /api/json HTTP/1.1\r\nHost: {conn.authority}\r\n".encode())  # never finished
    response = conn.read_response(timeout=5)
    elapsed = time.monotonic() - started
    assert_loopgate_error(response, 408, "300")
    assert 0.25 <= elapsed < 4, elapsed
    assert_upstream_saw_nothing(upstream)


def test_no_response_head_within_response_ms_is_504_and_the_late_answer_reaches_nobody(start_web, upstream, connect):
    web = start_web(timeouts={"response_ms": 300})
    started = time.monotonic()
    response = connect(web.port).exchange("GET", "/slow-head?ms=2000", timeout=5)
    elapsed = time.monotonic() - started
    assert_loopgate_error(response, 504, "300")
    assert 0.25 <= elapsed < 1.9, elapsed
    # Once the upstream has sent its late answer, the next request gets its own response.
    [slow] = upstream.recorded("/slow-head")
    upstream.wait_for(lambda: upstream.connections[slow.connection - 1].state != "busy", timeout=5,
                      what="the late /slow-head answer to be written")
    after = connect(web.port).exchange("GET", "/api/json")
    assert after.status == 200 and json.loads(after.body)["target"] == "/api/json", after


def test_http_1_0_request_is_505(web, upstream, connect):
    conn = connect(web.port)
    conn.send(f"GET /api/json HTTP/1.0\r\nHost: {conn.authority}\r\n\r\n".encode())
    response = conn.read_response(timeout=5)
    assert_loopgate_error(response, 505, "HTTP/1.1")
    assert_upstream_saw_nothing(upstream)


@pytest.mark.parametrize("request_line, status, words", [
    ("CONNECT 127.0.0.1:443 HTTP/1.1", 405, ["does not open tunnels"]),
    ("GET http://127.0.0.1:9/elsewhere HTTP/1.1", 400, ["must be a path", "http://127.0.0.1:9/elsewhere"]),
])
def test_a_tunnel_or_an_absolute_target_is_refused_and_reaches_nobody(web, upstream, connect, request_line, status,
                                                                      words):
    conn = connect(web.port)
    conn.send(f"{request_line}\r\nHost: {conn.authority}\r\n\r\n".encode())
    response = conn.read_response(timeout=5)
    assert_loopgate_error(response, status, *words)
    assert_upstream_saw_nothing(upstream)


@pytest.mark.parametrize("framing", [
    [("Content-Length", "5"), ("Transfer-Encoding", "chunked")],
    [("Content-Length", "5"), ("Content-Length", "6")],
    [("Transfer-Encoding", "gzip")],
], ids=["length_and_chunked", "two_lengths", "chunked_not_last"])
def test_a_body_whose_framing_is_ambiguous_is_400_and_reaches_nobody(web, upstream, connect, framing):
    # Request smuggling: two readings of where the body ends must never reach the upstream.
    conn = connect(web.port)
    head = "".join(f"{name}: {value}\r\n" for name, value in framing)
    conn.send(f"POST /api/echo HTTP/1.1\r\nHost: {conn.authority}\r\n{head}\r\n0\r\n\r\nhello".encode())
    response = conn.read_response(timeout=5)
    assert_loopgate_error(response, 400, "malformed HTTP")
    assert_upstream_saw_nothing(upstream)


# ---- headers both ways ----

def test_upstream_sees_its_own_host_the_apps_headers_and_no_forwarding_headers(web, upstream, connect):
    response = connect(web.port).exchange("GET", "/headers?x=1", headers=[
        ("X-Custom", "kept as sent"), ("Authorization", "Bearer app-token"), ("Cookie", "a=b")])
    assert response.status == 200
    seen = json.loads(response.body)
    names = [name.lower() for name, _ in seen["headers"]]
    values = {name.lower(): value for name, value in seen["headers"]}
    assert seen["target"] == "/headers?x=1"
    assert names.count("host") == 1 and values["host"] == f"localhost:{upstream.port}"
    assert (values["x-custom"], values["authorization"], values["cookie"]) == ("kept as sent", "Bearer app-token",
                                                                              "a=b")
    added = [n for n in names if n in ("forwarded", "x-real-ip") or n.startswith("x-forwarded-")]
    assert added == [], f"loopgate added {added}"


def test_forwarded_headers_when_the_route_asks_name_the_app_and_the_host_it_used(start_web, connect):
    web = start_web(forwarded_headers=True)
    conn = connect(web.port)
    response = conn.exchange("GET", "/headers")
    assert response.status == 200
    values = {name.lower(): value for name, value in json.loads(response.body)["headers"]}
    assert values["x-forwarded-for"] == "127.0.0.1"
    assert values["x-forwarded-proto"] == "http"
    assert values["x-forwarded-host"] == conn.authority
    assert values["forwarded"] == f'for="127.0.0.1";proto=http;host="{conn.authority}"'


def test_hop_by_hop_request_headers_do_not_reach_the_upstream(web, upstream, connect):
    response = connect(web.port).exchange("GET", "/headers", headers=[
        ("Connection", "keep-alive, X-Foo, Upgrade"), ("X-Foo", "bar"), ("Keep-Alive", "timeout=5"),
        ("Proxy-Connection", "keep-alive"), ("TE", "trailers"), ("Upgrade", "h2c"), ("X-End", "kept")])
    assert response.status == 200, response  # an h2c upgrade offer is no WebSocket upgrade: plain forwarding
    seen = json.loads(response.body)
    values = {}
    for name, value in seen["headers"]:
        values.setdefault(name.lower(), []).append(value)
    for name in ("x-foo", "proxy-connection", "te", "upgrade"):
        assert name not in values, f"{name} reached the upstream: {seen['headers']}"
    assert "timeout=5" not in values.get("keep-alive", [])
    tokens = {t.strip().lower() for v in values.get("connection", []) for t in v.split(",")}
    assert not tokens & {"x-foo", "upgrade"}, values["connection"]
    assert values["x-end"] == ["kept"]


def test_hop_by_hop_response_headers_do_not_reach_the_app(web, connect):
    response = connect(web.port).exchange("GET", "/hop-response")
    assert (response.status, response.body) == (200, b"hop")
    for name in ("x-hop-secret", "proxy-connection", "upgrade"):
        assert name not in response.names(), f"{name} reached the app: {response.headers}"
    assert response.get("keep-alive") != "timeout=99"
    assert "x-hop-secret" not in response.connection_tokens()
    assert response.get("x-kept") == "1"


def test_location_pointing_at_the_upstream_is_rewritten_to_the_address_the_app_used(web, upstream, connect):
    port = web.port
    conn = connect(port)
    assert conn.exchange("GET", "/redirect").get("location") == f"http://127.0.0.1:{port}/landing"
    assert conn.exchange("GET", "/redirect", host=f"localhost:{port}").get("location") == \
        f"http://localhost:{port}/landing"
    assert conn.exchange("GET", "/content-location").get("content-location") == f"http://127.0.0.1:{port}/api/json"
    assert conn.exchange("GET", "/redirect-relative").get("location") == "/landing"
    assert conn.exchange("GET", "/redirect-foreign").get("location") == "https://example.com/elsewhere"


@needs_curl
def test_curl_following_a_redirect_stays_on_loopgate(web, upstream):
    result = curl("-L", "-w", "\n%{http_code} %{url_effective}", f"http://127.0.0.1:{web.port}/redirect")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"landed\n200 http://127.0.0.1:{web.port}/landing"
    assert [r.path for r in upstream.recorded()] == ["/redirect", "/landing"]


def cookie_parts(value):
    name_value, *attributes = [part.strip() for part in value.split(";")]
    return name_value, {a.split("=", 1)[0].lower(): (a.split("=", 1) + [None])[1] for a in attributes if a}


def test_set_cookie_for_the_upstreams_host_loses_its_domain_and_keeps_the_rest(web, connect):
    cookies = connect(web.port).exchange("GET", "/cookie").get_all("set-cookie")
    assert len(cookies) == 2, cookies
    sid, theme = (cookie_parts(c) for c in cookies)
    assert sid == ("sid=1", {"path": "/", "httponly": None}), cookies[0]
    assert theme == ("theme=dark", {"path": "/"}), cookies[1]


# ---- connections ----

def test_twenty_sequential_requests_on_one_app_connection_use_one_upstream_connection(web, upstream, connect):
    conn = connect(web.port)
    for i in range(20):
        if i % 2:
            body = f"request {i}".encode() * 50
            response = conn.exchange("POST", "/api/echo", body=body)
            assert (response.status, response.body) == (200, body), i
        else:
            response = conn.exchange("GET", f"/api/json?i={i}")
            assert response.status == 200 and json.loads(response.body)["target"] == f"/api/json?i={i}", i
    assert upstream.accepted == 1
    assert [r.connection for r in upstream.recorded()] == [1] * 20
    lines = access_lines(web, 20)
    assert [f["upstream_connection"] for f in lines] == ["new"] + ["reused"] * 19


def test_connection_close_from_the_app_is_honoured(web, connect):
    conn = connect(web.port)
    response = conn.exchange("GET", "/api/json", headers=[("Connection", "close")])
    assert response.status == 200
    assert "close" in response.connection_tokens()
    assert conn.wait_eof(timeout=5)


def test_an_app_leaving_between_kept_alive_requests_is_logged_as_an_ordinary_close(web, connect):
    conn = connect(web.port)
    assert conn.exchange("GET", "/api/json").status == 200
    assert conn.exchange("GET", "/status/404").status == 404
    conn.close()
    web.wait_closed()
    [summary] = web.summaries()
    assert summary["status"] == "404", summary
    assert summary.get("reason", "") == "", summary  # nothing was refused: no "before the upgrade completed"


def test_shutdown_ends_an_idle_kept_alive_connection_without_a_stray_response(web, connect):
    conn = connect(web.port)
    assert conn.exchange("GET", "/api/json").status == 200
    web.process.signal(signal.SIGTERM)
    # A 503 here would answer no request, and a browser would take it for the next one's.
    assert conn.wait_eof(timeout=5)
    assert web.process.wait(timeout=10) == 0


def test_shutdown_lets_a_started_response_finish_and_then_exits_without_keeping_its_upstream(
        web, upstream, connect):
    conn = connect(web.port)
    conn.request("GET", "/events")
    response, body = conn.start_response()
    assert response.status == 200
    web.process.signal(signal.SIGTERM)
    web.process.wait_for(r'msg="shutting down"')
    upstream.events_release.set()  # the response ends now, on a connection the upstream would keep
    assert b"data: second" in body.read_all(timeout=5)
    # Its upstream connection is not kept for a next request that cannot come: loopgate is gone
    # once the response is out, not at the shutdown deadline (5 s) with its warning.
    assert web.process.wait(timeout=4) == 0
    assert "shutdown timeout" not in web.log()


def test_upstream_closing_after_its_response_costs_the_app_nothing(web, upstream, connect):
    conn = connect(web.port)
    first = conn.exchange("GET", "/close-after")
    assert (first.status, first.body) == (200, b"closing after this\n")
    if "close" in first.connection_tokens():  # loopgate may pass the close on; then the app reconnects
        assert conn.wait_eof()
        conn = connect(web.port)
    second = conn.exchange("GET", "/api/json")
    assert second.status == 200 and json.loads(second.body)["ok"] is True
    assert upstream.accepted == 2


def test_keep_alive_connection_whose_next_request_is_an_upgrade_becomes_a_websocket(web, upstream, connect):
    conn = connect(web.port)
    assert json.loads(conn.exchange("GET", "/api/json").body)["ok"] is True
    conn.send(wsraw.upgrade_request("/ws", host=conn.authority))
    assert conn.read_head(timeout=5).status == 101
    ws = wsraw.Conn(conn.sock)
    ws.buf = bytes(conn.buf)
    ws.send(wsraw.frame(TEXT, "after a GET on the same socket"))
    assert ws.expect_frame(TEXT, "after a GET on the same socket")
    ws.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
    assert ws.read_close() == (1000, "")
    [seen] = upstream.recorded("/ws")
    assert seen.ws_messages == [(TEXT, b"after a GET on the same socket")]


def test_route_with_http_false_answers_426_and_still_relays_websockets(start_web, upstream, connect):
    web = start_web(http=False)
    response = connect(web.port).exchange("GET", "/api/json")
    assert response.status == 426
    assert response.get("upgrade") == "websocket"
    assert upstream.recorded() == []
    # Without HTTP forwarding the listener's own origin is no exception: allowed_origins decides.
    refused = wsraw.exchange(web.port, wsraw.upgrade_request("/ws", host=f"127.0.0.1:{web.port}", headers=[
        ("Origin", f"http://127.0.0.1:{web.port}")]))
    assert refused[0] == 403
    ws = wsraw.open_ws(web.port, "/ws")
    ws.send(wsraw.frame(TEXT, "still a gateway"))
    assert ws.expect_frame(TEXT, "still a gateway")
    ws.close()


def test_get_on_a_pooled_connection_the_upstream_dropped_is_retried_once_and_succeeds(web, upstream, connect):
    conn = connect(web.port)
    assert conn.exchange("GET", "/api/json?n=1").status == 200
    # The upstream closes the pooled connection the moment the next request reaches it:
    # nothing loopgate could have noticed before reusing it.
    assert upstream.doom_idle_connections(expect=1) == 1
    response = conn.exchange("GET", "/api/json?n=2", timeout=10)
    assert response.status == 200, response
    assert json.loads(response.body)["target"] == "/api/json?n=2"
    assert upstream.accepted == 2
    assert [r.target for r in upstream.recorded()] == ["/api/json?n=1", "/api/json?n=2"]


def test_post_on_a_pooled_connection_the_upstream_dropped_is_not_sent_again(web, upstream, connect):
    conn = connect(web.port)
    assert conn.exchange("GET", "/api/json").status == 200
    assert upstream.doom_idle_connections(expect=1) == 1
    response = conn.exchange("POST", "/api/echo", body=b"charge the card once", timeout=10)
    assert_loopgate_error(response, 502, "not retried")
    assert upstream.recorded("/api/echo") == [], "the POST was sent again on another connection"


def test_post_after_the_upstream_closed_an_idle_connection_is_sent_at_most_once(web, upstream, connect):
    """Here the upstream closes at once (a FIN while idle), which loopgate may or may not have
    noticed by the time the POST comes: a 200 or a 502, never two POSTs."""
    conn = connect(web.port)
    assert conn.exchange("GET", "/api/json").status == 200
    assert upstream.drop_idle_connections(expect=1) == 1
    body = b"charge the card once"
    response = conn.exchange("POST", "/api/echo", body=body, timeout=10)
    assert response.status in (200, 502), response
    if response.status == 200:
        assert response.body == body
    else:
        assert_loopgate_error(response, 502, "not retried")
        conn = connect(web.port)
    posts = [r for r in upstream.recorded("/api/echo") if r.body_sha256 == sha(body)]
    assert len(posts) <= 1, posts
    assert conn.exchange("GET", "/api/json").status == 200  # and the route goes on


# ---- access log ----

def test_each_request_gets_an_access_log_line_with_secrets_redacted(web, upstream, connect):
    conn = connect(web.port)
    get = conn.exchange("GET", "/api/json?token=T0K-S3CRET&room=lobby")
    body = os.urandom(1000)
    post = conn.exchange("POST", "/api/echo", body=body)
    missing = conn.exchange("GET", "/status/404")
    assert (get.status, post.status, missing.status) == (200, 200, 404)
    lines = access_lines(web, 3)
    assert len(lines) == 3, lines
    first, second, third = lines
    assert (first["route"], first["method"], first["path"], first["status"]) == \
        ("web", "GET", "/api/json?token=REDACTED&room=lobby", "200")
    assert (second["method"], second["path"], second["status"]) == ("POST", "/api/echo", "200")
    assert (third["method"], third["path"], third["status"]) == ("GET", "/status/404", "404")
    assert [f["upstream_connection"] for f in lines] == ["new", "reused", "reused"]
    assert int(second["bytes_from_app"]) >= 1000
    assert int(first["bytes_from_upstream"]) >= len(get.body)
    assert int(second["bytes_from_upstream"]) >= 1000
    for fields in lines:
        assert int(fields["duration_ms"]) >= 0
        assert int(fields["bytes_from_app"]) >= 0
    assert "T0K-S3CRET" not in web.log()


# ---- who may use the listener ----

def test_foreign_host_is_403_and_reaches_nobody(web, upstream, connect):
    response = connect(web.port).exchange("GET", "/api/json", host=f"evil.example:{web.port}")
    assert_loopgate_error(response, 403, f'Host "evil.example:{web.port}"')
    assert_upstream_saw_nothing(upstream)


@pytest.mark.parametrize("origin", ["http://evil.example", "http://127.0.0.1:5173", "null"])
def test_foreign_origin_on_a_post_is_403_and_reaches_nobody(web, upstream, connect, origin):
    response = connect(web.port).exchange("POST", "/api/echo", body=b"transfer", headers=[("Origin", origin)])
    assert_loopgate_error(response, 403, f'Origin "{origin}"')
    assert_upstream_saw_nothing(upstream)


def test_own_and_listed_origins_may_post(start_web, upstream, connect):
    web = start_web(allowed_origins=["http://localhost:5173"])
    for origin in (f"http://127.0.0.1:{web.port}", f"http://localhost:{web.port}", "http://localhost:5173"):
        response = connect(web.port).exchange("POST", "/api/echo", body=b"hi", headers=[("Origin", origin)])
        assert (response.status, response.body) == (200, b"hi"), origin
    assert [r.header("origin") for r in upstream.recorded()] == [
        f"http://127.0.0.1:{web.port}", f"http://localhost:{web.port}", "http://localhost:5173"]


FETCH_METADATA = [
    pytest.param("cross-site", "cors", "GET", 403, id="cross_site_fetch_is_403"),
    pytest.param("cross-site", "no-cors", "GET", 403, id="cross_site_script_or_img_is_403"),
    pytest.param("same-site", "no-cors", "GET", 403, id="same_site_other_port_img_is_403"),
    pytest.param("same-site", "cors", "POST", 403, id="same_site_post_without_origin_is_403"),
    pytest.param("cross-site", "navigate", "GET", 200, id="cross_site_navigation_passes"),
    pytest.param("same-site", "navigate", "GET", 200, id="same_site_navigation_passes"),
    pytest.param("same-origin", "cors", "GET", 200, id="same_origin_fetch_passes"),
    pytest.param("none", "navigate", "GET", 200, id="typed_url_passes"),
]


@pytest.mark.parametrize("site, mode, method, status", FETCH_METADATA)
def test_fetch_metadata_isolates_the_listener_from_other_sites(web, upstream, connect, site, mode, method, status):
    headers = [("Sec-Fetch-Site", site), ("Sec-Fetch-Mode", mode),
               ("Sec-Fetch-Dest", "document" if mode == "navigate" else "empty")]
    response = connect(web.port).exchange(method, "/api/echo", headers=headers,
                                          body=b"x" if method == "POST" else None)
    if status == 403:
        assert_loopgate_error(response, 403, "Sec-Fetch-Site")
        assert_upstream_saw_nothing(upstream)
    else:
        assert response.status == 200, response
        assert len(upstream.recorded("/api/echo")) == 1


def test_websocket_from_the_listeners_own_origin_needs_no_allowed_origins_and_a_foreign_one_is_403(web, upstream):
    port = web.port
    for origin in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        ws = wsraw.open_ws(port, "/ws", headers=[("Origin", origin)])
        ws.send(wsraw.frame(TEXT, origin))
        assert ws.expect_frame(TEXT, origin)
        ws.close()
    status, _, body = wsraw.exchange(port, wsraw.upgrade_request("/ws", host=f"127.0.0.1:{port}", headers=[
        ("Origin", "http://127.0.0.1:5173")]))
    assert status == 403
    assert 'Origin "http://127.0.0.1:5173" is not allowed' in body
    assert [r.header("origin") for r in upstream.recorded("/ws")] == [f"http://127.0.0.1:{port}",
                                                                      f"http://localhost:{port}"]
