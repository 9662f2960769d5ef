"""Hostile input, each with its exact answer, while a healthy session on the same loopgate
keeps echoing byte-exact: requests from web pages (Host, Origin), malformed requests, and
every frame RFC 6455 forbids, from either side. Also: no secret an app or the config
carries ever reaches a log line or an error body.

loopgate runs two routes: "gw" in front of the TLS test gateway (it carries the healthy
session) and "rec" in front of a recording upstream, which shows what loopgate sent toward
the upstream — the close it owes the other side when one side breaks the protocol."""

import json
import os
import struct
import subprocess

import pytest

import wsraw
from conftest import LOOPGATE_BIN, parse_logfmt, route_for, port_of
from recording_upstream import RecordingUpstream

TEXT, BINARY, CONTINUATION, CLOSE, PING = 0x1, 0x2, 0x0, 0x8, 0x9
MAX_FRAME_BYTES = 4096
ALLOWED_ORIGIN = "http://localhost:5173"




@pytest.fixture
def guarded(start_loopgate, gateway, certs, recorder):
    config = {"routes": [
        route_for(gateway, certs, allowed_origins=[ALLOWED_ORIGIN]),
        recorder.route(limits={"max_frame_bytes": MAX_FRAME_BYTES}),
    ]}
    loopgate = start_loopgate(config)
    loopgate.gateway = gateway
    loopgate.recorder = recorder
    loopgate.gw_port = port_of(loopgate, "gw")
    loopgate.rec_port = port_of(loopgate, "rec")
    loopgate.healthy = wsraw.open_ws(loopgate.gw_port, "/echo")
    assert_echoes(loopgate.healthy)
    yield loopgate
    loopgate.healthy.close()


def assert_echoes(conn):
    """A binary message of random bytes and a text message come back exactly as sent."""
    binary = os.urandom(70_000)
    text = "grüße, 世界 🙂".encode()
    conn.send(wsraw.frame(BINARY, binary) + wsraw.frame(TEXT, text))
    assert conn.expect_frame(BINARY, binary)
    assert conn.expect_frame(TEXT, text)


# ---- requests: each answered before anything reaches the upstream ----

def request(host="127.0.0.1:{port}", origin=None, extra=(), request_line="GET /echo HTTP/1.1", key=None):
    lines = [request_line]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key or wsraw.make_key()}",
              "Sec-WebSocket-Version: 13"]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    lines += list(extra)
    return "\r\n".join(lines) + "\r\n\r\n"


HOSTILE_REQUESTS = [
    pytest.param(request(host="evil.example"), 403,
                 ['Host "evil.example" is not a name of this listener', "allowed_hosts"],
                 id="host_evil_example_is_403"),
    pytest.param(request(host="evil.example:{port}"), 403,
                 ['Host "evil.example:{port}" is not a name of this listener (127.0.0.1:{port}, localhost:{port})'],
                 id="host_evil_example_with_the_port_is_403"),
    pytest.param(request(host="localhost:1"), 403, ['Host "localhost:1" is not a name of this listener'],
                 id="host_localhost_with_another_port_is_403"),
    pytest.param(request(host="[::1]:{port}"), 403, ['Host "[::1]:{port}" is not a name'],
                 id="host_ipv6_loopback_not_listened_on_is_403"),
    pytest.param(request(origin="http://127.0.0.1:5173"), 403,
                 ['Origin "http://127.0.0.1:5173" is not allowed', "add http://127.0.0.1:5173 to the route's "
                  "allowed_origins"],
                 id="origin_not_listed_is_403"),
    pytest.param(request(origin="https://localhost:5173"), 403, ['Origin "https://localhost:5173" is not allowed'],
                 id="origin_with_another_scheme_is_403"),
    pytest.param(request(origin="null"), 403, ['Origin "null" is not allowed'], id="origin_null_is_403"),
    pytest.param(request(origin=ALLOWED_ORIGIN, extra=["Origin: http://evil.example"]), 403,
                 ["more than one Origin header"], id="two_origins_are_403"),
    pytest.param(request(host=None), 400, ["exactly one Host header"], id="no_host_is_400"),
    pytest.param(request(extra=["Host: evil.example"]), 400, ["exactly one Host header"], id="two_hosts_are_400"),
    pytest.param(request(request_line="GET http://127.0.0.1/echo HTTP/1.1"), 400,
                 ["the request target must be a path starting with '/'"], id="absolute_form_target_is_400"),
    pytest.param(request(request_line="GET /echo HTTP/1.1", extra=["Transfer-Encoding: chunked"]), 400,
                 ["must not have a body"], id="chunked_body_is_400"),
    pytest.param(request(extra=["X-Broken header without a colon"]), 400, ["malformed HTTP"],
                 id="header_without_colon_is_400"),
    pytest.param(request(extra=["X-Nul: a\0b"]), 400, ["malformed HTTP"], id="nul_in_a_header_is_400"),
    pytest.param(request(request_line="GET /echo HTTP/1.1 extra"), 400, ["malformed HTTP"],
                 id="broken_request_line_is_400"),
    pytest.param(request(extra=[f"X-H{i}: v" for i in range(101)]), 431, ["more than 100 header fields"],
                 id="more_than_100_headers_are_431"),
    pytest.param(request(extra=["X-Padding: " + "p" * 20000]), 431, ["request header block larger than 16384 bytes"],
                 id="headers_over_16_kib_are_431"),
]


