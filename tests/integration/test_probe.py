"""`loopgate probe` as an admin runs it: one line per step with its duration, the chain and
the pins it saw, the verdict, exit 0 or non-zero naming the failing step, and --print-pin
lines that can be pasted into the config. The same certificates and failures as
test_tls_identity.py, seen through the probe instead of a session."""

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import LOOPGATE_BIN, free_port, require_built
from pki import pki  # noqa: F401  (fixture)
from tls_stubs import FullBacklog, TlsAnswerer

STEP = re.compile(r"^(\w+)\s+(ok|FAIL|warn|no|--)\s+(\d+(?:\.\d)? ms)  (.*)$")


class Probe:
    def __init__(self, done):
        self.returncode = done.returncode
        self.out = done.stdout
        self.err = done.stderr
        self.steps = [m.groups() for m in map(STEP.match, self.out.splitlines()) if m]

    def step(self, name):
        """(verdict, detail) of the last line for step `name`."""
        found = [(verdict, detail) for step, verdict, _, detail in self.steps if step == name]
        assert found, f"no {name!r} step in:\n{self.out}"
        return found[-1]

    def names(self):
        return [step for step, *_ in self.steps]

    def assert_failed_at(self, step, *words):
        assert self.returncode == 1, self.out + self.err
        assert f"probe failed at step {step}" in self.out, self.out
        verdict, detail = self.step(step)
        assert verdict == "FAIL"
        for word in words:
            assert word in detail, f"{word!r} not in {detail!r}"


@pytest.fixture
def probe(tmp_path):
    require_built(LOOPGATE_BIN)
    runs = []

    def run(routes, *args, env=None, wrap=()):
        config = tmp_path / f"probe{len(runs)}.json"
        config.write_text(json.dumps({"routes": routes}))
        runs.append(config)
        done = subprocess.run([*wrap, str(LOOPGATE_BIN), "probe", "--config", str(config), *args],
                              capture_output=True, text=True, timeout=60, env=env)
        return Probe(done)

    return run


def route(port, tls=None, name="gw", host="localhost", **extra):
    entry = {"name": name, "listen": "127.0.0.1:0", "upstream": f"wss://{host}:{port}"}
    if tls is not None:
        entry["tls"] = tls
    entry.update(extra)
    return entry


@pytest.fixture
def ca_gateway(start_gateway, pki):
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key)


# ---------------------------------------------------------------------------
# A healthy upstream

def test_probe_prints_every_step_with_its_duration_and_exits_0(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})])
    assert result.returncode == 0, result.out
    assert result.names() == ["trust", "resolve", "connect", "tls", "verify", "upgrade", "close", "resume"]
    assert all(verdict == "ok" for _, verdict, _, _ in result.steps), result.out
    assert result.step("trust")[1] == f"tls.ca_file {pki.ca.cert} (1 certificate)"
    assert result.step("resolve")[1] == "localhost -> 127.0.0.1 (A records only)"
    assert result.step("connect")[1] == f"127.0.0.1:{ca_gateway.port}"
    assert re.match(r"TLSv1\.3 TLS_\w+, full handshake .*, ALPN http/1\.1$", result.step("tls")[1])
    assert result.step("verify")[1] == "chain and host name verified; no pins configured"
    assert result.step("upgrade")[1] == (f"101 Switching Protocols from 127.0.0.1:{ca_gateway.port}, "
                                         "Sec-WebSocket-Accept correct")
    assert result.step("close")[1] == "sent 1000, the upstream answered 1000"
    assert result.step("resume")[1].startswith("a second TLS handshake resumed the session")
    assert "probe ok: route gw answered the WebSocket upgrade" in result.out
    # The upgrade really reached the gateway, with a fresh key (it checked the accept).
    assert any("status=101" in line for line in ca_gateway.requests())


