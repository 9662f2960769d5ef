"""The relay seen from a raw WebSocket client: bytes glued to handshakes, fragments,
large frames, close handshakes from either side, upstream loss, protocol errors,
the upgrade request as the upstream receives it, and the per-connection log line.

Each test drives the real loopgate binary in front of the bundled TLS test gateway."""

import json
import os
import re

import pytest

from conftest import parse_logfmt, route_for, port_of
from recording_upstream import RecordingUpstream
import wsraw

TEXT, BINARY, CONTINUATION, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def close_frame(code, reason=""):
    return wsraw.frame(CLOSE, wsraw.close_payload(code, reason))


def first_frame_json(conn):
    fin, opcode, payload = conn.read_frame()
    assert (fin, opcode) == (True, TEXT)
    return json.loads(payload)




def echoes_byte_exact(conn, payload):
    conn.send(wsraw.frame(BINARY, payload))
    return conn.expect_frame(BINARY, payload)


def test_upstream_frame_sent_with_the_101_reaches_the_app_as_its_first_frame(loopgate):
    # The gateway writes the 101 and its connect.challenge event in one write.
    conn = wsraw.open_ws(loopgate.port, "/echo?challenge=1")
    event = first_frame_json(conn)
    assert event["type"] == "event"
    assert event["event"] == "connect.challenge"
    assert re.fullmatch(r"[0-9a-f]{32}", event["payload"]["nonce"])


def test_frame_sent_with_the_upgrade_request_reaches_the_upstream(loopgate):
    connect = b'{"type":"req","method":"connect","params":{"auth":{"token":"t0k3n"}}}'
    conn = wsraw.open_ws(loopgate.port, "/echo", glued=wsraw.frame(TEXT, connect))
    assert conn.expect_frame(TEXT, connect)


