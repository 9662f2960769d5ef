// The NETLINK_SOCK_DIAG messages behind peer_owner_linux.cpp, as pure
// functions over byte buffers (the socket is that file's), so unit tests can
// feed truncated, failed and foreign replies: one inet_diag request for the TCP
// socket with an exact 4-tuple (sock_diag(7), <linux/inet_diag.h>), and what
// its reply says about the socket's owner. Linux only.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace loopgate::sock_diag {

// A TCP socket as its owner sees it: `local` is its own address, `remote` its peer's.
struct Tuple {
    sockaddr_in local{};
    sockaddr_in remote{};
};

// SOCK_DIAG_BY_FAMILY for AF_INET/IPPROTO_TCP in every state with exactly
// this id (no dump): the kernel answers with one inet_diag_msg or an error.
std::vector<uint8_t> owner_request(const Tuple& socket, uint32_t seq);
// A dump of the TCP sockets in no state at all: answered at once with an
// empty NLMSG_DONE where the kernel can answer TCP questions, with an error
// where it cannot (no tcp_diag), so a route can say so at start.
std::vector<uint8_t> probe_request(uint32_t seq);

struct Answer {
    enum class Kind {
        owner,       // `uid` owns the socket asked about
        ready,       // the probe was answered without an error
        failed,      // `error` says why no owner can be told
        incomplete,  // nothing for this request yet: read the next datagram
    };
    Kind kind = Kind::incomplete;
    uid_t uid = 0;
    std::string error;
    unsigned foreign = 0;  // messages skipped: another request's sequence number or another socket
};

// What one datagram received says about request `seq` for `asked`. Messages
// with another sequence number (a late answer to an earlier request) and
// sockets other than `asked` are skipped; a message cut short, an error, an
// NLMSG_DONE without a match or a socket already closed (no inode: a
// TIME_WAIT or orphaned socket, whose uid the kernel no longer reports) fail.
Answer read_owner_reply(std::span<const uint8_t> datagram, uint32_t seq, const Tuple& asked);
// The same for probe_request's answer.
Answer read_probe_reply(std::span<const uint8_t> datagram, uint32_t seq);

}  // namespace loopgate::sock_diag