def test_probe_shows_the_chain_and_the_pins_of_the_leaf(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})])
    cert = pki.valid.cert_obj
    for line in ("certificate 0 (leaf)", "subject   CN=localhost", "issuer    CN=identity test CA",
                 "names     DNS:localhost, DNS:gateway.test, IP:127.0.0.1",
                 f"valid     {cert.not_valid_before:%Y-%m-%dT%H:%M:%SZ} to {cert.not_valid_after:%Y-%m-%dT%H:%M:%SZ}",
                 f"sha256    sha256:{pki.valid.sha256_hex}", f"spki      spki-sha256:{pki.valid.spki_base64}"):
        assert line in result.out, f"{line!r} not in:\n{result.out}"


# ---------------------------------------------------------------------------
# Certificates that fail, and the step that says so

@pytest.mark.parametrize("which, words", [
    ("expired", ["certificate has expired", "was valid until"]),
    ("not_yet", ["certificate is not yet valid", "is valid from"]),
    ("other_name", ["wrong host name", "the certificate is for DNS:other.test, not localhost"]),
])
def test_probe_names_the_certificate_failure(probe, start_gateway, pki, which, words):
    issued = getattr(pki, which)
    gateway = start_gateway(cert=issued.cert, key=issued.key)
    result = probe([route(gateway.port, {"ca_file": str(pki.ca.cert)})])
    result.assert_failed_at("verify", "upstream certificate verify failed", *words)
    assert result.step("tls") == ("FAIL", "certificate received; loopgate aborted the handshake")
    assert f"sha256    sha256:{issued.sha256_hex}" in result.out  # what it saw, even though it refused it
    assert gateway.requests() == []


def test_probe_names_an_unknown_issuer(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port)])
    result.assert_failed_at("verify", "unknown issuer", "issued by CN=identity test CA")
    assert result.step("trust")[1].startswith("system store: ")


def test_probe_names_a_self_signed_gateway(probe, start_gateway, pki):
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    result = probe([route(gateway.port)])
    result.assert_failed_at("verify", "self-signed certificate (CN=openclaw-gateway)")
    assert "names     (no subjectAltName)" in result.out


# ---------------------------------------------------------------------------
# Pins

def test_probe_reports_which_pin_matched_for_every_spelling(probe, ca_gateway, pki):
    spellings = pki.valid.leaf_spellings() + pki.valid.spki_spellings()
    routes = [route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "pins": [pin]}, name=f"pin{i}")
              for i, pin in enumerate(spellings)]
    result = probe(routes)
    assert result.returncode == 0, result.out
    verdicts = [detail for step, _, _, detail in result.steps if step == "verify"]
    leaf = f"chain and host name verified; pin sha256:{pki.valid.sha256_hex} matched"
    key = f"chain and host name verified; pin spki-sha256:{pki.valid.spki_base64} matched"
    assert verdicts == [leaf] * len(pki.valid.leaf_spellings()) + [key] * len(pki.valid.spki_spellings())
    assert result.out.count("probe ok: route pin") == len(spellings)


def test_probe_accepts_a_backup_pin(probe, ca_gateway, pki):
    tls = {"ca_file": str(pki.ca.cert), "pins": [pki.other_name.sha256_hex, pki.valid.sha256_hex]}
    result = probe([route(ca_gateway.port, tls)])
    assert result.returncode == 0, result.out
    assert result.step("verify")[1].endswith(f"pin sha256:{pki.valid.sha256_hex} matched")


def test_probe_shows_the_presented_fingerprints_on_a_wrong_pin(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "pins": [pki.other_name.spki_base64]})])
    result.assert_failed_at("verify", "does not match any pin",
                            f"it presented sha256:{pki.valid.sha256_hex}, spki-sha256:{pki.valid.spki_base64}")


