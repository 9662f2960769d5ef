#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "http_reader.hpp"

using namespace loopgate;

namespace {

using Status = http::Reader::Status;
using Kind = http::Reader::Kind;

const std::string kUpgradeRequest =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: 127.0.0.1:18789\r\n"
    "Upgrade: websocket\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://localhost:1420\r\n"
    "\r\n";

// The start of a masked client text frame, sent right behind the request.
const std::string kEarlyFrame("\x81\x85\x01\x02\x03\x04hello", 11);

const std::string kUpstream101 =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

bool same_request(const http::Request& a, const http::Request& b) {
    if (a.method != b.method || a.target != b.target || a.version_major != b.version_major ||
        a.version_minor != b.version_minor || a.headers.list().size() != b.headers.list().size()) {
        return false;
    }
    for (size_t i = 0; i < a.headers.list().size(); ++i) {
        const auto& x = a.headers.list()[i];
        const auto& y = b.headers.list()[i];
        if (x.name != y.name || x.value != y.value) return false;
    }
    return true;
}

std::string request_with_header_bytes(size_t filler) {
    return "GET / HTTP/1.1\r\nHost: a\r\nX-Filler: " + std::string(filler, 'f') + "\r\n\r\n";
}

std::string response_with_header_bytes(size_t filler) {
    return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nX-Filler: " +
           std::string(filler, 'f') + "\r\n\r\n";
}

std::string request_with_fields(size_t count) {
    std::string out = "GET / HTTP/1.1\r\n";
    for (size_t i = 0; i < count; ++i) out += "X-Field-" + std::to_string(i) + ": v\r\n";
    return out + "\r\n";
}

// Feeds one byte at a time, as a slow peer would; returns the first non-need_more status.
Status dribble(http::Reader& reader, std::string_view input) {
    for (size_t i = 0; i < input.size(); ++i) {
        size_t consumed = 0;
        Status status = reader.feed(input.data() + i, 1, consumed);
        if (status != Status::need_more) return status;
    }
    return Status::need_more;
}

}  // namespace

TEST_CASE("bytes behind an upgrade request's header block are not consumed") {
    std::string head = "GET /x HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    std::string input = head + "\x81\x85rest";
    http::Reader reader(http::Reader::Kind::request, 16384);
    size_t consumed = 0;
    CHECK(reader.feed(input.data(), input.size(), consumed) == http::Reader::Status::complete);
    CHECK(consumed == head.size());
    CHECK(reader.request().target == "/x");
}

