"""Limits, each with its own answer: too many connections (per route and over all routes)
get 503 with Retry-After before any upgrade; a request dribbled a byte a second gets 408
and its connection is closed; a session with no frames either way for timeouts.idle_ms is
closed with 1001 "idle" on both sides."""

import socket
import threading
import time

import pytest

import wsraw
from conftest import parse_logfmt, route_for, port_of
from recording_upstream import RecordingUpstream

BINARY, CLOSE = 0x2, 0x8



def assert_echoes(conn, size=10_000):
    payload = bytes(range(256)) * (size // 256)
    conn.send(wsraw.frame(BINARY, payload))
    assert conn.expect_frame(BINARY, payload)


def try_upgrade(port, path="/echo"):
    """Connects and asks for an upgrade: (status, headers, body, conn) — conn still open on a 101."""
    conn = wsraw.connect(port, timeout=10)
    conn.send(wsraw.upgrade_request(path))
    status, headers, _ = conn.read_head()
    if status == 101:
        return status, headers, "", conn
    body = conn.read_exact(int(headers.get("content-length", "0"))).decode()
    conn.close()
    return status, headers, body, None


def upgrade_all_at_once(port, count):
    """`count` clients connect and send their requests at the same moment; returns their answers."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def client(i):
        barrier.wait()
        results[i] = try_upgrade(port)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


# ---- connection limits ----

def test_ten_times_the_route_limit_at_once_gets_exactly_the_limit_in_and_503_for_the_rest(start_loopgate, gateway,
                                                                                           certs):
    limit = 5
    loopgate = start_loopgate({"routes": [route_for(gateway, certs, max_connections=limit)]})
    results = upgrade_all_at_once(loopgate.port, 10 * limit)

    admitted = [r for r in results if r[0] == 101]
    refused = [r for r in results if r[0] != 101]
    assert len(admitted) == limit
    assert len(refused) == 9 * limit
    for status, headers, body, _ in refused:
        assert status == 503
        assert headers["retry-after"] == "1"
        assert body == f'loopgate: too many connections: route "gw" already has {limit} (max_connections); ' \
                       "try again later\n"
    for _, _, _, conn in admitted:
        assert_echoes(conn)
    # The refused never reached the gateway.
    assert len(gateway.requests()) == limit
    # Refusal lines are rate-limited (10 per kind a second): each refusal is either logged or
    # counted in a summary line, written with the route's next line once its window has ended.
    # A place freed, then served sessions whose ends write the summaries of ended windows.
    admitted[0][3].close()
    expected = 9 * limit
    deadline = time.monotonic() + 10
    while True:
        logged = [s for s in loopgate.summaries() if s.get("status") == "503" and "max_connections" in s["reason"]]
        summaries = [parse_logfmt(line) for line in loopgate.process.stderr().splitlines()
                     if 'msg="more refusals like this were not logged"' in line]
        if len(logged) + sum(int(s["suppressed"]) for s in summaries) == expected:
            break
        assert time.monotonic() < deadline, (len(logged), summaries, expected)
        time.sleep(0.3)
        status, _, _, conn = try_upgrade(loopgate.port)
        if status == 503:
            expected += 1  # the freed place was not free yet: one more refusal to account for
        if conn is not None:
            conn.close()
    assert summaries and all(s["like"] == "connection closed" and s["status"] == "503" for s in summaries)
    assert 10 <= len(logged) < expected

    deadline = time.monotonic() + 5
    while True:
        status, _, _, conn = try_upgrade(loopgate.port)
        if status == 101 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert status == 101
    assert_echoes(conn)


def test_global_limit_counts_connections_over_all_routes(start_loopgate, gateway, certs):
    loopgate = start_loopgate({"max_connections": 3, "routes": [
        route_for(gateway, certs, name="a"),
        route_for(gateway, certs, name="b"),
    ]})
    a, b = port_of(loopgate, "a"), port_of(loopgate, "b")
    held = [try_upgrade(a)[3], try_upgrade(a)[3], try_upgrade(b)[3]]
    assert all(conn is not None for conn in held)
    for port in (a, b):
        status, headers, body, _ = try_upgrade(port)
        assert (status, headers["retry-after"]) == (503, "1")
        assert "loopgate already has 3 over all routes (top-level max_connections)" in body
    for conn in held:
        assert_echoes(conn)


# ---- slow requests ----

def test_request_dribbled_a_byte_a_second_gets_408_and_its_connection_is_closed(start_loopgate, gateway, certs):
    request_ms, close_ms = 1500, 500
    loopgate = start_loopgate({"routes": [route_for(gateway, certs,
                                                    timeouts={"request_ms": request_ms, "close_ms": close_ms})]})
    healthy = wsraw.open_ws(loopgate.port, "/echo")
    conn = wsraw.connect(loopgate.port)
    request = wsraw.upgrade_request("/echo")
    stop = threading.Event()
    started = time.monotonic()

    def dribble():
        for i, byte in enumerate(request):
            if stop.wait(0 if i == 0 else 1.0):
                return
            conn.sock.send(bytes([byte]))

    dribbler = threading.Thread(target=dribble, daemon=True)
    dribbler.start()
    status, _, body = conn.read_response(timeout=5)
    answered = time.monotonic() - started
    assert status == 408
    assert body == f"loopgate: the request was not complete within {request_ms} ms\n"
    assert request_ms / 1000 * 0.9 <= answered < request_ms / 1000 + 1
    assert conn.read_until_eof(timeout=3) == b""
    stop.set()
    dribbler.join(timeout=3)
    # Closed within close_ms, not only half-closed: a byte sent then is answered with a
    # reset, and the send after it fails.
    time.sleep(max(0.0, answered + close_ms / 1000 + 0.3 - (time.monotonic() - started)))
    with pytest.raises(OSError):
        conn.sock.send(b"x")
        time.sleep(0.2)
        conn.sock.send(b"x")
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed(count=1)]
    assert (summary["status"], summary["path"]) == ("408", "-")
    assert len(gateway.requests()) == 1
    assert_echoes(healthy)


# ---- idle sessions ----


def test_session_without_frames_for_idle_ms_is_closed_1001_idle_on_both_sides(start_loopgate, recorder):
    idle_ms = 400
    # loopgate's own pings (every 100 ms) and their pongs must not count as frames.
    loopgate = start_loopgate({"routes": [recorder.route(timeouts={"idle_ms": idle_ms},
                                                         liveness={"ping_interval_ms": 100})]})
    conn = wsraw.open_ws(loopgate.port, "/echo")
    assert_echoes(conn)
    quiet_since = time.monotonic()
    assert conn.read_close(timeout=5) == (1001, "idle")
    waited = time.monotonic() - quiet_since
    assert idle_ms / 1000 * 0.9 <= waited < idle_ms / 1000 + 1
    [upstream] = recorder.wait_connections(1)
    assert upstream.wait_close_frame() == (1001, "idle")
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1001)))
    assert conn.read_until_eof() == b""
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed(count=1)]
    assert (summary["close_code"], summary["close_reason"], summary["closed_by"]) == ("1001", "idle", "loopgate")


def test_session_with_frames_more_often_than_idle_ms_stays_open(start_loopgate, recorder):
    idle_ms = 400
    loopgate = start_loopgate({"routes": [recorder.route(timeouts={"idle_ms": idle_ms})]})
    conn = wsraw.open_ws(loopgate.port, "/echo")
    ends = time.monotonic() + 3 * idle_ms / 1000
    while time.monotonic() < ends:
        assert_echoes(conn, size=100)
        time.sleep(idle_ms / 1000 / 4)
    assert loopgate.summary_lines() == []
    conn.sock.settimeout(0.1)
    with pytest.raises(socket.timeout):
        conn.sock.recv(1)  # nothing pending: no close frame came
