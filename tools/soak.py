#!/usr/bin/env python3
"""Soak: 1,000 app sessions churning through loopgate for N minutes while the gateway is killed
and restarted and the network changes under loopgate. Run it with tools/soak.sh (as root).

Setup (the same two hosts as the network-change tests, tests/integration/netns.py): loopgate and
the apps run in a network namespace of their own, the TLS test gateway in another one at
100.64.0.2, reached over a veth pair. Each of the --sessions slots loops: open a WebSocket through
loopgate, exchange a few checksummed messages (app slot, sequence number, payload derived from
both, SHA-256 over all of it), close with 1000, open the next one. So about --sessions sessions
are live at any moment, and a few hundred open and close every second.

Meanwhile, on a schedule drawn from --seed:
- every --restart-every seconds (the first time soon after the ramp) the gateway gets SIGKILL and is restarted on the same port after
  a downtime of 0.3-1.5 s (live sessions get 1012, new ones are held, then served);
- every --netchange-every seconds the network changes in loopgate's namespace: an address comes
  or goes on an interface that concerns no upstream (loopgate probes every session; all survive),
  and every third time loopgate's end of the veth path goes down for a second instead.

Once a minute it prints: elapsed time, loopgate's RSS and open fds, live sessions, messages
checked, errors. At the end, after every session closed, the verdict:
- RSS flat: no minute's floor after the reference minute more than 5% above the reference minute's
  floor (the reference is minute 2, or minute 1 for runs shorter than 5 minutes; the line says
  which). RSS is sampled every 5 s and a minute's floor is its lowest sample: a burst (a gateway
  restart reconnects 1,000 apps at once) lifts RSS for a few seconds, a leak lifts the floor;
- fds back to baseline (loopgate's count before the first session) once every session closed;
- zero corrupted messages and zero lost ones (a message is lost when it was sent on a session
  that then ended without its echo and without a 1012/1001 close to explain it);
- no unexplained errors: a non-101 answer while nothing was being disrupted, a close code other
  than 1000/1001/1012, a stall. A 503 is always an error (every outage is far below hold_ms).
Exit status 0 on PASS, 1 on FAIL, 2 when it cannot run."""

import argparse
import asyncio
import collections
import hashlib
import json
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import netns  # noqa: E402  (tests/integration: the namespaces and veth paths)
import wsraw  # noqa: E402  (tests/integration: upgrade requests, close payloads)

BINARY, CLOSE = 0x2, 0x8
MAGIC = b"LGSK"
HEADER = struct.Struct("!4sIII")  # magic, slot, sequence number, payload length
DIGEST_BYTES = 32
UNRELATED_ADDRESS = "192.0.2.77/32"  # TEST-NET-1, on an interface that goes nowhere
HOLD_MS = 30000
ECHO_TIMEOUT_S = 30.0  # generous: 1,000 sessions and the gateway share two cores
RSS_TOLERANCE = 0.05


def log(text):
    print(text, flush=True)


# ---------------------------------------------------------------------------------------------
# Messages

def payload_length(slot, seq):
    return 16 + (slot * 7919 + seq * 104729) % 2000  # one TLS record, one write: never cut mid-frame


def message(slot, seq):
    n = payload_length(slot, seq)
    head = HEADER.pack(MAGIC, slot, seq, n)
    body = head + hashlib.shake_256(head).digest(n)
    return body + hashlib.sha256(body).digest()


def describe_mismatch(slot, got, seq):
    if len(got) >= HEADER.size + DIGEST_BYTES and got[:4] == MAGIC:
        _, sender, their_seq, n = HEADER.unpack_from(got)
        if got == message(sender, their_seq):
            kind = "FOREIGN" if sender != slot else ("DUPLICATE" if their_seq < seq else "REORDERED")
            return f"slot {slot} expected seq {seq}, got slot {sender}'s seq {their_seq} ({kind})"
        return f"slot {slot} expected seq {seq}, got CORRUPTED bytes ({len(got)} bytes, header slot {sender} seq {their_seq})"
    return f"slot {slot} expected seq {seq}, got {len(got)} unrecognisable bytes {got[:32].hex()}"


