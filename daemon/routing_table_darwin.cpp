// macOS: the IPv6 routing table as `netstat -rn -f inet6` prints it (parsed
// by parse_netstat_inet6, which the unit tests check against sample output).
// netstat reads the same NET_RT_DUMP sysctl a routing-socket parser would,
// and its columns have been stable for decades.
//
// Built and run only on macOS, which this project's CI does not have:
// UNTESTED on a Mac (docs/doctor.md says so). CI compiles it against
// tests/darwin-shim (tools/check-darwin.sh).
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "routing_table.hpp"

namespace loopgate {

std::vector<Ipv6Route> read_ipv6_routes(std::string& error) {
    // A fixed command line, no shell expansion of anything of ours.
    FILE* pipe = ::popen("/usr/sbin/netstat -rn -f inet6 2>/dev/null", "r");
    if (pipe == nullptr) {
        error = std::string("cannot run netstat: ") + std::strerror(errno);
        return {};
    }
    std::string text;
    char buffer[4096];
    for (size_t n; (n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0 && text.size() < (4u << 20);) {
        text.append(buffer, n);
    }
    int status = ::pclose(pipe);
    if (status != 0) {
        error = "netstat -rn -f inet6 failed (status " + std::to_string(status) + ")";
        return {};
    }
    return parse_netstat_inet6(text);
}

}  // namespace loopgate