@pytest.mark.parametrize("text, status, words", HOSTILE_REQUESTS)
def test_hostile_request_gets_its_exact_answer_and_never_reaches_the_upstream(guarded, text, status, words):
    port = guarded.gw_port
    got_status, headers, body = wsraw.exchange(port, text.replace("{port}", str(port)).encode("latin-1"), timeout=5)
    assert got_status == status, body
    assert headers["connection"] == "close"
    summary = parse_logfmt(guarded.wait_closed(count=1)[0])  # the healthy session is still open
    for word in words:
        word = word.replace("{port}", str(port))
        assert word in body, f"{word!r} not in {body!r}"
        assert word in summary["reason"], summary
    assert summary["status"] == str(status)
    assert len(guarded.gateway.requests()) == 1, guarded.gateway.requests()  # the healthy session's only
    assert_echoes(guarded.healthy)


def test_allowed_origin_and_own_names_are_let_in(guarded):
    for host in (f"127.0.0.1:{guarded.gw_port}", f"localhost:{guarded.gw_port}", "127.0.0.1", "LOCALHOST"):
        conn = wsraw.connect(guarded.gw_port)
        conn.send(request(host=host, origin=ALLOWED_ORIGIN).encode())
        status, _, _ = conn.read_head()
        assert status == 101, host
        assert_echoes(conn)
        conn.close()
    seen = [line for line in guarded.gateway.requests() if f"origin={ALLOWED_ORIGIN}" in line]
    assert len(seen) == 4, "the Origin is forwarded upstream unchanged"


# ---- frames: a close with the exact code toward the offender, a close toward the other side ----

def mask_and_frame(first_byte, length_bytes, payload=b""):
    key = os.urandom(4)
    return bytes([first_byte]) + length_bytes + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


APP_FRAME_ERRORS = [
    pytest.param(wsraw.frame(TEXT, "plain", mask=False), 1002, "client frame is not masked", id="unmasked_frame"),
    pytest.param(wsraw.frame(TEXT, "x", rsv=4), 1002, "reserved bits set without a negotiated extension",
                 id="rsv1_without_extension"),
    pytest.param(wsraw.frame(BINARY, "x", rsv=1), 1002, "reserved bits set without a negotiated extension",
                 id="rsv3_without_extension"),
    pytest.param(wsraw.frame(0x3, "x"), 1002, "unknown opcode 3", id="unknown_data_opcode"),
    pytest.param(wsraw.frame(0xB, "x"), 1002, "unknown opcode 11", id="unknown_control_opcode"),
    pytest.param(wsraw.frame(PING, "p", fin=False), 1002, "fragmented control frame", id="fragmented_ping"),
    pytest.param(wsraw.frame(PING, b"p" * 126), 1002, "control frame payload longer than 125 bytes",
                 id="ping_over_125_bytes"),
    pytest.param(wsraw.frame(CONTINUATION, "x"), 1002, "continuation frame without a message to continue",
                 id="continuation_without_start"),
    pytest.param(wsraw.frame(TEXT, "a", fin=False) + wsraw.frame(TEXT, "b"), 1002,
                 "new data frame inside a fragmented message", id="new_message_inside_fragmented_one"),
    pytest.param(wsraw.frame(CLOSE, wsraw.close_payload(1005)), 1002, "invalid close code 1005",
                 id="close_code_1005_on_the_wire"),
    pytest.param(wsraw.frame(CLOSE, wsraw.close_payload(999)), 1002, "invalid close code 999",
                 id="close_code_999"),
    pytest.param(wsraw.frame(CLOSE, wsraw.close_payload(2999)), 1002, "invalid close code 2999",
                 id="close_code_2999_reserved"),
    pytest.param(wsraw.frame(CLOSE, b"\x03"), 1002, "close frame with a 1-byte payload", id="close_with_one_byte"),
    pytest.param(wsraw.frame(CLOSE, wsraw.close_payload(1000) + b"\xff\xfe"), 1007, "close reason is not valid UTF-8",
                 id="close_reason_not_utf8"),
    pytest.param(mask_and_frame(0x82, b"\xff" + b"\x80" + b"\0" * 7), 1002,
                 "frame length has the most significant bit set", id="length_with_top_bit_set"),
    pytest.param(wsraw.frame(BINARY, b"x" * (MAX_FRAME_BYTES + 1)), 1009,
                 f"frame larger than the limit of {MAX_FRAME_BYTES} bytes", id="frame_over_max_frame_bytes"),
]


