// One made-up certificate digest in the spellings an admin may paste, for the
// unit tests of pins and of the settings that hold them.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "tls_pins.hpp"

namespace loopgate::test {

// SHA-256 of a made-up certificate, in every spelling an admin may paste.
inline const std::string kHex = "cf5f4208b0b74b1f6bd0c31a4a52b7d7dbad7c586f660fa7e769d1d87018f664";
inline const std::string kColonHex =
    "CF:5F:42:08:B0:B7:4B:1F:6B:D0:C3:1A:4A:52:B7:D7:DB:AD:7C:58:6F:66:0F:A7:E7:69:D1:D8:70:18:F6:64";
// base64 of the same 32 bytes: an SPKI pin has the same length of digest.
inline const std::string kBase64 = "z19CCLC3Sx9r0MMaSlK319utfFhvZg+n52nR2HAY9mQ=";

// The pin `text` spells; fails the test when it is not one.
inline config::Pin pin_ok(const std::string& text) {
    config::Pin pin;
    auto problem = config::parse_pin(text, pin);
    INFO("pin: " << text);
    REQUIRE(problem == std::nullopt);
    return pin;
}

}  // namespace loopgate::test
