#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include "socket_tuning.hpp"

namespace loopgate {

int tune_upstream_socket(int fd, uint32_t unacked_timeout_ms) {
    // Idle connections: probe after 15 s (libuv sets TCP_KEEPIDLE), then every
    // 5 s, give up after 3 unanswered probes.
    int interval = 5;
    int count = 3;
    // TCP_USER_TIMEOUT (tcp(7)): data unacknowledged this long kills the
    // connection instead of retransmitting for ~15 minutes.
    unsigned int user_timeout = unacked_timeout_ms;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count) != 0) return errno;
    if (setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout) != 0) return errno;
    return 0;
}

}  // namespace loopgate
