// proxy/access_policy: who may use a route. The Host and Origin checks of a
// route's policy, built from the route as the config reads it, against
// requests as an app or a web page sends them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "access_policy.hpp"
#include "config.hpp"

using loopgate::AccessPolicy;
using loopgate::config::LoadResult;
using Errors = std::vector<std::string>;

namespace {

loopgate::config::Config parse_ok(const std::string& text) {
    LoadResult result = loopgate::config::parse_config(text, "/tmp");
    INFO("text: " << text);
    REQUIRE(result.errors == Errors{});
    return *result.config;
}

std::string route_config(const std::string& extra, const std::string& listen) {
    return R"({"routes": [{"name": "gw", "listen": ")" + listen + R"(", "upstream": "wss://gateway.test")" + extra +
           "}]}";
}

loopgate::config::Route tcp_route(const std::string& extra = "", const std::string& listen = "127.0.0.1:0") {
    return parse_ok(route_config(extra, listen)).routes.at(0);
}

loopgate::http::Request request(const std::string& host, std::vector<std::string> origins = {}) {
    loopgate::http::Request req;
    req.method = "GET";
    req.target = "/";
    if (!host.empty()) req.headers.add("Host", host);
    for (const auto& o : origins) req.headers.add("Origin", o);
    return req;
}

// The 403's reason, or "" when the request is let in.
std::string refusal(const AccessPolicy& policy, const loopgate::http::Request& req) {
    auto refused = policy.check(req);
    if (!refused) return "";
    CHECK(refused->status == 403);
    return refused->reason;
}

}  // namespace

TEST_CASE("policy: by default a TCP route accepts its own names, with its port or without one") {
    AccessPolicy policy = AccessPolicy::for_route(tcp_route(), 18789);
    CHECK(refusal(policy, request("127.0.0.1:18789")) == "");
    CHECK(refusal(policy, request("localhost:18789")) == "");
    CHECK(refusal(policy, request("LOCALHOST")) == "");
    CHECK(refusal(policy, request("127.0.0.1")) == "");
    CHECK(refusal(policy, request("localhost:18790")) != "");
    CHECK(refusal(policy, request("[::1]:18789")) != "");
}

TEST_CASE("policy: a rebinding page's Host is refused with a reason naming it and the accepted names") {
    AccessPolicy policy = AccessPolicy::for_route(tcp_route(), 18789);
    CHECK(refusal(policy, request("evil.example:18789")) ==
          "Host \"evil.example:18789\" is not a name of this listener (127.0.0.1:18789, localhost:18789); a web page "
          "that rebinds its DNS name to this machine looks like this. If the name is yours, add it to allowed_hosts "
          "of route \"gw\"");
    // Whatever the attacker sends is shown escaped and cut, never raw.
    std::string reason = refusal(policy, request("a\x01\"" + std::string(300, 'x')));
    CHECK(reason.find("\"a\\x01\\x22") != std::string::npos);
    CHECK(reason.find(std::string(201, 'x')) == std::string::npos);
}

TEST_CASE("policy: allowed_hosts adds names; the listen address is one of the defaults") {
    auto route = tcp_route(R"(, "allowed_hosts": ["app.test", "other.test:9000"])", "127.0.0.2:0");
    AccessPolicy policy = AccessPolicy::for_route(route, 4000);
    CHECK(refusal(policy, request("app.test:4000")) == "");
    CHECK(refusal(policy, request("app.test")) == "");
    CHECK(refusal(policy, request("app.test:4001")) != "");
    CHECK(refusal(policy, request("other.test:9000")) == "");
    CHECK(refusal(policy, request("other.test:4000")) != "");
    CHECK(refusal(policy, request("127.0.0.2:4000")) == "");
    CHECK(refusal(policy, request("127.0.0.1:4000")) == "");
    CHECK(policy.describe_hosts() == "127.0.0.1:4000, localhost:4000, 127.0.0.2:4000, app.test:4000, other.test:9000");
}

TEST_CASE("policy: a unix socket route accepts any Host") {
    auto route = tcp_route("", "unix:/tmp/lg.sock");
    AccessPolicy policy = AccessPolicy::for_route(route, 0);
    CHECK(refusal(policy, request("evil.example")) == "");
    CHECK(refusal(policy, request("whatever:1")) == "");
}

