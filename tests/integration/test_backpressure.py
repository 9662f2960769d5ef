"""Bounded memory with a slow reader: 200 MiB go through loopgate while one side stops
reading for about a second. If loopgate kept reading from the fast side regardless, it
would have to hold up to 200 MiB; with backpressure its peak resident memory (VmHWM)
stays far below that, and every byte still arrives, in order.

And the same promise seen from the sender: an unmodified client (python-websockets) whose
upstream reads nothing at all must find its sends waiting, not flowing into loopgate
without end, and must find them going on, in order, once the upstream reads again."""

import asyncio
import os
import struct
import threading
import time

import pytest
import websockets

from recording_upstream import RecordingUpstream
import wsraw

TOTAL = 200 * 1024 * 1024
FRAME = 1024 * 1024
PERIOD = 251  # the test gateway's /source pattern: byte i is i % 251
PEAK_RSS_LIMIT_KIB = 64 * 1024
PAUSE_SECONDS = 1.0
TRANSFER_TIMEOUT = 20.0

# Any run of up to FRAME pattern bytes is PATTERN[i % PERIOD : i % PERIOD + n].
PATTERN = bytes(i % PERIOD for i in range(FRAME + PERIOD))


def header_size(head):
    """Bytes in an unmasked frame header that starts with `head`; 0 until that is known."""
    if len(head) < 2:
        return 0
    n = head[1] & 0x7F
    return 2 + (2 if n == 126 else 8 if n == 127 else 0)


