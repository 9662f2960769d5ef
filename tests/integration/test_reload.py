"""Reload (SIGHUP) under load: the config file is read again and applied whole, or not at all.
Sessions under way keep the settings they started with and lose no byte; a route whose listen
address stays keeps its socket, so an app connecting during the reload is never refused; new
routes listen, removed ones stop accepting while their sessions run to their end. Signals
loopgate has no use for are ignored."""

import hashlib
import json
import signal
import socket
import threading
import time

import wsraw
from conftest import route_for

BINARY, CLOSE = 0x2, 0x8
SESSIONS = 200
MESSAGES = 40


def message(session, seq):
    body = f"{session}:{seq}:".encode() + hashlib.sha256(f"{session}/{seq}".encode()).digest() * 4
    return body


class Streamer(threading.Thread):
    """One app: MESSAGES checksummed messages, one at a time, each echo checked at once."""

    def __init__(self, port, index, pace_s):
        super().__init__(daemon=True)
        self.port, self.index, self.pace_s = port, index, pace_s
        self.verified = 0
        self.error = None
        self.conn = None

    def run(self):
        try:
            self.conn = wsraw.open_ws(self.port, "/echo")
            for seq in range(MESSAGES):
                payload = message(self.index, seq)
                self.conn.send(wsraw.frame(BINARY, payload))
                fin, opcode, echoed = self.conn.read_frame(timeout=20)
                if (fin, opcode, echoed) != (True, BINARY, payload):
                    raise AssertionError(f"session {self.index} message {seq}: got opcode {opcode}, "
                                         f"{echoed[:40]!r} instead of {payload[:40]!r}")
                self.verified += 1
                time.sleep(self.pace_s)
            self.conn.send(wsraw.frame(CLOSE, wsraw.close_payload(1000)))
            assert self.conn.read_close(timeout=20) == (1000, "")
        except Exception as error:  # reported by the test
            self.error = f"session {self.index}: {error!r}"
        finally:
            if self.conn:
                self.conn.close()


class Hammer(threading.Thread):
    """An app connecting again and again (bounded in count and time), each time upgrading and
    echoing once; counts every attempt that was refused or failed."""

    def __init__(self, port, max_attempts=2000, max_seconds=30):
        super().__init__(daemon=True)
        self.port = port
        self.max_attempts, self.until = max_attempts, time.monotonic() + max_seconds
        self.stopping = threading.Event()
        self.served = 0
        self.failures = []

    def run(self):
        for attempt in range(self.max_attempts):
            if self.stopping.is_set() or time.monotonic() > self.until:
                return
            try:
                conn = wsraw.open_ws(self.port, "/echo")
                conn.send(wsraw.frame(BINARY, b"hammer %d" % attempt))
                assert conn.read_frame() == (True, BINARY, b"hammer %d" % attempt)
                conn.close()
                self.served += 1
            except (OSError, AssertionError, EOFError) as error:
                self.failures.append(f"attempt {attempt}: {error!r}")


def write_config(path, config):
    path.write_text(json.dumps(config))
    path.chmod(0o600)


def listening_address(loopgate, route, count=1):
    match = loopgate.process.wait_for(rf"msg=listening route={route} address=(\S+)", count=count)[-1]
    return int(match.group(1).rsplit(":", 1)[1])


