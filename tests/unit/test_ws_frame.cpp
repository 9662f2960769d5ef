#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "ws_frame.hpp"

using namespace loopgate::ws;

namespace {

constexpr uint8_t kFin = 0x80;
constexpr unsigned char kMaskKey[4] = {0x37, 0xfa, 0x21, 0x3d};

const ScanPolicy kFromClient{true, 0, 64ull << 20};
const ScanPolicy kFromServer{false, 0, 64ull << 20};

void append_big_endian(std::string& out, uint64_t value, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((value >> (8 * i)) & 0xff);
}

// A frame as a peer puts it on the wire, with the shortest length encoding.
std::string frame(uint8_t first_byte, std::string_view payload, bool masked) {
    std::string out(1, static_cast<char>(first_byte));
    const uint8_t mask_bit = masked ? 0x80 : 0;
    const size_t n = payload.size();
    if (n <= 125) {
        out += static_cast<char>(mask_bit | n);
    } else if (n <= 0xffff) {
        out += static_cast<char>(mask_bit | 126);
        append_big_endian(out, n, 2);
    } else {
        out += static_cast<char>(mask_bit | 127);
        append_big_endian(out, n, 8);
    }
    if (!masked) return out + std::string(payload);
    out.append(reinterpret_cast<const char*>(kMaskKey), 4);
    for (size_t i = 0; i < n; ++i) out += static_cast<char>(payload[i] ^ kMaskKey[i & 3]);
    return out;
}

std::string client_frame(uint8_t first_byte, std::string_view payload) { return frame(first_byte, payload, true); }
std::string server_frame(uint8_t first_byte, std::string_view payload) { return frame(first_byte, payload, false); }

std::string close_payload(uint16_t code, std::string_view reason) {
    std::string out;
    append_big_endian(out, code, 2);
    return out + std::string(reason);
}

// What the relay did with a stream: forwarded bytes and captured control
// frames interleaved in call order, so a lossless relay reproduces its input.
struct Recorder : FrameSink {
    std::string relayed;
    std::vector<uint8_t> control_opcodes;
    std::vector<std::string> control_payloads;
    std::vector<ScanError> errors;

    void on_frame_bytes(const char* data, size_t len) override { relayed.append(data, len); }
    void on_control_frame(const ControlFrame& f) override {
        relayed.append(f.wire, f.wire_len);
        control_opcodes.push_back(f.opcode);
        control_payloads.emplace_back(reinterpret_cast<const char*>(f.payload), f.payload_len);
    }
    void on_frame_error(const ScanError& e) override { errors.push_back(e); }
};

struct ScanResult {
    Recorder sink;
    bool fed_bytes_all_consumed = true;  // every feed() before a failure took its whole chunk
    bool failed = false;
};

// Feeds `input` in pieces whose sizes `next_chunk` picks, until the input
// ends or the scanner fails.
ScanResult scan_in_chunks(const ScanPolicy& policy, std::string_view input, const std::function<size_t()>& next_chunk) {
    ScanResult result;
    FrameScanner scanner(policy);
    size_t pos = 0;
    while (pos < input.size() && !scanner.failed()) {
        size_t n = std::min(std::max<size_t>(next_chunk(), 1), input.size() - pos);
        size_t used = scanner.feed(input.data() + pos, n, result.sink);
        if (!scanner.failed() && used != n) result.fed_bytes_all_consumed = false;
        pos += n;
    }
    result.failed = scanner.failed();
    return result;
}

ScanResult scan_in_chunks_of(const ScanPolicy& policy, std::string_view input, size_t chunk) {
    return scan_in_chunks(policy, input, [chunk] { return chunk; });
}

std::function<size_t()> random_chunks(std::mt19937& rng, size_t max_chunk) {
    return [&rng, max_chunk] { return std::uniform_int_distribution<size_t>(1, max_chunk)(rng); };
}

// Every kind of valid frame, including a ping between the fragments of a message.
std::string valid_conversation(bool masked) {
    std::string binary_300(300, '\0');
    for (size_t i = 0; i < binary_300.size(); ++i) binary_300[i] = static_cast<char>(i);
    std::string binary_65536(65536, 'z');
    binary_65536[0] = 'A';
    binary_65536.back() = 'Z';
    return frame(kFin | kText, "hello", masked) + frame(kFin | kBinary, std::string("\x00\xff\x10", 3), masked) +
           frame(kFin | kText, "", masked) + frame(kFin | kBinary, binary_300, masked) +
           frame(kFin | kBinary, binary_65536, masked) + frame(kText, "first part, ", masked) +
           frame(kFin | kPing, "are you there", masked) + frame(kContinuation, "second part, ", masked) +
           frame(kFin | kPong, "", masked) + frame(kFin | kContinuation, "last part", masked) +
           frame(kFin | kClose, close_payload(1000, "bye \xc3\xa9"), masked);
}

void check_whole_conversation_relayed(const ScanResult& result, std::string_view input) {
    CHECK_FALSE(result.failed);
    CHECK(result.fed_bytes_all_consumed);
    CHECK(result.sink.relayed.size() == input.size());
    CHECK(result.sink.relayed == input);
    CHECK(result.sink.control_opcodes == std::vector<uint8_t>{kPing, kPong, kClose});
    REQUIRE(result.sink.control_payloads.size() == 3);
    CHECK(result.sink.control_payloads[0] == "are you there");  // unmasked for inspection
    CHECK(result.sink.control_payloads[2] == close_payload(1000, "bye \xc3\xa9"));
}

void check_relayed_losslessly_in_any_chunking(const ScanPolicy& policy, const std::string& input) {
    for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
        ScanResult result = scan_in_chunks_of(policy, input, chunk);
        if (result.sink.relayed == input && result.fed_bytes_all_consumed && !result.failed) continue;
        INFO("chunk size ", chunk);
        check_whole_conversation_relayed(result, input);
        return;  // one chunk size's details are enough to debug
    }
    std::mt19937 rng(20240611);
    for (size_t max_chunk : {3, 17, 200, 5000}) {
        for (int round = 0; round < 25; ++round) {
            INFO("random chunks up to ", max_chunk, ", round ", round);
            check_whole_conversation_relayed(scan_in_chunks(policy, input, random_chunks(rng, max_chunk)), input);
        }
    }
    check_whole_conversation_relayed(scan_in_chunks_of(policy, input, input.size()), input);
}

