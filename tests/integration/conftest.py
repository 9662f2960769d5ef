"""Shared fixtures for integration tests: real loopgate processes, the bundled
TLS test gateway, and test certificates. Every port comes from binding port 0;
readiness is a line the child prints, awaited with a deadline."""

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("LOOPGATE_BUILD_DIR", REPO / "build"))
LOOPGATE_BIN = Path(os.environ.get("LOOPGATE_BIN", BUILD / "daemon" / "loopgate"))
GATEWAY_BIN = Path(os.environ.get("LOOPGATE_GATEWAY_BIN", BUILD / "tools" / "loopgate-test-gateway"))


class Process:
    """A child process whose stdout/stderr go to files we can search."""

    def __init__(self, argv, workdir, name, wrap=None):
        self.out_path = Path(workdir) / f"{name}.out"
        self.err_path = Path(workdir) / f"{name}.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.argv = list(wrap or []) + [str(a) for a in argv]
        self.proc = subprocess.Popen(self.argv, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL)

    @property
    def pid(self):
        return self.proc.pid

    def stdout(self):
        return self.out_path.read_text(errors="replace")

    def stderr(self):
        return self.err_path.read_text(errors="replace")

    def wait_for(self, pattern, stream="stderr", timeout=10.0, count=1):
        """Waits until `pattern` (a regex) matched `count` times; returns the matches."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            text = self.stderr() if stream == "stderr" else self.stdout()
            matches = list(regex.finditer(text))
            if len(matches) >= count:
                return matches
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"{self.argv[0]} exited with {self.proc.returncode} before printing {pattern!r}:\n{text}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {pattern!r} from {self.argv}:\n{text}")
            time.sleep(0.01)

    def signal(self, signum):
        if self.proc.poll() is None:
            self.proc.send_signal(signum)

    def wait(self, timeout=10.0):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()
        self._err.close()

    def sanitizer_report(self):
        """The first ASan/LSan/UBSan report in stderr with some context, or None.
        Only sanitizer builds (tools/sanitize.sh) print them."""
        text = self.stderr()
        match = SANITIZER_REPORT.search(text)
        return text[max(0, match.start() - 500):match.start() + 4000] if match else None


# How ASan, LSan and UBSan start a report ("==123==ERROR: AddressSanitizer: ...",
# "proxy/x.cpp:12:3: runtime error: ..."), anchored so log lines quoting an
# app's bytes cannot look like one.
SANITIZER_REPORT = re.compile(r"^==\d+==ERROR: \w+Sanitizer|^\S+:\d+:\d+: runtime error: ", re.MULTILINE)


def stop_all(processes):
    """Stops every process, then fails the test if one printed a sanitizer
    report: under ASan/UBSan a memory error fails the test that caused it."""
    for process in processes:
        process.stop()
    reports = [f"{p.argv[0]}:\n{report}" for p in processes if (report := p.sanitizer_report())]
    if reports:
        pytest.fail("sanitizer report from a child process:\n" + "\n".join(reports), pytrace=False)


# tools/sanitize.sh points the sanitizers' log_path here, so that reports of
# every child are caught, also of those a test runs itself with subprocess.
SANITIZER_LOGS = os.environ.get("LOOPGATE_SANITIZER_LOGS")


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """Fails the test during which any child wrote a sanitizer report. Torn
    down after the other fixtures, so reports made at exit are included."""
    if not SANITIZER_LOGS:
        yield
        return
    before = set(Path(SANITIZER_LOGS).glob("report.*"))
    yield
    new = sorted(set(Path(SANITIZER_LOGS).glob("report.*")) - before)
    if new:
        texts = [f"{path}:\n{path.read_text(errors='replace')[:4000]}" for path in new]
        pytest.fail("sanitizer report from a child process:\n" + "\n".join(texts), pytrace=False)


class Gateway:
    def __init__(self, process, port):
        self.process = process
        self.port = port

    def requests(self):
        """The request lines the gateway logged, one per HTTP request it received."""
        return [line for line in self.process.stdout().splitlines() if line.startswith("request ")]


class Loopgate:
    def __init__(self, process, config, addresses):
        self.process = process
        self.config = config
        self.addresses = addresses  # route name -> "127.0.0.1:PORT"

    @property
    def port(self):
        return int(next(iter(self.addresses.values())).rsplit(":", 1)[1])

    def url(self, path="/"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def log(self):
        return self.process.stderr()

    def summary_lines(self):
        return [line for line in self.log().splitlines() if 'msg="connection closed"' in line]

    def wait_closed(self, count=1, timeout=10.0):
        """Waits until `count` connection summary lines were logged; returns all of them."""
        self.process.wait_for(r'msg="connection closed"', count=count, timeout=timeout)
        return self.summary_lines()

    def summaries(self):
        """The connection summary lines, each parsed into a dict of its logfmt fields."""
        return [parse_logfmt(line) for line in self.summary_lines()]

    def peak_rss_kib(self):
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


_LOGFMT_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
_LOGFMT_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def parse_logfmt(line):
    """One loopgate log line as a dict; quoted values are unescaped as loopgate escapes them."""
    fields = {}
    for key, raw in _LOGFMT_PAIR.findall(line):
        if raw.startswith('"'):
            raw = re.sub(r"\\x([0-9a-f]{2})|\\(.)",
                         lambda m: chr(int(m.group(1), 16)) if m.group(1) else _LOGFMT_ESCAPES.get(m.group(2), m.group(2)),
                         raw[1:-1])
        fields[key] = raw
    return fields


def free_port(host="127.0.0.1"):
    """A port nothing listens on right now: bound, noted and closed again."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class TcpStub:
    """A TCP listener that accepts connections but never speaks HTTP or TLS: it writes an
    optional fixed greeting, then holds every connection open until stopped. It counts
    what it accepted, so a test can prove that nobody (or somebody) connected."""

    def __init__(self, host="127.0.0.1", port=0, greeting=b""):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self._listener.settimeout(0.05)  # lets the accept loop notice stop()
        self.port = self._listener.getsockname()[1]
        self.greeting = greeting
        self._held = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    @property
    def accepted(self):
        with self._lock:
            return len(self._held)

    def _accept_loop(self):
        while not self._stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self._held.append(conn)
            if self.greeting:
                try:
                    conn.sendall(self.greeting)
                except OSError:
                    pass

    def stop(self):
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for conn in self._held:
                conn.close()


