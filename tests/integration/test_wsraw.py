"""The raw client's own promise, without loopgate: an echo check fails at the first wrong
byte, at once and saying where, rather than waiting out its read timeout."""

import os
import socket
import threading
import time

import pytest

import wsraw

BINARY = 0x2


class Feeder:
    """Writes into the other end of a Conn's socket from a thread: a socketpair holds far less
    than a megabyte, so writing it all before reading would block. One write per test."""

    def __init__(self, sock):
        self.sock = sock

    def sendall(self, data):
        threading.Thread(target=self._send, args=(data,), daemon=True).start()

    def _send(self, data):
        try:
            self.sock.sendall(data)
        except OSError:
            pass  # the test ended and closed the pair


@pytest.fixture
def pair():
    """A Conn reading what the test writes into the other end."""
    mine, theirs = socket.socketpair()
    conn = wsraw.Conn(mine)
    yield conn, Feeder(theirs)
    conn.close()
    theirs.close()


def test_a_frame_arriving_as_expected_passes(pair):
    conn, peer = pair
    payload = os.urandom(300_000)
    peer.sendall(wsraw.server_frame_head(BINARY, len(payload)) + payload + wsraw.server_frame_head(0x1, 2) + b"ok")
    assert conn.expect_frame(BINARY, payload)
    assert conn.expect_frame(0x1, "ok")


def test_a_corrupt_payload_byte_fails_at_once_naming_offset_and_bytes(pair):
    conn, peer = pair
    payload = bytes(range(256)) * 4096  # 1 MiB
    corrupt = bytearray(payload)
    corrupt[700_000] ^= 0xFF
    # Only the first 800 000 bytes ever come: the check must not wait for the rest.
    peer.sendall(wsraw.server_frame_head(BINARY, len(payload)) + bytes(corrupt[:800_000]))
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        conn.expect_frame(BINARY, payload, timeout=10)
    assert time.monotonic() - started < 2
    expected, actual = payload[700_000], payload[700_000] ^ 0xFF
    assert f"byte 700000 of {len(payload)} is 0x{actual:02x}, expected 0x{expected:02x}" in str(failure.value)


def test_a_corrupt_length_byte_fails_at_once_instead_of_waiting_for_bytes_that_never_come(pair):
    conn, peer = pair
    payload = b"x" * 200
    head = bytearray(wsraw.server_frame_head(BINARY, len(payload)))
    head[3] += 1  # 201: an old-style reader waits for one more byte until its timeout
    peer.sendall(bytes(head) + payload)
    started = time.monotonic()
    with pytest.raises(AssertionError) as failure:
        conn.expect_frame(BINARY, payload, timeout=10)
    assert time.monotonic() - started < 2
    assert "frame header: byte 3 of 4 is 0xc9, expected 0xc8" in str(failure.value)


def test_a_close_instead_of_the_echo_is_shown_with_its_reason(pair):
    conn, peer = pair
    close = wsraw.close_payload(1009, "message too big")
    peer.sendall(wsraw.server_frame_head(0x8, len(close)) + close)
    with pytest.raises(AssertionError) as failure:
        conn.expect_frame(BINARY, b"echo me")
    assert "byte 0 of 2 is 0x88, expected 0x82" in str(failure.value)
    assert "message too big" in str(failure.value)
