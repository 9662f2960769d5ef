"""The command line as an operator meets it: version, help, usage errors (exit 64),
`check` verdicts (exit 0, or 78 with every error and its JSON path) and `run` failing
loudly when its port is taken."""

import json
import os
import re
import socket
import subprocess

import pytest

from conftest import LOOPGATE_BIN, REPO, require_built

EX_USAGE = 64
EX_NOINPUT = 66
EX_UNAVAILABLE = 69
EX_CONFIG = 78
COMMANDS = ("run", "check", "probe", "status", "reload", "doctor", "help")


def loopgate(*args, timeout=10):
    require_built(LOOPGATE_BIN)
    return subprocess.run([str(LOOPGATE_BIN), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def config_file(tmp_path, text):
    path = tmp_path / "loopgate.jsonc"
    path.write_text(text if isinstance(text, str) else json.dumps(text, indent=2))
    return path


def route(**overrides):
    # `check` only validates: nothing ever connects to this upstream.
    return {"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test:18789", **overrides}


def test_version_prints_the_project_version():
    done = loopgate("--version")
    assert done.returncode == 0, done.stderr
    match = re.fullmatch(r"loopgate (\d+\.\d+\.\d+)\n  OpenSSL 3\.\S+ .*, libuv 1\.\d+\.\d+, llhttp \d+\.\d+\.\d+\n",
                         done.stdout)
    assert match, done.stdout
    project_version = re.search(r"version\s*:\s*'([^']+)'", (REPO / "meson.build").read_text()).group(1)
    assert match.group(1) == project_version


def test_help_describes_the_commands_and_exits_0():
    done = loopgate("--help")
    assert done.returncode == 0, done.stderr
    for word in ("usage:", "loopgate run [--config FILE]", "loopgate check [--config FILE]", "--version",
                 "loopgate status", "loopgate reload", "SIGHUP", "$XDG_CONFIG_HOME/loopgate/loopgate.jsonc"):
        assert word in done.stdout, done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_both_ways_and_exits_0(command):
    for argv in (("help", command), (command, "--help")):
        done = loopgate(*argv)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(f"usage: loopgate {command}"), done.stdout
        assert "Exit" in done.stdout or command == "help"


def test_help_for_an_unknown_command_is_a_usage_error():
    done = loopgate("help", "frobnicate")
    assert done.returncode == EX_USAGE
    assert "no command 'frobnicate'" in done.stderr


def test_the_default_config_path_follows_xdg_config_home(tmp_path):
    (tmp_path / "loopgate").mkdir()
    (tmp_path / "loopgate" / "loopgate.jsonc").write_text(json.dumps({"routes": [route()]}))
    done = subprocess.run([str(LOOPGATE_BIN), "check"], capture_output=True, text=True, timeout=10,
                          env={"HOME": "/nonexistent", "XDG_CONFIG_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{tmp_path}/loopgate/loopgate.jsonc: ok (1 route)\n"
    done = subprocess.run([str(LOOPGATE_BIN), "check"], capture_output=True, text=True, timeout=10,
                          env={"HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == EX_NOINPUT
    assert f"cannot read {tmp_path}/home/.config/loopgate/loopgate.jsonc: No such file or directory" in done.stderr


def test_no_arguments_is_a_usage_error():
    done = loopgate()
    assert done.returncode == EX_USAGE
    assert "no command given" in done.stderr
    assert "usage: loopgate run [--config FILE]" in done.stderr
    assert done.stdout == ""


def test_unknown_argument_is_a_usage_error_naming_it():
    done = loopgate("run", "--confgi", "x.json")
    assert done.returncode == EX_USAGE
    assert "unknown argument '--confgi'" in done.stderr
    assert "usage: loopgate run [--config FILE]" in done.stderr


def test_check_accepts_a_valid_config(tmp_path):
    path = config_file(tmp_path, "// comments are allowed\n" + json.dumps({"routes": [route()]}))
    done = loopgate("check", "--config", path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{path}: ok (1 route)\n"


def test_check_lists_every_error_with_its_json_path(tmp_path):
    path = config_file(tmp_path, {"routes": [route(listen="127.0.0.1:99999", ping_ms=5)]})
    done = loopgate("check", "--config", path)
    assert done.returncode == EX_CONFIG
    assert f"{path}: 2 errors" in done.stderr
    assert "routes[0].ping_ms: unknown key" in done.stderr
    assert "routes[0].listen: expected HOST:PORT with a port between 0 and 65535" in done.stderr


def test_check_refuses_what_run_would_refuse_at_start_a_ca_file_without_a_certificate_or_no_trust(tmp_path):
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("this is not a certificate\n")
    path = config_file(tmp_path, {"routes": [route(tls={"ca_file": str(not_pem)})]})
    done = loopgate("check", "--config", path)
    assert done.returncode == EX_CONFIG, done.stdout + done.stderr
    assert f"{path}: 1 error" in done.stderr
    assert 'routes[0] "gw": cannot prepare TLS: ' in done.stderr and str(not_pem) in done.stderr, done.stderr
    # The system store, as run reads it: empty here, so a "full" route has nothing to trust.
    path = config_file(tmp_path, {"routes": [route()]})
    empty = dict(os.environ, SSL_CERT_FILE=str(tmp_path / "none.pem"), SSL_CERT_DIR=str(tmp_path))
    done = subprocess.run([str(LOOPGATE_BIN), "check", "--config", str(path)], capture_output=True, text=True,
                          timeout=30, env=empty)
    assert done.returncode == EX_CONFIG and "no usable trust anchor" in done.stderr, done.stderr


def test_check_reports_a_syntax_error_with_line_and_column(tmp_path):
    text = '{\n  "routes": [\n    {"name": "gw" "listen": "127.0.0.1:0"}\n  ]\n}\n'
    # The missing comma: line 3, where the second string starts at column 19.
    path = config_file(tmp_path, text)
    done = loopgate("check", "--config", path)
    assert done.returncode == EX_CONFIG
    assert "line 3, column 19: syntax error" in done.stderr, done.stderr


def test_a_missing_config_file_is_exit_66_for_every_command(tmp_path):
    path = tmp_path / "absent.jsonc"
    for command in ("check", "run", "probe", "status", "reload"):
        done = loopgate(command, "--config", path)
        assert done.returncode == EX_NOINPUT, (command, done.stderr)
        assert f"cannot read {path}: No such file or directory" in done.stderr


@pytest.fixture
def occupied_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield holder.getsockname()[1]


def test_run_on_a_port_already_in_use_exits_with_cannot_listen(tmp_path, occupied_port):
    path = config_file(tmp_path, {"routes": [route(listen=f"127.0.0.1:{occupied_port}")]})
    done = loopgate("run", "--config", path)
    assert done.returncode == EX_UNAVAILABLE
    lines = [line for line in done.stderr.splitlines() if 'msg="cannot listen"' in line]
    assert len(lines) == 1, done.stderr
    assert "level=error" in lines[0] and "route=gw" in lines[0]
    assert f"127.0.0.1:{occupied_port}: address already in use" in lines[0]
    assert f"`lsof -iTCP:{occupied_port} -sTCP:LISTEN` shows which" in lines[0]
    assert "msg=listening" not in done.stderr
