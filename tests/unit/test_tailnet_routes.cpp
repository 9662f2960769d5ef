// The IPv6 trap on the Tailscale interface: both systems' routing tables as
// text, which interfaces are Tailscale's, and doctor's verdict.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <string_view>
#include <vector>

#include "doctor_checks.hpp"
#include "tailnet_routes.hpp"
#include "text.hpp"

namespace loopgate::test {
namespace {

using doctor::Severity;

// A Linux machine on a tailnet using an exit node: Tailscale's table 52 holds
// the tailnet /48 and a default route on tailscale0; the main table its own
// default via eth0 and an unreachable default on lo; the local table the
// machine's own tailnet address (a /128 on tailscale0).
constexpr const char* kProcIpv6Route =
    "fd7a115ca1e000000000000000000000 30 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "00000000 00000001 00000000 00000001 tailscale0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "00000000 00000002 00000000 00000001 tailscale0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 "
    "00000400 00000001 00000000 00000003     eth0\n"
    "00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "ffffffff 00000001 00000000 00200200       lo\n"
    "fd7a115ca1e000000000000000a1b2c3 80 00000000000000000000000000000000 00 00000000000000000000000000000000 "
    "00000000 00000002 00000000 80200001 tailscale0\n"
    "not a route line\n";

// `netstat -rn -f inet6` on a Mac: the system's own utun0..2 carry default
// routes (iCloud Private Relay and friends do this on every Mac); Tailscale is utun4.
constexpr const char* kNetstat =
    "Routing tables\n"
    "\n"
    "Internet6:\n"
    "Destination                             Gateway                                 Flags               Netif Expire\n"
    "default                                 fe80::%utun0                            UGcIg               utun0\n"
    "default                                 fe80::%utun1                            UGcIg               utun1\n"
    "default                                 fe80::%utun4                            UGcIg               utun4\n"
    "::1                                     ::1                                     UHL                   lo0\n"
    "fd7a:115c:a1e0::/48                     fe80::%utun4                            Uc                  utun4\n"
    "fd7a:115c:a1e0::a1b2:c3d4               link#22                                 UHL                   lo0\n"
    "fe80::%lo0/64                           fe80::1%lo0                             UcI                   lo0\n"
    "ff00::/8                                ::1                                     UmCI                  lo0\n";

InterfaceAddress v4(const char* name, const char* text) {
    InterfaceAddress a{name, false, {}};
    inet_pton(AF_INET, text, a.bytes.data());
    return a;
}

InterfaceAddress v6(const char* name, const char* text) {
    InterfaceAddress a{name, true, {}};
    inet_pton(AF_INET6, text, a.bytes.data());
    return a;
}

std::vector<std::string> texts(const std::vector<Ipv6Route>& routes) {
    std::vector<std::string> out;
    for (const auto& r : routes) out.push_back(route_text(r));
    return out;
}

TEST_CASE("/proc/net/ipv6_route: every well-formed line, prefix lengths in hex") {
    auto routes = parse_proc_ipv6_route(kProcIpv6Route);
    CHECK(texts(routes) == std::vector<std::string>{"fd7a:115c:a1e0::/48 via tailscale0", "::/0 via tailscale0",
                                                    "::/0 via eth0", "::/0 via lo",
                                                    "fd7a:115c:a1e0::a1:b2c3/128 via tailscale0"});
}

TEST_CASE("netstat -rn -f inet6: default is ::/0, scopes dropped, headers skipped") {
    auto routes = parse_netstat_inet6(kNetstat);
    CHECK(texts(routes) == std::vector<std::string>{
                               "::/0 via utun0", "::/0 via utun1", "::/0 via utun4", "::1/128 via lo0",
                               "fd7a:115c:a1e0::/48 via utun4", "fd7a:115c:a1e0::a1b2:c3d4/128 via lo0",
                               "fe80::/64 via lo0", "ff00::/8 via lo0"});
}

TEST_CASE("Tailscale's interfaces: tailscale*, a tailnet IPv6 address, or a tunnel with a 100.64/10 address") {
    auto found = tailscale_interfaces({v4("eth0", "192.168.1.5"), v4("tailscale0", "100.101.102.103"),
                                       v4("utun4", "100.70.1.2"), v6("utun3", "fd7a:115c:a1e0::1"),
                                       v4("utun0", "10.0.0.1"), v4("en0", "100.64.0.9"),  // an ISP's CGNAT, not a tunnel
                                       v6("utun1", "fe80::1")});
    CHECK(found == std::set<std::string>{"tailscale0", "utun3", "utun4"});
}

TEST_CASE("the trap is a default IPv6 route through Tailscale, not the system's own utun defaults") {
    auto mac = tailnet_ipv6_routes(parse_netstat_inet6(kNetstat), {"utun4"});
    CHECK(texts(mac.defaults) == std::vector<std::string>{"::/0 via utun4"});
    CHECK(texts(mac.tailnet) == std::vector<std::string>{"fd7a:115c:a1e0::/48 via utun4"});
    auto f = doctor::check_ipv6_routes(mac, "");
    CHECK(f.severity == Severity::warn);
    CHECK(f.summary == "the default IPv6 route goes through Tailscale: ::/0 via utun4");

    auto linux = tailnet_ipv6_routes(parse_proc_ipv6_route(kProcIpv6Route), {"tailscale0"});
    CHECK(texts(linux.defaults) == std::vector<std::string>{"::/0 via tailscale0"});
    CHECK(texts(linux.tailnet) == std::vector<std::string>{"fd7a:115c:a1e0::/48 via tailscale0"});  // not the /128
}

TEST_CASE("the tailnet's own IPv6 range alone is no trap, and an unreadable table is said, not judged") {
    auto routes = parse_proc_ipv6_route(kProcIpv6Route);
    routes.erase(routes.begin() + 1);  // no default route through tailscale0: no exit node
    auto plain = tailnet_ipv6_routes(routes, {"tailscale0"});
    CHECK(plain.defaults.empty());
    auto f = doctor::check_ipv6_routes(plain, "");
    CHECK(f.severity == Severity::ok);
    CHECK(f.summary.find("fd7a:115c:a1e0::/48 via tailscale0") != std::string::npos);
    CHECK(doctor::check_ipv6_routes({}, "").summary == "no IPv6 route through Tailscale");
    auto unread = doctor::check_ipv6_routes({}, "cannot read /proc/net/ipv6_route: Permission denied");
    CHECK(unread.severity == Severity::ok);
    CHECK(unread.summary == "IPv6 routes not checked: cannot read /proc/net/ipv6_route: Permission denied");
}

}  // namespace
}  // namespace loopgate::test

TEST_CASE("take_line: each line without its newline, a last line without one, no line past the end") {
    std::string_view rest = "one\n\nthree\nfour";
    std::vector<std::string_view> lines;
    while (!rest.empty()) lines.push_back(loopgate::config::take_line(rest));
    CHECK(lines == std::vector<std::string_view>{"one", "", "three", "four"});
    rest = "only\n";
    CHECK(loopgate::config::take_line(rest) == "only");
    CHECK(rest.empty());
}
