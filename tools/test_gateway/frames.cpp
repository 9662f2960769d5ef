#include "frames.hpp"

#include <cstring>

namespace test_gateway {
namespace {

constexpr uint64_t kMaxDataFrame = uint64_t{1} << 30;

// How many bytes of extended payload length follow the first two header bytes.
size_t extended_length_size(uint8_t second_byte) {
    uint8_t short_length = second_byte & 0x7F;
    return short_length == 126 ? 2 : short_length == 127 ? 8 : 0;
}

}  // namespace

size_t frame_header_size(const uint8_t* first_two) {
    bool masked = (first_two[1] & 0x80) != 0;
    return 2 + extended_length_size(first_two[1]) + (masked ? 4 : 0);
}

FrameHeader decode_frame_header(const uint8_t* bytes) {
    FrameHeader frame;
    frame.fin = (bytes[0] & 0x80) != 0;
    frame.rsv = static_cast<uint8_t>((bytes[0] >> 4) & 0x7);
    frame.opcode = bytes[0] & 0x0F;
    frame.masked = (bytes[1] & 0x80) != 0;
    size_t extended = extended_length_size(bytes[1]);
    frame.length = bytes[1] & 0x7F;
    if (extended > 0) {
        frame.length = 0;
        for (size_t i = 0; i < extended; ++i) frame.length = (frame.length << 8) | bytes[2 + i];
    }
    if (frame.masked) std::memcpy(frame.mask.data(), bytes + 2 + extended, 4);
    return frame;
}

std::optional<CloseReason> frame_problem(const FrameHeader& frame, bool inside_message) {
    if (frame.rsv != 0) return CloseReason{kProtocolError, "reserved bits set but no extension negotiated"};
    bool known = frame.opcode <= kBinary || (frame.opcode >= kClose && frame.opcode <= kPong);
    if (!known) return CloseReason{kProtocolError, "unknown opcode " + std::to_string(frame.opcode)};
    if (!frame.masked) return CloseReason{kProtocolError, "client frames must be masked"};
    if (frame.length >> 63) return CloseReason{kProtocolError, "payload length with the most significant bit set"};
    if (is_control(frame.opcode)) {
        if (frame.length > 125) return CloseReason{kProtocolError, "control frame longer than 125 bytes"};
        if (!frame.fin) return CloseReason{kProtocolError, "fragmented control frame"};
        return std::nullopt;
    }
    if (frame.opcode == kContinuation && !inside_message)
        return CloseReason{kProtocolError, "continuation frame without a message to continue"};
    if (frame.opcode != kContinuation && inside_message)
        return CloseReason{kProtocolError, "new message before the previous one finished"};
    if (frame.length > kMaxDataFrame) return CloseReason{kMessageTooBig, "frame larger than 1 GiB"};
    return std::nullopt;
}

size_t encode_frame_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t length) {
    out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | opcode);
    if (length < 126) {
        out[1] = static_cast<uint8_t>(length);
        return 2;
    }
    if (length <= 0xFFFF) {
        out[1] = 126;
        out[2] = static_cast<uint8_t>(length >> 8);
        out[3] = static_cast<uint8_t>(length);
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
    return 10;
}

std::string close_payload(uint16_t code, std::string_view reason) {
    std::string payload;
    payload += static_cast<char>(code >> 8);
    payload += static_cast<char>(code & 0xFF);
    payload += reason;
    return payload;
}

void Unmasker::apply(uint8_t* out, const uint8_t* in, size_t length) {
    uint8_t rotated[8];
    for (size_t j = 0; j < 8; ++j) rotated[j] = key_[(phase_ + j) & 3];
    uint64_t wide_key;
    std::memcpy(&wide_key, rotated, 8);
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t word;
        std::memcpy(&word, in + i, 8);
        word ^= wide_key;
        std::memcpy(out + i, &word, 8);
    }
    for (; i < length; ++i) out[i] = in[i] ^ key_[(phase_ + i) & 3];
    phase_ = (phase_ + length) & 3;
}

}  // namespace test_gateway
