// The file behind a unix socket listener, as the data path sees it: made
// ready before bind, claimed after bind and before listen, removed when the
// object goes (if it is still ours). The file system work — directory checks,
// stale sockets, chmod, unlink — is the daemon's (daemon/unix_socket_file.hpp),
// handed in through SocketFiles.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace loopgate {

class SocketFile {
public:
    virtual ~SocketFile() = default;
    // Before bind: returns why the path cannot be used. Sets removed_stale when
    // it cleared a socket file a crashed process left.
    virtual std::optional<std::string> prepare(bool& removed_stale) = 0;
    // After bind, before listen: returns why the socket cannot be made private.
    virtual std::optional<std::string> claim() = 0;
};

class SocketFiles {
public:
    virtual ~SocketFiles() = default;
    virtual std::unique_ptr<SocketFile> open(const std::filesystem::path& path) = 0;
};

}  // namespace loopgate
