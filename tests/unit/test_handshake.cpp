#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "handshake.hpp"

using namespace loopgate;

namespace {

constexpr std::string_view kRfcKey = "dGhlIHNhbXBsZSBub25jZQ==";
constexpr std::string_view kRfcAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

// An upgrade request as text, edited header by header for each case.
struct RequestText {
    std::string request_line = "GET /chat?room=1 HTTP/1.1";
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Host", "127.0.0.1:18789"},
        {"Upgrade", "websocket"},
        {"Connection", "Upgrade"},
        {"Sec-WebSocket-Key", std::string(kRfcKey)},
        {"Sec-WebSocket-Version", "13"},
    };

    RequestText& line(std::string text) {
        request_line = std::move(text);
        return *this;
    }
    RequestText& remove(std::string_view name) {
        std::erase_if(headers, [&](const auto& h) { return h.first == name; });
        return *this;
    }
    RequestText& set(std::string_view name, std::string value) {
        for (auto& h : headers) {
            if (h.first == name) {
                h.second = std::move(value);
                return *this;
            }
        }
        return add(std::string(name), std::move(value));
    }
    RequestText& add(std::string name, std::string value) {
        headers.emplace_back(std::move(name), std::move(value));
        return *this;
    }
    std::string text() const {
        std::string out = request_line + "\r\n";
        for (const auto& [name, value] : headers) out += name + ": " + value + "\r\n";
        return out + "\r\n";
    }
};

http::Request parse_request(const std::string& text) {
    http::Reader reader(http::Reader::Kind::request, 16384);
    size_t consumed = 0;
    REQUIRE(reader.feed(text.data(), text.size(), consumed) == http::Reader::Status::complete);
    return reader.request();
}

http::Response parse_response(const std::string& text) {
    http::Reader reader(http::Reader::Kind::response, 16384, 4096);
    size_t consumed = 0;
    auto status = reader.feed(text.data(), text.size(), consumed);
    if (status == http::Reader::Status::need_more) status = reader.finish();
    REQUIRE(status == http::Reader::Status::complete);
    return reader.response();
}

std::optional<handshake::Refusal> check(const RequestText& request) {
    return handshake::check_app_request(parse_request(request.text()));
}

void check_refused(const RequestText& request, int status, const std::string& reason) {
    auto refusal = check(request);
    REQUIRE(refusal.has_value());
    CHECK(refusal->status == status);
    CHECK(refusal->reason == reason);
    CHECK(refusal->headers.empty());
}

config::UpstreamUrl upstream_url(std::string_view text) {
    config::UpstreamUrl url;
    REQUIRE_FALSE(config::parse_upstream_url(text, url).has_value());
    return url;
}

std::string good_101(std::string_view extra_headers = "") {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Accept: " +
           std::string(kRfcAccept) + "\r\n" + std::string(extra_headers) + "\r\n";
}

std::optional<std::string> check_101(const std::string& response, const RequestText& app,
                                     handshake::Negotiated& negotiated) {
    return handshake::check_upstream_101(parse_response(response), parse_request(app.text()), negotiated);
}

// An app's request with only a Host header, as parsed.
http::Request request(const std::string& host) {
    http::Request req;
    req.method = "GET";
    req.target = "/";
    req.headers.add("Host", host);
    return req;
}

}  // namespace

