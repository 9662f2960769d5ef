"""Chaos: 50 apps stream checksummed messages through loopgate while the gateway behind it is
killed (SIGKILL) and restarted on the same port 10 times at random moments.

What is asserted, and why:

- Every app gets back exactly its own bytes, in order. Each message carries the app's id, a
  sequence number, a payload derived from both and a SHA-256 over all of it, so a corrupted,
  foreign (another app's), duplicated, replayed (sent on an earlier connection) or reordered echo
  is told apart and fails the test at once, naming what arrived instead of what was expected.
- When the gateway dies under a live session, the app gets a close frame 1012 (the only close
  it may get during the run), answers it, reconnects and is served again. The one exception is a
  gateway killed while an echo frame was half way through: no close frame can be sent inside a
  frame, so the connection just ends; that is accepted only mid-frame and only after a kill.
- An app that connects while the gateway is down is held and then served (101). Every downtime is
  far below reconnect.hold_ms, so a 503 is always a failure. Any other non-101 answer is a
  failure unless a kill happened while that very attempt was in progress (the dial raced the
  kill, e.g. a TLS handshake cut by the dying gateway).
- After the last restart every app completes MIN_AFTER_LAST_RESTART verified messages sent after
  it: loopgate recovered for everybody, not only for the first few.
- After all apps closed and loopgate logged every connection, its open fd count is back to the
  value after warm-up and its RSS is within 20% + 12 MiB of it (see RSS_SLACK_KIB): sessions torn
  down by upstream loss, holds and retries leak nothing. The warm-up is the run in small (50 apps
  streaming through WARM_UP_KILLS kills, then closing), so loopgate's heap has met a mass
  reconnect before the figures are taken.

The kill schedule comes from a random seed printed at the start; LOOPGATE_CHAOS_SEED=N replays
it (thread timing still varies). The whole test is bounded to about a minute."""

import collections
import hashlib
import os
import random
import re
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from conftest import route_for
import wsraw

BINARY, CONTINUATION, CLOSE = 0x2, 0x0, 0x8

APPS = 50
RESTARTS = int(os.environ.get("LOOPGATE_CHAOS_RESTARTS", "10"))  # more for a longer replay
UP_S = (0.7, 2.5)       # the gateway runs this long between kills (uniform)
DOWN_S = (0.2, 1.5)     # and stays dead this long before its restart: always far below HOLD_MS
HOLD_MS = 15000
WINDOW = 4              # messages an app keeps in flight
MIN_AFTER_LAST_RESTART = 25
WARM_UP_KILLS = 2
WARM_UP_MESSAGES = 40    # after the warm-up's last restart: one big message each (every 40th)
ECHO_TIMEOUT_S = 10.0   # loopgate and the gateway are local: a stall this long is a hang
ANSWER_TIMEOUT_S = HOLD_MS / 1000 + 5  # a held app is answered within hold_ms
RECOVERY_BOUND_S = 20.0
SETTLE_BOUND_S = 10.0
# RSS may end above its warm-up value without any leak. During a mass reconnect every session's
# old and new upstream (TLS state, 64 KiB write chunks, the buffer pool's idle chunks) are alive
# at once; glibc keeps the arena that peak needed, and each new record peak raises RSS in a step
# that never comes back. Measured with malloc_stats() over 40 restarts: allocated bytes flat at
# ~5.2 MB after every restart, the arena growing from 6.5 to 18 MB and RSS from 14 to 26 MB; within
# one test's 10 restarts RSS rose by 1 to 10 MiB. So the slack is that peak, ~200 KiB per app, on
# top of 20%: a leak of more than ~20 KiB per session (the run has ~550) still fails here; smaller
# ones are for tools/soak.sh, whose hundred thousand sessions make them plain.
RSS_SLACK_KIB = APPS * 200 + 2048

MAGIC = b"LGCH"
HEADER = struct.Struct("!4sHII")  # magic, app id, sequence number, payload length
DIGEST_BYTES = 32


