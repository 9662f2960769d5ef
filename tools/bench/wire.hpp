// What the benchmark's echo upstream and load client both say on the wire:
// RFC 6455 frame headers, masking, the upgrade's accept value, and the end of
// an HTTP head. No I/O here. Shares no code with loopgate, so the benchmark
// never checks loopgate against itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bench {

enum Opcode : uint8_t { op_continuation = 0x0, op_text = 0x1, op_binary = 0x2, op_close = 0x8, op_ping = 0x9, op_pong = 0xA };

struct FrameHeader {
    bool fin = true;
    uint8_t opcode = op_binary;
    bool masked = false;
    uint32_t mask = 0;  // the four key bytes in wire order, as loaded from memory
    uint64_t length = 0;
    size_t header_bytes = 0;  // size of the header on the wire
};

enum class Parse { ok, need_more, invalid };

// Reads one frame header from `data`; `invalid` for RSV bits, an unknown
// opcode, a control frame over 125 bytes or fragmented, or a 64-bit length
// with the top bit set.
Parse parse_header(const uint8_t* data, size_t size, FrameHeader& out);

// Writes a header into `out` (at least 14 bytes) and returns its size.
size_t write_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t length, std::optional<uint32_t> mask);

// XORs `size` bytes with the key, starting `offset` bytes into the payload.
void apply_mask(uint8_t* data, size_t size, uint32_t mask, uint64_t offset);
// The same, copying from `in` to `out`.
void copy_masked(uint8_t* out, const uint8_t* in, size_t size, uint32_t mask, uint64_t offset);

// base64(SHA-1(key + GUID)) for Sec-WebSocket-Accept.
std::string accept_value(std::string_view key);

// Where the head ends (just past "\r\n\r\n"), or 0 while incomplete.
size_t head_end(std::string_view text);

// The value of header `name` (case-insensitive) in a head, or empty.
std::string_view header_value(std::string_view head, std::string_view name);

}  // namespace bench
