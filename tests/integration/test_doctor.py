"""`loopgate doctor` as a person runs it when something does not work: on a healthy setup (the
real daemon in front of the bundled TLS test gateway) and on broken ones — the upstream down,
the config invalid, the agent not running (by hand, or a systemd unit installed but not
started, through the fake systemctl of the setup tests), a clock far off (a gateway whose Date
is an hour ahead) — each named with what to do, and exit 1 for a problem. One daemon serves
the tests that only read it; the ones that break something have their own."""

import json
import os
import re
import subprocess

import pytest

import wsraw
from conftest import GATEWAY_BIN, LOOPGATE_BIN, Process, free_port, require_built, route_for, stop_all
from fake_services import FakeSystemd


def doctor(config, *args, env=None):
    require_built(LOOPGATE_BIN)
    return subprocess.run([str(LOOPGATE_BIN), "doctor", "--config", str(config), *args], capture_output=True,
                          text=True, timeout=60, env=env, stdin=subprocess.DEVNULL)


def line(output, area):
    """The finding line of `area` ("config", "route gw"), severity first."""
    match = re.search(rf"^(ok|warn|FAIL) +{re.escape(area)} +(.*)$", output, re.M)
    assert match, f"no {area!r} line in:\n{output}"
    return match.group(1), match.group(2)


class Live:
    def __init__(self, config, daemon, gateway_port):
        self.config = config
        self.daemon = daemon
        self.gateway_port = gateway_port


@pytest.fixture(scope="module")
def live(tmp_path_factory, certs):
    """A running loopgate with an admin endpoint in front of a TLS test gateway, shared by the
    tests that leave it as they found it."""
    require_built(GATEWAY_BIN)
    require_built(LOOPGATE_BIN)
    workdir = tmp_path_factory.mktemp("doctor")
    gateway = Process([GATEWAY_BIN, "--listen", "127.0.0.1:0", "--cert", certs / "server.pem", "--key",
                       certs / "server.key"], workdir, "gateway")
    processes = [gateway]
    try:
        port = int(gateway.wait_for(r"listening on [\d.]+:(\d+)", stream="stdout")[0].group(1))
        config = workdir / "loopgate.json"
        config.write_text(json.dumps({
            "routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": f"wss://localhost:{port}",
                        "tls": {"ca_file": str(certs / "ca.pem")}}],
            "admin": {"listen": f"127.0.0.1:{free_port()}"},
        }, indent=2))
        daemon = Process([LOOPGATE_BIN, "run", "--config", config], workdir, "loopgate")
        processes.append(daemon)
        daemon.wait_for(r'msg="admin endpoint listening"')
        yield Live(config, daemon, port)
    finally:
        stop_all(processes)


def test_doctor_on_a_healthy_setup_says_every_check_is_ok_and_exits_0(live):
    done = doctor(live.config, "--service", "none")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"loopgate doctor: {live.config}\n"), done.stdout
    assert line(done.stdout, "config") == ("ok", f"{live.config}: valid, 1 route, admin endpoint "
                                                 f"{json.loads(live.config.read_text())['admin']['listen']}")
    severity, agent = line(done.stdout, "agent")
    assert severity == "ok" and f"is running (pid {live.daemon.pid}," in agent and "config generation 1" in agent
    severity, route = line(done.stdout, "route gw")
    assert severity == "ok", done.stdout
    assert f"-> wss://localhost:{live.gateway_port}: probe ok (" in route
    assert "verify ok, upgrade ok" in route
    assert "through loopgate: 101 Switching Protocols" in route
    assert line(done.stdout, "clock")[0] == "ok"
    line(done.stdout, "network")  # whether Tailscale's routes are here depends on the machine
    assert re.search(r"^no problems found", done.stdout, re.M), done.stdout
    # The upgrade through the listener really reached the gateway through the daemon.
    live.daemon.wait_for(r'msg="connection closed" route=gw .*status=101.*close_reason="loopgate doctor"')


def test_doctor_json_carries_the_same_findings_for_machines(live):
    done = doctor(live.config, "--json", "--service", "none")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] is True and report["problems"] == 0
    assert report["config_file"] == str(live.config)
    areas = {f["area"]: f for f in report["findings"]}
    assert {"config", "agent", "route gw", "clock", "network", "log"} <= set(areas)
    route = areas["route gw"]
    assert route["severity"] == "ok" and route["todo"] is None
    assert any(d.startswith("upgrade  ok") for d in route["details"]), route


