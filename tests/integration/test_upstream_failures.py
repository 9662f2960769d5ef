"""What the app sees when the upstream cannot be used: a real HTTP answer whose status
says what kind of failure it was (502 refused/TLS/protocol, 504 deadline) and whose body
says what to fix; loopgate's connection summary says the same and the daemon stays up.

Each test runs loopgate with two routes: "bad" points at the broken upstream under test,
"good" at a healthy TLS test gateway, so "still works afterwards" is checked on the same
process that just handled the failure."""

import time

import pytest

import wsraw
from conftest import free_port, route_for


@pytest.fixture
def start_with_bad_route(start_loopgate, gateway, certs):
    """Starts loopgate with routes "bad" (given) and "good" (the healthy test gateway)."""

    def start(bad_route):
        route = {"name": "bad", "listen": "127.0.0.1:0", **bad_route}
        good = route_for(gateway, certs, name="good")
        return start_loopgate({"routes": [route, good]})

    return start


def port_of(loopgate, route):
    return int(loopgate.addresses[route].rsplit(":", 1)[1])


def refusal_through(loopgate, path="/echo", timeout=10.0):
    """Asks the "bad" route for an upgrade; returns (status, headers, body, seconds taken)."""
    started = time.monotonic()
    status, headers, body = wsraw.exchange(port_of(loopgate, "bad"), wsraw.upgrade_request(path), timeout)
    return status, headers, body, time.monotonic() - started


def summary_of(loopgate, route="bad"):
    """The one connection summary line logged for `route` (waits for it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [line for line in loopgate.summary_lines() if f"route={route} " in line]
        if lines:
            assert len(lines) == 1, lines
            return lines[0]
        time.sleep(0.01)
    raise AssertionError(f"no summary line for route {route}:\n{loopgate.log()}")


def assert_own_refusal(status, headers, body, expected_status, *words):
    assert status == expected_status, body
    assert headers["content-type"].startswith("text/plain")
    assert body.startswith("loopgate: ") and body.endswith("\n"), body
    for word in words:
        assert word in body, f"{word!r} not in {body!r}"


def assert_logged(loopgate, expected_status, *words):
    line = summary_of(loopgate)
    assert f"status={expected_status} " in line, line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"


def assert_still_serving(loopgate, route="good"):
    assert loopgate.process.proc.poll() is None, loopgate.log()
    conn = wsraw.open_ws(port_of(loopgate, route), "/echo")
    payload = bytes(range(256)) * 3
    conn.send(wsraw.frame(0x2, payload))
    assert conn.expect_frame(0x2, payload)
    conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
    assert conn.read_close() == (1000, "")
    conn.close()


def test_untrusted_upstream_certificate_is_502_naming_the_verify_error(start_with_bad_route, gateway):
    # No ca_file: only the system store, which does not know the test CA.
    loopgate = start_with_bad_route({"upstream": f"wss://localhost:{gateway.port}"})
    status, headers, body, _ = refusal_through(loopgate)
    words = ("certificate verify failed", "unable to get local issuer certificate")
    assert_own_refusal(status, headers, body, 502, *words)
    assert_logged(loopgate, 502, *words)
    assert gateway.requests() == []  # no HTTP request went to an unverified peer
    assert_still_serving(loopgate)


def test_upstream_certificate_for_another_name_is_502_hostname_mismatch(start_with_bad_route, gateway, certs):
    loopgate = start_with_bad_route({
        "upstream": f"wss://wrong.test:{gateway.port}",
        "connect_to": "127.0.0.1",
        "tls": {"ca_file": str(certs / "ca.pem")},
    })
    status, headers, body, _ = refusal_through(loopgate)
    assert_own_refusal(status, headers, body, 502, "certificate verify failed", "hostname mismatch", "wrong.test")
    assert_logged(loopgate, 502, "hostname mismatch")
    assert gateway.requests() == []
    assert_still_serving(loopgate)


def test_closed_upstream_port_is_502_connection_refused_without_waiting_for_the_deadline(start_with_bad_route):
    closed = free_port()
    loopgate = start_with_bad_route({
        "upstream": f"wss://localhost:{closed}",
        "connect_to": "127.0.0.1",
        "timeouts": {"handshake_ms": 60000, "connect_ms": 30000},
    })
    status, headers, body, seconds = refusal_through(loopgate)
    assert_own_refusal(status, headers, body, 502, "connection refused", f"127.0.0.1:{closed}")
    assert_logged(loopgate, 502, "connection refused")
    assert seconds < 5, f"a refused connect took {seconds:.1f} s to report"
    assert_still_serving(loopgate)


def test_upstream_that_never_answers_tls_is_504_naming_the_tls_stage(start_with_bad_route, start_tcp_stub):
    silent = start_tcp_stub()
    loopgate = start_with_bad_route({
        "upstream": f"wss://localhost:{silent.port}",
        "connect_to": "127.0.0.1",
        "timeouts": {"handshake_ms": 1000},
    })
    status, headers, body, seconds = refusal_through(loopgate)
    assert_own_refusal(status, headers, body, 504, "within 1000 ms", "TLS handshake")
    assert_logged(loopgate, 504, "within 1000 ms", "TLS handshake")
    assert silent.accepted == 1
    assert 0.9 <= seconds < 5, f"answered after {seconds:.2f} s, expected about 1 s"
    assert_still_serving(loopgate)


def test_upstream_refusal_403_reaches_the_app_with_the_gateways_body(start_with_bad_route, gateway, certs):
    loopgate = start_with_bad_route(route_for(gateway, certs, name="bad"))
    status, headers, body, _ = refusal_through(loopgate, "/status/403")
    assert status == 403
    assert body == "gateway refused with 403\n"  # the gateway's words, not loopgate's
    assert_logged(loopgate, 403, "upstream answered 403")
    assert any("path=/status/403" in line and "status=403" in line for line in gateway.requests())
    assert_still_serving(loopgate, route="bad")


def test_plaintext_upstream_speaking_another_protocol_is_502_not_http(start_with_bad_route, start_tcp_stub):
    ssh = start_tcp_stub(greeting=b"SSH-2.0-x\r\n")
    loopgate = start_with_bad_route({
        "upstream": f"ws://127.0.0.1:{ssh.port}",
        "allow_plaintext_upstream": True,
    })
    status, headers, body, _ = refusal_through(loopgate)
    assert_own_refusal(status, headers, body, 502, "did not answer with HTTP", f"127.0.0.1:{ssh.port}")
    assert_logged(loopgate, 502, "did not answer with HTTP")
    assert ssh.accepted == 1
    assert_still_serving(loopgate)


def test_plaintext_upstream_is_logged_as_a_warning_at_start(start_loopgate, start_gateway):
    plain = start_gateway(plain=True)
    loopgate = start_loopgate({"routes": [{
        "name": "clear", "listen": "127.0.0.1:0",
        "upstream": f"ws://127.0.0.1:{plain.port}", "allow_plaintext_upstream": True,
    }]})
    lines = loopgate.log().splitlines()
    warnings = [i for i, line in enumerate(lines) if "level=warn" in line and "plaintext" in line]
    listening = [i for i, line in enumerate(lines) if "msg=listening" in line]
    assert len(warnings) == 1, lines
    assert "route=clear" in lines[warnings[0]]
    assert warnings[0] < listening[0], "the warning must come before the route accepts anything"
    assert_still_serving(loopgate, route="clear")


def test_tls_upstream_logs_no_plaintext_warning(loopgate):
    assert "plaintext" not in loopgate.log()
