// Rules for the top-level admin object: where the admin endpoint listens.
// Only loopback or a unix socket: it tells anyone who can reach it what
// loopgate is connected to, and no option lets it out.
#include "json_text.hpp"
#include "rules.hpp"

namespace loopgate::config {
namespace {

constexpr std::string_view kAdminKeys[] = {"listen"};

}  // namespace

std::optional<ListenAddress> read_admin(Validator& v, const json& root, const std::vector<RouteDraft>& routes) {
    const json* object = v.read_object(root, "", "admin", kAdminKeys);
    if (!object) return std::nullopt;
    ListenAddress listen;
    if (!read_listen(v, *object, "admin", listen)) return std::nullopt;
    if (!listen.is_loopback) {
        v.error("admin.listen", listen.host + " is not a loopback address; the admin endpoint listens on loopback "
                                              "or a unix socket only");
        return std::nullopt;
    }
    for (const RouteDraft& route : routes) {
        if (!route.listen_valid || !listen_clash(listen, route.route.listen)) continue;
        v.error("admin.listen", listen.text() + " is already used by " + route.path);
        return std::nullopt;
    }
    return listen;
}

std::optional<ListenAddress> admin_listen_of(std::string_view text, const std::filesystem::path& base_dir) {
    std::vector<std::string> errors;
    auto root = parse_json_text(text, errors);
    if (!root || !root->is_object()) return std::nullopt;
    Validator v(base_dir, no_file_checks());
    auto listen = read_admin(v, *root, {});
    if (!v.errors().empty()) return std::nullopt;
    return listen;
}

}  // namespace loopgate::config
