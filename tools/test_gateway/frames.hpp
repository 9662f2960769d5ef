// RFC 6455 frames as bytes: decoding a client frame header, the rules it must follow, encoding a
// server frame header, close payloads and unmasking. No I/O here (see frame_stream.hpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace test_gateway {

enum Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

enum CloseCode : uint16_t {
    kNormalClosure = 1000,
    kProtocolError = 1002,
    kMessageTooBig = 1009,
};

struct FrameHeader {
    bool fin = false;
    uint8_t rsv = 0;
    uint8_t opcode = 0;
    bool masked = false;
    std::array<uint8_t, 4> mask{};
    uint64_t length = 0;
};

inline bool is_control(uint8_t opcode) { return (opcode & 0x8) != 0; }

// The size of a whole frame header, known from its first two bytes.
size_t frame_header_size(const uint8_t* first_two);
// Decodes a whole header (frame_header_size() bytes).
FrameHeader decode_frame_header(const uint8_t* bytes);

struct CloseReason {
    uint16_t code;
    std::string text;
};

// Checks one client frame against RFC 6455 5.2-5.5 and our size limit.
std::optional<CloseReason> frame_problem(const FrameHeader& frame, bool inside_message);

// The header of an unmasked server frame into `out` (room for 10 bytes); returns its size.
size_t encode_frame_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t length);
std::string close_payload(uint16_t code, std::string_view reason);

// XORs a payload with its masking key, eight bytes per step; keeps its place across chunks.
class Unmasker {
public:
    explicit Unmasker(const std::array<uint8_t, 4>& key) : key_(key) {}

    void apply(uint8_t* out, const uint8_t* in, size_t length);

private:
    std::array<uint8_t, 4> key_;
    size_t phase_ = 0;
};

}  // namespace test_gateway
