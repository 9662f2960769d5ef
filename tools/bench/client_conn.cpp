#include "client_conn.hpp"

#include <netinet/tcp.h>
#include <openssl/rand.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "wire.hpp"

namespace bench {

namespace {

constexpr size_t max_head = 16 * 1024;
constexpr int reads_per_event = 64;
thread_local std::vector<uint8_t> read_buffer(256 * 1024);

std::string random_key() {
    unsigned char raw[16];
    RAND_bytes(raw, sizeof raw);
    unsigned char encoded[25];
    EVP_EncodeBlock(encoded, raw, sizeof raw);
    return std::string(reinterpret_cast<char*>(encoded), 24);
}

// "http 502" from "HTTP/1.1 502 Bad Gateway".
std::string status_of(const std::string& head) {
    if (head.size() < 12 || head.compare(0, 5, "HTTP/") != 0) return "not an HTTP response";
    return "http " + head.substr(9, 3);
}

}  // namespace

Conn::Conn(uv_loop_t* loop, const Target& target, ConnEvents& events, uint32_t id, int slot)
    : loop_(loop), target_(target), events_(events), id_(id), slot_(slot) {
    // Masking keys from a seeded xorshift: a load client needs keys that vary,
    // not keys an attacker cannot guess, and RAND_bytes per 64-byte message
    // would cost more than the message.
    RAND_bytes(reinterpret_cast<unsigned char*>(&mask_state_), sizeof mask_state_);
    mask_state_ |= 1;
}

bool Conn::start(std::string& error) {
    started_ns_ = uv_hrtime();
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = std::string("socket: ") + std::strerror(errno);
        return false;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = nullptr;
    if (target_.tls != nullptr) {
        ssl = SSL_new(target_.tls);
        SSL_set_fd(ssl, fd);
        SSL_set_connect_state(ssl);
        SSL_set_tlsext_host_name(ssl, target_.tls_name.c_str());
        SSL_set1_host(ssl, target_.tls_name.c_str());
        SSL_set_app_data(ssl, this);
        if (SSL_SESSION* session = events_.session_for(slot_)) SSL_set_session(ssl, session);
    }
    stream_ = std::make_unique<Stream>(fd, ssl);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&target_.address), sizeof target_.address) != 0 && errno != EINPROGRESS) {
        error = std::string("connect: ") + std::strerror(errno);
        stream_.reset();
        return false;
    }
    uv_poll_init(loop_, &poll_, fd);
    poll_.data = this;
    poll_started_ = true;
    update_interest();
    return true;
}

void Conn::destroy() {
    if (!poll_started_) {
        delete this;
        return;
    }
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_), [](uv_handle_t* handle) { delete static_cast<Conn*>(handle->data); });
}

void Conn::on_poll(uv_poll_t* poll, int status, int events) {
    auto* self = static_cast<Conn*>(poll->data);
    if (self->phase_ == Phase::ended) return;
    if (status < 0 && self->phase_ != Phase::connecting) {
        // libuv reports POLLERR as UV_EBADF: the socket's own error says what happened.
        int error = 0;
        socklen_t length = sizeof error;
        getsockopt(self->stream_->fd(), SOL_SOCKET, SO_ERROR, &error, &length);
        self->finish(error != 0 ? std::string("socket: ") + std::strerror(error) : std::string("socket error (POLLERR)"));
        return;
    }
    self->in_event_ = true;
    self->on_events(status < 0 ? UV_WRITABLE : events);
    if (self->phase_ != Phase::ended) {
        self->in_event_ = false;
        if (self->pending() > 0) self->flush();
        if (self->phase_ != Phase::ended) self->update_interest();
    }
}

void Conn::on_events(int events) {
    if (phase_ == Phase::connecting) {
        after_connect();
        return;
    }
    if (phase_ == Phase::tls) {
        step_tls();
        return;
    }
    const bool can_read = (events & UV_READABLE) || (read_wants_write_ && (events & UV_WRITABLE));
    if (can_read && !read_some()) return;
    if ((events & UV_WRITABLE) || (write_wants_read_ && (events & UV_READABLE))) flush();
}

