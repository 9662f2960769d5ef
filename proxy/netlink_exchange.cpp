#include "netlink_exchange.hpp"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace loopgate {
namespace {

constexpr int kMaxInterruptions = 8;  // EINTR (or a wakeup with nothing to read), per system call
constexpr int kMaxDatagrams = 16;     // read while looking for the answer

}  // namespace

std::unique_ptr<NetlinkExchange> NetlinkExchange::open(int protocol, const char* protocol_name, const char* name,
                                                       int answer_within_ms, std::string& error) {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        error = std::string("cannot open a ") + protocol_name + " socket: " + std::strerror(errno);
        return nullptr;
    }
    // Connected to the kernel: requests go to it, and the kernel delivers
    // this socket nothing from any other sender.
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) != 0) {
        error = std::string("cannot address the kernel over ") + protocol_name + ": " + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    return adopt(fd, name, answer_within_ms);
}

std::unique_ptr<NetlinkExchange> NetlinkExchange::adopt(int fd, const char* name, int answer_within_ms, Now now) {
    return std::unique_ptr<NetlinkExchange>(new NetlinkExchange(fd, name, answer_within_ms, std::move(now)));
}

uint64_t NetlinkExchange::steady_now_ms() {
    auto since = std::chrono::steady_clock::now().time_since_epoch();
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(since).count());
}

NetlinkExchange::~NetlinkExchange() { ::close(fd_); }

int NetlinkExchange::wait_readable(uint64_t deadline_ms) const {
    uint64_t now = now_();
    if (now >= deadline_ms) return 0;
    pollfd ready{fd_, POLLIN, 0};
    int rc = ::poll(&ready, 1, static_cast<int>(deadline_ms - now));
    return rc > 0 ? 1 : rc;  // POLLERR and POLLHUP too: the read says what they are
}

bool NetlinkExchange::ask(const std::vector<uint8_t>& request, const Read& read, std::string& error) {
    ssize_t sent = -1;
    for (int attempt = 0; attempt < kMaxInterruptions; ++attempt) {
        sent = ::send(fd_, request.data(), request.size(), 0);
        if (sent >= 0 || errno != EINTR) break;
    }
    if (sent < 0) {
        error = std::string("cannot ask the kernel (") + name_ + "): " + std::strerror(errno);
        return false;
    }
    if (static_cast<size_t>(sent) != request.size()) {
        error = "the kernel took part of the request only";
        return false;
    }
    // One bound for the whole exchange: datagrams that are not the answer
    // (late answers to earlier requests) do not buy it more time.
    uint64_t deadline_ms = now_() + static_cast<uint64_t>(within_ms_);
    int interruptions = 0;
    for (int datagrams = 0; datagrams < kMaxDatagrams;) {
        int ready = wait_readable(deadline_ms);
        if (ready == 0) {
            error = std::string("no answer from the kernel (") + name_ + ") within " + std::to_string(within_ms_) + " ms";
            return false;
        }
        // MSG_TRUNC: the datagram's real length, so one cut short is noticed.
        ssize_t got = ready < 0 ? -1 : ::recv(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC | MSG_DONTWAIT);
        if (got < 0) {
            bool again = errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK;
            if (again && ++interruptions < kMaxInterruptions) continue;
            error = std::string("cannot read the kernel's answer (") + name_ + "): " + std::strerror(errno);
            return false;
        }
        ++datagrams;
        if (static_cast<size_t>(got) > buffer_.size()) {
            error = "the kernel's answer (" + std::to_string(got) + " bytes) was cut to " + std::to_string(buffer_.size());
            return false;
        }
        if (read(std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(got)))) return true;
    }
    error = "no answer to this request among " + std::to_string(kMaxDatagrams) + " datagrams from the kernel (" +
            name_ + ")";
    return false;
}

}  // namespace loopgate
