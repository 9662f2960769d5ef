"""TLS resumption when sessions open at once. Each TLS 1.3 ticket serves one dial (RFC 8446 §C.4),
so concurrent dials need a ticket each: loopgate keeps every ticket the gateway sends (up to 32 per
route) and hands each to one dial. The test gateway keeps its tickets single use
(--single-use-tickets: a ticket offered a second time gets a full handshake and a `tls ticket
refused` line) and logs each handshake (--log-handshakes); loopgate's own count is in /metrics.

What the design guarantees, and so what is asserted: a dial resumes whenever the route holds a
ticket no other dial has taken, so a wave of N concurrent dials resumes at least min(N, tickets
held) of them; a full handshake brings the server's full count of tickets (OpenSSL: 2), a
resumed one gives back the one it used (OpenSSL sends 1), so the stock grows until it covers
the concurrency the route sees."""

import json
import re
import urllib.request

import wsraw
from conftest import free_port, port_of, route_for

WAVE = 8


def http_get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


class Counted:
    """loopgate (with an admin endpoint) in front of a test gateway that logs its handshakes."""

    def __init__(self, start_loopgate, start_gateway, certs, tickets=None):
        extra = ["--single-use-tickets", "--log-handshakes"]
        if tickets is not None:
            extra += ["--tickets", str(tickets)]
        self.gateway = start_gateway(extra=extra)
        admin_port = free_port()
        self.loopgate = start_loopgate({"routes": [route_for(self.gateway, certs, name="gw")],
                                        "admin": {"listen": f"127.0.0.1:{admin_port}"}})
        self.loopgate.process.wait_for(r'msg="admin endpoint listening"')
        self.admin = f"http://127.0.0.1:{admin_port}"
        self.port = port_of(self.loopgate, "gw")
        self.open = []

    def metric(self, name, labels=""):
        wanted = '{route="gw"' + labels + "}"
        for line in http_get(self.admin + "/metrics").splitlines():
            if line.startswith(name + wanted + " "):
                return int(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name}{wanted} not in /metrics")

    def cached(self):
        return self.metric("loopgate_tls_sessions_cached")

    def handshakes(self):
        """(full, resumed) as loopgate counted them, and as the gateway did."""
        ours = (self.metric("loopgate_tls_handshakes_total", ',resumed="false"'),
                self.metric("loopgate_tls_handshakes_total", ',resumed="true"'))
        lines = self.gateway.process.stdout().splitlines()
        theirs = (sum(1 for line in lines if re.match(r"tls handshake .* resumed=no$", line)),
                  sum(1 for line in lines if re.match(r"tls handshake .* resumed=yes$", line)))
        return ours, theirs

    def refused_tickets(self):
        return [line for line in self.gateway.process.stdout().splitlines() if line.startswith("tls ticket refused")]

    def open_at_once(self, count):
        """Sends `count` upgrade requests before reading any answer; all must become sessions."""
        conns = [wsraw.connect(self.port) for _ in range(count)]
        for conn in conns:
            conn.send(wsraw.upgrade_request("/echo"))
        for conn in conns:
            status, _, _ = conn.read_head(timeout=15)
            assert status == 101
        self.open += conns
        return conns

    def echo(self, conn, payload):
        conn.send(wsraw.frame(0x2, payload))
        assert conn.expect_frame(0x2, payload)

    def close(self):
        for conn in self.open:
            conn.close()


def test_every_concurrent_dial_after_the_first_resumes_when_the_first_brought_enough_tickets(
        start_loopgate, start_gateway, certs):
    counted = Counted(start_loopgate, start_gateway, certs, tickets=WAVE)
    try:
        [first] = counted.open_at_once(1)
        # The gateway's tickets come before its 101, and loopgate reads them first.
        assert counted.cached() == WAVE
        wave = counted.open_at_once(WAVE)
        for i, conn in enumerate(wave):
            counted.echo(conn, f"session {i}".encode())
        ours, theirs = counted.handshakes()
        assert theirs == (1, WAVE), counted.gateway.process.stdout()
        assert ours == (1, WAVE)
        assert counted.refused_tickets() == []  # no ticket was offered twice
        assert counted.cached() == WAVE  # each resumed dial got the one it used back
    finally:
        counted.close()


def test_with_openssls_default_tickets_a_wave_resumes_what_the_route_holds_and_the_stock_grows(
        start_loopgate, start_gateway, certs):
    counted = Counted(start_loopgate, start_gateway, certs)  # OpenSSL's default: 2, then 1 per resumption
    try:
        counted.open_at_once(1)
        held = counted.cached()
        assert held == 2
        before = (1, 0)
        waves = []
        for _ in range(3):
            counted.open_at_once(WAVE)
            ours, theirs = counted.handshakes()
            assert ours == theirs, counted.gateway.process.stdout()
            full, resumed = ours[0] - before[0], ours[1] - before[1]
            assert full + resumed == WAVE
            # Every ticket held was used (how many more resumed depends on tickets arriving
            # while the wave was still dialing), and none was offered twice.
            assert resumed >= min(WAVE, held)
            assert counted.refused_tickets() == []
            # Each full handshake brought 2 tickets; each resumed one gave back the one it used.
            assert counted.cached() == min(32, held + 2 * full)
            waves.append({"held_before": held, "full": full, "resumed": resumed})
            held = counted.cached()
            before = ours
        print(json.dumps(waves))
    finally:
        counted.close()
