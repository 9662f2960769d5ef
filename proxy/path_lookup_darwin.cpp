// macOS: which way the kernel would send a packet to an address, from a
// PF_ROUTE socket (route(4)): one RTM_GET for the exact destination, as
// `route -n get` sends it, answered on the same socket with the route, its
// interface and that interface's address. Messages built and read in
// route_message.cpp (unit-tested on Linux).
//
// A routing socket also receives every routing message of the system, so
// what piled up since the last lookup is drained (bounded) before asking,
// and the reply is told apart by our pid and sequence number. The wait for it
// is bounded at kAnswerWithinMs (SO_RCVTIMEO); the kernel answers while the
// request is written, so it does not wait in practice. A destination with no
// route at all makes the write itself fail with ESRCH.
//
// Written from route(4), <net/route.h> and xnu's bsd/net/rtsock.c; UNTESTED
// on a Mac. CI compiles it against our stand-ins for those headers
// (tools/check-darwin.sh, tests/darwin-shim/); docs/network-changes.md says so.
#include <net/route.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "path_lookup.hpp"
#include "route_message.hpp"

namespace loopgate {
namespace {

constexpr int kAnswerWithinMs = 200;
constexpr int kMaxStale = 256;     // old messages drained before a request
constexpr int kMaxMessages = 64;   // read while looking for the reply

class RoutingSocketPathLookup final : public PathLookup {
public:
    explicit RoutingSocketPathLookup(int fd) : fd_(fd), pid_(static_cast<int32_t>(::getpid())) {}
    ~RoutingSocketPathLookup() override { ::close(fd_); }
    RoutingSocketPathLookup(const RoutingSocketPathLookup&) = delete;
    RoutingSocketPathLookup& operator=(const RoutingSocketPathLookup&) = delete;

    KernelPath path_to(const in_addr& destination) override {
        drain();
        int32_t seq = ++seq_;
        std::vector<uint8_t> request = route_message::get_request(destination, pid_, seq);
        ssize_t sent = ::write(fd_, request.data(), request.size());
        if (sent < 0 && errno == ESRCH) return failed(KernelPath::Kind::unreachable, std::strerror(ESRCH));
        if (sent != static_cast<ssize_t>(request.size())) {
            return failed(KernelPath::Kind::unknown, std::string("cannot ask the routing socket: ") +
                                                         (sent < 0 ? std::strerror(errno) : "short write"));
        }
        for (int read = 0; read < kMaxMessages; ++read) {
            ssize_t got = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
            if (got < 0) {
                if (errno == EINTR) continue;
                return failed(KernelPath::Kind::unknown,
                              errno == EAGAIN || errno == EWOULDBLOCK
                                  ? "no answer from the routing socket within " + std::to_string(kAnswerWithinMs) + " ms"
                                  : std::string("cannot read the routing socket: ") + std::strerror(errno));
            }
            auto answer = route_message::read_get_reply(
                std::span<const uint8_t>(buffer_.data(), static_cast<size_t>(got)), pid_, seq);
            if (answer.mine) return answer.path;
        }
        return failed(KernelPath::Kind::unknown,
                      "no answer among " + std::to_string(kMaxMessages) + " messages on the routing socket");
    }

private:
    static KernelPath failed(KernelPath::Kind kind, std::string error) {
        KernelPath path;
        path.kind = kind;
        path.error = std::move(error);
        return path;
    }

    void drain() {
        for (int i = 0; i < kMaxStale; ++i) {
            if (::recv(fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT) < 0 && errno != EINTR) return;
        }
    }

    int fd_;
    int32_t pid_;
    int32_t seq_ = 0;
    std::array<uint8_t, 2048> buffer_{};
};

}  // namespace

std::unique_ptr<PathLookup> open_path_lookup(std::string& error) {
    int fd = ::socket(PF_ROUTE, SOCK_RAW, AF_INET);
    if (fd < 0) {
        error = std::string("cannot open a routing socket: ") + std::strerror(errno);
        return nullptr;
    }
    timeval bound{};
    bound.tv_usec = kAnswerWithinMs * 1000;
    if (::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound) != 0) {
        error = std::string("cannot bound the wait for the routing socket's answers: ") + std::strerror(errno);
        ::close(fd);
        return nullptr;
    }
    return std::make_unique<RoutingSocketPathLookup>(fd);
}

}  // namespace loopgate
