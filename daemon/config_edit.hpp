// Small pure helpers of `loopgate setup`: the route name a host suggests, the
// listen port to use, and adding one route object to the text of an existing
// JSONC config without disturbing the rest of it (comments included).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace loopgate {

// The host's first label (or the whole host when it is an IPv4 literal), with
// every character outside [A-Za-z0-9_.-] made '-', at most 64 characters;
// "gateway" when nothing is left.
std::string derive_route_name(std::string_view host, bool host_is_ipv4_literal);

// 0 when 127.0.0.1:port can be bound right now (tested by binding it, with
// SO_REUSEADDR as loopgate's listeners bind), else the errno (EADDRINUSE:
// something holds it).
int port_bind_error(uint16_t port);
using PortBindCheck = std::function<int(uint16_t)>;

// Where setup counts up from when the upstream's own port will not do (the
// OpenClaw gateway's default port), and the last port it tries.
inline constexpr uint16_t kFirstSetupPort = 18789;
inline constexpr uint16_t kLastSetupPort = 18889;

// --port when given; else the upstream's own port when it can be bound and is
// not in `taken` (the existing config's routes and admin endpoint); else the
// first such port of kFirstSetupPort..kLastSetupPort. The same answer every
// time while the ports stay as they are (a dry run shows the port the real run
// uses). 0 when none will do.
uint16_t choose_listen_port(std::optional<uint16_t> requested, uint16_t upstream_port,
                            const std::set<uint16_t>& taken, const PortBindCheck& bind_error = port_bind_error);

// The offset of the ']' that closes the top-level "routes" array of `text`
// (JSON with // and /* */ comments), and whether that array has no element.
struct RoutesArray {
    size_t close = 0;
    bool empty = true;
    size_t last_value_end = 0;  // just after the last element's last character (when not empty)
};
std::optional<RoutesArray> find_routes_array(std::string_view text);

// `text` with `route` (a JSON object, any indentation) added as the last
// element of its "routes" array; nothing when no such array is found.
std::optional<std::string> insert_route(std::string_view text, std::string_view route);

}  // namespace loopgate
