// Rules for the top-level network and log objects, and the one table of log
// level names (log_level_name, also what proxy/log.cpp prints).
#include <iterator>
#include <string_view>

#include "rules.hpp"
#include "text.hpp"

namespace loopgate::config {
namespace {

constexpr std::string_view kNetworkKeys[] = {"debounce_ms", "wake_check_interval_ms", "watch"};
constexpr UintRule<Network> kNetworkRules[] = {
    {"debounce_ms", &Network::debounce_ms, 0, 60000},
    {"wake_check_interval_ms", &Network::wake_check_interval_ms, 100, 600000, /*zero_means_off=*/true},
};

constexpr std::string_view kLogKeys[] = {"level"};
// Indexed by LogLevel: how log.level spells each level, and how log lines do.
constexpr std::string_view kLogLevelNames[] = {"debug", "info", "warn", "error"};
static_assert(static_cast<size_t>(LogLevel::debug) == 0 && static_cast<size_t>(LogLevel::error) == 3);

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
    for (size_t i = 0; i < std::size(kLogLevelNames); ++i) {
        if (level->get<std::string>() == kLogLevelNames[i]) return static_cast<LogLevel>(i);
    }
    v.error("log.level", "must be one of " + join(kLogLevelNames));
    return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
    auto index = static_cast<size_t>(level);
    return index < std::size(kLogLevelNames) ? kLogLevelNames[index] : "info";
}

}  // namespace loopgate::config