def test_probe_pin_only_against_the_self_signed_tls13_gateway(probe, start_gateway, pki):
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    result = probe([route(gateway.port, {"verify": "pin-only", "pins": [pki.openclaw.leaf_spellings()[2]]},
                          host="127.0.0.1")])
    assert result.returncode == 0, result.out
    assert result.step("trust")[1] == "none: \"verify\": \"pin-only\" (only tls.pins authenticate the upstream)"
    assert result.step("tls")[1].startswith("TLSv1.3 ")
    assert result.step("verify")[1] == ("chain and host name not checked (\"verify\": \"pin-only\"); "
                                        f"pin sha256:{pki.openclaw.sha256_hex} matched")
    assert result.step("upgrade")[0] == "ok"


def test_print_pin_lines_pasted_into_the_config_make_the_probe_pass(probe, start_gateway, pki):
    """The admin's path for a self-signed gateway: probe fails, prints the pin, the admin
    checks it out of band (here: against the fingerprint computed by Python) and pastes it."""
    gateway = start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])
    first = probe([route(gateway.port)], "--print-pin")
    first.assert_failed_at("verify", "self-signed certificate")
    pasted = [line.split("//")[0].strip() for line in first.out.splitlines()
              if line.startswith("      \"")]
    assert pasted == [f'"pins": ["sha256:{pki.openclaw.sha256_hex}"],', '"verify": "pin-only",']
    tls = json.loads("{" + " ".join(pasted).rstrip(",") + "}")
    second = probe([route(gateway.port, tls)], "--print-pin")
    assert second.returncode == 0, second.out
    assert second.step("verify")[1].endswith(f"pin sha256:{pki.openclaw.sha256_hex} matched")
    assert f'// "pins": ["spki-sha256:{pki.openclaw.spki_base64}"],' in second.out


def test_print_pin_for_a_verified_chain_keeps_full_verification(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})], "--print-pin")
    assert result.returncode == 0
    assert f'      "pins": ["sha256:{pki.valid.sha256_hex}"],' in result.out
    assert '"verify": "pin-only"' not in result.out


# ---------------------------------------------------------------------------
# Client certificates and resumption

@pytest.fixture
def mtls_gateway(start_gateway, pki):
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key, extra=["--client-ca", str(pki.client_ca.cert)])


def test_probe_with_a_client_certificate_succeeds_and_resumes(probe, mtls_gateway, pki):
    tls = {"ca_file": str(pki.ca.cert), "client_cert": str(pki.client.cert), "client_key": str(pki.client.key)}
    result = probe([route(mtls_gateway.port, tls)])
    assert result.returncode == 0, result.out
    assert result.step("resume")[0] == "ok"


def test_probe_without_the_required_client_certificate_fails_at_the_upgrade_over_tls13(probe, mtls_gateway, pki):
    result = probe([route(mtls_gateway.port, {"ca_file": str(pki.ca.cert)})])
    # TLS 1.3: the server refuses the client after the client finished its handshake.
    assert result.step("tls")[0] == "ok"
    result.assert_failed_at("upgrade", "upstream sent TLS alert \"certificate required\"",
                            "set tls.client_cert and tls.client_key")


def test_probe_without_the_required_client_certificate_fails_at_tls_over_tls12(probe, mtls_gateway, pki):
    result = probe([route(mtls_gateway.port, {"ca_file": str(pki.ca.cert), "max_version": "1.2"})])
    result.assert_failed_at("tls", "upstream sent TLS alert", "set tls.client_cert and tls.client_key")


def test_probe_with_a_client_certificate_the_gateway_does_not_trust(probe, mtls_gateway, pki):
    tls = {"ca_file": str(pki.ca.cert), "client_cert": str(pki.stranger.cert), "client_key": str(pki.stranger.key)}
    result = probe([route(mtls_gateway.port, tls)])
    result.assert_failed_at("upgrade", "upstream sent TLS alert \"unknown ca\"",
                            "it did not accept loopgate's client certificate")


