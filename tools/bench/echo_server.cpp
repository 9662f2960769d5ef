#include "echo_server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "echo_connection.hpp"

namespace bench {

int EchoServer::start(int fd) {
    listen_fd_ = fd;
    int rc = uv_poll_init(loop_, &listen_poll_, fd);
    if (rc == 0) {
        listen_poll_.data = this;
        rc = uv_poll_start(&listen_poll_, UV_READABLE, on_accept);
    }
    if (rc != 0) return rc;
    uv_timer_init(loop_, &sweep_);
    sweep_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_));
    return 0;
}

void EchoServer::on_accept(uv_poll_t* poll, int status, int) {
    if (status == 0) static_cast<EchoServer*>(poll->data)->accept_some();
}

void EchoServer::accept_some() {
    for (int i = 0; i < 128; ++i) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED) {
                std::fprintf(stderr, "loopgate-bench-echo: accept: %s\n", std::strerror(errno));
            }
            return;
        }
        ++stats_.accepted;
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        SSL* ssl = nullptr;
        if (ctx_ != nullptr) {
            ssl = SSL_new(ctx_);
            if (ssl == nullptr || SSL_set_fd(ssl, fd) != 1) {
                SSL_free(ssl);
                close(fd);
                continue;
            }
            SSL_set_accept_state(ssl);
        }
        (new EchoConnection(*this, fd, ssl))->start();
    }
}

void EchoServer::linger(EchoConnection* connection) {
    lingering_.insert(connection);
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&sweep_))) uv_timer_start(&sweep_, on_sweep, 500, 500);
}

void EchoServer::forget(EchoConnection* connection) { lingering_.erase(connection); }

void EchoServer::on_sweep(uv_timer_t* timer) {
    auto* self = static_cast<EchoServer*>(timer->data);
    const uint64_t now = uv_now(self->loop_);
    std::vector<EchoConnection*> expired;
    for (EchoConnection* connection : self->lingering_) {
        if (connection->linger_deadline() <= now) expired.push_back(connection);
    }
    for (EchoConnection* connection : expired) connection->destroy();
    if (self->lingering_.empty()) uv_timer_stop(timer);
}

}  // namespace bench
