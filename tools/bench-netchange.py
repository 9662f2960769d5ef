#!/usr/bin/env python3
"""How fast an app learns that its upstream is gone, and how fast it gets a working one back:
loopgate next to nginx and HAProxy, each a ws:// -> wss:// proxy in front of the same gateway.

The topology is the integration tests' (tests/integration/netns.py): the TLS test gateway runs in
a network namespace of its own, reached over a veth pair in 100.64.0.0/10 like a tailnet peer; the
proxy under test and the app run in a second namespace, so the proxy sees the changes to its end
of that pair and nothing else that happens on the machine. For each proxy and event, every run:

  1. starts fresh namespaces, gateway and proxy, opens one app session and checks it echoes;
  2. causes the event: "link down" (the host end of the veth goes down: loopgate's namespace sees
     it) or "black hole" (inside the gateway's namespace, every packet back to the proxy is
     dropped: nothing to see locally, no reset, no ICMP), right after the session's first echo:
     for loopgate's ping cycle, which starts with the session, the worst moment (a whole
     ping_interval_ms passes before the first ping that can go unanswered);
  3. measures the time until the idle app learns of it (a close frame, or the TCP connection
     ending), waiting at most --close-wait seconds;
  4. from then on the app reconnects the way apps do: a new session, and after any failure another
     one 100 ms later; 2 s after step 3 the path comes back (link up, black hole removed);
  5. measures the time from the path's return to the first session that upgrades and echoes.

A case whose first run gets no close within --close-wait is not run again: every further run
would only wait out the same bound. Proxies run with their packaged defaults plus what a
WebSocket deployment needs (see nginx_config and haproxy_config); loopgate with its defaults.

Needs root (namespaces). Installs nginx-light and haproxy with apt-get when they are missing.
Prints a Markdown table; docs/benchmarks.md has the results and the command that made them.
Not a test: nothing here passes or fails."""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import netns  # noqa: E402  (the integration tests' topology helper)
import wsraw  # noqa: E402

GATEWAY_NAME = "gateway.test"
RESTORE_AFTER_S = 2.0
RETRY_PAUSE_S = 0.1


# ---------------------------------------------------------------------------------------------
# Processes

class Child:
    """A background process with its output in a file."""

    def __init__(self, argv, log_path, wrap=()):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen([*wrap, *map(str, argv)], stdout=self._log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        return self.log_path.read_text(errors="replace")

    def wait_for_output(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.proc.args[0]} did not print {text!r}:\n{self.output()}")
            time.sleep(0.02)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def wait_listening(client, port, child, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.connect(port, timeout=0.5).close()
            return
        except OSError:
            if child.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{child.proc.args[0]} is not listening on {port}:\n{child.output()}")
            time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# The proxies, each started on `client` (in `workdir`) in front of the gateway at ip:port.

def start_loopgate(client, build, workdir, certs, ip, port, liveness=None):
    route = {
        "name": "tailnet",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://{GATEWAY_NAME}:{port}",
        "connect_to": ip,
        "tls": {"ca_file": str(certs / "ca.pem")},
    }
    if liveness:
        route["liveness"] = liveness
    config = {"routes": [route]}
    path = workdir / "loopgate.json"
    path.write_text(json.dumps(config))
    child = Child([build / "daemon" / "loopgate", "run", "--config", path], workdir / "loopgate.log",
                  wrap=client.exec_prefix())
    child.wait_for_output("msg=listening")
    listen = child.output().split("msg=listening", 1)[1].split("address=", 1)[1].split()[0]
    return child, int(listen.rsplit(":", 1)[1])


def start_loopgate_tuned(client, build, workdir, certs, ip, port):
    """loopgate with pings every 5 s and a 3 s pong deadline instead of 15 s and 10 s: a dead
    path without a local network change is then found within 8 s, for a ping every 5 s."""
    return start_loopgate(client, build, workdir, certs, ip, port, {"ping_interval_ms": 5000, "ping_timeout_ms": 3000})


def nginx_config(workdir, certs, ip, port, listen_port):
    # The WebSocket proxying setup from nginx's own documentation (HTTP/1.1, Upgrade and
    # Connection passed on), TLS verified by name, and the read/send timeouts raised from their
    # 60 s default to an hour, as WebSocket guides say: at 60 s nginx would cut every idle
    # session, healthy or not. Everything else is nginx's default.
    return f"""
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    server {{
        listen 127.0.0.1:{listen_port};
        location / {{
            proxy_pass https://{ip}:{port};
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host {GATEWAY_NAME}:{port};
            proxy_ssl_server_name on;
            proxy_ssl_name {GATEWAY_NAME};
            proxy_ssl_verify on;
            proxy_ssl_trusted_certificate {certs / "ca.pem"};
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }}
    }}
}}
"""


def start_nginx(client, build, workdir, certs, ip, port):
    listen_port = client.free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, certs, ip, port, listen_port))
    child = Child(["nginx", "-p", workdir, "-c", conf, "-e", workdir / "nginx-error.log"], workdir / "nginx.log",
                  wrap=client.exec_prefix())
    wait_listening(client, listen_port, child)
    return child, listen_port


