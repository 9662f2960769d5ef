"""The admin endpoint against a known state — one route up with a session, one route down with
an app held — read with curl (a third-party client), checked by promtool (Prometheus' own
checker), and refused to browsers and foreign Host names. `loopgate status` says the same for a
person and exits non-zero while a route is down."""

import json
import re
import shutil
import subprocess
import time

import pytest

import wsraw
from conftest import LOOPGATE_BIN, free_port, route_for
from http_upstream import HttpUpstream
from httpraw import HttpConn

BINARY = 0x2


def curl(url, *extra):
    """(status, body) of a GET with curl."""
    done = subprocess.run(["curl", "-s", "-o", "-", "-w", "%{http_code}", *extra, url],
                          capture_output=True, text=True, timeout=10)
    body, status = done.stdout[:-3], done.stdout[-3:]
    return int(status), body


DOWN_REASON = re.compile(r"connection refused|connection reset by peer")


@pytest.fixture
def known_state(start_loopgate, start_gateway, certs, tmp_path):
    """Route "up" with one relaying session, route "down" whose gateway died, one app held on it."""
    up_gateway = start_gateway()
    down_gateway = start_gateway()
    admin_port = free_port()
    config = {
        "routes": [route_for(up_gateway, certs, name="up"),
                   route_for(down_gateway, certs, name="down", connect_to="127.0.0.1",
                             reconnect={"hold_ms": 30000, "backoff_initial_ms": 600000,
                                        "backoff_max_ms": 600000})],
        "admin": {"listen": f"127.0.0.1:{admin_port}"},
    }
    loopgate = start_loopgate(config)
    loopgate.process.wait_for(r'msg="admin endpoint listening" address=127.0.0.1:\d+')
    session = wsraw.open_ws(int(loopgate.addresses["up"].rsplit(":", 1)[1]), "/echo")
    session.send(wsraw.frame(BINARY, b"x" * 100))
    assert session.read_frame() == (True, BINARY, b"x" * 100)

    down_port = int(loopgate.addresses["down"].rsplit(":", 1)[1])
    lost = wsraw.open_ws(down_port, "/echo")
    down_gateway.process.proc.kill()
    down_gateway.process.proc.wait(timeout=10)
    assert lost.read_close()[0] == 1012
    lost.close()
    loopgate.process.wait_for(r'msg="upstream down" route=down')
    held = wsraw.connect(down_port)
    held.send(wsraw.upgrade_request("/echo"))
    loopgate.process.wait_for(r'msg="holding connection until the upstream is back" route=down')
    config_file = tmp_path / "loopgate0.json"
    yield loopgate, f"http://127.0.0.1:{admin_port}", config_file
    session.close()
    held.close()


def test_healthz_and_readyz(known_state):
    _, base, _ = known_state
    assert curl(base + "/healthz") == (200, "ok\n")  # curl's -w line follows the body's own newline
    status, body = curl(base + "/readyz")
    assert status == 503
    assert "up unknown" in body or "up up" in body
    # The latest retry's failure is the reason. A retry that raced the dying
    # gateway (its listener still open for a moment) is reset rather than refused.
    assert "down down: cannot connect to upstream localhost:" in body
    assert DOWN_REASON.search(body), body


def test_status_json_tells_each_routes_state_and_sessions(known_state):
    loopgate, base, config_file = known_state
    status, body = curl(base + "/status")
    assert status == 200
    doc = json.loads(body)
    assert doc["config_generation"] == 1 and doc["config_file"] == str(config_file)
    routes = {r["name"]: r for r in doc["routes"]}
    assert routes["up"]["state"] == "up"
    assert routes["up"]["listen"] == loopgate.addresses["up"]
    [relaying] = [s for s in routes["up"]["sessions"] if s["phase"] == "relaying"]
    assert relaying["bytes_from_app"] >= 100 and relaying["bytes_from_upstream"] >= 100
    assert relaying["tls_resumed"] in (True, False)
    assert routes["down"]["state"] == "down"
    assert DOWN_REASON.search(routes["down"]["down_reason"])
    assert routes["down"]["held"] == 1
    assert [s["phase"] for s in routes["down"]["sessions"]] == ["held"]


