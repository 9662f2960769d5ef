// Certificate pins as an admin writes them in `tls.pins`, and the spellings
// loopgate prints for what an upstream presented.
//
// Two kinds, told apart by spelling alone so that no string means both:
//   leaf pin: SHA-256 of the certificate's DER, written as 64 hex digits,
//             32 colon-separated hex pairs (any case), either of those after a
//             "sha256:" prefix, or as `openssl x509 -fingerprint -sha256`
//             prints it ("sha256 Fingerprint=AB:CD:...").
//   SPKI pin: SHA-256 of the DER SubjectPublicKeyInfo, base64 (44 characters
//             ending in '='), bare as Envoy writes it or after "spki-sha256:".
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loopgate::config {

struct Pin {
    enum class Kind { leaf_sha256, spki_sha256 };
    Kind kind = Kind::leaf_sha256;
    std::array<uint8_t, 32> digest{};

    bool operator==(const Pin&) const = default;
};

// The spellings parse_pin accepts, as its errors name them.
inline constexpr std::string_view kPinForms =
    "expected a leaf certificate SHA-256 (64 hex digits, AB:CD:... pairs, or sha256:...) or an SPKI SHA-256 "
    "(spki-sha256:BASE64, or 44 base64 characters)";

// Parses one pin. Returns why the text is not a pin (without a JSON path), or
// nothing and fills `out`.
std::optional<std::string> parse_pin(std::string_view text, Pin& out);

// The canonical spelling: "sha256:<64 lowercase hex>" or "spki-sha256:<base64>".
std::string pin_text(const Pin& pin);

std::string hex_lower(const uint8_t* data, size_t len);
std::string base64_encode(const uint8_t* data, size_t len);
// Standard alphabet with padding, canonical only (no stray bits, no spaces).
std::optional<std::vector<uint8_t>> base64_decode(std::string_view text);

}  // namespace loopgate::config
