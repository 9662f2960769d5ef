"""The LaunchAgent installer (launchd/loopgate-agent.sh) and its plist template.

What runs here on Linux: rendering, escaping, refusals, config validation with
the real `loopgate check`, and the file layout under a temporary home.
launchctl itself cannot run here; the tests named *_on_macos put a fake
`uname` (answering Darwin) and a recording fake `launchctl` on PATH, so they
check which launchctl commands the script issues and in what order, not what
launchd does with them (see docs/launchd.md).
"""

import json
import os
import plistlib
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
AGENT_SCRIPT = REPO / "launchd" / "loopgate-agent.sh"
DEFAULT_LABEL = "com.loopgate.agent"
EX_CONFIG = 78

# `loopgate check` only parses and validates; nothing connects to this upstream.
VALID_CONFIG = {
    "routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://localhost:18799"}]
}


@pytest.fixture(scope="session")
def loopgate_bin():
    build = Path(os.environ.get("LOOPGATE_BUILD_DIR", REPO / "build"))
    path = Path(os.environ.get("LOOPGATE_BIN", build / "daemon" / "loopgate")).absolute()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{path} is missing: build first (meson setup build && ninja -C build)")
    return path


@pytest.fixture
def home(tmp_path):
    path = tmp_path / "home"
    path.mkdir()
    return path


def write_config(path, content=VALID_CONFIG):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


@pytest.fixture
def config(tmp_path):
    return write_config(tmp_path / "loopgate.jsonc")


def run_agent(*args, env=None, cwd=None):
    return subprocess.run(
        [str(AGENT_SCRIPT), *map(str, args)],
        capture_output=True, text=True, timeout=60, env=env, cwd=cwd,
    )


def plist_path(home, label=DEFAULT_LABEL):
    return home / "Library" / "LaunchAgents" / f"{label}.plist"


def load_plist(home, label=DEFAULT_LABEL):
    with open(plist_path(home, label), "rb") as f:
        return plistlib.load(f)


