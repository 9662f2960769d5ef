#include "echo_connection.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "echo_server.hpp"

namespace bench {

namespace {

constexpr size_t max_head = 16 * 1024;
constexpr size_t pause_reading_above = 8 * 1024 * 1024;  // echo output not yet written
constexpr size_t shrink_above = 1024 * 1024;
constexpr uint64_t linger_ms = 2000;
constexpr int reads_per_event = 64;

}  // namespace

EchoConnection::EchoConnection(EchoServer& server, int fd, SSL* ssl) : server_(server), stream_(fd, ssl) {
    if (ssl == nullptr) phase_ = Phase::head;
}

void EchoConnection::start() {
    uv_poll_init(server_.loop(), &poll_, stream_.fd());
    poll_.data = this;
    ++server_.stats().active;
    counted_ = true;
    update_interest();
}

void EchoConnection::destroy() {
    if (destroyed_) return;
    destroyed_ = true;
    server_.forget(this);
    if (counted_) --server_.stats().active;
    uv_poll_stop(&poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_),
             [](uv_handle_t* handle) { delete static_cast<EchoConnection*>(handle->data); });
}

void EchoConnection::on_poll(uv_poll_t* poll, int status, int events) {
    auto* self = static_cast<EchoConnection*>(poll->data);
    if (status < 0) {
        self->destroy();
        return;
    }
    self->on_events(events);
}

void EchoConnection::on_events(int events) {
    if (phase_ == Phase::handshake) {
        const Io step = stream_.handshake();
        if (step == Io::failed) {
            ++server_.stats().handshake_failures;
            destroy();
            return;
        }
        if (step != Io::done) {
            read_wants_write_ = step == Io::want_write;
            update_interest();
            return;
        }
        read_wants_write_ = false;
        ++server_.stats().handshakes;
        if (SSL_session_reused(stream_.ssl())) ++server_.stats().resumed;
        if (SSL_version(stream_.ssl()) == TLS1_3_VERSION) ++server_.stats().tls13;
        phase_ = Phase::head;
        events |= UV_READABLE;  // the request may already be buffered
    }
    const bool can_read = (events & UV_READABLE) || (read_wants_write_ && (events & UV_WRITABLE));
    if (can_read && !read_some()) return;
    const bool can_write = (events & UV_WRITABLE) || (write_wants_read_ && (events & UV_READABLE)) || pending() > 0;
    if (can_write && !flush()) return;
    update_interest();
}

// Reads until the socket has no more (or the echo output backs up). False when
// the connection is gone.
bool EchoConnection::read_some() {
    read_wants_write_ = false;
    auto& buffer = server_.read_buffer();
    for (int i = 0; i < reads_per_event && pending() < pause_reading_above; ++i) {
        const IoResult got = stream_.read(buffer.data(), buffer.size());
        switch (got.status) {
        case Io::done:
            if (phase_ == Phase::lingering) break;
            feed(buffer.data(), got.bytes);
            if (destroyed_) return false;
            continue;
        case Io::want_read: return true;
        case Io::want_write: read_wants_write_ = true; return true;
        case Io::eof:
        case Io::failed: destroy(); return false;
        }
    }
    return true;
}

void EchoConnection::feed(const uint8_t* data, size_t size) {
    if (phase_ == Phase::head && !take_head(data, size)) return;
    if (carry_.empty()) {
        consume(data, size);
        return;
    }
    std::string joined;
    joined.swap(carry_);
    joined.append(reinterpret_cast<const char*>(data), size);
    consume(reinterpret_cast<const uint8_t*>(joined.data()), joined.size());
}

// Collects the request head; answers it. True when frames may follow in `data`.
bool EchoConnection::take_head(const uint8_t*& data, size_t& size) {
    const size_t before = head_.size();
    head_.append(reinterpret_cast<const char*>(data), std::min(size, max_head + 4 - before));
    const size_t end = head_end(head_);
    if (end == 0) {
        if (head_.size() > max_head) fail(0, "request head too large");
        return false;
    }
    const size_t used = end - before;
    data += used;
    size -= used;
    const std::string_view key = header_value(head_, "Sec-WebSocket-Key");
    const std::string_view upgrade = header_value(head_, "Upgrade");
    std::string answer;
    if (key.empty() || upgrade.empty() || head_.compare(0, 4, "GET ") != 0) {
        ++server_.stats().refused;
        answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        close_after_flush_ = true;
        size = 0;
    } else {
        ++server_.stats().upgraded;
        answer = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
                 accept_value(key) + "\r\n\r\n";
        phase_ = Phase::frames;
    }
    out_.insert(out_.end(), answer.begin(), answer.end());
    head_.clear();
    head_.shrink_to_fit();
    return phase_ == Phase::frames;
}