// The stream breaks a rule at `offending`: whatever the chunking, the sink
// gets exactly one error, everything before the frame, and nothing of it or after it.
void check_refused(const ScanPolicy& policy, const std::string& before, const std::string& offending,
                   uint16_t code, const std::string& reason) {
    const std::string after = frame(kFin | kText, "never relayed", policy.expect_masked);
    const std::string input = before + offending + after;
    for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
        INFO("chunk size ", chunk);
        ScanResult result = scan_in_chunks_of(policy, input, chunk);
        CHECK(result.failed);
        CHECK(result.fed_bytes_all_consumed);
        CHECK(result.sink.relayed == before);
        REQUIRE(result.sink.errors.size() == 1);
        CHECK(result.sink.errors[0].close_code == code);
        CHECK(result.sink.errors[0].reason == reason);
        if (result.sink.relayed != before || result.sink.errors[0].reason != reason) return;
    }
}

// Valid traffic that ends at a frame boundary: a text frame and a ping.
std::string ordinary_traffic(bool masked) {
    return frame(kFin | kText, "ordinary", masked) + frame(kFin | kPing, "p", masked);
}

}  // namespace

TEST_CASE("an unmasked text frame from a server passes through byte for byte") {
    FrameScanner scanner(ScanPolicy{false, 0, 1 << 20});
    Recorder sink;
    std::string frame = server_frame(0x81, "hello");
    CHECK(scanner.feed(frame.data(), frame.size(), sink) == frame.size());
    CHECK(sink.relayed == frame);
    CHECK(sink.errors.empty());
    CHECK(scanner.at_boundary());
}

TEST_CASE("masked client frames are relayed losslessly however the reads are split") {
    check_relayed_losslessly_in_any_chunking(kFromClient, valid_conversation(true));
}

TEST_CASE("unmasked server frames are relayed losslessly however the reads are split") {
    check_relayed_losslessly_in_any_chunking(kFromServer, valid_conversation(false));
}

TEST_CASE("a data frame's payload is forwarded as it arrives, before the frame is complete") {
    FrameScanner scanner(kFromServer);
    Recorder sink;
    std::string big = server_frame(kFin | kBinary, std::string(1000, 'x'));
    CHECK(scanner.feed(big.data(), 500, sink) == 500);
    CHECK(sink.relayed == big.substr(0, 500));
    CHECK_FALSE(scanner.at_boundary());
}

