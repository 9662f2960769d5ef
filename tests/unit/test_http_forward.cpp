// proxy/http_forward and the reader's streamed bodies: what a forwarded HTTP
// exchange sends each way, and where each message ends.
#include <doctest/doctest.h>

#include <string>

#include "config.hpp"
#include "http_forward.hpp"
#include "http_reader.hpp"

using namespace loopgate;

namespace {

config::UpstreamUrl upstream(const std::string& url) {
    config::UpstreamUrl out;
    REQUIRE_FALSE(config::parse_upstream_url(url, out).has_value());
    return out;
}

// Feeds a whole message in pieces of `step` bytes; returns how many bytes it
// took, or -1 when it did not end. `head` and the reader are the caller's.
long body_end(http::Reader& reader, const std::string& bytes, size_t step) {
    size_t offset = 0;
    while (true) {
        size_t n = std::min(step, bytes.size() - offset);
        size_t consumed = 0;
        auto status = reader.feed_body(bytes.data() + offset, n, consumed);
        REQUIRE(status != http::Reader::Status::error);
        offset += consumed;
        if (status == http::Reader::Status::complete) return static_cast<long>(offset);
        if (offset >= bytes.size()) return -1;
    }
}

http::Reader& read_head(http::Reader& reader, const std::string& head) {
    size_t consumed = 0;
    REQUIRE(reader.feed(head.data(), head.size(), consumed) == http::Reader::Status::complete);
    REQUIRE(consumed == head.size());
    return reader;
}

}  // namespace

TEST_CASE("http forward: Location on the upstream's origin moves to the listener's, others stay") {
    auto gw = upstream("wss://gateway.tail.ts.net");
    const std::string app = "http://127.0.0.1:18789";
    CHECK(http_forward::rewrite_location("https://gateway.tail.ts.net/login?x=1", gw, app) ==
          "http://127.0.0.1:18789/login?x=1");
    CHECK(http_forward::rewrite_location("https://GATEWAY.tail.ts.net:443/", gw, app) == "http://127.0.0.1:18789/");
    CHECK(http_forward::rewrite_location("https://gateway.tail.ts.net", gw, app) == "http://127.0.0.1:18789/");
    CHECK_FALSE(http_forward::rewrite_location("/relative", gw, app).has_value());
    CHECK_FALSE(http_forward::rewrite_location("https://elsewhere.test/", gw, app).has_value());
    CHECK_FALSE(http_forward::rewrite_location("http://gateway.tail.ts.net/", gw, app).has_value());  // another origin
    CHECK_FALSE(http_forward::rewrite_location("https://gateway.tail.ts.net.evil.test/", gw, app).has_value());
    auto based = upstream("wss://100.64.0.7:18789/ui");
    CHECK(http_forward::rewrite_location("https://100.64.0.7:18789/ui/page", based, app) == "http://127.0.0.1:18789/page");
    CHECK_FALSE(http_forward::rewrite_location("https://100.64.0.7:18789/other", based, app).has_value());
}

TEST_CASE("http forward: a cookie's Domain naming the upstream is dropped, the rest kept") {
    CHECK(http_forward::strip_cookie_domain("sid=1; Domain=localhost; Path=/; HttpOnly", "localhost") ==
          "sid=1; Path=/; HttpOnly");
    CHECK(http_forward::strip_cookie_domain("sid=1; domain=.LocalHost", "localhost") == "sid=1");
    CHECK(http_forward::strip_cookie_domain("sid=1; Domain=other.test", "localhost") == "sid=1; Domain=other.test");
    CHECK(http_forward::strip_cookie_domain("domain=localhost; Path=/", "localhost") == "domain=localhost; Path=/");
}

