// One TCP connection, optionally carrying TLS (OpenSSL over a BIO of our own
// on the pooled chunks, see transport_tls.cpp), seen by its owner as a
// plaintext byte stream.
//
// Ownership: a Transport owns itself. Its owner talks to it through a raw
// pointer until it calls end() (graceful) or close() (now); from then on the
// Transport calls nothing back, finishes on its own and frees its memory in
// the libuv close callbacks. So an owner may be destroyed at any time after
// handing its transports off, and no callback ever reaches a dead owner.
//
// Callbacks are never made from inside a call the owner makes (connect,
// read_start, write, flush...): they come only from the event loop.
#pragma once

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "buffer_pool.hpp"

namespace loopgate {

class Transport;

// The transports of one data path (a daemon, or one instance in a test), so
// shutdown can reach those that outlived their sessions while lingering. Its
// owner keeps it until every transport in it has closed.
class TransportSet {
public:
    TransportSet() = default;
    TransportSet(const TransportSet&) = delete;
    TransportSet& operator=(const TransportSet&) = delete;

    // Shutdown: from now on an ending transport closes as soon as its last
    // bytes and FIN are written instead of waiting for the peer's FIN.
    void close_promptly_from_now_on();
    // Closes every transport at once (the shutdown deadline).
    void close_all();
    bool closing_promptly() const { return close_promptly_; }

private:
    friend class Transport;
    Transport* head_ = nullptr;
    bool close_promptly_ = false;
};

class Transport {
public:
    // Above this many bytes waiting to be written, the owner should stop
    // reading the other side; on_transport_drained says when it fell to the low mark.
    static constexpr size_t kHighWater = 1 << 20;
    static constexpr size_t kLowWater = 256 << 10;
    // The largest TLS record's plaintext (RFC 8446 5.1).
    static constexpr size_t kTlsRecordBytes = 16384;

    struct End {
        enum class Kind { eof, io_error, tls_error, verify_error };
        Kind kind = Kind::eof;
        std::string detail;
        // The peer went away (FIN, reset, a failed write), as a killed or
        // restarting server does; not a refusal in words (a TLS alert).
        bool connection_lost = false;
    };

    class Handler {
    public:
        virtual void on_transport_connected(Transport&, int /*uv status*/) {}
        virtual void on_transport_tls_ready(Transport&) {}
        virtual void on_transport_data(Transport&, const char* data, size_t len) = 0;
        // The peer closed, the connection failed, or TLS failed. Reading has stopped.
        virtual void on_transport_end(Transport&, const End& end) = 0;
        virtual void on_transport_drained(Transport&) {}

    protected:
        ~Handler() = default;
    };

    // Upstreams are always TCP; an app may also come over a unix socket.
    enum class Kind { tcp, unix_socket };

    // Joins `set` (if any) until it is freed.
    static Transport* create(uv_loop_t* loop, Handler* handler, Kind kind = Kind::tcp, TransportSet* set = nullptr);
    void set_handler(Handler* handler) { handler_ = handler; }

    int accept_from(uv_stream_t* server);
    // Takes a connected socket made elsewhere (a socketpair in tests, a
    // descriptor handed over by a service manager).
    int adopt(uv_os_sock_t fd);
    int connect(const sockaddr_in& addr);
    // Takes ownership of ssl; the client handshake starts once connected.
    // False when its buffers cannot be had (out of memory): the transport is then unusable.
    bool use_tls(SSL* ssl);
    // Upstream sockets: keepalive probes and a bound on unacknowledged data,
    // applied once connected (see socket_tuning.hpp).
    void set_unacked_timeout(uint32_t ms) { unacked_timeout_ms_ = ms; }

    void read_start();
    void read_stop();

    // Queues bytes (copied); flush() sends everything queued: all of it in one
    // writev when the socket takes it, the rest in one uv_write (at most one
    // in flight), which the next writes follow.
    void write(const char* data, size_t len);
    void flush();
    // Bytes accepted by write() and not yet taken by the kernel.
    size_t backlog() const { return plaintext_.size() + out_.size() + in_flight_.size(); }
    bool above_high_water() const { return backlog() >= kHighWater; }

