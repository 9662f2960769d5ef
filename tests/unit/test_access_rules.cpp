// config/access_rules: Host rules and browser origins as the config writes
// them and as the app's request headers carry them, read by the same parsers.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "access_rules.hpp"

using loopgate::config::HostRule;
using loopgate::config::OriginRule;

namespace {

std::optional<std::string> host_error(const std::string& text) {
    HostRule ignored;
    return loopgate::config::parse_host_rule(text, ignored);
}

OriginRule origin(const std::string& text, bool wildcard = true) {
    OriginRule out;
    auto problem = loopgate::config::parse_origin(text, wildcard, out);
    INFO("origin: " << text);
    REQUIRE_FALSE(problem.has_value());
    return out;
}

std::string origin_error(const std::string& text, bool wildcard = true) {
    OriginRule ignored;
    return loopgate::config::parse_origin(text, wildcard, ignored).value_or("(accepted)");
}

}  // namespace

// ---- Host rules ----

TEST_CASE("policy: host rules read names, IPv4, [IPv6] and ports, lower-cased") {
    HostRule rule;
    CHECK_FALSE(loopgate::config::parse_host_rule("App.Example:8443", rule));
    CHECK(rule.host == "app.example");
    CHECK(rule.port == 8443);
    CHECK_FALSE(loopgate::config::parse_host_rule("[::1]", rule));
    CHECK(rule.host == "[::1]");
    CHECK_FALSE(rule.port.has_value());
    CHECK(host_error("*") == "\"*\" would turn the Host check off; list the names apps use instead");
    CHECK(host_error("") == "host is missing");
    CHECK(host_error("a..b") ==
          "host must be a name (letters, digits, '-', '.'), an IPv4 address or an [IPv6] address");
    CHECK(host_error("::1") ==
          "host must be a name (letters, digits, '-', '.'), an IPv4 address or an [IPv6] address");
    CHECK(host_error("app.example:0") == "port must be between 1 and 65535");
    CHECK(host_error("app.example:99999") == "port must be between 1 and 65535");
    CHECK(host_error("[::1") == "IPv6 address without a closing ']'");
}

// ---- Origin rules ----

TEST_CASE("policy: origins are normalized as browsers send them") {
    OriginRule rule = origin("HTTP://LocalHost:80");
    CHECK(rule.text() == "http://localhost");  // the default port is never in a browser's Origin
    CHECK(origin("https://app.example:443").text() == "https://app.example");
    CHECK(origin("http://localhost:5173").text() == "http://localhost:5173");
    CHECK(origin("tauri://localhost").text() == "tauri://localhost");
    CHECK(origin("http://localhost:*").text() == "http://localhost:*");
}

TEST_CASE("policy: origin rules that would let every page in are refused with the reason") {
    CHECK(origin_error("null") ==
          "\"null\" is the origin of sandboxed pages and local files, which any web page can create; it cannot be "
          "allowed");
    CHECK(origin_error("*") == "\"*\" would let every web page in; list the origins of the pages you trust");
    CHECK(origin_error("localhost:5173") == "expected an origin such as http://localhost:5173 (scheme://host[:port])");
    CHECK(origin_error("http://localhost:5173/") ==
          "an origin has no path, query or trailing '/': write scheme://host[:port]");
    CHECK(origin_error("http://user@localhost") == "an origin has no user name or password");
    CHECK(origin_error("http://localhost:*", false) == "port must be between 1 and 65535");
    CHECK(origin_error("http://localhost:x") == "port must be between 1 and 65535, or *");
}

TEST_CASE("policy: an origin rule matches scheme, host and port exactly, or any port with *") {
    OriginRule any_port = origin("http://localhost:*");
    CHECK(any_port.matches(origin("http://localhost:5173", false)));
    CHECK(any_port.matches(origin("http://localhost", false)));
    CHECK_FALSE(any_port.matches(origin("https://localhost:5173", false)));
    CHECK_FALSE(any_port.matches(origin("http://localhost.evil.example:5173", false)));
    OriginRule exact = origin("http://127.0.0.1:5173");
    CHECK(exact.matches(origin("http://127.0.0.1:5173", false)));
    CHECK_FALSE(exact.matches(origin("http://127.0.0.1:5174", false)));
}
