#include "transport.hpp"


#include <cstring>

#include "address_text.hpp"
#include "log.hpp"
#include "socket_tuning.hpp"

namespace loopgate {
namespace {

// Reads are processed synchronously and copied out before the next read, so
// one buffer serves every connection on the loop's thread.
thread_local char t_read_buffer[kChunkBytes];

// Chunks offered to one writev or uv_write: 1 MiB, the high-water mark.
constexpr size_t kMaxWriteBufs = 16;


}  // namespace

Transport* Transport::create(uv_loop_t* loop, Handler* handler, Kind kind, TransportSet* set) {
    return new Transport(loop, handler, kind, set);
}

Transport::Transport(uv_loop_t* loop, Handler* handler, Kind kind, TransportSet* set)
    : set_(set), kind_(kind), handler_(handler) {
    if (set_ != nullptr) {
        next_ = set_->head_;
        if (next_ != nullptr) next_->prev_ = this;
        set_->head_ = this;
    }
    // libuv fails these only for invalid arguments; should one fail anyway,
    // every later call on the transport reports it instead of using a dead handle.
    init_error_ = kind == Kind::unix_socket ? uv_pipe_init(loop, &pipe_, 0) : uv_tcp_init(loop, &tcp_);
    if (int rc = uv_timer_init(loop, &timer_); rc != 0 && init_error_ == 0) init_error_ = rc;
    if (init_error_ != 0) log::error("cannot set up a connection handle").kv("error", uv_strerror(init_error_));
    tcp_.data = this;
    timer_.data = this;
    connect_req_.data = this;
    shutdown_req_.data = this;
}

Transport::~Transport() {
    if (set_ != nullptr) {
        if (prev_ != nullptr) prev_->next_ = next_;
        else set_->head_ = next_;
        if (next_ != nullptr) next_->prev_ = prev_;
    }
    if (ssl_ != nullptr) SSL_free(ssl_);
}

void Transport::set_socket_options() {
    if (kind_ == Kind::unix_socket) {
        uv_os_fd_t fd;
        peer_ = uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) == 0 ? unix_peer_text(fd) : "unix";
        return;
    }
    if (int rc = uv_tcp_nodelay(&tcp_, 1)) log::debug("TCP_NODELAY failed").kv("error", uv_strerror(rc));
    sockaddr_storage ss{};
    int len = sizeof ss;
    if (int rc = uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len); rc == 0) {
        peer_ = address_text(ss);
    } else if (peer_.empty()) {
        peer_ = std::string("unknown peer (") + uv_strerror(rc) + ")";
    }
}

int Transport::tcp_ends(sockaddr_in& local, sockaddr_in& peer) const {
    if (init_error_ != 0) return init_error_;
    if (kind_ != Kind::tcp) return UV_EINVAL;
    sockaddr_storage mine{};
    sockaddr_storage theirs{};
    int mine_len = sizeof mine;
    int theirs_len = sizeof theirs;
    if (int rc = uv_tcp_getsockname(&tcp_, reinterpret_cast<sockaddr*>(&mine), &mine_len)) return rc;
    if (int rc = uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&theirs), &theirs_len)) return rc;
    if (mine.ss_family != AF_INET || theirs.ss_family != AF_INET) return UV_EINVAL;
    std::memcpy(&local, &mine, sizeof local);
    std::memcpy(&peer, &theirs, sizeof peer);
    return 0;
}

int Transport::accept_from(uv_stream_t* server) {
    if (init_error_ != 0) return init_error_;
    int rc = uv_accept(server, reinterpret_cast<uv_stream_t*>(&tcp_));
    if (rc == 0) set_socket_options();
    return rc;
}

int Transport::adopt(uv_os_sock_t fd) {
    if (init_error_ != 0) return init_error_;
    int rc = kind_ == Kind::unix_socket ? uv_pipe_open(&pipe_, fd) : uv_tcp_open(&tcp_, fd);
    if (rc == 0) set_socket_options();
    return rc;
}

int Transport::connect(const sockaddr_in& addr) {
    sockaddr_storage ss{};
    std::memcpy(&ss, &addr, sizeof addr);
    peer_ = address_text(ss);
    if (init_error_ != 0) return init_error_;
    return uv_tcp_connect(&connect_req_, &tcp_, reinterpret_cast<const sockaddr*>(&addr), on_connect);
}

void Transport::on_connect(uv_connect_t* req, int status) {
    auto* self = static_cast<Transport*>(req->data);
    if (self->phase_ != Phase::open || self->handler_ == nullptr) return;
    if (status == 0) {
        self->set_socket_options();
        if (int rc = uv_tcp_keepalive(&self->tcp_, 1, 15)) {
            log::debug("TCP keepalive failed").kv("peer", self->peer_).kv("error", uv_strerror(rc));
        }
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
        if (int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read)) {
            report_later(End::Kind::io_error, std::string("cannot read: ") + uv_strerror(rc));
            return;
        }
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

// The transport's one timer serves three purposes: a failure noticed inside an
// owner's call is reported from the loop; decrypted bytes OpenSSL still holds
// are handed over on the next turn; an ending transport closes at its linger
// deadline. A pending failure report is never replaced by a drain.
void Transport::arm_timer(uint64_t ms) {
    if (int rc = uv_timer_start(&timer_, on_timer, ms, 0)) {
        log::error("cannot start a timer").kv("peer", peer_).kv("error", uv_strerror(rc));
    }
}

void Transport::on_timer(uv_timer_t* t) {
    auto* self = static_cast<Transport*>(t->data);
    switch (self->phase_) {
    case Phase::open:
        if (self->failure_) {
            End failure = std::move(*self->failure_);
            self->failure_.reset();
            self->deliver_end(failure.kind, std::move(failure.detail), failure.connection_lost);
        } else if (self->want_read_ && self->ssl_ != nullptr) {
            self->drive_tls();
        }
        return;
    case Phase::ending: self->close(); return;  // linger deadline, or a failure while ending
    case Phase::closing: return;
    }
}

void Transport::report_later(End::Kind kind, std::string detail, bool connection_lost) {
    if (!failure_) failure_ = End{kind, std::move(detail), connection_lost};
    arm_timer(0);
}

void Transport::schedule_tls_drain() {
    if (!failure_) arm_timer(0);
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
                self->deliver_end(End::Kind::tls_error, "upstream closed the connection during the TLS handshake", true);
            } else {
                self->deliver_end(End::Kind::eof, "", true);
            }
        } else {
            self->deliver_end(End::Kind::io_error, uv_strerror(static_cast<int>(nread)), true);
        }
        return;
    }
    if (self->ssl_ != nullptr) {
        self->handle_ciphertext(buf->base, static_cast<size_t>(nread));
    } else if (self->handler_ != nullptr) {
        self->handler_->on_transport_data(*self, buf->base, static_cast<size_t>(nread));
    }
}

