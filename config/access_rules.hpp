// Who may use a route: the Host names and browser origins a route accepts,
// and the headers it adds upstream. The same parsers read the config and the
// app's request headers, so a rule and a request can never disagree about
// what "http://localhost:5173" means.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loopgate::config {

// An accepted Host header value: a name, with or without a port.
struct HostRule {
    std::string host;               // lower-case; an IPv6 literal keeps its brackets
    std::optional<uint16_t> port;   // none: the listener's port, or no port at all
    std::string text() const;
};

// A browser origin, "scheme://host[:port]"; in a rule the port may be "*".
struct OriginRule {
    std::string scheme;             // lower-case
    std::string host;               // lower-case; an IPv6 literal keeps its brackets
    std::optional<uint16_t> port;   // none: the scheme's default port (browsers then send no port)
    bool any_port = false;          // "http://localhost:*"
    std::string text() const;
    bool matches(const OriginRule& origin) const;
};

// A header loopgate sets on every upstream request of a route.
struct HeaderSetting {
    std::string name;
    std::string value;
};

// Each returns why the text is not acceptable, or nothing and fills `out`.
std::optional<std::string> parse_host_rule(std::string_view text, HostRule& out);
std::optional<std::string> parse_origin(std::string_view text, bool allow_any_port, OriginRule& out);

// Why a header cannot be set upstream, or nothing. Never quotes the value:
// it may be a secret.
std::optional<std::string> check_upstream_header(std::string_view name, std::string_view value);

}  // namespace loopgate::config