TEST_CASE("a message of exactly max_message_bytes is allowed, also across fragments") {
    const ScanPolicy policy{false, 0, 10};
    const std::string input = server_frame(kFin | kText, "0123456789") + server_frame(kText, "01234") +
                              server_frame(kFin | kPing, "") + server_frame(kFin | kContinuation, "56789");
    ScanResult result = scan_in_chunks_of(policy, input, input.size());
    CHECK_FALSE(result.failed);
    CHECK(result.sink.relayed == input);
}

TEST_CASE("the RSV1 bit passes when a negotiated extension allows it") {
    const ScanPolicy deflate{true, 0x40, 64ull << 20};
    const std::string input = client_frame(kFin | 0x40 | kText, "compressed") + client_frame(kFin | kText, "plain");
    ScanResult result = scan_in_chunks_of(deflate, input, 3);
    CHECK_FALSE(result.failed);
    CHECK(result.sink.relayed == input);
}

TEST_CASE("a control frame of exactly 125 bytes is allowed") {
    const std::string input = client_frame(kFin | kPing, std::string(125, 'p'));
    ScanResult result = scan_in_chunks_of(kFromClient, input, 7);
    CHECK_FALSE(result.failed);
    CHECK(result.sink.relayed == input);
    REQUIRE(result.sink.control_payloads.size() == 1);
    CHECK(result.sink.control_payloads[0] == std::string(125, 'p'));
}

TEST_CASE("close frames with no payload or a valid code are allowed") {
    for (uint16_t code : {1000, 1001, 1003, 1007, 1011, 1014, 3000, 4999}) {
        CAPTURE(code);
        const std::string input = server_frame(kFin | kClose, close_payload(code, "why"));
        ScanResult result = scan_in_chunks_of(kFromServer, input, 1);
        CHECK_FALSE(result.failed);
        CHECK(result.sink.relayed == input);
    }
    ScanResult empty = scan_in_chunks_of(kFromServer, server_frame(kFin | kClose, ""), 1);
    CHECK_FALSE(empty.failed);
    CHECK(empty.sink.control_opcodes == std::vector<uint8_t>{kClose});
}

TEST_CASE("an unmasked frame from a client is refused with 1002") {
    check_refused(kFromClient, ordinary_traffic(true), server_frame(kFin | kText, "bare"), kProtocolError,
                  "client frame is not masked");
}

TEST_CASE("a masked frame from a server is refused with 1002") {
    check_refused(kFromServer, ordinary_traffic(false), client_frame(kFin | kText, "masked"), kProtocolError,
                  "server frame is masked");
}

TEST_CASE("reserved bits without a negotiated extension are refused with 1002") {
    for (uint8_t rsv : {0x40, 0x20, 0x10}) {
        CAPTURE(rsv);
        check_refused(kFromClient, ordinary_traffic(true), client_frame(kFin | rsv | kText, "x"), kProtocolError,
                      "reserved bits set without a negotiated extension");
    }
    const ScanPolicy deflate{true, 0x40, 64ull << 20};
    check_refused(deflate, ordinary_traffic(true), client_frame(kFin | 0x20 | kText, "x"), kProtocolError,
                  "reserved bits set without a negotiated extension");
}

TEST_CASE("unknown opcodes are refused with 1002") {
    for (uint8_t opcode : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
        CAPTURE(opcode);
        check_refused(kFromServer, ordinary_traffic(false), server_frame(kFin | opcode, "?"), kProtocolError,
                      "unknown opcode " + std::to_string(opcode));
    }
}

TEST_CASE("a control frame longer than 125 bytes is refused with 1002") {
    check_refused(kFromClient, ordinary_traffic(true), client_frame(kFin | kPing, std::string(126, 'p')),
                  kProtocolError, "control frame payload longer than 125 bytes");
}

TEST_CASE("a fragmented control frame is refused with 1002") {
    check_refused(kFromServer, ordinary_traffic(false), server_frame(kPing, "frag"), kProtocolError,
                  "fragmented control frame");
}

TEST_CASE("a continuation frame without a message to continue is refused with 1002") {
    check_refused(kFromServer, ordinary_traffic(false), server_frame(kFin | kContinuation, "orphan"),
                  kProtocolError, "continuation frame without a message to continue");
}