void EchoConnection::consume(const uint8_t* data, size_t size) {
    while (size > 0 && phase_ == Phase::frames && !close_after_flush_) {
        if (in_payload_) {
            const size_t take = static_cast<size_t>(std::min<uint64_t>(size, payload_left_));
            const size_t at = out_.size();
            out_.resize(at + take);
            copy_masked(out_.data() + at, data, take, mask_, payload_offset_);
            data += take;
            size -= take;
            payload_left_ -= take;
            payload_offset_ += take;
            server_.stats().bytes += take;
            in_payload_ = payload_left_ > 0;
            continue;
        }
        FrameHeader header;
        const Parse parsed = parse_header(data, size, header);
        if (parsed == Parse::need_more) break;
        if (parsed == Parse::invalid || !header.masked) {
            fail(1002, parsed == Parse::invalid ? "invalid frame header" : "client frame not masked");
            return;
        }
        if (header.opcode & 0x08) {
            if (size < header.header_bytes + header.length) break;
            control_frame(header, data + header.header_bytes);
            data += header.header_bytes + header.length;
            size -= header.header_bytes + header.length;
            continue;
        }
        uint8_t frame_head[14];
        const size_t n = write_header(frame_head, header.fin, header.opcode, header.length, std::nullopt);
        out_.insert(out_.end(), frame_head, frame_head + n);
        ++server_.stats().frames;
        data += header.header_bytes;
        size -= header.header_bytes;
        in_payload_ = header.length > 0;
        payload_left_ = header.length;
        payload_offset_ = 0;
        mask_ = header.mask;
    }
    if (size > 0 && phase_ == Phase::frames && !close_after_flush_) carry_.assign(reinterpret_cast<const char*>(data), size);
}

void EchoConnection::control_frame(const FrameHeader& header, const uint8_t* payload) {
    uint8_t plain[125];
    copy_masked(plain, payload, header.length, header.mask, 0);
    if (header.opcode == op_ping) {
        send_frame(op_pong, plain, header.length);
    } else if (header.opcode == op_close) {
        send_frame(op_close, plain, header.length);
        close_after_flush_ = true;
    }
}

void EchoConnection::send_frame(uint8_t opcode, const uint8_t* payload, size_t size) {
    uint8_t frame_head[14];
    const size_t n = write_header(frame_head, true, opcode, size, std::nullopt);
    out_.insert(out_.end(), frame_head, frame_head + n);
    out_.insert(out_.end(), payload, payload + size);
}

void EchoConnection::fail(uint16_t code, const char* reason) {
    ++server_.stats().protocol_errors;
    if (code != 0) {
        uint8_t payload[125];
        payload[0] = static_cast<uint8_t>(code >> 8);
        payload[1] = static_cast<uint8_t>(code);
        const size_t length = std::min<size_t>(std::strlen(reason), 123);
        std::memcpy(payload + 2, reason, length);
        send_frame(op_close, payload, length + 2);
    }
    close_after_flush_ = true;
}

// Writes what is pending. False when the connection is gone.
bool EchoConnection::flush() {
    write_wants_read_ = false;
    while (pending() > 0) {
        const IoResult put = stream_.write(out_.data() + out_head_, pending());
        if (put.status == Io::done) {
            out_head_ += put.bytes;
            continue;
        }
        if (put.status == Io::want_write) return true;
        if (put.status == Io::want_read) {
            write_wants_read_ = true;
            return true;
        }
        destroy();
        return false;
    }
    out_.clear();
    out_head_ = 0;
    if (out_.capacity() > shrink_above) out_.shrink_to_fit();
    if (close_after_flush_ && phase_ != Phase::lingering) begin_linger();
    return true;
}

// The last frame is out: close_notify, FIN, then drop whatever the peer still
// sends until it hangs up (or the linger time ends), so no reset destroys
// the close frame before the peer read it.
void EchoConnection::begin_linger() {
    phase_ = Phase::lingering;
    if (stream_.ssl() != nullptr) SSL_shutdown(stream_.ssl());
    ::shutdown(stream_.fd(), SHUT_WR);
    linger_deadline_ = uv_now(server_.loop()) + linger_ms;
    server_.linger(this);
}

void EchoConnection::update_interest() {
    int wanted = 0;
    if (pending() < pause_reading_above || write_wants_read_) wanted |= UV_READABLE;
    if (pending() > 0 || read_wants_write_) wanted |= UV_WRITABLE;
    if (phase_ == Phase::lingering) wanted = UV_READABLE;
    if (wanted == interest_) return;
    interest_ = wanted;
    uv_poll_start(&poll_, wanted, on_poll);
}

}  // namespace bench
