#!/usr/bin/env python3
"""What asking who owns each app's socket costs at accept: loopgate with the check (the default)
and without it (allow_other_users), the same binary, the same connections.

Each round starts a fresh loopgate on 127.0.0.1 and runs --connections connections through it,
one after the other, from one client in this process (so the rate is the client's and loopgate's
round trips together, not a throughput limit). Two kinds:

  answer   the app sends a GET without an upgrade: loopgate answers 426 at once and closes. No
           upstream is involved, so the accept (and the check) is a large share of the work.
  upgrade  a WebSocket upgrade through loopgate to the bundled test gateway (plain ws://, on
           127.0.0.1), answered 101; the app then hangs up. The whole session, as apps use it.

Measured per round: connections per second (wall clock over the loop), and loopgate's CPU time
per connection: from /proc/PID/schedstat (nanoseconds on the CPU) and, as a cross-check at the
kernel's 10 ms tick, utime+stime from /proc/PID/stat; both read once loopgate has logged the last
connection's summary line, so every connection's work is inside the figures. Each round runs
check on, then check off, back to back; the table gives medians, and the median (and range) of
each round's difference, which the machine's other load disturbs less than the medians.

First, loopgate-bench-peer-owner (tools/bench_peer_owner.cpp) times the question alone: the same
PeerOwner asked about one loopback connection --questions times, in one process, so nothing else
on the path blurs it.

--idle N also opens N idle loopback connections (2N sockets) next to loopgate, to show that the
cost does not grow with the number of sockets on the machine (the kernel looks the 4-tuple up in
its hash table).

Only loopback addresses are used; every loop is bounded. Not a test: nothing passes or fails.
docs/benchmarks.md has the figures and the command that made them."""

import argparse
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import wsraw  # noqa: E402  (the integration tests' raw WebSocket client)


def wait_for(path, pattern, process, timeout=10.0, count=1):
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        matches = regex.findall(path.read_text(errors="replace"))
        if len(matches) >= count:
            return matches
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode}:\n{path.read_text()}")
        time.sleep(0.005)
    raise SystemExit(f"timed out waiting for {count} × {pattern!r} in {path}")


