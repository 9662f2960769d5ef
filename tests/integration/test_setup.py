"""`loopgate setup URL` as an admin runs it against real TLS test gateways: the route it
writes (full or pin-only), the file's mode, what it refuses (nothing written), the port it
picks, an existing config kept with its comments, --force and --dry-run. These run with
`--service none` (nothing is started); test_setup_agent.py has the agent's part."""

import json
import os
import re
import socket
import stat
import subprocess

import pytest

import wsraw
from conftest import LOOPGATE_BIN, REPO, Process, free_port, require_built, stop_all
from fake_services import FakeLaunchd, FakeSystemd
from pki import pki  # noqa: F401  (fixture)

POINT = re.compile(r"^point your app at ws://127\.0\.0\.1:(\d+)/$", re.M)


class Setup:
    def __init__(self, done, config):
        self.returncode = done.returncode
        self.out = done.stdout
        self.err = done.stderr
        self.config = config

    @property
    def all(self):
        return self.out + self.err

    def port(self):
        match = POINT.search(self.out)
        assert match, self.all
        return int(match.group(1))

    def routes(self):
        text = self.config.read_text()
        # JSON with comments: drop // and /* */ outside strings the simple way the tests need.
        stripped = re.sub(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', lambda m: m.group(1) or "", text, flags=re.S)
        return json.loads(stripped)["routes"]


@pytest.fixture
def setup(tmp_path):
    require_built(LOOPGATE_BIN)
    config = tmp_path / "conf" / "loopgate.jsonc"
    env = dict(os.environ, HOME=str(tmp_path / "home"))

    def run(url, *args, path=config, fake=None):
        service = [] if "--service" in args else ["--service", "none"]  # never a real systemd user unit
        done = subprocess.run([str(LOOPGATE_BIN), "setup", url, "--config", str(path), *service, *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                              env=fake.env(env) if fake else env)
        return Setup(done, path)

    run.config = config
    run.home = tmp_path / "home"
    return run


def check(path):
    return subprocess.run([str(LOOPGATE_BIN), "check", "--config", str(path)], capture_output=True, text=True,
                          timeout=30)


def listing(directory):
    """Every file and directory under `directory`, with its mode and content (the test
    gateway's own output files aside: it logs each request)."""
    return sorted((str(p.relative_to(directory)), p.stat().st_mode, p.read_bytes() if p.is_file() else b"")
                  for p in directory.rglob("*") if not p.name.startswith("gateway"))


@pytest.fixture
def ca_gateway(start_gateway, pki):
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key)


@pytest.fixture
def openclaw(start_gateway, pki):
    return start_gateway(cert=pki.openclaw.cert, key=pki.openclaw.key, extra=["--tls13-only"])


def test_a_verified_gateway_gets_a_full_route_in_a_private_file(setup, ca_gateway, pki):
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert))
    assert done.returncode == 0, done.all
    assert "probe ok" in done.out and re.search(r"^verify\s+ok", done.out, re.M), done.out
    [route] = done.routes()
    assert route["name"] == "localhost"
    assert route["upstream"] == f"wss://localhost:{ca_gateway.port}"
    assert route["tls"] == {"ca_file": str(pki.ca.cert)}
    assert route["listen"] == f"127.0.0.1:{done.port()}"
    assert stat.S_IMODE(setup.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(setup.config.parent.stat().st_mode) == 0o700
    assert check(setup.config).returncode == 0
    assert f"loopgate run --config {setup.config}" in done.out


def test_a_self_signed_gateway_with_its_pin_gets_a_pin_only_route_that_relays(setup, openclaw, pki, tmp_path):
    pin = f"spki-sha256:{pki.openclaw.spki_base64}"
    done = setup(f"wss://127.0.0.1:{openclaw.port}", "--pin", pin, "--name", "claw")
    assert done.returncode == 0, done.all
    assert f"sha256:{pki.openclaw.sha256_hex}" in done.out and pin in done.out
    assert "openssl x509" in done.out
    [route] = done.routes()
    assert route["tls"] == {"verify": "pin-only", "pins": [pin]}
    assert route["name"] == "claw"
    port = done.port()
    process = Process([LOOPGATE_BIN, "run", "--config", setup.config], tmp_path, "loopgate-setup")
    try:
        process.wait_for(r"msg=listening route=claw address=127\.0\.0\.1:" + str(port))
        conn = wsraw.open_ws(port, "/echo")
        conn.send(wsraw.frame(0x1, b"through the route setup wrote"))
        assert conn.expect_frame(0x1, b"through the route setup wrote")
        conn.send(wsraw.frame(0x8, wsraw.close_payload(1000)))
        assert conn.read_close() == (1000, "")
        conn.close()
    finally:
        stop_all([process])


def test_a_wrong_pin_is_refused_naming_both_fingerprints(setup, openclaw, pki):
    done = setup(f"wss://127.0.0.1:{openclaw.port}", "--pin", f"sha256:{pki.valid.sha256_hex}")
    assert done.returncode == 1, done.all
    assert f"sha256:{pki.openclaw.sha256_hex}" in done.err
    assert f"spki-sha256:{pki.openclaw.spki_base64}" in done.err
    assert not setup.config.parent.exists()


def test_no_pin_without_a_terminal_is_refused_with_the_hint(setup, openclaw, pki):
    done = setup(f"wss://127.0.0.1:{openclaw.port}")
    assert done.returncode == 1, done.all
    assert f"pass --pin sha256:{pki.openclaw.sha256_hex}" in done.err
    assert not setup.config.parent.exists()


@pytest.mark.parametrize("which,words", [("expired", "expired"), ("not_yet", "not yet valid"),
                                         ("other_name", "")])
def test_a_certificate_that_does_not_verify_is_refused(setup, start_gateway, pki, which, words):
    issued = getattr(pki, which)
    gateway = start_gateway(cert=issued.cert, key=issued.key)
    done = setup(f"wss://localhost:{gateway.port}", "--ca-file", str(pki.ca.cert))
    assert done.returncode == 1, done.all
    assert "refused" in done.err and "step verify" in done.err and words in done.err
    assert not setup.config.parent.exists()


def test_an_unreachable_gateway_is_69(setup):
    done = setup(f"wss://127.0.0.1:{free_port()}")
    assert done.returncode == 69, done.all
    assert "cannot reach" in done.err
    assert not setup.config.parent.exists()


def test_the_port_is_another_when_the_upstreams_is_taken_and_port_is_honoured(setup, ca_gateway, pki, tmp_path):
    url = f"wss://localhost:{ca_gateway.port}"
    dry = setup(url, "--ca-file", str(pki.ca.cert), "--dry-run")
    done = setup(url, "--ca-file", str(pki.ca.cert))
    assert done.returncode == 0 and dry.returncode == 0, dry.all + done.all
    assert done.port() != ca_gateway.port  # the gateway itself holds it
    assert 18789 <= done.port() <= 18889  # the first free one from 18789, not an ephemeral port
    assert dry.port() == done.port()  # the dry run showed the URL the config uses
    wanted = free_port()
    other = setup(url, "--ca-file", str(pki.ca.cert), "--port", str(wanted), path=tmp_path / "second.jsonc")
    assert other.returncode == 0, other.all
    assert other.port() == wanted


def test_a_port_something_listens_on_is_refused_before_dialing(setup):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = setup(f"wss://127.0.0.1:{port}", "--port", str(port))
    assert done.returncode == 69, done.all
    assert f"--port {port} is in use on 127.0.0.1" in done.err
    assert "probing" not in done.out and not POINT.search(done.out)
    assert not setup.config.parent.exists()


@pytest.mark.parametrize("args,says", [
    (["--ca-file", "nope.pem"], "--ca-file nope.pem: No such file or directory"),
    (["--pin", "sha256:abc"], "--pin sha256:abc: has 3 hex digits"),
    ([], "setup takes a wss:// URL, not https://127.0.0.1:"),
])
def test_command_line_mistakes_are_named_as_options_before_dialing(setup, args, says):
    with socket.socket() as listening:  # a gateway that would be dialed: nothing may reach it
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        scheme = "https" if not args else "wss"
        done = setup(f"{scheme}://127.0.0.1:{port}", *args)
        listening.setblocking(False)
        with pytest.raises(BlockingIOError):
            listening.accept()
    assert done.returncode == 64, done.all
    assert says in done.err and "probing" not in done.out, done.all
    assert "routes[0]" not in done.all and "tls.ca_file" not in done.all
    assert not setup.config.parent.exists()


def test_an_unknown_ca_is_refused_with_the_advice_in_setups_terms(setup, ca_gateway):
    done = setup(f"wss://localhost:{ca_gateway.port}")  # its CA is not in the system store
    assert done.returncode == 1, done.all
    assert "add that CA with --ca-file" in done.err and "add that CA with --ca-file" in done.out
    assert "tls.ca_file" not in done.all
    assert not setup.config.parent.exists()


EXISTING = """// my routes, by hand
{
    /* the first one ] */
    "routes": [
        {"name": "old", "listen": "127.0.0.1:%d", "upstream": "wss://old.test"} // keep me
    ]
}
"""


def test_an_existing_config_gets_the_route_and_keeps_its_comments(setup, ca_gateway, pki):
    setup.config.parent.mkdir(mode=0o700)
    setup.config.write_text(EXISTING % free_port())
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert))
    assert done.returncode == 0, done.all
    text = setup.config.read_text()
    for comment in ("// my routes, by hand", "/* the first one ] */", "// keep me"):
        assert comment in text
    assert [r["name"] for r in done.routes()] == ["old", "localhost"]
    assert check(setup.config).returncode == 0