void Conn::after_connect() {
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(stream_->fd(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
        finish(std::string("connect: ") + std::strerror(error));
        return;
    }
    if (target_.tls != nullptr) {
        phase_ = Phase::tls;
        step_tls();
    } else {
        send_upgrade();
    }
}

void Conn::step_tls() {
    const Io step = stream_->handshake();
    if (step == Io::failed) {
        finish("tls: " + stream_->error().substr(0, 120));
        return;
    }
    read_wants_write_ = step == Io::want_write;
    if (step != Io::done) return;
    resumed_ = SSL_session_reused(stream_->ssl()) == 1;
    send_upgrade();
}

void Conn::send_upgrade() {
    phase_ = Phase::upgrade;
    const std::string key = random_key();
    expected_accept_ = accept_value(key);
    const std::string request = "GET " + target_.path + " HTTP/1.1\r\nHost: " + target_.host_header +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
                                "\r\nSec-WebSocket-Version: 13\r\n\r\n";
    out_.insert(out_.end(), request.begin(), request.end());
    flush();
}

bool Conn::read_some() {
    read_wants_write_ = false;
    for (int i = 0; i < reads_per_event; ++i) {
        const IoResult got = stream_->read(read_buffer.data(), read_buffer.size());
        if (got.status == Io::done) {
            if (phase_ == Phase::upgrade) take_head(read_buffer.data(), got.bytes);
            else take_frames(read_buffer.data(), got.bytes);
            if (phase_ == Phase::ended) return false;
            continue;
        }
        if (got.status == Io::want_read) return true;
        if (got.status == Io::want_write) {
            read_wants_write_ = true;
            return true;
        }
        if (got.status == Io::eof) {
            finish(phase_ == Phase::upgrade ? "closed before the 101" : "connection ended without a close frame");
        } else {
            finish(stream_->error());
        }
        return false;
    }
    return true;
}

void Conn::take_head(const uint8_t* data, size_t size) {
    const size_t before = head_.size();
    head_.append(reinterpret_cast<const char*>(data), std::min(size, max_head + 4 - before));
    const size_t end = head_end(head_);
    if (end == 0) {
        if (head_.size() > max_head) finish("response head too large");
        return;
    }
    if (head_.compare(0, 13, "HTTP/1.1 101 ") != 0) {
        finish(status_of(head_));
        return;
    }
    if (header_value(head_, "Sec-WebSocket-Accept") != expected_accept_) {
        finish("wrong Sec-WebSocket-Accept");
        return;
    }
    const size_t used = end - before;
    head_.clear();
    head_.shrink_to_fit();
    phase_ = Phase::open;
    was_opened_ = true;
    events_.opened(*this);
    if (phase_ != Phase::ended && used < size) take_frames(data + used, size - used);
}

void Conn::take_frames(const uint8_t* data, size_t size) {
    std::string joined;
    if (!carry_.empty()) {
        joined.swap(carry_);
        joined.append(reinterpret_cast<const char*>(data), size);
        data = reinterpret_cast<const uint8_t*>(joined.data());
        size = joined.size();
    }
    while (size > 0 && phase_ != Phase::ended) {
        if (in_payload_) {
            const size_t take = static_cast<size_t>(std::min<uint64_t>(size, payload_left_));
            if (!check_payload(data, take)) return;
            data += take;
            size -= take;
            payload_left_ -= take;
            if (payload_left_ == 0) {
                in_payload_ = false;
                end_of_frame();
            }
            continue;
        }
        FrameHeader header;
        const Parse parsed = parse_header(data, size, header);
        if (parsed == Parse::need_more) break;
        if (parsed == Parse::invalid || header.masked) {
            finish("invalid frame from the server");
            return;
        }
        if (header.opcode & 0x08) {
            if (size < header.header_bytes + header.length) break;
            take_control(header.opcode, data + header.header_bytes, header.length);
            data += header.header_bytes + header.length;
            size -= header.header_bytes + header.length;
            continue;
        }
        const bool continuation = header.opcode == op_continuation;
        if (continuation != in_message_ || in_flight_.empty()) {
            finish(in_flight_.empty() ? "a message nobody sent" : "fragments out of order");
            return;
        }
        in_message_ = true;
        frame_fin_ = header.fin;
        payload_left_ = header.length;
        in_payload_ = header.length > 0;
        data += header.header_bytes;
        size -= header.header_bytes;
        if (!in_payload_) end_of_frame();
    }
    if (size > 0 && phase_ != Phase::ended) carry_.assign(reinterpret_cast<const char*>(data), size);
}

bool Conn::check_payload(const uint8_t* data, size_t size) {
    if (message_pos_ + size > target_.message_size) {
        finish("echo longer than the message");
        return false;
    }
    const uint8_t* expected = target_.pattern.data() + in_flight_.front().offset + message_pos_;
    if (std::memcmp(data, expected, size) != 0) {
        finish("echo differs from the message sent");
        return false;
    }
    message_pos_ += size;
    bytes_checked_ += size;
    return true;
}

void Conn::end_of_frame() {
    if (!frame_fin_) return;
    in_message_ = false;
    if (message_pos_ != target_.message_size) {
        finish("echo shorter than the message");
        return;
    }
    message_pos_ = 0;
    const uint64_t sent = in_flight_.front().at_ns;
    in_flight_.pop_front();
    events_.echoed(*this, uv_hrtime() - sent);
}

void Conn::take_control(uint8_t opcode, const uint8_t* payload, size_t size) {
    if (opcode == op_ping) {
        queue_frame(op_pong, payload, size, false, 0);
    } else if (opcode == op_close) {
        if (phase_ == Phase::closing) {
            finish("");
            return;
        }
        const unsigned code = size >= 2 ? (unsigned{payload[0]} << 8) | payload[1] : 1005;
        finish("closed by the server (" + std::to_string(code) + ")");
    }
}

void Conn::send_message() {
    const uint64_t offset = target_.payload_offset(id_, seq_++);
    in_flight_.push_back({uv_hrtime(), offset});
    queue_frame(op_binary, nullptr, target_.message_size, true, offset);
}

void Conn::send_close() {
    const uint8_t payload[2] = {0x03, 0xE8};  // 1000
    phase_ = Phase::closing;
    queue_frame(op_close, payload, sizeof payload, false, 0);
}

void Conn::queue_frame(uint8_t opcode, const uint8_t* payload, size_t size, bool from_pattern, uint64_t offset) {
    mask_state_ ^= mask_state_ << 13;
    mask_state_ ^= mask_state_ >> 7;
    mask_state_ ^= mask_state_ << 17;
    const auto mask = static_cast<uint32_t>(mask_state_);
    uint8_t head[14];
    const size_t n = write_header(head, true, opcode, size, mask);
    const size_t at = out_.size();
    out_.resize(at + n + size);
    std::memcpy(out_.data() + at, head, n);
    copy_masked(out_.data() + at + n, from_pattern ? target_.pattern.data() + offset : payload, size, mask, 0);
    if (!in_event_) flush();
}

bool Conn::flush() {
    write_wants_read_ = false;
    while (pending() > 0) {
        const IoResult put = stream_->write(out_.data() + out_head_, pending());
        if (put.status == Io::done) {
            out_head_ += put.bytes;
            continue;
        }
        if (put.status == Io::want_read) write_wants_read_ = true;
        if (put.status == Io::want_read || put.status == Io::want_write) {
            if (!in_event_) update_interest();
            return true;
        }
        finish(stream_->error());
        return false;
    }
    out_.clear();
    out_head_ = 0;
    if (out_.capacity() > 4 * 1024 * 1024) out_.shrink_to_fit();
    if (!in_event_ && phase_ != Phase::ended) update_interest();
    return true;
}

void Conn::finish(const std::string& reason) {
    if (phase_ == Phase::ended) return;
    if (reason.empty() && stream_ && stream_->ssl() != nullptr) {
        // close_notify, as a client that is done says. It also matters to
        // OpenSSL: freeing an SSL that never sent one marks its session (the
        // one kept below) as not resumable.
        SSL_shutdown(stream_->ssl());
        // TLS 1.3 tickets arrive after the handshake: keep the newest for the next session.
        if (SSL_SESSION* session = SSL_get1_session(stream_->ssl())) events_.keep_session(slot_, session);
    }
    phase_ = Phase::ended;
    // The socket is closed only once the poll handle is (in destroy): closing
    // it earlier would let a new session reuse the number while libuv still
    // knows the old handle.
    if (poll_started_) uv_poll_stop(&poll_);
    events_.ended(*this, reason);
}

void Conn::update_interest() {
    if (phase_ == Phase::ended) return;
    int wanted = UV_READABLE;
    if (phase_ == Phase::connecting || pending() > 0 || read_wants_write_) wanted |= UV_WRITABLE;
    if (wanted == interest_) return;
    interest_ = wanted;
    uv_poll_start(&poll_, wanted, on_poll);
}

}  // namespace bench
