// macOS: the IPv6 routing table as `netstat -rn -f inet6` prints it (parsed
// by parse_netstat_inet6, which the unit tests check against sample output).
// netstat reads the same NET_RT_DUMP sysctl a routing-socket parser would,
// and its columns have been stable for decades.
//
// Built and run only on macOS, which this project's CI does not have:
// UNTESTED on a Mac (docs/doctor.md says so). CI compiles it against
// tests/darwin-shim (tools/check-darwin.sh).
#include "routing_table.hpp"

namespace loopgate {

std::vector<Ipv6Route> read_ipv6_routes(CommandRunner& runner, std::string& error) {
    CommandRunner::Result result = runner.run({"/usr/sbin/netstat", "-rn", "-f", "inet6"}, /*capture=*/true);
    if (result.status != 0) {
        error = "netstat -rn -f inet6 failed (status " + std::to_string(result.status) + ")";
        return {};
    }
    return parse_netstat_inet6(result.output);
}

}  // namespace loopgate
