"""Only the user's own apps on a TCP route: loopgate asks the kernel who owns each app's socket
at accept and closes, unread and unanswered, a connection of any other local user (root is let
in); the upstream never hears of it, the log names the uid and the route, and /metrics and
/status count it. allow_other_users lets everyone in. An app whose socket is already closed has
no owner to name and is refused too, and a route on a system that cannot tell owners does not
start. loopgate runs as root in most of these (as in CI) and, where the user matters, as an
unprivileged user of its own, with clients and a headless Chromium as that user, as another
one, and as root.

Other users are plain uids run with setpriv (util-linux); no account needs to exist."""

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import urllib.request
from pathlib import Path

import pytest

import wsraw
from conftest import LOOPGATE_BIN, Process, stop_all

pytestmark = [
    pytest.mark.skipif(os.getuid() != 0, reason="running clients as other users needs root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is not installed"),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the users are switched with setpriv"),
]

ROOT = 0
USER = 64000    # loopgate's own user where it does not run as root
OTHER = 64001   # another local user
NOBODY = 65534

# A WebSocket client, run as some user: upgrades, sends one text frame and reads the echo, or
# reports how the connection ended without one. Prints one JSON line.
CLIENT = textwrap.dedent(r"""
    import base64, json, os, socket, sys
    port = int(sys.argv[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    result = {"local_port": sock.getsockname()[1], "received": "", "end": None}
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /echo HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    try:
        while b"\r\n\r\n" not in got:
            chunk = sock.recv(4096)
            if not chunk:
                result["end"] = "eof"
                break
            got += chunk
        if result["end"] is None and got.startswith(b"HTTP/1.1 101"):
            mask = os.urandom(4)
            payload = b"from uid %d" % os.getuid()
            sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
            want = bytes([0x81, len(payload)]) + payload
            rest = got.split(b"\r\n\r\n", 1)[1]
            while len(rest) < len(want):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                rest += chunk
            result["end"] = "echoed" if rest[:len(want)] == want else "bad echo"
    except ConnectionResetError:
        result["end"] = "reset"
    except socket.timeout:
        result["end"] = "timeout"
    result["received"] = got[:200].decode("latin-1")
    print(json.dumps(result))
""")


def as_user(uid, argv):
    if uid == os.getuid():
        return list(argv)
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv]


def client(uid, port):
    """Runs CLIENT as `uid` against 127.0.0.1:port; its JSON result."""
    done = subprocess.run(as_user(uid, [sys.executable, "-c", CLIENT, str(port)]), capture_output=True, text=True,
                          timeout=20, check=True)
    return json.loads(done.stdout)


def assert_refused_unanswered(result):
    # Closed before a byte was read: the app sees the end (a reset, as its request was unread), never HTTP.
    assert result["received"] == ""
    assert result["end"] in ("eof", "reset"), result


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


class Running:
    def __init__(self, process, config, routes, admin):
        self.process = process
        self.config = config
        self.routes = routes  # name -> port
        self.admin = admin    # "http://127.0.0.1:PORT"

    def log(self):
        return self.process.stderr()

    def metric(self, name, route):
        for line in http_get(self.admin + "/metrics").splitlines():
            if line.startswith(f'{name}{{route="{route}"}} '):
                return int(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} for route {route} not in /metrics")

    def route_status(self, route):
        [found] = [r for r in json.loads(http_get(self.admin + "/status"))["routes"] if r["name"] == route]
        return found


@pytest.fixture
def run_loopgate(tmp_path):
    """Starts loopgate as `uid` with a config dict (plus an admin endpoint); the config lives in a
    directory that user can read. Waits for every route and the admin endpoint."""
    started, dirs = [], []

    def start(config, uid=ROOT, env=None, admin=True):
        directory = Path(tempfile.mkdtemp(prefix="lg-owner-", dir="/tmp"))
        directory.chmod(0o755)
        dirs.append(directory)
        if admin:
            config = dict(config, admin={"listen": "127.0.0.1:0"})
        path = directory / "loopgate.json"
        path.write_text(json.dumps(config))
        path.chmod(0o644)
        argv = [LOOPGATE_BIN, "run", "--config", path]
        wrap = as_user(uid, []) if env is None else ["env", *[f"{k}={v}" for k, v in env.items()], *as_user(uid, [])]
        process = Process(argv, tmp_path, f"loopgate{len(started)}", wrap=wrap)
        started.append(process)
        matches = process.wait_for(r"msg=listening route=(\S+) address=127\.0\.0\.1:(\d+)", count=len(config["routes"]))
        address = None
        if admin:
            address = process.wait_for(r'msg="admin endpoint listening" address=(127\.0\.0\.1:\d+)')[0].group(1)
        return Running(process, config, {m.group(1): int(m.group(2)) for m in matches},
                       address and f"http://{address}")

    yield start
    stop_all(started)
    for directory in dirs:
        shutil.rmtree(directory, ignore_errors=True)


