#include "admin_report.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>

#include "http_text.hpp"

namespace loopgate {
namespace {

constexpr const char* kFailureReasons[] = {"resolve", "connect", "tls", "upgrade", "timeout"};

// Prometheus label values: backslash, double quote and newline escaped.
std::string label(std::string_view value) {
    std::string out;
    for (char c : value) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", value);
    return text;
}

class Metrics {
public:
    void family(const char* name, const char* type, const char* help) {
        text_ += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
    }
    void sample(const std::string& name, const std::string& labels, const std::string& value) {
        text_ += name;
        if (!labels.empty()) text_ += "{" + labels + "}";
        text_ += " " + value + "\n";
    }
    void sample(const std::string& name, const std::string& labels, uint64_t value) {
        sample(name, labels, std::to_string(value));
    }
    std::string take() { return std::move(text_); }

private:
    std::string text_;
};

uint64_t live_bytes(const RouteView& route, bool from_app) {
    uint64_t total = from_app ? route.stats.bytes_from_app : route.stats.bytes_from_upstream;
    for (const auto& s : route.sessions) total += from_app ? s.bytes_from_app : s.bytes_from_upstream;
    return total;
}

// One series per route name: a route that moved to a new address in a reload
// is counted under its new listener while the old one drains.
std::vector<RouteView> series_routes(const StatusView& status) {
    std::vector<RouteView> out;
    for (const auto& r : status.routes) {
        bool shadowed = false;
        for (const auto& other : status.routes) shadowed = shadowed || (r.retiring && !other.retiring && other.name == r.name);
        if (!shadowed) out.push_back(r);
    }
    return out;
}

}  // namespace

std::string status_json(const StatusView& status) {
    nlohmann::json routes = nlohmann::json::array();
    for (const auto& r : status.routes) {
        nlohmann::json sessions = nlohmann::json::array();
        for (const auto& s : r.sessions) {
            sessions.push_back({{"app", s.app},
                                {"path", s.path},
                                {"upstream", s.upstream},
                                {"phase", s.phase},
                                {"age_ms", s.age_ms},
                                {"bytes_from_app", s.bytes_from_app},
                                {"bytes_from_upstream", s.bytes_from_upstream},
                                {"tls_resumed", s.tls_resumed.empty() ? nlohmann::json(nullptr)
                                                                      : nlohmann::json(s.tls_resumed == "true")}});
        }
        routes.push_back({{"name", r.name},
                          {"listen", r.listen},
                          {"upstream", r.upstream},
                          {"state", r.state},
                          {"down_reason", r.down_reason.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.down_reason)},
                          {"unreached_reason", r.unreached_reason.empty() ? nlohmann::json(nullptr)
                                                                          : nlohmann::json(r.unreached_reason)},
                          {"down_for_ms", r.down_for_ms},
                          {"held", r.held},
                          {"retiring", r.retiring},
                          {"sessions_active", r.sessions.size()},
                          {"sessions_total", r.stats.sessions_accepted},
                          {"refused_other_user", r.stats.refused_other_user},
                          {"refused_owner_unknown", r.stats.refused_owner_unknown},
                          {"tls_handshakes_full", r.stats.tls_handshakes_full},
                          {"tls_handshakes_resumed", r.stats.tls_handshakes_resumed},
                          {"tls_sessions_cached", r.tls_sessions_cached},
                          {"http_requests", r.stats.http_requests},
                          {"http_upstream_reused", r.stats.http_upstream_reused},
                          {"sessions", sessions}});
    }
    nlohmann::json doc = {
        {"version", status.version},
        {"config_file", status.config_file},
        {"config_generation", status.generation},
        {"reloads", status.reloads},
        {"failed_reloads", status.failed_reloads},
        {"uptime_ms", status.uptime_ms},
        {"pid", status.pid},
        {"session", status.session.empty() ? nlohmann::json(nullptr) : nlohmann::json(status.session)},
        {"network_changes", status.network_changes},
        {"last_network_change",
         status.last_network_change.empty()
             ? nlohmann::json(nullptr)
             : nlohmann::json{{"what", status.last_network_change}, {"age_ms", status.last_network_change_age_ms}}},
        {"wake_watch", status.wake_watch},
        {"routes", routes},
        {"problems_logged", status.problems_logged},
        {"recent_problems", status.recent_problems}};
    // Text from the network (a gateway's reason, a log line) may not be UTF-8: replaced, never a throw.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::optional<StatusView> status_from_json(std::string_view text, std::string& error) {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!doc.is_object() || !doc.contains("config_generation") || !doc["routes"].is_array()) {
        error = "not a loopgate /status document";
        return std::nullopt;
    }
    auto text_of = [](const nlohmann::json& object, const char* key) {
        auto it = object.find(key);
        return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    auto number_of = [](const nlohmann::json& object, const char* key) {
        auto it = object.find(key);
        return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : uint64_t{0};
    };
    StatusView status;
    status.version = text_of(doc, "version");
    status.config_file = text_of(doc, "config_file");
    status.generation = number_of(doc, "config_generation");
    status.reloads = number_of(doc, "reloads");
    status.failed_reloads = number_of(doc, "failed_reloads");
    status.uptime_ms = number_of(doc, "uptime_ms");
    status.pid = number_of(doc, "pid");
    status.session = text_of(doc, "session");
    status.problems_logged = number_of(doc, "problems_logged");
    for (const auto& r : doc["routes"]) {
        if (!r.is_object()) continue;
        RouteView route;
        route.name = text_of(r, "name");
        route.listen = text_of(r, "listen");
        route.upstream = text_of(r, "upstream");
        route.state = text_of(r, "state");
        route.down_reason = text_of(r, "down_reason");
        route.unreached_reason = text_of(r, "unreached_reason");
        route.down_for_ms = number_of(r, "down_for_ms");
        route.held = number_of(r, "held");
        auto retiring = r.find("retiring");
        route.retiring = retiring != r.end() && retiring->is_boolean() && retiring->get<bool>();
        status.routes.push_back(std::move(route));
    }
    if (auto it = doc.find("recent_problems"); it != doc.end() && it->is_array()) {
        for (const auto& line : *it) {
            if (line.is_string()) status.recent_problems.push_back(line.get<std::string>());
        }
    }
    return status;
}

