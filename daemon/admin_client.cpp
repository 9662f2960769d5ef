#include "admin_client.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "exit_status.hpp"

namespace loopgate {
namespace {

constexpr int kTimeoutSeconds = 5;
// A daemon that closes early must not kill the CLI with SIGPIPE: Linux says
// so per send, macOS per socket (SO_NOSIGPIPE, set in connect_to).
#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

// A connected socket to the admin endpoint, or -1 with `error` set.
int connect_to(const config::ListenAddress& listen, std::string& error) {
    bool unix_socket = listen.is_unix();
    // Not SOCK_CLOEXEC in the type: macOS has no such flag.
    int fd = ::socket(unix_socket ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        error = std::strerror(errno);
        return -1;
    }
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
#if defined(SO_NOSIGPIPE)
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
    timeval timeout{kTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    int rc;
    if (unix_socket) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", listen.unix_path.c_str());
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } else {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(listen.port);
        inet_pton(AF_INET, listen.host.c_str(), &addr.sin_addr);
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    }
    if (rc != 0) {
        error = std::strerror(errno);
        ::close(fd);
        return -1;
    }
    return fd;
}

AdminReply ask(const config::ListenAddress& listen, const char* method, const char* path) {
    AdminReply reply = admin_request(listen, method, path);
    if (reply.status == 0) {
        std::fprintf(stderr, "loopgate: %s%s\n", reply.error.c_str(), reply.connected ? "" : " (is loopgate running?)");
    }
    return reply;
}

bool has_admin(const std::optional<config::ListenAddress>& admin) {
    if (admin) return true;
    std::fprintf(stderr,
                 "loopgate: the config has no admin endpoint; add \"admin\": {\"listen\": \"127.0.0.1:18790\"} "
                 "and reload (kill -HUP) or restart loopgate\n");
    return false;
}

// 200 → ok, 503/409 → the daemon's "no", anything else → no usable answer.
int outcome(const AdminReply& reply, int no_status) {
    if (reply.status == 0) return kExitUnavailable;
    std::fwrite(reply.body.data(), 1, reply.body.size(), reply.status == 200 ? stdout : stderr);
    if (reply.status == 200) return kExitOk;
    if (reply.status == no_status) return kExitFailure;
    std::fprintf(stderr, "loopgate: the admin endpoint answered %d\n", reply.status);
    return kExitUnavailable;
}

}  // namespace

AdminReply admin_request(const config::ListenAddress& listen, const char* method, const char* path) {
    AdminReply reply;
    std::string error;
    int fd = connect_to(listen, error);
    if (fd < 0) {
        reply.error = "no answer from the admin endpoint at " + listen.text() + ": " + error;
        return reply;
    }
    reply.connected = true;
    std::string host = listen.is_unix() ? "localhost" : listen.host + ":" + std::to_string(listen.port);
    std::string request = std::string(method) + " " + path + " HTTP/1.1\r\nHost: " + host +
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    std::string response;
    bool sent = ::send(fd, request.data(), request.size(), kSendFlags) == static_cast<ssize_t>(request.size());
    char buffer[16384];
    for (ssize_t n; sent && (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) response.append(buffer, size_t(n));
    ::close(fd);
    size_t body = response.find("\r\n\r\n");
    if (body == std::string::npos || std::sscanf(response.c_str(), "HTTP/1.1 %d", &reply.status) != 1) {
        reply.status = 0;
        reply.error = "the admin endpoint at " + listen.text() + " gave no answer loopgate understands";
        return reply;
    }
    reply.body = response.substr(body + 4);
    return reply;
}

std::optional<std::string> try_connect(const config::ListenAddress& address, int hold_ms) {
    std::string error;
    int fd = connect_to(address, error);
    if (fd < 0) return error;
    pollfd held{fd, POLLIN, 0};
    while (::poll(&held, 1, hold_ms) < 0 && errno == EINTR) {
    }
    ::close(fd);
    return std::nullopt;
}

int run_status(const std::optional<config::ListenAddress>& admin) {
    if (!has_admin(admin)) return kExitConfig;
    AdminReply reply = ask(*admin, "GET", "/status.txt");
    if (reply.status == 503) {  // a route is down: still the report a person wants, on stdout
        std::fwrite(reply.body.data(), 1, reply.body.size(), stdout);
        return kExitFailure;
    }
    return outcome(reply, 503);
}

int run_reload(const std::optional<config::ListenAddress>& admin) {
    if (!has_admin(admin)) return kExitConfig;
    return outcome(ask(*admin, "POST", "/reload"), 409);
}

}  // namespace loopgate