TEST_CASE("the accept key matches RFC 6455's example") {
    CHECK(handshake::accept_for_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

// ---- the app's request ----

TEST_CASE("a well-formed upgrade request is accepted") {
    CHECK_FALSE(check(RequestText{}).has_value());
}

TEST_CASE("header names and tokens in an upgrade request are case-insensitive, as browsers send them") {
    RequestText firefox;
    firefox.remove("Upgrade").remove("Connection").add("upgrade", "WebSocket").add("connection", "keep-alive, Upgrade");
    CHECK_FALSE(check(firefox).has_value());
}

TEST_CASE("Content-Length: 0 does not count as a body") {
    CHECK_FALSE(check(RequestText{}.add("Content-Length", "0")).has_value());
}

TEST_CASE("a request without Upgrade: websocket gets 426 naming the protocol and version") {
    for (auto request : {RequestText{}.remove("Upgrade"), RequestText{}.set("Upgrade", "h2c")}) {
        auto refusal = check(request);
        REQUIRE(refusal.has_value());
        CHECK(refusal->status == 426);
        CHECK(refusal->reason == "loopgate only accepts WebSocket upgrades (no \"Upgrade: websocket\" header)");
        REQUIRE(refusal->headers.size() == 2);
        CHECK(refusal->headers[0].name == "Upgrade");
        CHECK(refusal->headers[0].value == "websocket");
        CHECK(refusal->headers[1].name == "Sec-WebSocket-Version");
        CHECK(refusal->headers[1].value == "13");
    }
}

TEST_CASE("an upgrade with a method other than GET gets 400") {
    check_refused(RequestText{}.line("POST /chat HTTP/1.1"), 400, "a WebSocket upgrade must use GET, not POST");
}

TEST_CASE("an upgrade over HTTP/1.0 gets 400") {
    check_refused(RequestText{}.line("GET /chat HTTP/1.0"), 400, "a WebSocket upgrade needs HTTP/1.1");
}

TEST_CASE("an absolute-form request target gets 400") {
    check_refused(RequestText{}.line("GET http://127.0.0.1:18789/chat HTTP/1.1"), 400,
                  "the request target must be a path starting with '/'");
}

TEST_CASE("a request with no Host or two Host headers gets 400") {
    check_refused(RequestText{}.remove("Host"), 400, "the request must have exactly one Host header");
    check_refused(RequestText{}.add("Host", "evil.example"), 400, "the request must have exactly one Host header");
}

TEST_CASE("a Connection header without the upgrade token gets 400") {
    check_refused(RequestText{}.set("Connection", "keep-alive"), 400, "the Connection header must include \"upgrade\"");
    check_refused(RequestText{}.remove("Connection"), 400, "the Connection header must include \"upgrade\"");
}

TEST_CASE("a request without Sec-WebSocket-Version gets 400") {
    check_refused(RequestText{}.remove("Sec-WebSocket-Version"), 400, "missing Sec-WebSocket-Version header");
}

TEST_CASE("an unsupported or repeated WebSocket version gets 426 with Sec-WebSocket-Version: 13") {
    for (auto [request, shown] : {std::pair{RequestText{}.set("Sec-WebSocket-Version", "8"), "8"},
                                  std::pair{RequestText{}.add("Sec-WebSocket-Version", "8"), "13"},
                                  std::pair{RequestText{}.set("Sec-WebSocket-Version", "1\t3\""), "1\\x093\\x22"}}) {
        auto refusal = check(request);
        REQUIRE(refusal.has_value());
        CHECK(refusal->status == 426);
        CHECK(refusal->reason ==
              "unsupported WebSocket version \"" + std::string(shown) + "\"; loopgate speaks version 13");
        REQUIRE(refusal->headers.size() == 1);
        CHECK(refusal->headers[0].name == "Sec-WebSocket-Version");
        CHECK(refusal->headers[0].value == "13");
    }
}

TEST_CASE("a request without Sec-WebSocket-Key gets 400") {
    check_refused(RequestText{}.remove("Sec-WebSocket-Key"), 400, "missing Sec-WebSocket-Key header");
}

TEST_CASE("a Sec-WebSocket-Key that is not 16 bytes of base64, or is repeated, gets 400") {
    const std::string reason = "Sec-WebSocket-Key must be 16 bytes in base64";
    check_refused(RequestText{}.set("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="), 400, reason);
    check_refused(RequestText{}.set("Sec-WebSocket-Key", "AQEBAQEBAQEBAQEBAQEB"), 400, reason);      // 15 bytes
    check_refused(RequestText{}.set("Sec-WebSocket-Key", "AQEBAQEBAQEBAQEBAQEBAQE="), 400, reason);  // 17 bytes
    check_refused(RequestText{}.set("Sec-WebSocket-Key", "AQEBAQEBAQEBAQEBAQEBAR=="), 400, reason);  // stray bits
    check_refused(RequestText{}.add("Sec-WebSocket-Key", "AQEBAQEBAQEBAQEBAQEBAQ=="), 400, reason);
    CHECK_FALSE(check(RequestText{}.set("Sec-WebSocket-Key", "AQEBAQEBAQEBAQEBAQEBAQ==")).has_value());
}

TEST_CASE("an upgrade request with a body gets 400") {
    const std::string reason = "a WebSocket upgrade request must not have a body";
    check_refused(RequestText{}.add("Content-Length", "5"), 400, reason);
    check_refused(RequestText{}.add("Transfer-Encoding", "chunked"), 400, reason);
}

// ---- the request sent upstream ----

TEST_CASE("the upstream target joins the base path with the app's path and query") {
    CHECK(handshake::upstream_target("", "/chat?room=1") == "/chat?room=1");
    CHECK(handshake::upstream_target("", "/") == "/");
    CHECK(handshake::upstream_target("/ws", "/") == "/ws");
    CHECK(handshake::upstream_target("/ws", "/?a=1") == "/ws?a=1");
    CHECK(handshake::upstream_target("/ws", "/x?y") == "/ws/x?y");
}

TEST_CASE("the upstream request names the upstream in Host, with the port only when not the default") {
    const http::Request app = parse_request(RequestText{}.text());
    CHECK(handshake::build_upstream_request(app, upstream_url("wss://gateway.example.ts.net")) ==
          "GET /chat?room=1 HTTP/1.1\r\n"
          "Host: gateway.example.ts.net\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n"
          "\r\n");
    const std::string with_port =
        handshake::build_upstream_request(app, upstream_url("wss://gateway.example.ts.net:18789/ws"));
    CHECK(with_port.starts_with("GET /ws/chat?room=1 HTTP/1.1\r\nHost: gateway.example.ts.net:18789\r\n"));
}

TEST_CASE("the upstream request target puts the upstream's base path in front of the app's") {
    const auto base = upstream_url("wss://gw.test/ws");
    auto line_for = [&](const char* app_target) {
        std::string request = RequestText{}.line(std::string("GET ") + app_target + " HTTP/1.1").text();
        std::string out = handshake::build_upstream_request(parse_request(request), base);
        return out.substr(0, out.find("\r\n"));
    };
    CHECK(line_for("/") == "GET /ws HTTP/1.1");
    CHECK(line_for("/?a=1") == "GET /ws?a=1 HTTP/1.1");
    CHECK(line_for("/x?y") == "GET /ws/x?y HTTP/1.1");
}

TEST_CASE("the upstream request drops hop-by-hop headers and passes the rest unchanged and in order") {
    RequestText app;
    app.set("Connection", "keep-alive, Upgrade, X-Hop")
        .add("Origin", "http://localhost:1420")
        .add("Keep-Alive", "timeout=5")
        .add("Cookie", "session=abc; theme=dark")
        .add("Proxy-Authorization", "Basic c2VjcmV0")
        .add("TE", "trailers")
        .add("Upgrade", "websocket")
        .add("X-Hop", "for loopgate only")
        .add("Proxy-Connection", "keep-alive")
        .add("Sec-WebSocket-Protocol", "chat, superchat")
        .add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
        .add("User-Agent", "tauri-app/1.0");
    const std::string out = handshake::build_upstream_request(parse_request(app.text()), upstream_url("wss://gw.test"));
    CHECK(out ==
          "GET /chat?room=1 HTTP/1.1\r\n"
          "Host: gw.test\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
          "Sec-WebSocket-Version: 13\r\n"
          "Origin: http://localhost:1420\r\n"
          "Cookie: session=abc; theme=dark\r\n"
          "Sec-WebSocket-Protocol: chat, superchat\r\n"
          "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
          "User-Agent: tauri-app/1.0\r\n"
          "\r\n");
}

// ---- the upstream's 101 ----

TEST_CASE("a correct 101 from upstream is accepted with nothing negotiated") {
    handshake::Negotiated negotiated;
    negotiated.allowed_rsv = 0x70;
    CHECK_FALSE(check_101(good_101(), RequestText{}, negotiated).has_value());
    CHECK(negotiated.protocol.empty());
    CHECK(negotiated.extensions.empty());
    CHECK(negotiated.allowed_rsv == 0);
}

TEST_CASE("a 101 with the wrong or no Sec-WebSocket-Accept is refused") {
    handshake::Negotiated negotiated;
    std::string wrong = good_101();
    wrong.replace(wrong.find(kRfcAccept), kRfcAccept.size(), "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    CHECK(check_101(wrong, RequestText{}, negotiated) ==
          std::optional<std::string>("upstream Sec-WebSocket-Accept does not match the key sent"));
    CHECK(check_101("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                    RequestText{}, negotiated) ==
          std::optional<std::string>("upstream Sec-WebSocket-Accept does not match the key sent"));
}

TEST_CASE("a 101 without Upgrade: websocket or Connection: upgrade is refused") {
    handshake::Negotiated negotiated;
    std::string no_upgrade = good_101();
    no_upgrade.erase(no_upgrade.find("Upgrade: websocket\r\n"), 20);
    CHECK(check_101(no_upgrade, RequestText{}, negotiated) ==
          std::optional<std::string>("upstream answered 101 without \"Upgrade: websocket\""));
    std::string no_connection = good_101();
    no_connection.erase(no_connection.find("Connection: Upgrade\r\n"), 21);
    CHECK(check_101(no_connection, RequestText{}, negotiated) ==
          std::optional<std::string>("upstream answered 101 without \"Connection: upgrade\""));
}

TEST_CASE("a subprotocol the app offered is accepted and remembered") {
    handshake::Negotiated negotiated;
    RequestText app = RequestText{}
                          .add("Sec-WebSocket-Protocol", "openclaw.gateway.v3, openclaw.gateway.v2")
                          .add("Sec-WebSocket-Protocol", "legacy-json");
    for (std::string chosen : {"openclaw.gateway.v3", "openclaw.gateway.v2", "legacy-json"}) {
        CAPTURE(chosen);
        const std::string response = good_101("Sec-WebSocket-Protocol: " + chosen + "\r\n");
        CHECK(check_101(response, app, negotiated).value_or("accepted") == "accepted");
        CHECK(negotiated.protocol == chosen);
    }
}

TEST_CASE("a subprotocol the app did not offer is refused") {
    handshake::Negotiated negotiated;
    RequestText app = RequestText{}.add("Sec-WebSocket-Protocol", "chat, superchat");
    CHECK(check_101(good_101("Sec-WebSocket-Protocol: other\r\n"), app, negotiated) ==
          std::optional<std::string>("upstream selected subprotocol \"other\" which the app did not offer"));
    CHECK(check_101(good_101("Sec-WebSocket-Protocol: chat\r\n"), RequestText{}, negotiated) ==
          std::optional<std::string>("upstream selected subprotocol \"chat\" which the app did not offer"));
    // The upstream's bytes are escaped in the reason (it reaches the app's 502 body and the log).
    CHECK(check_101(good_101("Sec-WebSocket-Protocol: a\tb\"c\r\n"), app, negotiated) ==
          std::optional<std::string>("upstream selected subprotocol \"a\\x09b\\x22c\" which the app did not offer"));
}

TEST_CASE("an extension the app did not offer is refused") {
    handshake::Negotiated negotiated;
    RequestText app = RequestText{}.add("Sec-WebSocket-Extensions", "permessage-deflate");
    CHECK(check_101(good_101("Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n"), app, negotiated) ==
          std::optional<std::string>(
              "upstream accepted extension \"x-webkit-deflate-frame\" which the app did not offer"));
}

TEST_CASE("permessage-deflate accepted by both ends lets frames carry RSV1") {
    handshake::Negotiated negotiated;
    RequestText app =
        RequestText{}.add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-other");
    const std::string accepted = "permessage-deflate; server_no_context_takeover";
    const std::string response = good_101("Sec-WebSocket-Extensions: " + accepted + "\r\n");
    CHECK(check_101(response, app, negotiated).value_or("accepted") == "accepted");
    CHECK(negotiated.allowed_rsv == 0x40);
    CHECK(negotiated.extensions == accepted);
}

// ---- responses toward the app ----

TEST_CASE("the app's 101 carries loopgate's accept and the upstream's end-to-end headers only") {
    const http::Response upstream = parse_response(
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade, X-Hop\r\n"
        "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n"
        "Keep-Alive: timeout=5\r\n"
        "X-Hop: upstream internal\r\n"
        "Sec-WebSocket-Protocol: chat\r\n"
        "Server: openclaw\r\n"
        "\r\n");
    const http::Request app = parse_request(RequestText{}.text());
    CHECK(handshake::build_app_101(upstream, app) ==
          "HTTP/1.1 101 Switching Protocols\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
          "Sec-WebSocket-Protocol: chat\r\n"
          "Server: openclaw\r\n"
          "\r\n");
}

TEST_CASE("an upstream refusal reaches the app with its status, headers and body, framed for one response") {
    const http::Response upstream = parse_response(
        "HTTP/1.1 403 Forbidden\r\n"
        "Content-Type: application/json\r\n"
        "Connection: keep-alive\r\n"
        "Keep-Alive: timeout=5\r\n"
        "Content-Length: 25\r\n"
        "X-Request-Id: 42\r\n"
        "\r\n"
        "{\"error\":\"origin denied\"}");
    CHECK(handshake::build_relayed_refusal(upstream) ==
          "HTTP/1.1 403 Forbidden\r\n"
          "Content-Type: application/json\r\n"
          "X-Request-Id: 42\r\n"
          "Content-Length: 25\r\n"
          "Connection: close\r\n"
          "\r\n"
          "{\"error\":\"origin denied\"}");
}

TEST_CASE("a chunked upstream refusal is relayed with a Content-Length matching its decoded body") {
    const http::Response upstream = parse_response(
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Trailer: X-Checksum\r\n"
        "\r\n"
        "7\r\nrestart\r\n4\r\ning.\r\n0\r\n\r\n");
    CHECK(handshake::build_relayed_refusal(upstream) ==
          "HTTP/1.1 503 Service Unavailable\r\n"
          "Content-Length: 11\r\n"
          "Connection: close\r\n"
          "\r\n"
          "restarting.");
}

TEST_CASE("a relayed refusal without a reason phrase gets the standard one") {
    http::Response upstream;
    upstream.status = 404;
    CHECK(handshake::build_relayed_refusal(upstream) ==
          "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_CASE("loopgate's own refusal is a complete text/plain response that closes the connection") {
    const handshake::Refusal refusal{403, "Origin https://evil.example is not allowed on route \"gateway\"", {}};
    const std::string body = "loopgate: Origin https://evil.example is not allowed on route \"gateway\"\n";
    const std::string out = handshake::build_refusal(refusal);
    CHECK(out ==
          "HTTP/1.1 403 Forbidden\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Length: " +
              std::to_string(body.size()) +
              "\r\n"
              "Cache-Control: no-store\r\n"
              "Connection: close\r\n"
              "\r\n" +
              body);
    const http::Response parsed = parse_response(out);
    CHECK(parsed.status == 403);
    CHECK(parsed.body == body);
}

TEST_CASE("a 426 refusal carries its extra headers") {
    auto refusal = check(RequestText{}.set("Sec-WebSocket-Version", "8"));
    REQUIRE(refusal.has_value());
    const std::string out = handshake::build_refusal(*refusal);
    CHECK(out.starts_with("HTTP/1.1 426 Upgrade Required\r\n"));
    CHECK(out.find("\r\nConnection: close\r\nSec-WebSocket-Version: 13\r\n\r\nloopgate: unsupported") !=
          std::string::npos);
    const http::Response parsed = parse_response(out);
    CHECK(parsed.status == 426);
    CHECK(parsed.headers.count("content-length") == 1);
    CHECK(*parsed.headers.find("content-length") == std::to_string(parsed.body.size()));
}

TEST_CASE("an upstream that ends on an interim 1xx answer gives the app loopgate's 502, not a 1xx it would wait past") {
    http::Response interim;
    interim.status = 100;
    interim.reason = "Continue";
    std::string text = handshake::build_relayed_refusal(interim);
    CHECK(text.rfind("HTTP/1.1 502 Bad Gateway\r\n", 0) == 0);
    CHECK(text.find("loopgate: upstream sent only an interim 100 response before closing the connection\n") !=
          std::string::npos);
}

TEST_CASE("handshake: upstream_headers replace the app's headers of the same name") {
    loopgate::http::Request app = request("127.0.0.1:1");
    app.headers.add("authorization", "Bearer from-app");
    app.headers.add("X-Kept", "1");
    loopgate::config::UpstreamUrl upstream;
    REQUIRE_FALSE(loopgate::config::parse_upstream_url("wss://gw.test", upstream));
    std::vector<loopgate::config::HeaderSetting> extra = {{"Authorization", "Bearer from-config"}};
    std::string out = loopgate::handshake::build_upstream_request(app, upstream, extra);
    CHECK(out.find("from-app") == std::string::npos);
    CHECK(out.find("\r\nAuthorization: Bearer from-config\r\n") != std::string::npos);
    CHECK(out.find("\r\nX-Kept: 1\r\n") != std::string::npos);
}

TEST_CASE("loopgate's own client request (probe, setup) passes the app checks, with a fresh key each time") {
    http::Request first = handshake::new_client_request("127.0.0.1:18789", "/path?q=1", "loopgate-probe/1");
    http::Request second = handshake::new_client_request("127.0.0.1:18789", "/", "loopgate-probe/1");
    CHECK_FALSE(handshake::check_app_request(first).has_value());
    CHECK(first.target == "/path?q=1");
    CHECK(*first.headers.find("host") == "127.0.0.1:18789");
    REQUIRE(first.headers.find("sec-websocket-key") != nullptr);
    CHECK(*first.headers.find("sec-websocket-key") != *second.headers.find("sec-websocket-key"));
    CHECK(*first.headers.find("user-agent") == "loopgate-probe/1");
}
