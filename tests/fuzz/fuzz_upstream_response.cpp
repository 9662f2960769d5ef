// The upstream side of the handshake: a gateway (or anything that answers on
// its address) may send any bytes in any pieces. The response reader must
// answer the same way for every chunking; a 101 must be checked against what
// the app offered; and what the app receives, a 101 or the relayed refusal,
// must be well-formed HTTP that tells the app the same story; a 101 refused
// is refused with a reason that carries no control byte the upstream sent.
//
// Options byte: bits 0-1 pick the header limit (16384, 1024, 128, 40 bytes),
// bits 2-3 the body limit (0, 16, 4096, 65536 bytes), bit 4 makes the
// upstream hang up after its last byte.

#include <array>
#include <string>

#include "fuzz_http.hpp"
#include "handshake.hpp"

using namespace loopgate;
using namespace loopgate::fuzz;

namespace {

constexpr std::array<size_t, 4> kHeaderLimits = {16384, 1024, 128, 40};
constexpr std::array<size_t, 4> kBodyLimits = {0, 16, 4096, 65536};

// What the app offered; seeds answer it with s3pPLMBiTxaQ9kYGzzhZRbK+xOo=.
const http::Request& app_request() {
    static const http::Request request = [] {
        http::Request r;
        r.method = "GET";
        r.target = "/chat";
        r.headers.add("Host", "127.0.0.1:18789");
        r.headers.add("Upgrade", "websocket");
        r.headers.add("Connection", "Upgrade");
        r.headers.add("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
        r.headers.add("Sec-WebSocket-Version", "13");
        r.headers.add("Sec-WebSocket-Protocol", "chat, superchat");
        r.headers.add("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-webkit-test");
        return r;
    }();
    return request;
}

bool same_response(const http::Response& a, const http::Response& b) {
    return a.status == b.status && a.reason == b.reason && a.version_major == b.version_major &&
           a.version_minor == b.version_minor && same_headers(a.headers, b.headers) && a.body == b.body &&
           a.body_truncated == b.body_truncated;
}

// The app must see an upgrade it can verify, negotiating exactly what loopgate
// agreed to with the upstream.
void check_app_101(const http::Response& upstream, const handshake::Negotiated& negotiated) {
    require((negotiated.allowed_rsv & ~0x70) == 0, "negotiation allowed bits outside RSV1-3");
    std::string text = handshake::build_app_101(upstream, app_request());
    http::Reader reader(http::Reader::Kind::response, 1 << 20);
    if (!reads_back(reader, text, "the 101 sent to the app")) return;
    const http::Response& seen = reader.response();
    require(seen.status == 101, "the app's 101 is not a 101");
    require(seen.headers.count("sec-websocket-accept") == 1, "the app's 101 needs exactly one Sec-WebSocket-Accept");
    handshake::Negotiated as_seen;
    if (auto why = handshake::check_upstream_101(seen, app_request(), as_seen)) {
        std::fprintf(stderr, "fuzz detail: %s\n", why->c_str());
        broken("the app would refuse the 101 loopgate accepted");
    }
    require(as_seen.protocol == negotiated.protocol && as_seen.extensions == negotiated.extensions &&
                as_seen.allowed_rsv == negotiated.allowed_rsv,
            "the app's 101 negotiates something else than the upstream's");
}

// A refusal reaches the app with its status and (bounded) body intact.
void check_relayed(const http::Response& upstream, size_t body_limit) {
    require(upstream.body.size() <= body_limit, "a refusal body outgrew the body limit");
    std::string text = handshake::build_relayed_refusal(upstream);
    http::Reader reader(http::Reader::Kind::response, 1 << 20, 1 << 20);
    if (!reads_back(reader, text, "the relayed refusal")) return;
    if (upstream.status < 200) {  // an interim response alone is no answer: loopgate's own 502
        require(reader.response().status == 502, "an interim-only answer was not turned into a 502");
        return;
    }
    require(reader.response().status == upstream.status, "the relayed refusal changed the status");
    require(reader.response().body == upstream.body, "the relayed refusal changed the body");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ChunkedInput input = ChunkedInput::split(data, size);
    size_t head_limit = kHeaderLimits[input.options & 3];
    size_t body_limit = kBodyLimits[(input.options >> 2) & 3];
    bool hangs_up = (input.options & 0x10) != 0;

    http::Reader chunked(http::Reader::Kind::response, head_limit, body_limit);
    http::Reader whole(http::Reader::Kind::response, head_limit, body_limit);
    ReadOutcome a = read_message(chunked, input, hangs_up);
    ReadOutcome b = read_message(whole, in_one_piece(input), hangs_up);
    require(a.status == b.status, "the response reader's answer depends on how the bytes were split");
    if (a.status != http::Reader::Status::complete) return 0;
    require(same_response(chunked.response(), whole.response()), "the parsed response depends on the split");
    require(chunked.head_bytes() <= head_limit, "a complete response head is over the limit");

    const http::Response& response = chunked.response();
    if (response.status != 101) {
        check_relayed(response, body_limit);
        return 0;
    }
    require(a.consumed == b.consumed && a.consumed == chunked.head_bytes(),
            "the bytes behind a 101 (the first frames) were consumed or depend on the split");
    handshake::Negotiated negotiated;
    auto why = handshake::check_upstream_101(response, app_request(), negotiated);
    if (!why) {
        check_app_101(response, negotiated);
    } else if (has_control_bytes(*why)) {
        std::fprintf(stderr, "fuzz detail: reason: %s\n", why->c_str());
        broken("a refused 101's reason carries control bytes from the upstream");
    }
    return 0;
}
