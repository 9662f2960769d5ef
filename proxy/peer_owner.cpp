#include "peer_owner.hpp"

#include <uv.h>

#include "transport.hpp"

namespace loopgate {

OwnerCheck check_owner(Transport& app, PeerOwner* owner, uid_t self) {
    OwnerCheck check;
    sockaddr_in local{};
    sockaddr_in peer{};
    if (int rc = app.tcp_ends(local, peer); rc != 0) {
        check.error = std::string("cannot read the connection's addresses: ") + uv_strerror(rc);
    } else if (owner == nullptr) {
        check.error = "this loopgate has no way to ask the system who owns a TCP socket";
    } else {
        check.uid = owner->owner_of(peer, local, check.error);
    }
    check.allowed = check.uid && same_user_or_root(*check.uid, self);
    return check;
}

}  // namespace loopgate