def test_doctor_shows_the_warnings_the_running_loopgate_logged_lately(live):
    port = int(json.loads(
        subprocess.run(["curl", "-s", f"http://{json.loads(live.config.read_text())['admin']['listen']}/status"],
                       capture_output=True, text=True, timeout=10).stdout)["routes"][0]["listen"].rsplit(":", 1)[1])
    status, _, _ = wsraw.exchange(port, wsraw.upgrade_request("/", headers=[("Origin", "https://evil.example")]))
    assert status == 403
    live.daemon.wait_for(r'level=warn msg="connection closed" route=gw .*status=403')
    done = doctor(live.config, "--service", "none")
    assert done.returncode == 0, done.stdout  # a warning in the log is worth knowing, not a failure
    severity, summary = line(done.stdout, "log")
    assert severity == "warn" and "in the running loopgate's log since it started" in summary
    assert re.search(r"^ +\[\d+ s ago\] level=warn msg=\"connection closed\" route=gw .*status=403", done.stdout,
                     re.M), done.stdout


def test_doctor_names_an_invalid_config_by_key_and_says_the_running_loopgate_keeps_its_generation(live):
    good = live.config.read_text()
    doc = json.loads(good)
    doc["routes"][0]["ping_ms"] = 5
    try:
        live.config.write_text(json.dumps(doc, indent=2))
        done = doctor(live.config, "--service", "none")
    finally:
        live.config.write_text(good)
    assert done.returncode == 1, done.stdout
    assert line(done.stdout, "config") == ("FAIL", f"{live.config} is invalid: 1 error")
    assert "routes[0].ping_ms: unknown key" in done.stdout
    assert "the running loopgate keeps generation 1 until then, and a restart would fail (exit 78)" in done.stdout
    # Its admin endpoint is still found in the broken file, so the agent is still asked.
    assert line(done.stdout, "agent")[0] == "ok"


def test_doctor_when_the_upstream_is_down_names_the_step_and_what_to_check(start_gateway, start_loopgate, certs):
    gateway = start_gateway()
    admin = free_port()
    loopgate = start_loopgate({"routes": [route_for(gateway, certs, connect_to="127.0.0.1")],
                               "admin": {"listen": f"127.0.0.1:{admin}"}})
    loopgate.process.wait_for(r'msg="admin endpoint listening"')
    gateway.process.proc.kill()
    gateway.process.proc.wait()
    done = doctor(loopgate.process.argv[-1], "--service", "none")
    assert done.returncode == 1, done.stdout
    assert line(done.stdout, "agent")[0] == "ok"
    severity, route = line(done.stdout, "route gw")
    assert severity == "FAIL"
    assert f"probe failed at connect: cannot connect to upstream localhost:{gateway.port}" in route, route
    assert route.endswith(f"127.0.0.1:{gateway.port} connection refused"), route
    assert re.search(r"^ +connect +FAIL ", done.stdout, re.M), done.stdout
    assert "-> nothing accepts connections there: is the gateway running" in done.stdout
    assert re.search(r"^1 problem", done.stdout, re.M), done.stdout


def test_doctor_when_loopgate_is_not_running_says_how_to_start_it_and_still_probes(live, tmp_path, certs):
    config = tmp_path / "loopgate.json"
    admin = free_port()
    config.write_text(json.dumps({"routes": [{"name": "gw", "listen": f"127.0.0.1:{free_port()}",
                                              "upstream": f"wss://localhost:{live.gateway_port}",
                                              "tls": {"ca_file": str(certs / "ca.pem")}}],
                                  "admin": {"listen": f"127.0.0.1:{admin}"}}))
    done = doctor(config, "--service", "none")
    assert done.returncode == 1, done.stdout
    assert line(done.stdout, "agent") == (
        "FAIL", f"loopgate is not running: no answer from the admin endpoint at 127.0.0.1:{admin}: Connection refused")
    assert f"-> start it: loopgate run --config {config} (in a terminal)" in done.stdout
    assert line(done.stdout, "route gw")[0] == "ok"  # the gateway itself is fine: only loopgate is missing