# ---------------------------------------------------------------------------------------------
# Messages: app id + sequence number + a payload derived from both + SHA-256 of all of it.

def payload_length(app, seq):
    if seq % 40 == 39:
        return 30000 + (seq * 131 + app) % 10000  # now and then several TLS records' worth
    return 1 + (app * 7919 + seq * 104729) % 3000


def message(app, seq):
    n = payload_length(app, seq)
    head = HEADER.pack(MAGIC, app, seq, n)
    body = head + hashlib.shake_256(head).digest(n)
    return body + hashlib.sha256(body).digest()


def describe_mismatch(app, got, expected_seq):
    """What an echo that is not the expected message is: corrupted, foreign, duplicate, reordered."""
    wanted = f"app {app} expected its message seq {expected_seq} ({len(message(app, expected_seq))} bytes)"
    if len(got) < HEADER.size + DIGEST_BYTES or got[:4] != MAGIC:
        return f"{wanted} but got {len(got)} unrecognisable bytes: {got[:48].hex()}…"
    _, sender, seq, n = HEADER.unpack_from(got)
    intact = len(got) == HEADER.size + n + DIGEST_BYTES and hashlib.sha256(got[:-DIGEST_BYTES]).digest() == got[-DIGEST_BYTES:]
    if not intact or got != message(sender, seq):
        expected = message(app, expected_seq)
        first_diff = next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), min(len(got), len(expected)))
        return (f"{wanted} but got CORRUPTED bytes: {len(got)} bytes whose header says app {sender} seq {seq} "
                f"length {n}, checksum {'ok' if intact else 'wrong'}; first difference at offset {first_diff}")
    if sender != app:
        return f"{wanted} but got a FOREIGN message: app {sender}'s seq {seq}"
    if seq < expected_seq:
        return f"{wanted} but got seq {seq} again: a DUPLICATE or an echo replayed from an earlier connection"
    return f"{wanted} but got seq {seq}: REORDERED or messages lost in between"


def mask(payload, key):
    """RFC 6455 masking, XOR done on Python ints so that 40 KB cost microseconds, not milliseconds."""
    n = len(payload)
    if n == 0:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