TEST_CASE("http forward: the request upstream has the upstream's Host, no hop-by-hop header, nothing naming the app") {
    http::Request app;
    app.method = "POST";
    app.target = "/api?q=1";
    for (auto [name, value] : {std::pair{"Host", "127.0.0.1:18789"}, {"Connection", "keep-alive, X-Secret"},
                               {"X-Secret", "s"}, {"Keep-Alive", "timeout=5"}, {"TE", "trailers"},
                               {"Content-Length", "3"}, {"Cookie", "a=b"}, {"Authorization", "app"}}) {
        app.headers.add(name, value);
    }
    config::HeaderSetting token{"Authorization", "Bearer route"};
    std::string head = http_forward::request_head(app, upstream("wss://gw.test:8443/base"), {&token, 1}, false,
                                                  "127.0.0.1:18789", "127.0.0.1");
    CHECK(head == "POST /base/api?q=1 HTTP/1.1\r\nHost: gw.test:8443\r\nContent-Length: 3\r\nCookie: a=b\r\n"
                  "Authorization: Bearer route\r\n\r\n");
    std::string forwarded = http_forward::request_head(app, upstream("wss://gw.test"), {}, true, "127.0.0.1:18789",
                                                       "127.0.0.1");
    CHECK(forwarded.find("Forwarded: for=\"127.0.0.1\";proto=http;host=\"127.0.0.1:18789\"\r\n") != std::string::npos);
    CHECK(forwarded.find("X-Forwarded-For: 127.0.0.1\r\n") != std::string::npos);
}

TEST_CASE("http forward: the response head keeps its framing, drops hop-by-hop, rewrites, and says close when asked") {
    http::Response response;
    response.status = 302;
    response.reason = "Found";
    for (auto [name, value] : {std::pair{"Location", "https://gw.test/next"}, {"Transfer-Encoding", "chunked"},
                               {"Connection", "X-Hop"}, {"X-Hop", "1"}, {"Set-Cookie", "a=1; Domain=gw.test"}}) {
        response.headers.add(name, value);
    }
    CHECK(http_forward::response_head(response, upstream("wss://gw.test"), "http://localhost:18789", true) ==
          "HTTP/1.1 302 Found\r\nLocation: http://localhost:18789/next\r\nTransfer-Encoding: chunked\r\n"
          "Set-Cookie: a=1\r\nConnection: close\r\n\r\n");
}

