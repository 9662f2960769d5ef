// Linux: a NETLINK_ROUTE socket subscribed to link, IPv4 address and IPv4
// route changes (rtnetlink(7)), polled by libuv. ENOBUFS means the kernel
// dropped messages: something changed, we do not know what, so say so.
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "log.hpp"
#include "netwatch.hpp"

namespace loopgate {
namespace {

// IFF_LOWER_UP (carrier) lives in <linux/if.h>, which clashes with <net/if.h>.
constexpr unsigned kLowerUp = 0x10000;
constexpr unsigned kLinkStateFlags = IFF_UP | IFF_RUNNING | kLowerUp;

std::string interface_name(int index) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(static_cast<unsigned>(index), name) != nullptr) return name;
    return "if" + std::to_string(index);
}

class NetlinkWatcher final : public NetworkWatcher {
public:
    NetlinkWatcher(uv_loop_t* loop, int fd, OnChange on_change) : fd_(fd), on_change_(std::move(on_change)) {
        box_ = new PollBox{};
        box_->owner = this;
        box_->fd = fd_;
        error_ = uv_poll_init(loop, &box_->handle, fd_);
        if (error_ != 0) return;
        polling_ = true;
        box_->handle.data = box_;
        error_ = uv_poll_start(&box_->handle, UV_READABLE, [](uv_poll_t* h, int status, int) {
            auto* box = static_cast<PollBox*>(h->data);
            if (box->owner != nullptr && status == 0) box->owner->drain();
        });
        if (error_ == 0) request_link_dump();
    }

    // Non-zero (a uv error) when the socket cannot be watched.
    int error() const { return error_; }

    ~NetlinkWatcher() override {
        box_->owner = nullptr;
        if (!polling_) {
            ::close(box_->fd);
            delete box_;
            return;
        }
        // The fd is closed only once libuv has let go of it.
        uv_close(reinterpret_cast<uv_handle_t*>(&box_->handle), [](uv_handle_t* h) {
            auto* box = static_cast<PollBox*>(h->data);
            ::close(box->fd);
            delete box;
        });
    }

private:
    struct PollBox {
        uv_poll_t handle;
        NetlinkWatcher* owner;
        int fd;
    };

    // Learn every link's current state first, so later messages that change
    // nothing we care about (statistics, MTU) are not reported as changes.
    void request_link_dump() {
        struct {
            nlmsghdr header;
            ifinfomsg body;
        } request{};
        request.header.nlmsg_len = sizeof request;
        request.header.nlmsg_type = RTM_GETLINK;
        request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        request.header.nlmsg_seq = 1;
        request.body.ifi_family = AF_UNSPEC;
        seeding_ = ::send(fd_, &request, sizeof request, 0) == static_cast<ssize_t>(sizeof request);
    }

    void drain() {
        alignas(nlmsghdr) char buffer[64 * 1024];
        for (;;) {
            ssize_t n = ::recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == ENOBUFS) {
                    on_change_("netlink overflow: changes were lost");
                    continue;
                }
                log::warn("netlink read failed").kv("error", std::strerror(errno));
                return;
            }
            if (n == 0) return;
            parse(buffer, static_cast<size_t>(n));
        }
    }

    void parse(const char* data, size_t len) {
        int remaining = static_cast<int>(len);
        for (auto* h = reinterpret_cast<const nlmsghdr*>(data); NLMSG_OK(h, remaining); h = NLMSG_NEXT(h, remaining)) {
            switch (h->nlmsg_type) {
            case NLMSG_DONE: seeding_ = false; break;
            case RTM_NEWLINK:
            case RTM_DELLINK: on_link(h); break;
            case RTM_NEWADDR:
            case RTM_DELADDR: on_address(h); break;
            case RTM_NEWROUTE:
            case RTM_DELROUTE: on_route(h); break;
            default: break;
            }
        }
    }

    void on_link(const nlmsghdr* h) {
        const auto* info = static_cast<const ifinfomsg*>(NLMSG_DATA(h));
        std::string name = link_name(h, info);
        if (h->nlmsg_type == RTM_DELLINK) {
            link_flags_.erase(info->ifi_index);
            if (!seeding_) on_change_("link " + name + " removed");
            return;
        }
        unsigned state = info->ifi_flags & kLinkStateFlags;
        auto known = link_flags_.find(info->ifi_index);
        bool is_new = known == link_flags_.end();
        bool changed = is_new || known->second != state;
        link_flags_[info->ifi_index] = state;
        if (seeding_ || !changed) return;
        bool usable = (state & IFF_UP) && (state & IFF_RUNNING);
        on_change_("link " + name + (is_new ? " added" : usable ? " up" : " down"));
    }

    static std::string link_name(const nlmsghdr* h, const ifinfomsg* info) {
        int len = static_cast<int>(IFLA_PAYLOAD(h));
        for (auto* a = IFLA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == IFLA_IFNAME) return static_cast<const char*>(RTA_DATA(a));
        }
        return interface_name(info->ifi_index);
    }

    void on_address(const nlmsghdr* h) {
        const auto* info = static_cast<const ifaddrmsg*>(NLMSG_DATA(h));
        if (info->ifa_family != AF_INET) return;
        char text[INET_ADDRSTRLEN] = "?";
        int len = static_cast<int>(IFA_PAYLOAD(h));
        for (auto* a = IFA_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == IFA_LOCAL || (a->rta_type == IFA_ADDRESS && text[0] == '?')) {
                inet_ntop(AF_INET, RTA_DATA(a), text, sizeof text);
            }
        }
        on_change_(std::string("address ") + text + "/" + std::to_string(info->ifa_prefixlen) +
                   (h->nlmsg_type == RTM_NEWADDR ? " added on " : " removed from ") +
                   interface_name(static_cast<int>(info->ifa_index)));
    }

    void on_route(const nlmsghdr* h) {
        const auto* info = static_cast<const rtmsg*>(NLMSG_DATA(h));
        // The local table follows address changes (already reported);
        // cloned entries are the route cache, not configuration.
        if (info->rtm_family != AF_INET || info->rtm_table == RT_TABLE_LOCAL || (info->rtm_flags & RTM_F_CLONED)) return;
        char dst[INET_ADDRSTRLEN] = "0.0.0.0";
        int len = static_cast<int>(RTM_PAYLOAD(h));
        for (auto* a = RTM_RTA(info); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
            if (a->rta_type == RTA_DST) inet_ntop(AF_INET, RTA_DATA(a), dst, sizeof dst);
        }
        on_change_(std::string("route ") + dst + "/" + std::to_string(info->rtm_dst_len) +
                   (h->nlmsg_type == RTM_NEWROUTE ? " added" : " removed"));
    }

    int fd_;
    OnChange on_change_;
    PollBox* box_ = nullptr;
    int error_ = 0;
    bool polling_ = false;  // the poll handle was set up (and must be closed through libuv)
    bool seeding_ = false;
    std::unordered_map<int, unsigned> link_flags_;
};

}  // namespace

std::unique_ptr<NetworkWatcher> NetworkWatcher::create(uv_loop_t* loop, OnChange on_change, std::string& error) {
    int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        error = std::string("cannot open a netlink socket: ") + std::strerror(errno);
        return nullptr;
    }
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        error = std::string("cannot subscribe to netlink route events: ") + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    auto watcher = std::make_unique<NetlinkWatcher>(loop, fd, std::move(on_change));
    if (int rc = watcher->error()) {
        error = std::string("cannot watch the netlink socket: ") + uv_strerror(rc);
        return nullptr;
    }
    return watcher;
}

}  // namespace loopgate