std::string metrics_text(const StatusView& whole) {
    StatusView status = whole;
    status.routes = series_routes(whole);
    Metrics m;
    m.family("loopgate_build_info", "gauge", "The running loopgate's version.");
    m.sample("loopgate_build_info", "version=\"" + label(status.version) + "\"", uint64_t{1});
    m.family("loopgate_config_generation", "gauge", "Config generation: 1 at start, one more per applied reload.");
    m.sample("loopgate_config_generation", "", status.generation);
    m.family("loopgate_reloads_total", "counter", "Config reloads applied.");
    m.sample("loopgate_reloads_total", "", status.reloads);
    m.family("loopgate_reload_failures_total", "counter", "Config reloads refused (the previous config kept running).");
    m.sample("loopgate_reload_failures_total", "", status.failed_reloads);
    m.family("loopgate_network_changes_total", "counter", "Network changes acted on (after debouncing).");
    m.sample("loopgate_network_changes_total", "", status.network_changes);

    auto per_route = [&](const char* name, const char* type, const char* help, auto value) {
        m.family(name, type, help);
        for (const auto& r : status.routes) m.sample(name, "route=\"" + label(r.name) + "\"", value(r));
    };
    per_route("loopgate_sessions_active", "gauge", "App connections open now, in any phase.",
              [](const RouteView& r) { return uint64_t{r.sessions.size()}; });
    per_route("loopgate_sessions_total", "counter", "App connections accepted.",
              [](const RouteView& r) { return r.stats.sessions_accepted; });
    per_route("loopgate_upgrades_refused_total", "counter", "App connections answered with an HTTP error.",
              [](const RouteView& r) { return r.stats.upgrades_refused; });
    per_route("loopgate_refused_other_user_total", "counter",
              "TCP app connections closed at accept: their socket belongs to another local user.",
              [](const RouteView& r) { return r.stats.refused_other_user; });
    per_route("loopgate_refused_owner_unknown_total", "counter",
              "TCP app connections closed at accept: the owner of their socket could not be told.",
              [](const RouteView& r) { return r.stats.refused_owner_unknown; });
    per_route("loopgate_http_requests_total", "counter", "Plain HTTP requests forwarded (a browser UI's; not upgrades).",
              [](const RouteView& r) { return r.stats.http_requests; });
    per_route("loopgate_http_upstream_reused_total", "counter",
              "Forwarded HTTP requests sent over an idle upstream connection instead of a new one.",
              [](const RouteView& r) { return r.stats.http_upstream_reused; });
    per_route("loopgate_held_connections", "gauge", "Apps waiting for the upstream to come back.",
              [](const RouteView& r) { return r.held; });
    per_route("loopgate_upstream_up", "gauge",
              "1 when the route's upstream is reachable or not known to be down; 0 when down, or never up and its dials failed.",
              [](const RouteView& r) { return uint64_t{r.state == "down" || !r.unreached_reason.empty() ? 0u : 1u}; });
    per_route("loopgate_tls_sessions_cached", "gauge",
              "TLS sessions held for resuming the next upstream dials (each TLS 1.3 ticket serves one dial).",
              [](const RouteView& r) { return r.tls_sessions_cached; });
    per_route("loopgate_upstream_dials_total", "counter", "Upstream dials started for app connections.",
              [](const RouteView& r) { return r.stats.upstream_dials; });
    per_route("loopgate_local_exhaustion_total", "counter",
              "App connections refused because loopgate ran out of descriptors or memory.",
              [](const RouteView& r) { return r.stats.local_exhaustion; });

    m.family("loopgate_upstream_dial_failures_total", "counter", "Upstream dials that failed, by the step that failed.");
    for (const auto& r : status.routes) {
        for (size_t i = 0; i < 5; ++i) {
            m.sample("loopgate_upstream_dial_failures_total",
                     "route=\"" + label(r.name) + "\",reason=\"" + kFailureReasons[i] + "\"", r.stats.dial_failures[i]);
        }
    }
    m.family("loopgate_bytes_total", "counter", "Bytes relayed after the 101, by the side they came from.");
    for (const auto& r : status.routes) {
        std::string route = "route=\"" + label(r.name) + "\"";
        m.sample("loopgate_bytes_total", route + ",from=\"app\"", live_bytes(r, true));
        m.sample("loopgate_bytes_total", route + ",from=\"upstream\"", live_bytes(r, false));
    }
    m.family("loopgate_tls_handshakes_total", "counter", "Upstream TLS handshakes, by whether they resumed a session.");
    for (const auto& r : status.routes) {
        std::string route = "route=\"" + label(r.name) + "\"";
        m.sample("loopgate_tls_handshakes_total", route + ",resumed=\"false\"", r.stats.tls_handshakes_full);
        m.sample("loopgate_tls_handshakes_total", route + ",resumed=\"true\"", r.stats.tls_handshakes_resumed);
    }
    m.family("loopgate_upstream_dial_seconds", "histogram",
             "Time from the start of a dial to a connected (and TLS-verified) upstream.");
    for (const auto& r : status.routes) {
        std::string route = "route=\"" + label(r.name) + "\"";
        const DialHistogram& h = r.stats.dial_seconds;
        for (size_t i = 0; i < DialHistogram::kBuckets; ++i) {
            m.sample("loopgate_upstream_dial_seconds_bucket",
                     route + ",le=\"" + number(DialHistogram::kBoundsSeconds[i]) + "\"", h.at_most[i]);
        }
        m.sample("loopgate_upstream_dial_seconds_bucket", route + ",le=\"+Inf\"", h.count);
        m.sample("loopgate_upstream_dial_seconds_sum", route, number(h.sum_seconds));
        m.sample("loopgate_upstream_dial_seconds_count", route, h.count);
    }
    return m.take();
}