def client_frame(opcode, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + mask(payload, key)


def message_frames(app, seq):
    """One message as it goes on the wire: every fifth one in three fragments."""
    data = message(app, seq)
    if seq % 5 != 4:
        return client_frame(BINARY, data)
    a, b = len(data) // 3, 2 * len(data) // 3
    return (client_frame(BINARY, data[:a], fin=False) + client_frame(CONTINUATION, data[a:b], fin=False)
            + client_frame(CONTINUATION, data[b:]))


def close_frame(code, reason=""):
    return client_frame(CLOSE, wsraw.close_payload(code, reason))


# ---------------------------------------------------------------------------------------------
# Reading what loopgate sends an app: whole messages, close frames, or the end of the stream.

class Ended(Exception):
    """The connection ended without a close frame; mid_frame says whether a frame was cut."""

    def __init__(self, detail, mid_frame):
        super().__init__(detail)
        self.detail = detail
        self.mid_frame = mid_frame


def parse_server_frame(buf):
    """(fin, opcode, payload, consumed) for a whole unmasked frame at the start of buf, else None."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    if b1 & 0x80:
        raise AssertionError("loopgate sent the app a masked frame")
    n, at = b1 & 0x7F, 2
    if n == 126:
        if len(buf) < 4:
            return None
        n, at = struct.unpack_from("!H", buf, 2)[0], 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n, at = struct.unpack_from("!Q", buf, 2)[0], 10
    if len(buf) < at + n:
        return None
    return bool(b0 & 0x80), b0 & 0x0F, bytes(buf[at:at + n]), at + n


def read_event(conn, timeout):
    """('message', bytes) or ('close', code, reason); raises Ended or socket.timeout."""
    deadline = time.monotonic() + timeout
    parts = []
    while True:
        parsed = parse_server_frame(conn.buf)
        if parsed is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout(f"nothing complete within {timeout} s")
            try:
                conn.fill(remaining)
            except EOFError:
                raise Ended("end of stream (FIN) without a close frame", bool(conn.buf) or bool(parts)) from None
            except (ConnectionResetError, BrokenPipeError) as error:
                raise Ended(f"{error.__class__.__name__} without a close frame", bool(conn.buf) or bool(parts)) from None
            continue
        fin, opcode, payload, consumed = parsed
        conn.buf = conn.buf[consumed:]
        if opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            return ("close", code, payload[2:].decode(errors="replace"))
        if opcode in (BINARY, CONTINUATION) and (opcode == CONTINUATION) == bool(parts):
            parts.append(payload)
            if fin:
                return ("message", b"".join(parts))
            continue
        raise AssertionError(f"unexpected frame opcode={opcode} fin={fin} ({len(payload)} bytes) "
                             f"{'inside' if parts else 'outside'} a message")


# ---------------------------------------------------------------------------------------------
# The gateway's life: when it listened and when it was killed, for judging each app's answers.

class GatewayTimeline:
    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.ups = []    # monotonic times at which a gateway was listening
        self.kills = []  # monotonic times just before a SIGKILL was sent

    def t(self, moment):
        return f"t={moment - self.started:.2f}s"

    def listening(self):
        with self.lock:
            self.ups.append(time.monotonic())

    def killing(self):
        with self.lock:
            self.kills.append(time.monotonic())

    def kills_between(self, start, end):
        with self.lock:
            return [k for k in self.kills if start <= k <= end]

    def describe(self, start, end):
        """The gateway's state over [start, end], for failure messages."""
        with self.lock:
            events = sorted([(u, "listening") for u in self.ups] + [(k, "killed") for k in self.kills])
        before = [e for e in events if e[0] < start]
        during = [f"{what} at {self.t(at)}" for at, what in events if start <= at <= end]
        state = before[-1][1] if before else "not started"
        text = f"gateway {'listening' if state == 'listening' else 'down'} at {self.t(start)}"
        return text + (f", then {', '.join(during)}" if during else ", no change until " + self.t(end))


# ---------------------------------------------------------------------------------------------
# One app: connect, stream, take a 1012, reconnect; every answer judged as it comes.

class Run:
    """What all apps share: where loopgate is, the timeline, and how the run is going."""

    def __init__(self, port, timeline, seed, min_messages):
        self.port = port
        self.min_messages = min_messages      # what each app verifies after the last restart
        self.timeline = timeline
        self.seed = seed
        self.abort = threading.Event()        # a failure, or the test ends
        self.chaos_over = threading.Event()   # the last restart is done: apps may finish
        self.last_restart_at = None
        # Far beyond any healthy run (the kills and restarts, then the recovery); nothing runs past it.
        self.hard_deadline = time.monotonic() + RESTARTS * (UP_S[1] + DOWN_S[1] + 2) + RECOVERY_BOUND_S + 30
        self.lock = threading.Lock()
        self.failures = []
        self.tolerated = []                   # non-101 answers to attempts that raced a kill
        self.mid_frame_drops = []

    def fail(self, text):
        with self.lock:
            self.failures.append(f"{text} [seed {self.seed}]")
        self.abort.set()


class App(threading.Thread):
    def __init__(self, run, app_id):
        super().__init__(name=f"app-{app_id}", daemon=True)
        self.run_state = run
        self.app_id = app_id
        self.next_seq = 0
        self.verified = 0
        self.verified_after_last_restart = 0
        self.attempts = []        # (start, end, status)
        self.closes_1012 = 0
        self.done = False
        self.state = "starting"

    # -- the loop --

    def run(self):
        try:
            while not self.run_state.abort.is_set():
                conn = self.connect_until_served()
                if conn is None:
                    return
                if self.stream(conn) == "finished":
                    self.done = True
                    return
        except AssertionError as error:
            self.run_state.fail(f"app {self.app_id}: {error}")
        except Exception as error:  # anything unforeseen is a failure too, with its type
            self.run_state.fail(f"app {self.app_id}: {error.__class__.__name__}: {error} (state {self.state})")

    def connect_until_served(self):
        """Attempts until one is upgraded; judges every answer on the way."""
        for _ in range(100):  # far more than RESTARTS can cause
            if self.run_state.abort.is_set():
                return None
            conn, status, body, start, end = self.attempt()
            if status == 101:
                return conn
            timeline = self.run_state.timeline
            during = timeline.describe(start, end)
            if status == 503:
                waited = end - start
                with timeline.lock:
                    last_up = max((u for u in timeline.ups if u <= end), default=None)
                back_for = end - last_up if last_up is not None and last_up > start else 0.0
                back = (f"; the gateway had been listening again for {back_for:.2f} s (since {timeline.t(last_up)}), "
                        f"longer than backoff_max_ms=2000 plus a dial: a held app was not served although a retry "
                        f"must have found the gateway back (issue 8 item 1?)"
                        if back_for > 3.0 and not timeline.kills_between(last_up, end) else "")
                raise AssertionError(
                    f"got 503 after {waited:.2f} s for an attempt from {timeline.t(start)} to {timeline.t(end)} "
                    f"({during}); every downtime is < {DOWN_S[1]} s, far below hold_ms={HOLD_MS}{back}. "
                    f"Body: {body!r}")
            if not timeline.kills_between(start, end):
                raise AssertionError(
                    f"got {status} for an attempt from {timeline.t(start)} to {timeline.t(end)} during which the "
                    f"gateway was not killed ({during}): only 101 is acceptable. Body: {body!r}")
            with self.run_state.lock:
                self.run_state.tolerated.append((self.app_id, status, body))
        raise AssertionError("100 attempts without an upgrade")

    def attempt(self):
        self.state = "connecting"
        start = time.monotonic()
        try:
            conn = wsraw.connect(self.run_state.port)
        except OSError as error:
            raise AssertionError(f"cannot connect to loopgate: {error}") from None
        conn.send(wsraw.upgrade_request("/echo"))
        self.state = f"waiting for the answer since {self.run_state.timeline.t(start)}"
        try:
            status, headers, _ = conn.read_head(timeout=ANSWER_TIMEOUT_S)
        except socket.timeout:
            raise AssertionError(f"no answer to the upgrade request within {ANSWER_TIMEOUT_S} s "
                                 f"(since {self.run_state.timeline.t(start)})") from None
        except (EOFError, ConnectionResetError) as error:
            raise AssertionError(f"loopgate ended the connection without an HTTP answer "
                                 f"({error.__class__.__name__}); "
                                 f"{self.run_state.timeline.describe(start, time.monotonic())}") from None
        end = time.monotonic()
        self.attempts.append((start, end, status))
        if status == 101:
            return conn, status, "", start, end
        body = conn.read_exact(int(headers.get("content-length", "0")), timeout=5).decode(errors="replace")
        conn.close()
        return None, status, body, start, end

    def stream(self, conn):
        """Streams until a 1012 (returns 'reconnect') or the end of the run ('finished')."""
        opened = time.monotonic()
        in_flight = collections.deque()  # (seq, sent at)
        try:
            while time.monotonic() < self.run_state.hard_deadline:
                finishing = self.ready_to_finish()
                if self.run_state.abort.is_set():
                    return "aborted"
                conn.sock.settimeout(ECHO_TIMEOUT_S)  # reads leave shorter timeouts behind
                while not finishing and len(in_flight) < WINDOW:
                    seq = self.next_seq
                    self.next_seq += 1
                    in_flight.append((seq, time.monotonic()))
                    try:
                        conn.send(message_frames(self.app_id, seq))
                    except (BrokenPipeError, ConnectionResetError):
                        break  # loopgate is ending the connection: what it sent says why
                if finishing and not in_flight:
                    self.finish(conn)
                    return "finished"
                self.state = f"waiting for the echo of seq {in_flight[0][0]}"
                try:
                    event = read_event(conn, ECHO_TIMEOUT_S)
                except socket.timeout:
                    raise AssertionError(f"no echo of seq {in_flight[0][0]} within {ECHO_TIMEOUT_S} s "
                                         f"({self.run_state.timeline.describe(in_flight[0][1], time.monotonic())})") from None
                except Ended as ended:
                    self.judge_end(ended, opened)
                    return "reconnect"
                if event[0] == "close":
                    self.judge_close(conn, event[1], event[2])
                    return "reconnect"
                seq, sent_at = in_flight.popleft()
                if event[1] != message(self.app_id, seq):
                    raise AssertionError(describe_mismatch(self.app_id, event[1], seq))
                self.verified += 1
                last = self.run_state.last_restart_at
                if last is not None and sent_at > last:
                    self.verified_after_last_restart += 1
            raise AssertionError("still streaming at the test's hard deadline")
        finally:
            conn.close()

    def ready_to_finish(self):
        return self.run_state.chaos_over.is_set() and self.verified_after_last_restart >= self.run_state.min_messages

    def judge_close(self, conn, code, reason):
        if code != 1012:
            raise AssertionError(f"got close {code} {reason!r}: during the run only 1012 may close a session")
        self.closes_1012 += 1
        try:
            conn.send(close_frame(1012, reason))
            conn.read_until_eof(timeout=5)
        except (BrokenPipeError, ConnectionResetError):
            pass  # loopgate may already have ended it; the close was received, that is what counts

    def judge_end(self, ended, opened):
        kills = self.run_state.timeline.kills_between(opened, time.monotonic())
        if not (ended.mid_frame and kills):
            raise AssertionError(
                f"session ended without a close frame ({ended.detail}, "
                f"{'mid-frame' if ended.mid_frame else 'at a frame boundary, where a close could have been sent'}; "
                f"{len(kills)} kills since it opened)")
        with self.run_state.lock:
            self.run_state.mid_frame_drops.append(self.app_id)

    def finish(self, conn):
        self.state = "closing"
        conn.send(close_frame(1000))
        event = read_event(conn, ECHO_TIMEOUT_S)
        if event[:2] != ("close", 1000):
            raise AssertionError(f"closing with 1000, got {event[:3]!r} instead of the close echoed back")
        if conn.read_until_eof(timeout=5) != b"":
            raise AssertionError("bytes after the close frame")


# ---------------------------------------------------------------------------------------------
# loopgate's resources, read from /proc.

def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_targets(pid):
    targets = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        targets[re.sub(r"\[\d+\]", "[…]", target)] += 1
    return dict(targets)


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def steady_fd_count(pid, bound_s=5.0):
    """The fd count once it stopped changing (three equal reads 0.1 s apart), within bound_s."""
    deadline = time.monotonic() + bound_s
    seen = [open_fds(pid)]
    while time.monotonic() < deadline:
        time.sleep(0.1)
        seen.append(open_fds(pid))
        if len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]:
            return seen[-1]
    raise AssertionError(f"loopgate's fd count never settled: {seen[-10:]}")


