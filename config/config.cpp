// Parsing and strict validation of the config text: the document's top level
// and each route, read in order with the rules of rules.hpp. Pure: the files
// a config names are judged through FileChecks, never opened here.
#include "config.hpp"

#include <string_view>
#include <utility>

#include "file_paths.hpp"
#include "json_text.hpp"
#include "rules.hpp"
#include "validator.hpp"

namespace loopgate::config {
namespace {

// Alphabetical, because these lists are printed in "unknown key" errors.
constexpr std::string_view kTopLevelKeys[] = {"admin", "log", "max_connections", "network", "routes",
                                             "shutdown_timeout_ms"};
constexpr std::string_view kRouteKeys[] = {"allow_non_loopback", "allow_other_users", "allow_plaintext_upstream",
                                           "allowed_hosts", "allowed_origins", "connect_to", "forwarded_headers",
                                           "http", "limits", "listen", "liveness", "max_connections", "name",
                                           "reconnect", "timeouts", "tls", "upstream", "upstream_headers"};

RouteDraft read_route(Validator& v, const json& value, const std::string& path) {
    RouteDraft draft;
    draft.path = path;
    if (!v.expect(value, Kind::object, path)) return draft;
    v.reject_unknown_keys(value, path, kRouteKeys);
    Route& route = draft.route;
    draft.name_valid = read_route_name(v, value, path, route.name);
    draft.listen_valid = read_listen(v, value, path, route.listen);
    std::optional<bool> allow_non_loopback = v.read_bool(value, path, "allow_non_loopback");
    bool upstream_valid = read_upstream(v, value, path, route.upstream);
    std::optional<bool> allow_plaintext = v.read_bool(value, path, "allow_plaintext_upstream");
    route.connect_to = read_connect_to(v, value, path);
    TlsDraft tls = read_tls(v, value, path);
    route.tls = tls.settings;
    route.timeouts = read_timeouts(v, value, path);
    route.limits = read_limits(v, value, path);
    route.liveness = read_liveness(v, value, path);
    route.reconnect = read_reconnect(v, value, path);
    read_access(v, value, path, route);
    route.http = v.read_bool(value, path, "http", /*absent=*/true).value_or(true);
    route.forwarded_headers = v.read_bool(value, path, "forwarded_headers").value_or(false);
    route.allow_non_loopback = allow_non_loopback.value_or(false);
    route.allow_plaintext_upstream = allow_plaintext.value_or(false);
    if (draft.listen_valid && allow_non_loopback) check_loopback(v, route, path);
    if (upstream_valid && allow_plaintext) check_plaintext(v, route, path);
    if (upstream_valid && !route.upstream.tls && tls.any_given) {
        v.error(member_path(path, "tls"), "TLS settings have no effect on a ws:// upstream");
    }
    return draft;
}

std::vector<RouteDraft> read_routes(Validator& v, const json& root) {
    std::vector<RouteDraft> drafts;
    const json* routes = v.find_required(root, "", "routes");
    if (!routes || !v.expect(*routes, Kind::array, "routes")) return drafts;
    if (routes->empty()) v.error("routes", "at least one route is required");
    for (size_t i = 0; i < routes->size(); ++i) {
        drafts.push_back(read_route(v, (*routes)[i], element_path("routes", i)));
    }
    return drafts;
}

std::optional<Config> read_document(Validator& v, const json& root) {
    if (!v.expect(root, Kind::object, "")) return std::nullopt;
    v.reject_unknown_keys(root, "", kTopLevelKeys);
    Config config;
    std::vector<RouteDraft> drafts = read_routes(v, root);
    check_unique_names(v, drafts);
    check_unique_listen(v, drafts);
    config.log_level = read_log(v, root).value_or(LogLevel::info);
    config.shutdown_timeout_ms = v.read_uint<uint32_t>(root, "", "shutdown_timeout_ms", 5000, 0, 600000);
    config.network = read_network(v, root);
    config.max_connections = v.read_uint<uint32_t>(root, "", "max_connections", config.max_connections, 1, 100000);
    config.admin_listen = read_admin(v, root, drafts);
    if (!v.errors().empty()) return std::nullopt;
    for (RouteDraft& draft : drafts) config.routes.push_back(std::move(draft.route));
    return config;
}

}  // namespace

LoadResult parse_config(std::string_view text, const std::filesystem::path& base_dir, const FileChecks& files) {
    LoadResult result;
    std::optional<json> root = parse_json_text(text, result.errors);
    if (!root) return result;
    Validator validator(absolute_normal(base_dir), files);
    std::optional<Config> config = read_document(validator, *root);
    result.errors.insert(result.errors.end(), validator.errors().begin(), validator.errors().end());
    result.secret_keys = std::move(validator.secret_keys());
    if (result.errors.empty()) result.config = std::move(config);
    return result;
}

}  // namespace loopgate::config
