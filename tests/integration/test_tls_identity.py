"""Upstream identity through real sessions: which certificates loopgate accepts (chain and
name, pins in every spelling, pin-only for a self-signed no-SAN gateway, client certificates),
the exact reason the app reads when it refuses one, and TLS session resumption counted by
loopgate itself. The certificates come from pki.py; the gateway is the bundled test gateway.
The same cases through `loopgate probe` are in test_probe.py."""

import json
import os
import shutil
import subprocess
import time

import pytest

import wsraw
from conftest import LOOPGATE_BIN, free_port, parse_logfmt
from pki import pki  # noqa: F401  (fixture)
from tls_stubs import FullBacklog, TlsAnswerer


def route(port, tls=None, name="gw", host="localhost", **extra):
    entry = {"name": name, "listen": "127.0.0.1:0", "upstream": f"wss://{host}:{port}"}
    if tls is not None:
        entry["tls"] = tls
    entry.update(extra)
    return entry


def port_of(loopgate, name="gw"):
    return int(loopgate.addresses[name].rsplit(":", 1)[1])


def upgrade(loopgate, name="gw", path="/echo"):
    """One upgrade request through route `name`: (status, body)."""
    status, _, body = wsraw.exchange(port_of(loopgate, name), wsraw.upgrade_request(path), timeout=15)
    return status, body


def echo_through(loopgate, name="gw"):
    conn = wsraw.open_ws(port_of(loopgate, name), "/echo")
    conn.send(wsraw.frame(0x1, b"through the pinned upstream"))
    assert conn.expect_frame(0x1, b"through the pinned upstream")
    conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
    assert conn.read_close() == (1000, "")
    conn.close()


def summary_for(loopgate, name="gw", count=1):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        lines = [s for s in loopgate.summaries() if s.get("route") == name]
        if len(lines) >= count:
            return lines
        time.sleep(0.01)
    raise AssertionError(f"no summary for route {name}:\n{loopgate.log()}")


def assert_refused(loopgate, gateway, *words, name="gw", status=502):
    got, body = upgrade(loopgate, name)
    assert got == status, body
    for word in words:
        assert word in body, f"{word!r} not in {body!r}"
    line = summary_for(loopgate, name)[0]
    assert line["status"] == str(status)
    for word in words:
        assert word in line["reason"], f"{word!r} not in the log reason {line['reason']!r}"
    if gateway is not None:
        assert gateway.requests() == [], "an HTTP request reached an upstream loopgate did not trust"
    return body


@pytest.fixture
def ca_gateway(start_gateway, pki):
    """A gateway serving the valid leaf of the test CA."""
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key)


# ---------------------------------------------------------------------------
# Chain and name

def test_valid_certificate_from_the_configured_ca_is_accepted(start_loopgate, ca_gateway, pki):
    loopgate = start_loopgate({"routes": [route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})]})
    echo_through(loopgate)
    assert summary_for(loopgate)[0]["status"] == "101"
    assert "trust=\"tls.ca_file " + str(pki.ca.cert) + " (1 certificate)\"" in loopgate.log()


def test_expired_certificate_is_502_saying_when_it_expired(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.expired.cert, key=pki.expired.key)
    loopgate = start_loopgate({"routes": [route(gateway.port, {"ca_file": str(pki.ca.cert)})]})
    until = pki.expired.cert_obj.not_valid_after.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert_refused(loopgate, gateway, "upstream certificate verify failed: certificate has expired",
                   f"CN=localhost was valid until {until}")


def test_not_yet_valid_certificate_is_502_saying_from_when(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.not_yet.cert, key=pki.not_yet.key)
    loopgate = start_loopgate({"routes": [route(gateway.port, {"ca_file": str(pki.ca.cert)})]})
    since = pki.not_yet.cert_obj.not_valid_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert_refused(loopgate, gateway, "certificate is not yet valid", f"is valid from {since}")


def test_certificate_for_another_name_is_502_wrong_host_name(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.other_name.cert, key=pki.other_name.key)
    loopgate = start_loopgate({"routes": [route(gateway.port, {"ca_file": str(pki.ca.cert)})]})
    assert_refused(loopgate, gateway, "wrong host name",
                   "the certificate is for DNS:other.test, not localhost")


