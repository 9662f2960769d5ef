// One question to the kernel over a netlink socket, and the datagrams of its
// answer (Linux only). The kernel answers a request while it is being sent,
// so the wait for it does not block in practice: a few microseconds on the
// loop, never a hang. The whole exchange is bounded at `answer_within_ms` on a
// monotonic clock, however many datagrams arrive meanwhile: each wait is for
// what is left of it (poll), not for a fresh bound per datagram. Used by
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
    // Milliseconds on a monotonic clock (unit tests pass their own).
    using Now = std::function<uint64_t()>;
    static uint64_t steady_now_ms();
    // Over a connected datagram socket the caller made (a unit test's
    // socketpair, whose far end plays the kernel); the exchange owns `fd` now.
    static std::unique_ptr<NetlinkExchange> adopt(int fd, const char* name, int answer_within_ms, Now now = steady_now_ms);
    ~NetlinkExchange();
    NetlinkExchange(const NetlinkExchange&) = delete;
    NetlinkExchange& operator=(const NetlinkExchange&) = delete;

    // A fresh sequence number for the next request.
    uint32_t next_seq() { return ++seq_; }
    // Sends `request` and hands each datagram from the kernel to `read` until
    // it has its answer: true. False and `error` when the request cannot be
    // sent, the kernel does not answer within answer_within_ms of the send, an
    // answer was cut short or none came among the first few datagrams (late
    // answers to earlier requests first).
    bool ask(const std::vector<uint8_t>& request, const Read& read, std::string& error);

private:
    NetlinkExchange(int fd, const char* name, int answer_within_ms, Now now)
        : fd_(fd), name_(name), within_ms_(answer_within_ms), now_(std::move(now)) {}
    // Waits until a datagram can be read or `deadline_ms` passes: 1, 0 (time
    // is up) or -1 and errno.
    int wait_readable(uint64_t deadline_ms) const;

    int fd_;
    const char* name_;
    int within_ms_;
    Now now_;
    uint32_t seq_ = 0;
    std::vector<uint8_t> buffer_ = std::vector<uint8_t>(8192);
};

}  // namespace loopgate
