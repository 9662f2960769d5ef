// macOS twin of socket_tuning_linux.cpp, written from <netinet/tcp.h> and
// tcp(4); UNTESTED on a Mac (CI runs Linux only, and only compiles this file
// against our stand-in headers: tools/check-darwin.sh).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "socket_tuning.hpp"

namespace loopgate {

int tune_upstream_socket(int fd, uint32_t unacked_timeout_ms) {
    int interval = 5;
    int count = 3;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) return errno;
#ifdef TCP_RXT_CONNDROPTIME
    // macOS's closest equivalent to TCP_USER_TIMEOUT: drop the connection
    // when retransmissions have gone unanswered this many seconds.
    int seconds = static_cast<int>((unacked_timeout_ms + 999) / 1000);
    if (setsockopt(fd, IPPROTO_TCP, TCP_RXT_CONNDROPTIME, &seconds, sizeof seconds) != 0) return errno;
#else
    (void)unacked_timeout_ms;
#endif
    return 0;
}

}  // namespace loopgate