@pytest.mark.parametrize("bad, code, reason", APP_FRAME_ERRORS)
def test_invalid_app_frame_closes_both_sides_and_the_healthy_session_keeps_echoing(guarded, bad, code, reason):
    conn = wsraw.open_ws(guarded.rec_port, "/echo")
    conn.send(bad)
    assert conn.read_close(timeout=5) == (code, reason)
    assert conn.read_until_eof(timeout=5) == b""
    conn.close()
    [upstream] = guarded.recorder.wait_connections(1)
    assert upstream.wait_close_frame() == (1001, "app sent an invalid frame")
    assert_logged(guarded, "app", code, reason)
    assert_echoes(guarded.healthy)


def server_bytes(first_byte, payload=b"", mask=False):
    if mask:
        return mask_and_frame(first_byte, bytes([0x80 | len(payload)]), payload)
    return bytes([first_byte, len(payload)]) + payload


UPSTREAM_FRAME_ERRORS = [
    pytest.param(server_bytes(0x81, b"hi", mask=True), 1002, "server frame is masked", id="masked_server_frame"),
    pytest.param(server_bytes(0xC1, b"x"), 1002, "reserved bits set without a negotiated extension",
                 id="server_rsv1_without_extension"),
    pytest.param(server_bytes(0x83, b"x"), 1002, "unknown opcode 3", id="server_unknown_opcode"),
    pytest.param(server_bytes(0x09, b"x"), 1002, "fragmented control frame", id="server_fragmented_ping"),
    pytest.param(server_bytes(0x00, b"x"), 1002, "continuation frame without a message to continue",
                 id="server_continuation_without_start"),
    pytest.param(server_bytes(0x88, struct.pack("!H", 1006)), 1002, "invalid close code 1006",
                 id="server_close_code_1006"),
    pytest.param(bytes([0x82, 126]) + struct.pack("!H", MAX_FRAME_BYTES + 1) + b"x" * (MAX_FRAME_BYTES + 1), 1009,
                 f"frame larger than the limit of {MAX_FRAME_BYTES} bytes", id="server_frame_over_max_frame_bytes"),
]


@pytest.mark.parametrize("bad, code, reason", UPSTREAM_FRAME_ERRORS)
def test_invalid_upstream_frame_closes_both_sides_and_the_healthy_session_keeps_echoing(guarded, bad, code, reason):
    conn = wsraw.open_ws(guarded.rec_port, "/send/" + bad.hex())
    app_code = 1009 if code == 1009 else 1014
    assert conn.read_close(timeout=5) == (app_code, "upstream protocol error: " + reason)
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(app_code)))
    assert conn.read_until_eof(timeout=5) == b""
    conn.close()
    [upstream] = guarded.recorder.wait_connections(1)
    assert upstream.wait_close_frame() == (code, reason)
    assert_logged(guarded, "upstream", code, reason)
    assert_echoes(guarded.healthy)


def assert_logged(loopgate, side, code, reason):
    """A protocol error line naming the side, code and reason, and the summary saying who closed."""
    lines = loopgate.wait_closed(count=1)
    [error] = [parse_logfmt(line) for line in loopgate.log().splitlines() if 'msg="protocol error"' in line]
    assert (error["route"], error["from"], error["close_code"], error["reason"]) == ("rec", side, str(code), reason)
    [summary] = [parse_logfmt(line) for line in lines]
    assert (summary["route"], summary["status"], summary["closed_by"]) == ("rec", "101", "loopgate")
    assert (summary["close_code"], summary["close_reason"]) == (str(code), f"{side}: {reason}")


