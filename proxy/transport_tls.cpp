// The TLS half of Transport. OpenSSL reads and writes through a BIO of our
// own instead of two memory BIOs: it reads ciphertext in place from the
// socket's read buffer (what it leaves unread while the owner takes no data
// waits in pooled chunks), and the records it writes go straight into the
// transport's output chunks. So no ciphertext is copied on its way in or out
// beyond what OpenSSL does itself, and an idle connection holds no buffer of
// ours (memory BIOs kept the largest burst they ever held).
#include <openssl/err.h>

#include <algorithm>
#include <cstring>

#include "log.hpp"
#include "tls_context.hpp"
#include "transport.hpp"

namespace loopgate {
namespace {

// Decrypted bytes are handed to the handler synchronously, so one buffer
// serves every connection on the loop's thread.
thread_local char t_plain_buffer[kChunkBytes];

}  // namespace

BIO_METHOD* Transport::bio_method() {
    // Made once, kept for the life of the process.
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "loopgate transport");
        if (m != nullptr && (BIO_meth_set_read(m, bio_read) != 1 || BIO_meth_set_write(m, bio_write) != 1 ||
                             BIO_meth_set_ctrl(m, bio_ctrl) != 1)) {
            BIO_meth_free(m);
            m = nullptr;
        }
        return m;
    }();
    return method;
}

int Transport::bio_read(BIO* bio, char* out, int len) {
    auto* self = static_cast<Transport*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    auto want = static_cast<size_t>(std::max(len, 0));
    size_t got = self->cipher_unread_.read(out, want);
    size_t take = std::min(want - got, self->cipher_in_len_);
    if (take > 0) {
        std::memcpy(out + got, self->cipher_in_, take);
        self->cipher_in_ += take;
        self->cipher_in_len_ -= take;
        got += take;
    }
    if (got == 0) {
        BIO_set_retry_read(bio);  // nothing yet: more comes with the next read
        return -1;
    }
    return static_cast<int>(got);
}

// Never blocks and never fails short: the bytes join the output queue, which
// backpressure bounds (the owner stops the other side at the high mark).
int Transport::bio_write(BIO* bio, const char* data, int len) {
    auto* self = static_cast<Transport*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (len <= 0) return 0;
    self->out_.append(data, static_cast<size_t>(len));
    return len;
}

long Transport::bio_ctrl(BIO* bio, int cmd, long, void*) {
    auto* self = static_cast<Transport*>(BIO_get_data(bio));
    switch (cmd) {
    case BIO_CTRL_FLUSH: return 1;  // nothing is buffered here: start_output() sends
    case BIO_CTRL_PENDING:
        return self == nullptr ? 0 : static_cast<long>(self->cipher_unread_.size() + self->cipher_in_len_);
    case BIO_CTRL_WPENDING: return 0;
    default: return 0;
    }
}

bool Transport::use_tls(SSL* ssl) {
    ssl_ = ssl;  // ours now, whatever happens: freed with the transport
    BIO_METHOD* method = bio_method();
    BIO* bio = method != nullptr ? BIO_new(method) : nullptr;
    if (bio == nullptr) return false;
    BIO_set_data(bio, this);
    BIO_set_init(bio, 1);
    SSL_set_bio(ssl_, bio, bio);  // ssl_ owns it from here (one reference for both directions)
    return true;
}

void Transport::handle_ciphertext(const char* data, size_t len) {
    cipher_in_ = data;
    cipher_in_len_ = len;
    drive_tls();
    // What OpenSSL did not take (the owner stopped reading) waits for the next drain.
    if (cipher_in_len_ > 0 && phase_ == Phase::open && !ended_) cipher_unread_.append(cipher_in_, cipher_in_len_);
    cipher_in_ = nullptr;
    cipher_in_len_ = 0;
}

void Transport::drive_tls() {
    if (!handshake_done_) {
        ERR_clear_error();
        int rc = SSL_do_handshake(ssl_);
        start_output();
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
    if (phase_ == Phase::open) start_output();  // SSL_read may answer (key updates, alerts)
}

// Less than a record waits for flush(), so the small writes before one flush
// share a record. A record or more gains nothing from waiting: it is
// encrypted from the caller's buffer (one copy less), after what waits.
void Transport::write_tls(const char* data, size_t len) {
    if (len < kTlsRecordBytes || !handshake_done_) {
        plaintext_.append(data, len);
        return;
    }
    encrypt_plaintext();
    encrypt(data, len);
}

void Transport::encrypt_plaintext() {
    while (!plaintext_.empty()) {
        uv_buf_t piece;
        plaintext_.gather(&piece, 1);
        if (!encrypt(piece.base, piece.len, plaintext_.size())) {
            plaintext_.clear();
            return;
        }
        plaintext_.consume(piece.len);
    }
}

// Our BIO never blocks, so SSL_write takes the bytes whole or fails for good
// (a connection TLS has already shut). The records join out_.
bool Transport::encrypt(const char* data, size_t len, size_t unsent) {
    ERR_clear_error();
    int n = SSL_write(ssl_, data, static_cast<int>(len));
    if (n == static_cast<int>(len)) return true;
    bool is_verify = false;
    std::string why = tls::describe_failure(ssl_, SSL_get_error(ssl_, n), is_verify);
    ERR_clear_error();
    report_later(End::Kind::tls_error, "cannot encrypt " + std::to_string(unsent != 0 ? unsent : len) + " bytes: " + why);
    return false;
}

void Transport::queue_close_notify() {
    ERR_clear_error();
    // 0: sent, the peer's not yet seen; 1: both done. Neither is awaited: the FIN follows.
    if (SSL_shutdown(ssl_) < 0) {
        log::debug("TLS close_notify not sent").kv("peer", peer_);
        ERR_clear_error();
    }
    start_output();
}

}  // namespace loopgate
