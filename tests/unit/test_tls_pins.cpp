// Pins as admins write them, the TLS keys of a route as the validator reads
// them, and the trust anchors a route ends up with: each checked by the
// exact value or message an admin would see.
#include <doctest/doctest.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "temp_files.hpp"
#include "tls_context.hpp"
#include "tls_pins.hpp"

namespace fs = std::filesystem;
using loopgate::config::Pin;
using Errors = std::vector<std::string>;

namespace {

// SHA-256 of a made-up certificate, in every spelling an admin may paste.
const std::string kHex = "cf5f4208b0b74b1f6bd0c31a4a52b7d7dbad7c586f660fa7e769d1d87018f664";
const std::string kColonHex =
    "CF:5F:42:08:B0:B7:4B:1F:6B:D0:C3:1A:4A:52:B7:D7:DB:AD:7C:58:6F:66:0F:A7:E7:69:D1:D8:70:18:F6:64";
// base64 of the same 32 bytes: an SPKI pin has the same length of digest.
const std::string kBase64 = "z19CCLC3Sx9r0MMaSlK319utfFhvZg+n52nR2HAY9mQ=";

Pin pin_ok(const std::string& text) {
    Pin pin;
    auto problem = loopgate::config::parse_pin(text, pin);
    INFO("pin: " << text);
    REQUIRE(problem == std::nullopt);
    return pin;
}

std::string pin_error(const std::string& text) {
    Pin pin;
    auto problem = loopgate::config::parse_pin(text, pin);
    INFO("pin: " << text);
    REQUIRE(problem.has_value());
    return *problem;
}

using loopgate::testing::KeyPair;
using loopgate::testing::make_self_signed;
using loopgate::testing::TempDir;

std::string route_config(const std::string& tls, const std::string& upstream = "wss://gateway.test") {
    return R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": ")" + upstream + R"(", "tls": )" + tls +
           "}]}";
}

Errors tls_errors(const std::string& tls, const std::string& upstream = "wss://gateway.test") {
    auto result = loopgate::config::parse_config(route_config(tls, upstream), fs::temp_directory_path());
    INFO("tls: " << tls);
    CHECK(result.config.has_value() == result.errors.empty());
    return result.errors;
}

loopgate::config::TlsSettings tls_ok(const std::string& tls) {
    auto result = loopgate::config::parse_config(route_config(tls), fs::temp_directory_path());
    INFO("tls: " << tls);
    REQUIRE(result.errors == Errors{});
    return result.config->routes.at(0).tls;
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

// Sets environment variables for one scope, then restores them.
class EnvOverride {
public:
    EnvOverride(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~EnvOverride() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    EnvOverride(const EnvOverride&) = delete;
    EnvOverride& operator=(const EnvOverride&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

loopgate::config::Route route_with_tls(const loopgate::config::TlsSettings& tls) {
    loopgate::config::Route route;
    route.name = "gw";
    loopgate::config::parse_upstream_url("wss://gateway.test", route.upstream);
    route.tls = tls;
    return route;
}

}  // namespace

// ---------------------------------------------------------------------------
// Pin spellings

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

// ---------------------------------------------------------------------------
// The route's tls object

TEST_CASE("config tls: defaults are full verification, no pins, no client certificate, OpenSSL's versions") {
    auto tls = tls_ok("{}");
    CHECK(tls.verify == loopgate::config::TlsVerify::full);
    CHECK(tls.pins.empty());
    CHECK_FALSE(tls.ca_file.has_value());
    CHECK_FALSE(tls.ca_dir.has_value());
    CHECK_FALSE(tls.client_cert.has_value());
    CHECK_FALSE(tls.min_version.has_value());
    CHECK_FALSE(tls.max_version.has_value());
}

TEST_CASE("config tls: pins, a backup pin and pin-only are read") {
    auto tls = tls_ok(R"({"pins": [")" + kColonHex + R"(", "spki-sha256:)" + kBase64 +
                      R"("], "verify": "pin-only", "min_version": "1.3", "max_version": "1.3"})");
    REQUIRE(tls.pins.size() == 2);
    CHECK(tls.pins[0] == pin_ok(kHex));
    CHECK(tls.pins[1] == pin_ok(kBase64));
    CHECK(tls.verify == loopgate::config::TlsVerify::pin_only);
    CHECK(tls.min_version == loopgate::config::TlsVersion::tls1_3);
    CHECK(tls.max_version == loopgate::config::TlsVersion::tls1_3);
}

TEST_CASE("config tls: each bad pin is reported at its own index") {
    CHECK(tls_errors(R"({"pins": [")" + kHex + R"(", "abc", 7]})") ==
          Errors{"routes[0].tls.pins[1]: has 3 hex digits; a SHA-256 fingerprint has 64",
                 "routes[0].tls.pins[2]: expected a string, got number"});
    CHECK(tls_errors(R"({"pins": "abc"})") == Errors{"routes[0].tls.pins: expected an array, got string"});
}

TEST_CASE("config tls: pin-only must be asked for explicitly and needs a pin") {
    CHECK(tls_errors(R"({"verify": "pin-only"})") ==
          Errors{"routes[0].tls.verify: \"pin-only\" needs at least one pin in routes[0].tls.pins"});
    CHECK(tls_errors(R"({"verify": "pin-only", "pins": []})") ==
          Errors{"routes[0].tls.verify: \"pin-only\" needs at least one pin in routes[0].tls.pins"});
    CHECK(tls_errors(R"({"verify": "none"})") ==
          Errors{"routes[0].tls.verify: must be \"full\" (chain, host name and any pins) or \"pin-only\" (only "
                 "tls.pins)"});
    // Pins alone keep full verification: the pin is checked in addition.
    CHECK(tls_ok(R"({"pins": [")" + kHex + R"("]})").verify == loopgate::config::TlsVerify::full);
}

TEST_CASE("config tls: a CA next to pin-only is refused, not silently ignored") {
    TempDir dir;
    fs::path ca = dir.write("ca.pem", "pem");
    CHECK(tls_errors(R"({"verify": "pin-only", "pins": [")" + kHex + R"("], "ca_file": )" + quoted(ca) +
                     R"(, "ca_dir": )" + quoted(dir.path()) + "}") ==
          Errors{"routes[0].tls.ca_file: has no effect with \"verify\": \"pin-only\" (the pin alone authenticates "
                 "the upstream); remove it, or use \"verify\": \"full\" to check the chain too",
                 "routes[0].tls.ca_dir: has no effect with \"verify\": \"pin-only\" (the pin alone authenticates "
                 "the upstream); remove it, or use \"verify\": \"full\" to check the chain too"});
}

TEST_CASE("config tls: versions are 1.2 or 1.3, and min may not exceed max") {
    CHECK(tls_errors(R"({"min_version": "1.1"})") ==
          Errors{"routes[0].tls.min_version: must be \"1.2\" or \"1.3\" (older versions are never used)"});
    CHECK(tls_errors(R"({"max_version": 1.3})") ==
          Errors{"routes[0].tls.max_version: must be \"1.2\" or \"1.3\" (older versions are never used)"});
    CHECK(tls_errors(R"({"min_version": "1.3", "max_version": "1.2"})") ==
          Errors{"routes[0].tls.min_version: 1.3 is above routes[0].tls.max_version (1.2)"});
}

TEST_CASE("config tls: TLS keys on a ws:// upstream are an error") {
    auto result = loopgate::config::parse_config(
        R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "ws://127.0.0.1:8080",
            "allow_plaintext_upstream": true, "tls": {"pins": [")" + kHex + R"("]}}]})",
        fs::temp_directory_path());
    CHECK(result.errors == Errors{"routes[0].tls: TLS settings have no effect on a ws:// upstream"});
}

