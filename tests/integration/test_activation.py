"""Socket activation: the listening socket exists before loopgate runs and outlives its restarts,
so an app that connects while loopgate is starting or restarting waits in the kernel's queue and
is served, never refused. With systemd-socket-activate (systemd's own tool) and with the same
protocol done by hand (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, descriptors from 3)."""

import json
import os
import shutil
import socket
import subprocess
import time

import pytest

import wsraw
from conftest import LOOPGATE_BIN, Process, route_for

BINARY = 0x2


def write(tmp_path, config):
    path = tmp_path / "activated.json"
    path.write_text(json.dumps(config))
    return path


def listening(port):
    text = open("/proc/net/tcp").read()
    return f":{port:04X} 00000000:0000 0A" in text  # 0A: LISTEN


def echo_once(conn, payload):
    conn.send(wsraw.frame(BINARY, payload))
    assert conn.read_frame() == (True, BINARY, payload)


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None, reason="needs systemd-socket-activate")
def test_an_app_connecting_before_loopgate_runs_is_served_through_systemd_socket_activate(
        tmp_path, gateway, certs):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    number = port.getsockname()[1]
    port.close()
    config = write(tmp_path, {"routes": [route_for(gateway, certs, name="gw", listen=f"127.0.0.1:{number}")]})
    activator = Process(["systemd-socket-activate", "-l", f"127.0.0.1:{number}", "--fdname=gw",
                         LOOPGATE_BIN, "run", "--config", config], tmp_path, "activator")
    try:
        deadline = time.monotonic() + 10
        while not listening(number):
            assert time.monotonic() < deadline, activator.stderr()
            time.sleep(0.01)
        assert "msg=starting" not in activator.stderr()  # nothing runs yet: only the socket exists
        conn = wsraw.connect(number)
        conn.send(wsraw.upgrade_request("/echo"))
        status, _, line = conn.read_head(timeout=10)
        assert status == 101, line
        echo_once(conn, b"served by the activated loopgate")
        conn.close()
        activator.wait_for(r'msg=listening route=gw address=127\.0\.0\.1:%d .*socket="handed over"' % number)
    finally:
        activator.stop()


def start_with_socket(tmp_path, config, listener, name, fdname="gw"):
    """loopgate with `listener` as descriptor 3, announced as systemd would."""
    def put_at_3():
        os.dup2(listener.fileno(), 3)
    env = {**os.environ, "LISTEN_FDS": "1", "LISTEN_FDNAMES": fdname}
    argv = ["sh", "-c", 'LISTEN_PID=$$ exec "$@"', "sh", str(LOOPGATE_BIN), "run", "--config", str(config)]
    out = open(tmp_path / f"{name}.err", "wb")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=out, env=env, preexec_fn=put_at_3,
                            pass_fds=(3, listener.fileno()))  # 3: kept open after preexec_fn made it
    return proc, tmp_path / f"{name}.err"


def wait_for_text(path, text, timeout=10):
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, path.read_text(errors="replace")
        time.sleep(0.01)


def test_an_app_connecting_while_loopgate_restarts_is_served_after_it(tmp_path, gateway, certs):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    number = listener.getsockname()[1]
    config = write(tmp_path, {"routes": [route_for(gateway, certs, name="gw")], "shutdown_timeout_ms": 1000})

    first, log = start_with_socket(tmp_path, config, listener, "first")
    try:
        wait_for_text(log, 'socket="handed over"')
        conn = wsraw.open_ws(number, "/echo")
        echo_once(conn, b"before the restart")
        conn.close()
    finally:
        first.terminate()
    assert first.wait(timeout=10) == 0

    # loopgate is gone; the socket is not: this app waits instead of being refused.
    waiting = wsraw.connect(number)
    waiting.send(wsraw.upgrade_request("/echo"))
    second, log = start_with_socket(tmp_path, config, listener, "second")
    try:
        status, _, line = waiting.read_head(timeout=10)
        assert status == 101, line
        echo_once(waiting, b"after the restart")
        waiting.close()
        assert "systemd socket activation" not in log.read_text()
    finally:
        second.terminate()
        second.wait(timeout=10)
        listener.close()


def test_a_socket_whose_name_matches_no_route_is_closed_with_a_warning(tmp_path, gateway, certs):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    config = write(tmp_path, {"routes": [route_for(gateway, certs, name="gw")]})
    proc, log = start_with_socket(tmp_path, config, listener, "stray", fdname="other")
    try:
        wait_for_text(log, 'msg="a socket handed over matches no route; closed" name=other')
        wait_for_text(log, "msg=listening route=gw")  # the route binds its own address instead
        assert 'socket="handed over"' not in log.read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        listener.close()
