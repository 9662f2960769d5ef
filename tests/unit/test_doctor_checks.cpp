// loopgate doctor's judgements about the config, the agent (what the service
// manager and the admin endpoint said), the running config against the file,
// each route and the login session: every case from made-up facts.
#include <doctest/doctest.h>

#include "config.hpp"
#include "doctor_checks.hpp"

namespace loopgate::test {
namespace {

using doctor::AgentFacts;
using doctor::ConfigFacts;
using doctor::Finding;
using doctor::RouteFacts;
using doctor::Severity;

const char* kPath = "/home/me/.config/loopgate/loopgate.jsonc";

config::Config parsed(const char* text) {
    auto result = config::parse_config(text, "/");
    REQUIRE_MESSAGE(result.config, (result.errors.empty() ? "" : result.errors.front()));
    return *result.config;
}

const config::Config& sample_config() {
    static const config::Config config = parsed(
        R"({"routes": [{"name": "gw", "listen": "127.0.0.1:18789", "upstream": "wss://gw.tail.ts.net:18789"},
                       {"name": "test", "listen": "127.0.0.1:0", "upstream": "wss://127.0.0.1:4443"}],
            "admin": {"listen": "127.0.0.1:18790"}})");
    return config;
}

ConfigFacts valid_config() {
    ConfigFacts c;
    c.path = kPath;
    c.config = &sample_config();
    return c;
}

StatusView running(uint64_t pid = 4242) {
    StatusView s;
    s.version = "1.0.0";
    s.config_file = kPath;
    s.generation = 2;
    s.reloads = 1;
    s.uptime_ms = 600000;
    s.pid = pid;
    RouteView gw;
    gw.name = "gw";
    gw.listen = "127.0.0.1:18789";
    gw.upstream = "wss://gw.tail.ts.net:18789";
    gw.state = "up";
    RouteView test = gw;
    test.name = "test";
    test.listen = "127.0.0.1:40001";  // the file says port 0: any port is the file's
    test.upstream = "wss://127.0.0.1:4443";
    s.routes = {gw, test};
    return s;
}

AgentState launchd_agent(bool installed, bool loaded, std::optional<long> pid) {
    AgentState s;
    s.kind = ServiceKind::launchd;
    s.installed = installed;
    s.loaded = loaded;
    s.pid = pid;
    s.definition = "/Users/me/Library/LaunchAgents/com.loopgate.agent.plist";
    s.config_path = kPath;
    s.log = "/Users/me/Library/Logs/loopgate/com.loopgate.agent.log";
    return s;
}

AgentFacts agent_with(std::optional<StatusView> status, std::optional<AgentState> service = std::nullopt) {
    AgentFacts a;
    a.uid = 501;
    a.admin_address = "127.0.0.1:18790";
    a.status = std::move(status);
    a.service = std::move(service);
    if (!a.status) a.admin_error = "no answer from the admin endpoint at 127.0.0.1:18790: Connection refused";
    return a;
}

bool has(const std::string& text, const std::string& part) {
    INFO(text);
    return text.find(part) != std::string::npos;
}

TEST_CASE("config: missing, invalid (every error, and what a running loopgate does meanwhile), valid") {
    ConfigFacts missing;
    missing.path = kPath;
    missing.missing = true;
    Finding f = doctor::check_config(missing, agent_with(std::nullopt));
    CHECK(f.severity == Severity::fail);
    CHECK(f.summary == std::string("no config file at ") + kPath);
    CHECK(has(f.todo, "loopgate setup wss://"));

    ConfigFacts invalid;
    invalid.path = kPath;
    invalid.errors = {"routes[0].listen: expected HOST:PORT", "line 3, column 19: syntax error"};
    f = doctor::check_config(invalid, agent_with(running()));
    CHECK(f.severity == Severity::fail);
    CHECK(f.summary == std::string(kPath) + " is invalid: 2 errors");
    CHECK(f.details == invalid.errors);
    CHECK(has(f.todo, "the running loopgate keeps generation 2 until then, and a restart would fail (exit 78)"));
    CHECK(has(doctor::check_config(invalid, agent_with(std::nullopt)).todo, "loopgate does not start with it"));

    f = doctor::check_config(valid_config(), agent_with(std::nullopt));
    CHECK(f.severity == Severity::ok);
    CHECK(f.summary == std::string(kPath) + ": valid, 2 routes, admin endpoint 127.0.0.1:18790");
}

TEST_CASE("agent: running and answering, as the loaded agent, is fine") {
    Finding f = doctor::check_agent(agent_with(running(), launchd_agent(true, true, 4242)), valid_config());
    CHECK(f.severity == Severity::ok);
    CHECK(f.summary == "loopgate 1.0.0 is running (pid 4242, up 10 min), config generation 2 (1 reload, 0 refused)");
}

