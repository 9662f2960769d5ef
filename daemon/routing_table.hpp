// This machine's IPv6 routes and interface addresses, read the system's way
// for the IPv6 trap `loopgate doctor` looks for (tailnet_routes.hpp parses
// and judges). routing_table_linux.cpp reads /proc/net/ipv6_route;
// routing_table_darwin.cpp runs `netstat -rn -f inet6` through `runner`.
// Interface addresses come from getifaddrs(3) on both.
#pragma once

#include <string>
#include <vector>

#include "service_manager.hpp"
#include "tailnet_routes.hpp"

namespace loopgate {

// Every IPv6 route; empty with `error` set when the table cannot be read.
std::vector<Ipv6Route> read_ipv6_routes(CommandRunner& runner, std::string& error);

// Every IPv4 and IPv6 address of every interface.
std::vector<InterfaceAddress> read_interface_addresses();

}  // namespace loopgate