namespace {

// For the text views, which a person reads in a terminal: control and
// non-ASCII bytes (a C1 CSI among them) as \xHH, quotes as they are. The
// sources escape what peers sent; this is the terminal's own guard.
std::string terminal_safe(const std::string& text) { return http::escaped_value(text, text.size(), ""); }

}  // namespace

std::string readiness_text(const StatusView& status, bool& ready) {
    ready = true;
    std::string text;
    for (const auto& r : status.routes) {
        if (r.retiring) continue;
        bool down = r.state == "down";
        bool unreached = !down && !r.unreached_reason.empty();
        ready = ready && !down && !unreached;
        text += r.name + " " + r.state;
        if (down) text += ": " + terminal_safe(r.down_reason);
        if (unreached) text += ": never up: " + terminal_safe(r.unreached_reason);
        text += "\n";
    }
    return text;
}

std::string status_text(const StatusView& status, bool& ready) {
    std::string out = "loopgate " + status.version + ", up " + std::to_string(status.uptime_ms / 1000) + " s\n";
    out += "config " + status.config_file + " (generation " + std::to_string(status.generation) + ", " +
           std::to_string(status.reloads) + " reloads, " + std::to_string(status.failed_reloads) + " failed)\n";
    if (!status.last_network_change.empty()) {
        out += "last network change " + std::to_string(status.last_network_change_age_ms / 1000) + " s ago: " +
               status.last_network_change + "\n";
    }
    readiness_text(status, ready);
    for (const auto& r : status.routes) {
        out += "\nroute " + r.name + (r.retiring ? " (removed, draining)" : "") + ": " + r.listen + " -> " + r.upstream + "\n";
        out += "  upstream " + r.state;
        if (r.state == "down") out += " for " + std::to_string(r.down_for_ms / 1000) + " s: " + terminal_safe(r.down_reason);
        else if (!r.unreached_reason.empty()) {
            out += ": never up since start, last dial: " + terminal_safe(r.unreached_reason);
        }
        out += "\n  sessions " + std::to_string(r.sessions.size()) + " open, " + std::to_string(r.stats.sessions_accepted) +
               " accepted, " + std::to_string(r.stats.upgrades_refused) + " refused; " + std::to_string(r.held) + " held\n";
        if (r.stats.refused_other_user + r.stats.refused_owner_unknown != 0) {
            out += "  closed at accept " + std::to_string(r.stats.refused_other_user) + " from other users, " +
                   std::to_string(r.stats.refused_owner_unknown) + " whose owner was unknown\n";
        }
        out += "  tls handshakes " + std::to_string(r.stats.tls_handshakes_full) + " full, " +
               std::to_string(r.stats.tls_handshakes_resumed) + " resumed, " +
               std::to_string(r.tls_sessions_cached) + " sessions cached\n";
        for (const auto& s : r.sessions) {
            out += "    " + s.app + " " + s.phase + " " + std::to_string(s.age_ms / 1000) + " s " + terminal_safe(s.path) + " -> " +
                   s.upstream + " (" + std::to_string(s.bytes_from_app) + " B in, " +
                   std::to_string(s.bytes_from_upstream) + " B out)\n";
        }
    }
    return out;
}

}  // namespace loopgate
