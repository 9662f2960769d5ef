// What the admin endpoint says, built from a snapshot of the daemon's state:
// /status as JSON, /metrics in Prometheus' text format (0.0.4), /readyz as
// one line per route. Pure functions of the snapshot, so each is unit-tested;
// status_from_json reads /status back for a client.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "route.hpp"

namespace loopgate {

struct SessionView {
    std::string app;
    std::string path;
    std::string upstream;
    std::string phase;            // reading_request, held, connecting, relaying
    std::string tls_resumed;      // "true", "false" or "" (no TLS upstream yet)
    uint64_t age_ms = 0;
    uint64_t bytes_from_app = 0;
    uint64_t bytes_from_upstream = 0;
};

struct RouteView {
    std::string name;
    std::string listen;           // the address bound
    std::string upstream;         // wss://host[:port][/base]
    std::string state;            // unknown, up, down
    std::string down_reason;
    std::string unreached_reason; // unknown: why the last dial failed; "" when none did (RouteHealth)
    uint64_t down_for_ms = 0;
    uint64_t held = 0;
    bool retiring = false;        // removed by a reload, draining its sessions
    uint64_t tls_sessions_cached = 0;  // TLS sessions the route holds for the next dials
    RouteStats stats;
    std::vector<SessionView> sessions;
};

struct StatusView {
    std::string version;
    std::string config_file;
    uint64_t generation = 1;
    uint64_t reloads = 0;
    uint64_t failed_reloads = 0;
    uint64_t network_changes = 0;
    std::string last_network_change;    // "" when none yet
    uint64_t last_network_change_age_ms = 0;
    uint64_t uptime_ms = 0;
    uint64_t pid = 0;
    std::string session;          // macOS: "gui" or "background" (daemon/login_session.hpp); "" elsewhere
    // How a wake from sleep is noticed now: "polling" (the clock check, while
    // an app is connected), "idle" (no app: nothing polls), "power
    // notifications" (macOS), "off".
    std::string wake_watch = "off";
    std::vector<RouteView> routes;
    std::vector<std::string> recent_problems;  // the last warn/error log lines, oldest first
    uint64_t problems_logged = 0;              // warn/error lines since start (also those no longer kept)
};

std::string status_json(const StatusView& status);
// The other way, for a client (`loopgate doctor`): the process and route fields of a /status
// document (not the sessions or counters). Nothing, with `error` set, when it is not one.
std::optional<StatusView> status_from_json(std::string_view text, std::string& error);
std::string metrics_text(const StatusView& status);
// Ready when no route's upstream is down. Lines: "gw up", "other down: connection refused".
std::string readiness_text(const StatusView& status, bool& ready);
// What `loopgate status` prints: the process, then each route with its health and sessions.
std::string status_text(const StatusView& status, bool& ready);

}  // namespace loopgate
