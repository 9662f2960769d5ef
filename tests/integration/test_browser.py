"""A real headless Chromium loads a page from a loopback origin and opens a WebSocket to
loopgate, as any web page the user has open could. From an origin that is not allowed the
WebSocket fails and the upstream sees no request at all; from an allowed origin messages
go both ways; a page whose own name resolves to 127.0.0.1 (DNS rebinding) is stopped by
the Host check even when its origin was allowed.

Chromium runs with --dump-dom, which prints the DOM once the page has loaded. The page
holds its load event open with an iframe the test server only answers after the page has
reported its WebSocket's outcome, so the printed DOM carries the outcome too."""

import html
import http.server
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.parse

import pytest

from conftest import parse_logfmt, route_for

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (tools/install-deps.sh does it)")

PAGE = """<!doctype html>
<html><body><div id="outcome">pending</div>
<script>
function report(outcome) {
  if (document.getElementById("outcome").textContent !== "pending") return;
  document.getElementById("outcome").textContent = outcome;
  fetch("/report?outcome=" + encodeURIComponent(outcome));
}
const ws = new WebSocket("WS_URL");
ws.onopen = () => ws.send("hello from the page");
ws.onmessage = (event) => { report("message:" + event.data); ws.close(1000); };
ws.onerror = () => report("error");
ws.onclose = (event) => report("closed:" + event.code);
setTimeout(() => report("timeout"), 8000);
</script>
<iframe src="/hold"></iframe>
</body></html>"""


class PageServer:
    """Serves the page on 127.0.0.1 and records the outcome the page reports. Its port is
    the page's origin, so it is known before loopgate's; ws_url is set once loopgate runs."""

    def __init__(self):
        self.ws_url = None
        self.outcome = None
        reported = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.startswith("/report?"):
                    server.outcome = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)["outcome"][0]
                    reported.set()
                    body = b"ok"
                elif self.path == "/hold":
                    reported.wait(15)
                    body = b"<!doctype html><title>done</title>"
                elif self.path == "/":
                    body = PAGE.replace("WS_URL", server.ws_url).encode()
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def page_servers():
    started = []

    def start():
        server = PageServer()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def open_in_chromium(url, resolver_rules=None):
    """Loads `url` in a fresh headless Chromium; returns the outcome the page wrote into its DOM."""
    with tempfile.TemporaryDirectory(prefix="lg-chromium-") as profile:
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={profile}", "--dump-dom", url]
        if resolver_rules:
            argv.insert(1, f"--host-resolver-rules={resolver_rules}")
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    match = re.search(r'<div id="outcome">(.*?)</div>', result.stdout)
    assert match, f"no outcome in the DOM (exit {result.returncode}):\n{result.stdout}\n{result.stderr[-2000:]}"
    return html.unescape(match.group(1))


@pytest.fixture
def loopgate_for_pages(start_loopgate, gateway, certs):
    """loopgate in front of the test gateway, letting in pages from `allowed_origins`."""

    def start(allowed_origins):
        loopgate = start_loopgate({"routes": [route_for(gateway, certs, allowed_origins=allowed_origins)]})
        loopgate.gateway = gateway
        return loopgate

    return start


def test_page_from_an_origin_not_allowed_cannot_open_a_websocket_and_the_upstream_sees_nothing(
        loopgate_for_pages, page_servers):
    allowed, page = page_servers(), page_servers()
    loopgate = loopgate_for_pages([f"http://127.0.0.1:{allowed.port}", "http://localhost:*"])
    page.ws_url = f"ws://127.0.0.1:{loopgate.port}/echo"
    outcome = open_in_chromium(f"http://127.0.0.1:{page.port}/")
    assert outcome == "error"
    assert page.outcome == "error"
    assert loopgate.gateway.requests() == []
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed(count=1)]
    assert summary["status"] == "403"
    assert f'Origin "http://127.0.0.1:{page.port}" is not allowed' in summary["reason"]


def test_page_from_an_allowed_origin_exchanges_messages(loopgate_for_pages, page_servers):
    page = page_servers()
    loopgate = loopgate_for_pages([f"http://127.0.0.1:{page.port}"])
    page.ws_url = f"ws://127.0.0.1:{loopgate.port}/echo"
    assert open_in_chromium(f"http://127.0.0.1:{page.port}/") == "message:hello from the page"
    assert page.outcome == "message:hello from the page"
    [request] = loopgate.gateway.requests()
    assert f"origin=http://127.0.0.1:{page.port} " in request  # forwarded unchanged


def test_page_from_localhost_allowed_by_port_wildcard_exchanges_messages(loopgate_for_pages, page_servers):
    loopgate = loopgate_for_pages(["http://localhost:*"])
    page = page_servers()
    page.ws_url = f"ws://127.0.0.1:{loopgate.port}/echo"
    assert open_in_chromium(f"http://localhost:{page.port}/") == "message:hello from the page"
    [request] = loopgate.gateway.requests()
    assert f"origin=http://localhost:{page.port} " in request


def test_rebinding_page_is_refused_by_host_even_with_its_origin_allowed(loopgate_for_pages, page_servers):
    loopgate = loopgate_for_pages(["http://evil.example:*"])
    page = page_servers()
    page.ws_url = f"ws://evil.example:{loopgate.port}/echo"
    # evil.example resolving to 127.0.0.1 is what a rebinding attacker arranges with DNS.
    outcome = open_in_chromium(f"http://evil.example:{page.port}/", resolver_rules="MAP evil.example 127.0.0.1")
    assert outcome == "error"
    assert loopgate.gateway.requests() == []
    [summary] = [parse_logfmt(line) for line in loopgate.wait_closed(count=1)]
    assert summary["status"] == "403"
    assert f'Host "evil.example:{loopgate.port}" is not a name of this listener' in summary["reason"]
