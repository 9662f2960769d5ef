"""W1-W8, each run once for one peer. Every function returns a dict of figures (None for a figure
that was not reached within its bound) and never waits without a bound.

W1-W4 run the load client against a fresh peer in front of the one echo upstream of the run (on
127.0.0.1); the client reads the CPU of the peer's processes and the upstream's at the start and
the end of its measured window. W5/W6 hold idle sessions and read /proc. W7/W8 build two network
namespaces (tests/integration/netns.py): the echo upstream in one, the peer and the app in the
other."""

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import peers
import procs

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "integration"))
import netns  # noqa: E402

# The app-side helpers of the network-change benchmark: how an idle app learns its session ended,
# and an app that reconnects every 100 ms until a session echoes.
_spec = importlib.util.spec_from_file_location("bench_netchange", REPO / "tools" / "bench-netchange.py")
netchange = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(netchange)


class Env:
    """What every run shares: tools, certificates, the echo upstream on 127.0.0.1, the settings."""

    def __init__(self, args, build, certs, scratch):
        self.args = args
        self.build = build
        self.certs = certs
        self.scratch = scratch
        self.client = build / "tools" / "loopgate-bench-client"
        self.echo = build / "tools" / "loopgate-bench-echo"
        self.loopgate = args.loopgate
        self.upstream = None
        self.upstream_port = None

    def workdir(self, name):
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.scratch))

    def start_upstream(self):
        self.upstream = procs.Child([self.echo, "--listen", "127.0.0.1:0", "--cert", self.certs / "server.pem",
                                     "--key", self.certs / "server.key"], self.scratch / "upstream.log")
        self.upstream.wait_for_output("listening on")
        self.upstream_port = _listening_port(self.upstream)

    def setting(self, **extra):
        return peers.Setting(self.workdir("peer"), self.certs, self.upstream_port, "127.0.0.1", self.loopgate, **extra)


def _listening_port(child):
    return int(child.output().split("listening on ", 1)[1].split()[0].rsplit(":", 1)[1])


def upstream_stats(child, timeout=5.0):
    """The echo upstream's counters (SIGUSR1 makes it print one line)."""
    before = child.output().count("stats ")
    child.proc.send_signal(10)  # SIGUSR1
    child.wait_for_output("stats ", timeout=timeout, count=before + 1)
    line = [l for l in child.output().splitlines() if l.startswith("stats ")][-1]
    return {k: int(v) for k, v in (f.split("=") for f in line.split()[1:])}


