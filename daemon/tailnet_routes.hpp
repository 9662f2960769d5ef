// The IPv6 trap on the Tailscale interface (docs/doctor.md): a gateway's
// name resolves to an IPv4 address in 100.64.0.0/10 and an IPv6 one in
// fd7a:115c:a1e0::/48, and a default IPv6 route (::/0) through Tailscale's
// interface that drops traffic makes every app that tries IPv6 first wait
// out a timeout. loopgate dials IPv4 only; `loopgate doctor` says whether the
// apps around it are exposed. Reading the table is per system
// (routing_table.hpp); parsing it and judging it are here, pure, so both
// systems' formats are unit-tested on Linux.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace loopgate {

struct Ipv6Route {
    std::array<uint8_t, 16> destination{};
    unsigned prefix_len = 0;
    std::string interface;
};

// Linux: the text of /proc/net/ipv6_route (every table, one route per line:
// destination, prefix length, source, source prefix, next hop, metric,
// refcount, use, flags, device). Lines that do not parse are skipped.
std::vector<Ipv6Route> parse_proc_ipv6_route(std::string_view text);

// macOS: the output of `netstat -rn -f inet6` (Destination, Gateway, Flags,
// Netif, Expire). "default" is ::/0; a scope ("fe80::%utun0/64") is dropped.
std::vector<Ipv6Route> parse_netstat_inet6(std::string_view text);

struct InterfaceAddress {
    std::string interface;
    bool ipv6 = false;
    std::array<uint8_t, 16> bytes{};  // IPv4 in the first 4
};

// The interfaces that are Tailscale's: named tailscale* (Linux's default
// tailscale0), carrying an address in fd7a:115c:a1e0::/48, or a utun/tun
// interface carrying one in 100.64.0.0/10 (macOS names it utunN).
std::set<std::string> tailscale_interfaces(const std::vector<InterfaceAddress>& addresses);

struct TailnetRoutes {
    std::vector<Ipv6Route> defaults;  // ::/0 through a Tailscale interface: the trap
    std::vector<Ipv6Route> tailnet;   // routes into fd7a:115c:a1e0::/48 (Tailscale's own IPv6 range)
};
TailnetRoutes tailnet_ipv6_routes(const std::vector<Ipv6Route>& routes, const std::set<std::string>& tailscale);

// "::/0 via utun4", "fd7a:115c:a1e0::/48 via tailscale0"
std::string route_text(const Ipv6Route& route);

}  // namespace loopgate
