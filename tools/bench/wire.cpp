#include "wire.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>

namespace bench {

Parse parse_header(const uint8_t* data, size_t size, FrameHeader& out) {
    if (size < 2) return Parse::need_more;
    const uint8_t b0 = data[0];
    const uint8_t b1 = data[1];
    if ((b0 & 0x70) != 0) return Parse::invalid;
    out.fin = (b0 & 0x80) != 0;
    out.opcode = b0 & 0x0F;
    const bool control = (out.opcode & 0x08) != 0;
    if (out.opcode > op_binary && !control) return Parse::invalid;
    if (control && out.opcode > op_pong) return Parse::invalid;
    out.masked = (b1 & 0x80) != 0;
    uint64_t length = b1 & 0x7F;
    size_t at = 2;
    if (length == 126) {
        if (size < 4) return Parse::need_more;
        length = (uint64_t{data[2]} << 8) | data[3];
        at = 4;
    } else if (length == 127) {
        if (size < 10) return Parse::need_more;
        length = 0;
        for (int i = 0; i < 8; ++i) length = (length << 8) | data[2 + i];
        if (length >> 63) return Parse::invalid;
        at = 10;
    }
    if (control && (length > 125 || !out.fin)) return Parse::invalid;
    if (out.masked) {
        if (size < at + 4) return Parse::need_more;
        std::memcpy(&out.mask, data + at, 4);
        at += 4;
    }
    out.length = length;
    out.header_bytes = at;
    return Parse::ok;
}

size_t write_header(uint8_t* out, bool fin, uint8_t opcode, uint64_t length, std::optional<uint32_t> mask) {
    out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | opcode);
    const uint8_t mask_bit = mask ? 0x80 : 0;
    size_t at;
    if (length < 126) {
        out[1] = static_cast<uint8_t>(mask_bit | length);
        at = 2;
    } else if (length <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = static_cast<uint8_t>(length >> 8);
        out[3] = static_cast<uint8_t>(length);
        at = 4;
    } else {
        out[1] = mask_bit | 127;
        for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<uint8_t>(length >> (56 - 8 * i));
        at = 10;
    }
    if (mask) {
        std::memcpy(out + at, &*mask, 4);
        at += 4;
    }
    return at;
}

namespace {

// The key rotated so that its first byte applies at `offset`, then widened to
// eight bytes: whole words are XORed at a time.
uint64_t wide_key(uint32_t mask, uint64_t offset) {
    uint8_t key[4];
    std::memcpy(key, &mask, 4);
    uint8_t rotated[8];
    for (int i = 0; i < 8; ++i) rotated[i] = key[(offset + i) & 3];
    uint64_t wide;
    std::memcpy(&wide, rotated, 8);
    return wide;
}

}  // namespace

void copy_masked(uint8_t* out, const uint8_t* in, size_t size, uint32_t mask, uint64_t offset) {
    const uint64_t wide = wide_key(mask, offset);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        uint64_t word;
        std::memcpy(&word, in + i, 8);
        word ^= wide;
        std::memcpy(out + i, &word, 8);
    }
    uint8_t key[8];
    std::memcpy(key, &wide, 8);
    for (; i < size; ++i) out[i] = in[i] ^ key[i & 7];
}

void apply_mask(uint8_t* data, size_t size, uint32_t mask, uint64_t offset) { copy_masked(data, data, size, mask, offset); }

std::string accept_value(std::string_view key) {
    std::string text(key);
    text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char digest[SHA_DIGEST_LENGTH];
    SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    unsigned char encoded[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
    const int n = EVP_EncodeBlock(encoded, digest, SHA_DIGEST_LENGTH);
    return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(n));
}

size_t head_end(std::string_view text) {
    const size_t at = text.find("\r\n\r\n");
    return at == std::string_view::npos ? 0 : at + 4;
}

std::string_view header_value(std::string_view head, std::string_view name) {
    size_t line = head.find("\r\n");
    while (line != std::string_view::npos && line + 2 < head.size()) {
        const size_t start = line + 2;
        const size_t end = head.find("\r\n", start);
        if (end == std::string_view::npos || end == start) break;
        std::string_view field = head.substr(start, end - start);
        const size_t colon = field.find(':');
        if (colon == name.size()) {
            bool same = true;
            for (size_t i = 0; i < colon && same; ++i) {
                same = std::tolower(static_cast<unsigned char>(field[i])) == std::tolower(static_cast<unsigned char>(name[i]));
            }
            if (same) {
                std::string_view value = field.substr(colon + 1);
                while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
                while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
                return value;
            }
        }
        line = end;
    }
    return {};
}

}  // namespace bench
