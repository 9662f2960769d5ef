// The routing-socket messages behind path_lookup_darwin.cpp (route(4)), as
// pure functions over bytes, built on every platform so the unit tests run
// them on Linux too: one RTM_GET for an IPv4 destination, as `route -n get`
// sends it (RTA_DST, plus an empty AF_LINK RTA_IFP so the kernel names the
// interface and its address), and what the reply says: the interface
// (rtm_index) and the interface address the route uses (RTA_IFA), which is
// the source address macOS picks for a connection on that route.
//
// The layout is xnu's (bsd/net/route.h, bsd/net/rtsock.c): a struct
// rt_msghdr (92 bytes), then one socket address per rtm_addrs bit in bit
// order, each starting with its length byte and padded to 4 bytes
// (ROUNDUP32). BSD's sockaddr starts {uint8_t sa_len; uint8_t sa_family},
// unlike Linux's, so the offsets are written out here; on macOS (and in
// tools/check-darwin.sh) route_message.cpp checks them against <net/route.h>.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <span>
#include <vector>

#include "path_lookup.hpp"

namespace loopgate::route_message {

inline constexpr size_t kHeaderBytes = 92;        // sizeof(struct rt_msghdr)
inline constexpr uint8_t kVersion = 5;            // RTM_VERSION
inline constexpr uint8_t kGet = 0x4;              // RTM_GET
inline constexpr int32_t kAddrDst = 0x1;          // RTA_DST
inline constexpr int32_t kAddrGateway = 0x2;      // RTA_GATEWAY
inline constexpr int32_t kAddrIfp = 0x10;         // RTA_IFP
inline constexpr int32_t kAddrIfa = 0x20;         // RTA_IFA
inline constexpr int32_t kFlagUp = 0x1;           // RTF_UP
inline constexpr int32_t kFlagReject = 0x8;       // RTF_REJECT
inline constexpr int32_t kFlagBlackhole = 0x1000; // RTF_BLACKHOLE
inline constexpr uint8_t kFamilyInet = 2;         // AF_INET
inline constexpr uint8_t kFamilyLink = 18;        // AF_LINK
inline constexpr size_t kSockaddrInBytes = 16;    // sizeof(struct sockaddr_in)
inline constexpr size_t kSockaddrDlBytes = 20;    // sizeof(struct sockaddr_dl)
// Offsets in rt_msghdr.
inline constexpr size_t kOffMsglen = 0, kOffVersion = 2, kOffType = 3, kOffIndex = 4, kOffFlags = 8, kOffAddrs = 12,
                        kOffPid = 16, kOffSeq = 20, kOffErrno = 24;

std::vector<uint8_t> get_request(const in_addr& destination, int32_t pid, int32_t seq);

struct Answer {
    bool mine = false;  // false: another message (another process's, a change): read the next
    KernelPath path;
};

// What one message read from a routing socket says about request (pid, seq).
// A reply with rtm_errno set (ESRCH: no route), or for a reject or blackhole
// route, is an unreachable path; a reply cut short is one that cannot be told.
Answer read_get_reply(std::span<const uint8_t> message, int32_t pid, int32_t seq);

}  // namespace loopgate::route_message