@pytest.fixture
def start_tcp_stub():
    """Starts TcpStub listeners (see there); all are stopped after the test."""
    started = []

    def start(host="127.0.0.1", port=0, greeting=b""):
        stub = TcpStub(host, port, greeting)
        started.append(stub)
        return stub

    yield start
    for stub in started:
        stub.stop()


def require_built(path):
    if not path.is_file():
        pytest.fail(f"{path} is missing: build first (meson setup build && ninja -C build)")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    """The test CA and a leaf for localhost, gateway.test and 127.0.0.1."""
    directory = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", str(REPO / "tools" / "gen-certs.sh"), str(directory)], check=True)
    return directory


@pytest.fixture
def start_gateway(tmp_path, certs):
    """Starts loopgate-test-gateway; TLS with the test certificate unless plain=True."""
    require_built(GATEWAY_BIN)
    started = []

    def start(plain=False, cert=None, key=None, listen="127.0.0.1:0", extra=(), wrap=None):
        argv = [GATEWAY_BIN, "--listen", listen]
        if plain:
            argv.append("--plain")
        else:
            argv += ["--cert", cert or certs / "server.pem", "--key", key or certs / "server.key"]
        argv += list(extra)
        process = Process(argv, tmp_path, f"gateway{len(started)}", wrap=wrap)
        started.append(process)
        match = process.wait_for(r"listening on [\d.]+:(\d+)", stream="stdout")[0]
        return Gateway(process, int(match.group(1)))

    yield start
    stop_all(started)


@pytest.fixture
def gateway(start_gateway):
    return start_gateway()


def route_for(gateway, certs, **overrides):
    route = {
        "name": "gw",
        "listen": "127.0.0.1:0",
        "upstream": f"wss://localhost:{gateway.port}",
        "tls": {"ca_file": str(certs / "ca.pem")},
    }
    route.update(overrides)
    return route


@pytest.fixture
def start_loopgate(tmp_path):
    """Starts the real loopgate binary with a config dict; waits for every route to listen."""
    require_built(LOOPGATE_BIN)
    started = []

    def start(config, wrap=None, args=()):
        path = tmp_path / f"loopgate{len(started)}.json"
        path.write_text(json.dumps(config))
        path.chmod(0o600)  # loopgate refuses a config holding a secret (upstream_headers) that others can read
        process = Process([LOOPGATE_BIN, "run", "--config", path, *args], tmp_path, f"loopgate{len(started)}",
                          wrap=wrap)
        started.append(process)
        matches = process.wait_for(r"msg=listening route=(\S+) address=(\S+)", count=len(config["routes"]))
        return Loopgate(process, config, {m.group(1): m.group(2) for m in matches})

    yield start
    stop_all(started)


def port_of(loopgate, route):
    """The TCP port a route of a running loopgate listens on."""
    return int(loopgate.addresses[route].rsplit(":", 1)[1])


@pytest.fixture
def recorder():
    """A plain ws:// upstream that records every frame it receives (recording_upstream.py)."""
    from recording_upstream import RecordingUpstream
    upstream = RecordingUpstream()
    yield upstream
    upstream.stop()


@pytest.fixture
def loopgate(start_loopgate, gateway, certs):
    """loopgate in front of a fresh TLS test gateway, default settings."""
    instance = start_loopgate({"routes": [route_for(gateway, certs)]})
    instance.gateway = gateway
    return instance