TEST_CASE("a new data frame inside a fragmented message is refused with 1002") {
    const std::string open_message = ordinary_traffic(true) + client_frame(kText, "begun");
    check_refused(kFromClient, open_message, client_frame(kFin | kBinary, "interloper"), kProtocolError,
                  "new data frame inside a fragmented message");
}

TEST_CASE("a 64-bit frame length with the most significant bit set is refused with 1002") {
    std::string header("\x82\x7f", 2);
    append_big_endian(header, 0x8000000000000005ull, 8);
    check_refused(kFromServer, ordinary_traffic(false), header + "hello", kProtocolError,
                  "frame length has the most significant bit set");
}

TEST_CASE("a message over max_message_bytes is refused with 1009") {
    const ScanPolicy policy{true, 0, 10};
    check_refused(policy, ordinary_traffic(true), client_frame(kFin | kBinary, "0123456789A"), kMessageTooBig,
                  "message larger than the limit of 10 bytes");
}

TEST_CASE("a fragmented message growing over max_message_bytes is refused with 1009") {
    const ScanPolicy policy{false, 0, 10};
    const std::string open_message = server_frame(kText, "012345") + server_frame(kFin | kPing, "");
    check_refused(policy, open_message, server_frame(kFin | kContinuation, "6789A"), kMessageTooBig,
                  "message larger than the limit of 10 bytes");
}

TEST_CASE("a 64-bit frame length over the default limit is refused with 1009 before any payload") {
    std::string header("\x82\x7f", 2);
    append_big_endian(header, (64ull << 20) + 1, 8);
    check_refused(kFromServer, ordinary_traffic(false), header + "start of a huge payload", kMessageTooBig,
                  "message larger than the limit of 67108864 bytes");
}

TEST_CASE("a close frame with a 1-byte payload is refused with 1002") {
    check_refused(kFromClient, ordinary_traffic(true), client_frame(kFin | kClose, "\x03"), kProtocolError,
                  "close frame with a 1-byte payload");
}

TEST_CASE("close frames with codes not allowed on the wire are refused with 1002") {
    for (uint16_t code : {999, 1004, 1005, 1006, 1015, 2999, 5000}) {
        CAPTURE(code);
        check_refused(kFromServer, ordinary_traffic(false), server_frame(kFin | kClose, close_payload(code, "r")),
                      kProtocolError, "invalid close code " + std::to_string(code));
    }
}

TEST_CASE("a close reason that is not UTF-8 is refused with 1007") {
    check_refused(kFromClient, ordinary_traffic(true), client_frame(kFin | kClose, close_payload(1000, "bad \xc3(")),
                  kInvalidPayload, "close reason is not valid UTF-8");
}

TEST_CASE("a failed scanner ignores everything fed afterwards") {
    FrameScanner scanner(kFromClient);
    Recorder sink;
    const std::string bad = server_frame(kFin | kText, "bare");
    CHECK(scanner.feed(bad.data(), bad.size(), sink) == 0);
    const std::string good = client_frame(kFin | kText, "late");
    CHECK(scanner.feed(good.data(), good.size(), sink) == 0);
    CHECK(sink.relayed.empty());
    CHECK(sink.errors.size() == 1);
    CHECK(scanner.failed());
    CHECK(scanner.at_boundary());
}

TEST_CASE("a stop requested mid data frame happens exactly at the end of that frame") {
    FrameScanner scanner(kFromClient);
    Recorder sink;
    const std::string first = client_frame(kFin | kBinary, std::string(300, 'a'));
    const std::string second = client_frame(kFin | kText, "after the stop");
    const std::string input = first + second;
    REQUIRE(scanner.feed(input.data(), 100, sink) == 100);
    CHECK_FALSE(scanner.at_boundary());
    scanner.request_stop_at_boundary();

    CHECK(scanner.feed(input.data() + 100, input.size() - 100, sink) == first.size() - 100);
    CHECK(sink.relayed == first);
    CHECK(scanner.at_boundary());
    CHECK(scanner.stop_requested());

    scanner.clear_stop();
    CHECK(scanner.feed(input.data() + first.size(), second.size(), sink) == second.size());
    CHECK(sink.relayed == input);
}

