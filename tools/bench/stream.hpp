// One non-blocking socket, plain or TLS. TLS runs OpenSSL straight over the
// file descriptor (a socket BIO): no memory BIO and no copy between, so the
// benchmark's own tools cost as little as a TLS endpoint can.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace bench {

enum class Io {
    done,        // bytes moved (count in IoResult::bytes), or the handshake finished
    want_read,   // try again when the socket is readable
    want_write,  // try again when the socket is writable
    eof,         // the peer closed (TCP FIN, or close_notify)
    failed,      // error: Stream::error() says which
};

struct IoResult {
    Io status;
    size_t bytes = 0;
};

class Stream {
public:
    // Takes `fd` (non-blocking) and, for TLS, `ssl` (already SSL_set_fd'd
    // and set to connect or accept).
    Stream(int fd, SSL* ssl);
    ~Stream();
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    IoResult read(uint8_t* data, size_t size);
    IoResult write(const uint8_t* data, size_t size);
    // TLS handshake step (plain: done at once).
    Io handshake();

    int fd() const { return fd_; }
    SSL* ssl() const { return ssl_; }
    const std::string& error() const { return error_; }

private:
    Io ssl_status(int rc, const char* what);

    int fd_;
    SSL* ssl_;
    std::string error_;
};

// Turns the current OpenSSL error queue into text (and clears it).
std::string openssl_errors();

}  // namespace bench