def test_ipv4_upstream_whose_certificate_names_only_dns_names_is_502_ip_address_mismatch(
        start_loopgate, start_gateway, pki):
    # The tailnet form wss://100.101.102.103:18789: the certificate must carry that IP, and a
    # certificate from a trusted CA for other names (here DNS:localhost, whose address it is)
    # must not do.
    gateway = start_gateway(cert=pki.dns_only.cert, key=pki.dns_only.key)
    loopgate = start_loopgate({"routes": [
        route(gateway.port, {"ca_file": str(pki.ca.cert), "verify": "full"}, host="127.0.0.1"),
    ]})
    assert_refused(loopgate, gateway,
                   "upstream certificate verify failed: IP address mismatch: wrong host name "
                   "(the certificate is for DNS:localhost, DNS:gateway.test, not 127.0.0.1)")


def test_ipv4_upstream_whose_certificate_carries_that_ip_is_accepted(start_loopgate, start_gateway, pki):
    # The twin of the test above: the same route, a certificate whose only name is IP:127.0.0.1.
    gateway = start_gateway(cert=pki.ip_only.cert, key=pki.ip_only.key)
    loopgate = start_loopgate({"routes": [
        route(gateway.port, {"ca_file": str(pki.ca.cert), "verify": "full"}, host="127.0.0.1"),
    ]})
    echo_through(loopgate)
    assert summary_for(loopgate)[0]["status"] == "101"
    assert [line.split()[1] for line in gateway.requests()] == ["path=/echo"]


def test_certificate_from_an_unknown_ca_is_502_naming_the_issuer(start_loopgate, ca_gateway, pki):
    loopgate = start_loopgate({"routes": [route(ca_gateway.port)]})  # the system store only
    assert_refused(loopgate, ca_gateway, "unknown issuer", "issued by CN=identity test CA",
                   "add that CA with tls.ca_file")


def test_self_signed_gateway_without_pin_is_502_with_its_fingerprint(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    loopgate = start_loopgate({"routes": [route(gateway.port)]})
    assert_refused(loopgate, gateway, "self-signed certificate (CN=openclaw-gateway)",
                   f"sha256:{pki.openclaw.sha256_hex}", f"spki-sha256:{pki.openclaw.spki_base64}",
                   "loopgate probe --print-pin")


# ---------------------------------------------------------------------------
# Pins

def test_every_pin_spelling_is_accepted_on_top_of_chain_verification(start_loopgate, ca_gateway, pki):
    spellings = pki.valid.leaf_spellings() + pki.valid.spki_spellings()
    routes = [route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "pins": [pin]}, name=f"pin{i}")
              for i, pin in enumerate(spellings)]
    loopgate = start_loopgate({"routes": routes})
    for i in range(len(spellings)):
        status, body = upgrade(loopgate, f"pin{i}")
        assert status == 101, f"{spellings[i]!r}: {body}"
    assert len(ca_gateway.requests()) == len(spellings)


def test_a_backup_pin_lets_the_certificate_rotate(start_loopgate, ca_gateway, pki):
    old_certificate = f"sha256:{pki.other_name.sha256_hex}"
    loopgate = start_loopgate({"routes": [
        route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "pins": [old_certificate, pki.valid.spki_base64]}),
    ]})
    echo_through(loopgate)


def test_wrong_pin_is_502_naming_what_the_upstream_presented(start_loopgate, ca_gateway, pki):
    loopgate = start_loopgate({"routes": [
        route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "pins": [pki.other_name.sha256_hex]}),
    ]})
    assert_refused(loopgate, ca_gateway, "upstream certificate does not match any pin in tls.pins",
                   f"it presented sha256:{pki.valid.sha256_hex}, spki-sha256:{pki.valid.spki_base64}")


