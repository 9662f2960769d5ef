"""SIGTERM: loopgate closes every open session with 1001, stops accepting, waits (bounded
by shutdown_timeout_ms) for the close handshakes, and exits 0."""

import signal
import socket
import time

import pytest

from conftest import route_for
import wsraw

CLOSE = 0x8
GOING_AWAY = wsraw.close_payload(1001, "loopgate is shutting down")


def start_with_shutdown_timeout(start_loopgate, gateway, certs, timeout_ms):
    instance = start_loopgate({"routes": [route_for(gateway, certs)], "shutdown_timeout_ms": timeout_ms})
    instance.gateway = gateway
    return instance


def open_echo_session(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/echo")
    conn.send(wsraw.frame(0x1, "up"))
    assert conn.expect_frame(0x1, b"up")  # relaying, not still in the handshake
    return conn


def answer_close_and_hang_up(app):
    """What a well-behaved client does: echo the close, wait for the server's FIN, close."""
    app.send(wsraw.frame(CLOSE, wsraw.close_payload(1001)))
    assert app.read_until_eof() == b""
    app.close()


def test_sigterm_closes_open_sessions_with_1001_and_exits_0(start_loopgate, gateway, certs):
    loopgate = start_with_shutdown_timeout(start_loopgate, gateway, certs, 5000)
    apps = [open_echo_session(loopgate), open_echo_session(loopgate)]
    loopgate.process.signal(signal.SIGTERM)
    for app in apps:
        assert app.read_frame() == (True, CLOSE, GOING_AWAY)
        answer_close_and_hang_up(app)
    assert loopgate.process.wait(timeout=5.0) == 0
    log = loopgate.log()
    assert 'msg="shutting down"' in log and "sessions=2" in log
    assert "msg=stopped" in log
    assert "shutdown timeout" not in log  # both sessions ended by their handshakes
    assert [(s["close_code"], s["closed_by"]) for s in loopgate.summaries()] == [("1001", "loopgate")] * 2


def test_sigterm_without_sessions_exits_0_at_once(start_loopgate, gateway, certs):
    loopgate = start_with_shutdown_timeout(start_loopgate, gateway, certs, 30000)
    started = time.monotonic()
    loopgate.process.signal(signal.SIGTERM)
    assert loopgate.process.wait(timeout=5.0) == 0
    assert time.monotonic() - started < 2.0, "nothing to drain, yet it waited"
    assert "msg=stopped" in loopgate.log()


def test_connection_attempt_while_draining_is_refused(start_loopgate, gateway, certs):
    loopgate = start_with_shutdown_timeout(start_loopgate, gateway, certs, 5000)
    app = open_echo_session(loopgate)
    loopgate.process.signal(signal.SIGTERM)
    # loopgate closes its listening socket before it tells sessions to close, so once the
    # 1001 is here the port is closed while this session still holds the process up.
    assert app.read_frame() == (True, CLOSE, GOING_AWAY)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", loopgate.port), timeout=2.0).close()
    assert loopgate.process.proc.poll() is None, "loopgate should still be draining"
    answer_close_and_hang_up(app)
    assert loopgate.process.wait(timeout=5.0) == 0


def test_sigterm_cuts_sessions_that_never_answer_at_the_shutdown_timeout(start_loopgate, gateway, certs):
    loopgate = start_with_shutdown_timeout(start_loopgate, gateway, certs, 300)
    app = open_echo_session(loopgate)
    started = time.monotonic()
    loopgate.process.signal(signal.SIGTERM)
    assert app.read_frame() == (True, CLOSE, GOING_AWAY)
    # The app never answers; without the shutdown timeout loopgate would wait out close_ms (5 s).
    assert loopgate.process.wait(timeout=5.0) == 0
    assert time.monotonic() - started < 3.0
    assert app.read_until_eof() == b""
    assert "shutdown timeout" in loopgate.log()


def test_sigterm_exits_within_shutdown_timeout_when_an_app_keeps_its_socket_open(start_loopgate, gateway, certs):
    route = route_for(gateway, certs, timeouts={"close_ms": 3000})
    loopgate = start_loopgate({"routes": [route], "shutdown_timeout_ms": 200})
    app = open_echo_session(loopgate)
    loopgate.process.signal(signal.SIGTERM)
    assert app.read_frame() == (True, CLOSE, GOING_AWAY)
    app.send(wsraw.frame(CLOSE, wsraw.close_payload(1001)))
    assert app.read_until_eof() == b""
    # The app has not closed its end yet (it may be busy, suspended, or slow): that must not
    # keep loopgate running past the shutdown timeout it was configured with.
    try:
        assert loopgate.process.wait(timeout=1.5) == 0
    finally:
        app.close()
