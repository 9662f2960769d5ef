"""The network changing under loopgate: what apps see, and what loopgate does about it.

The gateway runs on its own host: a network namespace this test creates, reached over a veth pair
with addresses in 100.64.0.0/10 like a tailnet peer (see netns.py). loopgate and the test's app
sockets run in a second namespace, loopgate's host: its netlink watcher sees what happens to its
end of that pair and nothing of what happens inside the gateway's namespace, nor anything else on
the machine (other test runs included). The test gateway serves the test certificate for
gateway.test; loopgate reaches it by `connect_to` or, where name resolution is the point, by a
private /etc/hosts in a mount namespace of its own.

Timings are asserted only as generous upper bounds: these tests prove what happens, not how
fast (tools/bench-netchange.py measures that)."""

import os
import signal
import socket
import threading
import time

import pytest

import netns
import wsraw
from conftest import parse_logfmt
from http_upstream import HttpUpstream
from httpraw import HttpConn

REASON = netns.unusable_reason()
pytestmark = pytest.mark.skipif(REASON is not None, reason=str(REASON))

TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
NETWORK_CHANGED = r'msg="network changed"'
PROBE_LOST_REASON = "upstream lost after network change"
# What the route lookup after a change says when the upstream's address has no route any more.
ROUTE_GONE_REASON = "no route to the upstream after network change (Network is unreachable)"
# A probe that waits 10 s for its pong: a close sooner than that is the route lookup's doing.
LONG_PROBE = {"probe_timeout_ms": 10000}
SOONER_THAN_THE_PROBE_S = 9.0
# Link down, probe deadline and debounce fit many times over; a TCP timeout would not.
NOTICE_BOUND_S = 10.0


@pytest.fixture(scope="module", autouse=True)
def no_leftovers_of_crashed_runs():
    netns.remove_leftovers()


@pytest.fixture
def client_host():
    host = netns.ClientHost()
    yield host
    host.close()


@pytest.fixture
def gateway_host(client_host):
    host = netns.GatewayHost(client_host)
    yield host
    host.close()


@pytest.fixture
def unrelated_interface(client_host):
    return netns.UnrelatedInterface(client_host)  # goes with loopgate's namespace


class App:
    """An app on loopgate's host: its connections to loopgate start in loopgate's namespace."""

    def __init__(self, client, port):
        self.client = client
        self.port = port

    def connect(self):
        return wsraw.Conn(self.client.connect(self.port))

    def begin_upgrade(self, path="/echo"):
        """Sends an upgrade request and returns without waiting for the answer."""
        conn = self.connect()
        conn.send(wsraw.upgrade_request(path))
        return conn

    def open_ws(self, path="/echo"):
        conn = self.begin_upgrade(path)
        status, _, _ = conn.read_head()
        assert status == 101, f"expected 101, got {status}"
        return conn

    def exchange(self, data, timeout=10.0):
        """Sends raw bytes as one request; returns the HTTP response (status, headers, body)."""
        conn = self.connect()
        try:
            conn.send(data)
            return conn.read_response(timeout)
        finally:
            conn.close()


@pytest.fixture
def start_client_loopgate(start_loopgate, client_host):
    """Starts loopgate on loopgate's host, optionally with a private /etc/hosts; `.app` reaches it."""

    def start(config, hosts_file=None):
        wrap = client_host.exec_prefix()
        if hosts_file:
            wrap += netns.with_private_hosts(hosts_file)
        loopgate = start_loopgate(config, wrap=wrap)
        loopgate.app = App(client_host, loopgate.port)
        return loopgate

    return start


@pytest.fixture
def start_remote_gateway(start_gateway, gateway_host):
    """Starts the test gateway on the gateway's host, listening on one of its addresses."""

    def start(path=None, port=0, extra=()):
        address = (path or gateway_host.path).gateway_ip
        return start_gateway(listen=f"{address}:{port}", extra=list(extra), wrap=gateway_host.exec_prefix())

    return start