def test_doctor_when_the_systemd_unit_is_installed_but_not_started_shows_how_and_its_journal(live, tmp_path, certs):
    fake = FakeSystemd(tmp_path, start_daemon=False)
    home = tmp_path / "home"
    config = home / ".config" / "loopgate" / "loopgate.jsonc"
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"routes": [{"name": "gw", "listen": f"127.0.0.1:{free_port()}",
                                              "upstream": f"wss://localhost:{live.gateway_port}",
                                              "tls": {"ca_file": str(certs / "ca.pem")}}],
                                  "admin": {"listen": f"127.0.0.1:{free_port()}"}}))
    unit = home / ".config" / "systemd" / "user" / "loopgate.service"
    unit.parent.mkdir(parents=True)
    unit.write_text(f"[Service]\nExecStart={LOOPGATE_BIN} run --config {config}\n")
    # What the journal kept of an earlier start that failed.
    (fake.state / "journal").write_text(
        "ts=2026-12-01T10:00:00.000Z level=info msg=starting version=1\n"
        f"loopgate: cannot listen on 127.0.0.1:18789: Address already in use\n")
    env = fake.env({**os.environ, "HOME": str(home)})
    env.pop("XDG_CONFIG_HOME", None)
    try:
        done = doctor(config, "--service", "systemd", env=env)
    finally:
        fake.stop()
    assert done.returncode == 1, done.stdout
    assert line(done.stdout, "agent")[0] == "FAIL"
    assert f"the systemd user unit {unit}: inactive (dead)" in done.stdout, done.stdout
    assert "-> start it: systemctl --user enable --now loopgate.service" in done.stdout
    severity, log = line(done.stdout, "log")
    assert severity == "warn" and "the agent's log (journalctl --user -u loopgate.service)" in log
    assert "loopgate: cannot listen on 127.0.0.1:18789: Address already in use" in done.stdout
    assert "level=info msg=starting" not in done.stdout
    assert any(call.startswith("--user show loopgate.service") for call in fake.calls()), fake.calls()


def test_doctor_sees_a_clock_an_hour_off_in_the_gateways_date_header(start_gateway, tmp_path, certs):
    gateway = start_gateway(extra=["--date-offset", "3600"])  # the gateway's clock is an hour ahead
    config = tmp_path / "loopgate.json"
    config.write_text(json.dumps({"routes": [route_for(gateway, certs)]}))
    done = doctor(config, "--service", "none")
    assert done.returncode == 1, done.stdout
    severity, clock = line(done.stdout, "clock")
    assert severity == "FAIL"
    assert re.fullmatch(r"this machine's clock is (59|60) min behind the gateway of route gw \(its Date: "
                        r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\)", clock), clock
    assert "timedatectl set-ntp true" in done.stdout


def test_doctor_options_belong_to_doctor_and_a_bad_one_is_named(tmp_path):
    for argv, says in ((["status", "--json"], "--json belongs to the doctor command"),
                       (["check", "--service", "none"], "--service belongs to the setup and doctor commands"),
                       (["doctor", "--service", "upstart"], "--service must be auto, launchd, systemd or none"),
                       (["doctor", "--verbose"], "unknown argument '--verbose'")):
        done = subprocess.run([str(LOOPGATE_BIN), *argv], capture_output=True, text=True, timeout=10)
        assert done.returncode == 64, (argv, done.stderr)
        assert says in done.stderr, (argv, done.stderr)
    done = doctor(tmp_path / "absent.jsonc", "--service", "none")
    assert done.returncode == 1
    assert line(done.stdout, "config") == ("FAIL", f"no config file at {tmp_path / 'absent.jsonc'}")


def test_doctor_without_an_admin_endpoint_sees_the_listener_and_leaves_no_warning_in_its_log(start_loopgate,
                                                                                             gateway, certs):
    loopgate = start_loopgate({"routes": [route_for(gateway, certs, listen=f"127.0.0.1:{free_port()}")]})
    done = doctor(loopgate.process.argv[-1], "--service", "none")
    assert done.returncode == 0, done.stdout
    severity, agent = line(done.stdout, "agent")
    assert severity == "warn" and agent.startswith(f"something accepts connections on {loopgate.addresses['gw']} "), agent
    assert '"admin": {"listen": "127.0.0.1:18790"}' in done.stdout
    # The listener saw a connection that sent nothing: an ordinary port probe, logged at info. Had
    # doctor hung up at once, the listener could not have told whose it was (a warning).
    loopgate.process.wait_for(r'level=info msg="connection closed" route=gw .*status=0')
    assert "cannot tell which user" not in loopgate.log(), loopgate.log()
