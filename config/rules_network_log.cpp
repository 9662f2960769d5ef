// Rules for the top-level network and log objects, and the one table of log
// level names (log_level_name, also what proxy/log.cpp prints).
#include <array>
#include <string_view>

#include "rules.hpp"

namespace loopgate::config {
namespace {

constexpr std::string_view kNetworkKeys[] = {"debounce_ms", "wake_check_interval_ms", "watch"};
constexpr UintRule<Network> kNetworkRules[] = {
    {"debounce_ms", &Network::debounce_ms, 0, 60000},
    {"wake_check_interval_ms", &Network::wake_check_interval_ms, 100, 600000, /*zero_means_off=*/true},
};

constexpr std::string_view kLogKeys[] = {"level"};
constexpr std::array kLogLevels = {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error};

}  // namespace

Network read_network(Validator& v, const json& root) {
    Network n;
    const json* object = v.read_object(root, "", "network", kNetworkKeys);
    if (!object) return n;
    if (Validator::find(*object, "watch")) n.watch = v.read_bool(*object, "network", "watch").value_or(true);
    v.read_uints<Network>(*object, "network", kNetworkRules, n);
    return n;
}

std::optional<LogLevel> read_log(Validator& v, const json& root) {
    const json* log = v.read_object(root, "", "log", kLogKeys);
    const json* level = log ? Validator::find(*log, "level") : nullptr;
    if (!level || !v.expect(*level, Kind::string, "log.level")) return std::nullopt;
    for (LogLevel candidate : kLogLevels) {
        if (level->get<std::string>() == log_level_name(candidate)) return candidate;
    }
    v.error("log.level", "must be one of debug, info, warn, error");
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "info";
}

}  // namespace loopgate::config
