// The TLS half of Transport: OpenSSL over two memory BIOs (as h2o does).
// Ciphertext read from the socket goes into the read BIO; plaintext comes out
// of SSL_read for the handler; what SSL_write and the handshake produce is
// taken from the write BIO and written to the socket in pooled chunks.
#include <openssl/err.h>

#include "log.hpp"
#include "tls_context.hpp"
#include "transport.hpp"

namespace loopgate {
namespace {

// Decrypted bytes are handed to the handler synchronously, so one buffer
// serves every connection on the loop's thread.
thread_local char t_plain_buffer[kChunkBytes];

}  // namespace

bool Transport::use_tls(SSL* ssl) {
    ssl_ = ssl;  // ours now, whatever happens: freed with the transport
    BIO* in = BIO_new(BIO_s_mem());
    BIO* out = BIO_new(BIO_s_mem());
    if (in == nullptr || out == nullptr) {
        BIO_free(in);
        BIO_free(out);
        return false;
    }
    // An empty memory BIO reports "retry" rather than EOF.
    BIO_set_mem_eof_return(in, -1);
    SSL_set_bio(ssl_, in, out);  // ssl_ owns both from here
    rbio_ = in;
    wbio_ = out;
    return true;
}

void Transport::handle_ciphertext(const char* data, size_t len) {
    if (BIO_write(rbio_, data, static_cast<int>(len)) != static_cast<int>(len)) {
        deliver_end(End::Kind::tls_error, "out of memory buffering TLS data");
        return;
    }
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
            deliver_end(End::Kind::eof, "", true);
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

// Memory BIOs never block, so SSL_write takes each chunk whole or fails for
// good (out of memory, or a connection TLS has already shut).
void Transport::encrypt_plaintext() {
    while (!plaintext_.empty()) {
        uv_buf_t piece;
        plaintext_.gather(&piece, 1);
        ERR_clear_error();
        int n = SSL_write(ssl_, piece.base, static_cast<int>(piece.len));
        if (n != static_cast<int>(piece.len)) {
            bool is_verify = false;
            std::string why = tls::describe_failure(ssl_, SSL_get_error(ssl_, n), is_verify);
            ERR_clear_error();
            report_later(End::Kind::tls_error, "cannot encrypt " + std::to_string(plaintext_.size()) + " bytes: " + why);
            plaintext_.clear();
            break;
        }
        plaintext_.consume(piece.len);
    }
    flush_tls_output();
}

// The records OpenSSL wrote into the memory BIO, to the socket.
void Transport::flush_tls_output() {
    static thread_local char t_records[kChunkBytes];
    int n;
    while ((n = BIO_read(wbio_, t_records, static_cast<int>(sizeof t_records))) > 0) {
        out_.append(t_records, static_cast<size_t>(n));
    }
    start_output();
}

void Transport::queue_close_notify() {
    ERR_clear_error();
    // 0: sent, the peer's not yet seen; 1: both done. Neither is awaited: the FIN follows.
    if (SSL_shutdown(ssl_) < 0) {
        log::debug("TLS close_notify not sent").kv("peer", peer_);
        ERR_clear_error();
    }
    flush_tls_output();
}

}  // namespace loopgate