def haproxy_config(certs, ip, port, listen_port):
    # Debian's packaged defaults (mode http, connect 5 s, client/server 50 s), plus
    # `timeout tunnel 1h` as HAProxy's documentation advises for WebSocket (the 50 s client and
    # server timeouts would otherwise cut every idle session), and a health check (`check`,
    # every 2 s, down after 3 failures, up after 2 successes), as most deployments have.
    return f"""
global
    maxconn 4096
defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s
    timeout tunnel 1h
frontend app
    bind 127.0.0.1:{listen_port}
    default_backend gateway
backend gateway
    http-request set-header Host {GATEWAY_NAME}:{port}
    server gw {ip}:{port} ssl verify required ca-file {certs / "ca.pem"} sni str({GATEWAY_NAME}) verifyhost {GATEWAY_NAME} check
"""


def start_haproxy(client, build, workdir, certs, ip, port):
    listen_port = client.free_port()
    conf = workdir / "haproxy.cfg"
    conf.write_text(haproxy_config(certs, ip, port, listen_port))
    child = Child(["haproxy", "-db", "-f", conf], workdir / "haproxy.log", wrap=client.exec_prefix())
    wait_listening(client, listen_port, child)
    return child, listen_port


PROXIES = {"loopgate": start_loopgate, "loopgate-tuned": start_loopgate_tuned, "nginx": start_nginx,
           "haproxy": start_haproxy}


# ---------------------------------------------------------------------------------------------
# Events

def link_down(host, path, on):
    host.set_link(path, up=not on)


def black_hole(host, path, on):
    host.set_black_hole(path, on=on)


EVENTS = {"link down": link_down, "black hole": black_hole}


# ---------------------------------------------------------------------------------------------
# What the app sees

def session_echoes(client, port, timeout):
    """One new app session: upgrade and one echo. Returns (ok, what happened)."""
    try:
        conn = wsraw.Conn(client.connect(port, timeout=min(timeout, 5.0)))
    except OSError as error:
        return False, f"connect: {error.strerror or error}"
    try:
        conn.send(wsraw.upgrade_request("/echo"))
        status, _, _ = conn.read_head(timeout=timeout)
        if status != 101:
            return False, str(status)
        conn.send(wsraw.frame(0x1, "hello again"))
        return conn.read_frame(timeout=timeout) == (True, 0x1, b"hello again"), "101"
    except socket.timeout:
        return False, "no answer"
    except (OSError, EOFError, ValueError, IndexError) as error:
        return False, f"ended: {type(error).__name__}"
    finally:
        conn.close()


def wait_for_notice(conn, limit):
    """How the idle app learns its session is over: (seconds or None, description)."""
    started = time.monotonic()
    try:
        code, reason = conn.read_close(timeout=limit)
        return time.monotonic() - started, f"close {code}" + (f' "{reason}"' if reason else "")
    except socket.timeout:
        return None, f"no close within {limit:g} s"
    except EOFError:
        return time.monotonic() - started, "TCP end, no close frame"
    except OSError as error:
        return time.monotonic() - started, f"TCP error ({error.strerror or error}), no close frame"