def test_metrics_pass_promtool_and_carry_the_state(known_state):
    _, base, _ = known_state
    status, body = curl(base + "/metrics")
    assert status == 200
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: tools/install-deps.sh installs Debian's prometheus package"
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, check.stdout + check.stderr
    lines = set(body.splitlines())
    assert 'loopgate_upstream_up{route="down"} 0' in lines
    assert 'loopgate_upstream_up{route="up"} 1' in lines
    assert 'loopgate_held_connections{route="down"} 1' in lines
    assert 'loopgate_sessions_active{route="up"} 1' in lines
    assert 'loopgate_upstream_dial_seconds_count{route="up"} 1' in lines
    assert any(l.startswith('loopgate_bytes_total{route="up",from="app"} ') and int(l.split()[-1]) >= 100 for l in lines)


def test_status_command_prints_the_state_and_exits_1_while_a_route_is_down(known_state):
    _, _, config_file = known_state
    done = subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(config_file)],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 1, done.stderr
    assert "route down:" in done.stdout and "upstream down for" in done.stdout
    assert DOWN_REASON.search(done.stdout), done.stdout
    assert "1 held" in done.stdout


def test_admin_refuses_browsers_foreign_hosts_and_other_methods(known_state):
    _, base, _ = known_state
    status, body = curl(base + "/status", "-H", "Origin: http://127.0.0.1:8080")
    assert status == 403 and "origin" in body.lower()
    # Not even its own origin: the admin endpoint serves no page that could carry it.
    status, body = curl(base + "/status", "-H", f"Origin: {base}")
    assert status == 403 and "origin" in body.lower()
    status, body = curl(base + "/metrics", "-H", "Host: attacker.example")
    assert status == 403 and "attacker.example" in body
    assert curl(base + "/status", "-X", "POST")[0] == 405
    assert curl(base + "/nothing")[0] == 404


def start_one_route_with_admin(start_loopgate, certs, name, upstream_port):
    """loopgate with route NAME to wss://localhost:UPSTREAM_PORT and an admin endpoint; (loopgate, base URL)."""
    admin_port = free_port()
    loopgate = start_loopgate({"routes": [{"name": name, "listen": "127.0.0.1:0",
                                           "upstream": f"wss://localhost:{upstream_port}",
                                           "tls": {"ca_file": str(certs / "ca.pem")}}],
                               "admin": {"listen": f"127.0.0.1:{admin_port}"}})
    loopgate.process.wait_for(r'msg="admin endpoint listening"')
    return loopgate, f"http://127.0.0.1:{admin_port}"


def test_a_route_whose_upstream_was_never_reached_is_not_reported_healthy(start_loopgate, certs, tmp_path):
    """A typo'd upstream port: every dial fails, the route was never up (so it holds nobody), and
    status, readiness and the up gauge say so instead of a green "unknown"."""
    loopgate, base = start_one_route_with_admin(start_loopgate, certs, "typo", free_port())
    assert curl(base + "/readyz") == (200, "typo unknown\n")  # nothing tried yet: nothing known
    conn = wsraw.connect(loopgate.port)
    conn.send(wsraw.upgrade_request("/", host=f"127.0.0.1:{loopgate.port}"))
    assert conn.read_head(timeout=10)[0] == 502  # at once: a route never up holds nobody
    conn.close()
    status, body = curl(base + "/readyz")
    assert status == 503 and body.startswith("typo unknown: never up: ") and "refused" in body, body
    assert 'loopgate_upstream_up{route="typo"} 0' in curl(base + "/metrics")[1].splitlines()
    done = subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(tmp_path / "loopgate0.json")],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "upstream unknown: never up since start, last dial: " in done.stdout, done.stdout


def test_status_command_without_an_admin_endpoint_or_a_daemon(tmp_path, gateway, certs):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"routes": [route_for(gateway, certs)]}))
    done = subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 78 and '"admin"' in done.stderr
    config.write_text(json.dumps({"routes": [route_for(gateway, certs)],
                                  "admin": {"listen": f"127.0.0.1:{free_port()}"}}))
    done = subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 69 and "is loopgate running?" in done.stderr