TEST_CASE("a stop requested at a frame boundary consumes nothing") {
    FrameScanner scanner(kFromServer);
    Recorder sink;
    const std::string first = server_frame(kFin | kText, "one");
    const std::string second = server_frame(kFin | kText, "two");
    REQUIRE(scanner.feed(first.data(), first.size(), sink) == first.size());
    scanner.request_stop_at_boundary();
    CHECK(scanner.feed(second.data(), second.size(), sink) == 0);
    CHECK(sink.relayed == first);
    CHECK(scanner.at_boundary());
}

TEST_CASE("a stop requested while a control frame is captured happens after that frame") {
    FrameScanner scanner(kFromServer);
    Recorder sink;
    const std::string ping = server_frame(kFin | kPing, "keepalive");
    const std::string next = server_frame(kFin | kText, "next");
    const std::string input = ping + next;
    REQUIRE(scanner.feed(input.data(), 4, sink) == 4);
    scanner.request_stop_at_boundary();
    CHECK(scanner.feed(input.data() + 4, input.size() - 4, sink) == ping.size() - 4);
    CHECK(sink.relayed == ping);
    CHECK(sink.control_opcodes == std::vector<uint8_t>{kPing});
}

TEST_CASE("the scanner is at a boundary between frames and not inside a payload") {
    FrameScanner scanner(kFromServer);
    Recorder sink;
    CHECK(scanner.at_boundary());
    const std::string input = server_frame(kFin | kText, "abcdef") + server_frame(kFin | kText, "ghi");
    scanner.feed(input.data(), 2, sink);  // the whole header, no payload yet
    CHECK_FALSE(scanner.at_boundary());
    scanner.feed(input.data() + 2, 5, sink);
    CHECK_FALSE(scanner.at_boundary());
    scanner.feed(input.data() + 7, 1, sink);
    CHECK(scanner.at_boundary());
    scanner.feed(input.data() + 8, input.size() - 8, sink);
    CHECK(scanner.at_boundary());
    CHECK(sink.relayed == input);
}

TEST_CASE("a frame header split across reads is held back, so the relay stays at a boundary") {
    FrameScanner scanner(kFromClient);
    Recorder sink;
    const std::string first = client_frame(kFin | kText, "whole");
    const std::string second = client_frame(kFin | kBinary, std::string(200, 'b'));  // 8-byte header
    const std::string input = first + second;
    const size_t split = first.size() + 5;
    REQUIRE(scanner.feed(input.data(), split, sink) == split);
    CHECK(sink.relayed == first);
    CHECK(scanner.at_boundary());
    REQUIRE(scanner.feed(input.data() + split, input.size() - split, sink) == input.size() - split);
    CHECK(sink.relayed == input);
}

TEST_CASE("is_valid_utf8 accepts well-formed characters of 1 to 4 bytes") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ascii"));
    CHECK(is_valid_utf8("\xc2\x80 \xdf\xbf"));                  // U+0080, U+07FF
    CHECK(is_valid_utf8("\xe0\xa0\x80 \xed\x9f\xbf \xef\xbf\xbf"));  // U+0800, U+D7FF, U+FFFF
    CHECK(is_valid_utf8("\xf0\x90\x80\x80 \xf4\x8f\xbf\xbf"));  // U+10000, U+10FFFF
    CHECK(is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST_CASE("is_valid_utf8 rejects overlongs, surrogates, code points past U+10FFFF and broken sequences") {
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));              // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xc1\xbf"));              // overlong U+007F
    CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));          // overlong U+07FF
    CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));      // overlong U+FFFF
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));          // U+D800
    CHECK_FALSE(is_valid_utf8("\xed\xbf\xbf"));          // U+DFFF
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));      // U+110000
    CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xf8\x88\x80\x80\x80"));  // 5-byte form
    CHECK_FALSE(is_valid_utf8("\xff"));
    CHECK_FALSE(is_valid_utf8("\x80"));                  // lone continuation byte
    CHECK_FALSE(is_valid_utf8("ab\xc3"));                // truncated at the end
    CHECK_FALSE(is_valid_utf8("\xe2\x82"));
    CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98"));
    CHECK_FALSE(is_valid_utf8("\xe2\x82z"));             // interrupted by ASCII
}