def test_reload_under_load_adds_removes_and_changes_routes_without_losing_a_byte(
        start_loopgate, gateway, certs, tmp_path):
    kept = route_for(gateway, certs, name="kept", max_connections=400)
    removed = route_for(gateway, certs, name="removed")
    config = {"routes": [kept, removed], "max_connections": 1000, "shutdown_timeout_ms": 2000}
    loopgate = start_loopgate(config)
    config_file = tmp_path / "loopgate0.json"
    kept_port = int(loopgate.addresses["kept"].rsplit(":", 1)[1])
    removed_port = int(loopgate.addresses["removed"].rsplit(":", 1)[1])

    on_removed = wsraw.open_ws(removed_port, "/echo")  # under way when its route goes
    streamers = [Streamer(kept_port, i, pace_s=0.05) for i in range(SESSIONS)]
    for streamer in streamers:
        streamer.start()
    hammer = Hammer(kept_port)
    hammer.start()
    deadline = time.monotonic() + 20
    while sum(s.verified for s in streamers) < SESSIONS * 5:  # every session is streaming
        assert time.monotonic() < deadline, "sessions did not get going"
        time.sleep(0.02)

    # The reload: a route added, one removed, a timeout of the kept one changed.
    new_kept = {**kept, "timeouts": {"idle_ms": 1000}}
    added = route_for(gateway, certs, name="added")
    write_config(config_file, {**config, "routes": [new_kept, added]})
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(r'msg=reloaded .*generation=2', timeout=10)

    for streamer in streamers:
        streamer.join(timeout=60)
    hammer.stopping.set()
    hammer.join(timeout=30)
    errors = [s.error for s in streamers if s.error]
    assert not errors, f"{len(errors)} sessions broke, e.g. {errors[:3]}"
    assert all(s.verified == MESSAGES for s in streamers)
    assert not hammer.failures, f"refused during the reload: {hammer.failures[:3]}"
    assert hammer.served > 0

    # The session on the removed route runs on; its route accepts no one new.
    on_removed.send(wsraw.frame(BINARY, b"still here"))
    assert on_removed.read_frame() == (True, BINARY, b"still here")
    try:
        socket.create_connection(("127.0.0.1", removed_port), timeout=2).close()
        raise AssertionError("the removed route still accepts connections")
    except ConnectionRefusedError:
        pass
    on_removed.close()

    # The added route serves; the kept one's new sessions have the new idle timeout.
    added_conn = wsraw.open_ws(listening_address(loopgate, "added"), "/echo")
    added_conn.send(wsraw.frame(BINARY, b"new route"))
    assert added_conn.read_frame() == (True, BINARY, b"new route")
    added_conn.close()
    fresh = wsraw.open_ws(kept_port, "/echo")
    started = time.monotonic()
    assert fresh.read_close(timeout=10) == (1001, "idle")
    assert time.monotonic() - started < 5
    fresh.close()


def test_invalid_config_on_reload_changes_nothing_and_is_logged_and_counted(
        start_loopgate, gateway, certs, tmp_path):
    config = {"routes": [route_for(gateway, certs, name="gw")]}
    loopgate = start_loopgate(config)
    config_file = tmp_path / "loopgate0.json"
    session = wsraw.open_ws(loopgate.port, "/echo")

    config_file.write_text('{"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstrem": "wss://x"}]}')
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(r'msg="reload failed: still running the previous config".*failed_reloads=1')
    assert 'error="routes[0].upstrem: unknown key' in loopgate.log()

    # A second bad reload counts again; a route that cannot listen is just as refused.
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    taken = blocker.getsockname()[1]
    write_config(config_file, {"routes": [route_for(gateway, certs, name="gw"),
                                          route_for(gateway, certs, name="other", listen=f"127.0.0.1:{taken}")]})
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(r'failed_reloads=2')
    assert f'route \\"other\\": cannot listen on 127.0.0.1:{taken}: address already in use' in loopgate.log()
    blocker.close()
    assert 'msg=reloaded' not in loopgate.log()

    session.send(wsraw.frame(BINARY, b"unchanged"))
    assert session.read_frame() == (True, BINARY, b"unchanged")
    again = wsraw.open_ws(loopgate.port, "/echo")
    again.close()
    session.close()


