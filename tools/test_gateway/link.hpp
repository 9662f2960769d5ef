// One accepted socket, with or without TLS on top: blocking reads and writes, read timeouts, and
// the graceful end of a connection.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace test_gateway {

using Clock = std::chrono::steady_clock;

class Link {
public:
    explicit Link(int fd) : fd_(fd) {}
    // Frees the TLS state and closes the socket.
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // Runs the server side of the TLS handshake; on failure handshake_error() says why.
    bool tls_handshake(SSL_CTX* tls);
    const std::string& handshake_error() const { return handshake_error_; }
    SSL* ssl() const { return ssl_; }  // null for a plain connection

    // Returns the number of bytes read; 0 means the peer is gone, the read failed or timed out.
    size_t read_some(uint8_t* buffer, size_t capacity);
    bool write_all(const uint8_t* data, size_t length);

    // True when a read would return without waiting, so output may stay buffered a little longer.
    bool input_ready() const;
    // Blocks until a read would not wait (input, end of stream or an error) or until `stop_fd`
    // becomes readable; false means the stop came first.
    bool wait_for_input_unless(int stop_fd) const;
    // nullopt: reads block forever.
    void set_read_timeout(std::optional<Clock::duration> limit);

    // Ends the connection the polite way: TLS close_notify, TCP FIN, then read whatever the peer
    // still sends until it closes too (for at most 2 s).
    void finish();

private:
    size_t tls_read(uint8_t* buffer, size_t capacity);
    bool tls_write_all(const uint8_t* data, size_t length);

    int fd_;
    SSL* ssl_ = nullptr;
    bool tls_broken_ = false;
    bool has_read_timeout_ = false;
    std::string handshake_error_;
};

}  // namespace test_gateway