def tailnet_config(certs, port, connect_to=None, liveness=None, reconnect=None, network=None):
    """One route to wss://gateway.test:PORT with deadlines short enough for a test."""
    route = {
        "name": "tailnet",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://gateway.test:{port}",
        "tls": {"ca_file": str(certs / "ca.pem")},
        "timeouts": {"connect_ms": 1000, "handshake_ms": 3000},
        # No periodic pings unless a test asks: every ping the gateway sees then comes from a probe.
        "liveness": {"ping_interval_ms": 0, "probe_timeout_ms": 1000, **(liveness or {})},
        "reconnect": {"hold_ms": 10000, "backoff_initial_ms": 100, "backoff_max_ms": 400, **(reconnect or {})},
    }
    if connect_to:
        route["connect_to"] = connect_to
    # A session a failed test left open must not hold up loopgate's exit for long.
    return {"routes": [route], "network": {"debounce_ms": 200, **(network or {})}, "shutdown_timeout_ms": 1000}


def echoes_byte_exact(conn, payload):
    conn.send(wsraw.frame(BINARY, payload))
    return conn.expect_frame(BINARY, payload)


def assert_no_answer_for(conn, seconds):
    """The app is held: nothing arrives, the connection stays open."""
    try:
        conn.fill(seconds)
    except socket.timeout:
        return
    except EOFError:
        raise AssertionError("loopgate closed the held connection instead of holding it")
    raise AssertionError(f"expected the app to be held, but it got an answer: {conn.buf[:200]!r}")


def finish_close(conn, code, reason=""):
    """Answers the close frame the app got and waits for loopgate to end the connection."""
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(code, reason)))
    assert conn.read_until_eof() == b""
    conn.close()


def wait_for_close(conn):
    """The close frame the app gets, and how long it took to come."""
    started = time.monotonic()
    code, reason = conn.read_close(timeout=NOTICE_BOUND_S + 5)
    return code, reason, time.monotonic() - started


def loopgate_pings_seen_by(gateway):
    return [line for line in gateway.process.stdout().splitlines()
            if line.startswith('control opcode=ping payload="loopgate-')]


UNRELATED_ADDRESS = "192.0.2.10/32"  # TEST-NET-1


class NetworkChurn(threading.Thread):
    """Adds and removes an address on an unrelated interface every `every_s` seconds, for at
    most `for_s` seconds."""

    def __init__(self, interface, every_s, for_s):
        super().__init__(daemon=True)
        self.interface = interface
        self.every_s = every_s
        self.until = time.monotonic() + for_s
        self.changes = 0
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(self.every_s) and time.monotonic() < self.until:
            self.interface.set_address(UNRELATED_ADDRESS, present=self.changes % 2 == 0)
            self.changes += 1

    def stop(self):
        self._stopping.set()
        self.join(timeout=5)


def wait_until(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# ---------------------------------------------------------------------------------------------
# Link down: a change loopgate's own namespace sees.

def test_link_down_closes_an_idle_session_with_1012_and_a_new_app_is_held_until_the_link_is_back(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway()
    path = gateway_host.path
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port, connect_to=path.gateway_ip))
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"before the outage")

    gateway_host.set_link(path, up=False)
    code, reason, seconds = wait_for_close(conn)
    assert (code, reason) == (1012, ROUTE_GONE_REASON)
    assert seconds < NOTICE_BOUND_S
    finish_close(conn, 1012, reason)
    summary = loopgate.wait_closed()
    assert 'closed_by=loopgate' in summary[0], summary
    loopgate.process.wait_for(r'msg="upstream down" route=tailnet')

    held = loopgate.app.begin_upgrade()
    assert_no_answer_for(held, 1.0)
    gateway_host.set_link(path, up=True)
    status, _, _ = held.read_head(timeout=NOTICE_BOUND_S)
    assert status == 101
    assert echoes_byte_exact(held, b"after the outage")
    loopgate.process.wait_for(r'msg="upstream up" route=tailnet')


