// `loopgate doctor`'s judgements: from what was gathered (the facts below:
// the config as `check` loads it, what the service manager and the admin
// endpoint say, each route's probe, the clock, the routing table, the log)
// to findings with what to do. Pure functions: doctor.cpp gathers, these
// decide, and the unit tests give them every case.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "admin_report.hpp"
#include "config.hpp"
#include "doctor_report.hpp"
#include "path_check.hpp"
#include "probe_report.hpp"
#include "service_manager.hpp"
#include "tailnet_routes.hpp"
#include "tls_context.hpp"

namespace loopgate::doctor {

struct ConfigFacts {
    std::string path;
    bool missing = false;               // no file there
    std::vector<std::string> errors;    // as `loopgate check` prints them; empty when valid
    const config::Config* config = nullptr;  // when valid
};

// The running loopgate, as far as doctor could learn it.
struct AgentFacts {
    std::optional<AgentState> service;          // what launchd or systemd says (kind none: nobody manages it)
    std::string admin_address;                  // where the admin endpoint was asked; "" when none is configured
    bool admin_from_invalid_config = false;     // its address read from a config that is otherwise invalid
    std::optional<StatusView> status;           // its answer to /status
    std::string admin_error;                    // why there was no answer
    // Without an admin endpoint, the routes' own listeners tell whether something runs.
    struct Listener {
        std::string route;
        std::string address;
        std::string error;  // "" when it accepted a connection
    };
    std::vector<Listener> listeners;
    uid_t uid = 0;  // for the launchctl command lines in the advice
};

// One route: the config's, the daemon's view of it, its listener and its probe.
struct RouteFacts {
    std::string name;
    std::string listen;         // the address apps use (the bound one when the daemon said)
    std::string upstream;       // wss://host[:port]
    std::string host;           // the upstream's host name, for the advice
    std::optional<RouteView> running;  // the daemon's view; unset when it did not answer
    std::optional<std::string> listener_error;  // set when the listener was tried: "" accepted
    // A WebSocket upgrade through the running loopgate's listener, as an app
    // makes it; tried when the probe got through, so the gateway is there.
    std::optional<PathVerdict> through;
    bool probe_ok = false;
    std::string failed_step;
    std::string failure_reason;
    int refused_status = 0;     // the status a refused upgrade got instead of 101
    std::vector<ProbeStep> steps;
    std::optional<tls::PeerReport> seen;
};

// The upstream's clock: a Date header and this machine's time when it came.
struct ClockSample {
    std::string route;
    std::string date_header;
    int64_t received = 0;  // seconds since the epoch, local clock
};

Finding check_config(const ConfigFacts& config, const AgentFacts& agent);
Finding check_agent(const AgentFacts& agent, const ConfigFacts& config);
// The running loopgate against the file: routes added, removed or changed since it loaded it.
std::optional<Finding> check_drift(const ConfigFacts& config, const StatusView& status);
Finding check_route(const RouteFacts& route);
// From the Date headers, else from the certificates' validity at `now`. Nothing when no route answered.
std::optional<Finding> check_clock(const std::vector<ClockSample>& samples, const std::vector<RouteFacts>& routes,
                                   int64_t now);
Finding check_ipv6_routes(const TailnetRoutes& routes, const std::string& read_error);
// macOS: the daemon's login session ("gui", "background"); nothing where there is none.
std::optional<Finding> check_session(const AgentFacts& agent);
// The last warning and error lines: the daemon's own (status), else those of the agent's log.
Finding check_recent_problems(const std::vector<std::string>& lines, uint64_t total, const std::string& source,
                              const std::string& log_location, int64_t now);

// The problem lines of a log's text, oldest first, at most `max`: logfmt lines
// at level warn or error, and lines that are not logfmt (what `loopgate run`
// prints before its log starts, e.g. the config errors of a failed start).
std::vector<std::string> problem_lines(const std::string& log_text, size_t max);

}  // namespace loopgate::doctor
