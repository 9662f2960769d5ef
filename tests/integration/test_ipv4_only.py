"""The dual-stack trap from the design brief, reproduced on Linux.

In a private mount namespace /etc/hosts lists `::1 gateway.test` before
`127.0.0.1 gateway.test`. On [::1]:PORT a listener accepts TCP and never answers
(what a silently dropping IPv6 route looks like to a client); the real TLS test gateway
is on 127.0.0.1:PORT, the same port. A dual-stack client tries ::1 first and hangs;
loopgate resolves A records only and must connect at once."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import wsraw

HOSTS = "127.0.0.1 localhost\n::1 localhost\n::1 gateway.test\n127.0.0.1 gateway.test\n"


def namespaces_usable():
    if os.geteuid() != 0:
        return "needs root: private /etc/hosts via unshare -m and mount --bind"
    if shutil.which("unshare") is None:
        return "needs unshare(1) from util-linux"
    probe = subprocess.run(["unshare", "-m", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        return f"unshare -m is not permitted here: {probe.stderr.decode(errors='replace').strip()}"
    return None


pytestmark = pytest.mark.skipif(namespaces_usable() is not None, reason=str(namespaces_usable()))


def with_private_hosts(hosts_file, then=()):
    """A command prefix: new mount namespace, `hosts_file` over /etc/hosts, then `then` + the command."""
    script = 'mount --bind "$0" /etc/hosts && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts_file), *then]


class Trap:
    def __init__(self, black_hole, gateway, hosts_file):
        self.black_hole = black_hole  # on [::1]:port, accepts and stays silent
        self.gateway = gateway  # on 127.0.0.1:port
        self.port = gateway.port
        self.hosts_file = hosts_file


@pytest.fixture
def trap(tmp_path, start_tcp_stub, start_gateway):
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text(HOSTS)
    for _ in range(10):
        black_hole = start_tcp_stub("::1")
        try:
            gateway = start_gateway(listen=f"127.0.0.1:{black_hole.port}")
        except AssertionError:
            continue  # that port is taken on IPv4: pick another
        return Trap(black_hole, gateway, hosts_file)
    pytest.fail("found no port free on both ::1 and 127.0.0.1")


def loopgate_config(trap, certs):
    return {"routes": [{
        "name": "tailnet",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://gateway.test:{trap.port}",
        "tls": {"ca_file": str(certs / "ca.pem")},
        "timeouts": {"handshake_ms": 5000},
    }]}


def assert_session_through(loopgate, trap):
    started = time.monotonic()
    conn = wsraw.open_ws(loopgate.port, "/echo")
    upgrade_seconds = time.monotonic() - started
    conn.send(wsraw.frame(0x1, "over IPv4"))
    assert conn.expect_frame(0x1, b"over IPv4")
    conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
    assert conn.read_close() == (1000, "")
    conn.close()
    assert upgrade_seconds < 1.0, f"upgrade took {upgrade_seconds:.2f} s: something waited on a timeout"
    assert [line for line in trap.gateway.requests() if f"host=gateway.test:{trap.port}" in line]
    assert trap.black_hole.accepted == 0, "loopgate connected to [::1]"


def test_loopgate_connects_over_ipv4_when_hosts_lists_ipv6_first(trap, start_loopgate, certs):
    loopgate = start_loopgate(loopgate_config(trap, certs), wrap=with_private_hosts(trap.hosts_file))
    assert_session_through(loopgate, trap)
    summary = loopgate.wait_closed(count=1)[0]
    assert f"upstream=127.0.0.1:{trap.port}" in summary, summary


def child_pid_of(parent_pid):
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == parent_pid:
            return int(stat.parent.name)
    raise AssertionError(f"process {parent_pid} has no child")


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_loopgate_never_opens_an_ipv6_socket(trap, start_loopgate, certs, tmp_path):
    trace = tmp_path / "socket-calls.txt"
    strace = ["strace", "-f", "-e", "trace=socket", "-o", str(trace)]
    # LeakSanitizer cannot run under ptrace; in the sanitizer suite keep the
    # rest of ASan and UBSan but turn leak checking off for this process only.
    if "ASAN_OPTIONS" in os.environ:
        strace = ["env", f"ASAN_OPTIONS={os.environ['ASAN_OPTIONS']}:detect_leaks=0"] + strace
    loopgate = start_loopgate(loopgate_config(trap, certs), wrap=with_private_hosts(trap.hosts_file, strace))
    # strace is the process we started and it blocks SIGTERM, so stop loopgate itself;
    # strace then exits too, with the whole trace written.
    loopgate_pid = child_pid_of(loopgate.process.pid)
    assert "loopgate" in Path(f"/proc/{loopgate_pid}/cmdline").read_text()
    try:
        assert_session_through(loopgate, trap)
    finally:
        os.kill(loopgate_pid, signal.SIGTERM)
        loopgate.process.wait(timeout=10)
    calls = trace.read_text()
    assert "AF_INET, SOCK_STREAM" in calls, f"the trace saw no TCP socket at all:\n{calls}"
    assert "AF_INET6" not in calls, calls


# Runs inside the namespace: how the system orders the addresses, and what a stock
# dual-stack client (python-websockets) makes of them.
DUAL_STACK_CLIENT = r"""
import asyncio, json, socket, ssl, sys
import websockets

host, port, ca_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]
order = [("AF_INET6" if family == socket.AF_INET6 else "AF_INET")
         for family, *_ in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]

async def main():
    context = ssl.create_default_context(cafile=ca_file)
    try:
        async with websockets.connect(f"wss://{host}:{port}/echo", ssl=context, open_timeout=2):
            return "connected"
    except (asyncio.TimeoutError, TimeoutError):
        return "timed out"
    except Exception as error:
        return f"failed: {type(error).__name__}: {error}"

print(json.dumps({"order": order, "result": asyncio.run(main())}))
"""


def test_dual_stack_client_falls_into_the_trap(trap, certs):
    """Proves the setup above is a real trap, so the tests passing means something."""
    argv = with_private_hosts(trap.hosts_file, [sys.executable, "-c", DUAL_STACK_CLIENT,
                                               "gateway.test", str(trap.port), str(certs / "ca.pem")])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    # The resolver order is the trap itself; it must hold whatever the client does.
    assert outcome["order"][0] == "AF_INET6", outcome
    if outcome["result"] != "connected":  # a client that tries addresses in parallel may get lucky
        assert trap.black_hole.accepted >= 1, outcome