def test_with_no_service_manager_a_loopgate_running_from_the_file_is_reloaded_and_the_path_proven(
        setup, ca_gateway, pki, tmp_path):
    setup.config.parent.mkdir(mode=0o700)
    admin = free_port()
    setup.config.write_text(json.dumps({"routes": [{"name": "old", "listen": f"127.0.0.1:{free_port()}",
                                                    "upstream": "wss://old.test"}],
                                        "admin": {"listen": f"127.0.0.1:{admin}"}}))
    process = Process([LOOPGATE_BIN, "run", "--config", setup.config], tmp_path, "loopgate-by-hand")
    try:
        process.wait_for(r'msg="admin endpoint listening"')
        done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert))
        assert done.returncode == 0, done.all
        assert f"a loopgate runs from this file (pid {process.pid}): reloaded {setup.config}: generation 2" in done.out
        assert "path ok: " in done.out and "loopgate run --config" not in done.out, done.out
        process.wait_for(r'msg=reloaded by=admin')
        process.wait_for(r'msg="connection closed" route=localhost .*close_reason="loopgate setup"')
    finally:
        stop_all([process])


def test_with_no_service_manager_a_loopgate_running_from_another_file_is_left_alone(setup, ca_gateway, pki, tmp_path):
    setup.config.parent.mkdir(mode=0o700)
    text = json.dumps({"routes": [{"name": "old", "listen": f"127.0.0.1:{free_port()}", "upstream": "wss://old.test"}],
                       "admin": {"listen": f"127.0.0.1:{free_port()}"}})
    setup.config.write_text(text)
    other = tmp_path / "other.jsonc"  # the same admin endpoint, another file: not the one setup edits
    other.write_text(text)
    other.chmod(0o600)
    process = Process([LOOPGATE_BIN, "run", "--config", other], tmp_path, "loopgate-other")
    try:
        process.wait_for(r'msg="admin endpoint listening"')
        done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert))
        assert done.returncode == 0, done.all
        assert "a loopgate runs from this file" not in done.out
        assert f"loopgate run --config {setup.config}" in done.out, done.out
        assert "msg=reloaded" not in process.stderr()
    finally:
        stop_all([process])


