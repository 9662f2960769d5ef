// config/config: the route keys that say who may use a route (access, secrets,
// unix socket listen addresses) and how its upstream is authenticated (the
// tls object), as parse_config reads and checks them.
//
// These came out of the old grab bags test_policy.cpp and test_tls_pins.cpp.
// They test the same module as test_config.cpp and belong there; they live
// apart only while test_config.cpp is being split with config/ by its owner.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "sample_pins.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::config::LoadResult;
using loopgate::test::kBase64;
using loopgate::test::kColonHex;
using loopgate::test::kHex;
using loopgate::test::pin_ok;
using loopgate::test::TempDir;
using Errors = std::vector<std::string>;

namespace {

loopgate::config::Config parse_ok(const std::string& text, const fs::path& base = "/tmp") {
    LoadResult result = loopgate::config::parse_config(text, base);
    INFO("text: " << text);
    REQUIRE(result.errors == Errors{});
    return *result.config;
}

Errors parse_errors(const std::string& text) { return loopgate::config::parse_config(text, "/tmp").errors; }

// One route with `extra` members (each starting with a comma).
std::string route_config(const std::string& extra, const std::string& listen = "127.0.0.1:0") {
    return R"({"routes": [{"name": "gw", "listen": ")" + listen + R"(", "upstream": "wss://gateway.test")" + extra +
           "}]}";
}

loopgate::config::Route tcp_route(const std::string& extra = "", const std::string& listen = "127.0.0.1:0") {
    return parse_ok(route_config(extra, listen)).routes.at(0);
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

// ---- access keys ----

TEST_CASE("config: access keys are read with their defaults") {
    auto config = parse_ok(route_config(""));
    const auto& route = config.routes.at(0);
    CHECK(config.max_connections == 1024);
    CHECK(route.max_connections == 256);
    CHECK(route.allowed_hosts.empty());
    CHECK(route.allowed_origins.empty());
    CHECK(route.upstream_headers.empty());
    CHECK(route.timeouts.idle_ms == 0);
    CHECK(route.limits.max_frame_bytes == 0);
    auto tuned = parse_ok(R"({"max_connections": 10, "routes": [{"name": "gw", "listen": "127.0.0.1:0",
        "upstream": "wss://gateway.test", "max_connections": 3, "timeouts": {"idle_ms": 500},
        "limits": {"max_frame_bytes": 4096}, "allowed_origins": ["http://localhost:*"]}]})");
    CHECK(tuned.max_connections == 10);
    CHECK(tuned.routes.at(0).max_connections == 3);
    CHECK(tuned.routes.at(0).timeouts.idle_ms == 500);
    CHECK(tuned.routes.at(0).limits.max_frame_bytes == 4096);
    CHECK(tuned.routes.at(0).allowed_origins.at(0).text() == "http://localhost:*");
}

TEST_CASE("config: access keys report errors by JSON path") {
    CHECK(parse_errors(route_config(R"(, "allowed_origins": ["http://ok.test", "null", 7])")) ==
          Errors{"routes[0].allowed_origins[1]: \"null\" is the origin of sandboxed pages and local files, which any "
                 "web page can create; it cannot be allowed",
                 "routes[0].allowed_origins[2]: expected a string, got number"});
    CHECK(parse_errors(route_config(R"(, "allowed_hosts": "localhost")")) ==
          Errors{"routes[0].allowed_hosts: expected an array, got string"});
    CHECK(parse_errors(route_config(R"(, "max_connections": 0)")) ==
          Errors{"routes[0].max_connections: must be between 1 and 100000"});
    CHECK(parse_errors(R"({"max_connections": -1, "routes": [{"name": "gw", "listen": "127.0.0.1:0",
        "upstream": "wss://gateway.test"}]})") == Errors{"max_connections: must be between 1 and 100000"});
    CHECK(parse_errors(route_config(R"(, "timeouts": {"idle_ms": 50})")) ==
          Errors{"routes[0].timeouts.idle_ms: must be 0 (off) or between 100 and 86400000"});
    CHECK(parse_errors(route_config(R"(, "allowed_hosts": ["app.test"])", "unix:/tmp/lg.sock")) ==
          Errors{"routes[0].allowed_hosts: has no effect on a unix socket listener (the Host check guards TCP "
                 "listeners against DNS rebinding; browsers cannot reach unix sockets)"});
}