def install(loopgate_bin, config, home, *extra, env=None):
    result = run_agent("install", "--bin", loopgate_bin, "--config", config,
                       "--home", home, *extra, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def assert_refused(result, home, *phrases):
    assert result.returncode == 1, result.stdout + result.stderr
    for phrase in phrases:
        assert phrase in result.stderr
    assert not (home / "Library" / "LaunchAgents").exists() or not any(
        (home / "Library" / "LaunchAgents").iterdir()), "a refused install left a plist behind"


# --- (a) the rendered plist ---------------------------------------------------

def test_installed_plist_runs_loopgate_with_the_config(loopgate_bin, config, home):
    install(loopgate_bin, config, home, "--no-load")
    job = load_plist(home)
    assert job["Label"] == DEFAULT_LABEL
    assert job["ProgramArguments"] == [str(loopgate_bin), "run", "--config", str(config)]
    for path in (job["ProgramArguments"][0], job["ProgramArguments"][3]):
        assert os.path.isabs(path) and os.path.exists(path)
    assert job["RunAtLoad"] is True
    assert "Sockets" not in job  # only with --socket


def test_installed_plist_restarts_loopgate_only_after_a_failure(loopgate_bin, config, home):
    install(loopgate_bin, config, home, "--no-load")
    job = load_plist(home)
    # A clean exit 0 (SIGTERM handled) must not respawn; crashes must.
    assert job["KeepAlive"] == {"SuccessfulExit": False}
    assert isinstance(job["ThrottleInterval"], int) and 1 <= job["ThrottleInterval"] <= 60
    assert job["ProcessType"] in ("Interactive", "Background")


def test_installed_plist_logs_into_library_logs_loopgate(loopgate_bin, config, home):
    result = install(loopgate_bin, config, home, "--no-load")
    job = load_plist(home)
    log_dir = home / "Library" / "Logs" / "loopgate"
    assert log_dir.is_dir(), "launchd does not create missing log directories"
    assert Path(job["StandardErrorPath"]).parent == log_dir
    assert job["StandardOutPath"] == job["StandardErrorPath"]
    assert job["StandardErrorPath"] in result.stdout  # the user is told where to look


def test_installed_plist_is_not_writable_by_others(loopgate_bin, config, home):
    # launchd refuses to load a plist that group or others can modify.
    install(loopgate_bin, config, home, "--no-load")
    mode = stat.S_IMODE(plist_path(home).stat().st_mode)
    assert mode & (stat.S_IWGRP | stat.S_IWOTH) == 0
    assert mode & stat.S_IRUSR


def test_install_accepts_the_example_config(loopgate_bin, home, tmp_path):
    # The example trusts the CA the demo generates (../build/demo/ca.pem from
    # the config's folder): lay out the same tree so a clean clone passes too.
    example = tmp_path / "tree" / "config" / "loopgate.example.jsonc"
    example.parent.mkdir(parents=True)
    shutil.copy(REPO / "config" / "loopgate.example.jsonc", example)
    subprocess.run(["bash", str(REPO / "tools" / "gen-certs.sh"), str(tmp_path / "tree" / "build" / "demo")],
                   check=True)
    install(loopgate_bin, example, home, "--no-load")
    assert load_plist(home)["ProgramArguments"][3] == str(example)


def test_install_makes_relative_paths_absolute(loopgate_bin, config, home, tmp_path):
    relative_bin = os.path.relpath(loopgate_bin, tmp_path)
    result = run_agent("install", "--bin", relative_bin, "--config", config.name,
                       "--home", "home", "--no-load", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    job = load_plist(home)
    assert job["ProgramArguments"] == [str(loopgate_bin), "run", "--config", str(config)]
    assert Path(job["StandardErrorPath"]).is_absolute()


def test_install_with_a_label_writes_that_label(loopgate_bin, config, home):
    install(loopgate_bin, config, home, "--label", "org.example.loopgate-test", "--no-load")
    job = load_plist(home, "org.example.loopgate-test")
    assert job["Label"] == "org.example.loopgate-test"
    assert not plist_path(home).exists()


def test_reinstall_replaces_the_plist(loopgate_bin, config, home, tmp_path):
    install(loopgate_bin, config, home, "--no-load")
    other = write_config(tmp_path / "other" / "loopgate.jsonc")
    install(loopgate_bin, other, home, "--no-load")
    assert load_plist(home)["ProgramArguments"][3] == str(other)
    assert sorted(p.name for p in plist_path(home).parent.iterdir()) == [f"{DEFAULT_LABEL}.plist"]


def test_install_without_launchctl_says_it_only_wrote_the_file(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path, darwin=False)
    result = install(loopgate_bin, config, home, env=fake.env())
    assert plist_path(home).exists()
    assert "not loaded" in result.stdout
    assert fake.calls() == []


# --- (b) refusing a missing binary or config -------------------------------------

def test_install_refuses_a_missing_binary(config, home, tmp_path):
    missing = tmp_path / "no-such-loopgate"
    result = run_agent("install", "--bin", missing, "--config", config, "--home", home)
    assert_refused(result, home, str(missing), "not an executable file")


def test_install_refuses_a_binary_that_is_not_executable(config, home, tmp_path):
    not_executable = tmp_path / "loopgate"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    result = run_agent("install", "--bin", not_executable, "--config", config, "--home", home)
    assert_refused(result, home, str(not_executable), "not an executable file")


def test_install_refuses_a_missing_config(loopgate_bin, home, tmp_path):
    missing = tmp_path / "absent.jsonc"
    result = run_agent("install", "--bin", loopgate_bin, "--config", missing, "--home", home)
    assert_refused(result, home, str(missing), "does not exist")


# --- (c) refusing an invalid config ---------------------------------------------------

def test_install_refuses_an_invalid_config_and_shows_loopgate_errors(loopgate_bin, home, tmp_path):
    bad = write_config(tmp_path / "bad.jsonc", {**VALID_CONFIG, "no_such_setting": True})
    check = subprocess.run([str(loopgate_bin), "check", "--config", str(bad)],
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == EX_CONFIG, "the installer relies on `loopgate check` exiting 78"
    result = run_agent("install", "--bin", loopgate_bin, "--config", bad, "--home", home)
    assert_refused(result, home, "invalid", "no_such_setting")


# --- (d) uninstall ------------------------------------------------------------------

def test_uninstall_removes_the_plist_and_keeps_the_logs(loopgate_bin, config, home):
    install(loopgate_bin, config, home, "--no-load")
    result = run_agent("uninstall", "--home", home, "--no-load")
    assert result.returncode == 0, result.stderr
    assert not plist_path(home).exists()
    assert (home / "Library" / "Logs" / "loopgate").is_dir()


def test_uninstall_when_not_installed_succeeds_and_says_so(home):
    result = run_agent("uninstall", "--home", home, "--no-load")
    assert result.returncode == 0, result.stderr
    assert "nothing to remove" in result.stdout


# --- (e) escaping ----------------------------------------------------------------

def test_paths_with_spaces_and_xml_characters_survive_a_plist_round_trip(loopgate_bin, tmp_path):
    awkward = tmp_path / "Tom & Jerry's <tools> \"x\" @CONFIG@"
    awkward.mkdir()
    bin_link = awkward / "loop gate&"
    bin_link.symlink_to(loopgate_bin)
    config = write_config(awkward / "my config & more.jsonc")
    home = awkward / "home & away"
    home.mkdir()
    install(bin_link, config, home, "--no-load")
    raw = plist_path(home).read_text()
    assert "&amp;" in raw and "&lt;tools&gt;" in raw
    job = load_plist(home)
    assert job["ProgramArguments"] == [str(bin_link), "run", "--config", str(config)]
    assert job["StandardErrorPath"].startswith(str(home / "Library" / "Logs" / "loopgate") + "/")


def test_install_keeps_a_symlinked_binary_path_unresolved(loopgate_bin, config, home, tmp_path):
    # Homebrew installs bin/loopgate as a link into a versioned Cellar path;
    # the plist must follow the link, not pin today's version.
    link = tmp_path / "bin" / "loopgate"
    link.parent.mkdir()
    link.symlink_to(loopgate_bin)
    install(link, config, home, "--no-load")
    assert load_plist(home)["ProgramArguments"][0] == str(link)


def test_install_refuses_a_path_with_a_newline(loopgate_bin, home, tmp_path):
    config = write_config(tmp_path / "two\nlines.jsonc")
    result = run_agent("install", "--bin", loopgate_bin, "--config", config, "--home", home)
    assert_refused(result, home, "control character")


# --- launchctl sequence, with macOS simulated by fakes --------------------------------

class FakeMac:
    """A fake `uname` and a `launchctl` that records its arguments and keeps
    one bit of state: whether the agent is loaded."""

    def __init__(self, tmp_path, darwin=True, bootstrap_fails=False):
        self.bin_dir = tmp_path / "fakebin"
        self.bin_dir.mkdir()
        self.log = tmp_path / "launchctl.log"
        self.loaded_flag = tmp_path / "launchctl.loaded"
        self.bootstrap_fails = bootstrap_fails
        if darwin:
            self._script("uname", "echo Darwin\n")
        self._script("launchctl", f"""\
printf '%s\\n' "$*" >> '{self.log}'
case $1 in
    print) [ -e '{self.loaded_flag}' ] || {{ echo 'Could not find service' >&2; exit 113; }} ;;
    bootout) [ -e '{self.loaded_flag}' ] || exit 3; rm -f '{self.loaded_flag}' ;;
    bootstrap)
        {'echo "Bootstrap failed: 5: Input/output error" >&2; exit 5' if bootstrap_fails else ':'}
        [ -f "$3" ] || exit 2
        : > '{self.loaded_flag}' ;;
esac
""")

    def _script(self, name, body):
        path = self.bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(0o755)

    def env(self):
        return {**os.environ, "PATH": f"{self.bin_dir}:{os.environ['PATH']}"}

    def mark_loaded(self):
        self.loaded_flag.touch()

    def is_loaded(self):
        return self.loaded_flag.exists()

    def calls(self):
        return self.log.read_text().splitlines() if self.log.exists() else []


def test_install_on_macos_bootstraps_the_agent_into_the_gui_domain(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    result = install(loopgate_bin, config, home, env=fake.env())
    target = f"gui/{os.getuid()}/{DEFAULT_LABEL}"
    assert fake.calls() == [
        f"print {target}",
        f"enable {target}",
        f"bootstrap gui/{os.getuid()} {plist_path(home)}",
    ]
    assert fake.is_loaded()
    assert f"launchctl print {target}" in result.stdout


def test_reinstall_on_macos_boots_out_the_running_agent_first(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    fake.mark_loaded()
    install(loopgate_bin, config, home, env=fake.env())
    verbs = [call.split()[0] for call in fake.calls()]
    assert verbs.index("bootout") < verbs.index("bootstrap")
    assert fake.is_loaded()


def test_reinstall_with_reload_and_the_same_plist_sends_sighup_instead_of_restarting(loopgate_bin, config, home,
                                                                                   tmp_path):
    # What `loopgate setup` does after adding a route: the agent reads its config again.
    fake = FakeMac(tmp_path)
    install(loopgate_bin, config, home, env=fake.env())
    before = len(fake.calls())
    result = install(loopgate_bin, config, home, "--reload", env=fake.env())
    target = f"gui/{os.getuid()}/{DEFAULT_LABEL}"
    assert fake.calls()[before:] == [f"print {target}", f"kill SIGHUP {target}"]
    assert "is unchanged" in result.stdout and f"sent SIGHUP to {target}" in result.stdout


def test_reload_with_a_changed_plist_restarts_the_agent(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    install(loopgate_bin, config, home, env=fake.env())
    other = write_config(tmp_path / "other" / "loopgate.jsonc")
    before = len(fake.calls())
    install(loopgate_bin, other, home, "--reload", env=fake.env())
    verbs = [call.split()[0] for call in fake.calls()[before:]]
    assert "kill" not in verbs and verbs.index("bootout") < verbs.index("bootstrap")
    assert load_plist(home)["ProgramArguments"][3] == str(other)


def test_dry_run_notes_a_config_that_does_not_exist_yet(loopgate_bin, home, tmp_path):
    # `loopgate setup --dry-run` shows the agent for the config it has not written.
    missing = tmp_path / "not-yet" / "loopgate.jsonc"
    result = run_agent("install", "--bin", loopgate_bin, "--config", missing, "--home", home, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"{missing} does not exist yet" in result.stdout
    assert f"<string>{missing}</string>" in result.stdout
    assert not (home / "Library").exists()
    refused = run_agent("install", "--bin", loopgate_bin, "--config", missing, "--home", home, "--no-load")
    assert_refused(refused, home, "does not exist")


def test_install_on_macos_reports_a_failed_bootstrap(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path, bootstrap_fails=True)
    result = run_agent("install", "--bin", loopgate_bin, "--config", config, "--home", home,
                       env=fake.env())
    assert result.returncode == 1
    assert "launchctl bootstrap" in result.stderr and "launchctl print" in result.stderr


def test_uninstall_on_macos_boots_out_and_removes_the_plist(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    install(loopgate_bin, config, home, env=fake.env())
    result = run_agent("uninstall", "--home", home, env=fake.env())
    assert result.returncode == 0, result.stderr
    assert f"bootout gui/{os.getuid()}/{DEFAULT_LABEL}" in fake.calls()
    assert not fake.is_loaded()
    assert not plist_path(home).exists()


def test_no_load_never_calls_launchctl_even_on_macos(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    install(loopgate_bin, config, home, "--no-load", env=fake.env())
    run_agent("uninstall", "--home", home, "--no-load", env=fake.env())
    assert fake.calls() == []


# --- the Linux twin: the systemd user unit example -------------------------------------

def test_systemd_unit_example_passes_systemd_analyze_verify(loopgate_bin, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    (home / ".local" / "bin" / "loopgate").symlink_to(loopgate_bin)  # the unit's ExecStart
    runtime_dir = tmp_path / "run"
    runtime_dir.mkdir(mode=0o700)
    result = subprocess.run(
        [analyze, "verify", "--user", str(REPO / "tools" / "loopgate.service")],
        capture_output=True, text=True, timeout=60,
        env={**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime_dir)},
    )
    # verify exits 0 even for directives it ignores; those show up as output.
    assert result.returncode == 0 and result.stdout + result.stderr == "", \
        result.stdout + result.stderr


# --- --dry-run and status ---------------------------------------------------------

def tree(root):
    """Every path under root with its size and mode, to prove nothing changed."""
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mode) for p in root.rglob("*"))


def test_dry_run_prints_the_plist_and_the_commands_and_changes_nothing_on_macos(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    before = tree(home)
    result = run_agent("install", "--bin", loopgate_bin, "--config", config, "--home", home, "--dry-run",
                       env=fake.env())
    assert result.returncode == 0, result.stderr
    assert tree(home) == before
    assert fake.calls() == []  # not even `launchctl print`
    assert "<key>ProgramArguments</key>" in result.stdout and str(config) in result.stdout
    assert f"would run: launchctl bootstrap gui/{os.getuid()} {plist_path(home)}" in result.stdout

    install(loopgate_bin, config, home, "--no-load")
    before = tree(home)
    result = run_agent("uninstall", "--home", home, "--dry-run", env=fake.env())
    assert result.returncode == 0
    assert tree(home) == before and fake.calls() == []
    assert f"would remove {plist_path(home)}" in result.stdout


def test_status_says_installed_and_loaded_on_macos_and_fails_when_not(loopgate_bin, config, home, tmp_path):
    fake = FakeMac(tmp_path)
    result = run_agent("status", "--home", home, env=fake.env())
    assert result.returncode == 1
    assert "not installed" in result.stdout
    install(loopgate_bin, config, home, env=fake.env())
    result = run_agent("status", "--home", home, env=fake.env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"installed: {plist_path(home)}" in result.stdout
    assert f"loaded: gui/{os.getuid()}/{DEFAULT_LABEL}" in result.stdout


def test_socket_option_declares_each_routes_socket_for_launchd(loopgate_bin, config, home):
    install(loopgate_bin, config, home, "--no-load", "--socket", "gw=127.0.0.1:18789",
            "--socket", "admin-ui=127.0.0.1:18791")
    job = load_plist(home)
    assert job["Sockets"] == {
        "gw": {"SockNodeName": "127.0.0.1", "SockServiceName": "18789"},
        "admin-ui": {"SockNodeName": "127.0.0.1", "SockServiceName": "18791"},
    }
    assert job["ProgramArguments"][1:3] == ["run", "--config"]


@pytest.mark.parametrize("spec, says", [
    ("gw", "expected ROUTE=IPV4:PORT"),
    ("g w=127.0.0.1:1", "the route name must be"),
    ("gw=localhost:1", "expected ROUTE=IPV4:PORT"),
    ("gw=127.0.0.1:70000", "the port must be 1 to 65535"),
    ("gw=127.0.0.1:1<x>", "the port must be"),
])
def test_a_bad_socket_option_is_a_usage_error_and_writes_nothing(loopgate_bin, config, home, spec, says):
    result = run_agent("install", "--bin", loopgate_bin, "--config", config, "--home", home, "--no-load",
                       "--socket", spec)
    assert result.returncode == 64, result.stdout + result.stderr
    assert says in result.stderr
    assert not plist_path(home).exists()
