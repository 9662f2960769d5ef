// Small pure helpers of `loopgate setup`: the route name a host suggests, the
// listen port to use, and adding one route object to the text of an existing
// JSONC config without disturbing the rest of it (comments included).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace loopgate {

// The host's first label (or the whole host when it is an IPv4 literal), with
// every character outside [A-Za-z0-9_.-] made '-', at most 64 characters;
// "gateway" when nothing is left.
std::string derive_route_name(std::string_view host, bool host_is_ipv4_literal);

// Whether 127.0.0.1:port can be bound right now (tested by binding it).
bool port_is_free(uint16_t port);
// A port the system picks as free on 127.0.0.1, 0 when none can be bound.
uint16_t any_free_port();
// --port when given; else the upstream's own port when free and not taken by
// another route in `taken`; else a free port. 0 when none can be found.
uint16_t choose_listen_port(std::optional<uint16_t> requested, uint16_t upstream_port,
                            const std::set<uint16_t>& taken);

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
