// The benchmark's own WebSocket wire code (tools/bench/wire.*): its load
// client judges every proxy's echo with it, so it must be right.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bench/wire.hpp"

using namespace bench;

TEST_CASE("bench wire: the accept value of RFC 6455's example key") {
    CHECK(accept_value("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("bench wire: headers written are read back, at every length encoding") {
    for (uint64_t length : {0ull, 1ull, 125ull, 126ull, 65535ull, 65536ull, 1ull << 40}) {
        for (bool masked : {false, true}) {
            uint8_t head[14];
            const size_t n = write_header(head, true, op_binary, length, masked ? std::optional<uint32_t>(0x11223344u) : std::nullopt);
            FrameHeader parsed;
            REQUIRE(parse_header(head, n, parsed) == Parse::ok);
            CHECK(parsed.header_bytes == n);
            CHECK(parsed.length == length);
            CHECK(parsed.masked == masked);
            CHECK(parsed.opcode == op_binary);
            if (masked) CHECK(parsed.mask == 0x11223344u);
            for (size_t cut = 0; cut < n; ++cut) CHECK(parse_header(head, cut, parsed) == Parse::need_more);
        }
    }
}

TEST_CASE("bench wire: frames a client may not send are refused") {
    FrameHeader parsed;
    const uint8_t rsv[] = {0xC2, 0x00};
    const uint8_t unknown_opcode[] = {0x83, 0x00};
    const uint8_t long_ping[] = {0x89, 0x7E, 0x00, 0x7E};
    const uint8_t fragmented_close[] = {0x08, 0x00};
    const uint8_t top_bit_length[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0};
    CHECK(parse_header(rsv, sizeof rsv, parsed) == Parse::invalid);
    CHECK(parse_header(unknown_opcode, sizeof unknown_opcode, parsed) == Parse::invalid);
    CHECK(parse_header(long_ping, sizeof long_ping, parsed) == Parse::invalid);
    CHECK(parse_header(fragmented_close, sizeof fragmented_close, parsed) == Parse::invalid);
    CHECK(parse_header(top_bit_length, sizeof top_bit_length, parsed) == Parse::invalid);
}

TEST_CASE("bench wire: masking in pieces at any offset equals masking byte by byte") {
    const uint32_t mask = 0xA1B2C3D4u;
    uint8_t key[4];
    std::memcpy(key, &mask, 4);
    std::vector<uint8_t> plain(100);
    for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 7 + 3);
    std::vector<uint8_t> expected(plain.size());
    for (size_t i = 0; i < plain.size(); ++i) expected[i] = plain[i] ^ key[i % 4];
    for (size_t split = 0; split <= plain.size(); ++split) {
        std::vector<uint8_t> out(plain.size());
        copy_masked(out.data(), plain.data(), split, mask, 0);
        copy_masked(out.data() + split, plain.data() + split, plain.size() - split, mask, split);
        CHECK(out == expected);
    }
    std::vector<uint8_t> in_place = plain;
    apply_mask(in_place.data(), in_place.size(), mask, 0);
    CHECK(in_place == expected);
}

TEST_CASE("bench wire: header values by name, any case, trimmed; the end of a head") {
    const std::string head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept:  abc= \r\n\r\n";
    CHECK(header_value(head, "Sec-WebSocket-Accept") == "abc=");
    CHECK(header_value(head, "upgrade") == "websocket");
    CHECK(header_value(head, "Connection").empty());
    CHECK(head_end(head) == head.size());
    CHECK(head_end(head.substr(0, head.size() - 1)) == 0);
}