def test_link_down_closes_the_session_over_it_at_once_by_its_route_and_keeps_the_one_over_another_link(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    first, second = gateway_host.path, gateway_host.add_path()
    gateway = start_remote_gateway(first)
    other_gateway = start_remote_gateway(second, extra=["--log-control-frames"])
    config = tailnet_config(certs, gateway.port, connect_to=first.gateway_ip, liveness=LONG_PROBE)
    config["routes"].append(dict(config["routes"][0], name="other", connect_to=second.gateway_ip,
                                 upstream=f"wss://gateway.test:{other_gateway.port}"))
    loopgate = start_client_loopgate(config)
    over_first = loopgate.app.open_ws()
    over_second = App(loopgate.app.client, int(loopgate.addresses["other"].rsplit(":", 1)[1])).open_ws()
    assert echoes_byte_exact(over_first, b"over the first link")
    assert echoes_byte_exact(over_second, b"over the second link")

    gateway_host.set_link(first, up=False)
    # No pong is awaited: the kernel has no route to the first gateway any more.
    assert over_first.read_close(timeout=SOONER_THAN_THE_PROBE_S) == (1012, ROUTE_GONE_REASON)
    finish_close(over_first, 1012, ROUTE_GONE_REASON)
    loopgate.process.wait_for(r'msg="probing upstream sessions" route=tailnet sessions=0 closed_path_gone=1')
    # The other session's route did not change: it was probed as before, answered, and is kept.
    loopgate.process.wait_for(r'msg="probing upstream sessions" route=other sessions=1 closed_path_gone=0')
    wait_until(lambda: loopgate_pings_seen_by(other_gateway), 5, "the probe of the session over the second link")
    assert echoes_byte_exact(over_second, os.urandom(64 * 1024))
    summaries = loopgate.wait_closed()
    assert len(summaries) == 1 and "route=tailnet" in summaries[0], summaries


def test_route_moved_to_another_link_closes_the_session_still_sent_from_the_old_address(
        gateway_host, start_gateway, start_client_loopgate, certs):
    first, second = gateway_host.path, gateway_host.add_path()
    # The gateway answers on an address of its own host reachable over either link, as a tailnet
    # peer is; loopgate's host routes it over the first link to start with.
    service_ip = "100.100.0.1"
    gateway_host.ip("addr", "add", f"{service_ip}/32", "dev", "lo")
    gateway_host.client.ip("route", "add", f"{service_ip}/32", "via", first.gateway_ip)
    gateway = start_gateway(listen=f"{service_ip}:0", wrap=gateway_host.exec_prefix())
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port, connect_to=service_ip, liveness=LONG_PROBE))
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"over the first link")

    # The old path still works, so a probe would be answered: only the source address the kernel
    # now picks tells the session is no longer on the route.
    gateway_host.client.ip("route", "replace", f"{service_ip}/32", "via", second.gateway_ip)
    expected = (f"route to the upstream changed: it now leaves from {second.client_ip}, "
                f"not from {first.client_ip}")
    assert conn.read_close(timeout=SOONER_THAN_THE_PROBE_S) == (1012, expected)
    finish_close(conn, 1012, expected)
    again = loopgate.app.open_ws()
    assert echoes_byte_exact(again, b"over the second link")
    assert [s["upstream"] for s in loopgate.summaries()] == [f"{service_ip}:{gateway.port}"]


