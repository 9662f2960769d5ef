// The benchmark's TLS WebSocket echo upstream: one libuv loop per thread, each
// with its own listening socket on the same port (SO_REUSEPORT), OpenSSL
// straight over each socket. It counts handshakes and how many of them
// resumed a session (SSL_session_reused), which the benchmark reads to tell
// how well each proxy resumes its upstream sessions.
#pragma once

#include <openssl/ssl.h>
#include <uv.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <vector>

namespace bench {

class EchoConnection;

// Shared by every thread's server; read by the main thread on SIGUSR1.
struct EchoStats {
    std::atomic<uint64_t> accepted{0};
    std::atomic<uint64_t> handshakes{0};  // completed TLS handshakes
    std::atomic<uint64_t> resumed{0};     // of those, how many resumed a session
    std::atomic<uint64_t> tls13{0};       // of those, how many were TLS 1.3 (the rest 1.2)
    std::atomic<uint64_t> handshake_failures{0};
    std::atomic<uint64_t> upgraded{0};     // 101s sent
    std::atomic<uint64_t> refused{0};      // requests answered 400
    std::atomic<uint64_t> protocol_errors{0};
    std::atomic<uint64_t> frames{0};       // data frames echoed
    std::atomic<uint64_t> bytes{0};        // payload bytes echoed
    std::atomic<uint64_t> active{0};
};

class EchoServer {
public:
    // `ctx` is null for plain ws://.
    EchoServer(uv_loop_t* loop, SSL_CTX* ctx, EchoStats& stats) : loop_(loop), ctx_(ctx), stats_(stats) {}

    // Starts accepting on the bound, listening, non-blocking `fd`.
    int start(int fd);

    uv_loop_t* loop() const { return loop_; }
    EchoStats& stats() { return stats_; }
    // One read buffer for every connection: a read is consumed before the next.
    std::vector<uint8_t>& read_buffer() { return read_buffer_; }

    void linger(EchoConnection* connection);
    void forget(EchoConnection* connection);

private:
    static void on_accept(uv_poll_t* poll, int status, int events);
    static void on_sweep(uv_timer_t* timer);
    void accept_some();

    uv_loop_t* loop_;
    SSL_CTX* ctx_;
    uv_poll_t listen_poll_{};
    uv_timer_t sweep_{};
    int listen_fd_ = -1;
    EchoStats& stats_;
    std::vector<uint8_t> read_buffer_ = std::vector<uint8_t>(256 * 1024);
    std::set<EchoConnection*> lingering_;
};

}  // namespace bench