def test_another_user_is_closed_unread_and_the_upstream_sees_nothing(run_loopgate, recorder):
    loopgate = run_loopgate({"routes": [recorder.route()]})  # as root, like the CI run
    port = loopgate.routes["rec"]
    assert client(ROOT, port)["end"] == "echoed"
    recorder.wait_connections(1)

    refused = client(NOBODY, port)
    assert_refused_unanswered(refused)
    [line] = loopgate.process.wait_for(r'msg="refused a connection from another user" route=rec .*')
    # The uid is the client's, and the app address its own end: the kernel was asked about the right socket.
    assert f"app=127.0.0.1:{refused['local_port']} uid={NOBODY} loopgate_uid=0 " in line.group(0)
    assert loopgate.metric("loopgate_refused_other_user_total", "rec") == 1
    assert loopgate.metric("loopgate_refused_owner_unknown_total", "rec") == 0
    assert loopgate.metric("loopgate_sessions_total", "rec") == 1  # only root's
    status = loopgate.route_status("rec")
    assert (status["refused_other_user"], status["refused_owner_unknown"]) == (1, 0)
    assert len(recorder.connections) == 1  # the refused app never reached the upstream
    loopgate.process.wait_for(r'msg="connection closed" route=rec')  # root's, once it hung up
    assert loopgate.log().count('msg="connection closed"') == 1


def test_as_its_own_user_loopgate_serves_that_user_and_root_and_refuses_another(run_loopgate, recorder):
    loopgate = run_loopgate({"routes": [recorder.route()]}, uid=USER)
    port = loopgate.routes["rec"]
    assert client(USER, port)["end"] == "echoed"
    assert client(ROOT, port)["end"] == "echoed"
    assert_refused_unanswered(client(OTHER, port))
    loopgate.process.wait_for(rf'msg="refused a connection from another user" route=rec app=\S+ uid={OTHER} '
                              rf'loopgate_uid={USER} ')
    assert loopgate.metric("loopgate_refused_other_user_total", "rec") == 1
    assert [c.frames[0][1] for c in recorder.wait_connections(2)] == [b"from uid %d" % USER, b"from uid 0"]


def test_allow_other_users_lets_another_user_in(run_loopgate, recorder):
    loopgate = run_loopgate({"routes": [recorder.route(allow_other_users=True)]}, uid=USER)
    assert 'msg="route lets other users in: any local user\'s app may use its upstream" route=rec' in loopgate.log()
    assert client(OTHER, loopgate.routes["rec"])["end"] == "echoed"
    assert loopgate.metric("loopgate_refused_other_user_total", "rec") == 0
    assert "refused a connection" not in loopgate.log()


def test_an_app_that_closed_its_socket_before_the_accept_has_no_owner_and_is_refused(run_loopgate, recorder):
    loopgate = run_loopgate({"routes": [recorder.route()]})
    port = loopgate.routes["rec"]
    # While loopgate is stopped the kernel completes the handshake and queues the connection; the
    # app sends its request and closes. Its socket is orphaned by then (TIME_WAIT-like, reported
    # as uid 0 with no inode): not root's, nobody's.
    loopgate.process.signal(signal.SIGSTOP)
    try:
        app = socket.create_connection(("127.0.0.1", port), timeout=5)
        app.sendall(wsraw.upgrade_request("/echo", host=f"127.0.0.1:{port}"))
        app.close()
    finally:
        loopgate.process.signal(signal.SIGCONT)
    line = loopgate.process.wait_for(r'msg="refused a connection: cannot tell which user it comes from" .*')[0]
    assert "the app already closed its socket" in line.group(0)
    assert loopgate.metric("loopgate_refused_owner_unknown_total", "rec") == 1
    assert recorder.connections == []


INTERPOSER = textwrap.dedent(r"""
    #define _GNU_SOURCE
    #include <dlfcn.h>
    #include <errno.h>
    #include <linux/netlink.h>
    #include <sys/socket.h>
    /* A system without sock_diag: socket(AF_NETLINK, ..., NETLINK_SOCK_DIAG) fails. */
    int socket(int domain, int type, int protocol) {
        static int (*real)(int, int, int);
        if (domain == AF_NETLINK && protocol == NETLINK_SOCK_DIAG) {
            errno = EPROTONOSUPPORT;
            return -1;
        }
        if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
        return real(domain, type, protocol);
    }
""")