def test_route_given_another_source_on_the_same_link_keeps_the_session_from_the_old_address(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    path = gateway_host.path
    # A second address on the same link, there before loopgate starts (so its arrival is no
    # network change of this test); the route to the gateway does not prefer it yet.
    second_ip = "100.100.9.1"
    gateway_host.ip("route", "add", f"{second_ip}/32", "dev", path.gateway_if)
    gateway_host.client.ip("addr", "add", f"{second_ip}/32", "dev", path.client_if)
    gateway = start_remote_gateway(extra=["--log-control-frames"])
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port, connect_to=path.gateway_ip,
                                                    liveness=LONG_PROBE))
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"from the link's first address")

    # The route to the gateway told to prefer the second address: the session's address is
    # still this link's, so its packets still leave the right way. The one network change.
    gateway_host.client.ip("route", "add", f"{path.gateway_ip}/32", "dev", path.client_if, "src", second_ip)
    loopgate.process.wait_for(r'msg="probing upstream sessions" route=tailnet sessions=1 closed_path_gone=0')
    wait_until(lambda: loopgate_pings_seen_by(gateway), 5, "the probe of the session")
    assert echoes_byte_exact(conn, os.urandom(64 * 1024))
    again = loopgate.app.open_ws()
    assert echoes_byte_exact(again, b"from the link's second address")
    assert loopgate.summary_lines() == []


def test_app_held_past_hold_ms_gets_503_with_retry_after_and_one_past_max_held_gets_it_at_once(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway()
    path = gateway_host.path
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip,
                            reconnect={"hold_ms": 1500, "max_held": 1})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    gateway_host.set_link(path, up=False)
    assert wait_for_close(conn)[0] == 1012
    loopgate.process.wait_for(r'msg="upstream down"')

    started = time.monotonic()
    held = loopgate.app.begin_upgrade()
    assert_no_answer_for(held, 0.5)
    one_too_many = loopgate.app.exchange(wsraw.upgrade_request("/echo"), timeout=5)
    assert one_too_many[0] == 503, one_too_many
    assert time.monotonic() - started < 1.4, "the app over max_held should not have been held"
    status, headers, body = held.read_response(timeout=NOTICE_BOUND_S)
    assert status == 503, body
    assert time.monotonic() - started >= 1.4, "answered before hold_ms ran out"
    assert int(headers["retry-after"]) >= 1, headers


def test_every_network_change_retries_at_once_even_after_a_failed_retry(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, unrelated_interface):
    gateway = start_remote_gateway()
    path = gateway_host.path
    # With these delays the next scheduled retry is minutes away: only a network change can bring
    # it forward, and it must do so each time, not only while no retry has failed yet.
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip,
                            reconnect={"hold_ms": 30000, "backoff_initial_ms": 600000, "backoff_max_ms": 600000})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    gateway_host.set_link(path, up=False)
    assert wait_for_close(conn)[0] == 1012
    loopgate.process.wait_for(r'msg="upstream down"')

    # A change while the link is still down: loopgate retries at once, and that retry fails.
    unrelated_interface.set_address(UNRELATED_ADDRESS, present=True)
    loopgate.process.wait_for(NETWORK_CHANGED, count=2, timeout=5)
    held = loopgate.app.begin_upgrade()
    assert_no_answer_for(held, 0.5)

    gateway_host.set_link(path, up=True)
    started = time.monotonic()
    status, _, _ = held.read_head(timeout=NOTICE_BOUND_S)
    assert status == 101
    assert time.monotonic() - started < 5.0, "served only after the backoff ran out"
    assert echoes_byte_exact(held, b"back at once")


def test_dead_session_is_closed_on_time_while_network_changes_keep_coming(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, unrelated_interface):
    gateway = start_remote_gateway()
    path = gateway_host.path
    # Pings only from probes; the kernel's own limit for unacknowledged data is then 30 s.
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip,
                            liveness={"probe_timeout_ms": 1500}, network={"debounce_ms": 100})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"before the black hole")

    # A busy machine (containers, VPNs, a flapping link) changes its network every second or so.
    # Each change probes the session; the first unanswered probe must still end it after 1.5 s,
    # however many probes follow.
    gateway_host.set_black_hole(path, on=True)
    churn = NetworkChurn(unrelated_interface, every_s=0.7, for_s=7.0)
    churn.start()
    try:
        code, reason, seconds = wait_for_close(conn)
    finally:
        churn.stop()
    assert (code, reason) == (1012, PROBE_LOST_REASON)
    assert seconds < 5.0, f"closed only after {seconds:.1f} s: the first probe's deadline was 1.5 s after ~0.8 s"


