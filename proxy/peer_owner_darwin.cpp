// macOS twin of peer_owner_linux.cpp, written from sysctlbyname(3) and xnu's
// get_pcblist_n (bsd/netinet/in_pcblist.c); UNTESTED on a Mac (CI runs Linux
// only, and only compiles this file against our stand-in headers:
// tools/check-darwin.sh). macOS has no query for one socket: the
// net.inet.tcp.pcblist_n sysctl lists every TCP socket of the machine with
// its owner (xsocket_n.so_uid), and pcblist.cpp finds the app's in it. One
// sysctl (two when the list grew) per accepted connection, its cost growing
// with the number of TCP sockets on the machine.
#include <sys/sysctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "pcblist.hpp"
#include "peer_owner.hpp"

namespace loopgate {
namespace {

constexpr const char* kPcbList = "net.inet.tcp.pcblist_n";
constexpr int kMaxAttempts = 4;  // the list may grow between asking its size and reading it

class PcbListPeerOwner final : public PeerOwner {
public:
    std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) override {
        size_t size = 0;
        for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
            size = 0;
            if (sysctlbyname(kPcbList, nullptr, &size, nullptr, 0) != 0) {
                error = std::string("cannot read the size of ") + kPcbList + ": " + std::strerror(errno);
                return std::nullopt;
            }
            // The kernel's estimate already leaves room (n + n/8 + 1 sockets); more for sockets opened meanwhile.
            size += size / 8 + 4096;
            if (buffer_.size() < size) buffer_.resize(size);
            size = buffer_.size();
            if (sysctlbyname(kPcbList, buffer_.data(), &size, nullptr, 0) == 0) {
                // The app's socket is the one whose own address is the app's.
                return pcblist::owner_of(std::span<const uint8_t>(buffer_.data(), size), app, ours, error);
            }
            if (errno != ENOMEM) break;
        }
        error = std::string("cannot read ") + kPcbList + ": " + std::strerror(errno);
        return std::nullopt;
    }

private:
    std::vector<uint8_t> buffer_;  // kept between connections
};

}  // namespace

std::unique_ptr<PeerOwner> open_peer_owner(std::string& error) {
    size_t size = 0;
    if (sysctlbyname(kPcbList, nullptr, &size, nullptr, 0) != 0) {
        error = std::string("cannot read ") + kPcbList + ": " + std::strerror(errno);
        return nullptr;
    }
    return std::make_unique<PcbListPeerOwner>();
}

}  // namespace loopgate
