// macOS: a PF_ROUTE socket (route(4)) for interface, address and route
// changes, plus notify(3)'s "com.apple.system.config.network_change" key,
// which configd posts after it applies a new network configuration. Both are
// file descriptors polled by libuv.
//
// Written from route(4), <net/route.h>, <net/if.h> and notify(3); built and
// run only on macOS, which this project's CI does not have: UNTESTED on a Mac
// (docs/network-changes.md says so). CI only compiles it against our own
// stand-ins for those headers (tools/check-darwin.sh, tests/darwin-shim/).
// Its Linux twin, netwatch_linux.cpp, is what the integration tests exercise.
//
// utun interfaces are deliberately NOT filtered out: Tailscale's own
// interface and route changes are exactly what should trigger a probe.
#include <net/if.h>
#include <net/route.h>
#include <notify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "log.hpp"
#include "netwatch.hpp"

namespace loopgate {
namespace {

constexpr char kNetworkChangeKey[] = "com.apple.system.config.network_change";

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

std::string interface_name(unsigned index) {
    char name[IF_NAMESIZE] = {};
    if (if_indextoname(index, name) != nullptr) return name;
    return "if" + std::to_string(index);
}

class DarwinWatcher final : public NetworkWatcher {
public:
    DarwinWatcher(uv_loop_t* loop, int route_fd, int notify_fd, int notify_token, OnChange on_change)
        : notify_token_(notify_token), on_change_(std::move(on_change)) {
        route_box_ = watch(loop, route_fd, [](DarwinWatcher* self) { self->drain_route_socket(); });
        if (notify_fd >= 0) notify_box_ = watch(loop, notify_fd, [](DarwinWatcher* self) { self->drain_notify(); });
    }

    ~DarwinWatcher() override {
        unwatch(route_box_);
        if (notify_box_ != nullptr) {
            // notify_cancel closes the descriptor notify(3) gave us; the poll
            // handle must let go of it first, so cancel in the close callback.
            notify_box_->token = notify_token_;
            unwatch(notify_box_);
        }
    }

private:
    struct PollBox {
        uv_poll_t handle;
        DarwinWatcher* owner;
        void (*on_readable)(DarwinWatcher*);
        int fd;
        int token;  // >= 0: a notify(3) registration to cancel instead of close()
        bool polling = false;  // the poll handle was set up (and must be closed through libuv)
    };

    PollBox* watch(uv_loop_t* loop, int fd, void (*on_readable)(DarwinWatcher*)) {
        auto* box = new PollBox{};
        box->owner = this;
        box->on_readable = on_readable;
        box->fd = fd;
        box->token = -1;
        if (int rc = uv_poll_init(loop, &box->handle, fd)) {
            log::warn("network changes will not be noticed").kv("error", uv_strerror(rc));
            return box;  // never readable; unwatch() frees it without libuv
        }
        box->polling = true;
        box->handle.data = box;
        int rc = uv_poll_start(&box->handle, UV_READABLE, [](uv_poll_t* h, int status, int) {
            auto* b = static_cast<PollBox*>(h->data);
            if (b->owner != nullptr && status == 0) b->on_readable(b->owner);
        });
        if (rc != 0) log::warn("network changes will not be noticed").kv("error", uv_strerror(rc));
        return box;
    }

    static void unwatch(PollBox* box) {
        box->owner = nullptr;
        if (!box->polling) {
            if (box->token >= 0) notify_cancel(box->token);
            else ::close(box->fd);
            delete box;
            return;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&box->handle), [](uv_handle_t* h) {
            auto* b = static_cast<PollBox*>(h->data);
            if (b->token >= 0) notify_cancel(b->token);
            else ::close(b->fd);
            delete b;
        });
    }