class PatternStream:
    """Follows a stream of unmasked server frames chunk by chunk: parses only the frame
    headers and compares payload runs against the pattern with whole-slice compares,
    failing at the first wrong byte."""

    def __init__(self):
        self.payload_bytes = 0
        self.close_code = None
        self._head = b""
        self._left_in_frame = 0
        self._in_close = False
        self._close_payload = b""

    def feed(self, data):
        view = memoryview(data)
        while len(view) > 0:
            view = self._take_payload(view) if self._left_in_frame else self._take_header(view)

    def _take_header(self, view):
        # Byte by byte, but only for headers: at most 10 bytes per MiB of payload.
        while len(view) > 0:
            self._head += bytes(view[:1])
            view = view[1:]
            if len(self._head) == header_size(self._head):
                self._start_frame(self._head)
                self._head = b""
                break
        return view

    def _start_frame(self, head):
        assert not head[1] & 0x80, "a frame toward the app is masked"
        n = head[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", head[2:4])[0]
        elif n == 127:
            n = struct.unpack("!Q", head[2:10])[0]
        self._in_close = head[0] & 0x0F == 0x8
        self._left_in_frame = n
        if self._in_close and n == 0:
            self.close_code = 1005

    def _take_payload(self, view):
        n = min(len(view), self._left_in_frame)
        run = view[:n]
        if self._in_close:
            self._close_payload += bytes(run)
            if n == self._left_in_frame and len(self._close_payload) >= 2:
                self.close_code = struct.unpack("!H", self._close_payload[:2])[0]
        else:
            self._check_pattern(run)
            self.payload_bytes += n
        self._left_in_frame -= n
        return view[n:]

    def _check_pattern(self, run):
        start = self.payload_bytes % PERIOD
        want = memoryview(PATTERN)[start:start + len(run)]
        if run != want:
            i = wsraw.first_difference(run, want)
            raise AssertionError(f"payload byte {self.payload_bytes + i} is 0x{run[i]:02x}, expected "
                                 f"0x{want[i]:02x} (byte i of the stream is i % {PERIOD})")


def read_until_close(conn, stream, timeout):
    """Feeds everything the app receives to `stream` until the close frame is complete."""
    deadline = time.monotonic() + timeout
    stream.feed(conn.buf)
    conn.buf = b""
    chunk = bytearray(4 << 20)
    while stream.close_code is None:
        left = deadline - time.monotonic()
        assert left > 0, f"only {stream.payload_bytes} of {TOTAL} payload bytes after {timeout} s"
        conn.sock.settimeout(left)
        n = conn.sock.recv_into(chunk)
        assert n > 0, f"connection ended after {stream.payload_bytes} payload bytes, without a close frame"
        stream.feed(memoryview(chunk)[:n])


def assert_everything_arrived(stream):
    assert stream.payload_bytes == TOTAL  # each byte was checked as it came (PatternStream)


def assert_memory_bounded(loopgate):
    if os.environ.get("LOOPGATE_SANITIZED"):
        # The transfer ran (and ASan watched it); only the memory claim cannot be checked.
        pytest.skip("under ASan, resident memory is its quarantine and shadow memory, not loopgate's buffers")
    peak = loopgate.peak_rss_kib()
    assert peak < PEAK_RSS_LIMIT_KIB, f"loopgate peaked at {peak} KiB resident for a {TOTAL >> 20} MiB transfer"


def zero_masked_frames(total, frame_size):
    """Masked binary frames of the pattern; a zero mask key leaves the payload bytes as they are."""
    for offset in range(0, total, frame_size):
        n = min(frame_size, total - offset)
        start = offset % PERIOD
        yield wsraw.frame(0x2, PATTERN[start:start + n], mask_key=b"\0\0\0\0")


def test_slow_app_reader_of_200_mib_keeps_loopgate_memory_bounded(loopgate):
    conn = wsraw.open_ws(loopgate.port, f"/source/{TOTAL}")
    time.sleep(PAUSE_SECONDS)  # the app reads nothing while the gateway sends as fast as it can
    stream = PatternStream()
    read_until_close(conn, stream, TRANSFER_TIMEOUT)
    conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
    conn.close()
    assert_everything_arrived(stream)
    assert stream.close_code == 1000
    assert_memory_bounded(loopgate)


def test_fast_app_writer_of_200_mib_with_a_stalled_reader_keeps_loopgate_memory_bounded(loopgate):
    conn = wsraw.open_ws(loopgate.port, "/echo")
    conn.sock.settimeout(TRANSFER_TIMEOUT)
    send_errors = []

    def send_all():
        try:
            for frame in zero_masked_frames(TOTAL, FRAME):
                conn.sock.sendall(frame)
            conn.sock.sendall(wsraw.frame(0x8, wsraw.close_payload(1000, "sent all")))
        except OSError as error:
            send_errors.append(error)

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    time.sleep(PAUSE_SECONDS)  # nobody reads the echo: the echo path must push back to the sender
    stream = PatternStream()
    read_until_close(conn, stream, TRANSFER_TIMEOUT)
    sender.join(timeout=TRANSFER_TIMEOUT)
    conn.close()
    assert not sender.is_alive() and send_errors == [], send_errors
    assert_everything_arrived(stream)
    assert stream.close_code == 1000  # the gateway echoed our close after the last frame
    assert_memory_bounded(loopgate)


# ---- a third-party sender in front of an upstream that reads nothing ----

MESSAGE = 1024 * 1024
# Far more than every buffer between the app and the upstream holds (two sockets' send and
# receive buffers, autotuned up to tcp_wmem/tcp_rmem's maximum, and loopgate's queue).
BUDGET_MESSAGES = 96
STALL_SECONDS = 1.0


def numbered(i):
    """Message i: its number over and over, so a lost, doubled or reordered one shows."""
    return struct.pack("!I", i) * (MESSAGE // 4)


async def push_until_stalled_then_release(url, recorder):
    """Sends numbered messages until one send has not finished after STALL_SECONDS; then lets
    the upstream read, sends three more and closes. Returns what happened."""
    async with websockets.connect(url, max_size=None, compression=None, close_timeout=20) as ws:
        [upstream] = recorder.wait_connections(1)
        for i in range(BUDGET_MESSAGES):
            sending = asyncio.ensure_future(ws.send(numbered(i)))
            done, _ = await asyncio.wait({sending}, timeout=STALL_SECONDS)
            if not done:
                break
        else:
            return {"stalled_at": None}
        await asyncio.sleep(STALL_SECONDS)
        still_stalled = not sending.done()
        upstream.release()
        await asyncio.wait_for(sending, 30)
        for j in range(i + 1, i + 4):
            await asyncio.wait_for(ws.send(numbered(j)), 30)
    return {"stalled_at": i, "still_stalled": still_stalled, "sent": i + 4, "close_code": ws.close_code,
            "upstream": upstream}


def test_third_party_sender_waits_while_the_upstream_reads_nothing_and_goes_on_in_order(start_loopgate):
    recorder = RecordingUpstream()
    try:
        loopgate = start_loopgate({"routes": [recorder.route()]})
        outcome = asyncio.run(asyncio.wait_for(
            push_until_stalled_then_release(f"ws://127.0.0.1:{loopgate.port}/hold", recorder), 120))
    finally:
        recorder.stop()
    assert outcome["stalled_at"] is not None, \
        f"the app sent {BUDGET_MESSAGES} MiB without ever waiting: loopgate kept reading it while the upstream read nothing"
    assert outcome["still_stalled"], "the send that waited went on while the upstream still read nothing"
    assert outcome["close_code"] == 1000
    frames = outcome["upstream"].data_frames()
    assert len(frames) == outcome["sent"], f"{outcome['sent']} messages sent, {len(frames)} reached the upstream"
    for i, (opcode, payload) in enumerate(frames):
        if (opcode, payload) != (0x2, numbered(i)):
            first = struct.unpack("!I", payload[:4])[0] if len(payload) >= 4 else None
            raise AssertionError(f"message {i} reached the upstream as opcode {opcode}, {len(payload)} bytes, "
                                 f"starting with number {first}")
