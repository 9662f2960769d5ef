// Who owns the app's end of a TCP connection: the uid of the process that
// made the socket whose local address is the app's and whose remote address
// is ours. A loopback port is open to every local user; a TCP route lets in
// only loopgate's own user and root unless it sets allow_other_users
// (listener.cpp asks this at accept, before a byte is read).
//
// One implementation per platform, each asking the kernel about exactly one
// socket: Linux a NETLINK_SOCK_DIAG inet_diag request (peer_owner_linux.cpp,
// messages in sock_diag.*), macOS the net.inet.tcp.pcblist_n sysctl
// (peer_owner_darwin.cpp, records in pcblist.*). The daemon opens one and
// hands it to every route (RouteRuntime::peer_owner).
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

namespace loopgate {

class Transport;

class PeerOwner {
public:
    virtual ~PeerOwner() = default;
    // The uid owning the socket bound to `app` and connected to `ours` (both
    // as seen from our accepted socket: its peer and its own address). Nullopt
    // and `error` when it cannot be told: the kernel did not answer, the
    // socket is gone or already closed, the answer did not match.
    virtual std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) = 0;
};

// This platform's way to ask, opened once per daemon; null and `error` when
// the system offers none (the routes that need it then refuse to start).
std::unique_ptr<PeerOwner> open_peer_owner(std::string& error);

// Whether a connection owned by `uid` may use a route that keeps other users
// out: loopgate's own effective uid (`self`) and root.
inline bool same_user_or_root(uid_t uid, uid_t self) { return uid == self || uid == 0; }

// The question for one accepted TCP connection, as a route's listener and the
// admin endpoint ask it: who owns the app's end, and may it come in.
struct OwnerCheck {
    bool allowed = false;
    std::optional<uid_t> uid;  // nullopt: it could not be told (`error` says why)
    std::string error;
};
OwnerCheck check_owner(Transport& app, PeerOwner* owner, uid_t self);

}  // namespace loopgate
