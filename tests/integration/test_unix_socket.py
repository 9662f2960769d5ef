"""A route listening on a unix socket: mode 0600 in a directory only its user can enter,
any Host accepted (browsers cannot reach it), stale socket files replaced, live ones and
other files left alone, the file removed on exit, and another user cannot connect."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

import wsraw
from conftest import LOOPGATE_BIN, Process, parse_logfmt, route_for, stop_all

EX_UNAVAILABLE = 69  # sysexits: a listener that cannot start

BINARY, CLOSE = 0x2, 0x8


@pytest.fixture
def private_dir():
    """A short directory path (socket paths are limited to ~100 bytes), mode 0700."""
    path = Path(tempfile.mkdtemp(prefix="lg-", dir="/tmp"))
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def unix_route(gateway, certs, path, **overrides):
    return route_for(gateway, certs, listen=f"unix:{path}", **overrides)


def connect_unix(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(str(path))
    return wsraw.Conn(sock)


def open_ws_unix(path, host="127.0.0.1", headers=()):
    conn = connect_unix(path)
    conn.send(wsraw.upgrade_request("/echo", host=host, headers=headers))
    status, _, _ = conn.read_head()
    assert status == 101
    return conn


def assert_echoes(conn):
    payload = os.urandom(50_000)
    conn.send(wsraw.frame(BINARY, payload))
    assert conn.expect_frame(BINARY, payload)


def run_expecting_failure(tmp_path, config):
    """Runs loopgate with a config it must refuse to start with; returns (exit code, stderr)."""
    path = tmp_path / "loopgate.json"
    path.write_text(json.dumps(config))
    process = Process([LOOPGATE_BIN, "run", "--config", path], tmp_path, "loopgate")
    try:
        code = process.wait(timeout=10)
    finally:
        stop_all([process])
    return code, process.stderr()


def test_unix_socket_is_0600_relays_any_host_and_is_removed_on_exit(start_loopgate, gateway, certs, private_dir):
    path = private_dir / "lg.sock"
    loopgate = start_loopgate({"routes": [unix_route(gateway, certs, path)]})
    assert loopgate.addresses == {"gw": f"unix:{path}"}
    mode = os.lstat(path).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600

    conn = open_ws_unix(path, host="anything.example")  # no Host check: no browser can reach a unix socket
    assert_echoes(conn)
    conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
    conn.read_until_eof()
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed(count=1)]
    assert summary["app"] == f"unix:uid={os.getuid()},pid={os.getpid()}"
    assert summary["status"] == "101"

    # The Origin policy still holds: a page's request relayed here by something else is refused.
    refused = connect_unix(path)
    refused.send(wsraw.upgrade_request("/echo", headers=[("Origin", "http://evil.example")]))
    assert refused.read_response()[0] == 403

    loopgate.process.signal(signal.SIGTERM)
    assert loopgate.process.wait(timeout=10) == 0
    assert not os.path.lexists(path)


def test_stale_socket_file_is_replaced(start_loopgate, gateway, certs, private_dir):
    path = private_dir / "lg.sock"
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(str(path))
    crashed.close()  # like a process killed before it could remove its socket
    loopgate = start_loopgate({"routes": [unix_route(gateway, certs, path)]})
    assert f'msg="removed a stale socket file" route=gw path={path}' in loopgate.log()
    assert_echoes(open_ws_unix(path))


def test_socket_someone_listens_on_is_left_alone(tmp_path, gateway, certs, private_dir):
    path = private_dir / "lg.sock"
    other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    other.bind(str(path))
    other.listen(4)
    code, stderr = run_expecting_failure(tmp_path, {"routes": [unix_route(gateway, certs, path)]})
    assert code == EX_UNAVAILABLE  # a listener that cannot start
    assert f"cannot listen on unix:{path}: another process is already listening on {path}" in stderr
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.connect(str(path))  # still the other process's
    other.accept()[0].close()
    other.close()


def test_file_that_is_not_a_socket_is_left_alone(tmp_path, gateway, certs, private_dir):
    path = private_dir / "lg.sock"
    path.write_text("precious")
    code, stderr = run_expecting_failure(tmp_path, {"routes": [unix_route(gateway, certs, path)]})
    assert code == EX_UNAVAILABLE  # a listener that cannot start
    assert f"{path} exists and is not a socket; loopgate does not replace it" in stderr
    assert path.read_text() == "precious"


def test_directory_others_can_enter_is_refused_with_the_fix(tmp_path, gateway, certs, private_dir):
    private_dir.chmod(0o755)
    path = private_dir / "lg.sock"
    code, stderr = run_expecting_failure(tmp_path, {"routes": [unix_route(gateway, certs, path)]})
    assert code == EX_UNAVAILABLE  # a listener that cannot start
    assert (f"directory {private_dir} can be entered or written by other users (mode 0755); only its owner may: "
            f"chmod 700 {private_dir}") in stderr
    assert not os.path.lexists(path)


CLIENT = textwrap.dedent("""
    import socket, sys
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(sys.argv[1])
    except OSError as error:
        print(type(error).__name__, error.errno)
        sys.exit(0)
    print("connected")
""")


def connect_as(uid, path):
    argv = [sys.executable, "-c", CLIENT, str(path)]
    if uid != os.getuid():
        argv = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=10, check=True).stdout.strip()


def test_another_user_cannot_connect(start_loopgate, gateway, certs, private_dir):
    if os.getuid() != 0:
        pytest.skip("running a client as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    nobody = 65534  # exists on Debian and macOS alike; no account needs to be created
    path = private_dir / "lg.sock"
    loopgate = start_loopgate({"routes": [unix_route(gateway, certs, path)]})
    assert connect_as(os.getuid(), path) == "connected"  # the same client works for the owner
    assert connect_as(nobody, path) == "PermissionError 13"
    # Only the owner's connection ever reached loopgate.
    assert len(loopgate.wait_closed(count=1)) == 1
