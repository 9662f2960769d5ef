// Linux: who owns the app's socket, from NETLINK_SOCK_DIAG (sock_diag(7)).
// One inet_diag request names the socket by its exact 4-tuple and the kernel
// answers with its inet_diag_msg (idiag_uid) while the request is being sent,
// so the blocking receive below, bounded at kAnswerWithinMs, does not wait in
// practice: one kernel round trip per accepted connection, no /proc scan. The
// messages themselves are built and read in sock_diag.cpp.
#include <linux/netlink.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "peer_owner.hpp"
#include "sock_diag.hpp"

namespace loopgate {
namespace {

constexpr int kAnswerWithinMs = 200;
constexpr int kMaxInterruptions = 8;  // EINTR, per system call
constexpr int kMaxDatagrams = 16;     // read while looking for the answer (late answers to earlier requests first)

class SockDiagPeerOwner final : public PeerOwner {
public:
    explicit SockDiagPeerOwner(int fd) : fd_(fd) {}
    ~SockDiagPeerOwner() override { ::close(fd_); }
    SockDiagPeerOwner(const SockDiagPeerOwner&) = delete;
    SockDiagPeerOwner& operator=(const SockDiagPeerOwner&) = delete;

    std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) override {
        // The app's socket is the one whose own address is the app's.
        sock_diag::Tuple asked{app, ours};
        uint32_t seq = ++seq_;
        sock_diag::Answer answer = ask(sock_diag::owner_request(asked, seq), [&](std::span<const uint8_t> datagram) {
            return sock_diag::read_owner_reply(datagram, seq, asked);
        });
        if (answer.kind == sock_diag::Answer::Kind::owner) return answer.uid;
        error = answer.error;
        return std::nullopt;
    }

    bool probe(std::string& error) {
        uint32_t seq = ++seq_;
        sock_diag::Answer answer = ask(sock_diag::probe_request(seq), [&](std::span<const uint8_t> datagram) {
            return sock_diag::read_probe_reply(datagram, seq);
        });
        if (answer.kind == sock_diag::Answer::Kind::ready) return true;
        error = answer.error;
        return false;
    }

private:
    static sock_diag::Answer failed(std::string error) {
        sock_diag::Answer answer;
        answer.kind = sock_diag::Answer::Kind::failed;
        answer.error = std::move(error);
        return answer;
    }

    template <typename Read>
    sock_diag::Answer ask(const std::vector<uint8_t>& request, Read read) {
        sockaddr_nl kernel{};
        kernel.nl_family = AF_NETLINK;
        ssize_t sent = -1;
        for (int attempt = 0; attempt < kMaxInterruptions; ++attempt) {
            sent = ::sendto(fd_, request.data(), request.size(), 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel);
            if (sent >= 0 || errno != EINTR) break;
        }
        if (sent < 0) return failed(std::string("cannot ask the kernel (sock_diag): ") + std::strerror(errno));
        if (static_cast<size_t>(sent) != request.size()) return failed("the kernel took part of the request only");
        int interruptions = 0;
        for (int datagrams = 0; datagrams < kMaxDatagrams;) {
            sockaddr_nl from{};
            socklen_t from_len = sizeof from;
            // MSG_TRUNC: the datagram's real length, so one cut short is noticed.
            ssize_t got = ::recvfrom(fd_, buffer_.data(), buffer_.size(), MSG_TRUNC,
                                     reinterpret_cast<sockaddr*>(&from), &from_len);
            if (got < 0) {
                if (errno == EINTR && ++interruptions < kMaxInterruptions) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    return failed("no answer from the kernel (sock_diag) within " + std::to_string(kAnswerWithinMs) +
                                  " ms");
                }
                return failed(std::string("cannot read the kernel's answer (sock_diag): ") + std::strerror(errno));
            }
            ++datagrams;
            if (from.nl_pid != 0) continue;  // not from the kernel
            if (static_cast<size_t>(got) > buffer_.size()) {
                return failed("the kernel's answer (" + std::to_string(got) + " bytes) was cut to " +
                              std::to_string(buffer_.size()));
            }
            sock_diag::Answer answer = read(std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(got)));
            if (answer.kind != sock_diag::Answer::Kind::incomplete) return answer;
        }
        return failed("no answer to this request among " + std::to_string(kMaxDatagrams) +
                      " datagrams from the kernel (sock_diag)");
    }

    int fd_;
    uint32_t seq_ = 0;
    std::array<uint8_t, 8192> buffer_{};
};

}  // namespace

std::unique_ptr<PeerOwner> open_peer_owner(std::string& error) {
    int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) {
        error = std::string("cannot open a NETLINK_SOCK_DIAG socket: ") + std::strerror(errno);
        return nullptr;
    }
    timeval bound{};
    bound.tv_usec = kAnswerWithinMs * 1000;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0) {
        error = std::string("cannot bound the wait for the kernel's answers: ") + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    auto owner = std::make_unique<SockDiagPeerOwner>(fd);
    if (!owner->probe(error)) return nullptr;
    return owner;
}

}  // namespace loopgate
