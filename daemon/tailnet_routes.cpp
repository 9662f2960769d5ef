#include "tailnet_routes.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <sstream>

#include "text.hpp"

namespace loopgate {
namespace {

constexpr std::array<uint8_t, 6> kTailnetPrefix = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};  // fd7a:115c:a1e0::/48

std::vector<std::string_view> fields(std::string_view line) {
    std::vector<std::string_view> out;
    size_t at = 0;
    while (at < line.size()) {
        while (at < line.size() && std::isspace(static_cast<unsigned char>(line[at]))) ++at;
        size_t end = at;
        while (end < line.size() && !std::isspace(static_cast<unsigned char>(line[end]))) ++end;
        if (end > at) out.push_back(line.substr(at, end - at));
        at = end;
    }
    return out;
}

template <typename Each>
void each_line(std::string_view text, Each each) {
    while (!text.empty()) each(config::take_line(text));
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool hex_bytes(std::string_view text, uint8_t* out, size_t n) {
    if (text.size() != n * 2) return false;
    for (size_t i = 0; i < n; ++i) {
        int hi = hex_digit(text[2 * i]);
        int lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return true;
}

bool in_tailnet_range(const std::array<uint8_t, 16>& address) {
    for (size_t i = 0; i < kTailnetPrefix.size(); ++i) {
        if (address[i] != kTailnetPrefix[i]) return false;
    }
    return true;
}

}  // namespace

std::vector<Ipv6Route> parse_proc_ipv6_route(std::string_view text) {
    std::vector<Ipv6Route> routes;
    each_line(text, [&](std::string_view line) {
        auto f = fields(line);
        if (f.size() < 10) return;
        Ipv6Route route;
        uint8_t prefix = 0;
        if (!hex_bytes(f[0], route.destination.data(), 16) || !hex_bytes(f[1], &prefix, 1) || prefix > 128) return;
        route.prefix_len = prefix;
        route.interface = std::string(f[9]);
        routes.push_back(std::move(route));
    });
    return routes;
}

std::vector<Ipv6Route> parse_netstat_inet6(std::string_view text) {
    std::vector<Ipv6Route> routes;
    each_line(text, [&](std::string_view line) {
        auto f = fields(line);
        if (f.size() < 4) return;
        std::string_view destination = f[0];
        Ipv6Route route;
        route.interface = std::string(f[3]);
        if (destination == "default") {
            routes.push_back(std::move(route));  // ::/0
            return;
        }
        route.prefix_len = 128;
        size_t slash = destination.find('/');
        std::string_view address = destination.substr(0, slash);
        if (slash != std::string_view::npos) {
            std::string_view length = destination.substr(slash + 1);
            unsigned value = 0;
            if (length.empty() || length.size() > 3) return;
            for (char c : length) {
                if (!std::isdigit(static_cast<unsigned char>(c))) return;
                value = value * 10 + static_cast<unsigned>(c - '0');
            }
            if (value > 128) return;
            route.prefix_len = value;
        }
        address = address.substr(0, address.find('%'));  // the scope of a link-local address
        std::string copy(address);
        if (inet_pton(AF_INET6, copy.c_str(), route.destination.data()) != 1) return;  // headers, IPv4 lines
        routes.push_back(std::move(route));
    });
    return routes;
}

std::set<std::string> tailscale_interfaces(const std::vector<InterfaceAddress>& addresses) {
    std::set<std::string> out;
    for (const auto& a : addresses) {
        bool named = a.interface.starts_with("tailscale");
        bool tailnet_v6 = a.ipv6 && in_tailnet_range(a.bytes);
        bool cgnat_v4 = !a.ipv6 && a.bytes[0] == 100 && (a.bytes[1] & 0xc0) == 64;  // 100.64.0.0/10
        bool tunnel = a.interface.starts_with("utun") || a.interface.starts_with("tun");
        if (named || tailnet_v6 || (cgnat_v4 && tunnel)) out.insert(a.interface);
    }
    return out;
}

TailnetRoutes tailnet_ipv6_routes(const std::vector<Ipv6Route>& routes, const std::set<std::string>& tailscale) {
    TailnetRoutes out;
    for (const auto& route : routes) {
        if (route.prefix_len == 0 && tailscale.count(route.interface) != 0) {
            out.defaults.push_back(route);
        } else if (route.prefix_len >= 48 && route.prefix_len < 128 && in_tailnet_range(route.destination)) {
            out.tailnet.push_back(route);  // a /128 is the machine's own address (the local table), not a path
        }
    }
    return out;
}

std::string route_text(const Ipv6Route& route) {
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(AF_INET6, route.destination.data(), text, sizeof text);
    return std::string(text) + "/" + std::to_string(route.prefix_len) + " via " + route.interface;
}

}  // namespace loopgate
