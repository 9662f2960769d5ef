"""Malformed and unwanted app requests, sent over raw sockets: each gets loopgate's own
HTTP refusal with the right status and a reason a person can act on, the same reason is
logged, nothing reaches the upstream, and a session that was already open is unharmed."""

import re
import socket
import time
import urllib.request

import pytest

import wsraw
from conftest import free_port, parse_logfmt, route_for

MAX_HEADER_BYTES = 2048
MAX_MESSAGE_BYTES = 1024
REQUEST_MS = 500


@pytest.fixture
def guarded(start_loopgate, gateway, certs):
    """loopgate with tight limits, plus one healthy session opened before any bad request. A
    WebSocket-only route ("http": false): a request without "Upgrade: websocket" is refused
    here, not forwarded (test_http_forward.py covers the forwarding)."""
    route = route_for(gateway, certs, http=False,
                      limits={"max_request_header_bytes": MAX_HEADER_BYTES, "max_message_bytes": MAX_MESSAGE_BYTES},
                      timeouts={"request_ms": REQUEST_MS})
    loopgate = start_loopgate({"routes": [route]})
    loopgate.gateway = gateway
    loopgate.healthy = wsraw.open_ws(loopgate.port, "/echo")
    assert_echoes(loopgate.healthy)
    yield loopgate
    loopgate.healthy.close()


def assert_echoes(conn):
    binary = bytes(range(256)) * 2  # every byte value, twice
    text = "grüße, 世界 🙂".encode()
    conn.send(wsraw.frame(0x2, binary))
    conn.send(wsraw.frame(0x1, text))
    assert conn.expect_frame(0x2, binary)
    assert conn.expect_frame(0x1, text)


def request_lines(**changes):
    """An upgrade request as a list of lines, with some lines replaced or dropped (None)."""
    lines = {
        "request": "GET /echo HTTP/1.1",
        "host": "Host: 127.0.0.1",
        "upgrade": "Upgrade: websocket",
        "connection": "Connection: Upgrade",
        "key": f"Sec-WebSocket-Key: {wsraw.make_key()}",
        "version": "Sec-WebSocket-Version: 13",
    }
    lines.update(changes)
    return [line for line in lines.values() if line is not None]


def as_request(lines):
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def refusal_summary(loopgate, status):
    lines = loopgate.wait_closed(count=1)
    refused = [line for line in lines if f"status={status} " in line]
    assert len(refused) == 1, lines
    return refused[0]


def assert_refused_cleanly(loopgate, response, status, words, headers=None):
    got_status, got_headers, body = response
    assert got_status == status, body
    assert got_headers["content-type"].startswith("text/plain")
    assert body.startswith("loopgate: ")
    for name, value in (headers or {}).items():
        assert got_headers.get(name.lower()) == value, got_headers
    log_line = refusal_summary(loopgate, status)
    for word in words:
        assert word in body, f"{word!r} not in body {body!r}"
        assert word in log_line, f"{word!r} not in log line {log_line!r}"
    # Only the healthy session's request ever reached the gateway.
    assert len(loopgate.gateway.requests()) == 1, loopgate.gateway.requests()
    assert_echoes(loopgate.healthy)


SIMPLE_REFUSALS = [
    pytest.param(
        as_request(request_lines(upgrade=None, connection=None, key=None, version=None)),
        426, ["only accepts WebSocket upgrades"], {"Upgrade": "websocket"},
        id="plain_get_without_upgrade_is_426"),
    pytest.param(
        as_request(request_lines(request="POST /echo HTTP/1.1")),
        400, ["must use GET, not POST"], {},
        id="post_upgrade_is_400"),
    pytest.param(
        as_request(request_lines(key=None)),
        400, ["missing Sec-WebSocket-Key"], {},
        id="missing_websocket_key_is_400"),
    pytest.param(
        as_request(request_lines(key="Sec-WebSocket-Key: not-a-key")),
        400, ["Sec-WebSocket-Key must be 16 bytes in base64"], {},
        id="bad_websocket_key_is_400"),
    pytest.param(
        as_request(request_lines(version="Sec-WebSocket-Version: 8")),
        426, ["unsupported WebSocket version", "version 13"], {"Sec-WebSocket-Version": "13"},
        id="websocket_version_8_is_426_naming_13"),
    pytest.param(
        as_request(request_lines(request="GET /echo HTTP/1.0")),
        400, ["needs HTTP/1.1"], {},
        id="http_1_0_is_400"),
    pytest.param(
        # What a TLS client sends when pointed at the plain port by mistake.
        bytes.fromhex("16030100a5010000a10303") + bytes(range(32)) + b"\r\n\r\n",
        400, ["malformed HTTP"], {},
        id="garbage_bytes_are_400"),
    pytest.param(
        as_request(request_lines() + ["X-Padding: " + "p" * (MAX_HEADER_BYTES + 100)]),
        431, [f"larger than {MAX_HEADER_BYTES} bytes"], {},
        id="headers_over_the_limit_are_431"),
    pytest.param(
        # Still being sent when loopgate answers: the 431 must not be lost to a reset.
        as_request(request_lines() + ["X-Padding: " + "p" * (64 * MAX_HEADER_BYTES)]),
        431, [f"larger than {MAX_HEADER_BYTES} bytes"], {},
        id="headers_far_over_the_limit_are_431"),
]