TEST_CASE("an upgrade request is read into method, target, version and headers in order") {
    http::Reader reader(Kind::request, 16384);
    size_t consumed = 0;
    REQUIRE(reader.feed(kUpgradeRequest.data(), kUpgradeRequest.size(), consumed) == Status::complete);
    CHECK(consumed == kUpgradeRequest.size());
    CHECK(reader.head_bytes() == kUpgradeRequest.size());
    const http::Request& request = reader.request();
    CHECK(request.method == "GET");
    CHECK(request.target == "/chat?room=1");
    CHECK(request.version_major == 1);
    CHECK(request.version_minor == 1);
    const auto& headers = request.headers.list();
    REQUIRE(headers.size() == 6);
    CHECK(headers[0].name == "Host");
    CHECK(headers[0].value == "127.0.0.1:18789");
    CHECK(headers[3].name == "Sec-WebSocket-Key");
    CHECK(headers[3].value == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(headers[5].name == "Origin");
    CHECK(headers[5].value == "http://localhost:1420");
}

TEST_CASE("a request split at any byte parses the same, leaving early frame bytes unconsumed") {
    http::Reader whole(Kind::request, 16384);
    size_t consumed = 0;
    REQUIRE(whole.feed(kUpgradeRequest.data(), kUpgradeRequest.size(), consumed) == Status::complete);

    const std::string input = kUpgradeRequest + kEarlyFrame;
    for (size_t split = 1; split < kUpgradeRequest.size(); ++split) {
        CAPTURE(split);
        http::Reader reader(Kind::request, 16384);
        size_t first = 0;
        size_t second = 0;
        CHECK(reader.feed(input.data(), split, first) == Status::need_more);
        CHECK(first == split);
        CHECK(reader.feed(input.data() + split, input.size() - split, second) == Status::complete);
        CHECK(second == kUpgradeRequest.size() - split);
        CHECK(same_request(reader.request(), whole.request()));
        CHECK(reader.head_bytes() == kUpgradeRequest.size());
    }
}

TEST_CASE("a request dribbled one byte at a time parses the same") {
    http::Reader reader(Kind::request, 16384);
    CHECK(dribble(reader, kUpgradeRequest) == Status::complete);
    CHECK(reader.request().target == "/chat?room=1");
    CHECK(reader.request().headers.count("host") == 1);
}

TEST_CASE("a 101 response followed by a frame in the same read leaves the frame unconsumed") {
    const std::string challenge("\x81\x1e{\"event\":\"connect.challenge\"}", 32);
    const std::string input = kUpstream101 + challenge;
    http::Reader reader(Kind::response, 16384, 4096);
    size_t consumed = 0;
    REQUIRE(reader.feed(input.data(), input.size(), consumed) == Status::complete);
    CHECK(consumed == kUpstream101.size());
    CHECK(input.substr(consumed) == challenge);
    CHECK(reader.response().status == 101);
    CHECK(reader.response().reason == "Switching Protocols");
    CHECK(*reader.response().headers.find("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    CHECK(reader.response().body.empty());
}

TEST_CASE("a refusal with a Content-Length body is read whole, even across reads") {
    const std::string response =
        "HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\norigin denied\n";
    http::Reader reader(Kind::response, 16384, 4096);
    size_t consumed = 0;
    const size_t split = response.size() - 5;
    CHECK(reader.feed(response.data(), split, consumed) == Status::need_more);
    CHECK(consumed == split);
    CHECK(reader.feed(response.data() + split, response.size() - split, consumed) == Status::complete);
    CHECK(consumed == 5);
    CHECK(reader.response().status == 403);
    CHECK(reader.response().reason == "Forbidden");
    CHECK(reader.response().body == "origin denied\n");
    CHECK_FALSE(reader.response().body_truncated);
}

// Found by tests/fuzz/fuzz_upstream_response: the reader paused at the end of
// the head and, with no byte left in that read, never saw the message end.
TEST_CASE("a refusal without a body is complete when its head ends the read") {
    for (const std::string response : {"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
                                       "HTTP/1.1 204 No Content\r\n\r\n"}) {
        CAPTURE(response);
        http::Reader reader(Kind::response, 16384, 4096);
        size_t consumed = 0;
        REQUIRE(reader.feed(response.data(), response.size(), consumed) == Status::complete);
        CHECK(consumed == response.size());
        CHECK(reader.response().body.empty());
    }
}

TEST_CASE("a refusal with a chunked body is read as its decoded body") {
    const std::string response =
        "HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n"
        "8\r\nupstream\r\n5\r\n down\r\n0\r\n\r\n";
    http::Reader reader(Kind::response, 16384, 4096);
    size_t consumed = 0;
    REQUIRE(reader.feed(response.data(), response.size(), consumed) == Status::complete);
    CHECK(consumed == response.size());
    CHECK(reader.response().status == 502);
    CHECK(reader.response().body == "upstream down");
}

TEST_CASE("a refusal whose body ends with the connection is complete when the peer closes") {
    const std::string response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n\r\nrestarting";
    http::Reader reader(Kind::response, 16384, 4096);
    size_t consumed = 0;
    CHECK(reader.feed(response.data(), response.size(), consumed) == Status::need_more);
    CHECK(consumed == response.size());
    CHECK(reader.finish() == Status::complete);
    CHECK(reader.response().status == 503);
    CHECK(reader.response().body == "restarting");
}

TEST_CASE("a refusal body beyond the body limit is dropped and marked truncated") {
    const std::string response = "HTTP/1.1 403 Forbidden\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz";
    http::Reader reader(Kind::response, 16384, 10);
    size_t consumed = 0;
    REQUIRE(reader.feed(response.data(), response.size(), consumed) == Status::complete);
    CHECK(consumed == response.size());
    CHECK(reader.response().body == "abcdefghij");
    CHECK(reader.response().body_truncated);
}

TEST_CASE("a peer that closes before the header block ends is a 400") {
    http::Reader reader(Kind::response, 16384, 4096);
    size_t consumed = 0;
    const std::string partial = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: webs";
    CHECK(reader.feed(partial.data(), partial.size(), consumed) == Status::need_more);
    CHECK(reader.finish() == Status::error);
    CHECK(reader.error_status() == 400);
    CHECK(reader.error_reason() == "connection closed before the header block was complete");
}

TEST_CASE("a malformed request is a 400 that names the problem, and stays failed") {
    for (std::string bad : {"GET / HTTP/1.1\r\nHost a\r\n\r\n", "GET / HTTP/9.9\r\nHost: a\r\n\r\n",
                            "GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"}) {
        CAPTURE(bad);
        http::Reader reader(Kind::request, 16384);
        size_t consumed = 0;
        CHECK(reader.feed(bad.data(), bad.size(), consumed) == Status::error);
        CHECK(reader.error_status() == 400);
        CHECK(reader.error_reason().starts_with("malformed HTTP: "));
        CHECK(reader.error_reason().size() > std::string_view("malformed HTTP: ").size());
        CHECK(reader.feed(kUpgradeRequest.data(), kUpgradeRequest.size(), consumed) == Status::error);
        CHECK(consumed == 0);
    }
}

TEST_CASE("a request head of exactly the limit is accepted") {
    const std::string request = request_with_header_bytes(100);
    http::Reader reader(Kind::request, request.size());
    size_t consumed = 0;
    CHECK(reader.feed(request.data(), request.size(), consumed) == Status::complete);
    CHECK(consumed == request.size());
}

TEST_CASE("a request head over the limit is a 431, whether it arrives at once or dribbles in") {
    const std::string request = request_with_header_bytes(100);
    const size_t limit = request.size() - 1;
    const std::string reason = "request header block larger than " + std::to_string(limit) + " bytes";

    http::Reader at_once(Kind::request, limit);
    size_t consumed = 0;
    CHECK(at_once.feed(request.data(), request.size(), consumed) == Status::error);
    CHECK(at_once.error_status() == 431);
    CHECK(at_once.error_reason() == reason);

    http::Reader dribbled(Kind::request, limit);
    CHECK(dribble(dribbled, request) == Status::error);
    CHECK(dribbled.error_status() == 431);
    CHECK(dribbled.error_reason() == reason);
}

TEST_CASE("an endless request head is refused once it passes the limit, without waiting for its end") {
    const std::string endless = "GET / HTTP/1.1\r\nX-Endless: " + std::string(20000, 'e');
    http::Reader reader(Kind::request, 16384);
    size_t consumed = 0;
    CHECK(reader.feed(endless.data(), 8192, consumed) == Status::need_more);
    CHECK(reader.feed(endless.data() + 8192, endless.size() - 8192, consumed) == Status::error);
    CHECK(reader.error_status() == 431);
}

TEST_CASE("a response head over the limit that dribbles in is a 431") {
    http::Reader reader(Kind::response, 100, 4096);
    CHECK(dribble(reader, response_with_header_bytes(200)) == Status::error);
    CHECK(reader.error_status() == 431);
    CHECK(reader.error_reason() == "response header block larger than 100 bytes");
}

TEST_CASE("a response head over the limit that arrives in one read is a 431") {
    const std::string response = response_with_header_bytes(200);
    http::Reader reader(Kind::response, 100, 4096);
    size_t consumed = 0;
    CHECK(reader.feed(response.data(), response.size(), consumed) == Status::error);
    CHECK(reader.error_status() == 431);
    CHECK(reader.error_reason() == "response header block larger than 100 bytes");
}

TEST_CASE("100 header fields are accepted and 101 are a 431") {
    const std::string hundred = request_with_fields(100);
    http::Reader ok(Kind::request, 65536);
    size_t consumed = 0;
    CHECK(ok.feed(hundred.data(), hundred.size(), consumed) == Status::complete);
    CHECK(ok.request().headers.list().size() == 100);

    const std::string too_many = request_with_fields(101);
    http::Reader refused(Kind::request, 65536);
    CHECK(refused.feed(too_many.data(), too_many.size(), consumed) == Status::error);
    CHECK(refused.error_status() == 431);
    CHECK(refused.error_reason() == "more than 100 header fields");
}

TEST_CASE("header lookup ignores the case of names and returns the first value") {
    http::Headers headers;
    headers.add("Sec-WebSocket-Protocol", "chat");
    headers.add("X-Other", "x");
    headers.add("sec-websocket-protocol", "superchat");
    REQUIRE(headers.find("SEC-WEBSOCKET-PROTOCOL") != nullptr);
    CHECK(*headers.find("SEC-WEBSOCKET-PROTOCOL") == "chat");
    CHECK(headers.find("missing") == nullptr);
    CHECK(headers.count("Sec-Websocket-Protocol") == 2);
    CHECK(headers.count("missing") == 0);
}

TEST_CASE("repeated headers are joined with a comma in order") {
    http::Headers headers;
    headers.add("Sec-WebSocket-Extensions", "permessage-deflate");
    headers.add("Host", "a");
    headers.add("sec-websocket-extensions", "x-custom; level=2");
    CHECK(headers.joined("Sec-WebSocket-Extensions") == "permessage-deflate, x-custom; level=2");
    CHECK(headers.joined("host") == "a");
    CHECK(headers.joined("missing").empty());
}

TEST_CASE("a token is found in a comma-separated header whatever the spacing, case or line") {
    http::Headers headers;
    headers.add("Connection", "keep-alive ,\tUpgrade");
    headers.add("connection", "X-Hop,  ,te");
    CHECK(headers.has_token("connection", "upgrade"));
    CHECK(headers.has_token("CONNECTION", "keep-alive"));
    CHECK(headers.has_token("Connection", "x-hop"));
    CHECK(headers.has_token("Connection", "TE"));
    CHECK_FALSE(headers.has_token("Connection", "close"));
    CHECK_FALSE(headers.has_token("Connection", "upgrad"));
    CHECK_FALSE(headers.has_token("Connection", "keep-alive ,\tUpgrade"));
    CHECK_FALSE(headers.has_token("Upgrade", "websocket"));
}

TEST_CASE("interim 1xx responses before the 101 are skipped, and the frames behind the 101 stay unconsumed") {
    std::string interim = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n";
    std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: x\r\n\r\n";
    std::string input = interim + head + "\x81\x02hi";
    for (size_t cut = 1; cut < input.size(); ++cut) {
        http::Reader reader(http::Reader::Kind::response, 65536, 65536);
        size_t consumed = 0;
        auto status = reader.feed(input.data(), cut, consumed);
        size_t total = 0;
        if (status == http::Reader::Status::need_more) {
            total = consumed;
            status = reader.feed(input.data() + cut, input.size() - cut, consumed);
        }
        total += consumed;
        REQUIRE(status == http::Reader::Status::complete);
        CHECK(reader.response().status == 101);
        CHECK(reader.response().headers.find("link") == nullptr);
        CHECK(total == interim.size() + head.size());
    }
}

// RFC 9112 6.3: a 1xx ends at its blank line whatever its headers say. An
// upstream's interim response with a Content-Length (found by fuzzing) made
// the reader take the next bytes as its body, so the 101 behind it came out
// with the wrong head size.
TEST_CASE("an interim 1xx has no body even when it carries a length, and the 101 behind it is read exactly") {
    std::string interim = "HTTP/1.1 100 Continue\r\nContent-Length: 3\r\n\r\n"
                          "HTTP/1.1 102 Processing\r\nTransfer-Encoding: chunked\r\n\r\n";
    std::string input = interim + kUpstream101 + "\x81\x02hi";
    for (size_t cut = 1; cut < input.size(); ++cut) {
        CAPTURE(cut);
        http::Reader reader(Kind::response, 65536, 65536);
        size_t consumed = 0;
        auto status = reader.feed(input.data(), cut, consumed);
        size_t total = consumed;
        if (status == Status::need_more) {
            status = reader.feed(input.data() + cut, input.size() - cut, consumed);
            total += consumed;
        }
        REQUIRE(status == Status::complete);
        CHECK(reader.response().status == 101);
        CHECK(total == interim.size() + kUpstream101.size());
        CHECK(reader.head_bytes() == total);
    }
}