def run_client(env, peer, args, timeout):
    argv = [env.client, "--url", peer.url, "--ca", env.certs / "ca.pem", *map(str, args)]
    if peer.connect_to:
        argv += ["--connect-to", peer.connect_to]
    if peer.pids():
        argv += ["--watch", "proxy=" + ",".join(map(str, peer.pids()))]
    argv += ["--watch", f"upstream={env.upstream.pid}"]
    done = subprocess.run(list(map(str, argv)), capture_output=True, text=True, timeout=timeout)
    lines = [l for l in done.stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise RuntimeError(f"the load client printed no result (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    result = json.loads(lines[-1])
    result["exit"] = done.returncode
    return result


def _with_peer(env, name, body, **setting):
    peer = peers.start(name, env.setting(**setting))
    try:
        return body(peer)
    finally:
        peer.stop()


def _common(result, peer):
    seconds = result["seconds"]
    cpu = result["cpu_s"]
    out = {"errors": sum(result["errors"].values()), "error_kinds": result["errors"],
           "client_cpu_share": cpu["client"] / seconds, "upstream_cpu_share": cpu.get("upstream", 0) / seconds}
    if "proxy" in cpu:
        out["proxy_cpu_share"] = cpu["proxy"] / seconds
    return out


# ---------------------------------------------------------------------------------------------
# W1-W4

def w1(env, name):
    d = env.args.durations
    def body(peer):
        r = run_client(env, peer, ["--conns", 50, "--inflight", 4, "--size", 64, "--warmup", d["warmup"],
                                   "--duration", d["w1"]], timeout=d["w1"] + d["warmup"] + 60)
        out = {"msgs_per_s": r["msgs_per_s"], **_common(r, peer)}
        if "proxy" in r["cpu_s"] and r["messages"]:
            out["cpu_us_per_msg"] = r["cpu_s"]["proxy"] / r["messages"] * 1e6
        return out
    return _with_peer(env, name, body)


def w2(env, name):
    d = env.args.durations
    def body(peer):
        r = run_client(env, peer, ["--conns", 1, "--inflight", 4, "--size", 1 << 20, "--warmup", d["warmup"],
                                   "--duration", d["w2"]], timeout=d["w2"] + d["warmup"] + 60)
        out = {"mb_per_s": r["mb_per_s"], **_common(r, peer)}
        if "proxy" in r["cpu_s"] and r["bytes"]:
            out["cpu_us_per_mb"] = r["cpu_s"]["proxy"] / (r["bytes"] / 1e6) * 1e6
        return out
    return _with_peer(env, name, body)


def w3(env, name):
    d = env.args.durations
    def body(peer):
        r = run_client(env, peer, ["--conns", 1, "--inflight", 1, "--size", 64, "--warmup", d["warmup"],
                                   "--duration", d["w3"]], timeout=d["w3"] + d["warmup"] + 60)
        return {"p50_us": r["p50_us"], "p99_us": r["p99_us"], **_common(r, peer)}
    return _with_peer(env, name, body)


def w4(env, name):
    d = env.args.durations
    def body(peer):
        before = upstream_stats(env.upstream)
        metrics_before = peer.metrics()
        r = run_client(env, peer, ["--mode", "open", "--openers", 8, "--warmup", d["warmup"],
                                   "--duration", d["w4"]], timeout=d["w4"] + d["warmup"] + 60)
        after = upstream_stats(env.upstream)
        handshakes = after["handshakes"] - before["handshakes"]
        resumed = after["resumed"] - before["resumed"]
        out = {"sessions_per_s": r["sessions_per_s"], "upstream_handshakes": handshakes, "openers": 8,
               "full_handshakes": handshakes - resumed,
               "resumed_share": resumed / handshakes if handshakes else None,
               "tls13_share": (after["tls13"] - before["tls13"]) / handshakes if handshakes else None,
               **_common(r, peer)}
        if "proxy" in r["cpu_s"] and r["sessions"]:
            out["cpu_us_per_session"] = r["cpu_s"]["proxy"] / r["sessions"] * 1e6
        if peer.admin_port:
            m = peer.metrics()
            key = 'loopgate_tls_handshakes_total{route="bench",resumed="%s"}'
            full = m.get(key % "false", 0) - metrics_before.get(key % "false", 0)
            res = m.get(key % "true", 0) - metrics_before.get(key % "true", 0)
            out["loopgate_resumed_share"] = res / (full + res) if full + res else None
        return out
    return _with_peer(env, name, body)


# ---------------------------------------------------------------------------------------------
# W5 and W6: idle sessions held

class Holder:
    """The load client in hold mode: opens `count` sessions (one echo each) and keeps them idle."""

    def __init__(self, env, peer, count, workdir, open_timeout):
        argv = [env.client, "--url", peer.url, "--ca", env.certs / "ca.pem", "--mode", "hold", "--conns", count,
                "--open-concurrency", 64, "--timeout", open_timeout]
        self.child = procs.Child(argv, workdir / "holder.log", stdin=subprocess.PIPE,
                                 stdout=open(workdir / "holder.out", "wb"))
        self.out = workdir / "holder.out"
        self.count = count

    def _event(self, event, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for line in self.out.read_text(errors="replace").splitlines():
                if line.startswith("{") and json.loads(line).get("event") == event:
                    return json.loads(line)
            if not self.child.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the holder did not report {event!r}: {self.child.output()[-500:]}")
            time.sleep(0.05)

    def held(self, timeout):
        return self._event("held", timeout)

    def verify(self, timeout=30.0):
        self.child.proc.stdin.write(b"verify\n")
        self.child.proc.stdin.flush()
        return self._event("verified", timeout)

    def stop(self):
        try:
            self.child.proc.stdin.close()
            self.child.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.child.stop()


def wakeups_per_s(pids, window):
    before = procs.voluntary_switches(pids)
    time.sleep(window)
    return (procs.voluntary_switches(pids) - before) / window


def hold_sessions(env, name, count, nofile=None, wakeups_window=None):
    """Memory per idle session (PSS after - before, over the sessions held), optionally the
    wakeups with no session and with them; then every held session echoes once more."""
    workdir = env.workdir(f"hold-{name}")
    peer = peers.start(name, env.setting(sessions=count, nofile=nofile))
    holder = None
    try:
        pids = peer.pids()
        time.sleep(0.5)
        out = {"wanted": count}
        if wakeups_window:
            out["wakeups_idle"] = wakeups_per_s(pids, wakeups_window)
        before = procs.pss_kib(pids)
        holder = Holder(env, peer, count, workdir, open_timeout=env.args.durations["open_timeout"])
        held = holder.held(timeout=60 + count / 20)
        time.sleep(1.0)
        after = procs.pss_kib(peer.pids())
        out.update(held=held["held"], failed=held["failed"], lost=held["lost"], failures=held["errors"],
                   pss_before_kib=before, pss_after_kib=after,
                   kib_per_session=(after - before) / held["held"] if held["held"] else None)
        if wakeups_window:
            # Long enough to hold a whole ping cycle of every session (loopgate pings each one
            # 15 s after it opened, then every 15 s).
            out["wakeups_window_s"] = env.args.durations["w6_sessions"]
            out["wakeups_sessions"] = wakeups_per_s(peer.pids(), out["wakeups_window_s"])
        verified = holder.verify()
        out.update(verified=verified["verified"], verify_failed=verified["failed"])
        return out
    finally:
        if holder is not None:
            holder.stop()
        peer.stop()


def w5_w6(env, name):
    """W5 at the fixed count (with W6 measured around it), and at the file limit."""
    args = env.args
    out = {"fixed": hold_sessions(env, name, args.w5_sessions, wakeups_window=args.durations["w6"])}
    out["max"] = hold_sessions(env, name, args.w5_max_sessions, nofile=args.fd_limit)
    return out


# ---------------------------------------------------------------------------------------------
# W7 and W8: network namespaces

class Namespaces:
    """The app's and the proxy's namespace, and the upstream's, with the echo upstream in it."""

    def __init__(self, env, listen_any=False):
        self.client = netns.ClientHost()
        self.host = None
        self.echo = None
        try:
            self.host = netns.GatewayHost(self.client)
            self.path = self.host.path
            listen = "0.0.0.0" if listen_any else self.path.gateway_ip
            self.echo = procs.Child([env.echo, "--listen", f"{listen}:0", "--cert", env.certs / "server.pem",
                                     "--key", env.certs / "server.key"], env.workdir("ns-echo") / "echo.log",
                                    wrap=self.host.exec_prefix())
            self.echo.wait_for_output("listening on")
            self.port = _listening_port(self.echo)
        except Exception:
            self.close()
            raise

    def setting(self, env, connect_ip, wrap=None):
        return peers.Setting(env.workdir("ns-peer"), env.certs, self.port, connect_ip, env.loopgate,
                             wrap=wrap if wrap is not None else self.client.exec_prefix(),
                             connect=self.client.connect, free_port=self.client.free_port)

    def close(self):
        if self.echo is not None:
            self.echo.stop()
        if self.host is not None:
            self.host.close()
        self.client.close()


def w7(env, name):
    """Link down under an idle session: time until the app is told; then the link back: time
    until a new session is served (the app retrying every 100 ms)."""
    bound = env.args.durations["w7"]
    restore_after = 1.0
    spaces = Namespaces(env)
    peer = None
    try:
        peer = peers.start(name, spaces.setting(env, spaces.path.gateway_ip))
        conn = netchange.open_session(spaces.client, peer.port)
        spaces.host.set_link(spaces.path, up=False)
        told_s, how = netchange.wait_for_notice(conn, bound)
        conn.close()
        reconnector = netchange.Reconnector(spaces.client, peer.port, restore_after + bound)
        reconnector.start()
        time.sleep(restore_after)
        spaces.host.set_link(spaces.path, up=True)
        up_at = time.monotonic()
        reconnector.join(timeout=restore_after + bound + 15)
        back = reconnector.succeeded_at - up_at if reconnector.succeeded_at else None
        return {"told_s": told_s, "told_how": how, "back_s": back, "bound_s": bound,
                "retries_failed": dict(reconnector.failures)}
    finally:
        if peer is not None:
            peer.stop()
        spaces.close()


def _resolved_order(wrap, timeout=10):
    done = subprocess.run([*map(str, wrap), "getent", "ahosts", peers.NAME], capture_output=True, text=True,
                          timeout=timeout)
    order = []
    for line in done.stdout.splitlines():
        address = line.split()[0]
        if address not in order:
            order.append(address)
    return order


def w8(env, name, case):
    """The first session through the proxy when gateway.test resolves to a trap first: an IPv6
    address that black-holes ("trap"), or a dead IPv4 address before the live one ("dead first").
    Time from the app's first connect (the proxy just started and listens) to the first served
    session, the app retrying every 100 ms after a failure."""
    bound = env.args.durations["w8"]
    spaces = Namespaces(env, listen_any=True)
    peer = None
    try:
        live = spaces.path.gateway_ip
        if case == "trap":
            first = spaces.host.add_ipv6_trap(spaces.path)
        else:
            dead = spaces.host.add_path()
            spaces.host.set_black_hole(dead, on=True)
            first = dead.gateway_ip
        workdir = env.workdir("hosts")
        hosts = workdir / "hosts"
        hosts.write_text(f"127.0.0.1 localhost\n{first} {peers.NAME}\n{live} {peers.NAME}\n")
        wrap = [*spaces.client.exec_prefix(), *netns.with_private_hosts(hosts)]
        order = _resolved_order(wrap)
        peer = peers.start(name, spaces.setting(env, None, wrap=wrap))
        started = time.monotonic()
        reconnector = netchange.Reconnector(spaces.client, peer.port, bound)
        reconnector.run()  # in this thread: bounded by its own deadline
        served = reconnector.succeeded_at - started if reconnector.succeeded_at else None
        return {"served_s": served, "bound_s": bound, "resolved": order, "retries_failed": dict(reconnector.failures)}
    finally:
        if peer is not None:
            peer.stop()
        spaces.close()


def w8_trap(env, name):
    return w8(env, name, "trap")


def w8_dead(env, name):
    return w8(env, name, "dead first")

