#include "path_check.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "handshake.hpp"
#include "loopgate_version.h"
#include "transport.hpp"
#include "upgrade_response.hpp"
#include "ws_frame.hpp"

namespace loopgate {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAttemptEvery{100};
constexpr milliseconds kAskAgentEvery{500};
constexpr size_t kMaxRefusalBody = 4096;
// A closed peer must not kill setup with SIGPIPE: Linux says so per send,
// macOS per socket (SO_NOSIGPIPE).
#if defined(MSG_NOSIGNAL)
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

// "500 ms", "2 s", "1.5 s": a bound as a person reads it.
std::string duration_text(milliseconds bound) {
    if (bound < std::chrono::seconds(1)) return std::to_string(bound.count()) + " ms";
    char text[32];
    std::snprintf(text, sizeof text, "%g s", std::chrono::duration<double>(bound).count());
    return text;
}

int ms_left(PathClock::time_point deadline) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - PathClock::now()).count();
    return left > 0 ? static_cast<int>(left) : 0;
}

std::string request_text(const http::Request& request) {
    std::string text = request.method + " " + request.target + " HTTP/1.1\r\n";
    for (const auto& h : request.headers.list()) text += h.name + ": " + h.value + "\r\n";
    return text + "\r\n";
}

// After a 101: a masked close 1000, then whatever comes until the other side closes (bounded).
void close_upgraded(LoopbackConnection& socket, std::string_view command) {
    char frame[ws::kMaxControlFrameBytes];
    std::string reason = "loopgate " + std::string(command);
    size_t n = ws::build_close_frame(frame, ws::kNormal, reason, /*masked=*/true);
    auto deadline = PathClock::now() + milliseconds(2000);
    if (!socket.send_all(std::string_view(frame, n), deadline)) return;
    char buffer[1024];
    while (socket.receive(buffer, sizeof buffer, deadline) > 0) {
    }
}

PathAnswer answer_of(const UpgradeResponse& response, UpgradeResponse::Verdict verdict) {
    PathAnswer answer;
    const http::Response& head = response.response();
    answer.status = head.status;
    answer.reason = head.reason;
    if (verdict == UpgradeResponse::Verdict::upgraded) {
        answer.kind = PathAnswer::Kind::upgraded;
    } else if (verdict == UpgradeResponse::Verdict::refused) {
        answer.kind = PathAnswer::Kind::refused;
        answer.body_line = head.body.substr(0, head.body.find('\n'));
        answer.from_loopgate = head.body.starts_with("loopgate: ");
        if (answer.from_loopgate) answer.body_line.erase(0, 10);
    } else {
        answer.failure = response.failure();
    }
    return answer;
}

}  // namespace

ListenerWait wait_for_listener(const ListenerWaitHooks& hooks, milliseconds limit) {
    const auto start = hooks.now();
    auto next_ask = start;
    while (true) {
        if (hooks.accepts()) return {true, ""};
        auto now = hooks.now();
        if (now >= next_ask) {
            if (auto gone = hooks.agent_gone()) return {false, *gone};
            next_ask = now + kAskAgentEvery;
        }
        if (now - start >= limit) return {false, "nothing accepted connections within " + duration_text(limit)};
        hooks.sleep(kAttemptEvery);
    }
}

std::unique_ptr<LoopbackConnection> LoopbackConnection::open(uint16_t port, milliseconds timeout,
                                                             std::string* why) {
    auto said = [&](std::string text) {
        if (why != nullptr) *why = std::move(text);
        return nullptr;
    };
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return said(std::string("socket: ") + std::strerror(errno));
    std::unique_ptr<LoopbackConnection> connection(new LoopbackConnection(fd, port));
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
#if defined(SO_NOSIGPIPE)
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &on, sizeof on);
#endif
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return connection;
    if (errno != EINPROGRESS) return said(std::strerror(errno));
    if (!connection->wait(POLLOUT, PathClock::now() + timeout)) return said("no answer to the connection");
    int error = 0;
    socklen_t len = sizeof error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return said(std::strerror(error));
    return connection;
}

LoopbackConnection::~LoopbackConnection() { ::close(fd_); }