def test_an_existing_route_that_run_would_refuse_stops_setup_before_anything_is_written(setup, ca_gateway, pki):
    setup.config.parent.mkdir(mode=0o700)
    not_pem = setup.config.parent / "old-ca.pem"
    not_pem.write_text("not a certificate\n")
    before = json.dumps({"routes": [{"name": "old", "listen": f"127.0.0.1:{free_port()}", "upstream": "wss://old.test",
                                     "tls": {"ca_file": str(not_pem)}}]})
    setup.config.write_text(before)
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert))
    assert done.returncode == 78, done.all
    assert 'routes[0] "old": cannot prepare TLS: ' in done.err and "nothing written" in done.err, done.all
    assert setup.config.read_text() == before


def test_a_name_clash_is_refused_and_force_replaces(setup, ca_gateway, pki):
    setup.config.parent.mkdir(mode=0o700)
    setup.config.write_text(EXISTING % free_port())
    before = setup.config.read_bytes()
    url = f"wss://localhost:{ca_gateway.port}"
    done = setup(url, "--ca-file", str(pki.ca.cert), "--name", "old")
    assert done.returncode == 1, done.all
    assert 'routes[0] "old"' in done.err
    assert setup.config.read_bytes() == before
    forced = setup(url, "--ca-file", str(pki.ca.cert), "--name", "old", "--force")
    assert forced.returncode == 0, forced.all
    assert "comments are not kept" in forced.out
    [route] = forced.routes()
    assert route["upstream"] == url
    assert check(setup.config).returncode == 0