// ---------------------------------------------------------------------------
// Trust anchors, when the route's context is built

TEST_CASE("trust: a ca_file without a certificate, or a ca_dir without hashed names, is a start error") {
    TempDir dir;
    loopgate::config::TlsSettings tls;
    tls.ca_file = dir.write("empty.pem", "not a certificate\n");
    std::string error;
    CHECK(loopgate::tls::make_upstream_context(route_with_tls(tls), error) == nullptr);
    CHECK(error == "tls.ca_file " + tls.ca_file->string() + " holds no PEM certificate");

    KeyPair ca = make_self_signed(dir, "private-ca");
    tls.ca_file.reset();
    tls.ca_dir = dir.path();  // holds ca.pem files, but none named by subject hash
    error.clear();
    CHECK(loopgate::tls::make_upstream_context(route_with_tls(tls), error) == nullptr);
    CHECK(error == "tls.ca_dir " + dir.path().string() + " holds no certificate named by subject hash (run: openssl "
                                                         "rehash " + dir.path().string() + ")");

    tls.ca_dir.reset();
    tls.ca_file = ca.cert;
    error.clear();
    auto ctx = loopgate::tls::make_upstream_context(route_with_tls(tls), error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) == "tls.ca_file " + ca.cert.string() + " (1 certificate)");
}

TEST_CASE("trust: an empty system store is a start error for verify full, and no matter for pin-only") {
    TempDir dir;
    EnvOverride file("SSL_CERT_FILE", (dir.path() / "none.pem").string());
    EnvOverride directory("SSL_CERT_DIR", dir.path().string());
    std::string error;
    loopgate::config::TlsSettings tls;
    CHECK(loopgate::tls::make_upstream_context(route_with_tls(tls), error) == nullptr);
    CHECK(error.find("no usable trust anchor: the system store is empty (" + (dir.path() / "none.pem").string() +
                     " (SSL_CERT_FILE): No such file or directory; " + dir.path().string() +
                     " (SSL_CERT_DIR): no certificate named by subject hash)") == 0);
    CHECK(error.find("set tls.ca_file or tls.ca_dir, or pin the upstream with tls.pins and \"verify\": \"pin-only\"") !=
          std::string::npos);

    tls.verify = loopgate::config::TlsVerify::pin_only;
    tls.pins.push_back(pin_ok(kHex));
    error.clear();
    auto ctx = loopgate::tls::make_upstream_context(route_with_tls(tls), error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) ==
          "none: \"verify\": \"pin-only\" (only tls.pins authenticate the upstream)");
}

TEST_CASE("trust: the system store is what SSL_CERT_FILE names, and the description says so") {
    TempDir dir;
    KeyPair ca = make_self_signed(dir, "system-root");
    EnvOverride file("SSL_CERT_FILE", ca.cert.string());
    EnvOverride directory("SSL_CERT_DIR", (dir.path() / "nothing-here").string());
    std::string error;
    auto ctx = loopgate::tls::make_upstream_context(route_with_tls({}), error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) ==
          "system store: " + ca.cert.string() + " (SSL_CERT_FILE, 1 certificate)");
}
