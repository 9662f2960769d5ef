#include "link.hpp"

#include <openssl/err.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "live_connections.hpp"
#include "log.hpp"

namespace test_gateway {
namespace {

using namespace std::chrono_literals;

constexpr auto kLingerTimeout = 2s;

#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

}  // namespace

Link::~Link() {
    if (ssl_) SSL_free(ssl_);
    g_live.forget_socket(fd_);
    ::close(fd_);
}

bool Link::tls_handshake(SSL_CTX* tls) {
    ssl_ = SSL_new(tls);
    if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
        tls_broken_ = true;
        handshake_error_ = "cannot set up TLS: " + openssl_error_text();
        return false;
    }
    ERR_clear_error();
    int result = SSL_accept(ssl_);
    if (result == 1) return true;
    tls_broken_ = true;
    int error = SSL_get_error(ssl_, result);
    handshake_error_ = error == SSL_ERROR_WANT_READ ? "timed out" : openssl_error_text();
    return false;
}

size_t Link::read_some(uint8_t* buffer, size_t capacity) {
    if (ssl_) return tls_read(buffer, capacity);
    for (;;) {
        ssize_t n = ::recv(fd_, buffer, capacity, 0);
        if (n >= 0) return static_cast<size_t>(n);
        if (errno != EINTR) return 0;
    }
}

bool Link::write_all(const uint8_t* data, size_t length) {
    if (ssl_) return tls_write_all(data, length);
    while (length > 0) {
        ssize_t n = ::send(fd_, data, length, kSendFlags);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        length -= static_cast<size_t>(n);
    }
    return true;
}

bool Link::input_ready() const {
    if (ssl_ && SSL_pending(ssl_) > 0) return true;
    pollfd poller{fd_, POLLIN, 0};
    return ::poll(&poller, 1, 0) > 0;
}

bool Link::wait_for_input_unless(int stop_fd) const {
    if (input_ready()) return true;
    for (;;) {
        pollfd pollers[2] = {{fd_, POLLIN, 0}, {stop_fd, POLLIN, 0}};
        if (::poll(pollers, 2, -1) >= 0) return pollers[0].revents != 0 || pollers[1].revents == 0;
        if (errno != EINTR) return true;  // let the read itself report the problem
    }
}

// A zero timeval would mean "no limit" to the kernel, so a vanishingly small limit is rounded up
// to one millisecond.
void Link::set_read_timeout(std::optional<Clock::duration> limit) {
    if (!limit && !has_read_timeout_) return;
    timeval tv{};
    if (limit) {
        auto micros = std::max<int64_t>(1000, std::chrono::duration_cast<std::chrono::microseconds>(*limit).count());
        tv.tv_sec = static_cast<time_t>(micros / 1000000);
        tv.tv_usec = static_cast<suseconds_t>(micros % 1000000);
    }
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    has_read_timeout_ = limit.has_value();
}

// Closing with unread input would make the kernel answer with a reset, and a reset can destroy
// our last frames before the client has read them.
void Link::finish() {
    if (ssl_ && !tls_broken_) {
        ERR_clear_error();
        SSL_shutdown(ssl_);
    }
    ::shutdown(fd_, SHUT_WR);
    auto deadline = Clock::now() + kLingerTimeout;
    uint8_t scratch[16384];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        pollfd poller{fd_, POLLIN, 0};
        if (left <= 0 || ::poll(&poller, 1, static_cast<int>(left)) <= 0) return;
        ssize_t n = ::recv(fd_, scratch, sizeof scratch, 0);
        if (n == 0 || (n < 0 && errno != EINTR)) return;
    }
}

size_t Link::tls_read(uint8_t* buffer, size_t capacity) {
    ERR_clear_error();
    size_t n = 0;
    if (SSL_read_ex(ssl_, buffer, capacity, &n) == 1) return n;
    int error = SSL_get_error(ssl_, 0);
    if (error == SSL_ERROR_SSL || error == SSL_ERROR_SYSCALL) tls_broken_ = true;
    return 0;
}

bool Link::tls_write_all(const uint8_t* data, size_t length) {
    while (length > 0) {
        ERR_clear_error();
        size_t n = 0;
        if (SSL_write_ex(ssl_, data, length, &n) != 1) {
            tls_broken_ = true;
            return false;
        }
        data += n;
        length -= n;
    }
    return true;
}

}  // namespace test_gateway
