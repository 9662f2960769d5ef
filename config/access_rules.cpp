// The Host names and browser origins a route accepts, and the headers it
// may set upstream (access_rules.hpp).
#include "access_rules.hpp"

#include <algorithm>
#include <array>

#include "text.hpp"

namespace loopgate::config {
namespace {

// 1 to 65535, at most five digits.
std::optional<uint16_t> parse_port(std::string_view digits) {
    if (digits.size() > 5) return std::nullopt;
    auto value = parse_decimal(digits, 65535);
    if (!value || *value == 0) return std::nullopt;
    return static_cast<uint16_t>(*value);
}

// Names as browsers and resolvers write them: labels of letters, digits and
// '-' (and '_', which real DNS names carry), separated by single dots.
bool is_host_name(std::string_view host) {
    if (host.empty() || host.size() > 253 || host.front() == '.' || host.back() == '.') return false;
    if (host.find("..") != std::string_view::npos) return false;
    return std::all_of(host.begin(), host.end(),
                       [](char c) { return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_'; });
}

bool is_bracketed_ipv6(std::string_view host) {
    if (host.size() < 4 || host.front() != '[' || host.back() != ']') return false;
    std::string_view inside = host.substr(1, host.size() - 2);
    return inside.find(':') != std::string_view::npos &&
           std::all_of(inside.begin(), inside.end(), [](char c) { return is_hex(c) || c == ':' || c == '.'; });
}

struct Authority {
    std::string host;
    std::optional<uint16_t> port;
    bool any_port = false;
};

// "host", "host:port", "[v6]:port", and "host:*" when a wildcard is allowed.
std::optional<std::string> parse_authority(std::string_view text, bool allow_any_port, Authority& out) {
    if (text.empty()) return "host is missing";
    size_t host_end = text.front() == '[' ? text.find(']') : text.find(':');
    if (text.front() == '[') {
        if (host_end == std::string_view::npos) return "IPv6 address without a closing ']'";
        ++host_end;
    }
    std::string_view host = text.substr(0, host_end);
    std::string_view rest = host_end == std::string_view::npos ? "" : text.substr(host_end);
    bool bracketed = host.front() == '[';
    if (bracketed ? !is_bracketed_ipv6(host) : !is_host_name(host)) {
        return "host must be a name (letters, digits, '-', '.'), an IPv4 address or an [IPv6] address";
    }
    out.host = lowered(host);
    if (rest.empty()) return std::nullopt;
    if (rest.front() != ':') return "expected ':' and a port after the host";
    rest.remove_prefix(1);
    if (allow_any_port && rest == "*") {
        out.any_port = true;
        return std::nullopt;
    }
    out.port = parse_port(rest);
    if (!out.port) return allow_any_port ? "port must be between 1 and 65535, or *" : "port must be between 1 and 65535";
    return std::nullopt;
}

std::optional<uint16_t> default_port(std::string_view scheme) {
    if (scheme == "http" || scheme == "ws") return 80;
    if (scheme == "https" || scheme == "wss") return 443;
    return std::nullopt;
}

bool is_scheme(std::string_view scheme) {
    return !scheme.empty() && is_alpha(scheme.front()) &&
           std::all_of(scheme.begin(), scheme.end(),
                       [](char c) { return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.'; });
}

// RFC 9110 5.6.2 token characters.
bool is_token(std::string_view name) {
    static constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return is_alpha(c) || is_digit(c) || kSymbols.find(c) != std::string_view::npos;
    });
}

}  // namespace

std::string HostRule::text() const { return port ? host + ":" + std::to_string(*port) : host; }

std::string OriginRule::text() const {
    std::string out = scheme + "://" + host;
    if (any_port) return out + ":*";
    return port ? out + ":" + std::to_string(*port) : out;
}

bool OriginRule::matches(const OriginRule& origin) const {
    return scheme == origin.scheme && host == origin.host && (any_port || port == origin.port);
}

std::optional<std::string> parse_host_rule(std::string_view text, HostRule& out) {
    if (text == "*") return "\"*\" would turn the Host check off; list the names apps use instead";
    Authority authority;
    if (auto problem = parse_authority(text, false, authority)) return problem;
    out = HostRule{authority.host, authority.port};
    return std::nullopt;
}

std::optional<std::string> parse_origin(std::string_view text, bool allow_any_port, OriginRule& out) {
    if (text == "null") {
        return "\"null\" is the origin of sandboxed pages and local files, which any web page can create; "
               "it cannot be allowed";
    }
    if (text == "*") return "\"*\" would let every web page in; list the origins of the pages you trust";
    size_t separator = text.find("://");
    if (separator == std::string_view::npos || !is_scheme(text.substr(0, separator))) {
        return "expected an origin such as http://localhost:5173 (scheme://host[:port])";
    }
    std::string scheme = lowered(text.substr(0, separator));
    std::string_view authority_text = text.substr(separator + 3);
    if (authority_text.find_first_of("/?#") != std::string_view::npos) {
        return "an origin has no path, query or trailing '/': write scheme://host[:port]";
    }
    if (authority_text.find('@') != std::string_view::npos) return "an origin has no user name or password";
    Authority authority;
    if (auto problem = parse_authority(authority_text, allow_any_port, authority)) return problem;
    // Browsers leave the default port out of Origin; so does the rule.
    if (authority.port && authority.port == default_port(scheme)) authority.port.reset();
    out = OriginRule{scheme, authority.host, authority.port, authority.any_port};
    return std::nullopt;
}

std::optional<std::string> check_upstream_header(std::string_view name, std::string_view value) {
    if (!is_token(name)) return "is not a valid header name";
    static constexpr std::array<std::string_view, 9> kOwnedByLoopgate = {
        "host", "upgrade", "connection", "content-length", "transfer-encoding",
        "keep-alive", "te", "trailer", "proxy-connection"};
    bool owned = std::any_of(kOwnedByLoopgate.begin(), kOwnedByLoopgate.end(),
                             [&](std::string_view n) { return iequals(n, name); });
    if (owned) return "is written by loopgate itself and cannot be set";
    if (name.size() >= 14 && iequals(name.substr(0, 14), "sec-websocket-")) {
        return "belongs to the WebSocket handshake between the app and the gateway and cannot be set";
    }
    if (value.empty()) return "value is empty";
    bool has_control = std::any_of(value.begin(), value.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
    if (has_control) return "value contains a line break or another control character";
    return std::nullopt;
}

}  // namespace loopgate::config
