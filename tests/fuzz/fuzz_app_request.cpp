// The app side of the handshake: whatever bytes a local process (or a web
// page) sends, in whatever pieces, the request reader, the upgrade checks
// and the route's Host/Origin policy must answer without crashing, the same
// way for every chunking; a refusal's reason (which reaches logs and the
// response body) carries no control bytes; and anything loopgate writes back
// or forwards must be well-formed HTTP. A plain (non-upgrade) request on a
// route that forwards HTTP goes through the HTTP policy and is rewritten as
// a forwarded request; its body, streamed, must end at the same byte however
// the stream is split.
//
// Options byte: bits 0-1 pick the header limit (16384, 1024, 128, 40 bytes),
// bits 2-3 the upstream the request is rewritten for, bits 4-5 the route's
// access settings (defaults, allowed origins and hosts, a unix socket
// listener, a 0.0.0.0 listener).

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

#include "access_policy.hpp"
#include "config.hpp"
#include "fuzz_http.hpp"
#include "handshake.hpp"
#include "http_forward.hpp"

using namespace loopgate;
using namespace loopgate::fuzz;

namespace {

constexpr std::array<size_t, 4> kHeaderLimits = {16384, 1024, 128, 40};
constexpr std::array<std::string_view, 4> kUpstreams = {
    "wss://gateway.test", "wss://gateway.test:8443/base/path", "ws://127.0.0.1:8080", "wss://h.example/b"};

const config::UpstreamUrl& upstream_for(uint8_t options) {
    static const std::array<config::UpstreamUrl, 4> urls = [] {
        std::array<config::UpstreamUrl, 4> out;
        for (size_t i = 0; i < kUpstreams.size(); ++i) {
            if (config::parse_upstream_url(kUpstreams[i], out[i])) broken("a built-in upstream URL does not parse");
        }
        return out;
    }();
    return urls[(options >> 2) & 3];
}

// Routes as a config file would declare them, so the policy is built the
// way the daemon builds it. The listener's port is 18789 in every seed.
constexpr std::array<std::string_view, 4> kRouteAccess = {
    R"("listen": "127.0.0.1:18789")",
    R"("listen": "127.0.0.1:18789", "allowed_origins": ["http://localhost:*", "https://app.example",
       "tauri://localhost"], "allowed_hosts": ["gateway.local", "devbox:8080", "[::1]"])",
    R"("listen": "unix:/tmp/loopgate-fuzz/gw.sock", "allowed_origins": ["http://127.0.0.1:5173"])",
    R"("listen": "0.0.0.0:18789", "allow_non_loopback": true)",
};