def test_pin_only_accepts_the_self_signed_no_san_gateway_over_tls13(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    # The gateway is reached by an IP, a name it does not carry: only the pin can vouch for it.
    loopgate = start_loopgate({"routes": [
        route(gateway.port, {"verify": "pin-only", "pins": [pki.openclaw.leaf_spellings()[2]]}, host="127.0.0.1"),
        route(gateway.port, {"verify": "pin-only", "pins": [pki.openclaw.spki_spellings()[1]]}, name="by_key",
              host="gateway.test", connect_to="127.0.0.1"),
    ]}, args=["--log-level", "debug"])
    echo_through(loopgate)
    echo_through(loopgate, "by_key")
    ready = [parse_logfmt(line) for line in loopgate.log().splitlines() if 'msg="upstream TLS ready"' in line]
    assert ready and all(line["tls"].startswith("TLSv1.3 ") for line in ready), ready
    assert 'verify=pin-only pins=1' in loopgate.log()


def test_pin_only_with_a_wrong_pin_is_502(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    loopgate = start_loopgate({"routes": [
        route(gateway.port, {"verify": "pin-only", "pins": [f"spki-sha256:{pki.valid.spki_base64}"]}),
    ]})
    assert_refused(loopgate, gateway, "does not match any pin",
                   f"it presented sha256:{pki.openclaw.sha256_hex}", "subject CN=openclaw-gateway")


# ---------------------------------------------------------------------------
# Client certificates

@pytest.fixture
def mtls_gateway(start_gateway, pki):
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key, extra=["--client-ca", str(pki.client_ca.cert)])


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_client_certificate_is_accepted_by_a_gateway_that_requires_one(start_loopgate, mtls_gateway, pki, version):
    loopgate = start_loopgate({"routes": [route(mtls_gateway.port, {
        "ca_file": str(pki.ca.cert), "client_cert": str(pki.client.cert), "client_key": str(pki.client.key),
        "max_version": version,
    })]})
    echo_through(loopgate)
    assert f"client_cert={pki.client.cert}" in loopgate.log()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_missing_client_certificate_is_502_saying_one_is_required(start_loopgate, mtls_gateway, pki, version):
    loopgate = start_loopgate({"routes": [route(mtls_gateway.port, {"ca_file": str(pki.ca.cert),
                                                                    "max_version": version})]})
    body = assert_refused(loopgate, None, "upstream sent TLS alert",
                          "it requires a client certificate; set tls.client_cert and tls.client_key")
    # TLS 1.3 refuses the client only after the client finished its handshake.
    assert ("certificate required" if version == "1.3" else "handshake failure") in body
    assert mtls_gateway.requests() == []


def test_client_certificate_from_an_unknown_ca_is_502_naming_it(start_loopgate, mtls_gateway, pki):
    loopgate = start_loopgate({"routes": [route(mtls_gateway.port, {
        "ca_file": str(pki.ca.cert), "client_cert": str(pki.stranger.cert), "client_key": str(pki.stranger.key),
    })]})
    assert_refused(loopgate, None, "upstream sent TLS alert \"unknown ca\"",
                   "it did not accept loopgate's client certificate")
    assert mtls_gateway.requests() == []


# ---------------------------------------------------------------------------
# Resumption

@pytest.mark.parametrize("case", ["tls1.3", "tls1.2", "mtls"])
def test_second_session_resumes_the_tls_session(start_loopgate, start_gateway, pki, case):
    tls = {"ca_file": str(pki.ca.cert)}
    extra = []
    if case == "tls1.2":
        tls["max_version"] = "1.2"
    if case == "mtls":
        tls.update(client_cert=str(pki.client.cert), client_key=str(pki.client.key))
        extra = ["--client-ca", str(pki.client_ca.cert)]
    gateway = start_gateway(cert=pki.valid.cert, key=pki.valid.key, extra=extra)
    loopgate = start_loopgate({"routes": [route(gateway.port, tls)]}, args=["--log-level", "debug"])
    for _ in range(3):
        echo_through(loopgate)
    summaries = summary_for(loopgate, count=3)
    assert [s["tls_resumed"] for s in summaries] == ["false", "true", "true"]
    ready = [parse_logfmt(line) for line in loopgate.log().splitlines() if 'msg="upstream TLS ready"' in line]
    assert (ready[-1]["tls_handshakes_full"], ready[-1]["tls_handshakes_resumed"]) == ("1", "2")


# ---------------------------------------------------------------------------
# Trust store

def test_system_store_is_what_ssl_cert_file_names_and_is_logged(start_loopgate, ca_gateway, pki, tmp_path):
    env = ["env", f"SSL_CERT_FILE={pki.ca.cert}", f"SSL_CERT_DIR={tmp_path}"]
    loopgate = start_loopgate({"routes": [route(ca_gateway.port)]}, wrap=env)
    echo_through(loopgate)
    assert f'trust="system store: {pki.ca.cert} (SSL_CERT_FILE, 1 certificate)"' in loopgate.log()


def test_no_usable_trust_anchor_is_a_start_error(tmp_path, ca_gateway):
    config = tmp_path / "loopgate.json"
    config.write_text(json.dumps({"routes": [route(ca_gateway.port)]}))
    env = dict(os.environ, SSL_CERT_FILE=str(tmp_path / "none.pem"), SSL_CERT_DIR=str(tmp_path))
    done = subprocess.run([str(LOOPGATE_BIN), "run", "--config", str(config)], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 78, done.stderr
    assert "no usable trust anchor: the system store is empty" in done.stderr
    assert "msg=listening" not in done.stderr


def test_ipv6_literals_as_upstream_or_connect_to_are_config_errors(tmp_path):
    config = tmp_path / "loopgate.json"
    config.write_text(json.dumps({"routes": [
        {"name": "a", "listen": "127.0.0.1:0", "upstream": "wss://[fd7a:115c:a1e0::1]:443"},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": "wss://gw.test", "connect_to": "fd7a:115c:a1e0::1"},
    ]}))
    done = subprocess.run([str(LOOPGATE_BIN), "check", "--config", str(config)], capture_output=True, text=True,
                          timeout=30)
    assert done.returncode == 78
    assert "routes[0].upstream: IPv6 literal addresses are not allowed: loopgate connects over IPv4 only" in done.stderr
    assert "routes[1].connect_to: must be an IPv4 address (loopgate connects over IPv4 only)" in done.stderr


# ---------------------------------------------------------------------------
# The failure taxonomy: each failure its own reason

def test_connection_refused_is_502_connection_refused(start_loopgate):
    loopgate = start_loopgate({"routes": [route(free_port(), host="127.0.0.1")]})
    assert_refused(loopgate, None, "connection refused")


def test_connect_timeout_is_502_connect_timed_out(start_loopgate):
    silent = FullBacklog()
    try:
        loopgate = start_loopgate({"routes": [route(silent.port, host="127.0.0.1",
                                                    timeouts={"connect_ms": 300, "handshake_ms": 5000})]})
        assert_refused(loopgate, None, f"127.0.0.1:{silent.port} connect timed out after 300 ms")
    finally:
        silent.stop()


def test_tls_alert_from_the_server_is_502_naming_the_alert(start_loopgate, start_gateway, pki):
    gateway = start_gateway(cert=pki.valid.cert, key=pki.valid.key, extra=["--tls13-only"])
    loopgate = start_loopgate({"routes": [route(gateway.port, {"ca_file": str(pki.ca.cert), "max_version": "1.2"})]})
    assert_refused(loopgate, gateway, "upstream sent TLS alert \"protocol version\"",
                   "see tls.min_version and tls.max_version")


# What a plain HTTP server answers to a TLS ClientHello.
PLAIN_HTTP_ANSWER = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def test_upstream_without_tls_is_502_not_tls(start_loopgate, start_tcp_stub):
    plain = start_tcp_stub(greeting=PLAIN_HTTP_ANSWER)
    loopgate = start_loopgate({"routes": [route(plain.port)]})
    assert_refused(loopgate, None, "upstream did not answer with TLS", "plain ws:// server")


def test_upstream_speaking_something_else_over_tls_is_502_not_http(start_loopgate, pki):
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, lambda head: b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        loopgate = start_loopgate({"routes": [route(stub.port, {"ca_file": str(pki.ca.cert)})]})
        assert_refused(loopgate, None, "did not answer with HTTP")
    finally:
        stub.stop()


def test_upstream_answering_without_101_is_relayed_with_its_status(start_loopgate, ca_gateway, pki):
    loopgate = start_loopgate({"routes": [route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})]})
    status, body = upgrade(loopgate, path="/status/403")
    assert (status, body) == (403, "gateway refused with 403\n")
    assert summary_for(loopgate)[0]["reason"] == "upstream answered 403 Forbidden"


