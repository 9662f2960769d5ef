// Addresses a route names (addresses.hpp): IPv4 literals, listen addresses
// and the upstream URL, with the text each one prints back as.
#include "addresses.hpp"

#include <algorithm>
#include <utility>

#include "text.hpp"

namespace loopgate::config {
namespace fs = std::filesystem;

// Strict dotted quad. Leading zeros are refused because inet_aton() and
// friends read "010" as octal 8, so such an address means different things
// to different tools.
std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view text) {
    std::array<uint8_t, 4> octets{};
    for (size_t i = 0; i < octets.size(); ++i) {
        size_t dot = text.find('.');
        bool last = i + 1 == octets.size();
        if (last != (dot == std::string_view::npos)) return std::nullopt;
        std::string_view part = last ? text : text.substr(0, dot);
        if (part.size() > 1 && part[0] == '0') return std::nullopt;
        auto value = parse_decimal(part, 255);
        if (!value) return std::nullopt;
        octets[i] = static_cast<uint8_t>(*value);
        if (!last) text.remove_prefix(dot + 1);
    }
    return octets;
}

// ---------------------------------------------------------------------------
// Listen addresses

std::optional<std::string> parse_listen(std::string_view text, ListenAddress& out) {
    const std::string host_port = "expected HOST:PORT with a port between 0 and 65535";
    if (!text.empty() && text[0] == '[') return "IPv6 listen addresses are not supported yet";
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return host_port;
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return "IPv6 listen addresses are not supported yet";
    auto port = parse_decimal(text.substr(colon + 1), 65535);
    if (!port) return host_port;
    auto octets = parse_ipv4(host);
    if (!octets) return "host must be an IPv4 address such as 127.0.0.1";
    out.host = std::string(host);
    out.port = static_cast<uint16_t>(*port);
    out.is_loopback = (*octets)[0] == 127;
    return std::nullopt;
}

// A socket address holds 104 bytes on macOS (108 on Linux) with the final NUL.
std::optional<std::string> parse_unix_listen(std::string_view text, const fs::path& base_dir, ListenAddress& out) {
    constexpr size_t kMaxUnixPathBytes = 103;
    std::string_view given = text.substr(5);
    if (given.empty()) return "expected unix:/path/to/socket";
    bool has_control = std::any_of(given.begin(), given.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (has_control) return "unix socket path contains a control character";
    fs::path path = fs::path(std::string(given));
    if (path.is_relative()) path = base_dir / path;
    path = path.lexically_normal();
    if (!path.has_filename()) return "unix socket path must name a file, not a directory";
    if (path.string().size() > kMaxUnixPathBytes) {
        return "unix socket path " + path.string() + " is " + std::to_string(path.string().size()) +
               " bytes long; the limit is " + std::to_string(kMaxUnixPathBytes);
    }
    out = ListenAddress{};
    out.unix_path = path;
    out.is_loopback = true;  // only processes on this machine can reach it
    return std::nullopt;
}

std::string ListenAddress::text() const {
    return is_unix() ? "unix:" + unix_path.string() : host + ":" + std::to_string(port);
}

// ---------------------------------------------------------------------------
// Upstream URL pieces

namespace {

// RFC 1123 host name: labels of letters, digits and inner hyphens.
bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (;;) {
        size_t dot = host.find('.');
        std::string_view label = host.substr(0, dot);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        if (!std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) {
            return false;
        }
        if (dot == std::string_view::npos) return true;
        host.remove_prefix(dot + 1);
    }
}

bool looks_numeric(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

std::optional<std::string> check_upstream_host(const std::string& host, UpstreamUrl& out) {
    if (host.empty()) return "host is missing";
    if (looks_numeric(host)) {
        if (!parse_ipv4(host)) return "host " + host + " is not a valid IPv4 address";
        out.host_is_ipv4_literal = true;
    } else if (!is_dns_name(host)) {
        return "host must be a DNS name (letters, digits, '-', '.') or an IPv4 address";
    }
    out.host = host;
    return std::nullopt;
}

bool is_path_char(char c) {
    static constexpr std::string_view allowed = "-._~!$&'()*+,;=:@/%";
    return is_alnum(c) || allowed.find(c) != std::string_view::npos;
}

// The base path ends up in the upgrade request line, so anything that
// could break that line (spaces, control characters) is refused here.
std::optional<std::string> check_base_path(std::string_view path, UpstreamUrl& out) {
    for (size_t i = 0; i < path.size(); ++i) {
        if (!is_path_char(path[i])) return "path contains a character that must be percent-encoded";
        bool bad_escape = path[i] == '%' && (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2]));
        if (bad_escape) return "path contains a '%' that is not followed by two hex digits";
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.base_path = std::string(path);
    return std::nullopt;
}

std::optional<std::string> check_authority(std::string_view authority, UpstreamUrl& out) {
    if (authority.find('@') != std::string_view::npos) return "credentials in the URL are not allowed";
    if (!authority.empty() && authority[0] == '[') {
        return "IPv6 literal addresses are not allowed: loopgate connects over IPv4 only";
    }
    size_t colon = authority.find(':');
    if (colon != authority.rfind(':')) {
        return "IPv6 literal addresses are not allowed: loopgate connects over IPv4 only";
    }
    out.port = out.tls ? 443 : 80;
    if (colon != std::string_view::npos) {
        auto port = parse_decimal(authority.substr(colon + 1), 65535);
        if (!port || *port == 0) return "port must be between 1 and 65535";
        out.port = static_cast<uint16_t>(*port);
    }
    return check_upstream_host(lowered(authority.substr(0, colon)), out);
}

}  // namespace

std::optional<std::string> parse_upstream_url(std::string_view text, UpstreamUrl& out) {
    size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return "expected a URL of the form wss://host[:port][/path]";
    std::string scheme = lowered(text.substr(0, scheme_end));
    if (scheme != "wss" && scheme != "ws") return "scheme must be wss:// (or ws:// with allow_plaintext_upstream)";
    UpstreamUrl url;
    url.tls = scheme == "wss";
    std::string_view rest = text.substr(scheme_end + 3);
    size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view path = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
    if (auto problem = check_authority(authority, url)) return problem;
    if (path.find_first_of("?#") != std::string_view::npos) return "query and fragment are not allowed in upstream";
    if (auto problem = check_base_path(path, url)) return problem;
    out = std::move(url);
    return std::nullopt;
}

std::string UpstreamUrl::authority() const {
    uint16_t default_port = tls ? 443 : 80;
    return port == default_port ? host : host + ":" + std::to_string(port);
}

std::string UpstreamUrl::text() const { return std::string(tls ? "wss://" : "ws://") + authority() + base_path; }

}  // namespace loopgate::config