@pytest.mark.parametrize("request_bytes, status, words, headers", SIMPLE_REFUSALS)
def test_bad_request_is_refused_without_touching_upstream(guarded, request_bytes, status, words, headers):
    response = wsraw.exchange(guarded.port, request_bytes, timeout=5)
    assert_refused_cleanly(guarded, response, status, words, headers)


def test_request_never_completed_is_408_after_request_ms(guarded):
    conn = wsraw.connect(guarded.port)
    full = as_request(request_lines())
    started = time.monotonic()
    conn.send(full[: len(full) // 2])
    response = conn.read_response(timeout=5)
    seconds = time.monotonic() - started
    conn.close()
    assert_refused_cleanly(guarded, response, 408, [f"not complete within {REQUEST_MS} ms"])
    assert REQUEST_MS / 1000 * 0.9 <= seconds < 3, f"answered after {seconds:.2f} s"


OVERSIZED_MESSAGES = [
    pytest.param([wsraw.frame(0x2, b"x" * 2000)], id="one_frame"),
    pytest.param([wsraw.frame(0x2, b"x" * 700, fin=False), wsraw.frame(0x0, b"x" * 700)], id="two_fragments"),
]


@pytest.mark.parametrize("frames", OVERSIZED_MESSAGES)
def test_message_over_max_message_bytes_closes_the_app_with_1009(guarded, frames):
    conn = wsraw.open_ws(guarded.port, "/echo")
    conn.send(b"".join(frames))
    code, reason = conn.read_close(timeout=5)
    conn.close()
    assert code == 1009, reason
    assert f"larger than the limit of {MAX_MESSAGE_BYTES} bytes" in reason
    lines = guarded.wait_closed(count=1)
    assert len(lines) == 1, lines
    for word in ("close_code=1009", f"larger than the limit of {MAX_MESSAGE_BYTES} bytes", "closed_by=loopgate"):
        assert word in lines[0], lines[0]
    assert_echoes(guarded.healthy)


def test_upstream_message_over_max_message_bytes_closes_the_app_with_1009(guarded):
    conn = wsraw.open_ws(guarded.port, f"/source/{2 * MAX_MESSAGE_BYTES}")
    code, reason = conn.read_close(timeout=5)
    conn.close()
    assert code == 1009, reason
    assert f"upstream protocol error: message larger than the limit of {MAX_MESSAGE_BYTES} bytes" == reason
    lines = guarded.wait_closed(count=1)
    assert len(lines) == 1 and "close_code=1009" in lines[0], lines
    assert_echoes(guarded.healthy)


def send_and_read_to_close(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(request)
        while conn.recv(65536):
            pass


def test_a_flood_of_bad_requests_logs_a_bounded_number_of_lines_and_metrics_count_every_one(
        start_loopgate, gateway, certs):
    """A flood of one kind of refusal: at most 10 lines a second (proxy/refusal_log.hpp), then one
    line saying how many were left out once the second is over; /metrics counts every refusal."""
    admin_port = free_port()
    loopgate = start_loopgate({"routes": [route_for(gateway, certs, http=False)],
                               "admin": {"listen": f"127.0.0.1:{admin_port}"}})
    loopgate.process.wait_for(r'msg="admin endpoint listening"')
    bad = as_request(request_lines(key=None))
    flood = 500
    for _ in range(flood):
        send_and_read_to_close(loopgate.port, bad)
    # The last window the flood opened ends 1 s after it began (loopgate's monotonic clock), and
    # its summary is written with the next refusal (no timer writes it): every refusal of the
    # flood is then either a line or counted in a summary.
    time.sleep(1.1)
    send_and_read_to_close(loopgate.port, bad)
    sent = flood + 1
    deadline = time.monotonic() + 10
    while True:
        lines = [parse_logfmt(line) for line in loopgate.log().splitlines()]
        refused = [f for f in lines if f.get("msg") == "connection closed" and f.get("status") == "400"]
        summaries = [f for f in lines if f.get("msg") == "more refusals like this were not logged"]
        suppressed = sum(int(f["suppressed"]) for f in summaries)
        if len(refused) + suppressed == sent:
            break
        assert time.monotonic() < deadline, (len(refused), suppressed, sent)
        time.sleep(0.05)
    assert summaries and all(f["reason"] == "missing Sec-WebSocket-Key header" and f["like"] == "connection closed"
                             for f in summaries)
    # At most 10 lines a window: every window of the flood that had more left a summary, and the
    # flood's last window and the one after it may have none.
    assert len(refused) <= 10 * (len(summaries) + 2), (len(refused), len(summaries))
    assert suppressed >= flood // 2, suppressed  # the flood comes far faster than 10 a second
    deadline = time.monotonic() + 10
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as response:
            metrics = response.read().decode()
        counted = re.search(r'^loopgate_upgrades_refused_total\{route="gw"\} (\d+)$', metrics, re.MULTILINE)
        if counted and int(counted.group(1)) == sent:
            break
        assert time.monotonic() < deadline, (sent, counted and counted.group(0))
        time.sleep(0.05)
