"""`loopgate setup` after the config is written: it installs and starts the agent (launchd
through launchd/loopgate-agent.sh, a systemd user unit, or neither), waits for the new
listener and proves the path with a real WebSocket upgrade through it to the bundled test
gateway, then ends with the URL for the app. launchctl and systemctl are fakes
(fake_services.py) that really start `loopgate run` from the plist or the unit, so the wait
and the upgrade are real; what launchd and systemd themselves do is not tested here."""

import os
import plistlib
import re
import shutil
import subprocess

import pytest

from conftest import LOOPGATE_BIN, REPO, require_built
from fake_services import FakeLaunchd, FakeSystemd
from pki import pki  # noqa: F401  (fixture)

POINT = re.compile(r"^point your app at ws://127\.0\.0\.1:(\d+)/$", re.M)
AGENT_SCRIPT = REPO / "launchd" / "loopgate-agent.sh"
LABEL = "com.loopgate.agent"


@pytest.fixture
def ca_gateway(start_gateway, pki):
    return start_gateway(cert=pki.valid.cert, key=pki.valid.key)


class Run:
    def __init__(self, tmp_path, gateway, pki):
        require_built(LOOPGATE_BIN)
        self.home = tmp_path / "home"
        self.home.mkdir()
        self.config = self.home / ".config" / "loopgate" / "loopgate.jsonc"
        self.url = f"wss://localhost:{gateway.port}"
        self.ca = str(pki.ca.cert)
        self.env = {**os.environ, "HOME": str(self.home), "LOOPGATE_AGENT_SCRIPT": str(AGENT_SCRIPT)}
        self.env.pop("XDG_CONFIG_HOME", None)

    def __call__(self, *args, fake=None, path=""):
        done = subprocess.run([str(LOOPGATE_BIN), "setup", self.url + path, "--ca-file", self.ca,
                               "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                              env=fake.env(self.env) if fake else self.env)
        done.all = done.stdout + done.stderr
        return done


@pytest.fixture
def setup(tmp_path, ca_gateway, pki):
    return Run(tmp_path, ca_gateway, pki)


def ends_with_point_line(out):
    """The last line is the one that matters; returns its port."""
    last = out.rstrip("\n").splitlines()[-1]
    match = POINT.fullmatch(last)
    assert match, out
    return int(match.group(1))


def test_without_a_service_manager_setup_prints_the_run_command(setup, tmp_path):
    # auto on Linux asks `systemctl --user show-environment`; this one has no user manager.
    systemd = FakeSystemd(tmp_path, answers=False)
    done = setup(fake=systemd)
    assert done.returncode == 0, done.all
    assert "the agent (none)" in done.stdout
    assert "`systemctl --user` does not answer: Failed to connect to bus" in done.stdout
    assert f"    {LOOPGATE_BIN} run --config {setup.config}\n" in done.stdout
    assert "setup cannot prove the path" in done.stdout
    ends_with_point_line(done.stdout)
    assert systemd.calls() == ["--user show-environment"]
    assert systemd.pid() is None


def test_with_launchd_setup_bootstraps_the_agent_and_upgrades_through_it_then_reloads_it(setup, tmp_path):
    launchd = FakeLaunchd(tmp_path)
    try:
        done = setup("--service", "launchd", fake=launchd)
        assert done.returncode == 0, done.all
        plist_path = setup.home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        with open(plist_path, "rb") as f:
            job = plistlib.load(f)
        assert job["ProgramArguments"] == [str(LOOPGATE_BIN), "run", "--config", str(setup.config)]
        target = f"gui/{os.getuid()}/{LABEL}"
        calls = launchd.calls()
        assert calls[:3] == [f"print {target}", f"enable {target}", f"bootstrap gui/{os.getuid()} {plist_path}"]
        assert "path ok: 101 Switching Protocols" in done.stdout
        port = ends_with_point_line(done.stdout)
        first_pid = launchd.pid()
        log = setup.home / "Library" / "Logs" / "loopgate" / f"{LABEL}.log"
        assert f"address=127.0.0.1:{port}" in log.read_text()
        # The wait's accepted connection carries the upgrade: no probe that hangs up unread.
        assert "refused a connection" not in log.read_text()

        # A second route, to a path where the gateway wants a token (401): the running
        # agent, whose plist does not change, is sent SIGHUP instead of being restarted.
        second = setup("--service", "launchd", "--name", "locked", fake=launchd, path="/status/401")
        assert second.returncode == 0, second.all
        assert "it wants a token" in second.stdout  # the probe's note
        assert re.search(r"path ok: 401 Unauthorized from the gateway: it wants credentials", second.stdout)
        assert f"kill SIGHUP {target}" in launchd.calls()
        assert f"bootstrap gui/{os.getuid()} {plist_path}" not in launchd.calls()[len(calls):]
        assert launchd.pid() == first_pid
        assert ends_with_point_line(second.stdout) != port
    finally:
        launchd.stop()


def test_when_the_agent_does_not_start_setup_fails_loudly_and_names_what_to_check(setup, tmp_path):
    launchd = FakeLaunchd(tmp_path, start_daemon=False)
    done = setup("--service", "launchd", "--wait", "1", fake=launchd)
    assert done.returncode == 69, done.all
    assert re.search(r"FAILED: nothing listens on 127\.0\.0\.1:\d+: nothing accepted connections within 1 s",
                     done.stderr), done.stderr
    assert f"gui/{os.getuid()}/{LABEL}: not running" in done.stderr
    assert str(setup.home / "Library" / "Logs" / "loopgate" / f"{LABEL}.log") in done.stderr
    assert "loopgate doctor" in done.stderr
    assert not POINT.search(done.stdout)
    assert setup.config.exists()  # the config stays; only the agent is missing


def test_with_systemd_setup_writes_the_user_unit_and_starts_it(setup, tmp_path):
    systemd = FakeSystemd(tmp_path)
    try:
        done = setup(fake=systemd)  # auto: the user manager answers
        assert done.returncode == 0, done.all
        assert "the agent (systemd)" in done.stdout
        unit_path = setup.home / ".config" / "systemd" / "user" / "loopgate.service"
        unit = unit_path.read_text()
        assert unit.startswith("# Written by `loopgate setup`")
        template = (REPO / "tools" / "loopgate.service").read_text()
        body = template[template.index("[Unit]"):]
        expected = re.sub(r"(?m)^ExecStart=.*$", f"ExecStart={LOOPGATE_BIN} run --config {setup.config}", body)
        assert unit.endswith(expected), unit
        calls = systemd.calls()
        assert calls[:4] == ["--user show-environment", "--user daemon-reload", "--user enable loopgate.service",
                             "--user restart loopgate.service"]
        assert all(call.startswith("--user show loopgate.service ") for call in calls[4:]), calls
        assert "path ok: 101 Switching Protocols" in done.stdout
        port = ends_with_point_line(done.stdout)
        assert f"address=127.0.0.1:{port}" in systemd.journal()
        analyze = shutil.which("systemd-analyze")
        if analyze:  # the quoting and every directive, as systemd reads them
            runtime = tmp_path / "run"
            runtime.mkdir(mode=0o700)
            verified = subprocess.run([analyze, "verify", "--user", str(unit_path)], capture_output=True, text=True,
                                      timeout=60, env={**setup.env, "XDG_RUNTIME_DIR": str(runtime)})
            assert verified.returncode == 0 and verified.stdout + verified.stderr == "", \
                verified.stdout + verified.stderr
    finally:
        systemd.stop()


def test_when_systemd_says_the_unit_is_not_running_setup_fails_at_once_naming_the_journal(setup, tmp_path):
    # No --wait: `systemctl --user show` answering inactive ends the wait without using it up.
    systemd = FakeSystemd(tmp_path, start_daemon=False)
    done = setup("--service", "systemd", fake=systemd)
    assert done.returncode == 69, done.all
    assert re.search(r"FAILED: nothing listens on 127\.0\.0\.1:\d+: the agent is not running: inactive \(dead\)",
                     done.stderr), done.stderr
    assert "journalctl --user -u loopgate.service" in done.stderr
    assert "loopgate doctor" in done.stderr
    assert sum(call.startswith("--user show loopgate.service") for call in systemd.calls()) <= 3
