#!/usr/bin/env python3
"""How often an idle loopgate wakes up: voluntary context switches per second, from
/proc/PID/task/*/status (every thread of the process, summed), first with no session at all, then
with N idle WebSocket sessions open (default 100).

loopgate and the TLS test gateway run in a network namespace of their own (tests/integration/
netns.py), so nothing else on the machine (other test runs creating interfaces) reaches loopgate's
netlink watcher: each wakeup counted is loopgate's own doing. The gateway listens on the
namespace's 127.0.0.1. The sessions are opened one every --spacing seconds (apps do not all
connect in the same millisecond), each upgrades and echoes once, then nothing is sent.

loopgate runs with its defaults (liveness.ping_interval_ms 15000, network.wake_check_interval_ms
2000); the sample lasts --seconds (default 30: two ping intervals, so the figure does not depend
on where in the ping cycle the sample starts). --loopgate picks the binary, so a build from before
a change can be measured with the same script.

Needs root (a namespace). Not a test: prints figures, asserts nothing."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import netns  # noqa: E402
import wsraw  # noqa: E402


def voluntary_switches(pid):
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches:"):
                total += int(line.split()[1])
    return total


def rate(pid, seconds):
    before = voluntary_switches(pid)
    time.sleep(seconds)
    return (voluntary_switches(pid) - before) / seconds


def wait_for_line(path, text, process, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        output = path.read_text(errors="replace") if path.exists() else ""
        if text in output:
            return output
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError(f"{process.args} did not print {text!r}:\n{path.read_text(errors='replace')}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each sample (default 30)")
    parser.add_argument("--spacing", type=float, default=0.05, help="seconds between two session opens")
    build = Path(os.environ.get("LOOPGATE_BUILD_DIR", REPO / "build"))
    parser.add_argument("--loopgate", type=Path, default=build / "daemon" / "loopgate")
    parser.add_argument("--gateway", type=Path, default=build / "tools" / "loopgate-test-gateway")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench-wakeups.py needs root: it creates a network namespace")
    netns.remove_leftovers()
    host = netns.ClientHost()
    children = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-wakeups-") as scratch:
            work = Path(scratch)
            subprocess.run(["bash", str(REPO / "tools" / "gen-certs.sh"), str(work / "certs")], check=True)
            gateway_log = work / "gateway.log"
            gateway = subprocess.Popen(
                [*host.exec_prefix(), str(args.gateway), "--listen", "127.0.0.1:0",
                 "--cert", str(work / "certs" / "server.pem"), "--key", str(work / "certs" / "server.key")],
                stdout=open(gateway_log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            children.append(gateway)
            out = wait_for_line(gateway_log, "listening on", gateway)
            gateway_port = int(out.split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
            config = {"routes": [{"name": "bench", "listen": "127.0.0.1:0",
                                  "upstream": f"wss://localhost:{gateway_port}",
                                  "tls": {"ca_file": str(work / "certs" / "ca.pem")}}]}
            (work / "loopgate.json").write_text(json.dumps(config))
            loopgate_log = work / "loopgate.log"
            loopgate = subprocess.Popen(
                [*host.exec_prefix(), str(args.loopgate), "run", "--config", str(work / "loopgate.json"),
                 "--log-level", "info"],
                stdout=open(loopgate_log, "wb"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            children.append(loopgate)
            out = wait_for_line(loopgate_log, "msg=listening", loopgate)
            port = int(out.split("msg=listening", 1)[1].split("address=", 1)[1].split()[0].rsplit(":", 1)[1])
            time.sleep(2.0)  # start-up done
            idle = rate(loopgate.pid, args.seconds)
            conns = []
            for i in range(args.sessions):
                conn = wsraw.Conn(host.connect(port))
                conn.send(wsraw.upgrade_request("/echo"))
                status, _, _ = conn.read_head()
                conn.send(wsraw.frame(0x1, f"hello {i}"))
                if status != 101 or conn.read_frame() != (True, 0x1, f"hello {i}".encode()):
                    raise RuntimeError(f"session {i} did not echo (status {status})")
                conns.append(conn)
                time.sleep(args.spacing)
            time.sleep(2.0)
            busy = rate(loopgate.pid, args.seconds)
            for conn in conns:
                conn.close()
            print(f"{args.loopgate}: voluntary context switches per second over {args.seconds:g} s: "
                  f"{idle:.2f} with no session, {busy:.2f} with {args.sessions} idle sessions")
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
        host.close()


if __name__ == "__main__":
    main()
