// Who may use a route, decided from the app's upgrade request before anything
// reaches the upstream:
//
//  - Host (DNS rebinding): a page whose own name resolves to 127.0.0.1 talks
//    to loopgate with Host: its-name. Only the listener's own names (plus the
//    route's allowed_hosts) are accepted on TCP. A unix socket needs no Host
//    check: browsers cannot reach one, and its mode keeps other users out.
//  - Origin (cross-site WebSocket hijacking): any page may open
//    ws://127.0.0.1:PORT, and browsers always send its Origin. A request
//    without Origin comes from a native app and is let in; one with Origin
//    only if the route's allowed_origins lists it — or, on a route that
//    forwards HTTP, if it is the listener's own origin: only pages this
//    listener served carry it.
//  - Plain HTTP (a browser UI): the same Host check; an Origin that is not
//    the listener's own or allowed is refused; and a request the browser
//    marks as coming from another site (Sec-Fetch-Site: cross-site or
//    same-site) is refused unless it is a top-level navigation — the Fetch
//    Metadata isolation policy — so a page elsewhere cannot drive the
//    gateway's API through loopgate, with its upstream_headers attached.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"

namespace loopgate {

class AccessPolicy {
public:
    // Lets nothing in until configured with for_route.
    AccessPolicy() = default;

    // bound_port: the TCP port really bound (the config may say 0).
    static AccessPolicy for_route(const config::Route& route, uint16_t bound_port);

    // Why this upgrade may not use the route (a 403), or nothing.
    std::optional<handshake::Refusal> check(const http::Request& request) const;
    // Why this plain HTTP request may not, or nothing.
    std::optional<handshake::Refusal> check_http(const http::Request& request) const;

    // The Host values accepted, as a person would write them; empty = any.
    std::string describe_hosts() const;

private:
    std::optional<handshake::Refusal> check_host(const std::string& host) const;
    std::optional<handshake::Refusal> check_origin(const http::Request& request) const;
    std::optional<handshake::Refusal> check_fetch_site(const http::Request& request) const;
    bool host_allowed(const config::HostRule& host) const;
    bool is_own_origin(const config::OriginRule& origin) const;

    std::string route_name_;
    bool any_host_ = false;
    bool own_origin_ = false;  // the route forwards HTTP: its own pages may open WebSockets
    uint16_t port_ = 0;
    std::vector<config::HostRule> hosts_;
    std::vector<config::OriginRule> origins_;
};

}  // namespace loopgate