    // Graceful: flush, TLS close_notify, FIN once written, drain the peer's
    // last bytes, then close — or close anyway after linger_ms.
    void end(uint64_t linger_ms);
    // Closes now, dropping anything unsent.
    void close();

    const std::string& peer() const { return peer_; }
    // A TCP connection's two IPv4 ends, as the kernel has them: 0, or a uv
    // error (UV_EINVAL for a unix socket or another family).
    int tcp_ends(sockaddr_in& local, sockaddr_in& peer) const;
    SSL* ssl() const { return ssl_; }

private:
    enum class Phase { open, ending, closing };

    Transport(uv_loop_t* loop, Handler* handler, Kind kind, TransportSet* set);
    ~Transport();

    static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf);
    static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_connect(uv_connect_t* req, int status);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_close(uv_handle_t* handle);
    static void on_timer(uv_timer_t* timer);

    // TLS (transport_tls.cpp): ciphertext in, plaintext to the handler, and back.
    void handle_ciphertext(const char* data, size_t len);
    void drive_tls();
    void write_tls(const char* data, size_t len);
    void encrypt_plaintext();
    bool encrypt(const char* data, size_t len, size_t unsent = 0);
    void queue_close_notify();
    // The BIO OpenSSL reads ciphertext from and writes records to.
    static BIO_METHOD* bio_method();
    static int bio_read(BIO* bio, char* out, int len);
    static int bio_write(BIO* bio, const char* data, int len);
    static long bio_ctrl(BIO* bio, int cmd, long num, void* ptr);

    void deliver_end(End::Kind kind, std::string detail, bool connection_lost = false);
    // A failure noticed inside an owner's call, delivered from the loop.
    void report_later(End::Kind kind, std::string detail, bool connection_lost = false);
    void arm_timer(uint64_t ms);
    // Writes out_ to the socket: what it takes at once, then a uv_write for the rest.
    void start_output();
    void on_output_failed(int uv_error);
    bool output_idle() const { return in_flight_.empty() && out_.empty(); }
    void schedule_tls_drain();
    void maybe_shutdown();
    void set_socket_options();

    friend class TransportSet;
    TransportSet* set_;
    Transport* prev_ = nullptr;  // in set_
    Transport* next_ = nullptr;

    // Both start with libuv's stream fields, so the stream and handle calls
    // below take &tcp_ whichever is in use; TCP-only calls check kind_.
    union {
        uv_tcp_t tcp_;
        uv_pipe_t pipe_;
    };
    Kind kind_;
    uv_timer_t timer_;          // deferred failure report or TLS drain; linger deadline while ending
    uv_connect_t connect_req_;
    uv_shutdown_t shutdown_req_;
    Handler* handler_;
    Phase phase_ = Phase::open;
    int init_error_ = 0;         // a handle that could not be set up (uv error)
    std::optional<End> failure_; // reported by the timer, from the loop
    int open_handles_ = 2;
    bool want_read_ = false;
    bool uv_reading_ = false;
    bool ended_ = false;         // on_transport_end delivered
    bool shutdown_sent_ = false;
    bool fin_written_ = false;
    bool drain_wanted_ = false;  // crossed the high mark; tell the owner at the low mark
    ChunkQueue plaintext_;       // TLS: written by the owner, not yet encrypted
    ChunkQueue out_;             // for the socket (plaintext, or TLS records)
    ChunkQueue in_flight_;       // the chunks of the uv_write in flight (its request in the first); empty: none
    std::string peer_;

    SSL* ssl_ = nullptr;
    // Ciphertext in: the read being handled (read in place, not copied), after
    // what OpenSSL left unread of earlier reads while the owner took no data.
    const char* cipher_in_ = nullptr;
    size_t cipher_in_len_ = 0;
    ChunkQueue cipher_unread_;
    bool handshake_done_ = false;
    uint32_t unacked_timeout_ms_ = 0;
};

}  // namespace loopgate
