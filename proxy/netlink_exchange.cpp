#include "netlink_exchange.hpp"

#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace loopgate {
namespace {

constexpr int kMaxInterruptions = 8;  // EINTR, per system call
constexpr int kMaxDatagrams = 16;     // read while looking for the answer

}  // namespace

std::unique_ptr<NetlinkExchange> NetlinkExchange::open(int protocol, const char* protocol_name, const char* name,
                                                       int answer_within_ms, std::string& error) {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        error = std::string("cannot open a ") + protocol_name + " socket: " + std::strerror(errno);
        return nullptr;
    }
    timeval bound{};
    bound.tv_sec = answer_within_ms / 1000;
    bound.tv_usec = (answer_within_ms % 1000) * 1000;  // tv_usec past a second is EINVAL
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0) {
        error = std::string("cannot bound the wait for the kernel's answers: ") + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    return std::unique_ptr<NetlinkExchange>(new NetlinkExchange(fd, name, answer_within_ms));
}

NetlinkExchange::~NetlinkExchange() { ::close(fd_); }

bool NetlinkExchange::ask(const std::vector<uint8_t>& request, const Read& read, std::string& error) {
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    ssize_t sent = -1;
    for (int attempt = 0; attempt < kMaxInterruptions; ++attempt) {
        sent = ::sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
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
    int interruptions = 0;
    for (int datagrams = 0; datagrams < kMaxDatagrams;) {
        sockaddr_nl from{};
        socklen_t from_len = sizeof from;
        // MSG_TRUNC: the datagram's real length, so one cut short is noticed.
        ssize_t got = ::recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC, reinterpret_cast<sockaddr*>(&from),
                                 &from_len);
        if (got < 0) {
            if (errno == EINTR && ++interruptions < kMaxInterruptions) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                error = std::string("no answer from the kernel (") + name_ + ") within " + std::to_string(within_ms_) +
                        " ms";
            } else {
                error = std::string("cannot read the kernel's answer (") + name_ + "): " + std::strerror(errno);
            }
            return false;
        }
        ++datagrams;
        if (from.nl_pid != 0) continue;  // not from the kernel
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