bool LoopbackConnection::send_all(std::string_view data, PathClock::time_point deadline) {
    while (!data.empty()) {
        ssize_t n = ::send(fd_, data.data(), data.size(), kSendFlags);
        if (n > 0) {
            data.remove_prefix(static_cast<size_t>(n));
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait(POLLOUT, deadline)) return false;
        } else {
            return false;
        }
    }
    return true;
}

long LoopbackConnection::receive(char* buffer, size_t size, PathClock::time_point deadline) {
    while (true) {
        ssize_t n = ::recv(fd_, buffer, size, 0);
        if (n >= 0) return static_cast<long>(n);
        if (errno != EAGAIN && errno != EINTR) return -1;
        if (!wait(POLLIN, deadline)) return -1;
    }
}

bool LoopbackConnection::wait(short events, PathClock::time_point deadline) {
    while (true) {
        pollfd p{fd_, events, 0};
        int ready = ::poll(&p, 1, ms_left(deadline));
        if (ready > 0) return true;
        if (ready == 0) errno = ETIMEDOUT;  // what the caller tells, not an earlier call's EAGAIN
        if (ready == 0 || errno != EINTR) return false;
    }
}

PathAnswer upgrade_through(LoopbackConnection& socket, milliseconds timeout, std::string_view command) {
    const auto deadline = PathClock::now() + timeout;
    const std::string address = "127.0.0.1:" + std::to_string(socket.port());
    PathAnswer answer;
    http::Request request =
        handshake::new_client_request(address, "/", "loopgate-" + std::string(command) + "/" + LOOPGATE_VERSION);
    if (!socket.send_all(request_text(request), deadline)) {
        answer.failure = "cannot send the upgrade request to " + address +
                         (errno == ETIMEDOUT ? " within " + duration_text(timeout) : ": " + std::string(std::strerror(errno)));
        return answer;
    }
    UpgradeResponse response(kMaxRefusalBody, "loopgate", address);
    char buffer[4096];
    while (true) {
        long n = socket.receive(buffer, sizeof buffer, deadline);
        UpgradeResponse::Verdict verdict = UpgradeResponse::Verdict::need_more;
        if (n > 0) {
            verdict = response.feed(buffer, static_cast<size_t>(n), request);
        } else if (n == 0) {
            verdict = response.end(Transport::End{Transport::End::Kind::eof, "", true});
        } else {
            answer.failure = errno == ETIMEDOUT ? "no answer through " + address + " within " + duration_text(timeout)
                                                : "reading from " + address + ": " + std::strerror(errno);
            return answer;
        }
        if (verdict == UpgradeResponse::Verdict::need_more) continue;
        answer = answer_of(response, verdict);
        if (verdict == UpgradeResponse::Verdict::upgraded) close_upgraded(socket, command);
        return answer;
    }
}

namespace {

// The gateway's words on a person's terminal: control bytes (an escape
// sequence could rewrite the screen) become '?', and a long line is cut.
std::string terminal_safe(std::string_view text) {
    constexpr size_t kMaxBytes = 200;
    std::string safe(text.substr(0, kMaxBytes));
    for (char& c : safe) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
    }
    if (text.size() > kMaxBytes) safe += "...";
    return safe;
}

}  // namespace

PathVerdict judge_path(const PathAnswer& answer) {
    std::string status =
        std::to_string(answer.status) + (answer.reason.empty() ? "" : " " + terminal_safe(answer.reason));
    switch (answer.kind) {
    case PathAnswer::Kind::upgraded:
        return {true, status + ": the gateway accepted the WebSocket upgrade through loopgate"};
    case PathAnswer::Kind::refused:
        if ((answer.status == 401 || answer.status == 403) && !answer.from_loopgate) {
            return {true, status + " from the gateway: it wants credentials (a token) that your app sends; "
                                   "the path through loopgate works"};
        }
        return {false, (answer.from_loopgate ? "loopgate answered " : "the gateway answered ") + status +
                           (answer.body_line.empty() ? "" : ": " + terminal_safe(answer.body_line))};
    case PathAnswer::Kind::failed: break;
    }
    return {false, answer.failure};
}

}  // namespace loopgate