void Transport::deliver_end(End::Kind kind, std::string detail, bool connection_lost) {
    if (ended_) return;
    ended_ = true;
    if (uv_reading_) {
        uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
        uv_reading_ = false;
    }
    if (handler_ != nullptr) handler_->on_transport_end(*this, End{kind, std::move(detail), connection_lost});
}

void Transport::write(const char* data, size_t len) {
    if (phase_ != Phase::open) return;
    if (ssl_ != nullptr) write_tls(data, len);
    else out_.append(data, len);  // straight to the socket's queue
}

void Transport::flush() {
    if (phase_ == Phase::closing) return;
    if (ssl_ != nullptr) encrypt_plaintext();
    start_output();
    if (backlog() >= kHighWater) drain_wanted_ = true;
}

// What the kernel takes at once is written without a request (uv_try_write:
// no callback, no epoll change); only the rest waits in a uv_write, and
// while it does, later bytes queue behind it in out_.
void Transport::start_output() {
    if (!in_flight_.empty() || phase_ == Phase::closing || out_.empty()) return;  // one uv_write at a time
    if (init_error_ != 0) {
        on_output_failed(init_error_);
        return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
    uv_buf_t bufs[kMaxWriteBufs];
    while (!out_.empty()) {
        size_t n = out_.gather(bufs, kMaxWriteBufs);
        size_t offered = 0;
        for (size_t i = 0; i < n; ++i) offered += bufs[i].len;
        int written = uv_try_write(stream, bufs, static_cast<unsigned>(n));
        if (written == UV_EAGAIN) break;  // full, or still connecting
        if (written < 0) {
            on_output_failed(written);
            return;
        }
        out_.consume(static_cast<size_t>(written));
        if (static_cast<size_t>(written) < offered) break;
    }
    if (out_.empty()) return;
    size_t n = out_.gather(bufs, kMaxWriteBufs);
    out_.move_front(n, in_flight_);
    uv_write_t* req = &in_flight_.front()->req;  // a request only while a write is in flight
    req->data = this;
    if (int rc = uv_write(req, stream, bufs, static_cast<unsigned>(n), on_write); rc != 0) {
        in_flight_.clear();
        on_output_failed(rc);
    }
}

// Reported from the loop, not from inside the owner's call; what is queued
// will never go out.
void Transport::on_output_failed(int uv_error) {
    out_.clear();
    report_later(End::Kind::io_error, std::string("write failed: ") + uv_strerror(uv_error), true);
}

void Transport::on_write(uv_write_t* req, int status) {
    auto* self = static_cast<Transport*>(req->data);
    self->in_flight_.clear();
    if (self->phase_ == Phase::closing) return;
    if (status < 0) {
        self->out_.clear();
        if (self->phase_ == Phase::ending) self->close();
        else self->deliver_end(End::Kind::io_error, uv_strerror(status), true);
        return;
    }
    self->start_output();  // what queued up meanwhile
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
    if (ssl_ != nullptr && handshake_done_) queue_close_notify();
    handler_ = nullptr;
    phase_ = Phase::ending;
    arm_timer(failure_ ? 0 : linger_ms);  // a failed write: nothing more will go out
    if (!ended_ && !uv_reading_) {
        // Drain the peer's last bytes; if that cannot be, the linger deadline still closes it.
        if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read) == 0) uv_reading_ = true;
    }
    maybe_shutdown();
}

void Transport::maybe_shutdown() {
    if (shutdown_sent_ || !output_idle()) return;
    shutdown_sent_ = true;
    int rc = uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), on_shutdown);
    if (rc != 0) close();
}

void Transport::on_shutdown(uv_shutdown_t* req, int status) {
    auto* self = static_cast<Transport*>(req->data);
    if (self->phase_ != Phase::ending) return;
    self->fin_written_ = status == 0;
    // After our FIN, wait for the peer's (read side) unless it already went.
    if (status < 0 || self->ended_ || (self->set_ != nullptr && self->set_->closing_promptly())) self->close();
}

void TransportSet::close_promptly_from_now_on() {
    close_promptly_ = true;
    for (Transport* t = head_; t != nullptr; t = t->next_) {
        if (t->phase_ == Transport::Phase::ending && t->fin_written_) t->close();
    }
}

void TransportSet::close_all() {
    for (Transport* t = head_; t != nullptr; t = t->next_) t->close();
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
