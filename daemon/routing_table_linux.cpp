// Linux: /proc/net/ipv6_route lists the routes of every table (Tailscale
// puts its own in table 52), one per line.
#include <cstring>

#include "routing_table.hpp"
#include "system_files.hpp"

namespace loopgate {

std::vector<Ipv6Route> read_ipv6_routes(CommandRunner&, std::string& error) {
    std::string text;
    if (int err = config::read_file("/proc/net/ipv6_route", 4u << 20, text)) {
        error = std::string("cannot read /proc/net/ipv6_route: ") + std::strerror(err);
        return {};
    }
    return parse_proc_ipv6_route(text);
}

}  // namespace loopgate