def masked_frame(opcode, payload):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    if n == 0:
        return head + key
    stream = (key * (n // 4 + 1))[:n]
    return head + key + (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(n, "big")


# ---------------------------------------------------------------------------------------------
# Processes and /proc

class Child:
    """A child process whose output goes to files; readiness is a line it prints."""

    def __init__(self, argv, workdir, name):
        self.out_path = Path(workdir) / f"{name}.out"
        self.err_path = Path(workdir) / f"{name}.err"
        self.argv = [str(a) for a in argv]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    def wait_for(self, pattern, path, timeout=15.0):
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(path.read_text(errors="replace"))
            if match:
                return match
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.argv} exited with {self.proc.returncode}:\n{self.tail()}")
            time.sleep(0.02)
        raise RuntimeError(f"timed out waiting for {pattern!r} from {self.argv}:\n{self.tail()}")

    def tail(self):
        return (self.err_path.read_text(errors="replace")[-3000:] + self.out_path.read_text(errors="replace")[-1000:])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text()).group(1))


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_kinds(pid):
    kinds = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            kinds[re.sub(r"\[\d+\]", "", os.readlink(f"/proc/{pid}/fd/{fd}"))] += 1
        except OSError:
            pass
    return dict(kinds)


# ---------------------------------------------------------------------------------------------
# What happened, shared between the app loop's thread and the orchestrating main thread.

class Tally:
    def __init__(self):
        self.lock = threading.Lock()
        self.live = 0
        self.waiting = 0  # upgrade requests not answered yet (held ones among them)
        self.sessions_opened = 0
        self.sessions_closed = 0
        self.messages_checked = 0
        self.corrupted = 0
        self.lost = 0
        self.explained_in_flight = 0  # in flight when a 1012/1001 close came: explained, not lost
        self.closes = collections.Counter()
        self.answers = collections.Counter()
        self.tolerated = collections.Counter()  # non-101 answers to attempts during a disruption
        self.tolerated_examples = set()         # their bodies (ports blanked), a few
        self.errors = []
        self.disruptions = []  # (start, end) monotonic: gateway kills and link flaps

    def error(self, text):
        with self.lock:
            self.errors.append(f"{time.strftime('%H:%M:%S')} {text}")

    def disrupted_between(self, start, end):
        with self.lock:
            return any(d_start <= end and (d_end is None or d_end >= start) for d_start, d_end in self.disruptions)

    def begin_disruption(self):
        with self.lock:
            self.disruptions.append([time.monotonic(), None])
            return self.disruptions[-1]

    def end_disruption(self, record):
        with self.lock:
            record[1] = time.monotonic() + 2.0  # answers to attempts made during it may come a little later


# ---------------------------------------------------------------------------------------------
# The apps: an asyncio loop running on a thread that entered loopgate's namespace.