@pytest.fixture
def no_sock_diag(tmp_path):
    """Environment for a loopgate that cannot open a NETLINK_SOCK_DIAG socket (an LD_PRELOAD shim)."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler for the interposer")
    source = tmp_path / "no_sock_diag.c"
    source.write_text(INTERPOSER)
    library = Path(tempfile.mkdtemp(prefix="lg-nodiag-", dir="/tmp")) / "no_sock_diag.so"
    library.parent.chmod(0o755)
    subprocess.run([compiler, "-shared", "-fPIC", "-o", library, source, "-ldl"], check=True, timeout=60)
    # Sanitizer builds want their runtime first; the shim only wraps one libc call.
    yield {"LD_PRELOAD": str(library), "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    shutil.rmtree(library.parent, ignore_errors=True)


def test_a_route_on_a_system_that_cannot_tell_owners_does_not_start_unless_allowed(tmp_path, recorder,
                                                                                    no_sock_diag, run_loopgate):
    config = tmp_path / "loopgate.json"
    config.write_text(json.dumps({"routes": [recorder.route()]}))
    done = subprocess.run([LOOPGATE_BIN, "run", "--config", config], capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, **no_sock_diag))
    assert done.returncode == 78  # EX_CONFIG
    assert ('msg="cannot start route" route=rec error="route \\"rec\\": cannot tell which user an app connection '
            'comes from (cannot open a NETLINK_SOCK_DIAG socket: Protocol not supported)') in done.stderr
    assert "set allow_other_users to true on this route" in done.stderr
    assert "msg=listening" not in done.stderr

    # The same system with the route open to everyone: it starts and serves.
    loopgate = run_loopgate({"routes": [recorder.route(allow_other_users=True)]}, env=no_sock_diag, admin=False)
    assert client(NOBODY, loopgate.routes["rec"])["end"] == "echoed"

    # A TCP admin endpoint there would be every user's: it is refused, naming the way out.
    config.write_text(json.dumps({"routes": [recorder.route(allow_other_users=True)],
                                  "admin": {"listen": "127.0.0.1:0"}}))
    done = subprocess.run([LOOPGATE_BIN, "run", "--config", config], capture_output=True, text=True, timeout=20,
                          env=dict(os.environ, **no_sock_diag))
    assert done.returncode != 0
    assert "a TCP admin endpoint would be open to every local user; listen on a unix socket instead" in done.stderr


ADMIN_CLIENT = textwrap.dedent(r"""
    import json, sys, urllib.request
    try:
        with urllib.request.urlopen(sys.argv[1] + "/healthz", timeout=5) as response:
            print(json.dumps({"status": response.status}))
    except Exception as error:
        print(json.dumps({"error": type(error).__name__}))
""")


def test_the_admin_endpoint_answers_loopgates_user_and_root_and_closes_on_another(run_loopgate, recorder):
    loopgate = run_loopgate({"routes": [recorder.route()]}, uid=USER)
    ask = lambda uid: json.loads(subprocess.run(as_user(uid, [sys.executable, "-c", ADMIN_CLIENT, loopgate.admin]),
                                                capture_output=True, text=True, timeout=20, check=True).stdout)
    assert ask(USER) == {"status": 200}
    assert ask(ROOT) == {"status": 200}
    # /status tells where loopgate connects, POST /reload reloads it: not another user's to ask.
    refused = ask(OTHER)
    assert "status" not in refused, refused
    loopgate.process.wait_for(rf'msg="admin endpoint: refused a connection from another user" .*uid={OTHER}')


# ---------------------------------------------------------------------------
# A browser page: Chromium as loopgate's user is served; as another user it is refused.

CHROMIUM = shutil.which("chromium")


def open_in_chromium_as(uid, url):
    """test_browser.open_in_chromium, with Chromium run as `uid` (its profile that user's)."""
    profile = Path(tempfile.mkdtemp(prefix="lg-chromium-", dir="/tmp"))
    try:
        os.chown(profile, uid, uid)
        argv = as_user(uid, ["env", f"HOME={profile}", CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                             "--disable-quic", "--no-first-run", "--disable-background-networking",
                             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}/data",
                             "--dump-dom", url])
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    match = re.search(r'<div id="outcome">(.*?)</div>', result.stdout)
    assert match, f"no outcome in the DOM (exit {result.returncode}):\n{result.stdout}\n{result.stderr[-2000:]}"
    return html.unescape(match.group(1))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/install-deps.sh does it)")
def test_a_browser_page_of_loopgates_user_is_unaffected_and_another_users_is_refused(run_loopgate, recorder):
    from test_browser import PageServer
    mine, theirs = PageServer(), PageServer()
    try:
        # Both pages' origins are allowed: only the owner of the browser's socket tells them apart.
        origins = [f"http://127.0.0.1:{mine.port}", f"http://127.0.0.1:{theirs.port}"]
        loopgate = run_loopgate({"routes": [recorder.route(allowed_origins=origins)]}, uid=USER)
        mine.ws_url = theirs.ws_url = f"ws://127.0.0.1:{loopgate.routes['rec']}/echo"
        assert open_in_chromium_as(USER, f"http://127.0.0.1:{mine.port}/") == "message:hello from the page"
        assert loopgate.metric("loopgate_refused_other_user_total", "rec") == 0

        assert open_in_chromium_as(OTHER, f"http://127.0.0.1:{theirs.port}/") == "error"
        loopgate.process.wait_for(rf'msg="refused a connection from another user" route=rec app=\S+ uid={OTHER} ')
        assert loopgate.metric("loopgate_refused_other_user_total", "rec") >= 1
        assert [c.frames[0][1] for c in recorder.wait_connections(1)] == [b"hello from the page"]
        assert len(recorder.connections) == 1  # the other user's page never reached the upstream
    finally:
        mine.stop()
        theirs.stop()
