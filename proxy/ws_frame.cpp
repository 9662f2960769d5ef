#include "ws_frame.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

namespace loopgate::ws {
namespace {

bool is_control(uint8_t opcode) { return (opcode & 0x8) != 0; }

bool is_known_opcode(uint8_t opcode) {
    switch (opcode) {
    case kContinuation:
    case kText:
    case kBinary:
    case kClose:
    case kPing:
    case kPong: return true;
    default: return false;
    }
}

ScanError protocol_error(std::string reason) { return ScanError{kProtocolError, std::move(reason)}; }

}  // namespace

FrameScanner::FrameScanner(ScanPolicy policy) : policy_(policy) {}

size_t FrameScanner::header_size_needed(const uint8_t* h, size_t available) const {
    if (available < 2) return 0;
    size_t size = 2;
    uint8_t len7 = h[1] & 0x7f;
    if (len7 == 126) size += 2;
    if (len7 == 127) size += 8;
    if (h[1] & 0x80) size += 4;
    return size;
}

bool FrameScanner::parse_header(const uint8_t* h, size_t n, ScanError& error) {
    fin_ = (h[0] & 0x80) != 0;
    uint8_t rsv = h[0] & 0x70;
    opcode_ = h[0] & 0x0f;
    masked_ = (h[1] & 0x80) != 0;
    uint64_t len = h[1] & 0x7f;
    size_t at = 2;
    if (len == 126) {
        len = (uint64_t{h[2]} << 8) | h[3];
        at = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; ++i) len = (len << 8) | h[2 + i];
        at = 10;
        if (len >> 63) {
            error = protocol_error("frame length has the most significant bit set");
            return false;
        }
    }
    if (masked_) std::memcpy(mask_, h + at, 4);
    (void)n;
    payload_left_ = len;

    if (!is_known_opcode(opcode_)) {
        error = protocol_error("unknown opcode " + std::to_string(opcode_));
        return false;
    }
    if (rsv & ~policy_.allowed_rsv) {
        error = protocol_error("reserved bits set without a negotiated extension");
        return false;
    }
    if (masked_ != policy_.expect_masked) {
        error = protocol_error(policy_.expect_masked ? "client frame is not masked" : "server frame is masked");
        return false;
    }
    if (is_control(opcode_)) {
        if (!fin_) {
            error = protocol_error("fragmented control frame");
            return false;
        }
        if (len > kMaxControlPayload) {
            error = protocol_error("control frame payload longer than 125 bytes");
            return false;
        }
        return true;
    }
    if (opcode_ == kContinuation && !in_message_) {
        error = protocol_error("continuation frame without a message to continue");
        return false;
    }
    if (opcode_ != kContinuation && in_message_) {
        error = protocol_error("new data frame inside a fragmented message");
        return false;
    }
    if (policy_.max_frame_bytes != 0 && len > policy_.max_frame_bytes) {
        error = ScanError{kMessageTooBig,
                          "frame larger than the limit of " + std::to_string(policy_.max_frame_bytes) + " bytes"};
        return false;
    }
    if (opcode_ != kContinuation) message_bytes_ = 0;
    if (len > policy_.max_message_bytes - std::min(message_bytes_, policy_.max_message_bytes)) {
        error = ScanError{kMessageTooBig,
                          "message larger than the limit of " + std::to_string(policy_.max_message_bytes) + " bytes"};
        return false;
    }
    message_bytes_ += len;
    in_message_ = !fin_;
    return true;
}

bool FrameScanner::finish_control(FrameSink& sink, ScanError& error) {
    uint8_t payload[kMaxControlPayload];
    size_t payload_len = held_len_ - header_len_;
    const uint8_t* wire_payload = held_ + header_len_;
    for (size_t i = 0; i < payload_len; ++i) payload[i] = wire_payload[i] ^ (masked_ ? mask_[i & 3] : 0);

    if (opcode_ == kClose) {
        uint16_t code = 0;
        std::string_view reason;
        if (!parse_close_payload(payload, payload_len, code, reason, error)) return false;
    }
    ControlFrame frame{opcode_, reinterpret_cast<const char*>(held_), held_len_, payload, payload_len};
    held_len_ = 0;
    state_ = State::header;
    sink.on_control_frame(frame);
    return true;
}