def cpu_ns(pid):
    """(schedstat ns on the CPU, utime+stime in ns) of a process."""
    on_cpu = int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat(5))
    return on_cpu, ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def one_connection(port, mode, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        got = b""
        for _ in range(64):  # bounded: the answer is one small head, then EOF
            if mode == "upgrade" and b"\r\n\r\n" in got:
                break
            chunk = sock.recv(4096)
            if not chunk:
                break
            got += chunk
    expected = b"HTTP/1.1 101" if mode == "upgrade" else b"HTTP/1.1 426"
    if not got.startswith(expected):
        raise SystemExit(f"unexpected answer: {got[:200]!r}")


def run_round(args, workdir, gateway_port, mode, check, round_index):
    route = {"name": "bench", "listen": "127.0.0.1:0", "upstream": f"ws://127.0.0.1:{gateway_port}",
             "allow_plaintext_upstream": True}
    if not check:
        route["allow_other_users"] = True
    config = workdir / f"loopgate-{mode}-{check}-{round_index}.json"
    config.write_text(json.dumps({"routes": [route], "max_connections": 100000}))
    log = workdir / f"loopgate-{mode}-{check}-{round_index}.err"
    with open(log, "wb") as err:
        process = subprocess.Popen([str(args.loopgate), "run", "--config", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=err, stdin=subprocess.DEVNULL)
    try:
        port = int(wait_for(log, r"msg=listening route=bench address=127\.0\.0\.1:(\d+)", process)[0])
        request = (wsraw.upgrade_request("/", host=f"127.0.0.1:{port}") if mode == "upgrade"
                   else f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        for _ in range(args.warmup):
            one_connection(port, mode, request)
        wait_for(log, r'msg="connection closed"', process, count=args.warmup, timeout=30)
        before = cpu_ns(process.pid)
        start = time.perf_counter()
        for _ in range(args.connections):
            one_connection(port, mode, request)
        elapsed = time.perf_counter() - start
        wait_for(log, r'msg="connection closed"', process, count=args.warmup + args.connections, timeout=60)
        after = cpu_ns(process.pid)
        if "refused a connection" in log.read_text(errors="replace"):
            raise SystemExit(f"loopgate refused one of this benchmark's connections: see {log}")
    finally:
        process.terminate()
        process.wait(timeout=10)
    n = args.connections
    return {"rate": n / elapsed, "schedstat_us": (after[0] - before[0]) / n / 1000,
            "stat_us": (after[1] - before[1]) / n / 1000}


def open_idle(count):
    """`count` idle loopback connections (kept open by the returned list)."""
    if count == 0:
        return []
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * count + 1024)), hard))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    held = [listener]
    for _ in range(count):
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
        held += [client, server]
    return held


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", type=Path, default=REPO / "build")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode and setting")
    parser.add_argument("--modes", default="answer,upgrade")
    parser.add_argument("--idle", type=int, default=0, help="idle loopback connections held open meanwhile")
    parser.add_argument("--questions", type=int, default=200000, help="owner_of calls timed alone")
    args = parser.parse_args()
    args.loopgate = args.build / "daemon" / "loopgate"
    gateway_bin = args.build / "tools" / "loopgate-test-gateway"
    if args.connections < 1 or args.connections > 100000 or args.rounds < 1 or args.rounds > 50:
        raise SystemExit("--connections 1..100000, --rounds 1..50")
    alone = subprocess.run([str(args.build / "tools" / "loopgate-bench-peer-owner"), str(args.questions),
                            str(args.idle)], capture_output=True, text=True, timeout=600)
    if alone.returncode != 0:
        raise SystemExit(f"loopgate-bench-peer-owner failed ({alone.returncode}): {alone.stderr}")
    print(alone.stdout.strip())
    idle = open_idle(args.idle)
    with tempfile.TemporaryDirectory(prefix="lg-bench-owner-") as tmp:
        workdir = Path(tmp)
        gateway_out = workdir / "gateway.out"
        with open(gateway_out, "wb") as out:
            gateway = subprocess.Popen([str(gateway_bin), "--listen", "127.0.0.1:0", "--plain"], stdout=out,
                                       stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            gateway_port = int(wait_for(gateway_out, r"listening on 127\.0\.0\.1:(\d+)", gateway)[0])
            results = {}
            for mode in args.modes.split(","):
                for round_index in range(args.rounds):
                    for check in (True, False):
                        figures = run_round(args, workdir, gateway_port, mode, check, round_index)
                        results.setdefault((mode, check), []).append(figures)
                        print(f"{mode} check={'on' if check else 'off'} round {round_index + 1}: "
                              f"{figures['rate']:.0f}/s, {figures['schedstat_us']:.1f} µs "
                              f"(stat: {figures['stat_us']:.1f} µs)", file=sys.stderr)
        finally:
            gateway.terminate()
            gateway.wait(timeout=10)
    for sock in idle:
        sock.close()

    def median(mode, check, key):
        return statistics.median(r[key] for r in results[(mode, check)])

    print(f"\n{args.connections} connections × {args.rounds} rounds per row, {args.idle} idle connections open; "
          "medians (the difference: of each round's on − off, with its range)\n")
    print("| kind | owner check | connections/s | loopgate CPU µs per connection (schedstat) | (stat, 10 ms ticks) |")
    print("|---|---|---|---|---|")
    for mode in args.modes.split(","):
        for check in (True, False):
            print(f"| {mode} | {'on' if check else 'off (allow_other_users)'} | {median(mode, check, 'rate'):.0f} | "
                  f"{median(mode, check, 'schedstat_us'):.1f} | {median(mode, check, 'stat_us'):.1f} |")
        pairs = list(zip(results[(mode, True)], results[(mode, False)]))
        rate = [on["rate"] - off["rate"] for on, off in pairs]
        cpu = [on["schedstat_us"] - off["schedstat_us"] for on, off in pairs]
        print(f"| {mode} | on − off | {statistics.median(rate):+.0f} ({min(rate):+.0f} to {max(rate):+.0f}) | "
              f"{statistics.median(cpu):+.1f} ({min(cpu):+.1f} to {max(cpu):+.1f}) | |")

if __name__ == "__main__":
    main()
