// The WebSocket opening handshake on both sides of the proxy (RFC 6455 4):
// checking the app's request, building the request sent upstream, checking
// the upstream's 101 against what the app offered, and the responses the app
// gets back (a 101, the upstream's own refusal, or loopgate's).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "http_reader.hpp"

namespace loopgate::handshake {

struct Refusal {
    int status = 400;
    std::string reason;                 // one line a person can act on
    std::vector<http::Header> headers;  // extra response headers (e.g. Sec-WebSocket-Version)
};

// Does the app ask for a WebSocket ("Upgrade: websocket")? Anything else is
// plain HTTP, forwarded when the route allows it.
bool is_websocket_upgrade(const http::Request& request);

// Is this a WebSocket upgrade loopgate can forward? Returns why not.
std::optional<Refusal> check_app_request(const http::Request& request);

// base64(SHA-1(key + GUID)), RFC 6455 4.2.2.
std::string accept_for_key(std::string_view key);

// The upgrade request an app of loopgate's own makes (probe, setup): GET
// `target` from `host` with a fresh random Sec-WebSocket-Key (RFC 6455 4.1)
// and `user_agent`.
http::Request new_client_request(std::string_view host, std::string_view target, std::string_view user_agent);

// The upstream request target: the upstream's base path, then the app's path and query.
std::string upstream_target(std::string_view base_path, std::string_view app_target);

// The upgrade request sent upstream: Host rewritten to the upstream's
// authority, hop-by-hop headers dropped, everything else passed through;
// `extra` (the route's upstream_headers) replaces the app's headers of the same names.
std::string build_upstream_request(const http::Request& app, const config::UpstreamUrl& upstream,
                                   std::span<const config::HeaderSetting> extra = {});

struct Negotiated {
    std::string protocol;      // the selected subprotocol, or ""
    std::string extensions;    // the accepted extensions, or ""
    uint8_t allowed_rsv = 0;   // RSV bits frames may carry under those extensions
};

// Checks an upstream 101 against the app's request. Returns why it is not acceptable.
std::optional<std::string> check_upstream_101(const http::Response& response, const http::Request& app,
                                              Negotiated& negotiated);

// The 101 the app receives: the upstream's end-to-end headers, hop-by-hop ones dropped.
std::string build_app_101(const http::Response& upstream, const http::Request& app);

// The upstream's refusal (not 101) relayed to the app with its status, headers and body;
// an interim 1xx the upstream ended on becomes loopgate's own 502.
std::string build_relayed_refusal(const http::Response& upstream);

// loopgate's own error response: status, reason phrase, the reason as a text body.
std::string build_refusal(const Refusal& refusal);

std::string_view status_text(int status);

}  // namespace loopgate::handshake
