#include "stream.hpp"

#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace bench {

std::string openssl_errors() {
    std::string text;
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text;
}

Stream::Stream(int fd, SSL* ssl) : fd_(fd), ssl_(ssl) {}

Stream::~Stream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (fd_ >= 0) close(fd_);
}

Io Stream::ssl_status(int rc, const char* what) {
    switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ: return Io::want_read;
    case SSL_ERROR_WANT_WRITE: return Io::want_write;
    case SSL_ERROR_ZERO_RETURN: return Io::eof;
    case SSL_ERROR_SYSCALL:
        if (errno == 0 || errno == ECONNRESET || errno == EPIPE) {
            error_ = std::string(what) + ": connection ended";
            return errno == 0 ? Io::eof : Io::failed;
        }
        error_ = std::string(what) + ": " + std::strerror(errno);
        return Io::failed;
    default: {
        const std::string detail = openssl_errors();
        error_ = std::string(what) + ": " + (detail.empty() ? "TLS error" : detail);
        return Io::failed;
    }
    }
}

IoResult Stream::read(uint8_t* data, size_t size) {
    if (ssl_ != nullptr) {
        ERR_clear_error();
        errno = 0;
        size_t got = 0;
        const int rc = SSL_read_ex(ssl_, data, size, &got);
        if (rc == 1) return {Io::done, got};
        return {ssl_status(rc, "TLS read")};
    }
    const ssize_t n = ::recv(fd_, data, size, 0);
    if (n > 0) return {Io::done, static_cast<size_t>(n)};
    if (n == 0) return {Io::eof};
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {Io::want_read};
    error_ = std::string("read: ") + std::strerror(errno);
    return {Io::failed};
}

IoResult Stream::write(const uint8_t* data, size_t size) {
    if (ssl_ != nullptr) {
        ERR_clear_error();
        errno = 0;
        size_t put = 0;
        const int rc = SSL_write_ex(ssl_, data, size, &put);
        if (rc == 1) return {Io::done, put};
        return {ssl_status(rc, "TLS write")};
    }
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n >= 0) return {Io::done, static_cast<size_t>(n)};
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return {Io::want_write};
    error_ = std::string("write: ") + std::strerror(errno);
    return {Io::failed};
}

Io Stream::handshake() {
    if (ssl_ == nullptr) return Io::done;
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_do_handshake(ssl_);
    if (rc == 1) return Io::done;
    const Io status = ssl_status(rc, "TLS handshake");
    if (status == Io::eof) {
        error_ = "TLS handshake: connection ended";
        return Io::failed;
    }
    return status;
}

}  // namespace bench
