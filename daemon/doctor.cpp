#include "doctor.hpp"

#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "addresses.hpp"
#include "admin_client.hpp"
#include "clock_skew.hpp"
#include "doctor_checks.hpp"
#include "exit_status.hpp"
#include "log.hpp"
#include "log_sink.hpp"
#include "path_check.hpp"
#include "route_probe.hpp"
#include "routing_table.hpp"
#include "trust_store.hpp"

namespace loopgate {
namespace {

namespace fs = std::filesystem;
using namespace doctor;

constexpr size_t kLogLinesRead = 400;
constexpr size_t kProblemLinesKept = 16;
constexpr std::chrono::milliseconds kListenerTimeout{2000};
constexpr std::chrono::milliseconds kUpgradeTimeout{5000};
constexpr int kHoldMs = 200;  // a connection that only checks a listener (try_connect)

int64_t unix_seconds(std::chrono::system_clock::time_point t) { return std::chrono::system_clock::to_time_t(t); }

// The config as `loopgate check` loads it; and, when it is invalid, the admin
// endpoint it names if that part can be read on its own.
struct LoadedConfig {
    ConfigFacts facts;
    std::optional<config::Config> config;
    std::optional<config::ListenAddress> admin;
    bool admin_from_invalid = false;
};

LoadedConfig load(const std::string& path) {
    LoadedConfig out;
    out.facts.path = path;
    std::error_code error;
    if (!fs::exists(path, error)) {
        out.facts.missing = true;
        return out;
    }
    config::LoadResult result = config::load_config_file(path);
    if (!result.errors.empty()) {
        out.facts.errors = std::move(result.errors);
        out.admin = config::admin_listen_of_file(path);
        out.admin_from_invalid = out.admin.has_value();
        return out;
    }
    out.config = std::move(result.config);
    out.admin = out.config->admin_listen;
    return out;
}

std::optional<config::ListenAddress> listen_address(const std::string& text) {
    config::ListenAddress address;
    bool bad = text.rfind("unix:", 0) == 0 ? config::parse_unix_listen(text, "/", address).has_value()
                                           : config::parse_listen(text, address).has_value();
    if (bad) return std::nullopt;
    return address;
}

AgentFacts ask_agent(const LoadedConfig& loaded, ServiceManager* service) {
    AgentFacts agent;
    agent.uid = ::geteuid();
    if (service != nullptr) agent.service = service->state();
    if (loaded.admin) {
        agent.admin_address = loaded.admin->text();
        agent.admin_from_invalid_config = loaded.admin_from_invalid;
        AdminReply reply = admin_request(*loaded.admin, "GET", "/status");
        std::string error;
        if (reply.status == 200) {
            agent.status = status_from_json(reply.body, error);
            if (!agent.status) agent.admin_error = "the admin endpoint at " + agent.admin_address + " answered: " + error;
        } else if (reply.status != 0) {
            agent.admin_error = "the admin endpoint at " + agent.admin_address + " answered " + std::to_string(reply.status);
        } else {
            agent.admin_error = reply.error;
        }
    } else if (loaded.config) {
        // Without an admin endpoint the listeners are the only sign of life.
        for (const auto& route : loaded.config->routes) {
            if (!route.listen.is_unix() && route.listen.port == 0) continue;  // any port: nothing to try
            auto refused = try_connect(route.listen, kHoldMs);
            agent.listeners.push_back({route.name, route.listen.text(), refused.value_or("")});
        }
    }
    return agent;
}

// The running route's listener: a WebSocket upgrade through it when the gateway
// answered the probe (so what comes back is loopgate's doing). When it did
// not, loopgate would only hold the app or answer 502; its status already
// says the listener is bound.
void try_listener(RouteFacts& facts) {
    auto address = listen_address(facts.listen);
    if (!address || !facts.probe_ok) return;
    if (address->is_unix() || address->host != "127.0.0.1") {
        facts.listener_error = try_connect(*address, kHoldMs).value_or("");
        return;
    }
    std::string why;
    auto connection = LoopbackConnection::open(address->port, kListenerTimeout, &why);
    if (!connection) {
        facts.listener_error = why;
        return;
    }
    facts.listener_error = "";
    facts.through = judge_path(upgrade_through(*connection, kUpgradeTimeout, "doctor"));
}

struct Probed {
    std::vector<RouteFacts> routes;
    std::vector<ClockSample> clock;
};

Probed probe_routes(const config::Config& config, const AgentFacts& agent) {
    Probed out;
    StderrLogSink log_sink(log::Level::error);  // the probe's own account is what doctor reports
    uv_loop_t loop{};
    if (int rc = uv_loop_init(&loop)) {
        std::fprintf(stderr, "loopgate doctor: cannot start the event loop: %s\n", uv_strerror(rc));
        return out;
    }
    SystemTrustAnchors anchors = SystemTrustAnchors::from_environment();
    for (size_t i = 0; i < config.routes.size(); ++i) {
        const config::Route& route = config.routes[i];
        RouteFacts facts;
        facts.name = route.name;
        facts.listen = route.listen.text();
        facts.upstream = route.upstream.text();
        facts.host = route.upstream.host;
        if (agent.status) {
            for (const auto& r : agent.status->routes) {
                if (r.retiring || r.name != route.name) continue;
                facts.running = r;
                facts.listen = r.listen;  // the address bound (the file may say port 0)
            }
        }
        RecordedProbe recorded;
        {
            RouteProbe probe(&loop, route, i, anchors, recorded);
            facts.probe_ok = probe.run();
            facts.failed_step = probe.failed_step();
            facts.failure_reason = probe.failure_reason();
            facts.refused_status = probe.refused_status();
            facts.seen = probe.seen();
            if (const auto& date = probe.answer_date()) {
                out.clock.push_back({route.name, date->header, unix_seconds(date->received)});
            }
        }
        facts.steps = std::move(recorded.steps);
        if (facts.running) try_listener(facts);
        out.routes.push_back(std::move(facts));
    }
    // Connections still ending get at most a second for their close_notify and FIN.
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return out;
}

Finding network_finding(CommandRunner& runner) {
    std::string error;
    std::vector<Ipv6Route> routes = read_ipv6_routes(runner, error);
    return check_ipv6_routes(tailnet_ipv6_routes(routes, tailscale_interfaces(read_interface_addresses())), error);
}

std::optional<Finding> log_finding(const AgentFacts& agent, ServiceManager* service, int64_t now) {
    std::string location = service != nullptr ? service->log_location() : std::string();
    if (agent.status) {
        std::string source = "the running loopgate's log since it started (" +
                             duration_text(static_cast<int64_t>(agent.status->uptime_ms / 1000)) + " ago)";
        return check_recent_problems(agent.status->recent_problems, agent.status->problems_logged, source, location, now);
    }
    if (service == nullptr || !agent.service || !agent.service->installed) return std::nullopt;
    std::vector<std::string> lines = problem_lines(service->recent_log(kLogLinesRead), kProblemLinesKept);
    return check_recent_problems(lines, lines.size(), "the agent's log (" + location + ")", location, now);
}

}  // namespace

int run_doctor(const DoctorOptions& options, ServiceManager* service, CommandRunner& runner) {
    std::error_code error;
    std::string path = fs::absolute(options.config_path, error).lexically_normal().string();
    if (path.empty()) path = options.config_path;
    LoadedConfig loaded = load(path);
    AgentFacts agent = ask_agent(loaded, service);
    loaded.facts.config = loaded.config ? &*loaded.config : nullptr;

    Report report;
    report.config_path = path;
    report.findings.push_back(check_config(loaded.facts, agent));
    report.findings.push_back(check_agent(agent, loaded.facts));
    if (agent.status) {
        if (auto drift = check_drift(loaded.facts, *agent.status)) report.findings.push_back(*drift);
    }
    if (auto session = check_session(agent)) report.findings.push_back(*session);
    int64_t now = unix_seconds(std::chrono::system_clock::now());
    if (loaded.config) {
        Probed probed = probe_routes(*loaded.config, agent);
        for (const auto& route : probed.routes) report.findings.push_back(check_route(route));
        if (auto clock = check_clock(probed.clock, probed.routes, now)) report.findings.push_back(*clock);
    }
    report.findings.push_back(network_finding(runner));
    if (auto log = log_finding(agent, service, now)) report.findings.push_back(*log);

    std::string text = options.json ? report_json(report) : report_text(report);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
    return report.healthy() ? kExitOk : kExitFailure;
}

}  // namespace loopgate