class Reconnector(threading.Thread):
    """An app reconnecting: a new session, and another 100 ms after each failure, until one
    echoes or `limit` seconds passed. Each attempt waits for its answer as long as the limit lets."""

    def __init__(self, client, port, limit):
        super().__init__(daemon=True)
        self.client = client
        self.port = port
        self.deadline = time.monotonic() + limit
        self.succeeded_at = None
        self.failures = {}

    def run(self):
        while time.monotonic() < self.deadline:
            ok, what = session_echoes(self.client, self.port, max(0.1, self.deadline - time.monotonic()))
            if ok:
                self.succeeded_at = time.monotonic()
                return
            self.failures[what] = self.failures.get(what, 0) + 1
            time.sleep(RETRY_PAUSE_S)


# ---------------------------------------------------------------------------------------------
# One run

class RunResult:
    def __init__(self, notice_s, notice, recovery_s, failures):
        self.notice_s = notice_s
        self.notice = notice
        self.recovery_s = recovery_s
        self.failures = failures


def open_session(client, port):
    conn = wsraw.Conn(client.connect(port))
    conn.send(wsraw.upgrade_request("/echo"))
    status, _, _ = conn.read_head()
    conn.send(wsraw.frame(0x1, "hello"))
    if status != 101 or conn.read_frame() != (True, 0x1, b"hello"):
        raise RuntimeError(f"the first session did not echo (status {status})")
    return conn


def run_once(proxy, event, args, certs, workdir):
    client = netns.ClientHost()
    host = netns.GatewayHost(client)
    children = []
    try:
        path = host.path
        gateway = Child([args.build / "tools" / "loopgate-test-gateway", "--listen", f"{path.gateway_ip}:0",
                         "--cert", certs / "server.pem", "--key", certs / "server.key"],
                        workdir / "gateway.log", wrap=host.exec_prefix())
        children.append(gateway)
        gateway.wait_for_output("listening on")
        gateway_port = int(gateway.output().split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])
        child, port = PROXIES[proxy](client, args.build, workdir, certs, path.gateway_ip, gateway_port)
        children.append(child)
        conn = open_session(client, port)

        EVENTS[event](host, path, True)
        notice_s, notice = wait_for_notice(conn, args.close_wait)
        conn.close()
        reconnector = Reconnector(client, port, RESTORE_AFTER_S + args.recovery_wait)
        reconnector.start()
        time.sleep(RESTORE_AFTER_S)
        EVENTS[event](host, path, False)
        restored_at = time.monotonic()
        reconnector.join()
        recovery_s = reconnector.succeeded_at - restored_at if reconnector.succeeded_at else None
        return RunResult(notice_s, notice, recovery_s, reconnector.failures)
    finally:
        for child in reversed(children):
            child.stop()
        host.close()
        client.close()


# ---------------------------------------------------------------------------------------------
# Table

def seconds_summary(values, missing):
    if not values:
        return missing
    return f"{statistics.median(values):.2f} / {max(values):.2f}"


def describe_failures(results):
    seen = {}
    for result in results:
        for what, count in result.failures.items():
            seen[what] = seen.get(what, 0) + count
    if not seen:
        return "none failed: the first one waited, then was served"
    return ", ".join(f"{what} ×{count}" for what, count in sorted(seen.items(), key=lambda item: -item[1]))


def table_row(proxy, event, results, args):
    noticed = [r.notice_s for r in results if r.notice_s is not None]
    recovered = [r.recovery_s for r in results if r.recovery_s is not None]
    how = sorted({r.notice for r in results})
    told = seconds_summary(noticed, f"no close within {args.close_wait:g} s")
    if noticed and len(noticed) < len(results):
        told += f" ({len(results) - len(noticed)} runs: none within {args.close_wait:g} s)"
    back = seconds_summary(recovered, f"none within {args.recovery_wait:g} s")
    return (f"| {proxy} | {event} | {len(results)} | {told} | {'; '.join(how)} | {back} | "
            f"{describe_failures(results)} |")


