// What `loopgate setup` checks of its command line before it dials (and, for
// the URL, --pin and --ca-file, before it reads the config), each refusal
// naming the option as it was typed: the URL is wss://, --pin is a pin,
// --ca-file holds a certificate, --name and --port clash with no route of the
// config (unless --force), and --port is not the admin endpoint's and can be
// listened on now.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "config.hpp"
#include "config_edit.hpp"
#include "setup.hpp"

namespace loopgate {

struct SetupRefusal {
    int status = 0;       // an ExitStatus
    std::string message;  // for "loopgate setup: MESSAGE"
};

// The URL's scheme, --pin and --ca-file: a refusal with exit 64, or nothing.
std::optional<SetupRefusal> check_command_line(const SetupOptions& options);

// The routes of `config` the new one clashes with (the same name, or the
// same listen port when `port` is not 0), as a sentence ("routes[0] \"old\"
// listens on 127.0.0.1:18789"); empty when none does.
std::string route_clashes(const config::Config& config, const std::string& name, uint16_t port);

// --port against the existing config (when there is one) and 127.0.0.1 now:
// the admin endpoint's port is refused (exit 1, as a clash with a route is);
// a port that cannot be bound is refused with exit 69 (as `run` would exit).
// A port a route of the config listens on is left to setup's clash check (with
// --force that route goes, and the loopgate running it may hold the port).
std::optional<SetupRefusal> check_requested_port(uint16_t port, const config::Config* existing,
                                                 const PortBindCheck& bind_error = port_bind_error);

}  // namespace loopgate