# ---------------------------------------------------------------------------------------------
# Silent black hole: nothing changes in loopgate's namespace; only its own pings can tell.

def test_silent_black_hole_is_found_by_the_liveness_ping_without_any_network_event(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway()
    path = gateway_host.path
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip,
                            liveness={"ping_interval_ms": 500, "ping_timeout_ms": 1000})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"before the black hole")

    gateway_host.set_black_hole(path, on=True)
    code, reason, seconds = wait_for_close(conn)
    assert code == 1012
    assert reason.startswith("upstream lost") and reason != PROBE_LOST_REASON, reason
    assert seconds < 5.0, f"took {seconds:.1f} s: ping interval + timeout is 1.5 s"
    finish_close(conn, 1012, reason)
    assert 'closed_by=loopgate' in loopgate.wait_closed()[0]
    assert not [line for line in loopgate.log().splitlines() if 'msg="network changed"' in line], \
        "the black hole is inside the gateway's namespace: loopgate cannot have seen a change"


# ---------------------------------------------------------------------------------------------
# Name resolution: the gateway moves, and an IPv6 address that swallows everything.

def test_next_session_follows_the_gateways_name_to_its_new_address_without_a_restart(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, tmp_path):
    old_path, new_path = gateway_host.path, gateway_host.add_path()
    old_gateway = start_remote_gateway(old_path)
    new_gateway = start_remote_gateway(new_path, port=old_gateway.port)
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{old_path.gateway_ip} gateway.test\n")
    loopgate = start_client_loopgate(tailnet_config(certs, old_gateway.port), hosts_file=hosts)

    first = loopgate.app.open_ws()
    assert echoes_byte_exact(first, b"to the old address")
    netns.rewrite_in_place(hosts, f"127.0.0.1 localhost\n{new_path.gateway_ip} gateway.test\n")
    second = loopgate.app.open_ws()
    assert echoes_byte_exact(second, b"to the new address")

    # Both gateways still run, so only a fresh lookup can have found the new one.
    assert len(old_gateway.requests()) == 1
    assert len(new_gateway.requests()) == 1
    for conn in (first, second):
        conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
        assert conn.read_close() == (1000, "")
    upstreams = sorted(line.split("upstream=")[1].split()[0] for line in loopgate.wait_closed(count=2))
    assert upstreams == sorted([f"{old_path.gateway_ip}:{old_gateway.port}", f"{new_path.gateway_ip}:{old_gateway.port}"])


def test_ipv6_trap_on_the_gateways_host_does_not_delay_sessions_over_ipv4(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, tmp_path):
    path = gateway_host.path
    trap_address = gateway_host.add_ipv6_trap(path)
    gateway = start_remote_gateway()
    # The trap is real: a connection to the IPv6 address neither succeeds nor fails, it hangs.
    with pytest.raises(socket.timeout):
        gateway_host.client.connect(gateway.port, host=trap_address, timeout=1.0)
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{trap_address} gateway.test\n{path.gateway_ip} gateway.test\n")
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port), hosts_file=hosts)

    for attempt in range(3):
        started = time.monotonic()
        conn = loopgate.app.open_ws()
        upgrade_seconds = time.monotonic() - started
        assert echoes_byte_exact(conn, f"over IPv4, session {attempt}".encode())
        assert upgrade_seconds < 1.0, f"upgrade took {upgrade_seconds:.2f} s: something waited on the trap"
        conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
        assert conn.read_close() == (1000, "")
    for summary in loopgate.wait_closed(count=3):
        assert f"upstream={path.gateway_ip}:{gateway.port}" in summary, summary