TEST_CASE("policy: no Origin is a native app and is let in; an Origin must be listed") {
    auto route = tcp_route(R"(, "allowed_origins": ["http://localhost:*", "tauri://localhost"])");
    AccessPolicy policy = AccessPolicy::for_route(route, 18789);
    CHECK(refusal(policy, request("127.0.0.1:18789")) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://localhost:5173"})) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"tauri://localhost"})) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://127.0.0.1:5173"})) ==
          "Origin \"http://127.0.0.1:5173\" is not allowed: a web page from there may not use route \"gw\"; if you "
          "trust that page, add http://127.0.0.1:5173 to the route's allowed_origins");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"null"})) ==
          "Origin \"null\" is not allowed: a web page from there may not use route \"gw\"");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://localhost:5173", "http://localhost:5173"})) ==
          "more than one Origin header");
}

TEST_CASE("policy: by default only the listener's own pages are let in, and none on a unix socket") {
    AccessPolicy tcp = AccessPolicy::for_route(tcp_route(), 18789);
    // Only pages this listener served carry its origin (HTTP forwarding is on by default).
    CHECK(refusal(tcp, request("localhost:18789", {"http://localhost:18789"})) == "");
    CHECK(refusal(tcp, request("127.0.0.1:18789", {"http://127.0.0.1:18789"})) == "");
    CHECK(refusal(tcp, request("127.0.0.1:18789", {"http://127.0.0.1:18790"})) != "");
    CHECK(refusal(tcp, request("127.0.0.1:18789", {"https://127.0.0.1:18789"})) != "");
    CHECK(refusal(tcp, request("127.0.0.1:18789", {"http://evil.test:18789"})) != "");
    // Without HTTP forwarding the listener serves no page: its origin is no one's.
    AccessPolicy no_http = AccessPolicy::for_route(tcp_route(R"(, "http": false)"), 18789);
    CHECK(refusal(no_http, request("localhost:18789", {"http://localhost:18789"})) != "");
    // A unix socket has no origin a browser could have loaded a page from.
    AccessPolicy unix_socket = AccessPolicy::for_route(tcp_route("", "unix:/tmp/lg.sock"), 18789);
    CHECK(refusal(unix_socket, request("localhost:18789", {"http://localhost:18789"})) != "");
}

TEST_CASE("policy: a default-constructed policy lets nothing in") {
    AccessPolicy nothing;
    CHECK(refusal(nothing, request("127.0.0.1")) != "");
}

TEST_CASE("policy: plain HTTP from another site may navigate, never fetch (Fetch Metadata)") {
    AccessPolicy policy = AccessPolicy::for_route(tcp_route(R"(, "allowed_origins": ["http://localhost:5173"])"), 18789);
    auto with = [](std::string method, std::vector<std::pair<std::string, std::string>> headers) {
        loopgate::http::Request req = request("127.0.0.1:18789");
        req.method = std::move(method);
        for (auto& [name, value] : headers) req.headers.add(name, value);
        return req;
    };
    auto http_refusal = [&](const loopgate::http::Request& req) {
        auto refused = policy.check_http(req);
        return refused ? refused->reason : std::string();
    };
    // A native client, and the listener's own pages.
    CHECK(http_refusal(with("GET", {})) == "");
    CHECK(http_refusal(with("POST", {{"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Mode", "cors"}})) == "");
    CHECK(http_refusal(with("POST", {{"Origin", "http://127.0.0.1:18789"}, {"Sec-Fetch-Site", "same-origin"}})) == "");
    // Another site: a link followed (a top-level GET) is fine, anything else is not.
    CHECK(http_refusal(with("GET", {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}})) == "");
    CHECK(http_refusal(with("GET", {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "no-cors"}})) ==
          "a page on another site may only navigate to route \"gw\", not fetch from it (Sec-Fetch-Site: "
          "\"cross-site\", Sec-Fetch-Mode: \"no-cors\"); if you trust that page, add its origin to the route's "
          "allowed_origins");
    CHECK(http_refusal(with("POST", {{"Sec-Fetch-Site", "same-site"}, {"Sec-Fetch-Mode", "navigate"}})) != "");
    CHECK(http_refusal(with("POST", {{"Origin", "http://evil.test"}})).rfind("Origin \"http://evil.test\" is not allowed", 0) == 0);
    // A page from an allowed origin says who it is, and may fetch.
    CHECK(http_refusal(with("POST", {{"Origin", "http://localhost:5173"}, {"Sec-Fetch-Site", "cross-site"},
                                     {"Sec-Fetch-Mode", "cors"}})) == "");
    // The Host check holds for HTTP as for upgrades.
    loopgate::http::Request rebound = with("GET", {});
    rebound.headers.list().front().value = "evil.test";
    CHECK(http_refusal(rebound).rfind("Host \"evil.test\" is not a name of this listener", 0) == 0);
}