class Gateways:
    """The gateway on its fixed port: killed and restarted by the schedule, each step on the timeline."""

    def __init__(self, start_gateway, timeline):
        self.start_gateway = start_gateway
        self.timeline = timeline
        self.current = start_gateway()
        self.port = self.current.port
        timeline.listening()

    def kill(self):
        self.timeline.killing()
        self.current.process.proc.kill()
        self.current.process.wait(timeout=10)

    def restart(self):
        self.current = self.start_gateway(listen=f"127.0.0.1:{self.port}")
        assert self.current.port == self.port
        self.timeline.listening()


def churn(run, apps, gateways, kills, schedule, loopgate, rss_samples):
    """Starts the apps; kills the gateway `kills` times at random moments, restarting it after a
    random downtime; then lets every app verify run.min_messages more and close. Fails with the
    first failures an app reported, at once."""
    try:
        for app in apps:
            app.start()
        for _ in range(kills):
            if run.abort.wait(schedule.uniform(*UP_S)):
                break
            gateways.kill()
            if run.abort.wait(schedule.uniform(*DOWN_S)):
                break
            gateways.restart()
            assert loopgate.process.proc.poll() is None, f"loopgate exited with {loopgate.process.proc.returncode}"
            rss_samples.append(rss_kib(loopgate.process.pid))
        run.last_restart_at = run.timeline.ups[-1] if kills else time.monotonic()
        run.chaos_over.set()
        deadline = time.monotonic() + RECOVERY_BOUND_S
        for app in apps:
            app.join(timeout=max(0.0, deadline - time.monotonic()))
        if run.failures:
            pytest.fail("\n".join(run.failures[:10]), pytrace=False)
        slow = [f"app {a.app_id}: {a.verified_after_last_restart} verified after the last restart, {a.state}"
                for a in apps if not a.done]
        assert not slow, (f"not recovered within {RECOVERY_BOUND_S} s of the last restart "
                          f"(need {run.min_messages} each) [seed {run.seed}]: {slow[:10]}")
    finally:
        run.abort.set()
        # Every app stops within one bounded read; after a failure, report it without waiting.
        deadline = time.monotonic() + (2.0 if run.failures else ANSWER_TIMEOUT_S + 5)
        for app in apps:
            app.join(timeout=max(0.0, deadline - time.monotonic()))
    if run.failures:
        pytest.fail("\n".join(run.failures[:10]), pytrace=False)