TEST_CASE("agent: not running, nothing manages it: start it by hand, with this config") {
    AgentState none;
    none.kind = ServiceKind::none;
    none.detail = "no service manager: systemctl --user does not answer";
    Finding f = doctor::check_agent(agent_with(std::nullopt, none), valid_config());
    CHECK(f.severity == Severity::fail);
    CHECK(f.summary == "loopgate is not running: no answer from the admin endpoint at 127.0.0.1:18790: Connection refused");
    CHECK(f.details == std::vector<std::string>{"no service manager: systemctl --user does not answer"});
    CHECK(has(f.todo, std::string("loopgate run --config ") + kPath));
}

TEST_CASE("agent: installed in launchd but not loaded: bootstrap it into gui/UID") {
    Finding f = doctor::check_agent(agent_with(std::nullopt, launchd_agent(true, false, std::nullopt)), valid_config());
    CHECK(f.severity == Severity::fail);
    CHECK(f.todo == "load it: launchctl bootstrap gui/501 /Users/me/Library/LaunchAgents/com.loopgate.agent.plist");
}

TEST_CASE("agent: loaded but not running: its log, then kickstart") {
    AgentState s = launchd_agent(true, true, std::nullopt);
    s.detail = "state = not running, last exit code = 78";
    Finding f = doctor::check_agent(agent_with(std::nullopt, s), valid_config());
    CHECK(f.severity == Severity::fail);
    CHECK(has(f.details.at(0), "state = not running, last exit code = 78"));
    CHECK(has(f.todo, "/Users/me/Library/Logs/loopgate/com.loopgate.agent.log"));
    CHECK(has(f.todo, "launchctl kickstart -k gui/501/com.loopgate.agent"));
}

TEST_CASE("agent: a systemd unit installed but inactive: enable --now") {
    AgentState s;
    s.kind = ServiceKind::systemd;
    s.installed = true;
    s.definition = "/home/me/.config/systemd/user/loopgate.service";
    Finding f = doctor::check_agent(agent_with(std::nullopt, s), valid_config());
    CHECK(f.todo == "start it: systemctl --user enable --now loopgate.service");
}

TEST_CASE("agent: one started by hand while the agent is installed, or loaded but not running, is a warning") {
    Finding f = doctor::check_agent(agent_with(running(), launchd_agent(true, false, std::nullopt)), valid_config());
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.details.back(), "installed but not loaded: pid 4242 was started another way"));
    f = doctor::check_agent(agent_with(running(), launchd_agent(true, true, std::nullopt)), valid_config());
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.todo, "kill 4242"));
    f = doctor::check_agent(agent_with(running(), launchd_agent(true, true, 77)), valid_config());
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.details.back(), "pid 77, but pid 4242 answers"));
    AgentState elsewhere = launchd_agent(true, true, 4242);
    elsewhere.config_path = "/etc/other.jsonc";
    f = doctor::check_agent(agent_with(running(), elsewhere), valid_config());
    CHECK(f.severity == Severity::warn);
    CHECK(f.todo == "loopgate doctor --config /etc/other.jsonc checks the agent's own file");
}

TEST_CASE("agent: without an admin endpoint, the listeners tell whether something runs") {
    AgentFacts a;
    a.listeners = {{"gw", "127.0.0.1:18789", ""}};
    Finding f = doctor::check_agent(a, valid_config());
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.summary, "something accepts connections on 127.0.0.1:18789"));
    CHECK(has(f.todo, "\"admin\": {\"listen\": \"127.0.0.1:18790\"}"));
    a.listeners = {{"gw", "127.0.0.1:18789", "Connection refused"}};
    f = doctor::check_agent(a, valid_config());
    CHECK(f.severity == Severity::fail);
    CHECK(f.summary == "loopgate is not running: nothing listens on 127.0.0.1:18789 (Connection refused)");
    a.listeners.clear();
    CHECK(has(doctor::check_agent(a, valid_config()).summary, "cannot tell whether loopgate runs"));
}

TEST_CASE("agent: with no config file, or one that names no admin endpoint, it says which") {
    AgentFacts a;
    ConfigFacts missing;
    missing.path = "/home/me/.config/loopgate/loopgate.jsonc";
    missing.missing = true;
    CHECK(doctor::check_agent(a, missing).summary ==
          "cannot tell whether loopgate runs: there is no config file to find its admin endpoint in");
    ConfigFacts invalid;
    invalid.errors = {"line 2, column 12: syntax error: trailing comma before '}' is not allowed"};
    CHECK(doctor::check_agent(a, invalid).summary ==
          "cannot tell whether loopgate runs: the config is invalid and names no admin endpoint doctor can read");
}