def syn_sent_toward(host, address):
    """loopgate's host's TCP sockets still trying to connect to `address`."""
    done = netns.run("ip", "netns", "exec", host.name, "ss", "-Htn", "state", "syn-sent", "dst", address)
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_a_first_address_that_black_holes_loses_the_race_to_a_second_that_answers(
        client_host, gateway_host, start_remote_gateway, start_client_loopgate, certs, tmp_path):
    dead, live = gateway_host.path, gateway_host.add_path()
    gateway = start_remote_gateway(live)
    gateway_host.set_black_hole(dead, on=True)
    # The black hole is real: a connect to the first address neither succeeds nor fails, it hangs.
    with pytest.raises(socket.timeout):
        client_host.connect(gateway.port, host=dead.gateway_ip, timeout=0.5)
    hosts = tmp_path / "hosts"
    hosts.write_text(f"127.0.0.1 localhost\n{dead.gateway_ip} gateway.test\n{live.gateway_ip} gateway.test\n")
    config = tailnet_config(certs, gateway.port)
    connect_ms = 4000
    config["routes"][0]["timeouts"] = {"connect_ms": connect_ms, "handshake_ms": 2 * connect_ms}
    config["log"] = {"level": "debug"}
    loopgate = start_client_loopgate(config, hosts_file=hosts)

    started = time.monotonic()
    conn = loopgate.app.open_ws()
    upgrade_seconds = time.monotonic() - started
    assert echoes_byte_exact(conn, b"over the second address")
    print(f"served through the second address in {upgrade_seconds * 1000:.0f} ms")
    # Served long before the first address's connect timeout: the second did not wait for it.
    assert upgrade_seconds < connect_ms / 2000, f"upgrade took {upgrade_seconds:.2f} s"
    dead_address, live_address = f"{dead.gateway_ip}:{gateway.port}", f"{live.gateway_ip}:{gateway.port}"
    log = loopgate.log()
    attempts = [line.split("address=")[1].split()[0] for line in log.splitlines() if 'msg="upstream connect" ' in line]
    assert attempts == [dead_address, live_address], log
    assert (f'msg="upstream connect abandoned" route=tailnet address={dead_address} '
            f'reason="another address connected first"') in log
    # The loser's socket is closed, not left to hang until connect_ms.
    wait_until(lambda: syn_sent_toward(client_host, dead.gateway_ip) == [], 5, "the abandoned connect to close")
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
    assert conn.read_close() == (1000, "")
    [summary] = loopgate.wait_closed(count=1)
    assert f"upstream={live_address}" in summary, summary


# ---------------------------------------------------------------------------------------------
# The gateway restarts: its own close reaches the app, and the next app waits for it.

def test_gateway_restart_reaches_the_app_as_the_gateways_1012_and_the_next_app_is_held_then_served(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    restart_flags = ["--close-on-exit", "1012"]
    gateway = start_remote_gateway(extra=restart_flags)
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port, connect_to=gateway_host.path.gateway_ip))
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"before the restart")

    gateway.process.signal(signal.SIGTERM)
    assert conn.read_frame(timeout=5) == (True, CLOSE, wsraw.close_payload(1012, "gateway restarting"))
    finish_close(conn, 1012, "gateway restarting")
    assert gateway.process.wait(timeout=10) == 0
    loopgate.wait_closed()
    summary = loopgate.summaries()[0]
    assert (summary["close_code"], summary["close_reason"], summary["closed_by"]) == \
        ("1012", "gateway restarting", "upstream")

    held = loopgate.app.begin_upgrade()
    assert_no_answer_for(held, 1.0)
    restarted = start_remote_gateway(port=gateway.port, extra=restart_flags)
    status, _, _ = held.read_head(timeout=NOTICE_BOUND_S)
    assert status == 101
    assert echoes_byte_exact(held, b"after the restart")
    assert len(restarted.requests()) == 1