TEST_CASE("config: upstream_headers refuses what would break the handshake, never quoting a value") {
    CHECK(parse_errors(route_config(R"(, "upstream_headers": {"Host": "x", "Sec-WebSocket-Key": "x",
        "Bad Name": "x", "X-Token": "s3cret\r\nX-Evil: 1", "Authorization": "", "X-N": 1})")) ==
          Errors{"routes[0].upstream_headers.Authorization: value is empty",
                 "routes[0].upstream_headers[\"Bad Name\"]: is not a valid header name",
                 "routes[0].upstream_headers.Host: is written by loopgate itself and cannot be set",
                 "routes[0].upstream_headers[\"Sec-WebSocket-Key\"]: belongs to the WebSocket handshake between the "
                 "app and the gateway and cannot be set",
                 "routes[0].upstream_headers[\"X-N\"]: expected a string, got number",
                 "routes[0].upstream_headers[\"X-Token\"]: value contains a line break or another control character"});
    CHECK(parse_errors(route_config(R"(, "upstream_headers": {"X-A": "1", "x-a": "2"})")) ==
          Errors{"routes[0].upstream_headers[\"x-a\"]: the same header is set twice (header names ignore case)"});
}

TEST_CASE("config: upstream_headers are secrets: listed, and the file must not be readable by others") {
    LoadResult parsed = loopgate::config::parse_config(
        route_config(R"(, "upstream_headers": {"Authorization": "Bearer s3cret"})"), "/tmp");
    REQUIRE(parsed.config.has_value());
    CHECK(parsed.secret_keys == Errors{"routes[0].upstream_headers.Authorization"});
    CHECK(parsed.config->routes.at(0).upstream_headers.at(0).value == "Bearer s3cret");

    TempDir dir;
    fs::path file = dir.path() / "loopgate.json";
    std::ofstream(file) << route_config(R"(, "upstream_headers": {"Authorization": "Bearer s3cret"})");
    ::chmod(file.c_str(), 0644);
    LoadResult shared = loopgate::config::load_config_file(file);
    CHECK_FALSE(shared.config.has_value());
    CHECK(shared.errors == Errors{"routes[0].upstream_headers.Authorization: holds a secret, but " + file.string() +
                                  " is readable by other users (mode 0644); run: chmod 600 " + file.string()});
    ::chmod(file.c_str(), 0600);
    CHECK(loopgate::config::load_config_file(file).config.has_value());
    // Without a secret, a world-readable config is fine.
    std::ofstream(file) << route_config("");
    ::chmod(file.c_str(), 0644);
    CHECK(loopgate::config::load_config_file(file).config.has_value());
}

TEST_CASE("config: unix socket listen addresses") {
    auto route = tcp_route("", "unix:/run/user/501/loopgate.sock");
    CHECK(route.listen.is_unix());
    CHECK(route.listen.unix_path == "/run/user/501/loopgate.sock");
    CHECK(route.listen.text() == "unix:/run/user/501/loopgate.sock");
    // Relative to the config file's directory, like every other path.
    auto relative = parse_ok(route_config("", "unix:run/lg.sock"), "/etc/loopgate").routes.at(0);
    CHECK(relative.listen.unix_path == "/etc/loopgate/run/lg.sock");
    std::string long_path = "/tmp/" + std::string(100, 's');
    CHECK(parse_errors(route_config("", "unix:" + long_path)) ==
          Errors{"routes[0].listen: unix socket path " + long_path + " is 105 bytes long; the limit is 103"});
    CHECK(parse_errors(route_config("", "unix:")) == Errors{"routes[0].listen: expected unix:/path/to/socket"});
    CHECK(parse_errors(route_config("", "unix:/tmp/")) ==
          Errors{"routes[0].listen: unix socket path must name a file, not a directory"});
    CHECK(parse_errors(R"({"routes": [
        {"name": "a", "listen": "unix:/tmp/lg.sock", "upstream": "wss://a.test"},
        {"name": "b", "listen": "unix:/tmp/lg.sock", "upstream": "wss://b.test"}]})") ==
          Errors{"routes[1].listen: unix:/tmp/lg.sock is already used by routes[0]"});
}

// ---- the route's tls object ----

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
