#include "setup_options.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>

#include "exit_status.hpp"
#include "tls_pins.hpp"
#include "trust_store.hpp"

namespace loopgate {
namespace {

SetupRefusal usage(std::string message) { return SetupRefusal{kExitUsage, std::move(message)}; }

bool is_wss(std::string_view url) {
    size_t end = url.find("://");
    if (end != 3) return false;
    for (size_t i = 0; i < 3; ++i) {
        if ((url[i] | 0x20) != "wss"[i]) return false;
    }
    return true;
}

}  // namespace

std::optional<SetupRefusal> check_command_line(const SetupOptions& options) {
    if (!is_wss(options.url)) return usage("setup takes a wss:// URL, not " + options.url);
    if (options.pin) {
        config::Pin parsed;
        if (auto why = config::parse_pin(*options.pin, parsed)) {
            std::string text = "--pin " + *options.pin + ": " + *why;
            if (why->find(config::kPinForms) == std::string::npos) text += "; " + std::string(config::kPinForms);
            return usage(text);
        }
    }
    if (options.ca_file) {
        if (auto why = ca_file_problem(*options.ca_file)) return usage("--ca-file " + *options.ca_file + ": " + *why);
    }
    return std::nullopt;
}

std::string route_clashes(const config::Config& config, const std::string& name, uint16_t port) {
    std::string why;
    for (size_t i = 0; i < config.routes.size(); ++i) {
        const config::Route& route = config.routes[i];
        bool same_name = route.name == name;
        bool same_port = !route.listen.is_unix() && port != 0 && route.listen.port == port;
        if (!same_name && !same_port) continue;
        why += (why.empty() ? "" : "; ") + std::string("routes[") + std::to_string(i) + "] \"" + route.name + "\"" +
               (same_name ? " has the name " + name : " listens on " + route.listen.text());
    }
    return why;
}

std::optional<SetupRefusal> check_requested_port(uint16_t port, const config::Config* existing,
                                                 const PortBindCheck& bind_error) {
    const std::string option = "--port " + std::to_string(port);
    if (existing) {
        const auto& admin = existing->admin_listen;
        if (admin && !admin->is_unix() && admin->port == port) {
            return SetupRefusal{kExitFailure, "refused: " + option + " is the admin endpoint's port (admin.listen " +
                                                  admin->text() + "); pick another"};
        }
        for (const config::Route& route : existing->routes) {
            if (!route.listen.is_unix() && route.listen.port == port) return std::nullopt;
        }
    }
    int err = bind_error(port);
    if (err == 0) return std::nullopt;
    std::string why = err == EADDRINUSE ? " is in use on 127.0.0.1 (`lsof -iTCP:" + std::to_string(port) +
                                              " -sTCP:LISTEN` shows which process holds it)"
                                        : " cannot be listened on at 127.0.0.1: " + std::string(std::strerror(err));
    return SetupRefusal{kExitUnavailable, option + why + "; pick another --port, or leave it out to let setup choose"};
}

}  // namespace loopgate
