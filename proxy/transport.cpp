#include "transport.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>

#include <cstring>

#include "log.hpp"
#include "socket_tuning.hpp"
#include "tls_context.hpp"
#include "unix_socket.hpp"

namespace loopgate {
namespace {

// Reads are processed synchronously and copied out before the next read, so
// one buffer serves every connection on the loop's thread.
thread_local char t_read_buffer[kChunkBytes];
thread_local char t_plain_buffer[kChunkBytes];

thread_local Transport* t_all = nullptr;
thread_local bool t_close_promptly = false;

std::string address_text(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        port = ntohs(sin->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        port = ntohs(sin6->sin6_port);
        return std::string("[") + host + "]:" + std::to_string(port);
    }
    return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Transport* Transport::create(uv_loop_t* loop, Handler* handler, Kind kind) {
    return new Transport(loop, handler, kind);
}

Transport::Transport(uv_loop_t* loop, Handler* handler, Kind kind) : kind_(kind), handler_(handler) {
    next_ = t_all;
    if (next_ != nullptr) next_->prev_ = this;
    t_all = this;
    if (kind == Kind::unix_socket) uv_pipe_init(loop, &pipe_, 0);
    else uv_tcp_init(loop, &tcp_);
    uv_timer_init(loop, &timer_);
    tcp_.data = this;
    timer_.data = this;
    connect_req_.data = this;
    shutdown_req_.data = this;
}

Transport::~Transport() {
    if (prev_ != nullptr) prev_->next_ = next_;
    else t_all = next_;
    if (next_ != nullptr) next_->prev_ = prev_;
    while (pending_head_ != nullptr) {
        Chunk* next = pending_head_->next;
        chunk_release(pending_head_);
        pending_head_ = next;
    }
    if (ssl_ != nullptr) SSL_free(ssl_);
}

void Transport::set_socket_options() {
    if (kind_ == Kind::unix_socket) {
        uv_os_fd_t fd;
        peer_ = uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) == 0 ? describe_unix_peer(fd) : "unix";
        return;
    }
    uv_tcp_nodelay(&tcp_, 1);
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) peer_ = address_text(ss);
}

int Transport::accept_from(uv_stream_t* server) {
    int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
    if (rc == 0) set_socket_options();
    return rc;
}

int Transport::adopt(uv_os_sock_t fd) {
    int rc = kind_ == Kind::unix_socket ? uv_pipe_open(&pipe_, fd) : uv_tcp_open(&tcp_, fd);
    if (rc == 0) set_socket_options();
    return rc;
}

int Transport::connect(const sockaddr_in& addr) {
    sockaddr_storage ss{};
    std::memcpy(&ss, &addr, sizeof addr);
    peer_ = address_text(ss);
    return uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), on_connect);
}

void Transport::use_tls(SSL* ssl) {
    ssl_ = ssl;
    rbio_ = BIO_new(BIO_s_mem());
    wbio_ = BIO_new(BIO_s_mem());
    // An empty memory BIO reports "retry" rather than EOF.
    BIO_set_mem_eof_return(rbio_, -1);
    SSL_set_bio(ssl_, rbio_, wbio_);
}

void Transport::on_connect(uv_connect_t* req, int status) {
    auto* self = static_cast<Transport*>(req->data);
    if (self->phase_ != Phase::open || self->handler_ == nullptr) return;
    if (status == 0) {
        self->set_socket_options();
        uv_tcp_keepalive(&self->tcp_, 1, 15);
        uv_os_fd_t fd;
        if (self->unacked_timeout_ms_ > 0 && uv_fileno(reinterpret_cast<uv_handle_t*>(&self->tcp_), &fd) == 0) {
            if (int err = tune_upstream_socket(fd, self->unacked_timeout_ms_)) {
                log::debug("socket tuning failed").kv("peer", self->peer_).kv("error", uv_strerror(-err));
            }
        }
        if (self->ssl_ != nullptr) {
            self->read_start();
            self->drive_tls();  // sends the ClientHello
            if (self->handler_ == nullptr || self->ended_) return;
        }
    }
    self->handler_->on_transport_connected(*self, status);
}

void Transport::read_start() {
    want_read_ = true;
    if (phase_ == Phase::closing || ended_) return;
    if (!uv_reading_) {
        uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read);
        uv_reading_ = true;
    }
    // OpenSSL may hold decrypted bytes we stopped taking; hand them over on
    // the next loop turn, never from inside the owner's own call.
    if (ssl_ != nullptr && handshake_done_) schedule_tls_drain();
}

void Transport::read_stop() {
    want_read_ = false;
    if (phase_ != Phase::open) return;  // while ending we keep reading to drain the peer
    if (uv_reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        uv_reading_ = false;
    }
}