TEST_CASE("agent: asked through the admin endpoint of an invalid config, it says so") {
    AgentFacts a = agent_with(running());
    a.admin_from_invalid_config = true;
    ConfigFacts invalid;
    invalid.path = kPath;
    invalid.errors = {"x"};
    Finding f = doctor::check_agent(a, invalid);
    CHECK(f.severity == Severity::ok);
    CHECK(f.details.back() == "asked through admin.listen 127.0.0.1:18790, read alone from the invalid file");
}

TEST_CASE("agent: an invalid config hides the admin endpoint; the service manager still knows") {
    ConfigFacts invalid;
    invalid.path = kPath;
    invalid.errors = {"x"};
    AgentFacts a;
    a.service = launchd_agent(true, true, 99);
    Finding f = doctor::check_agent(a, invalid);
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.summary, "the agent runs (pid 99)"));
    a.service = launchd_agent(true, false, std::nullopt);
    CHECK(doctor::check_agent(a, invalid).severity == Severity::fail);
    CHECK(doctor::check_agent(AgentFacts{}, invalid).severity == Severity::warn);
}

TEST_CASE("drift: the same routes (port 0 matching any) is no finding; each difference is a line") {
    CHECK_FALSE(doctor::check_drift(valid_config(), running()).has_value());
    StatusView s = running();
    s.routes[0].listen = "127.0.0.1:18000";
    s.routes[1].upstream = "wss://127.0.0.1:5555";
    RouteView extra = s.routes[0];
    extra.name = "gone";
    s.routes.push_back(extra);
    RouteView draining = extra;
    draining.name = "test";
    draining.retiring = true;  // an old listener draining does not count
    s.routes.push_back(draining);
    auto f = doctor::check_drift(valid_config(), s);
    REQUIRE(f);
    CHECK(f->severity == Severity::warn);
    CHECK(f->summary == std::string("the running loopgate (generation 2) is not what ") + kPath + " says");
    CHECK(f->details == std::vector<std::string>{
                            "route gw listens on 127.0.0.1:18000; the file says 127.0.0.1:18789",
                            "route test forwards to wss://127.0.0.1:5555; the file says wss://127.0.0.1:4443",
                            "route gone runs but is no longer in the file"});
    CHECK(has(f->todo, "loopgate reload"));
    s = running();
    s.routes.pop_back();
    CHECK(doctor::check_drift(valid_config(), s)->details ==
          std::vector<std::string>{"route test is in the file but not running"});
    s = running();
    s.config_file = "/etc/loopgate.jsonc";
    CHECK(doctor::check_drift(valid_config(), s)->summary ==
          std::string("the running loopgate reads /etc/loopgate.jsonc, not ") + kPath);
}

RouteFacts probed_route() {
    RouteFacts r;
    r.name = "gw";
    r.listen = "127.0.0.1:18789";
    r.upstream = "wss://gw.tail.ts.net:18789";
    r.host = "gw.tail.ts.net";
    r.probe_ok = true;
    r.steps = {{"trust", "ok", "0 ms", "system store"}, {"resolve", "ok", "3 ms", "-> 100.64.0.7"},
               {"connect", "ok", "9 ms", "100.64.0.7:18789"}, {"upgrade", "ok", "20 ms", "101"}};
    return r;
}

TEST_CASE("route: a probe that got through, and an upgrade through the listener, is fine") {
    RouteFacts r = probed_route();
    r.listener_error = "";
    r.through = PathVerdict{true, "101 Switching Protocols: the gateway accepted the WebSocket upgrade through loopgate"};
    Finding f = doctor::check_route(r);
    CHECK(f.severity == Severity::ok);
    CHECK(f.area == "route gw");
    CHECK(f.summary == "127.0.0.1:18789 -> wss://gw.tail.ts.net:18789: probe ok (trust ok, resolve ok, connect ok, "
                       "upgrade ok); through loopgate: 101 Switching Protocols: the gateway accepted the WebSocket "
                       "upgrade through loopgate");
    CHECK(f.details.size() == 4);  // the steps, for --json
}