# ---------------------------------------------------------------------------------------------

def test_fifty_apps_get_only_their_own_bytes_through_ten_gateway_kills_and_loopgate_leaks_nothing(
        start_gateway, start_loopgate, certs):
    seed = int(os.environ.get("LOOPGATE_CHAOS_SEED", random.SystemRandom().randrange(1 << 32)))
    print(f"\nchaos seed {seed} (replay the kill schedule with LOOPGATE_CHAOS_SEED={seed})")
    schedule = random.Random(seed)

    timeline = GatewayTimeline()
    gateways = Gateways(start_gateway, timeline)
    route = route_for(gateways.current, certs,
                      reconnect={"hold_ms": HOLD_MS, "backoff_initial_ms": 100, "backoff_max_ms": 2000},
                      liveness={"ping_interval_ms": 0},
                      timeouts={"connect_ms": 1000, "handshake_ms": 5000})
    loopgate = start_loopgate({"routes": [route], "shutdown_timeout_ms": 1000})
    pid = loopgate.process.pid

    # Warm-up: the run in small. Every app connects, streams the same mix of messages (big ones
    # included) through WARM_UP_KILLS kills, then closes with 1000. loopgate's buffer pool and heap
    # thereby reach the size the run's mass reconnects need: a warm-up of one quiet session per app
    # leaves the heap at a third of that, and the comparison would measure glibc's arena growth,
    # not a leak. The same rules hold as in the run: a failure here is a failure.
    warm = Run(loopgate.port, timeline, seed, min_messages=WARM_UP_MESSAGES)
    warm_apps = [App(warm, app_id) for app_id in range(APPS)]
    churn(warm, warm_apps, gateways, WARM_UP_KILLS, schedule, loopgate, [])
    warm_attempts = sum(len(a.attempts) for a in warm_apps)
    loopgate.wait_closed(count=warm_attempts, timeout=SETTLE_BOUND_S)
    fds_warm = steady_fd_count(pid)
    rss_warm = rss_kib(pid)
    fd_kinds_warm = fd_targets(pid)

    run = Run(loopgate.port, timeline, seed, min_messages=MIN_AFTER_LAST_RESTART)
    apps = [App(run, app_id) for app_id in range(APPS)]
    rss_per_restart = []
    started = time.monotonic()
    churn(run, apps, gateways, RESTARTS, schedule, loopgate, rss_per_restart)
    chaos_s = time.monotonic() - started
    assert loopgate.process.proc.poll() is None, f"loopgate exited with {loopgate.process.proc.returncode}"
    assert len(timeline.kills) == WARM_UP_KILLS + RESTARTS

    # Settle: every connection an app made is logged as closed, then the fds go back.
    attempts = warm_attempts + sum(len(a.attempts) for a in apps)
    loopgate.wait_closed(count=attempts, timeout=SETTLE_BOUND_S)
    deadline = time.monotonic() + SETTLE_BOUND_S
    while open_fds(pid) != fds_warm and time.monotonic() < deadline:
        time.sleep(0.1)
    fds_end = open_fds(pid)
    rss_end = rss_kib(pid)

    summaries = loopgate.summaries()
    statuses = collections.Counter(s.get("status") for s in summaries)
    held_in_log = loopgate.log().count('msg="holding connection until the upstream is back"')
    tolerated = run.tolerated + warm.tolerated
    lines = [
        f"chaos figures (seed {seed}): {RESTARTS} gateway kills + restarts in {chaos_s:.1f} s, {APPS} apps "
        f"(after a warm-up with {WARM_UP_KILLS})",
        f"  messages verified: {sum(a.verified for a in apps)} during the run "
        f"({sum(a.verified_after_last_restart for a in apps)} of them sent after the last restart), "
        f"{sum(a.verified for a in warm_apps)} in the warm-up",
        f"  1012 closes seen by apps: {sum(a.closes_1012 for a in apps)} during the run, "
        f"{sum(a.closes_1012 for a in warm_apps)} in the warm-up; "
        f"sessions cut mid-frame by a kill: {len(run.mid_frame_drops) + len(warm.mid_frame_drops)}",
        f"  upgrade attempts during the run: {attempts - warm_attempts}; held by loopgate (whole test): {held_in_log}",
        f"  non-101 answers to attempts that raced a kill (whole test): {len(tolerated)} "
        f"{dict(collections.Counter(status for _, status, _ in tolerated))}",
        *sorted({f"    e.g. {status}: {re.sub(r':[0-9]+', ':PORT', body.strip())}" for _, status, body in tolerated})[:4],
        f"  loopgate connection summaries by status (whole test): {dict(statuses)}",
        f"  loopgate fds: {fds_warm} after warm-up, {fds_end} after the run",
        f"  loopgate RSS: {rss_warm} KiB after warm-up, {rss_end} KiB after the run "
        f"(after each restart: {rss_per_restart})",
    ]
    print("\n".join(lines))

    assert statuses.get("503", 0) == 0, f"loopgate logged 503s: {[s for s in summaries if s.get('status') == '503'][:3]}"
    assert fds_end == fds_warm, (f"loopgate holds {fds_end} fds after the run, {fds_warm} after warm-up [seed {seed}]: "
                                 f"now {fd_targets(pid)}, after warm-up {fd_kinds_warm}")
    if os.environ.get("LOOPGATE_SANITIZED"):
        pytest.skip("under ASan, resident memory is its quarantine and shadow memory: only the RSS bound is skipped")
    assert rss_end <= rss_warm * 1.2 + RSS_SLACK_KIB, (
        f"RSS grew from {rss_warm} KiB after warm-up to {rss_end} KiB after the run, beyond 20% + {RSS_SLACK_KIB} KiB: "
        f"more than a mass reconnect's peak, a leak? "
        f"(after each restart: {rss_per_restart}) [seed {seed}]")