TABLE_HEAD = """| proxy | event | runs | app told, s (median / max) | what the app got | path back → first new session, s (median / max) | app's reconnect attempts before that |
|---|---|---|---|---|---|---|"""


# ---------------------------------------------------------------------------------------------
# Setup

def ensure_packages(install):
    missing = [name for name, binary in (("nginx-light", "nginx"), ("haproxy", "haproxy")) if not shutil.which(binary)]
    if not missing:
        return
    if not install:
        sys.exit(f"missing: {', '.join(missing)} (run without --no-install to apt-get them)")
    # Keep the packages' maintainer scripts from starting system services (nginx on port 80).
    policy = Path("/usr/sbin/policy-rc.d")
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    finally:
        if created:
            policy.unlink()


def tool_versions():
    loopgate = "loopgate " + subprocess.run([str(ARGS.build / "daemon" / "loopgate"), "--version"],
                                            capture_output=True, text=True).stdout.strip().split()[-1]
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    haproxy = subprocess.run(["haproxy", "-v"], capture_output=True, text=True).stdout.split()[2]
    return f"{loopgate}, nginx {nginx}, HAProxy {haproxy}, Linux {os.uname().release}"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per proxy and event (default 5)")
    parser.add_argument("--close-wait", type=float, default=60.0,
                        help="seconds to wait for the app to be told (default 60)")
    parser.add_argument("--recovery-wait", type=float, default=60.0,
                        help="seconds after the path's return to wait for a working session (default 60)")
    parser.add_argument("--proxies", default=",".join(PROXIES), help=f"any of {', '.join(PROXIES)}")
    parser.add_argument("--events", default="link down,black hole")
    parser.add_argument("--build", type=Path, default=Path(os.environ.get("LOOPGATE_BUILD_DIR", REPO / "build")))
    parser.add_argument("--no-install", action="store_true", help="do not apt-get missing proxies")
    return parser.parse_args()


def make_certs(directory):
    subprocess.run(["bash", str(REPO / "tools" / "gen-certs.sh"), str(directory)], check=True)
    return directory


def bench_case(proxy, event, certs, scratch):
    results = []
    for run in range(ARGS.runs):
        workdir = Path(tempfile.mkdtemp(prefix=f"{proxy}-", dir=scratch))
        result = run_once(proxy, event, ARGS, certs, workdir)
        results.append(result)
        recovered = f"{result.recovery_s:.2f} s" if result.recovery_s is not None else "never"
        print(f"  {proxy:8} {event:10} run {run + 1}: {result.notice}"
              + (f" after {result.notice_s:.2f} s" if result.notice_s is not None else "")
              + f"; new session {recovered} after the path's return", file=sys.stderr, flush=True)
        if result.notice_s is None:
            break  # every further run would wait out the same bound
    return results


def main():
    if os.geteuid() != 0:
        sys.exit("bench-netchange.py needs root: it creates network namespaces")
    reason = netns.unusable_reason()
    if reason:
        sys.exit(f"cannot use network namespaces: {reason}")
    proxies = ARGS.proxies.split(",")
    if {"nginx", "haproxy"} & set(proxies):
        ensure_packages(not ARGS.no_install)
    netns.remove_leftovers()
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-netchange-") as scratch:
        certs = make_certs(Path(scratch) / "certs")
        for event in ARGS.events.split(","):
            for proxy in proxies:
                rows.append(table_row(proxy, event, bench_case(proxy, event, certs, scratch), ARGS))
    print(f"{tool_versions()}; {ARGS.runs} runs per case; {time.monotonic() - started:.0f} s in all\n")
    print(TABLE_HEAD)
    print("\n".join(rows))


if __name__ == "__main__":
    ARGS = parse_args()
    # Stopped early (also from a background job, where SIGINT is ignored): unwind, so every
    # run's finally block stops its processes and deletes its namespaces.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench-netchange.py: stopped"))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