class Apps:
    def __init__(self, port, sessions, tally, seed, ramp_s):
        self.port = port
        self.sessions = sessions
        self.tally = tally
        self.seed = seed
        self.ramp_s = ramp_s
        self.stopping = None  # asyncio.Event, made on the loop
        self.loop = None

    def run(self):
        asyncio.run(self.main())

    def stop(self):
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)

    async def main(self):
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        slots = [asyncio.create_task(self.slot(i)) for i in range(self.sessions)]
        await asyncio.gather(*slots)

    async def slot(self, slot):
        rng = random.Random(self.seed * 1_000_003 + slot)
        await asyncio.sleep(self.ramp_s * slot / self.sessions)  # spread the first handshakes out
        seq = 0
        while not self.stopping.is_set():
            try:
                seq = await self.session(slot, seq, rng)
            except Exception as error:  # every way a session can break is an error, counted
                self.tally.error(f"slot {slot}: {error!r}")
                await asyncio.sleep(1.0)

    async def session(self, slot, seq, rng):
        """One session: upgrade, a few messages, close. Returns the next sequence number."""
        tally = self.tally
        started = time.monotonic()
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.port), 10)
        try:
            writer.write(wsraw.upgrade_request("/echo"))
            with tally.lock:
                tally.waiting += 1
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HOLD_MS / 1000 + 15)
            finally:
                with tally.lock:
                    tally.waiting -= 1
            status = int(head.split(b" ", 2)[1])
            answered = time.monotonic()
            with tally.lock:
                tally.answers[status] += 1
            if status != 101:
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                body = await asyncio.wait_for(reader.readexactly(int(length.group(1)) if length else 0), 10)
                if status != 503 and tally.disrupted_between(started, answered):
                    with tally.lock:
                        tally.tolerated[status] += 1
                        if len(tally.tolerated_examples) < 5:
                            text = re.sub(r":[0-9]+", ":PORT", body.decode(errors="replace").strip())
                            tally.tolerated_examples.add(f"{status}: {text}")
                else:
                    tally.error(f"slot {slot}: {status} after {answered - started:.1f} s: "
                                f"{body.decode(errors='replace').strip()}")
                await asyncio.sleep(0.5)
                return seq
            with tally.lock:
                tally.live += 1
                tally.sessions_opened += 1
            try:
                return await self.exchange(slot, seq, rng, reader, writer)
            finally:
                with tally.lock:
                    tally.live -= 1
                    tally.sessions_closed += 1
        finally:
            writer.close()

    async def exchange(self, slot, seq, rng, reader, writer):
        tally = self.tally
        for _ in range(rng.randint(3, 8)):
            if self.stopping.is_set():
                break
            expected = message(slot, seq)
            writer.write(masked_frame(BINARY, expected))
            seq += 1
            event = await self.next_event(reader, slot, seq - 1)
            if event[0] == "message":
                if event[1] != expected:
                    with tally.lock:
                        tally.corrupted += 1
                    tally.error(describe_mismatch(slot, event[1], seq - 1))
                    return seq
                with tally.lock:
                    tally.messages_checked += 1
                await asyncio.sleep(rng.uniform(0.3, 2.0))
                continue
            if event[0] == "close":
                code = event[1]
                with tally.lock:
                    tally.closes[code] += 1
                    if code in (1012, 1001):
                        tally.explained_in_flight += 1
                    else:
                        tally.lost += 1
                if code not in (1012, 1001):
                    tally.error(f"slot {slot}: close {code} {event[2]!r} with seq {seq - 1} unanswered")
                writer.write(masked_frame(CLOSE, wsraw.close_payload(code if code != 1005 else 1000)))
                await self.until_eof(reader)
                return seq
            with tally.lock:
                tally.lost += 1
            tally.error(f"slot {slot}: {event[1]} with seq {seq - 1} unanswered")
            return seq
        writer.write(masked_frame(CLOSE, wsraw.close_payload(1000)))
        event = await self.next_event(reader, slot, None)
        with tally.lock:
            tally.closes[event[1] if event[0] == "close" else "none"] += 1
        if event[0] != "close" or event[1] not in (1000, 1001, 1012):
            tally.error(f"slot {slot}: closing with 1000, got {event[:2]!r}")
        await self.until_eof(reader)
        return seq

    async def next_event(self, reader, slot, seq):
        """('message', bytes), ('close', code, reason) or ('ended', why)."""
        try:
            b0, b1 = await asyncio.wait_for(reader.readexactly(2), ECHO_TIMEOUT_S)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", await reader.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await reader.readexactly(8))[0]
            if b1 & 0x80:
                return ("ended", "loopgate sent a masked frame")
            payload = await asyncio.wait_for(reader.readexactly(n), ECHO_TIMEOUT_S)
        except asyncio.TimeoutError:
            return ("ended", f"no frame within {ECHO_TIMEOUT_S} s" + (f" (waiting for seq {seq})" if seq is not None else ""))
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            return ("ended", f"connection ended without a close frame ({error.__class__.__name__})")
        opcode = b0 & 0x0F
        if opcode == CLOSE:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            return ("close", code, payload[2:].decode(errors="replace"))
        if opcode != BINARY or not b0 & 0x80:
            return ("ended", f"unexpected frame opcode={opcode} fin={bool(b0 & 0x80)}")
        return ("message", payload)

    async def until_eof(self, reader):
        try:
            await asyncio.wait_for(reader.read(), 10)
        except (asyncio.TimeoutError, ConnectionError):
            pass


# ---------------------------------------------------------------------------------------------
# The soak

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to churn (default 30)")
    parser.add_argument("--sessions", type=int, default=1000, help="live sessions to keep (default 1000)")
    parser.add_argument("--restart-every", type=float, default=120.0, help="seconds between gateway kills (default 120)")
    parser.add_argument("--netchange-every", type=float, default=30.0, help="seconds between network changes (default 30)")
    parser.add_argument("--seed", type=int, default=None, help="schedule seed (default: random, printed)")
    parser.add_argument("--ramp", type=float, default=20.0, help="seconds over which the sessions first open (default 20)")
    return parser.parse_args()