TEST_CASE("an unmasked close frame is exactly 0x88, length, code and reason") {
    char out[kMaxControlFrameBytes];
    size_t n = build_close_frame(out, kServiceRestart, "service restart", false);
    CHECK(std::string(out, n) == std::string("\x88\x11\x03\xf4", 4) + "service restart");

    n = build_close_frame(out, kNormal, "", false);
    CHECK(std::string(out, n) == std::string("\x88\x02\x03\xe8", 4));
}

TEST_CASE("a masked close frame decodes to the same code and reason") {
    char out[kMaxControlFrameBytes];
    const size_t n = build_close_frame(out, kBadGateway, "bad gateway \xe2\x9c\x97", true);
    CHECK(static_cast<uint8_t>(out[1]) == (0x80 | (2 + 15)));
    ScanResult result = scan_in_chunks_of(kFromClient, std::string_view(out, n), 1);
    CHECK_FALSE(result.failed);
    CHECK(result.sink.relayed == std::string(out, n));
    REQUIRE(result.sink.control_payloads.size() == 1);
    const std::string& payload = result.sink.control_payloads[0];
    uint16_t code = 0;
    std::string_view reason;
    ScanError error;
    REQUIRE(parse_close_payload(reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), code, reason,
                                error));
    CHECK(code == kBadGateway);
    CHECK(reason == "bad gateway \xe2\x9c\x97");
}

TEST_CASE("a long close reason is cut to 123 bytes without splitting a character") {
    char out[kMaxControlFrameBytes];
    const std::string ascii(200, 'r');
    size_t n = build_close_frame(out, kGoingAway, ascii, false);
    CHECK(n == 2 + 125);
    CHECK(std::string(out + 4, n - 4) == ascii.substr(0, 123));

    // 'x' then three-byte euro signs: byte 123 falls inside a character, so
    // the cut moves back to byte 121, where that character starts.
    std::string euros = "x";
    for (int i = 0; i < 60; ++i) euros += "\xe2\x82\xac";
    n = build_close_frame(out, kGoingAway, euros, false);
    const std::string reason(out + 4, n - 4);
    CHECK(reason == euros.substr(0, 121));
    CHECK(is_valid_utf8(reason));
    CHECK(static_cast<uint8_t>(out[1]) == 2 + 121);

    n = build_close_frame(out, kGoingAway, euros, true);
    ScanResult result = scan_in_chunks_of(kFromClient, std::string_view(out, n), n);
    CHECK_FALSE(result.failed);
    REQUIRE(result.sink.control_payloads.size() == 1);
    CHECK(result.sink.control_payloads[0] == close_payload(kGoingAway, euros.substr(0, 121)));
}

TEST_CASE("a masked ping built by loopgate is a valid client frame carrying the payload") {
    char out[kMaxControlFrameBytes];
    const std::string payload = "loopgate-liveness-1";
    const size_t n = build_control_frame(out, kPing, reinterpret_cast<const uint8_t*>(payload.data()), payload.size(),
                                         true);
    CHECK(n == 2 + 4 + payload.size());
    ScanResult result = scan_in_chunks_of(kFromClient, std::string_view(out, n), 2);
    CHECK_FALSE(result.failed);
    CHECK(result.sink.control_opcodes == std::vector<uint8_t>{kPing});
    CHECK(result.sink.control_payloads == std::vector<std::string>{payload});
}

TEST_CASE("frames: a frame over max_frame_bytes closes with 1009 even when the message limit allows it") {
    struct Sink : loopgate::ws::FrameSink {
        loopgate::ws::ScanError error;
        size_t forwarded = 0;
        void on_frame_bytes(const char*, size_t len) override { forwarded += len; }
        void on_control_frame(const loopgate::ws::ControlFrame&) override {}
        void on_frame_error(const loopgate::ws::ScanError& e) override { error = e; }
    } sink;
    loopgate::ws::FrameScanner scanner(loopgate::ws::ScanPolicy{false, 0, 1 << 20, 100});
    std::string small = std::string("\x82\x64", 2) + std::string(100, 'a');   // 100 bytes: fine
    std::string big = std::string("\x82\x65", 2) + std::string(101, 'b');     // 101 bytes: too big
    scanner.feed(small.data(), small.size(), sink);
    CHECK(sink.forwarded == small.size());
    scanner.feed(big.data(), big.size(), sink);
    CHECK(scanner.failed());
    CHECK(sink.error.close_code == 1009);
    CHECK(sink.error.reason == "frame larger than the limit of 100 bytes");
    CHECK(sink.forwarded == small.size());
}
