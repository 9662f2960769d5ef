// Reading an HTTP head the way the session does, for the two HTTP targets:
// feed the chunks in order, stop at the first answer that is not need_more,
// and check the Reader's promises about `consumed` on the way.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http_reader.hpp"

namespace loopgate::fuzz {

struct ReadOutcome {
    http::Reader::Status status = http::Reader::Status::need_more;
    size_t consumed = 0;  // bytes of the stream that belonged to the message
};

// peer_closes: after the last chunk the peer hangs up (Reader::finish), which
// is how a response body without a length ends.
inline ReadOutcome read_message(http::Reader& reader, const ChunkedInput& input, bool peer_closes) {
    using Status = http::Reader::Status;
    ReadOutcome out;
    size_t offered = 0;
    input.for_each_chunk([&](const char* data, size_t len) {
        size_t consumed = 0;
        out.status = reader.feed(data, len, consumed);
        require(consumed <= len, "Reader consumed more bytes than it was given");
        if (out.status == Status::need_more) require(consumed == len, "need_more left bytes unconsumed");
        out.consumed = offered + consumed;
        offered += len;
        return out.status == Status::need_more;
    });
    if (out.status == Status::need_more && peer_closes) out.status = reader.finish();
    if (out.status == Status::error) {
        int status = reader.error_status();
        require(status == 400 || status == 431, "a Reader error is neither 400 nor 431");
        require(!reader.error_reason().empty(), "a Reader error has no reason");
    }
    return out;
}

// The same input, delivered in one piece.
inline ChunkedInput in_one_piece(const ChunkedInput& input) {
    ChunkedInput whole = input;
    whole.chunk_sizes.clear();
    return whole;
}

inline bool same_headers(const http::Headers& a, const http::Headers& b) {
    if (a.list().size() != b.list().size()) return false;
    for (size_t i = 0; i < a.list().size(); ++i) {
        if (a.list()[i].name != b.list()[i].name || a.list()[i].value != b.list()[i].value) return false;
    }
    return true;
}

// Lines of an HTTP head after the start line, up to the blank line.
// A reason (which reaches logs, terminals and response bodies) may carry no
// control byte a peer sent: loopgate escapes them (http::quoted_value).
inline bool has_control_bytes(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](char c) {
        auto byte = static_cast<unsigned char>(c);
        return byte < 0x20 || byte == 0x7f;
    });
}

inline size_t header_lines(std::string_view text) {
    size_t end = text.find("\r\n\r\n");
    std::string_view head = text.substr(0, end);
    return static_cast<size_t>(std::count(head.begin(), head.end(), '\n'));
}

// Text loopgate produced must read back as exactly one complete message.
// Returns false, having checked nothing, when it relays more header fields
// than loopgate itself reads (100): an upstream's 99 fields plus the
// Content-Length and Connection loopgate adds are still valid HTTP.
inline bool reads_back(http::Reader& reader, const std::string& text, const char* what) {
    size_t consumed = 0;
    auto status = reader.feed(text.data(), text.size(), consumed);
    if (status == http::Reader::Status::need_more) status = reader.finish();
    if (status == http::Reader::Status::error && reader.error_status() == 431 && header_lines(text) > 100) {
        return false;
    }
    if (status != http::Reader::Status::complete) {
        std::fprintf(stderr, "fuzz detail: %s does not parse (%d %s):\n%s\n", what, reader.error_status(),
                     reader.error_reason().c_str(), text.c_str());
        broken("loopgate wrote HTTP that its own reader refuses");
    }
    require(consumed == text.size(), "loopgate's HTTP has bytes after the message");
    return true;
}

}  // namespace loopgate::fuzz
