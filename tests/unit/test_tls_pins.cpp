// config/tls_pins: pins as admins write them, and the canonical spellings
// loopgate prints: each checked by the exact value or message an admin would
// see.
#include <doctest/doctest.h>

#include <cctype>
#include <cstdint>
#include <string>

#include "sample_pins.hpp"
#include "tls_pins.hpp"

using loopgate::config::Pin;
using loopgate::test::kBase64;
using loopgate::test::kColonHex;
using loopgate::test::kHex;
using loopgate::test::pin_ok;

namespace {

std::string pin_error(const std::string& text) {
    Pin pin;
    auto problem = loopgate::config::parse_pin(text, pin);
    INFO("pin: " << text);
    REQUIRE(problem.has_value());
    return *problem;
}

}  // namespace

TEST_CASE("pins: a leaf SHA-256 is the same pin in every accepted spelling") {
    Pin expected = pin_ok(kHex);
    CHECK(expected.kind == Pin::Kind::leaf_sha256);
    CHECK(loopgate::config::pin_text(expected) == "sha256:" + kHex);
    std::string upper_hex;
    for (char c : kHex) upper_hex += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string lower_colon;
    for (char c : kColonHex) lower_colon += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const std::string& spelling : {upper_hex, kColonHex, lower_colon, "sha256:" + kHex, "SHA256:" + upper_hex,
                                        "sha256:" + kColonHex, "sha256 Fingerprint=" + kColonHex,
                                        "SHA256 Fingerprint=" + kColonHex}) {
        INFO("spelling: " << spelling);
        CHECK(pin_ok(spelling) == expected);
    }
}

TEST_CASE("pins: an SPKI SHA-256 is base64, bare or after spki-sha256:") {
    Pin expected = pin_ok(kBase64);
    CHECK(expected.kind == Pin::Kind::spki_sha256);
    CHECK(loopgate::config::pin_text(expected) == "spki-sha256:" + kBase64);
    CHECK(pin_ok("spki-sha256:" + kBase64) == expected);
    CHECK(pin_ok("SPKI-SHA256:" + kBase64) == expected);
    // Same 32 bytes, other kind: a leaf pin never matches a key pin by accident.
    Pin leaf = pin_ok(kHex);
    CHECK(leaf.digest == expected.digest);
    CHECK_FALSE(leaf == expected);
}

TEST_CASE("pins: canonical text parses back to the same pin") {
    for (const std::string& text : {kHex, kBase64}) {
        Pin pin = pin_ok(text);
        CHECK(pin_ok(loopgate::config::pin_text(pin)) == pin);
    }
}

TEST_CASE("pins: mistakes are named") {
    const std::string expected =
        "expected a leaf certificate SHA-256 (64 hex digits, AB:CD:... pairs, or sha256:...) or an SPKI SHA-256 "
        "(spki-sha256:BASE64, or 44 base64 characters)";
    CHECK(pin_error("") == "must not be empty; " + expected);
    CHECK(pin_error("hello world") == "not a pin: " + expected);
    CHECK(pin_error(kHex.substr(1)) == "has 63 hex digits; a SHA-256 fingerprint has 64");
    CHECK(pin_error(kHex + "0") == "has 65 hex digits; a SHA-256 fingerprint has 64");
    CHECK(pin_error("sha256:" + kHex.substr(0, 40)) == "has 40 hex digits; a SHA-256 fingerprint has 64");
    CHECK(pin_error("sha256:" + kHex.substr(0, 63) + "g") == "'g' is not a hex digit");
    CHECK(pin_error(kColonHex.substr(3)) == "expected 32 colon-separated pairs of hex digits (AB:CD:...)");
    CHECK(pin_error("CF5F:42") == "expected 32 colon-separated pairs of hex digits (AB:CD:...)");
    CHECK(pin_error("sha256:" + kBase64) ==
          "\"sha256:\" introduces a leaf certificate fingerprint in hex; write an SPKI pin as spki-sha256:" + kBase64);
    const std::string not_base64 = "an SPKI pin is the base64 of a 32-byte SHA-256 digest (44 characters ending in '=')";
    CHECK(pin_error("spki-sha256:" + kBase64.substr(1)) == not_base64);
    CHECK(pin_error("spki-sha256:not base64") == not_base64);
    // The last character before '=' carries 2 spare bits; a non-zero one is not canonical base64.
    CHECK(pin_error("z19CCLC3Sx9r0MMaSlK319utfFhvZg+n52nR2HAY9mR=") == not_base64);
    CHECK(pin_error("spki-sha256:" + kHex) == not_base64);
}

TEST_CASE("pins: base64 is standard, padded and canonical") {
    using loopgate::config::base64_decode;
    using loopgate::config::base64_encode;
    auto encode = [](const std::string& s) { return base64_encode(reinterpret_cast<const uint8_t*>(s.data()), s.size()); };
    CHECK(encode("") == "");
    CHECK(encode("f") == "Zg==");
    CHECK(encode("fo") == "Zm8=");
    CHECK(encode("foo") == "Zm9v");
    CHECK(encode("foobar") == "Zm9vYmFy");
    auto decoded = base64_decode("Zm9vYmE=");
    REQUIRE(decoded.has_value());
    CHECK(std::string(decoded->begin(), decoded->end()) == "fooba");
    for (const char* bad : {"", "Zg=", "Zh==", "Zm9v YmFy", "Zm9v-mFy", "Z===", "Zm=v", "Zm9vYmFy="}) {
        INFO("text: " << bad);
        CHECK_FALSE(base64_decode(bad).has_value());
    }
    CHECK(loopgate::config::hex_lower(reinterpret_cast<const uint8_t*>("\x00\xab\xff"), 3) == "00abff");
}