TEST_CASE("route: a failed probe names its step, shows the steps and gives that step's advice") {
    RouteFacts r = probed_route();
    r.probe_ok = false;
    r.failed_step = "connect";
    r.failure_reason = "100.64.0.7:18789 connection refused";
    r.steps.back() = {"connect", "FAIL", "1 ms", "100.64.0.7:18789 connection refused"};
    Finding f = doctor::check_route(r);
    CHECK(f.severity == Severity::fail);
    CHECK(f.summary == "127.0.0.1:18789 -> wss://gw.tail.ts.net:18789: probe failed at connect: 100.64.0.7:18789 "
                       "connection refused");
    CHECK(f.details.back() == "connect  FAIL      1 ms  100.64.0.7:18789 connection refused");
    CHECK(has(f.todo, "tailscale ping gw.tail.ts.net"));
    r.host = "127.0.0.1";  // a gateway on this machine: the tailnet has nothing to do with it
    CHECK(has(doctor::check_route(r).todo, "is the gateway running on this machine"));
    CHECK_FALSE(has(doctor::check_route(r).todo, "tailscale"));
    r.host = "gw.tail.ts.net";
    r.failed_step = "resolve";
    CHECK(has(doctor::check_route(r).todo, "gw.tail.ts.net has no IPv4 address here"));
}

TEST_CASE("route: certificate failures get the advice their cause needs") {
    RouteFacts r = probed_route();
    r.probe_ok = false;
    r.failed_step = "verify";
    r.seen = tls::PeerReport{};
    r.seen->pin_mismatch = true;
    CHECK(has(doctor::check_route(r).todo, "loopgate probe gw --print-pin"));
    r.seen->pin_mismatch = false;
    r.seen->chain_error = 10;  // expired
    CHECK(has(doctor::check_route(r).todo, "not valid at this machine's time"));
    r.seen->chain_error = 18;  // self-signed
    CHECK(has(doctor::check_route(r).todo, "a self-signed certificate needs a pin"));
}

TEST_CASE("route: a gateway that answers 401 to the probe's credential-less upgrade is a working path") {
    RouteFacts r = probed_route();
    r.probe_ok = false;
    r.failed_step = "upgrade";
    r.refused_status = 401;
    r.failure_reason = "upstream answered 401 Unauthorized instead of 101 Switching Protocols";
    Finding f = doctor::check_route(r);
    CHECK(f.severity == Severity::warn);
    CHECK(has(f.summary, "the gateway answered 401 to the probe, which sends no credentials"));
    r.refused_status = 502;
    CHECK(doctor::check_route(r).severity == Severity::fail);
}

TEST_CASE("route: its listener refusing, or an upgrade through it failing, is a problem even when the probe works") {
    RouteFacts r = probed_route();
    r.listener_error = "Connection refused";
    Finding f = doctor::check_route(r);
    CHECK(f.severity == Severity::fail);
    CHECK(f.details.back() == "its listener 127.0.0.1:18789 does not accept connections: Connection refused");
    r = probed_route();
    r.listener_error = "";
    r.through = PathVerdict{false, "loopgate answered 502 Bad Gateway: loopgate: upstream TLS failed"};
    f = doctor::check_route(r);
    CHECK(f.severity == Severity::fail);
    CHECK(f.details.back() == "a WebSocket upgrade through 127.0.0.1:18789 failed: loopgate answered 502 Bad Gateway: "
                              "loopgate: upstream TLS failed");
}

TEST_CASE("route: what the running loopgate saw is added, a warning when the probe now gets through") {
    RouteFacts r = probed_route();
    r.running = RouteView{};
    r.running->state = "down";
    r.running->down_for_ms = 42000;
    r.running->down_reason = "connection refused";
    r.running->held = 3;
    Finding f = doctor::check_route(r);
    CHECK(f.severity == Severity::warn);
    CHECK(f.details.back() == "loopgate has seen the upstream down for 42 s: connection refused; 3 apps are waiting for it");
    r.probe_ok = false;
    r.failed_step = "connect";
    CHECK(doctor::check_route(r).severity == Severity::fail);
}

TEST_CASE("session: outside the GUI login session is the macOS trap; inside is fine; elsewhere nothing") {
    AgentFacts a = agent_with(running(), launchd_agent(true, true, 4242));
    a.status->session = "background";
    auto f = doctor::check_session(a);
    REQUIRE(f);
    CHECK(f->severity == Severity::warn);
    CHECK(f->summary == "loopgate (pid 4242) runs outside your GUI login session (launchd's user/501 domain, or "
                        "started over ssh)");
    CHECK(has(f->todo, "launchctl bootout user/501/com.loopgate.agent"));
    CHECK(has(f->todo, "launchctl bootstrap gui/501 ~/Library/LaunchAgents/com.loopgate.agent.plist"));
    a.status->session = "gui";
    CHECK(doctor::check_session(a)->severity == Severity::ok);
    a.status->session = "";
    CHECK_FALSE(doctor::check_session(a).has_value());
    CHECK_FALSE(doctor::check_session(agent_with(std::nullopt)).has_value());
}

}  // namespace
}  // namespace loopgate::test
