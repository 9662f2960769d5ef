// The heads of a forwarded HTTP exchange (a browser UI's page, scripts, API
// calls and server-sent events, through the same listener as its WebSocket).
//
// Bodies are forwarded as they come, framing and all (Content-Length or
// chunked, trailers included), so the heads keep Content-Length and
// Transfer-Encoding; every other hop-by-hop header (RFC 9110 7.6.1) is
// dropped both ways. Toward the upstream, Host becomes the upstream's and the
// route's upstream_headers replace the app's; nothing names the app unless
// the route asks for Forwarded headers. Toward the app, a Location or
// Content-Location on the upstream's origin moves to the listener's origin
// and a cookie's Domain naming the upstream is dropped, so the page, its
// redirects and its cookies stay on loopgate (as nginx's proxy_redirect and
// proxy_cookie_domain do).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "config.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"

namespace loopgate::http_forward {

// The request line and headers sent upstream. `app_host` is the Host the app
// used and `app_ip` its address, for Forwarded headers when `forwarded` is set.
std::string request_head(const http::Request& app, const config::UpstreamUrl& upstream,
                         std::span<const config::HeaderSetting> extra, bool forwarded, std::string_view app_host,
                         std::string_view app_ip);

// The status line and headers the app gets. `app_origin` is the listener's
// origin as the app addressed it ("http://127.0.0.1:18789"); with
// `close`, the app is told the connection ends after this response.
std::string response_head(const http::Response& upstream_response, const config::UpstreamUrl& upstream,
                          std::string_view app_origin, bool close);

// A URL on the upstream's origin (https://host[:port]/... for a wss://
// upstream), moved to `app_origin` with the upstream's base path taken off;
// nothing for any other URL (relative, or another origin).
std::optional<std::string> rewrite_location(std::string_view url, const config::UpstreamUrl& upstream,
                                            std::string_view app_origin);

// A Set-Cookie value without a Domain attribute naming `upstream_host` (so
// the browser keeps the cookie for the listener's host); other values unchanged.
std::string strip_cookie_domain(std::string_view set_cookie, std::string_view upstream_host);

// Can this plain request be forwarded at all? HTTP/1.1 only (505), no
// CONNECT tunnels (405), and a path as the target (origin-form, or "*" for
// OPTIONS): an absolute URL or an authority would aim elsewhere (400).
std::optional<handshake::Refusal> check_forwardable(const http::Request& request);

// RFC 9110 9.2.2: a request that may be sent again without harm.
bool is_idempotent(std::string_view method);

}  // namespace loopgate::http_forward