def test_fragmented_message_with_ping_between_fragments_echoes_frame_by_frame(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/echo")
    conn.send(wsraw.frame(TEXT, "first half, ", fin=False))
    conn.send(wsraw.frame(PING, "between"))
    conn.send(wsraw.frame(CONTINUATION, "second half"))
    assert conn.read_frame() == (False, TEXT, b"first half, ")
    assert conn.read_frame() == (True, PONG, b"between")
    assert conn.read_frame() == (True, CONTINUATION, b"second half")


def test_20_mib_frame_echoes_byte_exact(loopgate):
    payload = os.urandom(20 << 20)
    conn = wsraw.open_ws(loopgate.port, "/echo")
    # A zero masking key leaves the payload as it is, so building the frame costs nothing.
    sending = conn.send_in_background(wsraw.frame(BINARY, payload, mask_key=b"\0\0\0\0"))
    assert conn.expect_frame(BINARY, payload, timeout=20)
    sending.join(timeout=20)
    assert not sending.is_alive()


# Around a TLS record (16 KiB) and loopgate's write chunks (64 KiB), and one big message.
SWEEP_SIZES = [0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 1 << 20]


def sweep_frames(fragmented):
    """(wire bytes, [(fin, opcode, payload)] the echo must bring back) for every sweep size."""
    wire, echoed = [], []
    for size in SWEEP_SIZES:
        payload = os.urandom(size)
        # A zero masking key leaves the payload as it is: building big frames costs nothing.
        key = b"\0\0\0\0" if size > 100000 else None
        if fragmented and size > 2:
            cuts = [0, size // 3, 2 * size // 3, size]
            for i in range(3):
                piece = payload[cuts[i]:cuts[i + 1]]
                opcode = BINARY if i == 0 else CONTINUATION
                wire.append(wsraw.frame(opcode, piece, fin=i == 2, mask_key=key))
                echoed.append((i == 2, opcode, piece))
        else:
            wire.append(wsraw.frame(BINARY, payload, mask_key=key))
            echoed.append((True, BINARY, payload))
    return wire, echoed


@pytest.mark.parametrize("fragmented", [False, True], ids=["whole", "fragmented"])
def test_messages_around_record_and_chunk_sizes_echo_byte_exact(loopgate, fragmented):
    wire, echoed = sweep_frames(fragmented)
    conn = wsraw.open_ws(loopgate.port, "/echo")
    # One at a time: each frame crosses on its own.
    for frame, (fin, opcode, payload) in zip(wire, echoed):
        conn.send(frame)
        assert conn.expect_frame(opcode, payload, fin=fin, timeout=20)
    # All at once: reads and TLS records split them anywhere.
    sending = conn.send_in_background(b"".join(wire))
    for fin, opcode, payload in echoed:
        assert conn.expect_frame(opcode, payload, fin=fin, timeout=20)
    sending.join(timeout=20)
    assert not sending.is_alive()


def test_upstream_initiated_close_reaches_the_app_and_the_reply_closes_cleanly(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/close/4002")
    assert conn.read_frame() == (True, CLOSE, wsraw.close_payload(4002, "gateway closing"))
    conn.send(close_frame(4002, "gateway closing"))
    assert conn.read_until_eof() == b""
    loopgate.wait_closed()
    summary = loopgate.summaries()[0]
    assert (summary["close_code"], summary["close_reason"], summary["closed_by"]) == \
        ("4002", "gateway closing", "upstream")


def test_upgrade_request_reaches_upstream_with_host_rewritten_and_hop_by_hop_headers_dropped(
        start_loopgate, gateway, certs):
    # A request with an Origin is a browser page's: its origin must be allowed (test_browser.py).
    loopgate = start_loopgate({"routes": [route_for(gateway, certs, allowed_origins=["http://127.0.0.1:5173"])]})
    loopgate.gateway = gateway
    conn = wsraw.open_ws(loopgate.port, "/headers", headers=[
        ("Origin", "http://127.0.0.1:5173"),
        ("X-Loopgate-Test", "kept as is; 1=1"),
        ("Proxy-Authorization", "Basic bG9vcDpnYXRl"),
        ("Keep-Alive", "timeout=5, max=100"),
    ])
    seen = first_frame_json(conn)
    headers = seen["headers"]
    assert seen["target"] == "/headers"
    assert headers["host"] == f"localhost:{loopgate.gateway.port}"
    assert headers["origin"] == "http://127.0.0.1:5173"
    assert headers["x-loopgate-test"] == "kept as is; 1=1"
    assert "proxy-authorization" not in headers
    assert "keep-alive" not in headers


def test_app_path_and_query_are_appended_to_the_upstream_base_path(start_loopgate, gateway, certs):
    route = route_for(gateway, certs, upstream=f"wss://localhost:{gateway.port}/base")
    loopgate = start_loopgate({"routes": [route]})
    conn = wsraw.open_ws(loopgate.port, "/x?y=1")
    # The gateway logs the request before it starts echoing: an echo proves the line is there.
    conn.send(wsraw.frame(TEXT, "ping"))
    assert conn.expect_frame(TEXT, b"ping")
    assert [line.split()[1] for line in gateway.requests()] == ["path=/base/x?y=1"]


def test_upstream_killed_mid_session_closes_the_app_with_1012(start_loopgate, start_gateway, certs):
    gateway = start_gateway()
    loopgate = start_loopgate({"routes": [route_for(gateway, certs)]})
    conn = wsraw.open_ws(loopgate.port, "/echo")
    assert echoes_byte_exact(conn, b"before the crash")
    gateway.process.proc.kill()
    gateway.process.wait()
    assert conn.read_frame() == (True, CLOSE, wsraw.close_payload(1012, "upstream connection lost"))
    conn.send(close_frame(1012))
    assert conn.read_until_eof() == b""
    loopgate.wait_closed()
    summary = loopgate.summaries()[0]
    assert (summary["close_code"], summary["closed_by"]) == ("1012", "upstream")


def test_upstream_reset_mid_message_closes_the_app_with_1012_after_the_fragment_it_sent(start_loopgate, recorder):
    # Another way to lose the upstream than the kill above: no TLS, a reset (RST) rather than
    # the end of a dying process's connection, and in the middle of a fragmented message.
    loopgate = start_loopgate({"routes": [recorder.route()]})
    first_fragment = bytes([TEXT, 5]) + b"first"  # FIN clear: the message goes on
    conn = wsraw.open_ws(loopgate.port, "/send-then-reset/" + first_fragment.hex())
    assert conn.read_frame() == (False, TEXT, b"first")
    [upstream] = recorder.wait_connections(1)
    upstream.release()
    # A close may come between the fragments of a message (RFC 6455 5.4).
    assert conn.read_frame() == (True, CLOSE, wsraw.close_payload(1012, "upstream connection lost"))
    conn.send(close_frame(1012))
    assert conn.read_until_eof() == b""
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed()]
    assert (summary["close_code"], summary["closed_by"]) == ("1012", "upstream")
    assert summary["close_reason"] == "upstream connection lost: connection reset by peer"


def test_unmasked_app_frame_closes_that_session_with_1002_and_others_keep_relaying(
        start_loopgate, gateway, certs, recorder):
    # The offender's upstream records what it receives: loopgate itself must judge the frame
    # and answer it. (A gateway would answer 1002 too, "client frames must be masked" in the
    # test gateway's words, if loopgate let the frame through.)
    loopgate = start_loopgate({"routes": [route_for(gateway, certs), recorder.route()]})
    healthy = wsraw.open_ws(port_of(loopgate, "gw"), "/echo")
    offender = wsraw.open_ws(port_of(loopgate, "rec"), "/echo")
    offender.send(wsraw.frame(TEXT, "not masked", mask=False))
    assert offender.read_frame() == (True, CLOSE, wsraw.close_payload(1002, "client frame is not masked"))
    assert offender.read_until_eof() == b""
    [upstream] = recorder.wait_connections(1)
    assert upstream.wait_close_frame() == (1001, "app sent an invalid frame")
    assert upstream.data_frames() == [], "the unmasked frame reached the upstream"
    [line] = loopgate.wait_closed(count=1)  # the healthy session is still open
    summary = parse_logfmt(line)
    assert (summary["route"], summary["close_code"], summary["close_reason"], summary["closed_by"]) == \
        ("rec", "1002", "app: client frame is not masked", "loopgate")
    assert echoes_byte_exact(healthy, os.urandom(200_000))


def test_summary_line_of_a_clean_session_counts_frame_bytes_and_close(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/echo")
    app_address = "%s:%d" % conn.sock.getsockname()
    sent_text = wsraw.frame(TEXT, "hello")  # 2 header + 4 mask + 5 payload
    sent_close = close_frame(1000, "done")  # 2 header + 4 mask + 2 code + 4 reason
    conn.send(sent_text)
    assert conn.expect_frame(TEXT, b"hello")  # 2 + 5 from the upstream
    conn.send(sent_close)
    assert conn.read_frame() == (True, CLOSE, wsraw.close_payload(1000, "done"))  # 2 + 6
    assert conn.read_until_eof() == b""
    loopgate.wait_closed()
    [summary] = loopgate.summaries()
    assert summary["route"] == "gw"
    assert summary["app"] == app_address
    assert summary["upstream"] == f"127.0.0.1:{loopgate.gateway.port}"
    assert summary["status"] == "101"
    assert (summary["bytes_from_app"], summary["bytes_from_upstream"]) == \
        (str(len(sent_text) + len(sent_close)), str(7 + 8))
    assert (summary["close_code"], summary["close_reason"], summary["closed_by"]) == ("1000", "done", "app")


def test_connect_to_dials_the_address_and_keeps_the_upstream_name(start_loopgate, gateway, certs):
    # gateway.test resolves nowhere here: a working session proves no DNS lookup happened,
    # and the certificate (DNS:gateway.test) proves the name was still verified.
    route = route_for(gateway, certs, upstream=f"wss://gateway.test:{gateway.port}", connect_to="127.0.0.1")
    loopgate = start_loopgate({"routes": [route]})
    conn = wsraw.open_ws(loopgate.port, "/headers")
    assert first_frame_json(conn)["headers"]["host"] == f"gateway.test:{gateway.port}"
