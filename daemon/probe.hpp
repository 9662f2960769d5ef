// `loopgate probe`: dial a route's upstream exactly as a session would (A
// records only, each address in turn, TLS with the route's trust, pins and
// client certificate, a WebSocket upgrade with a fresh key, then close 1000)
// and print every step with its duration, so an admin can see what the
// upstream presents and why a connection fails.
#pragma once

#include <optional>
#include <string>

#include "config.hpp"

namespace loopgate {

struct ProbeOptions {
    std::optional<std::string> route;  // probe only this route; every route when unset
    bool print_pin = false;            // print the tls.pins lines for what was seen
};

// Prints to stdout. Returns the exit status: 0 when every probed route
// answered the upgrade, 1 when a step failed, 64 for an unknown route name.
int run_probe(const config::Config& config, const ProbeOptions& options);

}  // namespace loopgate