void Transport::schedule_tls_drain() {
    uv_timer_start(
        &timer_,
        [](uv_timer_t* t) {
            auto* self = static_cast<Transport*>(t->data);
            if (self->phase_ == Phase::open && self->want_read_) self->drive_tls();
        },
        0, 0);
}

void Transport::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) { *buf = uv_buf_init(t_read_buffer, sizeof t_read_buffer); }

void Transport::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<Transport*>(stream->data);
    if (nread == 0) return;
    if (self->phase_ == Phase::ending) {
        // Draining the peer after our FIN: discard, and close at its EOF.
        if (nread < 0) self->close();
        return;
    }
    if (self->phase_ != Phase::open) return;
    if (nread < 0) {
        if (nread == UV_EOF) {
            if (self->ssl_ != nullptr && !self->handshake_done_) {
                self->deliver_end(End::Kind::tls_error, "upstream closed the connection during the TLS handshake");
            } else {
                self->deliver_end(End::Kind::eof, "");
            }
        } else {
            self->deliver_end(End::Kind::io_error, uv_strerror(static_cast<int>(nread)));
        }
        return;
    }
    if (self->ssl_ != nullptr) {
        self->handle_ciphertext(buf->base, static_cast<size_t>(nread));
    } else if (self->handler_ != nullptr) {
        self->handler_->on_transport_data(*self, buf->base, static_cast<size_t>(nread));
    }
}

void Transport::handle_ciphertext(const char* data, size_t len) {
    BIO_write(rbio_, data, static_cast<int>(len));
    drive_tls();
}

void Transport::drive_tls() {
    if (!handshake_done_) {
        ERR_clear_error();
        int rc = SSL_do_handshake(ssl_);
        flush_tls_output();
        if (rc != 1) {
            int err = SSL_get_error(ssl_, rc);
            if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return;
            bool is_verify = false;
            std::string why = tls::describe_failure(ssl_, err, is_verify);
            ERR_clear_error();
            deliver_end(is_verify ? End::Kind::verify_error : End::Kind::tls_error, why);
            return;
        }
        handshake_done_ = true;
        if (handler_ == nullptr) return;
        handler_->on_transport_tls_ready(*this);
    }
    while (phase_ == Phase::open && handler_ != nullptr && want_read_) {
        // SSL_read returns one record (<= 16 KiB) at a time: gather what is
        // already decrypted into one buffer, so the owner forwards it with
        // one write instead of one per record.
        size_t filled = 0;
        int err = SSL_ERROR_NONE;
        while (filled < sizeof t_plain_buffer) {
            ERR_clear_error();
            int n = SSL_read(ssl_, t_plain_buffer + filled, static_cast<int>(sizeof t_plain_buffer - filled));
            if (n <= 0) {
                err = SSL_get_error(ssl_, n);
                break;
            }
            filled += static_cast<size_t>(n);
        }
        if (filled > 0) handler_->on_transport_data(*this, t_plain_buffer, filled);
        if (err == SSL_ERROR_NONE) continue;  // the buffer filled up: there may be more
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
        if (phase_ != Phase::open || handler_ == nullptr) break;  // the owner let go meanwhile
        if (err == SSL_ERROR_ZERO_RETURN) {
            deliver_end(End::Kind::eof, "");
        } else {
            bool is_verify = false;
            std::string why = tls::describe_failure(ssl_, err, is_verify);
            ERR_clear_error();
            deliver_end(End::Kind::tls_error, why);
        }
        break;
    }
    if (phase_ == Phase::open) flush_tls_output();  // SSL_read may answer (key updates, alerts)
}

void Transport::deliver_end(End::Kind kind, std::string detail) {
    if (ended_) return;
    ended_ = true;
    if (uv_reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        uv_reading_ = false;
    }
    if (handler_ != nullptr) handler_->on_transport_end(*this, End{kind, std::move(detail)});
}

void Transport::write(const char* data, size_t len) {
    if (phase_ != Phase::open) return;
    while (len > 0) {
        if (pending_tail_ == nullptr || pending_tail_->len == kChunkBytes) {
            Chunk* chunk = chunk_acquire();
            if (pending_tail_ != nullptr) pending_tail_->next = chunk;
            else pending_head_ = chunk;
            pending_tail_ = chunk;
        }
        size_t room = kChunkBytes - pending_tail_->len;
        size_t take = len < room ? len : room;
        std::memcpy(pending_tail_->data + pending_tail_->len, data, take);
        pending_tail_->len += static_cast<uint32_t>(take);
        queued_ += take;
        data += take;
        len -= take;
    }
}

