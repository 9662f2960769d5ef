// Rules for a route's timing and sizes: timeouts, limits, liveness and
// reconnect. Each is a table of integer settings with their ranges, read in
// the table's order (which is the order errors are reported in).
#include <string_view>

#include "rules.hpp"

namespace loopgate::config {
namespace {

constexpr uint64_t k1TiB = uint64_t{1} << 40;

constexpr std::string_view kTimeoutKeys[] = {"close_ms", "connect_ms", "handshake_ms", "idle_ms", "request_ms",
                                             "response_ms"};
constexpr UintRule<Timeouts> kTimeoutRules[] = {
    {"request_ms", &Timeouts::request_ms, 100, 3600000},
    {"connect_ms", &Timeouts::connect_ms, 100, 600000},
    {"handshake_ms", &Timeouts::handshake_ms, 100, 600000},
    {"close_ms", &Timeouts::close_ms, 0, 600000},
    {"idle_ms", &Timeouts::idle_ms, 100, 86400000, /*zero_means_off=*/true},
    {"response_ms", &Timeouts::response_ms, 100, 3600000},
};

constexpr std::string_view kLimitKeys[] = {"max_body_bytes", "max_frame_bytes", "max_message_bytes",
                                           "max_request_header_bytes"};
constexpr UintRule<Limits> kLimitRules[] = {
    {"max_request_header_bytes", &Limits::max_request_header_bytes, 1024, 1048576},
    {"max_message_bytes", &Limits::max_message_bytes, 1, k1TiB},
    {"max_frame_bytes", &Limits::max_frame_bytes, 0, k1TiB},
    {"max_body_bytes", &Limits::max_body_bytes, 0, k1TiB},
};

constexpr std::string_view kLivenessKeys[] = {"ping_interval_ms", "ping_timeout_ms", "probe_timeout_ms"};
constexpr UintRule<Liveness> kLivenessRules[] = {
    {"ping_interval_ms", &Liveness::ping_interval_ms, 100, 3600000, /*zero_means_off=*/true},
    {"ping_timeout_ms", &Liveness::ping_timeout_ms, 100, 600000},
    {"probe_timeout_ms", &Liveness::probe_timeout_ms, 100, 600000},
};

constexpr std::string_view kReconnectKeys[] = {"backoff_initial_ms", "backoff_max_ms", "hold_ms", "max_held"};
constexpr UintRule<Reconnect> kReconnectRules[] = {
    {"hold_ms", &Reconnect::hold_ms, 0, 600000},
    {"max_held", &Reconnect::max_held, 0, 100000},
    {"backoff_initial_ms", &Reconnect::backoff_initial_ms, 10, 600000},
    {"backoff_max_ms", &Reconnect::backoff_max_ms, 10, 3600000},
};

// The defaults, overridden by what the route's `key` object gives.
template <typename Settings>
Settings read_settings(Validator& v, const json& route, const std::string& path, const std::string& key,
                       KeyList allowed, std::span<const UintRule<Settings>> rules) {
    Settings settings;
    if (const json* object = v.read_object(route, path, key, allowed)) {
        v.read_uints(*object, member_path(path, key), rules, settings);
    }
    return settings;
}

}  // namespace

Timeouts read_timeouts(Validator& v, const json& route, const std::string& path) {
    return read_settings<Timeouts>(v, route, path, "timeouts", kTimeoutKeys, kTimeoutRules);
}

Limits read_limits(Validator& v, const json& route, const std::string& path) {
    return read_settings<Limits>(v, route, path, "limits", kLimitKeys, kLimitRules);
}

Liveness read_liveness(Validator& v, const json& route, const std::string& path) {
    return read_settings<Liveness>(v, route, path, "liveness", kLivenessKeys, kLivenessRules);
}

Reconnect read_reconnect(Validator& v, const json& route, const std::string& path) {
    Reconnect r = read_settings<Reconnect>(v, route, path, "reconnect", kReconnectKeys, kReconnectRules);
    if (r.backoff_max_ms < r.backoff_initial_ms) {
        v.error(member_path(member_path(path, "reconnect"), "backoff_max_ms"),
                "must not be smaller than backoff_initial_ms");
    }
    return r;
}

}  // namespace loopgate::config
