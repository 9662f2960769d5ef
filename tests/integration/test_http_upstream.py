"""The HTTP test upstream's own promises (http_upstream.py), without loopgate: a client
talking straight to it over verified TLS. If these fail, a failure in test_http_forward.py
says nothing about loopgate."""

import hashlib
import json
import os
import shutil
import ssl
import time

import pytest

import wsraw
from http_upstream import HttpUpstream, pattern
from httpraw import HttpConn, tls_client_context


@pytest.fixture
def upstream(certs):
    server = HttpUpstream(certs / "server.pem", certs / "server.key")
    yield server
    server.stop()


@pytest.fixture
def connect(upstream, certs):
    opened = []
    context = tls_client_context(certs / "ca.pem")

    def open_one():
        conn = HttpConn(upstream.port, tls=context, server_hostname="localhost")
        conn.authority = f"localhost:{upstream.port}"
        opened.append(conn)
        return conn

    yield open_one
    for conn in opened:
        conn.close()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def test_page_and_its_parts_on_one_keep_alive_connection(upstream, connect):
    conn = connect()
    for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css"),
                       ("/api/json", "application/json")):
        response = conn.exchange("GET", path)
        assert response.status == 200, response
        assert response.get("content-type").startswith(kind)
    assert b'<script src="/app.js">' in conn.exchange("GET", "/").body
    assert json.loads(conn.exchange("GET", "/api/json").body)["ok"] is True
    assert upstream.accepted == 1
    assert {r.connection for r in upstream.recorded()} == {1}


@pytest.mark.parametrize("size", [0, 1, 1 << 20])
def test_echo_by_length_and_chunked_with_trailer(upstream, connect, size):
    body = os.urandom(size)
    conn = connect()
    response = conn.exchange("POST", "/api/echo", body=body)
    assert (response.status, response.framing) == (200, "length")
    assert response.body == body and response.get("x-body-sha256") == sha(body)
    chunks = [body[i:i + 7000] for i in range(0, size, 7000)]
    response = conn.exchange("PUT", "/chunked-echo", chunks=chunks, trailers=[("X-Client-Trailer", "yes")])
    assert (response.status, response.framing) == (200, "chunked")
    assert response.body == body
    assert response.trailers == [("X-Body-Sha256", sha(body))]
    echo, chunked = upstream.recorded()
    assert (echo.method, echo.body_length, echo.body_sha256, echo.chunked) == ("POST", size, sha(body), False)
    assert (chunked.method, chunked.body_sha256, chunked.chunked) == ("PUT", sha(body), True)
    assert chunked.trailers == [("X-Client-Trailer", "yes")]


@pytest.mark.parametrize("chunked", ["0", "1"])
def test_bytes_are_the_pattern_and_head_sends_no_body(upstream, connect, chunked):
    conn = connect()
    response = conn.exchange("GET", f"/bytes?n=300000&chunked={chunked}")
    assert response.body == pattern(300000)
    assert response.framing == ("chunked" if chunked == "1" else "length")
    head = conn.exchange("HEAD", f"/bytes?n=300000&chunked={chunked}")
    assert head.body == b"" and head.get("content-type") == response.get("content-type")
    if chunked == "0":
        assert head.get("content-length") == "300000"
    assert conn.exchange("GET", "/api/json").status == 200  # nothing of a body was left on the wire


def test_events_hold_the_second_event_until_released(upstream, connect):
    conn = connect()
    conn.request("GET", "/events")
    response, reader = conn.start_response()
    assert response.get("content-type") == "text/event-stream"
    assert reader.read_some(5) == b"data: first\n\n"
    assert not upstream.events_ended.is_set()
    upstream.events_release.set()
    assert reader.read_all(5) == b"data: second\n\n"
    upstream.events_ended.wait(5)


