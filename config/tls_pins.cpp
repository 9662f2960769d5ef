// Certificate pins: parsing what an admin writes, printing what loopgate
// saw, and the hex and base64 they are spelt in (tls_pins.hpp).
#include "tls_pins.hpp"

#include <algorithm>
#include <cctype>

#include "text.hpp"

namespace loopgate::config {
namespace {

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr size_t kDigestBytes = 32;
constexpr size_t kDigestBase64Chars = 44;  // 32 bytes: 43 characters and one '='

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool all_hex(std::string_view text) { return std::all_of(text.begin(), text.end(), is_hex); }

bool looks_like_digest_base64(std::string_view text) {
    return text.size() == kDigestBase64Chars && text.back() == '=';
}

std::string quoted_char(char c) {
    if (std::isprint(static_cast<unsigned char>(c))) return std::string("'") + c + "'";
    return "a byte that is not printable";
}

// "ab12..." (64 digits) or "AB:12:..." (32 pairs).
std::optional<std::string> parse_leaf_hex(std::string_view text, std::array<uint8_t, 32>& digest) {
    std::string digits;
    if (text.find(':') != std::string_view::npos) {
        bool pairs = text.size() == kDigestBytes * 3 - 1;
        for (size_t i = 2; pairs && i < text.size(); i += 3) pairs = text[i] == ':';
        if (!pairs) return "expected 32 colon-separated pairs of hex digits (AB:CD:...)";
        for (size_t i = 0; i < text.size(); i += 3) digits.append(text.substr(i, 2));
    } else {
        digits = text;
    }
    for (char c : digits) {
        if (hex_value(c) < 0) return quoted_char(c) + " is not a hex digit";
    }
    if (digits.size() != kDigestBytes * 2) {
        return "has " + std::to_string(digits.size()) + " hex digits; a SHA-256 fingerprint has 64";
    }
    for (size_t i = 0; i < kDigestBytes; ++i) {
        digest[i] = static_cast<uint8_t>(hex_value(digits[2 * i]) * 16 + hex_value(digits[2 * i + 1]));
    }
    return std::nullopt;
}

std::optional<std::string> parse_spki_base64(std::string_view text, std::array<uint8_t, 32>& digest) {
    auto bytes = base64_decode(text);
    if (!bytes || bytes->size() != kDigestBytes) {
        return "an SPKI pin is the base64 of a 32-byte SHA-256 digest (44 characters ending in '=')";
    }
    std::copy(bytes->begin(), bytes->end(), digest.begin());
    return std::nullopt;
}

}  // namespace

std::optional<std::string> parse_pin(std::string_view text, Pin& out) {
    if (text.empty()) return std::string("must not be empty; ") + std::string(kPinForms);
    if (starts_with_nocase(text, "spki-sha256:")) {
        out.kind = Pin::Kind::spki_sha256;
        return parse_spki_base64(text.substr(12), out.digest);
    }
    std::string_view leaf = text;
    bool prefixed = false;
    for (std::string_view prefix : {std::string_view("sha256:"), std::string_view("sha256 fingerprint=")}) {
        if (!starts_with_nocase(text, prefix)) continue;
        leaf = text.substr(prefix.size());
        prefixed = true;
        break;
    }
    if (prefixed && looks_like_digest_base64(leaf)) {
        return "\"sha256:\" introduces a leaf certificate fingerprint in hex; write an SPKI pin as spki-sha256:" +
               std::string(leaf);
    }
    out.kind = Pin::Kind::leaf_sha256;
    if (prefixed || leaf.find(':') != std::string_view::npos || all_hex(leaf)) {
        return parse_leaf_hex(leaf, out.digest);
    }
    if (looks_like_digest_base64(text)) {
        out.kind = Pin::Kind::spki_sha256;
        return parse_spki_base64(text, out.digest);
    }
    return "not a pin: " + std::string(kPinForms);
}

std::string pin_text(const Pin& pin) {
    if (pin.kind == Pin::Kind::spki_sha256) return "spki-sha256:" + base64_encode(pin.digest.data(), pin.digest.size());
    return "sha256:" + hex_lower(pin.digest.data(), pin.digest.size());
}

std::string hex_lower(const uint8_t* data, size_t len) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(len * 2);
    for (size_t i = 0; i < len; ++i) {
        out += kDigits[data[i] >> 4];
        out += kDigits[data[i] & 0xF];
    }
    return out;
}

std::string base64_encode(const uint8_t* data, size_t len) {
    std::string out;
    out.reserve((len + 2) / 3 * 4);
    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = uint32_t{data[i]} << 16;
        if (i + 1 < len) group |= uint32_t{data[i + 1]} << 8;
        if (i + 2 < len) group |= data[i + 2];
        out += kBase64Alphabet[(group >> 18) & 63];
        out += kBase64Alphabet[(group >> 12) & 63];
        out += i + 1 < len ? kBase64Alphabet[(group >> 6) & 63] : '=';
        out += i + 2 < len ? kBase64Alphabet[group & 63] : '=';
    }
    return out;
}

std::optional<std::vector<uint8_t>> base64_decode(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::vector<uint8_t> out;
    uint32_t bits = 0;
    int bit_count = 0;
    size_t padding = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '=') {
            ++padding;
            continue;
        }
        size_t value = kBase64Alphabet.find(text[i]);
        if (value == std::string_view::npos || padding > 0) return std::nullopt;
        bits = (bits << 6) | static_cast<uint32_t>(value);
        bit_count += 6;
        if (bit_count >= 8) {
            bit_count -= 8;
            out.push_back(static_cast<uint8_t>(bits >> bit_count));
            bits &= (1u << bit_count) - 1;
        }
    }
    if (padding > 2) return std::nullopt;
    // Canonical only: the same bytes have exactly one spelling, so a pin
    // compared as text elsewhere (logs, probe output) cannot drift.
    if (base64_encode(out.data(), out.size()) != text) return std::nullopt;
    return out;
}

}  // namespace loopgate::config