def test_admin_listen_outside_loopback_is_refused_by_check(tmp_path, gateway, certs):
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"routes": [route_for(gateway, certs)], "admin": {"listen": "0.0.0.0:18790"}}))
    done = subprocess.run([str(LOOPGATE_BIN), "check", "--config", str(config)], capture_output=True, text=True)
    assert done.returncode == 78
    assert "admin.listen: 0.0.0.0 is not a loopback address" in done.stderr


def test_admin_answers_a_malformed_or_oversized_request_and_keeps_serving(known_state):
    _, base, _ = known_state
    port = int(base.rsplit(":", 1)[1])
    garbage = wsraw.exchange(port, b"NOT HTTP AT ALL\r\n\r\n")
    assert garbage[0] == 400
    huge = wsraw.exchange(port, b"GET /status HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nX-Pad: %s\r\n\r\n"
                          % (port, b"a" * 9000))
    assert huge[0] == 431
    assert curl(base + "/healthz") == (200, "ok\n")  # still serving


def test_admin_answers_408_to_a_request_never_finished_and_serves_others_meanwhile(known_state):
    _, base, _ = known_state
    port = int(base.rsplit(":", 1)[1])
    slow = wsraw.connect(port, timeout=10)
    started = time.monotonic()
    slow.send(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the blank line never comes
    assert curl(base + "/healthz") == (200, "ok\n")  # the slow client blocks nobody
    status, _, body = slow.read_response(10)
    waited = time.monotonic() - started
    assert status == 408 and "not complete within 5000 ms" in body
    assert waited > 4.5, waited  # the deadline, not an early refusal (read_response bounds the wait)
    slow.close()


def test_wake_check_polls_while_an_upstream_connection_waits_in_the_pool_and_stops_when_it_goes(
        start_loopgate, certs):
    """After a sleep a pooled keep-alive connection is dead, and the pool's clock has not moved:
    the wake check must run while one waits there, though no app is connected."""
    upstream = HttpUpstream(certs / "server.pem", certs / "server.key")
    try:
        loopgate, base = start_one_route_with_admin(start_loopgate, certs, "web", upstream.port)

        def status():
            code, body = curl(base + "/status")
            assert code == 200, body
            doc = json.loads(body)
            return doc["wake_watch"], doc["routes"][0]["sessions_active"]

        assert status() == ("idle", 0)
        app = HttpConn(loopgate.port)
        assert app.exchange("GET", "/").status == 200
        app.close()
        upstream.wait_for(lambda: len(upstream.idle_connections()) == 1, what="the pooled connection")
        deadline = time.monotonic() + 5
        while status()[1] != 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status() == ("polling", 0)  # no app, one pooled upstream connection
        upstream.drop_idle_connections()   # the upstream's keep-alive timeout: the pool lets it go
        deadline = time.monotonic() + 5
        while status()[0] != "idle" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status() == ("idle", 0)
    finally:
        upstream.stop()


def test_wake_check_polls_only_while_an_app_is_connected(start_loopgate, start_gateway, certs):
    """An idle loopgate has no timer of its own running: the clock check for wake from sleep
    starts with the first app and stops with the last (what /status says is what runs)."""
    gateway = start_gateway()
    admin_port = free_port()
    loopgate = start_loopgate({"routes": [route_for(gateway, certs)],
                               "admin": {"listen": f"127.0.0.1:{admin_port}"}})
    loopgate.process.wait_for(r'msg="admin endpoint listening"')

    def wake_watch():
        status, body = curl(f"http://127.0.0.1:{admin_port}/status")
        assert status == 200, body
        return json.loads(body)["wake_watch"]

    assert wake_watch() == "idle"
    first = wsraw.open_ws(loopgate.port, "/echo")
    second = wsraw.open_ws(loopgate.port, "/echo")
    assert wake_watch() == "polling"
    for count, conn in enumerate((first, second), start=1):
        conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
        assert conn.read_close() == (1000, "")
        conn.close()
        loopgate.wait_closed(count=count)
        assert wake_watch() == ("polling" if count == 1 else "idle")