def test_signals_loopgate_does_not_use_are_ignored(loopgate):
    session = wsraw.open_ws(loopgate.port, "/echo")
    for signum in (signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
        loopgate.process.signal(signum)
    session.send(wsraw.frame(BINARY, b"after the signals"))
    assert session.read_frame() == (True, BINARY, b"after the signals")
    assert loopgate.process.proc.poll() is None
    session.close()


def test_reload_command_asks_the_running_loopgate_and_says_what_happened(
        start_loopgate, gateway, certs, tmp_path):
    from conftest import LOOPGATE_BIN, free_port
    import subprocess
    admin = {"listen": f"127.0.0.1:{free_port()}"}
    config = {"routes": [route_for(gateway, certs, name="gw")], "admin": admin}
    loopgate = start_loopgate(config)
    config_file = tmp_path / "loopgate0.json"
    loopgate.process.wait_for(r'msg="admin endpoint listening"')

    write_config(config_file, {**config, "routes": [route_for(gateway, certs, name="gw"),
                                                   route_for(gateway, certs, name="second")]})
    done = subprocess.run([str(LOOPGATE_BIN), "reload", "--config", str(config_file)], capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"reloaded {config_file}: generation 2, 2 routes\n"
    loopgate.process.wait_for(r'msg=reloaded by=admin')
    listening_address(loopgate, "second")

    write_config(config_file, {**config, "routes": [{"name": "gw"}]})
    done = subprocess.run([str(LOOPGATE_BIN), "reload", "--config", str(tmp_path / "good.json")],
                          capture_output=True, text=True, timeout=10)
    assert done.returncode == 66  # the command reads its own --config first; this one does not exist
    good = tmp_path / "good.json"
    write_config(good, config)
    done = subprocess.run([str(LOOPGATE_BIN), "reload", "--config", str(good)], capture_output=True, text=True,
                          timeout=10)
    assert done.returncode == 1
    assert "routes[0].listen: required key is missing" in done.stderr
    assert "reload failed: still running generation 2" in done.stderr

    # The file the daemon runs from, broken on disk: status still reports the running daemon,
    # and reload lets the daemon refuse it with its reasons (exit 1, not the file's own 78).
    for command, code in (("status", 0), ("reload", 1)):
        done = subprocess.run([str(LOOPGATE_BIN), command, "--config", str(config_file)], capture_output=True,
                              text=True, timeout=10)
        assert done.returncode == code, (command, done.stdout, done.stderr)
        assert f"{config_file} has 2 errors (loopgate check lists them)" in done.stderr, done.stderr
    assert "generation 2" in subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(config_file)],
                                            capture_output=True, text=True, timeout=10).stdout
    assert "routes[0].listen: required key is missing" in done.stderr
    # With no admin endpoint it can find, the file's errors are the answer.
    write_config(config_file, {"routes": [{"name": "gw"}]})
    done = subprocess.run([str(LOOPGATE_BIN), "status", "--config", str(config_file)], capture_output=True,
                          text=True, timeout=10)
    assert done.returncode == 78 and "routes[0].listen: required key is missing" in done.stderr


def echo_once(port, payload):
    session = wsraw.open_ws(port, "/echo")
    session.send(wsraw.frame(BINARY, payload))
    assert session.read_frame() == (True, BINARY, payload)
    session.close()


def test_a_reload_that_keeps_a_routes_tls_resumes_the_next_upstream_session(
        start_loopgate, gateway, certs, tmp_path):
    config = {"routes": [route_for(gateway, certs, name="gw")]}
    loopgate = start_loopgate(config)
    echo_once(loopgate.port, b"before")
    loopgate.wait_closed(1)

    config["routes"][0]["timeouts"] = {"idle_ms": 60000}  # another setting: TLS is built anew
    write_config(tmp_path / "loopgate0.json", config)
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(r'msg="route updated" route=gw .*upstream=unchanged tls_session=kept')
    echo_once(loopgate.port, b"after")
    loopgate.wait_closed(2)
    assert [s["tls_resumed"] for s in loopgate.summaries()] == ["false", "true"]

    # A changed trust (another ca_file, though the same CA) never resumes an old session.
    copy = tmp_path / "ca-copy.pem"
    copy.write_bytes((certs / "ca.pem").read_bytes())
    config["routes"][0]["tls"] = {"ca_file": str(copy)}
    write_config(tmp_path / "loopgate0.json", config)
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(r'msg="route updated" route=gw .*tls_session=new')
    echo_once(loopgate.port, b"new trust")
    loopgate.wait_closed(3)
    assert loopgate.summaries()[-1]["tls_resumed"] == "false"


def test_a_reload_to_another_upstream_forgets_the_old_ones_health(start_loopgate, start_gateway, certs, tmp_path):
    from conftest import free_port
    import urllib.request
    old, new = start_gateway(), start_gateway()
    admin = f"127.0.0.1:{free_port()}"
    config = {"routes": [route_for(old, certs, name="gw")], "admin": {"listen": admin}}
    loopgate = start_loopgate(config)

    def state():
        with urllib.request.urlopen(f"http://{admin}/status", timeout=5) as answer:
            [route] = json.load(answer)["routes"]
            return route["state"], route["down_reason"]

    session = wsraw.open_ws(loopgate.port, "/echo")  # the route is up
    old.process.stop()
    loopgate.process.wait_for(r'msg="upstream down" route=gw')
    session.close()
    assert state()[0] == "down"

    config["routes"][0] = route_for(new, certs, name="gw")
    write_config(tmp_path / "loopgate0.json", config)
    loopgate.process.signal(signal.SIGHUP)
    loopgate.process.wait_for(rf'msg="route updated" route=gw .*upstream=wss://localhost:{new.port}')
    assert state() == ("unknown", None)
    echo_once(loopgate.port, b"the new upstream")
    assert state()[0] == "up"