    void drain_route_socket() {
        // Each read returns exactly one routing message (route(4)).
        alignas(rt_msghdr) char buffer[2048];
        for (;;) {
            ssize_t n = ::read(route_box_->fd, buffer, sizeof buffer);
            if (n < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) return;
                if (errno == ENOBUFS) {
                    on_change_("routing socket overflow: changes were lost");
                    continue;
                }
                log::warn("routing socket read failed").kv("error", std::strerror(errno));
                return;
            }
            if (static_cast<size_t>(n) < sizeof(rt_msghdr)) return;
            on_message(buffer, static_cast<size_t>(n));
        }
    }

    void on_message(const char* data, size_t len) {
        const auto* header = reinterpret_cast<const rt_msghdr*>(data);
        if (header->rtm_version != RTM_VERSION) return;
        switch (header->rtm_type) {
        case RTM_IFINFO: {
            if (len < sizeof(if_msghdr)) return;
            const auto* info = reinterpret_cast<const if_msghdr*>(data);
            unsigned state = static_cast<unsigned>(info->ifm_flags) & (IFF_UP | IFF_RUNNING);
            auto known = link_flags_.find(info->ifm_index);
            bool changed = known == link_flags_.end() || known->second != state;
            link_flags_[info->ifm_index] = state;
            if (changed) {
                bool usable = (state & IFF_UP) && (state & IFF_RUNNING);
                on_change_("link " + interface_name(info->ifm_index) + (usable ? " up" : " down"));
            }
            return;
        }
        case RTM_NEWADDR:
        case RTM_DELADDR: {
            if (len < sizeof(ifa_msghdr)) return;
            const auto* info = reinterpret_cast<const ifa_msghdr*>(data);
            on_change_(std::string(header->rtm_type == RTM_NEWADDR ? "address added on " : "address removed from ") +
                       interface_name(info->ifam_index));
            return;
        }
        case RTM_ADD:
        case RTM_DELETE:
        case RTM_CHANGE:
            // Cloned host routes (ARP/ND entries, per-destination clones) come
            // and go with traffic; they are not the network changing.
            if (header->rtm_flags & (RTF_WASCLONED | RTF_LLINFO)) return;
            on_change_(std::string("route ") +
                       (header->rtm_type == RTM_ADD ? "added" : header->rtm_type == RTM_DELETE ? "removed" : "changed") +
                       " on " + interface_name(header->rtm_index));
            return;
        default:
            // RTM_MISS (lookups that failed), RTM_GET, RTM_LOSING, RTM_REDIRECT...: not a change.
            return;
        }
    }

    void drain_notify() {
        int token = 0;
        // The descriptor delivers the 4-byte token of each posted notification.
        while (::read(notify_box_->fd, &token, sizeof token) == static_cast<ssize_t>(sizeof token)) {
            on_change_("system network configuration changed");
        }
    }

    int notify_token_;
    OnChange on_change_;
    PollBox* route_box_ = nullptr;
    PollBox* notify_box_ = nullptr;
    std::unordered_map<unsigned, unsigned> link_flags_;
};

}  // namespace

std::unique_ptr<NetworkWatcher> NetworkWatcher::create(uv_loop_t* loop, OnChange on_change, std::string& error) {
    int route_fd = ::socket(PF_ROUTE, SOCK_RAW, AF_UNSPEC);
    if (route_fd < 0) {
        error = std::string("cannot open a routing socket: ") + std::strerror(errno);
        return nullptr;
    }
    set_nonblocking(route_fd);
    int notify_fd = -1;
    int token = -1;
    if (notify_register_file_descriptor(kNetworkChangeKey, &notify_fd, 0, &token) != NOTIFY_STATUS_OK) {
        log::warn("notify(3) registration failed; relying on the routing socket alone").kv("key", kNetworkChangeKey);
        notify_fd = -1;
        token = -1;
    } else {
        set_nonblocking(notify_fd);
    }
    return std::make_unique<DarwinWatcher>(loop, route_fd, notify_fd, token, std::move(on_change));
}

}  // namespace loopgate