# ---- secrets stay out of logs and error bodies ----

SECRETS = {
    "Authorization": "Bearer authz-S3CRET-1",
    "Cookie": "sid=cookie-S3CRET-2",
    "Proxy-Authorization": "Basic proxy-S3CRET-3",
    "Sec-WebSocket-Protocol": "bearer.proto-S3CRET-4",
}
QUERY = "?token=query-S3CRET-5&Password=query-S3CRET-6&api_key=query-S3CRET-7&room=lobby"
CONFIG_SECRET = "cfg-S3CRET-8"
EVERY_SECRET = ["authz-S3CRET-1", "cookie-S3CRET-2", "proxy-S3CRET-3", "proto-S3CRET-4", "query-S3CRET-5",
                "query-S3CRET-6", "query-S3CRET-7", CONFIG_SECRET]


def secret_request(path="/headers", origin=None, extra=()):
    lines = [f"GET {path}{QUERY} HTTP/1.1", "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {wsraw.make_key()}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in SECRETS.items()]
    if origin:
        lines.append(f"Origin: {origin}")
    return ("\r\n".join(lines + list(extra)) + "\r\n\r\n").encode()


def test_no_secret_reaches_a_log_line_or_an_error_body(start_loopgate, gateway, certs):
    route = route_for(gateway, certs, upstream_headers={"X-Gateway-Token": CONFIG_SECRET},
                      timeouts={"request_ms": 300})
    loopgate = start_loopgate({"routes": [route]}, args=["--log-level", "debug"])
    bodies = []

    # Relayed: every secret reaches the upstream, none the log.
    conn = wsraw.connect(loopgate.port)
    conn.send(secret_request())
    assert conn.read_head()[0] == 101
    seen = json.loads(conn.read_frame()[2])
    assert seen["target"] == "/headers" + QUERY
    assert seen["headers"]["authorization"] == SECRETS["Authorization"]
    assert seen["headers"]["cookie"] == SECRETS["Cookie"]
    assert seen["headers"]["x-gateway-token"] == CONFIG_SECRET
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
    conn.read_until_eof()
    # Refused by loopgate: Origin, a bad key, headers too large, a request never finished.
    bodies.append(wsraw.exchange(loopgate.port, secret_request(origin="http://evil.example"))[2])
    bodies.append(wsraw.exchange(loopgate.port, secret_request(extra=["Sec-WebSocket-Version: 8"]))[2])
    bodies.append(wsraw.exchange(loopgate.port, secret_request(extra=["X-Pad: " + "p" * 17000]))[2])
    partial = wsraw.connect(loopgate.port)
    partial.send(secret_request()[:-2])
    bodies.append(partial.read_response(timeout=5)[2])
    partial.close()
    # Refused by the upstream and relayed.
    bodies.append(wsraw.exchange(loopgate.port, secret_request(path="/status/401"))[2])

    lines = loopgate.wait_closed(count=6)
    log = loopgate.log()
    for secret in EVERY_SECRET:
        assert secret not in log, f"{secret} leaked into the log"
        for body in bodies:
            assert secret not in body, f"{secret} leaked into an error body: {body!r}"
    # The log still says what happened, with the secrets' places marked.
    paths = [parse_logfmt(line)["path"] for line in lines]
    assert "/headers?token=REDACTED&Password=REDACTED&api_key=REDACTED&room=lobby" in paths
    assert 'Origin \\"http://evil.example\\" is not allowed' in log
    debug = [parse_logfmt(line) for line in log.splitlines() if 'msg="upgrade request"' in line][0]
    for name in SECRETS:
        assert f"{name}: REDACTED" in debug["headers"]


def test_config_with_a_secret_readable_by_others_is_refused_naming_the_key_and_mode(tmp_path):
    config = tmp_path / "loopgate.json"
    config.write_text('{"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gw.test", '
                      f'"upstream_headers": {{"Authorization": "Bearer {CONFIG_SECRET}"}}}}]}}')
    config.chmod(0o644)
    for command in ("check", "run"):
        result = subprocess.run([LOOPGATE_BIN, command, "--config", config], capture_output=True, text=True,
                                timeout=10)
        assert result.returncode == 78
        assert (f"routes[0].upstream_headers.Authorization: holds a secret, but {config} is readable by other "
                f"users (mode 0644); run: chmod 600 {config}") in result.stderr
        assert CONFIG_SECRET not in result.stdout + result.stderr
    config.chmod(0o600)
    result = subprocess.run([LOOPGATE_BIN, "check", "--config", config], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr
