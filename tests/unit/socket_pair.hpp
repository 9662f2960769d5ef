// A connected pair of unix stream sockets, both non-blocking and
// close-on-exec, set with fcntl(2): macOS's socketpair(2) takes no
// SOCK_NONBLOCK or SOCK_CLOEXEC in its type.
#pragma once

#include <fcntl.h>
#include <sys/socket.h>

namespace loopgate::test {

inline bool nonblocking_socketpair(int fds[2]) {
    if (::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return false;
    for (int i = 0; i < 2; ++i) {
        ::fcntl(fds[i], F_SETFD, FD_CLOEXEC);
        ::fcntl(fds[i], F_SETFL, ::fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    return true;
}

}  // namespace loopgate::test