def test_a_port_clash_is_refused(setup, ca_gateway, pki):
    taken = free_port()
    setup.config.parent.mkdir(mode=0o700)
    setup.config.write_text(EXISTING % taken)
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert), "--port", str(taken))
    assert done.returncode == 1, done.all
    assert f'routes[0] "old" listens on 127.0.0.1:{taken}' in done.err


def test_dry_run_changes_nothing(setup, ca_gateway, pki, tmp_path):
    url = f"wss://localhost:{ca_gateway.port}"
    done = setup(url, "--ca-file", str(pki.ca.cert), "--dry-run")
    assert done.returncode == 0, done.all
    assert not setup.config.parent.exists()
    assert '"upstream": "' + url + '"' in done.out and "nothing was written" in done.out
    assert f"would create {setup.config} (and its directory {setup.config.parent}, mode 0700)" in done.out
    setup.config.parent.mkdir(mode=0o700)
    setup.config.write_text(EXISTING % free_port())
    before = listing(setup.config.parent)
    done = setup(url, "--ca-file", str(pki.ca.cert), "--dry-run")
    assert done.returncode == 0, done.all
    assert "would add route" in done.out
    assert listing(setup.config.parent) == before


def test_dry_run_with_systemd_prints_the_unit_and_the_commands_and_changes_nothing(setup, ca_gateway, pki,
                                                                                    tmp_path):
    setup.home.mkdir()
    systemd = FakeSystemd(tmp_path)
    before = listing(tmp_path)
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert), "--dry-run",
                 "--service", "systemd", fake=systemd)
    assert done.returncode == 0, done.all
    assert listing(tmp_path) == before  # no config, no unit, no calls log: the fake never ran
    unit = setup.home / ".config" / "systemd" / "user" / "loopgate.service"
    assert f"would write {unit} (mode 0644):" in done.out
    assert f"ExecStart={LOOPGATE_BIN} run --config {setup.config}\n" in done.out
    for command in ("daemon-reload", "enable loopgate.service", "restart loopgate.service"):
        assert f"dry run: would run: systemctl --user {command}\n" in done.out
    assert "nothing was changed" in done.out
    assert POINT.search(done.out.rstrip("\n").splitlines()[-1]), done.out


