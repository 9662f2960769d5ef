// Rules for a route's listener and who may use it: name, listen address,
// allow_non_loopback, allow_other_users, allowed_hosts, allowed_origins,
// max_connections, upstream_headers; and the checks across routes (unique names and addresses).
#include <algorithm>
#include <utility>

#include "addresses.hpp"
#include "rules.hpp"
#include "text.hpp"

namespace loopgate::config {
namespace {

template <typename Rule, typename Parser>
std::vector<Rule> read_rule_list(Validator& v, const json& object, const std::string& path, const std::string& key,
                                 Parser parse) {
    std::vector<Rule> rules;
    const json* list = Validator::find(object, key);
    std::string where = member_path(path, key);
    if (!list || !v.expect(*list, Kind::array, where)) return rules;
    for (size_t i = 0; i < list->size(); ++i) {
        std::string item_path = element_path(where, i);
        if (!v.expect((*list)[i], Kind::string, item_path)) continue;
        Rule rule;
        if (auto problem = parse((*list)[i].template get<std::string>(), rule)) {
            v.error(item_path, *problem);
            continue;
        }
        rules.push_back(std::move(rule));
    }
    return rules;
}

// Header values are never quoted in errors: they are usually secrets.
std::vector<HeaderSetting> read_upstream_headers(Validator& v, const json& route, const std::string& path) {
    std::vector<HeaderSetting> headers;
    const json* object = Validator::find(route, "upstream_headers");
    std::string where = member_path(path, "upstream_headers");
    if (!object || !v.expect(*object, Kind::object, where)) return headers;
    for (const auto& item : object->items()) {
        std::string item_path = member_path(where, item.key());
        if (!v.expect(item.value(), Kind::string, item_path)) continue;
        const std::string& value = item.value().get_ref<const std::string&>();
        if (auto problem = check_upstream_header(item.key(), value)) {
            v.error(item_path, *problem);
            continue;
        }
        bool repeated = std::any_of(headers.begin(), headers.end(),
                                    [&](const HeaderSetting& h) { return lowered(h.name) == lowered(item.key()); });
        if (repeated) {
            v.error(item_path, "the same header is set twice (header names ignore case)");
            continue;
        }
        headers.push_back({item.key(), value});
        v.add_secret(item_path);
    }
    return headers;
}

}  // namespace

bool read_route_name(Validator& v, const json& route, const std::string& path, std::string& out) {
    const json* value = v.find_required(route, path, "name");
    std::string where = member_path(path, "name");
    if (!value || !v.expect(*value, Kind::string, where)) return false;
    out = value->get<std::string>();
    bool valid_chars =
        std::all_of(out.begin(), out.end(), [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
    if (!out.empty() && out.size() <= 64 && valid_chars) return true;
    v.error(where, "must be 1 to 64 characters of letters, digits, '_', '.' and '-'");
    return false;
}

// 0.0.0.0:P and 127.0.0.1:P cannot both be bound, so they clash too.
bool listen_clash(const ListenAddress& a, const ListenAddress& b) {
    if (a.is_unix() || b.is_unix()) return a.unix_path == b.unix_path;
    if (a.port == 0 || a.port != b.port) return false;
    return a.host == b.host || a.host == "0.0.0.0" || b.host == "0.0.0.0";
}

bool read_listen(Validator& v, const json& route, const std::string& path, ListenAddress& out) {
    const json* value = v.find_required(route, path, "listen");
    std::string where = member_path(path, "listen");
    if (!value || !v.expect(*value, Kind::string, where)) return false;
    const std::string& text = value->get<std::string>();
    auto problem = text.rfind("unix:", 0) == 0 ? parse_unix_listen(text, v.base_dir(), out) : parse_listen(text, out);
    if (problem) v.error(where, *problem);
    return !problem;
}

void check_loopback(Validator& v, const Route& route, const std::string& path) {
    if (route.listen.is_loopback || route.allow_non_loopback) return;
    v.error(member_path(path, "listen"), route.listen.host + " is not a loopback address; set " +
                                             member_path(path, "allow_non_loopback") + " to true to listen on it");
}

void read_access(Validator& v, const json& route, const std::string& path, Route& out) {
    out.allowed_hosts = read_rule_list<HostRule>(v, route, path, "allowed_hosts",
                                                 [](std::string_view text, HostRule& rule) {
                                                     return parse_host_rule(text, rule);
                                                 });
    out.allowed_origins = read_rule_list<OriginRule>(v, route, path, "allowed_origins",
                                                     [](std::string_view text, OriginRule& rule) {
                                                         return parse_origin(text, true, rule);
                                                     });
    out.max_connections = v.read_uint<uint32_t>(route, path, "max_connections", out.max_connections, 1, 100000);
    out.upstream_headers = read_upstream_headers(v, route, path);
    std::optional<bool> allow_other_users = v.read_bool(route, path, "allow_other_users");
    out.allow_other_users = allow_other_users.value_or(false);
    if (out.listen.is_unix() && out.allow_other_users) {
        v.error(member_path(path, "allow_other_users"),
                "has no effect on a unix socket listener (its file is mode 0600 in a directory only loopgate's user "
                "can enter: other users cannot connect to it at all)");
    }
    if (out.listen.is_unix() && !out.allowed_hosts.empty()) {
        v.error(member_path(path, "allowed_hosts"),
                "has no effect on a unix socket listener (the Host check guards TCP listeners against DNS "
                "rebinding; browsers cannot reach unix sockets)");
    }
}

void check_unique_names(Validator& v, const std::vector<RouteDraft>& drafts) {
    for (size_t i = 0; i < drafts.size(); ++i) {
        for (size_t j = 0; j < i && drafts[i].name_valid; ++j) {
            if (!drafts[j].name_valid || drafts[j].route.name != drafts[i].route.name) continue;
            v.error(member_path(drafts[i].path, "name"), "duplicate route name " + quoted(drafts[i].route.name) +
                                                             " (also " + member_path(drafts[j].path, "name") + ")");
            break;
        }
    }
}

void check_unique_listen(Validator& v, const std::vector<RouteDraft>& drafts) {
    for (size_t i = 0; i < drafts.size(); ++i) {
        for (size_t j = 0; j < i && drafts[i].listen_valid; ++j) {
            const ListenAddress& mine = drafts[i].route.listen;
            const ListenAddress& theirs = drafts[j].route.listen;
            if (!drafts[j].listen_valid || !listen_clash(mine, theirs)) continue;
            std::string message = mine.text() + " is already used by " + drafts[j].path;
            if (mine.host != theirs.host) message += " (" + theirs.text() + ")";
            v.error(member_path(drafts[i].path, "listen"), message);
            break;
        }
    }
}

}  // namespace loopgate::config