def test_expect_100_continue_is_answered_before_the_body(upstream, connect):
    conn = connect()
    conn.send(b"POST /api/echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
    interim = conn.read_head(5)
    assert interim.status == 100
    conn.send(b"hello")
    response = conn.read_response()
    assert (response.status, response.body) == (200, b"hello")
    assert upstream.recorded()[0].sent_continue


def test_early_hints_come_before_the_final_response(connect):
    response = connect().exchange("GET", "/early-hints")
    assert [r.status for r in response.informational] == [103]
    assert response.informational[0].get("link").startswith("</style.css>")
    assert (response.status, response.body) == (200, b"hinted")


def test_fixed_answers(upstream, connect):
    conn = connect()
    redirect = conn.exchange("GET", "/redirect")
    assert (redirect.status, redirect.get("location")) == (302, f"https://localhost:{upstream.port}/landing")
    assert conn.exchange("GET", "/redirect-relative").get("location") == "/landing"
    assert conn.exchange("GET", "/content-location").get("content-location") == \
        f"https://localhost:{upstream.port}/api/json"
    assert conn.exchange("GET", "/cookie").get_all("set-cookie") == [
        "sid=1; Domain=localhost; Path=/; HttpOnly", "theme=dark; Path=/"]
    seen = json.loads(conn.exchange("GET", "/headers", headers=[("X-Test", "1")]).body)
    assert ["X-Test", "1"] in seen["headers"] and seen["method"] == "GET"
    assert conn.exchange("GET", "/hop-response").get("x-hop-secret") == "1"
    assert conn.exchange("GET", "/status/418").status == 418
    started = time.monotonic()
    assert conn.exchange("GET", "/slow-head?ms=300").body == b"slow"
    assert time.monotonic() - started >= 0.29
    closing = conn.exchange("GET", "/close-after")
    assert closing.status == 200 and "close" in closing.connection_tokens()
    assert conn.wait_eof()


def test_websocket_echo(upstream, connect):
    conn = connect()
    conn.send(wsraw.upgrade_request("/ws", host=f"localhost:{upstream.port}"))
    assert conn.read_head().status == 101
    ws = wsraw.Conn(conn.sock)
    ws.buf = bytes(conn.buf)
    ws.send(wsraw.frame(0x1, "hi there"))
    assert ws.expect_frame(0x1, "hi there")
    ws.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
    assert ws.read_close() == (1000, "")


def test_drop_idle_connections_closes_them_without_a_word(upstream, connect):
    conn = connect()
    assert conn.exchange("GET", "/api/json").status == 200
    assert upstream.drop_idle_connections(expect=1) == 1
    assert conn.wait_eof()


def test_a_doomed_connection_closes_when_the_next_request_arrives_and_records_nothing(upstream, connect):
    conn = connect()
    assert conn.exchange("GET", "/api/json").status == 200
    assert upstream.doom_idle_connections(expect=1) == 1
    conn.request("POST", "/api/echo", body=b"once")
    with pytest.raises((EOFError, ConnectionResetError, ssl.SSLError)):
        conn.read_response(timeout=5)
    assert [r.path for r in upstream.recorded()] == ["/api/json"]
    second = connect()
    assert second.exchange("GET", "/api/json").status == 200
    assert upstream.accepted == 2


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (tools/install-deps.sh does it)")
def test_the_page_itself_works_in_chromium_served_plain():
    """The page, its script, the event stream and the WebSocket are right on their own, so a
    failure through loopgate is loopgate's. (Plain HTTP: nothing but loopgate may stand between
    a browser and this page's origin for the ws:// URL the script builds.)"""
    from test_http_forward import open_in_chromium
    server = HttpUpstream(None, None)
    try:
        outcome = open_in_chromium(f"http://127.0.0.1:{server.port}/")
    finally:
        server.stop()
    assert outcome == "json:ok post:ok sse:ok ws:ok css:ok"
    assert server.outcome == outcome


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (tools/install-deps.sh does it)")
def test_the_foreign_page_really_sends_its_requests_to_the_target():
    """The foreign-origin page of test_http_forward.py aims its API calls, event stream and
    WebSocket at the target: here at this upstream, which has no CORS headers (so the browser
    hides the answers from the script) and no Origin check (so the WebSocket works)."""
    from test_http_forward import ForeignPage, open_in_chromium
    server = HttpUpstream(None, None)
    page = ForeignPage(target_base=f"http://127.0.0.1:{server.port}")
    try:
        outcome = open_in_chromium(f"http://127.0.0.1:{page.port}/")
    finally:
        page.stop()
        server.stop()
    assert outcome == "json:error post:error sse:error ws:ok css:ok"
    assert {"/api/json", "/api/echo", "/events", "/ws"} <= {r.path for r in server.recorded()}
    [post] = server.recorded("/api/echo")
    assert post.header("origin") == f"http://127.0.0.1:{page.port}"
    assert post.header("sec-fetch-site") == "same-site"
