// config/rules_upstream: where a route forwards to (the upstream URL, the
// plaintext opt-in, connect_to) and how the upstream is authenticated (the
// tls object), by the exact message an admin would read.
#include <doctest/doctest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_text.hpp"
#include "sample_pins.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::config::LoadResult;
using namespace loopgate::test;
using loopgate::config::Config;
using loopgate::config::UpstreamUrl;

namespace {

std::optional<std::string> upstream_error(const std::string& url) {
    UpstreamUrl ignored;
    return loopgate::config::parse_upstream_url(url, ignored);
}

UpstreamUrl upstream_ok(const std::string& url) {
    UpstreamUrl out;
    auto problem = loopgate::config::parse_upstream_url(url, out);
    INFO("url: " << url);
    REQUIRE(problem == std::nullopt);
    return out;
}

// One route whose "tls" member is `tls`.
std::string tls_route_config(const std::string& tls) {
    return R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test", "tls": )" + tls +
           "}]}";
}

Errors tls_errors(const std::string& tls) {
    auto result = loopgate::config::parse_config(tls_route_config(tls), fs::temp_directory_path());
    INFO("tls: " << tls);
    CHECK(result.config.has_value() == result.errors.empty());
    return result.errors;
}

loopgate::config::TlsSettings tls_ok(const std::string& tls) {
    auto result = loopgate::config::parse_config(tls_route_config(tls), fs::temp_directory_path());
    INFO("tls: " << tls);
    REQUIRE(result.errors == Errors{});
    return result.config->routes.at(0).tls;
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

}  // namespace

TEST_CASE("upstream url: scheme, host, port and path") {
    UpstreamUrl url = upstream_ok("WSS://Gateway.Example.TS.net");
    CHECK(url.tls);
    CHECK(url.host == "gateway.example.ts.net");
    CHECK(url.port == 443);
    CHECK(url.base_path == "");
    CHECK_FALSE(url.host_is_ipv4_literal);
    CHECK(url.authority() == "gateway.example.ts.net");
    CHECK(url.text() == "wss://gateway.example.ts.net");

    url = upstream_ok("ws://127.0.0.1:18789/");
    CHECK_FALSE(url.tls);
    CHECK(url.host_is_ipv4_literal);
    CHECK(url.port == 18789);
    CHECK(url.base_path == "");
    CHECK(url.authority() == "127.0.0.1:18789");
    CHECK(url.text() == "ws://127.0.0.1:18789");

    CHECK(upstream_ok("ws://g.test").port == 80);
    CHECK(upstream_ok("ws://g.test:80").authority() == "g.test");
    CHECK(upstream_ok("wss://g.test:80").authority() == "g.test:80");
    CHECK(upstream_ok("wss://g.test:443/a/b//").base_path == "/a/b");
    CHECK(upstream_ok("wss://g.test:443/a/b//").text() == "wss://g.test/a/b");
    CHECK(upstream_ok("wss://g.test/ws%20x/~user").base_path == "/ws%20x/~user");
}

TEST_CASE("upstream url: what is refused") {
    const std::string ipv6 = "IPv6 literal addresses are not allowed: loopgate connects over IPv4 only";
    const std::string scheme = "scheme must be wss:// (or ws:// with allow_plaintext_upstream)";
    CHECK(upstream_error("https://g.test") == scheme);
    CHECK(upstream_error("tcp://g.test") == scheme);
    CHECK(upstream_error("g.test:443") == "expected a URL of the form wss://host[:port][/path]");
    CHECK(upstream_error("wss://[::1]:443/") == ipv6);
    CHECK(upstream_error("wss://fd7a::1/") == ipv6);
    CHECK(upstream_error("wss://user:secret@g.test/") == "credentials in the URL are not allowed");
    CHECK(upstream_error("wss://g.test/?token=1") == "query and fragment are not allowed in upstream");
    CHECK(upstream_error("wss://g.test#top") == "query and fragment are not allowed in upstream");
    CHECK(upstream_error("wss://g.test:0") == "port must be between 1 and 65535");
    CHECK(upstream_error("wss://g.test:65536") == "port must be between 1 and 65535");
    CHECK(upstream_error("wss://g.test:/") == "port must be between 1 and 65535");
    CHECK(upstream_error("wss://") == "host is missing");
    CHECK(upstream_error("wss://:443") == "host is missing");
    CHECK(upstream_error("wss://1.2.3") == "host 1.2.3 is not a valid IPv4 address");
    CHECK(upstream_error("wss://100.64.0.300") == "host 100.64.0.300 is not a valid IPv4 address");
    const std::string dns = "host must be a DNS name (letters, digits, '-', '.') or an IPv4 address";
    CHECK(upstream_error("wss://gate_way.test") == dns);
    CHECK(upstream_error("wss://-gw.test") == dns);
    CHECK(upstream_error("wss://gw..test") == dns);
    CHECK(upstream_error("wss://" + std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') +
                         "." + std::string(62, 'd')) == dns);
    CHECK(upstream_error("wss://" + std::string(64, 'a') + ".test") == dns);
    CHECK(upstream_error("wss://g.test/a b") == "path contains a character that must be percent-encoded");
    CHECK(upstream_error("wss://g.test/a%2") == "path contains a '%' that is not followed by two hex digits");
}

TEST_CASE("upstream url: a failed parse leaves the output untouched") {
    UpstreamUrl url;
    url.host = "before";
    CHECK(loopgate::config::parse_upstream_url("wss://bad_host", url).has_value());
    CHECK(url.host == "before");
}

TEST_CASE("config: upstream errors carry the route path") {
    check_errors(route_with(R"("name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://[::1]/")"),
                 {"routes[0].upstream: IPv6 literal addresses are not allowed: loopgate connects over IPv4 only"});
    check_errors(route_with(R"("name": "gw", "listen": "127.0.0.1:0", "upstream": "http://g.test")"),
                 {"routes[0].upstream: scheme must be wss:// (or ws:// with allow_plaintext_upstream)"});
}

TEST_CASE("config: a ws:// upstream needs allow_plaintext_upstream") {
    std::string route = R"("name": "gw", "listen": "127.0.0.1:0", "upstream": "ws://127.0.0.1:8080")";
    check_errors(route_with(route), {"routes[0].upstream: ws:// is unencrypted; set routes[0].allow_plaintext_upstream "
                                     "to true to allow it"});
    Config config = parse_ok(route_with(route + R"(, "allow_plaintext_upstream": true)"));
    CHECK_FALSE(config.routes.at(0).upstream.tls);
    CHECK(config.routes.at(0).allow_plaintext_upstream);
    // allow_plaintext_upstream is harmless on a wss:// upstream.
    CHECK(parse_ok(route_config(R"(, "allow_plaintext_upstream": true)")).routes.at(0).upstream.tls);
}

// ---------------------------------------------------------------------------
// connect_to

TEST_CASE("config: connect_to is null or an IPv4 address") {
    CHECK(parse_ok(route_config(R"(, "connect_to": null)")).routes.at(0).connect_to == std::nullopt);
    CHECK(parse_ok(route_config(R"(, "connect_to": "100.64.0.7")")).routes.at(0).connect_to ==
          std::optional<std::string>("100.64.0.7"));
    const std::string message = "routes[0].connect_to: must be an IPv4 address (loopgate connects over IPv4 only)";
    check_route_error(R"(, "connect_to": "gateway.test")", message);
    check_route_error(R"(, "connect_to": "fd7a:115c:a1e0::1")", message);
    check_route_error(R"(, "connect_to": "100.64.0.7:443")", message);
    check_route_error(R"(, "connect_to": 1681915904)", message);
}

// ---------------------------------------------------------------------------
// tls

TEST_CASE("config: a relative ca_file resolves against the config directory") {
    TempDir dir;
    fs::path ca = dir.write("certs/ca.pem", "pem");
    fs::path config_dir = dir.path() / "etc";
    fs::create_directories(config_dir);
    Config config = parse_ok(route_config(R"(, "tls": {"ca_file": "../certs/./ca.pem"})"), config_dir);
    REQUIRE(config.routes.at(0).tls.ca_file.has_value());
    CHECK(*config.routes.at(0).tls.ca_file == ca);
    CHECK(config.routes.at(0).tls.ca_file->is_absolute());
}

TEST_CASE("config: ca_file null or empty") {
    CHECK(parse_ok(route_config(R"(, "tls": {"ca_file": null})")).routes.at(0).tls.ca_file == std::nullopt);
    CHECK(parse_ok(route_config(R"(, "tls": {})")).routes.at(0).tls.ca_file == std::nullopt);
    check_route_error(R"(, "tls": {"ca_file": ""})",
                      "routes[0].tls.ca_file: must be a file path, or null to use only the system trust store");
}

TEST_CASE("config: TLS settings on a ws:// upstream are an error") {
    TempDir dir;
    fs::path ca = dir.write("ca.pem", "pem");
    std::string route = R"("name": "gw", "listen": "127.0.0.1:0", "upstream": "ws://127.0.0.1:8080",
                           "allow_plaintext_upstream": true)";
    check_errors(route_with(route + R"(, "tls": {"ca_file": ")" + ca.string() + R"("})"),
                 {"routes[0].tls: TLS settings have no effect on a ws:// upstream"});
    CHECK(parse_ok(route_with(route + R"(, "tls": {"ca_file": null})")).routes.at(0).tls.ca_file == std::nullopt);
}

// ---------------------------------------------------------------------------
// Many errors at once

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