def binaries():
    build = Path(os.environ.get("LOOPGATE_BUILD_DIR", REPO / "build"))
    loopgate = Path(os.environ.get("LOOPGATE_BIN", build / "daemon" / "loopgate"))
    gateway = Path(os.environ.get("LOOPGATE_GATEWAY_BIN", build / "tools" / "loopgate-test-gateway"))
    for path in (loopgate, gateway):
        if not path.is_file():
            raise SystemExit(f"soak: {path} is missing (tools/soak.sh builds it)")
    return loopgate, gateway


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


class Soak:
    def __init__(self, args, workdir):
        self.args = args
        self.workdir = workdir
        self.tally = Tally()
        self.client = None
        self.gateway_host = None
        self.gateway = None
        self.gateway_count = 0
        self.loopgate = None
        self.unrelated = None
        self.unrelated_present = False

    # -- setup --

    def start(self):
        loopgate_bin, gateway_bin = binaries()
        # A copy each: the build directory may be rebuilt while the soak runs.
        self.loopgate_bin = Path(shutil.copy2(loopgate_bin, self.workdir / "loopgate"))
        self.gateway_bin = Path(shutil.copy2(gateway_bin, self.workdir / "loopgate-test-gateway"))
        self.certs = self.workdir / "certs"
        subprocess.run(["bash", str(REPO / "tools" / "gen-certs.sh"), str(self.certs)], check=True)
        netns.remove_leftovers()
        self.client = netns.ClientHost()
        self.gateway_host = netns.GatewayHost(self.client)
        self.unrelated = netns.UnrelatedInterface(self.client)
        self.port = 0
        self.start_gateway()
        self.start_loopgate()

    def start_gateway(self):
        listen = f"{self.gateway_host.path.gateway_ip}:{self.port}"
        argv = self.gateway_host.exec_prefix() + [self.gateway_bin, "--listen", listen,
                                                  "--cert", self.certs / "server.pem", "--key", self.certs / "server.key"]
        child = Child(argv, self.workdir, f"gateway{self.gateway_count}")
        self.gateway_count += 1
        port = int(child.wait_for(r"listening on [\d.]+:(\d+)", child.out_path).group(1))
        if self.port and port != self.port:
            raise RuntimeError(f"gateway came back on {port}, not {self.port}")
        self.port = port
        self.gateway = child

    def start_loopgate(self):
        n = self.args.sessions + 200
        config = {
            "routes": [{
                "name": "soak",
                "listen": "127.0.0.1:0",
                "upstream": f"wss://gateway.test:{self.port}",
                "connect_to": self.gateway_host.path.gateway_ip,
                "tls": {"ca_file": str(self.certs / "ca.pem")},
                "max_connections": n,
                "timeouts": {"connect_ms": 2000, "handshake_ms": 15000},
                "liveness": {"ping_interval_ms": 10000, "ping_timeout_ms": 5000, "probe_timeout_ms": 2000},
                "reconnect": {"hold_ms": HOLD_MS, "max_held": n, "backoff_initial_ms": 100, "backoff_max_ms": 2000},
            }],
            "max_connections": n,
            "network": {"debounce_ms": 200},
            "shutdown_timeout_ms": 2000,
        }
        path = self.workdir / "loopgate.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)
        # `ip netns exec` execs the program: the child's pid is loopgate's.
        self.loopgate = Child(self.client.exec_prefix() + [self.loopgate_bin, "run", "--config", path],
                              self.workdir, "loopgate")
        address = self.loopgate.wait_for(r"msg=listening route=soak address=(\S+)", self.loopgate.err_path).group(1)
        self.app_port = int(address.rsplit(":", 1)[1])
        self.pid = self.loopgate.proc.pid

    # -- disruptions --

    def restart_gateway(self, rng):
        record = self.tally.begin_disruption()
        self.gateway.kill()
        time.sleep(rng.uniform(0.3, 1.5))
        self.start_gateway()
        self.tally.end_disruption(record)

    def change_network(self, number):
        if number % 3 == 2:
            record = self.tally.begin_disruption()
            self.gateway_host.set_link(self.gateway_host.path, up=False)
            time.sleep(1.0)
            self.gateway_host.set_link(self.gateway_host.path, up=True)
            self.tally.end_disruption(record)
            return "link down 1 s"
        self.unrelated_present = not self.unrelated_present
        self.unrelated.set_address(UNRELATED_ADDRESS, present=self.unrelated_present)
        return "unrelated address " + ("added" if self.unrelated_present else "removed")

    # -- the run --

    def loopgate_alive(self):
        return self.loopgate.proc.poll() is None

    def report(self, elapsed_s, rss, events, floor):
        t = self.tally
        with t.lock:
            line = (f"[{elapsed_s / 60:5.1f} min] rss={rss} KiB floor={floor} KiB fds={open_fds(self.pid)} "
                    f"live={t.live} waiting={t.waiting} opened={t.sessions_opened} checked={t.messages_checked} "
                    f"errors={len(t.errors)} corrupted={t.corrupted} lost={t.lost} "
                    f"closes={dict(t.closes)} tolerated={dict(t.tolerated)} | {events}")
        log(line)

    def run(self):
        args = self.args
        seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
        rng = random.Random(seed)
        log(f"soak: {args.sessions} sessions for {args.minutes:g} min, gateway kill every ~{args.restart_every:g} s, "
            f"network change every ~{args.netchange_every:g} s, seed {seed} (--seed {seed} replays the schedule)")
        log(f"soak: loopgate pid {self.pid} in {self.client.name}, gateway {self.gateway_host.path.gateway_ip}:{self.port} "
            f"in {self.gateway_host.name}, files in {self.workdir}")
        fds_baseline = open_fds(self.pid)
        apps = Apps(self.app_port, args.sessions, self.tally, seed, args.ramp)
        app_thread = threading.Thread(target=lambda: self.client.call(apps.run), name="apps", daemon=True)
        app_thread.start()

        started = time.monotonic()
        end = started + args.minutes * 60
        next_report = started + 60
        # The first kill comes early, once every session is open (--ramp), so that the reference
        # minute for the RSS verdict already includes one mass reconnect.
        next_restart = started + args.ramp + rng.uniform(10, 25)
        next_change = started + rng.uniform(0.5, 1.0) * args.netchange_every
        changes = restarts = 0
        events = []
        rss_by_minute = []  # each minute's floor
        floor = None
        next_sample = started
        while time.monotonic() < end and self.loopgate_alive() and app_thread.is_alive():
            now = time.monotonic()
            if now >= next_sample:
                sample = rss_kib(self.pid)
                floor = sample if floor is None else min(floor, sample)
                next_sample = now + 5
            if now >= next_restart:
                self.restart_gateway(rng)
                restarts += 1
                events.append("gateway killed+restarted")
                next_restart = time.monotonic() + rng.uniform(0.75, 1.25) * args.restart_every
            elif now >= next_change:
                events.append(self.change_network(changes))
                changes += 1
                next_change = time.monotonic() + rng.uniform(0.75, 1.25) * args.netchange_every
            elif now >= next_report:
                rss = rss_kib(self.pid)
                floor = rss if floor is None else min(floor, rss)
                rss_by_minute.append(floor)
                self.report(now - started, rss, ", ".join(events) or "no disruption", floor)
                events = []
                floor = None
                next_report += 60
            else:
                time.sleep(min(0.2, max(0.0, min(next_restart, next_change, next_report, next_sample, end) - now)))

        if not app_thread.is_alive():
            self.tally.error("the apps' event loop ended before the run did (its traceback is above)")
        if self.loopgate_alive() and time.monotonic() - (next_report - 60) > 30:
            # The last (part of a) minute gets its sample too, so a 3-minute run judges minutes 2 and 3.
            rss = rss_kib(self.pid)
            floor = rss if floor is None else min(floor, rss)
            rss_by_minute.append(floor)
            self.report(time.monotonic() - started, rss, ", ".join(events) or "no disruption", floor)
        log(f"soak: churn over after {(time.monotonic() - started) / 60:.1f} min; closing every session")
        apps.stop()
        app_thread.join(timeout=ECHO_TIMEOUT_S + 60)
        if app_thread.is_alive():
            self.tally.error("the apps did not finish within 90 s of being told to stop")
        fds_end = rss_end = fd_detail = None
        if self.loopgate_alive():
            # Sessions end on loopgate's side a moment after the app's side: wait for the fds.
            deadline = time.monotonic() + 30
            while open_fds(self.pid) > fds_baseline and time.monotonic() < deadline:
                time.sleep(0.2)
            fds_end, rss_end, fd_detail = open_fds(self.pid), rss_kib(self.pid), fd_kinds(self.pid)
        return self.verdict(seed, restarts, changes, rss_by_minute, fds_baseline, fds_end, rss_end, fd_detail,
                            crashed=not self.loopgate_alive())

    def verdict(self, seed, restarts, changes, rss_by_minute, fds_baseline, fds_end, rss_end, fd_detail, crashed):
        t = self.tally
        checks = []
        if crashed:
            checks.append((False, f"loopgate exited with {self.loopgate.proc.returncode}:\n{self.loopgate.tail()}"))
        reference_minute = 2 if len(rss_by_minute) >= 5 else 1
        if len(rss_by_minute) >= reference_minute + 1:
            reference = rss_by_minute[reference_minute - 1]
            later = rss_by_minute[reference_minute:]
            worst = max(later)  # growth is what a leak does; less memory later is no fault
            flat = all(v <= reference * (1 + RSS_TOLERANCE) for v in later)
            checks.append((flat, f"RSS flat after warm-up (each minute's floor): reference = minute {reference_minute}, "
                                 f"{reference} KiB; later minutes {later} KiB, furthest {worst} KiB "
                                 f"({(worst - reference) * 100 / reference:+.1f}%, limit +{RSS_TOLERANCE * 100:.0f}%); "
                                 f"after all sessions closed {rss_end} KiB"))
        else:
            checks.append((False, f"RSS flat: not enough minutes to judge ({len(rss_by_minute)} samples)"))
        checks.append((fds_end is not None and fds_end <= fds_baseline,
                       f"fds back to baseline after every session closed: {fds_end} now, {fds_baseline} before the "
                       f"first session" + ("" if fds_end is not None and fds_end <= fds_baseline else f" ({fd_detail})")))
        checks.append((t.corrupted == 0 and t.lost == 0,
                       f"no corrupted or lost messages: {t.messages_checked} checked, {t.corrupted} corrupted, "
                       f"{t.lost} lost, {t.explained_in_flight} in flight when a 1012/1001 explained them"))
        checks.append((not t.errors, f"no unexplained errors: {len(t.errors)}"
                       + "".join(f"\n      {e}" for e in t.errors[:15])
                       + (f"\n      … and {len(t.errors) - 15} more" if len(t.errors) > 15 else "")))
        log(f"soak: {t.sessions_opened} sessions served, {restarts} gateway restarts, {changes} network changes, "
            f"answers {dict(t.answers)}, closes {dict(t.closes)}, tolerated non-101 during disruptions "
            f"{dict(t.tolerated)}, seed {seed}")
        for example in sorted(t.tolerated_examples):
            log(f"    e.g. {example}")
        for ok, text in checks:
            log(f"  {'ok  ' if ok else 'FAIL'} {text}")
        passed = all(ok for ok, _ in checks)
        log(f"soak verdict: {'PASS' if passed else 'FAIL'}")
        return 0 if passed else 1

    def close(self):
        for child in (self.loopgate, self.gateway):
            if child is not None:
                child.stop()
        for host in (self.gateway_host, self.client):
            if host is not None:
                host.close()


def main():
    args = parse_args()
    reason = netns.unusable_reason()
    if reason:
        log(f"soak: cannot run: {reason}")
        return 2
    raise_fd_limit(args.sessions * 4 + 1024)
    workdir = Path(tempfile.mkdtemp(prefix="loopgate-soak-"))
    soak = Soak(args, workdir)
    # SIGTERM unwinds like Ctrl-C, so the namespaces and children are cleaned up.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    status = 1
    try:
        soak.start()
        status = soak.run()
        return status
    except KeyboardInterrupt:
        log("soak: interrupted")
        return 1
    finally:
        soak.close()
        if status == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"soak: logs kept in {workdir}")


if __name__ == "__main__":
    sys.exit(main())