size_t FrameScanner::feed(const char* data, size_t len, FrameSink& sink) {
    if (failed_) return 0;
    const auto* in = reinterpret_cast<const uint8_t*>(data);
    size_t pos = 0;
    size_t span = 0;  // start of bytes not yet passed to the sink
    auto flush = [&](size_t upto) {
        if (upto > span) sink.on_frame_bytes(data + span, upto - span);
        span = upto;
    };
    auto fail = [&](const ScanError& error, size_t consumed) {
        failed_ = true;
        sink.on_frame_error(error);
        return consumed;
    };
    ScanError error;

    while (pos < len) {
        if (state_ == State::header) {
            if (stop_at_boundary_ && held_len_ == 0) break;
            size_t frame_start = pos;
            const uint8_t* header = nullptr;
            bool was_held = held_len_ > 0;
            size_t need = was_held ? 0 : header_size_needed(in + pos, len - pos);
            if (!was_held && need != 0 && len - pos >= need) {
                header = in + pos;  // the common case: parse in place, no copy
                header_len_ = need;
                pos += need;
            } else {
                flush(pos);
                while (held_len_ < 2 && pos < len) held_[held_len_++] = in[pos++];
                if (held_len_ >= 2) {
                    need = header_size_needed(held_, held_len_);
                    size_t take = std::min(need - held_len_, len - pos);
                    std::memcpy(held_ + held_len_, in + pos, take);
                    held_len_ += take;
                    pos += take;
                }
                span = pos;
                if (held_len_ < 2 || held_len_ < need) break;  // wait for the rest of the header
                header = held_;
                header_len_ = need;
                was_held = true;
            }
            if (!parse_header(header, header_len_, error)) {
                if (!was_held) flush(frame_start);
                held_len_ = 0;
                return fail(error, frame_start);
            }
            if (is_control(opcode_)) {
                if (!was_held) {
                    flush(frame_start);
                    std::memcpy(held_, header, header_len_);
                }
                held_len_ = header_len_;
                span = pos;
                state_ = State::control;
                if (payload_left_ == 0 && !finish_control(sink, error)) return fail(error, pos);
                continue;
            }
            if (was_held) {
                sink.on_frame_bytes(reinterpret_cast<const char*>(held_), header_len_);
                held_len_ = 0;
                span = pos;
            }
            if (payload_left_ > 0) state_ = State::payload;
        } else if (state_ == State::payload) {
            size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, len - pos));
            pos += take;
            payload_left_ -= take;
            if (payload_left_ == 0) state_ = State::header;
        } else {  // capturing a control frame
            size_t take = static_cast<size_t>(std::min<uint64_t>(payload_left_, len - pos));
            std::memcpy(held_ + held_len_, in + pos, take);
            held_len_ += take;
            pos += take;
            payload_left_ -= take;
            span = pos;
            if (payload_left_ == 0 && !finish_control(sink, error)) return fail(error, pos);
        }
    }
    flush(pos);
    return pos;
}

bool is_valid_close_code(uint16_t code) {
    if (code >= 3000 && code <= 4999) return true;
    switch (code) {
    case 1000: case 1001: case 1002: case 1003: case 1007: case 1008:
    case 1009: case 1010: case 1011: case 1012: case 1013: case 1014: return true;
    default: return false;
    }
}

bool is_valid_utf8(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    size_t n = text.size();
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t extra;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            extra = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            extra = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            extra = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= extra; ++k) {
            if (i + k >= n || (s[i + k] & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        static constexpr uint32_t kMinForLength[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < kMinForLength[extra] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += extra + 1;
    }
    return true;
}

bool parse_close_payload(const uint8_t* payload, size_t len, uint16_t& code, std::string_view& reason,
                         ScanError& error) {
    if (len == 0) {
        code = kNoStatus;
        reason = {};
        return true;
    }
    if (len == 1) {
        error = protocol_error("close frame with a 1-byte payload");
        return false;
    }
    code = static_cast<uint16_t>((payload[0] << 8) | payload[1]);
    if (!is_valid_close_code(code)) {
        error = protocol_error("invalid close code " + std::to_string(code));
        return false;
    }
    reason = std::string_view(reinterpret_cast<const char*>(payload + 2), len - 2);
    if (!is_valid_utf8(reason)) {
        error = ScanError{kInvalidPayload, "close reason is not valid UTF-8"};
        return false;
    }
    return true;
}

size_t build_control_frame(char* out, uint8_t opcode, const uint8_t* payload, size_t len, bool masked) {
    len = std::min(len, kMaxControlPayload);
    auto* o = reinterpret_cast<uint8_t*>(out);
    o[0] = static_cast<uint8_t>(0x80 | opcode);
    o[1] = static_cast<uint8_t>(len | (masked ? 0x80 : 0));
    size_t at = 2;
    uint8_t key[4] = {0, 0, 0, 0};
    if (masked) {
        if (RAND_bytes(key, sizeof key) != 1) std::memset(key, 0x5a, sizeof key);
        std::memcpy(o + at, key, 4);
        at += 4;
    }
    for (size_t i = 0; i < len; ++i) o[at + i] = payload[i] ^ key[i & 3];
    return at + len;
}

size_t build_close_frame(char* out, uint16_t code, std::string_view reason, bool masked) {
    uint8_t payload[kMaxControlPayload];
    payload[0] = static_cast<uint8_t>(code >> 8);
    payload[1] = static_cast<uint8_t>(code & 0xff);
    // Truncate the reason at a UTF-8 character boundary so the frame stays valid.
    size_t room = std::min(reason.size(), kMaxControlPayload - 2);
    while (room > 0 && room < reason.size() && (static_cast<unsigned char>(reason[room]) & 0xc0) == 0x80) --room;
    std::memcpy(payload + 2, reason.data(), room);
    return build_control_frame(out, kClose, payload, 2 + room, masked);
}

}  // namespace loopgate::ws
