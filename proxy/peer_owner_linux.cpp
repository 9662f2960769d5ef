// Linux: who owns the app's socket, from NETLINK_SOCK_DIAG (sock_diag(7)).
// One inet_diag request names the socket by its exact 4-tuple and the kernel
// answers with its inet_diag_msg (idiag_uid) while the request is being sent,
// so the exchange, bounded at kAnswerWithinMs as a whole, does not wait in
// practice: one kernel round trip per accepted connection, no /proc scan. The
// messages themselves are built and read in sock_diag.cpp, and sent and
// received by netlink_exchange.cpp.
#include <linux/netlink.h>

#include "netlink_exchange.hpp"
#include "peer_owner.hpp"
#include "sock_diag.hpp"

namespace loopgate {
namespace {

constexpr int kAnswerWithinMs = 200;

class SockDiagPeerOwner final : public PeerOwner {
public:
    explicit SockDiagPeerOwner(std::unique_ptr<NetlinkExchange> kernel) : kernel_(std::move(kernel)) {}

    std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) override {
        // The app's socket is the one whose own address is the app's.
        sock_diag::Tuple asked{app, ours};
        uint32_t seq = kernel_->next_seq();
        sock_diag::Answer answer = ask(sock_diag::owner_request(asked, seq), [&](std::span<const uint8_t> datagram) {
            return sock_diag::read_owner_reply(datagram, seq, asked);
        });
        if (answer.kind == sock_diag::Answer::Kind::owner) return answer.uid;
        error = answer.error;
        return std::nullopt;
    }

    bool probe(std::string& error) {
        uint32_t seq = kernel_->next_seq();
        sock_diag::Answer answer = ask(sock_diag::probe_request(seq), [&](std::span<const uint8_t> datagram) {
            return sock_diag::read_probe_reply(datagram, seq);
        });
        if (answer.kind == sock_diag::Answer::Kind::ready) return true;
        error = answer.error;
        return false;
    }

private:
    template <typename ReadReply>
    sock_diag::Answer ask(const std::vector<uint8_t>& request, ReadReply read_reply) {
        sock_diag::Answer answer;
        std::string error;
        bool answered = kernel_->ask(request, [&](std::span<const uint8_t> datagram) {
            answer = read_reply(datagram);
            return answer.kind != sock_diag::Answer::Kind::incomplete;
        }, error);
        if (!answered) {
            answer.kind = sock_diag::Answer::Kind::failed;
            answer.error = error;
        }
        return answer;
    }

    std::unique_ptr<NetlinkExchange> kernel_;
};

}  // namespace

std::unique_ptr<PeerOwner> open_peer_owner(std::string& error) {
    auto kernel = NetlinkExchange::open(NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG", "sock_diag", kAnswerWithinMs, error);
    if (!kernel) return nullptr;
    auto owner = std::make_unique<SockDiagPeerOwner>(std::move(kernel));
    if (!owner->probe(error)) return nullptr;
    return owner;
}

}  // namespace loopgate
