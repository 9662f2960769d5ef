// The NETLINK_ROUTE messages behind path_lookup_linux.cpp, as pure functions
// over byte buffers, so unit tests can feed truncated, failed and foreign
// replies: one RTM_GETROUTE request for an IPv4 destination (rtnetlink(7),
// what `ip route get ADDRESS` sends), and what its RTM_NEWROUTE reply says:
// the outgoing interface (RTA_OIF) and the source address the kernel would
// pick (RTA_PREFSRC). Linux only.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <vector>

#include "path_lookup.hpp"

namespace loopgate::rtnl_route {

std::vector<uint8_t> route_request(const in_addr& destination, uint32_t seq);

struct Answer {
    bool complete = false;  // false: nothing for this request yet, read the next datagram
    KernelPath path;
    unsigned foreign = 0;  // messages skipped: another request's sequence number
};

// What one datagram says about request `seq`. An error reply of
// ENETUNREACH, EHOSTUNREACH (an unreachable route) or EACCES (a prohibit
// route) is an unreachable path; any other error, a message cut short or an
// answer for another family is a path that could not be told.
Answer read_route_reply(std::span<const uint8_t> datagram, uint32_t seq);

}  // namespace loopgate::rtnl_route