# ---------------------------------------------------------------------------------------------
# Pings: the app's own pass both ways unchanged; loopgate's stay between loopgate and the gateway.

def test_apps_own_pings_and_pongs_pass_unchanged_while_loopgates_pings_never_reach_the_app(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway(extra=["--log-control-frames"])
    config = tailnet_config(certs, gateway.port, connect_to=gateway_host.path.gateway_ip,
                            liveness={"ping_interval_ms": 200, "ping_timeout_ms": 1000})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()

    rounds = 8
    for i in range(rounds):  # 8 rounds of 0.25 s: about ten of loopgate's pings go by meanwhile
        conn.send(wsraw.frame(PING, f"app ping {i}"))
        conn.send(wsraw.frame(PONG, f"app pong {i}"))  # unsolicited pongs are allowed (RFC 6455 5.5.3)
        conn.send(wsraw.frame(TEXT, f"message {i}"))
        assert conn.read_frame() == (True, PONG, f"app ping {i}".encode())
        assert conn.expect_frame(TEXT, f"message {i}".encode())
        time.sleep(0.25)
    with pytest.raises(socket.timeout):
        conn.read_frame(timeout=0.5)  # nothing else ever arrived, loopgate's pongs included

    app_lines = [line for line in gateway.process.stdout().splitlines()
                 if line.startswith("control ") and "loopgate-" not in line]
    expected = []
    for i in range(rounds):
        expected += [f'control opcode=ping payload="app ping {i}"', f'control opcode=pong payload="app pong {i}"']
    assert app_lines == expected
    assert len(loopgate_pings_seen_by(gateway)) >= 5, gateway.process.stdout()


def test_app_ping_that_looks_like_loopgates_own_still_gets_its_pong(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway(extra=["--log-control-frames"])
    config = tailnet_config(certs, gateway.port, connect_to=gateway_host.path.gateway_ip,
                            liveness={"ping_interval_ms": 100, "ping_timeout_ms": 1000})
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    wait_until(lambda: loopgate_pings_seen_by(gateway), 5, "loopgate's first ping")
    # Payloads an app may well choose itself, shaped like loopgate's (which it cannot guess).
    lookalikes = ["loopgate-", "loopgate-00000000-1"] + [f"loopgate-{n}" for n in range(12)]
    for payload in lookalikes:
        conn.send(wsraw.frame(PING, payload))
        assert conn.read_frame(timeout=5) == (True, PONG, payload.encode())


# ---------------------------------------------------------------------------------------------
# A network change that concerns no upstream: probe, and keep every healthy session.

def test_address_added_to_an_unrelated_interface_probes_live_sessions_and_keeps_them_all(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, unrelated_interface):
    gateway = start_remote_gateway(extra=["--log-control-frames"])
    loopgate = start_client_loopgate(tailnet_config(certs, gateway.port, connect_to=gateway_host.path.gateway_ip))
    sessions = [loopgate.app.open_ws() for _ in range(3)]
    for conn in sessions:
        assert echoes_byte_exact(conn, os.urandom(1000))
    assert loopgate_pings_seen_by(gateway) == []  # periodic pings are off

    unrelated_interface.set_address(UNRELATED_ADDRESS, present=True)
    change = loopgate.process.wait_for(NETWORK_CHANGED + r'.*', timeout=5)[0].group(0)
    assert 'changes="' in change, change
    wait_until(lambda: len(loopgate_pings_seen_by(gateway)) >= len(sessions), 5, "a probe of every session")
    time.sleep(1.5)  # past the probe deadline (1 s): a session the probe wrongly failed is closed by now
    for conn in sessions:
        assert echoes_byte_exact(conn, os.urandom(64 * 1024))
    assert loopgate.summary_lines() == []


def test_network_change_closes_the_idle_pooled_http_connection_and_the_next_request_dials_afresh(
        gateway_host, start_client_loopgate, client_host, certs, unrelated_interface):
    path = gateway_host.path
    # A keep-alive HTTP upstream on the gateway's host: its listening socket is made there.
    upstream = gateway_host.call(lambda: HttpUpstream(certs / "server.pem", certs / "server.key",
                                                      host=path.gateway_ip))
    try:
        loopgate = start_client_loopgate(tailnet_config(certs, upstream.port, connect_to=path.gateway_ip))
        conn = client_host.call(lambda: HttpConn(loopgate.port))
        assert conn.exchange("GET", "/api/json?i=1").status == 200
        assert upstream.accepted == 1  # its connection now waits in the route's pool

        unrelated_interface.set_address(UNRELATED_ADDRESS, present=True)
        loopgate.process.wait_for(r'msg="probing upstream sessions" route=tailnet sessions=0 closed_path_gone=0 '
                                  r'closed_idle_http_upstreams=1', timeout=5)
        assert conn.exchange("GET", "/api/json?i=2").status == 200  # the app's own connection is kept
        assert upstream.accepted == 2
        loopgate.process.wait_for(r'msg="http request"', count=2, timeout=5)  # logged once the response is out
        lines = [parse_logfmt(line) for line in loopgate.log().splitlines() if 'msg="http request"' in line]
        assert [f["upstream_connection"] for f in lines] == ["new", "new"]
    finally:
        upstream.stop()


# ---------------------------------------------------------------------------------------------
# Phases that are over stay over: a dial given up on cannot answer a held app; a drain is not
# disturbed by the network changing under it.

def test_dial_cut_short_by_the_handshake_deadline_cannot_answer_the_app_it_then_holds(
        gateway_host, start_remote_gateway, start_client_loopgate, certs):
    gateway = start_remote_gateway()
    path = gateway_host.path
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip)
    # The whole handshake may take 1 s; one connect attempt, 2.5 s: the deadline comes first.
    config["routes"][0]["timeouts"] = {"connect_ms": 2500, "handshake_ms": 1000}
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"the route is up")
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
    assert conn.read_close() == (1000, "")
    conn.close()

    gateway_host.set_black_hole(path, on=True)
    held = loopgate.app.begin_upgrade()
    loopgate.process.wait_for(r'msg="holding connection until the upstream is back"', timeout=5)
    # The abandoned dial's connect attempt would have timed out at 2.5 s: nothing may come of it.
    assert_no_answer_for(held, 3.0)
    gateway_host.set_black_hole(path, on=False)
    status, _, line = held.read_head(timeout=NOTICE_BOUND_S)
    assert status == 101, line
    assert echoes_byte_exact(held, b"served after the black hole")


def test_network_change_during_the_shutdown_drain_does_not_crash_loopgate(
        gateway_host, start_remote_gateway, start_client_loopgate, certs, unrelated_interface):
    gateway = start_remote_gateway()
    path = gateway_host.path
    config = tailnet_config(certs, gateway.port, connect_to=path.gateway_ip, network={"debounce_ms": 50})
    config["shutdown_timeout_ms"] = 4000
    loopgate = start_client_loopgate(config)
    conn = loopgate.app.open_ws()
    assert echoes_byte_exact(conn, b"before the shutdown")

    # The app never answers loopgate's close: the drain lasts until shutdown_timeout_ms.
    loopgate.process.signal(signal.SIGTERM)
    assert conn.read_close() == (1001, "loopgate is shutting down")
    unrelated_interface.set_address(UNRELATED_ADDRESS, present=True)
    unrelated_interface.set_address(UNRELATED_ADDRESS, present=False)
    assert loopgate.process.wait(timeout=10) == 0, loopgate.log()[-2000:]
    assert 'msg=stopped' in loopgate.log()
    conn.close()