const AccessPolicy& access_for(uint8_t options) {
    static const std::array<AccessPolicy, 4> policies = [] {
        std::array<AccessPolicy, 4> out;
        for (size_t i = 0; i < kRouteAccess.size(); ++i) {
            std::string text = R"({"routes": [{"name": "gw", "upstream": "wss://gateway.test", )" +
                               std::string(kRouteAccess[i]) + "}]}";
            config::LoadResult loaded = config::parse_config(text, "/nonexistent/loopgate-fuzz");
            if (!loaded.config) {
                for (const auto& error : loaded.errors) {
                    std::fprintf(stderr, "fuzz detail: %s\n", error.c_str());
                }
                broken("a built-in route config does not parse");
            }
            out[i] = AccessPolicy::for_route(loaded.config->routes.front(), 18789);
        }
        return out;
    }();
    return policies[(options >> 4) & 3];
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// RFC 9110 7.6.1 plus what loopgate writes itself: none of these may reach
// the upstream from the app.
bool must_not_be_forwarded(const http::Headers& app, std::string_view name) {
    constexpr std::array<std::string_view, 11> kHopByHop = {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "trailer",    "transfer-encoding", "upgrade", "host", "content-length"};
    for (std::string_view hop : kHopByHop)
        if (iequals(hop, name)) return true;
    return app.has_token("connection", name);
}

bool same_request(const http::Request& a, const http::Request& b) {
    return a.method == b.method && a.target == b.target && a.version_major == b.version_major &&
           a.version_minor == b.version_minor && same_headers(a.headers, b.headers);
}

// Reasons quote what the app sent; they go into log lines and response
// bodies, where a CR, LF or escape sequence would forge or garble output.
void check_refusal_is_http(const handshake::Refusal& refusal) {
    require(refusal.status >= 400 && (refusal.status <= 499 || refusal.status == 505),
            "a refused app request is not a 4xx (or 505 for an HTTP version loopgate does not forward)");
    require(!refusal.reason.empty(), "a refusal has no reason");
    if (has_control_bytes(refusal.reason)) {
        std::fprintf(stderr, "fuzz detail: reason: %s\n", refusal.reason.c_str());
        broken("a refusal reason carries control bytes from the request");
    }
    std::string text = handshake::build_refusal(refusal);
    http::Reader reader(http::Reader::Kind::response, 1 << 20, 1 << 20);
    if (!reads_back(reader, text, "loopgate's refusal")) return;
    require(reader.response().status == refusal.status, "the refusal's status line changed");
    require(reader.response().body.find(refusal.reason) != std::string::npos, "the refusal body lost its reason");
}

// The forwarded request: our Host, Upgrade and Connection, then the app's
// end-to-end headers unchanged and in order.
void check_forwarded(const http::Request& app, const config::UpstreamUrl& upstream) {
    std::string text = handshake::build_upstream_request(app, upstream);
    http::Reader reader(http::Reader::Kind::request, 1 << 20);
    if (!reads_back(reader, text, "the request sent upstream")) return;
    const http::Request& sent = reader.request();
    require(sent.method == "GET" && sent.version_major == 1 && sent.version_minor == 1,
            "the upstream request line is not GET HTTP/1.1");
    require(sent.target == handshake::upstream_target(upstream.base_path, app.target),
            "the upstream request target is not base path + app target");

    http::Headers expected;
    expected.add("Host", upstream.authority());
    expected.add("Upgrade", "websocket");
    expected.add("Connection", "Upgrade");
    for (const auto& h : app.headers.list())
        if (!must_not_be_forwarded(app.headers, h.name)) expected.add(h.name, h.value);
    require(same_headers(sent.headers, expected), "the upstream headers are not exactly the app's end-to-end ones");
}

// A plain request forwarded: the method and target (under the base path)
// survive, Host is the upstream's, and no hop-by-hop header reaches it.
void check_forwarded_http(const http::Request& app, const config::UpstreamUrl& upstream) {
    std::string text = http_forward::request_head(app, upstream, {}, false, "127.0.0.1:18789", "127.0.0.1");
    http::Reader reader(http::Reader::Kind::request, 1 << 20, 0, true);
    if (!reads_back(reader, text, "the HTTP request sent upstream")) return;
    const http::Request& sent = reader.request();
    require(sent.method == app.method, "the forwarded method changed");
    require(sent.target == handshake::upstream_target(upstream.base_path, app.target), "the forwarded target changed");
    require(sent.headers.count("host") == 1 && *sent.headers.find("host") == upstream.authority(),
            "the forwarded request does not carry exactly the upstream's Host");
    for (std::string_view hop : {"connection", "keep-alive", "proxy-connection", "te", "upgrade"}) {
        require(sent.headers.count(hop) == 0, "a hop-by-hop header was forwarded");
    }
}

// Where the body after a complete head ends, fed in the input's chunks.
// Returns the bytes it took, or -1 (not ended), or -2 (an error).
long streamed_body_end(http::Reader& reader, std::string_view rest, const std::vector<size_t>& sizes) {
    size_t at = 0;
    size_t turn = 0;
    do {
        size_t want = sizes.empty() ? rest.size() : sizes[turn++ % sizes.size()];
        size_t len = std::min(want, rest.size() - at);
        size_t consumed = 0;
        auto status = reader.feed_body(rest.data() + at, len, consumed);
        require(consumed <= len, "feed_body consumed more bytes than it was given");
        if (status == http::Reader::Status::error) return -2;
        at += consumed;
        if (status == http::Reader::Status::complete) return static_cast<long>(at);
        require(consumed == len, "feed_body left bytes of an unfinished body");
    } while (at < rest.size());
    return -1;
}

void check_streamed_body(const ChunkedInput& input, size_t head_bytes, size_t limit) {
    std::string_view rest = input.stream.substr(head_bytes);
    http::Reader chunked(http::Reader::Kind::request, limit, 0, true);
    http::Reader whole(http::Reader::Kind::request, limit, 0, true);
    size_t consumed = 0;
    require(chunked.feed(input.stream.data(), head_bytes, consumed) == http::Reader::Status::complete &&
                whole.feed(input.stream.data(), head_bytes, consumed) == http::Reader::Status::complete,
            "a head read once is not read again");
    long a = streamed_body_end(chunked, rest, input.chunk_sizes);
    long b = streamed_body_end(whole, rest, {});
    require(a == b, "where a streamed body ends depends on how the bytes were split");
    if (a >= 0) require(chunked.body_bytes() == whole.body_bytes(), "the body's size depends on the split");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ChunkedInput input = ChunkedInput::split(data, size);
    size_t limit = kHeaderLimits[input.options & 3];

    http::Reader chunked(http::Reader::Kind::request, limit);
    http::Reader whole(http::Reader::Kind::request, limit);
    ReadOutcome a = read_message(chunked, input, false);
    ReadOutcome b = read_message(whole, in_one_piece(input), false);
    require(a.status == b.status, "the request reader's answer depends on how the bytes were split");
    if (a.status != http::Reader::Status::complete) return 0;

    require(a.consumed == b.consumed, "the request's end depends on how the bytes were split");
    require(same_request(chunked.request(), whole.request()), "the parsed request depends on the split");
    require(chunked.head_bytes() <= limit && chunked.head_bytes() == a.consumed,
            "a complete request head is not within the limit or not exactly the bytes consumed");

    const http::Request& request = chunked.request();
    // In the session's order: plain HTTP on a route that forwards it, else a
    // valid upgrade first, then who may use the route.
    if (!handshake::is_websocket_upgrade(request)) {
        if (auto denied = access_for(input.options).check_http(request)) {
            require(denied->status == 403, "an HTTP policy refusal is not a 403");
            check_refusal_is_http(*denied);
        } else if (auto refused = http_forward::check_forwardable(request)) {
            check_refusal_is_http(*refused);
            require(refused->status != 505 || request.version_minor != 1, "an HTTP/1.1 request got 505");
        } else {
            check_forwarded_http(request, upstream_for(input.options));
        }
        check_streamed_body(input, a.consumed, limit);
        return 0;
    }
    if (auto refusal = handshake::check_app_request(request)) {
        check_refusal_is_http(*refusal);
    } else if (auto denied = access_for(input.options).check(request)) {
        require(denied->status == 403, "a Host or Origin refusal is not a 403");
        check_refusal_is_http(*denied);
    } else {
        check_forwarded(request, upstream_for(input.options));
    }
    return 0;
}