def test_probe_over_tls12_resumes_too(probe, ca_gateway, pki):
    result = probe([route(ca_gateway.port, {"ca_file": str(pki.ca.cert), "max_version": "1.2"})])
    assert result.returncode == 0, result.out
    assert result.step("tls")[1].startswith("TLSv1.2 ")
    assert result.step("resume") == ("ok", "a second TLS handshake resumed the session (" +
                                     result.step("tls")[1].split(",")[0] + ")")


def websocket_accept(head):
    key = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
               if line.lower().startswith(b"sec-websocket-key:"))
    digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + base64.b64encode(digest) + b"\r\n\r\n")


def test_probe_does_not_hang_when_the_second_connection_never_answers(probe, pki):
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, websocket_accept, hold_after=1)
    try:
        result = probe([route(stub.port, {"ca_file": str(pki.ca.cert)}, timeouts={"handshake_ms": 500})])
    finally:
        stub.stop()
    assert result.returncode == 0, result.out  # the route works; only resumption is unknown
    assert result.step("upgrade")[0] == "ok"
    verdict, detail = result.step("resume")
    assert verdict == "warn"
    assert detail.startswith("the second connection did not complete within 500 ms (TLS handshake with 127.0.0.1:")


def test_print_pin_belongs_to_probe_and_help_lists_probe():
    done = subprocess.run([str(LOOPGATE_BIN), "run", "--config", "x.json", "--print-pin"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 64
    assert "--print-pin belongs to the probe command" in done.stderr
    usage = subprocess.run([str(LOOPGATE_BIN), "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "loopgate probe [--config FILE] [ROUTE] [--print-pin]" in usage


# ---------------------------------------------------------------------------
# The failure taxonomy, step by step

def test_probe_connection_refused_fails_at_connect(probe):
    port = free_port()
    result = probe([route(port, host="127.0.0.1")])
    assert result.step("resolve") == ("--", "not needed: 127.0.0.1 is an address")
    result.assert_failed_at("connect", f"127.0.0.1:{port} connection refused")
    assert f"probe failed at step connect: cannot connect to upstream 127.0.0.1:{port}" in result.out


def test_probe_connect_timeout_fails_at_connect(probe):
    silent = FullBacklog()
    try:
        result = probe([route(silent.port, host="gateway.test", connect_to="127.0.0.1",
                              timeouts={"connect_ms": 300})])
    finally:
        silent.stop()
    assert result.step("resolve") == ("--", "not needed: connect_to 127.0.0.1")
    result.assert_failed_at("connect", "connect timed out after 300 ms")


def test_probe_tls_alert_fails_at_tls(probe, start_gateway, pki):
    gateway = start_gateway(cert=pki.valid.cert, key=pki.valid.key, extra=["--tls13-only"])
    result = probe([route(gateway.port, {"ca_file": str(pki.ca.cert), "max_version": "1.2"})])
    result.assert_failed_at("tls", "upstream sent TLS alert \"protocol version\"")


def test_probe_plain_upstream_fails_at_tls(probe, start_tcp_stub):
    plain = start_tcp_stub(greeting=b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    result = probe([route(plain.port)])
    result.assert_failed_at("tls", "upstream did not answer with TLS")


def test_probe_not_http_fails_at_upgrade(probe, pki):
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, lambda head: b"SSH-2.0-OpenSSH_9.2\r\n")
    try:
        result = probe([route(stub.port, {"ca_file": str(pki.ca.cert)})])
    finally:
        stub.stop()
    result.assert_failed_at("upgrade", "did not answer with HTTP")


def test_probe_not_101_fails_at_upgrade_with_the_status(probe, pki):
    refusal = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 14\r\nConnection: close\r\n\r\norigin denied\n"
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, lambda head: refusal)
    try:
        result = probe([route(stub.port, {"ca_file": str(pki.ca.cert)})])
    finally:
        stub.stop()
    result.assert_failed_at("upgrade", "upstream answered 403 Forbidden instead of 101 Switching Protocols: "
                                       "origin denied")


def test_probe_bad_accept_fails_at_upgrade(probe, pki):
    answer = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    stub = TlsAnswerer(pki.valid.cert, pki.valid.key, lambda head: answer)
    try:
        result = probe([route(stub.port, {"ca_file": str(pki.ca.cert)})])
    finally:
        stub.stop()
    result.assert_failed_at("upgrade", "Sec-WebSocket-Accept does not match the key sent")
    # A fresh key each time: the stub saw one, and it is not the RFC's sample key.
    assert len(stub.requests) == 1 and b"dGhlIHNhbXBsZSBub25jZQ==" not in stub.requests[0]


def private_resolver(tmp_path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1): a private /etc/hosts and nsswitch.conf in a mount namespace")
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("unshare -m is not permitted here")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\nfd7a:115c:a1e0::7 v6only.test\n")
    nsswitch = tmp_path / "nsswitch.conf"
    nsswitch.write_text("hosts: files\n")  # no DNS query leaves the machine
    script = 'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/nsswitch.conf && shift && exec "$@"'
    return ["unshare", "-m", "sh", "-c", script, str(hosts), str(nsswitch)]


def test_probe_unknown_name_fails_at_resolve(probe, tmp_path):
    result = probe([route(443, host="nosuch.test")], wrap=private_resolver(tmp_path))
    result.assert_failed_at("resolve", "cannot resolve upstream host nosuch.test: name not found")


def test_probe_ipv6_only_name_fails_at_resolve_saying_ipv4_only(probe, tmp_path):
    result = probe([route(443, host="v6only.test")], wrap=private_resolver(tmp_path))
    result.assert_failed_at("resolve", "only IPv6 addresses (fd7a:115c:a1e0::7)", "loopgate connects over IPv4 only")


def test_probe_without_trust_anchor_fails_at_trust(probe, ca_gateway, tmp_path):
    env = dict(os.environ, SSL_CERT_FILE=str(tmp_path / "none.pem"), SSL_CERT_DIR=str(tmp_path))
    result = probe([route(ca_gateway.port)], env=env)
    result.assert_failed_at("trust", "no usable trust anchor")
    assert ca_gateway.requests() == []
    # The step's own time: reading an empty store takes milliseconds, not the machine's uptime.
    [took] = [took for step, verdict, took, _ in result.steps if step == "trust"]
    assert float(took.split()[0]) < 10000, result.out


# ---------------------------------------------------------------------------
# Choosing routes and the config file

def test_probe_one_route_by_name_or_all_of_them(probe, ca_gateway, pki):
    tls = {"ca_file": str(pki.ca.cert)}
    routes = [route(ca_gateway.port, tls, name="first"), route(free_port(), tls, name="second", host="127.0.0.1")]
    only_first = probe(routes, "first")
    assert only_first.returncode == 0
    assert "route first:" in only_first.out and "route second:" not in only_first.out
    both = probe(routes)
    assert both.returncode == 1  # the second one fails
    assert "probe ok: route first" in both.out and "probe failed at step connect" in both.out
    unknown = probe(routes, "third")
    assert unknown.returncode == 64
    assert "no route named 'third' (routes: first, second)" in unknown.err


def test_probe_reads_the_launch_agent_config_by_default(tmp_path, ca_gateway, pki):
    config_dir = tmp_path / "home" / ".config" / "loopgate"
    config_dir.mkdir(parents=True)
    (config_dir / "loopgate.jsonc").write_text(
        "// installed by install-launchagent.sh\n" +
        json.dumps({"routes": [route(ca_gateway.port, {"ca_file": str(pki.ca.cert)})]}))
    env = dict(os.environ, HOME=str(tmp_path / "home"))
    done = subprocess.run([str(LOOPGATE_BIN), "probe"], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "probe ok: route gw" in done.stdout
