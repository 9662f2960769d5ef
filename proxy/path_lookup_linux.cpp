// Linux: which way the kernel would send a packet to an address, from
// NETLINK_ROUTE (rtnetlink(7)): one RTM_GETROUTE for the exact destination,
// answered with the route the kernel resolved for it, source address
// included, while the request is being sent (as `ip route get` does). The
// whole exchange is bounded at kAnswerWithinMs; the messages are built and read in
// rtnl_route.cpp, sent and received by netlink_exchange.cpp. It is a socket of
// its own, not the watcher's: that one is subscribed to every change, and its
// events must not be read here.
#include <linux/netlink.h>

#include "netlink_exchange.hpp"
#include "path_lookup.hpp"
#include "rtnl_route.hpp"

namespace loopgate {
namespace {

constexpr int kAnswerWithinMs = 200;

class RtnetlinkPathLookup final : public PathLookup {
public:
    explicit RtnetlinkPathLookup(std::unique_ptr<NetlinkExchange> kernel) : kernel_(std::move(kernel)) {}

    KernelPath path_to(const in_addr& destination) override {
        uint32_t seq = kernel_->next_seq();
        rtnl_route::Answer answer;
        std::string error;
        bool answered = kernel_->ask(rtnl_route::route_request(destination, seq), [&](std::span<const uint8_t> datagram) {
            answer = rtnl_route::read_route_reply(datagram, seq);
            return answer.complete;
        }, error);
        if (!answered) {
            answer.path.kind = KernelPath::Kind::unknown;
            answer.path.error = error;
        }
        return answer.path;
    }

private:
    std::unique_ptr<NetlinkExchange> kernel_;
};

}  // namespace

std::unique_ptr<PathLookup> open_path_lookup(std::string& error) {
    auto kernel = NetlinkExchange::open(NETLINK_ROUTE, "NETLINK_ROUTE", "route lookup", kAnswerWithinMs, error);
    if (!kernel) return nullptr;
    return std::make_unique<RtnetlinkPathLookup>(std::move(kernel));
}

}  // namespace loopgate