def test_wrong_sec_websocket_accept_is_502(start_loopgate, pki):
    answer = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" \
             b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, lambda head: answer)
    try:
        loopgate = start_loopgate({"routes": [route(stub.port, {"ca_file": str(pki.ca.cert)})]})
        assert_refused(loopgate, None, "upstream Sec-WebSocket-Accept does not match the key sent")
    finally:
        stub.stop()


# Names that do not exist, or exist only as IPv6, in a private /etc/hosts with DNS switched
# off: no query leaves the machine.
HOSTS = "127.0.0.1 localhost\nfd7a:115c:a1e0::7 v6only.test\n"


def private_resolver(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1): a private /etc/hosts and nsswitch.conf in a mount namespace")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m is not permitted here")
    hosts = tmp_path / "hosts"
    hosts.write_text(HOSTS)
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("hosts: files\n")
    script = 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts), str(nsswitch)]


def test_unknown_name_is_502_name_not_found(start_loopgate, tmp_path):
    loopgate = start_loopgate({"routes": [route(443, host="nosuch.test")]}, wrap=private_resolver(tmp_path))
    assert_refused(loopgate, None, "cannot resolve upstream host nosuch.test: name not found")


def test_name_with_only_ipv6_addresses_is_502_saying_ipv4_only(start_loopgate, tmp_path):
    loopgate = start_loopgate({"routes": [route(443, host="v6only.test")]}, wrap=private_resolver(tmp_path))
    assert_refused(loopgate, None, "the name has only IPv6 addresses (fd7a:115c:a1e0::7)",
                   "loopgate connects over IPv4 only")
