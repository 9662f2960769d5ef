// One question to the kernel over a netlink socket, and the datagrams of its
// answer (Linux only). The kernel answers a request while it is being sent,
// so the blocking receive, bounded at `answer_within_ms` (SO_RCVTIMEO), does
// not wait in practice: a few microseconds on the loop, never a hang. Used by
// peer_owner_linux.cpp (NETLINK_SOCK_DIAG) and path_lookup_linux.cpp
// (NETLINK_ROUTE); the messages themselves are built and read, as pure
// functions, in sock_diag.* and rtnl_route.*.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace loopgate {

class NetlinkExchange {
public:
    // The datagram's messages answer the request (true), or the answer is
    // still to come (false: read the next datagram).
    using Read = std::function<bool(std::span<const uint8_t> datagram)>;

    // A socket of netlink `protocol` (called `protocol_name`, e.g.
    // "NETLINK_SOCK_DIAG"), or null and `error`; `name` (e.g. "sock_diag") is
    // how the errors of its requests name it.
    static std::unique_ptr<NetlinkExchange> open(int protocol, const char* protocol_name, const char* name,
                                                 int answer_within_ms, std::string& error);
    ~NetlinkExchange();
    NetlinkExchange(const NetlinkExchange&) = delete;
    NetlinkExchange& operator=(const NetlinkExchange&) = delete;

    // A fresh sequence number for the next request.
    uint32_t next_seq() { return ++seq_; }
    // Sends `request` and hands each datagram from the kernel to `read` until
    // it has its answer: true. False and `error` when the request cannot be
    // sent, the kernel does not answer in time, an answer was cut short or
    // none came among the first few datagrams (late answers to earlier requests first).
    bool ask(const std::vector<uint8_t>& request, const Read& read, std::string& error);

private:
    NetlinkExchange(int fd, const char* name, int answer_within_ms) : fd_(fd), name_(name), within_ms_(answer_within_ms) {}

    int fd_;
    const char* name_;
    int within_ms_;
    uint32_t seq_ = 0;
    std::vector<uint8_t> buffer_ = std::vector<uint8_t>(8192);
};

}  // namespace loopgate