def test_dry_run_with_launchd_prints_the_plist_and_the_launchctl_commands_and_changes_nothing(setup, ca_gateway,
                                                                                              pki, tmp_path):
    setup.home.mkdir()
    launchd = FakeLaunchd(tmp_path)
    env_script = {"LOOPGATE_AGENT_SCRIPT": str(REPO / "launchd" / "loopgate-agent.sh")}

    class WithScript:
        def env(self, base):
            return launchd.env({**base, **env_script})

    before = listing(tmp_path)
    done = setup(f"wss://localhost:{ca_gateway.port}", "--ca-file", str(pki.ca.cert), "--dry-run",
                 "--service", "launchd", fake=WithScript())
    assert done.returncode == 0, done.all
    assert listing(tmp_path) == before  # nothing written, and launchctl was never called
    plist = setup.home / "Library" / "LaunchAgents" / "com.loopgate.agent.plist"
    assert "<key>ProgramArguments</key>" in done.out and f"<string>{setup.config}</string>" in done.out
    assert f"{setup.config} does not exist yet" in done.out
    assert f"would run: launchctl bootstrap gui/{os.getuid()} {plist}" in done.out
    assert "nothing was changed" in done.out


@pytest.mark.parametrize("dry_run", [True, False])
def test_the_admin_endpoints_port_is_refused_as_port_dry_run_or_not(setup, dry_run):
    admin = free_port()
    setup.config.parent.mkdir(mode=0o700)
    setup.config.write_text(EXISTING.replace('"routes"', '"admin": {"listen": "127.0.0.1:%d"},\n    "routes"' % admin)
                            % free_port())
    before = setup.config.read_bytes()
    done = setup(f"wss://127.0.0.1:{free_port()}", "--port", str(admin), *(["--dry-run"] if dry_run else []))
    assert done.returncode == 1, done.all
    assert f"--port {admin} is the admin endpoint's port (admin.listen 127.0.0.1:{admin}); pick another" in done.err
    assert "routes[" not in done.all and "probing" not in done.out
    assert setup.config.read_bytes() == before
    assert sorted(p.name for p in setup.config.parent.iterdir()) == ["loopgate.jsonc"]


def test_setup_help_and_usage(setup):
    shown = subprocess.run([str(LOOPGATE_BIN), "help", "setup"], capture_output=True, text=True, timeout=30)
    assert shown.returncode == 0 and "usage: loopgate setup wss://HOST[:PORT]" in shown.stdout
    assert subprocess.run([str(LOOPGATE_BIN), "setup", "--help"], capture_output=True, text=True,
                          timeout=30).stdout == shown.stdout
    missing = subprocess.run([str(LOOPGATE_BIN), "setup"], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 64 and "needs a gateway URL" in missing.stderr
    stray = subprocess.run([str(LOOPGATE_BIN), "check", "--pin", "x"], capture_output=True, text=True, timeout=30)
    assert stray.returncode == 64 and "belong to the setup command" in stray.stderr
    bad = setup("https://localhost:1")
    assert bad.returncode == 64, bad.all
    for option, value, says in (("--service", "upstart", "--service must be auto, launchd, systemd or none"),
                                ("--wait", "0", "--wait needs 1 to 600 (seconds)")):
        wrong = setup("wss://localhost:1", option, value)
        assert wrong.returncode == 64 and says in wrong.err, wrong.all


@pytest.mark.parametrize("answer,status", [(b"yes\n", 0), (b"no\n", 1)])
def test_on_a_terminal_setup_asks_for_the_fingerprint(setup, openclaw, pki, answer, status):
    master, slave = os.openpty()
    try:
        os.write(master, answer)  # waits in the terminal's input until setup reads it
        done = subprocess.run([str(LOOPGATE_BIN), "setup", f"wss://127.0.0.1:{openclaw.port}", "--config",
                               str(setup.config), "--service", "none"], stdin=slave, capture_output=True, text=True,
                              timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert done.returncode == status, done.stdout + done.stderr
    assert "type yes if the fingerprint matches" in done.stdout
    if status == 0:
        [route] = Setup(done, setup.config).routes()
        assert route["tls"] == {"verify": "pin-only", "pins": [f"sha256:{pki.openclaw.sha256_hex}"]}
    else:
        assert not setup.config.parent.exists()
