#include "http_forward.hpp"

#include <algorithm>
#include <array>

#include "handshake.hpp"
#include "http_text.hpp"
#include "redact.hpp"

namespace loopgate::http_forward {
namespace {

using http::iequals;
using http::trim;

// RFC 9110 7.6.1, less the framing headers the body is forwarded with; Host
// and the proxy-only ones are loopgate's to write or drop.
bool is_hop_by_hop(std::string_view name) {
    static constexpr std::array<std::string_view, 8> kNames = {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "upgrade",    "host"};
    return std::any_of(kNames.begin(), kNames.end(), [&](std::string_view n) { return iequals(n, name); });
}

bool dropped(const http::Headers& headers, std::string_view name) {
    // A header the Connection header names is hop-by-hop too, but never the framing.
    bool framing = iequals(name, "content-length") || iequals(name, "transfer-encoding");
    return is_hop_by_hop(name) || (!framing && headers.has_token("connection", name));
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name).append(": ").append(value).append("\r\n");
}

bool starts_with_icase(std::string_view text, std::string_view prefix) {
    return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

}  // namespace

std::string request_head(const http::Request& app, const config::UpstreamUrl& upstream,
                         std::span<const config::HeaderSetting> extra, bool forwarded, std::string_view app_host,
                         std::string_view app_ip) {
    std::string out;
    out.reserve(512);
    out.append(app.method).append(" ").append(handshake::upstream_target(upstream.base_path, app.target));
    out += " HTTP/1.1\r\n";
    append_header(out, "Host", upstream.authority());
    auto replaced = [&](std::string_view name) {
        return std::any_of(extra.begin(), extra.end(), [&](const config::HeaderSetting& h) { return iequals(h.name, name); });
    };
    for (const auto& h : app.headers.list()) {
        if (dropped(app.headers, h.name) || replaced(h.name)) continue;
        append_header(out, h.name, h.value);
    }
    for (const auto& h : extra) append_header(out, h.name, h.value);
    if (forwarded) {
        append_header(out, "Forwarded", "for=\"" + std::string(app_ip) + "\";proto=http;host=\"" + std::string(app_host) + "\"");
        append_header(out, "X-Forwarded-For", app_ip);
        append_header(out, "X-Forwarded-Proto", "http");
        append_header(out, "X-Forwarded-Host", app_host);
    }
    out += "\r\n";
    return out;
}

std::string response_head(const http::Response& response, const config::UpstreamUrl& upstream,
                          std::string_view app_origin, bool close) {
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " ";
    out += response.reason.empty() ? std::string(handshake::status_text(response.status)) : response.reason;
    out += "\r\n";
    for (const auto& h : response.headers.list()) {
        if (dropped(response.headers, h.name)) continue;
        if (iequals(h.name, "location") || iequals(h.name, "content-location")) {
            if (auto moved = rewrite_location(trim(h.value), upstream, app_origin)) {
                append_header(out, h.name, *moved);
                continue;
            }
        } else if (iequals(h.name, "set-cookie")) {
            append_header(out, h.name, strip_cookie_domain(h.value, upstream.host));
            continue;
        }
        append_header(out, h.name, h.value);
    }
    if (close) append_header(out, "Connection", "close");
    out += "\r\n";
    return out;
}

std::optional<std::string> rewrite_location(std::string_view url, const config::UpstreamUrl& upstream,
                                            std::string_view app_origin) {
    std::string_view scheme = upstream.tls ? "https://" : "http://";
    if (!starts_with_icase(url, scheme)) return std::nullopt;
    std::string_view rest = url.substr(scheme.size());
    size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    // The default port may be written or not.
    std::string with_port = upstream.host + ":" + std::to_string(upstream.port);
    if (!iequals(authority, upstream.authority()) && !iequals(authority, with_port)) return std::nullopt;
    if (!upstream.base_path.empty()) {
        std::string_view base = upstream.base_path;
        if (tail.substr(0, base.size()) != base) return std::nullopt;  // outside what the route forwards
        tail.remove_prefix(base.size());
    }
    std::string out(app_origin);
    if (tail.empty() || tail.front() != '/') out += '/';
    out += tail;
    return out;
}

std::string strip_cookie_domain(std::string_view set_cookie, std::string_view upstream_host) {
    std::string out;
    std::string_view rest = set_cookie;
    bool first = true;
    while (true) {
        size_t semi = rest.find(';');
        std::string_view part = rest.substr(0, semi);
        std::string_view attribute = trim(part);
        bool drop = false;
        if (!first && starts_with_icase(attribute, "domain")) {
            std::string_view value = trim(attribute.substr(6));
            if (!value.empty() && value.front() == '=') {
                value = trim(value.substr(1));
                if (!value.empty() && value.front() == '.') value.remove_prefix(1);
                drop = iequals(value, upstream_host);
            }
        }
        if (!drop) {
            if (!out.empty()) out += ";";
            out += part;
        }
        first = false;
        if (semi == std::string_view::npos) break;
        rest.remove_prefix(semi + 1);
    }
    return out;
}

std::optional<handshake::Refusal> check_forwardable(const http::Request& request) {
    if (request.version_major != 1 || request.version_minor != 1) {
        return handshake::Refusal{505, "loopgate forwards HTTP/1.1; this request is HTTP/" +
                                           std::to_string(request.version_major) + "." +
                                           std::to_string(request.version_minor), {}};
    }
    if (request.method == "CONNECT") {
        return handshake::Refusal{405, "loopgate forwards requests to its upstream; it does not open tunnels (CONNECT)",
                                  {{"Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"}}};
    }
    // RFC 9112 6.1: a request's body ends by chunked framing or not at all;
    // any other last coding leaves its end to guesswork (request smuggling).
    std::string codings = request.headers.joined("transfer-encoding");
    if (!codings.empty()) {
        std::string_view last = trim(std::string_view(codings).substr(codings.rfind(',') + 1));
        if (!iequals(last, "chunked")) {
            return handshake::Refusal{400, "malformed HTTP: a request's Transfer-Encoding must end with chunked", {}};
        }
    }
    bool path = !request.target.empty() && request.target.front() == '/';
    bool asterisk = request.method == "OPTIONS" && request.target == "*";
    if (!path && !asterisk) {
        return handshake::Refusal{400, "the request target must be a path such as /index.html, not " +
                                           (request.target.empty() ? std::string("nothing")
                                                                   : http::quoted_value(redact::target(request.target), 100)), {}};
    }
    return std::nullopt;
}

bool is_idempotent(std::string_view method) {
    static constexpr std::array<std::string_view, 6> kMethods = {"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
    return std::find(kMethods.begin(), kMethods.end(), method) != kMethods.end();
}

}  // namespace loopgate::http_forward
