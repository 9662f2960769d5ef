"""Recovery keeps its promise: a held app goes through as soon as the gateway is back; an app
that gives up while held frees its place at once; loopgate running out of its own descriptors
is loopgate's 503, not an upstream outage. All on loopback, against the real test gateway,
killed with SIGKILL (no close frame, no goodbye) and restarted on the same port."""

import os
import socket
import time

import pytest

import wsraw
from conftest import route_for

BINARY, CLOSE = 0x2, 0x8


def recovery_config(gateway, certs, **reconnect):
    route = route_for(gateway, certs, connect_to="127.0.0.1",
                      liveness={"ping_interval_ms": 0},
                      reconnect={"hold_ms": 10000, **reconnect})
    return {"routes": [route], "shutdown_timeout_ms": 1000}


def echoes(conn, payload):
    conn.send(wsraw.frame(BINARY, payload))
    return conn.expect_frame(BINARY, payload)


def lose_gateway_under_a_session(loopgate, gateway):
    """Opens a session, kills the gateway under it: the app gets 1012, loopgate marks the route down."""
    conn = wsraw.open_ws(loopgate.port, "/echo")
    assert echoes(conn, b"before the kill")
    gateway.process.proc.kill()
    gateway.process.wait()
    assert conn.read_close() == (1012, "upstream connection lost")
    conn.close()
    loopgate.process.wait_for(r'msg="upstream down"')


def assert_held(conn, seconds):
    conn.sock.settimeout(seconds)
    try:
        data = conn.sock.recv(4096)
    except socket.timeout:
        return
    raise AssertionError(f"expected the app to be held, got {data[:300]!r}")


def test_app_connecting_right_after_the_gateway_restarts_is_served_at_once_whatever_the_backoff(
        start_loopgate, start_gateway, certs):
    gateway = start_gateway()
    # A backoff this long means loopgate's own next retry is, almost surely, minutes away:
    # only the held app itself can bring it forward.
    loopgate = start_loopgate(recovery_config(gateway, certs, hold_ms=3000,
                                              backoff_initial_ms=600000, backoff_max_ms=600000))
    lose_gateway_under_a_session(loopgate, gateway)
    restarted = start_gateway(listen=f"127.0.0.1:{gateway.port}")

    started = time.monotonic()
    conn = wsraw.connect(loopgate.port, timeout=10)
    conn.send(wsraw.upgrade_request("/echo"))
    status, _, line = conn.read_head(timeout=10)
    assert status == 101, f"the gateway was listening, yet the held app got {line!r}"
    assert time.monotonic() - started < 2.0, "served only when loopgate's own backoff ran out"
    assert echoes(conn, b"after the restart")
    assert len(restarted.requests()) == 1


def test_held_app_is_served_within_backoff_initial_ms_of_the_gateways_return_after_failed_retries(
        start_loopgate, start_gateway, certs):
    gateway = start_gateway()
    loopgate = start_loopgate({**recovery_config(gateway, certs, hold_ms=20000, backoff_initial_ms=200,
                                                 backoff_max_ms=600000), "log": {"level": "debug"}})
    lose_gateway_under_a_session(loopgate, gateway)
    conn = wsraw.connect(loopgate.port, timeout=10)
    conn.send(wsraw.upgrade_request("/echo"))
    # While it waits, retries keep coming every ~200 ms instead of backing off (8 backoff
    # steps would take 200 ms x (2^8 - 1) / 2 = 25 s on average), and it is held all along.
    loopgate.process.wait_for(r'msg="upstream retry failed"', count=8, timeout=6)
    assert_held(conn, 0.3)
    start_gateway(listen=f"127.0.0.1:{gateway.port}")
    back = time.monotonic()
    status, _, line = conn.read_head(timeout=15)
    assert status == 101, line
    assert time.monotonic() - back < 2.0, "retries stopped coming while an app waited"
    assert echoes(conn, b"served")


def test_held_app_that_hangs_up_frees_its_place_at_once(start_loopgate, start_gateway, certs):
    gateway = start_gateway()
    loopgate = start_loopgate(recovery_config(gateway, certs, max_held=1, hold_ms=10000))
    lose_gateway_under_a_session(loopgate, gateway)

    leaving = wsraw.connect(loopgate.port)
    leaving.send(wsraw.upgrade_request("/echo"))
    assert_held(leaving, 0.3)
    leaving.close()
    loopgate.process.wait_for(r'reason="app closed the connection before the upgrade completed"', timeout=2)

    # The one place on the held list is free again: the next app is held, not refused.
    waiting = wsraw.connect(loopgate.port)
    waiting.send(wsraw.upgrade_request("/echo"))
    assert_held(waiting, 0.5)
    start_gateway(listen=f"127.0.0.1:{gateway.port}")
    status, _, line = waiting.read_head(timeout=10)
    assert status == 101, line
    assert echoes(waiting, b"held, then served")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.mark.skipif(os.environ.get("LOOPGATE_SANITIZED") == "1",
                    reason="UBSan checks a virtual call's target by probing memory through a pipe(2), which "
                           "fails at the descriptor limit and makes it report every virtual call as invalid")
def test_running_out_of_descriptors_is_loopgates_503_and_leaves_the_route_up(start_loopgate, gateway, certs):
    limit = 64
    loopgate = start_loopgate(recovery_config(gateway, certs, hold_ms=1500),
                              wrap=["prlimit", f"--nofile={limit}:{limit}"])
    pid = loopgate.process.pid
    session = wsraw.open_ws(loopgate.port, "/echo")  # the route is up
    assert echoes(session, b"up")

    # Apps that connect and say nothing yet: each holds one of loopgate's descriptors.
    idle = []
    deadline = time.monotonic() + 20
    while open_fds(pid) < limit:
        assert time.monotonic() < deadline and len(idle) < limit, f"{open_fds(pid)} fds open, limit {limit}"
        before = open_fds(pid)
        idle.append(wsraw.connect(loopgate.port))
        while open_fds(pid) == before and time.monotonic() < deadline:
            time.sleep(0.005)
    # The last one asks for an upgrade: loopgate has no descriptor left for the upstream.
    last = idle.pop()
    last.send(wsraw.upgrade_request("/echo"))
    status, headers, body = last.read_response(timeout=5)
    assert status == 503, body
    assert headers.get("retry-after") == "1"
    assert "out of resources (too many open files)" in body, body
    loopgate.process.wait_for(r'msg="out of local resources"')
    assert 'msg="upstream down"' not in loopgate.log(), "loopgate took its own limit for an outage"

    # Nothing else broke: the open session still flows, and once descriptors are free a new
    # app is served at once (not held: the route never went down).
    assert echoes(session, b"still flowing")
    for conn in idle[:8]:
        conn.close()
    deadline = time.monotonic() + 5
    while open_fds(pid) > limit - 8:  # loopgate sees each app's FIN and lets its descriptor go
        assert time.monotonic() < deadline, f"{open_fds(pid)} fds still open"
        time.sleep(0.01)
    fresh = wsraw.open_ws(loopgate.port, "/echo")
    assert echoes(fresh, b"served again")