TEST_CASE("http reader: a streamed body ends exactly where its framing says, in any chunking") {
    for (size_t step : {1, 3, 64, 100000}) {
        CAPTURE(step);
        http::Reader by_length(http::Reader::Kind::request, 4096, 0, true);
        read_head(by_length, "POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");
        CHECK(body_end(by_length, "helloGET /next", step) == 5);
        CHECK(by_length.body_bytes() == 5);
        CHECK(by_length.keep_alive());

        http::Reader chunked(http::Reader::Kind::response, 4096, 0, true);
        read_head(chunked, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        CHECK_FALSE(chunked.body_until_close());
        std::string body = "5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n";
        CHECK(body_end(chunked, body + "HTTP/1.1 204", step) == static_cast<long>(body.size()));
        CHECK(chunked.body_bytes() == 5);

        http::Reader none(http::Reader::Kind::request, 4096, 0, true);
        read_head(none, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        CHECK(body_end(none, "GET /next", step) == 0);
    }
}

TEST_CASE("http reader: a HEAD response has no body; one without a length runs to the connection's end") {
    http::Reader head(http::Reader::Kind::response, 4096, 0, true);
    head.expect_no_body();
    read_head(head, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n");
    CHECK_FALSE(head.body_until_close());
    CHECK(body_end(head, "HTTP/1.1 200 OK", 100) == 0);

    http::Reader until_close(http::Reader::Kind::response, 4096, 0, true);
    read_head(until_close, "HTTP/1.1 200 OK\r\n\r\n");
    CHECK(until_close.body_until_close());
    CHECK(body_end(until_close, "anything at all", 4) == -1);
    CHECK(until_close.finish() == http::Reader::Status::complete);

    http::Reader cut(http::Reader::Kind::response, 4096, 0, true);
    read_head(cut, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n");
    CHECK(body_end(cut, "short", 5) == -1);
    CHECK(cut.finish() == http::Reader::Status::error);

    http::Reader interim(http::Reader::Kind::response, 4096, 0, true);
    read_head(interim, "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(interim.response().status == 100);
    CHECK(body_end(interim, "HTTP/1.1 200 OK\r\n", 7) == 0);
}

// RFC 9112 6.3: 1xx, 204 and 304 end at the blank line whatever length they
// state; reading one as a body would take the next response's bytes and
// desynchronise a kept-alive connection.
TEST_CASE("http reader: a 1xx, 204 or 304 with a Content-Length or chunked framing has no body") {
    for (std::string head : {"HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n",
                             "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n",
                             "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                             "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n"}) {
        CAPTURE(head);
        http::Reader reader(http::Reader::Kind::response, 4096, 0, true);
        read_head(reader, head);
        CHECK_FALSE(reader.body_until_close());
        CHECK(body_end(reader, "HTTP/1.1 200 OK\r\n", 7) == 0);
    }
}

TEST_CASE("http reader: a body that breaks its framing is an error, not a message end") {
    http::Reader chunked(http::Reader::Kind::request, 4096, 0, true);
    read_head(chunked, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t consumed = 0;
    std::string bad = "zz\r\nhello\r\n";
    CHECK(chunked.feed_body(bad.data(), bad.size(), consumed) == http::Reader::Status::error);
    CHECK(chunked.error_reason().rfind("malformed HTTP body", 0) == 0);
}

TEST_CASE("http forward: only HTTP/1.1 requests for a path, with a framing the upstream reads alike, are forwarded") {
    auto status_of = [](std::string method, std::string target, std::vector<std::pair<std::string, std::string>> h,
                        int minor = 1) {
        http::Request request;
        request.method = std::move(method);
        request.target = std::move(target);
        request.version_minor = minor;
        for (auto& [name, value] : h) request.headers.add(name, value);
        auto refusal = http_forward::check_forwardable(request);
        return refusal ? refusal->status : 0;
    };
    CHECK(status_of("GET", "/", {}) == 0);
    CHECK(status_of("OPTIONS", "*", {}) == 0);
    CHECK(status_of("POST", "/x", {{"Transfer-Encoding", "gzip, chunked"}}) == 0);
    CHECK(status_of("GET", "/", {}, 0) == 505);
    CHECK(status_of("CONNECT", "127.0.0.1:443", {}) == 405);
    CHECK(status_of("GET", "http://elsewhere.test/", {}) == 400);
    CHECK(status_of("GET", "*", {}) == 400);
    CHECK(status_of("GET", "", {}) == 400);
    CHECK(status_of("POST", "/x", {{"Transfer-Encoding", "chunked, gzip"}}) == 400);
    CHECK(status_of("POST", "/x", {{"Transfer-Encoding", "chunked"}, {"Transfer-Encoding", "identity"}}) == 400);
}

TEST_CASE("http forward: a refused target is quoted with its control bytes escaped, never echoed raw") {
    http::Request request;
    request.method = "GET";
    request.target = "http://127.0.0.1:18789/\x0cx\r\nSet-Cookie: a=\"b\"";
    request.version_minor = 1;
    auto refusal = http_forward::check_forwardable(request);
    REQUIRE(refusal);
    CHECK(refusal->status == 400);
    CHECK(refusal->reason ==
          "the request target must be a path such as /index.html, not "
          "\"http://127.0.0.1:18789/\\x0cx\\x0d\\x0aSet-Cookie: a=\\x22b\\x22\"");
    request.target = std::string(300, 'a');
    refusal = http_forward::check_forwardable(request);
    REQUIRE(refusal);
    CHECK(refusal->reason.size() < 200);
    CHECK(refusal->reason.find("...") != std::string::npos);
    // The reason is logged: a token in the query is not.
    request.target = "http://127.0.0.1:18789/chat?room=1&token=SECRET";
    refusal = http_forward::check_forwardable(request);
    REQUIRE(refusal);
    CHECK(refusal->reason.find("SECRET") == std::string::npos);
    CHECK(refusal->reason.find("room=1&token=REDACTED") != std::string::npos);
}