void Transport::flush() {
    if (phase_ == Phase::closing) return;
    while (pending_head_ != nullptr) {
        Chunk* chunk = pending_head_;
        pending_head_ = chunk->next;
        if (pending_head_ == nullptr) pending_tail_ = nullptr;
        chunk->next = nullptr;
        queued_ -= chunk->len;
        if (ssl_ == nullptr) {
            submit(chunk);
            continue;
        }
        ERR_clear_error();
        // Memory BIOs never block, so SSL_write takes the whole chunk at once.
        SSL_write(ssl_, chunk->data, static_cast<int>(chunk->len));
        chunk_release(chunk);
    }
    if (ssl_ != nullptr) flush_tls_output();
    if (backlog() >= kHighWater) drain_wanted_ = true;
}

void Transport::flush_tls_output() {
    while (BIO_ctrl_pending(wbio_) > 0) {
        Chunk* chunk = chunk_acquire();
        int n = BIO_read(wbio_, chunk->data, static_cast<int>(kChunkBytes));
        if (n <= 0) {
            chunk_release(chunk);
            break;
        }
        chunk->len = static_cast<uint32_t>(n);
        submit(chunk);
    }
}

void Transport::submit(Chunk* chunk) {
    chunk->owner = this;
    chunk->req.data = chunk;
    uv_buf_t buf = uv_buf_init(chunk->data, chunk->len);
    backlog_ += chunk->len;
    int rc = uv_write(&chunk->req, reinterpret_cast<uv_stream_t*>(&tcp_), &buf, 1, on_write);
    if (rc != 0) {
        // Reported from the loop, not from inside the owner's call.
        backlog_ -= chunk->len;
        chunk_release(chunk);
        if (phase_ == Phase::open && !ended_) {
            uv_timer_start(
                &timer_,
                [](uv_timer_t* t) {
                    auto* self = static_cast<Transport*>(t->data);
                    if (self->phase_ == Phase::open) self->deliver_end(End::Kind::io_error, "write failed");
                    else self->close();
                },
                0, 0);
        }
    }
}

void Transport::on_write(uv_write_t* req, int status) {
    auto* chunk = static_cast<Chunk*>(req->data);
    auto* self = static_cast<Transport*>(chunk->owner);
    self->backlog_ -= chunk->len;
    chunk_release(chunk);
    if (self->phase_ == Phase::closing) return;
    if (status < 0) {
        if (self->phase_ == Phase::ending) self->close();
        else self->deliver_end(End::Kind::io_error, uv_strerror(status));
        return;
    }
    if (self->phase_ == Phase::ending) {
        self->maybe_shutdown();
        return;
    }
    if (self->drain_wanted_ && self->backlog() <= kLowWater) {
        self->drain_wanted_ = false;
        if (self->handler_ != nullptr) self->handler_->on_transport_drained(*self);
    }
}

void Transport::end(uint64_t linger_ms) {
    if (phase_ != Phase::open) return;
    flush();
    if (ssl_ != nullptr && handshake_done_) {
        ERR_clear_error();
        SSL_shutdown(ssl_);  // queue close_notify
        flush_tls_output();
    }
    handler_ = nullptr;
    phase_ = Phase::ending;
    uv_timer_start(
        &timer_, [](uv_timer_t* t) { static_cast<Transport*>(t->data)->close(); }, linger_ms, 0);
    if (!ended_ && !uv_reading_) {
        uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read);
        uv_reading_ = true;
    }
    maybe_shutdown();
}

void Transport::maybe_shutdown() {
    if (shutdown_sent_ || backlog_ != 0) return;
    shutdown_sent_ = true;
    int rc = uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), on_shutdown);
    if (rc != 0) close();
}

void Transport::on_shutdown(uv_shutdown_t* req, int status) {
    auto* self = static_cast<Transport*>(req->data);
    if (self->phase_ != Phase::ending) return;
    self->fin_written_ = status == 0;
    // After our FIN, wait for the peer's (read side) unless it already went.
    if (status < 0 || self->ended_ || t_close_promptly) self->close();
}

void Transport::close_promptly_from_now_on() {
    t_close_promptly = true;
    for (Transport* t = t_all; t != nullptr; t = t->next_) {
        if (t->phase_ == Phase::ending && t->fin_written_) t->close();
    }
}

void Transport::close_all() {
    for (Transport* t = t_all; t != nullptr; t = t->next_) t->close();
}

void Transport::close() {
    if (phase_ == Phase::closing) return;
    phase_ = Phase::closing;
    handler_ = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), on_close);
}

void Transport::on_close(uv_handle_t* handle) {
    auto* self = static_cast<Transport*>(handle->data);
    if (--self->open_handles_ == 0) delete self;
}

}  // namespace loopgate
