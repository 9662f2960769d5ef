// The frame scanner on either side of a relay: any byte stream, cut anywhere.
// Invariants checked on every input:
//  - what the scanner passed on (data bytes and captured control frames, in
//    order) is exactly the prefix of the input it consumed, less at most one
//    header or control frame it is still holding; nothing is ever invented,
//    dropped or reordered;
//  - the events and the error are the same whether the stream arrived in one
//    piece or in fuzzer-chosen chunks, with or without stops at frame
//    boundaries (the session stops there to inject its own close frame);
//  - every control frame handed over is valid and its payload is the wire
//    payload unmasked; an error carries 1002, 1007 or 1009 and a reason; a
//    failed scanner stays silent.
//
// Options byte: bit 0 expects masked (client) frames, bits 1-3 are the RSV
// bits an extension allows, bits 4-5 pick the message limit (64 MiB, 0, 125,
// 1000 bytes), bit 6 requests a stop at the next boundary before each chunk,
// bit 7 limits frames to 100 bytes.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "ws_frame.hpp"

using namespace loopgate;
using namespace loopgate::fuzz;

namespace {

constexpr std::array<uint64_t, 4> kMessageLimits = {64ull << 20, 0, 125, 1000};

void check_control_frame(const ws::ControlFrame& frame) {
    require(frame.opcode == ws::kClose || frame.opcode == ws::kPing || frame.opcode == ws::kPong,
            "a captured control frame has a data opcode");
    require(frame.payload_len <= ws::kMaxControlPayload, "a control frame payload is over 125 bytes");
    require(frame.wire_len >= frame.payload_len + 2 && frame.wire_len <= ws::kMaxControlFrameBytes,
            "a control frame's wire length does not fit its payload");
    const auto* wire = reinterpret_cast<const uint8_t*>(frame.wire);
    require((wire[0] & 0x0f) == frame.opcode && (wire[0] & 0x80) != 0, "the control frame's wire header differs");
    size_t header = frame.wire_len - frame.payload_len;
    bool masked = (wire[1] & 0x80) != 0;
    for (size_t i = 0; i < frame.payload_len; ++i) {
        uint8_t key = masked ? wire[header - 4 + (i & 3)] : 0;
        require(frame.payload[i] == (wire[header + i] ^ key), "a control frame payload is not the wire unmasked");
    }
    if (frame.opcode == ws::kClose) {
        uint16_t code = 0;
        std::string_view reason;
        ws::ScanError error;
        require(ws::parse_close_payload(frame.payload, frame.payload_len, code, reason, error),
                "an invalid close frame was handed over");
    }
}

// Records what the scanner hands over; consecutive data bytes merge into one
// event, so records from different chunkings compare equal.
class Recorder final : public ws::FrameSink {
public:
    struct Event {
        bool control = false;
        std::string bytes;
    };

    void on_frame_bytes(const char* data, size_t len) override {
        require(!error_, "bytes passed on after an error");
        require(len > 0, "an empty span of frame bytes");
        if (events_.empty() || events_.back().control) events_.push_back({false, {}});
        events_.back().bytes.append(data, len);
        passed_on_.append(data, len);
    }

    void on_control_frame(const ws::ControlFrame& frame) override {
        require(!error_, "a control frame passed on after an error");
        check_control_frame(frame);
        events_.push_back({true, std::string(frame.wire, frame.wire_len)});
        passed_on_.append(frame.wire, frame.wire_len);
    }

    void on_frame_error(const ws::ScanError& error) override {
        require(!error_, "a second error from one stream");
        require(error.close_code == ws::kProtocolError || error.close_code == ws::kInvalidPayload ||
                    error.close_code == ws::kMessageTooBig,
                "an error's close code is not 1002, 1007 or 1009");
        require(!error.reason.empty() && error.reason.size() <= ws::kMaxControlPayload - 2,
                "an error reason is empty or does not fit a close frame");
        error_ = error;
    }

    bool same_as(const Recorder& other) const {
        if (events_.size() != other.events_.size() || error_.has_value() != other.error_.has_value()) return false;
        for (size_t i = 0; i < events_.size(); ++i) {
            if (events_[i].control != other.events_[i].control || events_[i].bytes != other.events_[i].bytes)
                return false;
        }
        return !error_ || (error_->close_code == other.error_->close_code && error_->reason == other.error_->reason);
    }

    const std::string& passed_on() const { return passed_on_; }
    bool failed() const { return error_.has_value(); }

private:
    std::vector<Event> events_;
    std::string passed_on_;
    std::optional<ws::ScanError> error_;
};

ws::ScanPolicy policy_for(uint8_t options) {
    ws::ScanPolicy policy;
    policy.expect_masked = (options & 1) != 0;
    policy.allowed_rsv = static_cast<uint8_t>((options & 0x0e) << 3);
    policy.max_message_bytes = kMessageLimits[(options >> 4) & 3];
    policy.max_frame_bytes = (options & 0x80) != 0 ? 100 : 0;
    return policy;
}

// Feeds one chunk the way Session::relay does: a scanner that stopped at a
// boundary is resumed until the chunk is used up or the stream failed.
// Returns the bytes consumed.
size_t feed_chunk(ws::FrameScanner& scanner, const char* data, size_t len, Recorder& sink, bool stop_first) {
    if (stop_first) scanner.request_stop_at_boundary();
    size_t offset = 0;
    while (offset < len && !scanner.failed()) {
        size_t used = scanner.feed(data + offset, len - offset, sink);
        require(used <= len - offset, "the scanner consumed more bytes than it was given");
        offset += used;
        if (offset < len && !scanner.failed()) {
            require(scanner.stop_requested() && scanner.at_boundary(), "the scanner stopped short for no reason");
            scanner.clear_stop();
        }
    }
    require(scanner.failed() == sink.failed(), "the scanner failed without telling the sink, or the reverse");
    return offset;
}

struct Run {
    size_t consumed = 0;
    bool at_boundary = false;
};

Run scan(ws::FrameScanner& scanner, const ChunkedInput& input, Recorder& sink, bool stop_before_chunks) {
    Run run;
    input.for_each_chunk([&](const char* data, size_t len) {
        run.consumed += feed_chunk(scanner, data, len, sink, stop_before_chunks);
        return !scanner.failed();
    });
    run.at_boundary = scanner.at_boundary();
    return run;
}

void check_passed_on_is_the_input(const Recorder& sink, const Run& run, std::string_view stream, bool failed) {
    const std::string& out = sink.passed_on();
    require(out.size() <= run.consumed && stream.substr(0, out.size()) == out,
            "what the scanner passed on is not a prefix of what it consumed");
    if (failed) return;
    require(run.consumed == stream.size(), "a healthy scanner left bytes unconsumed");
    // At a boundary the scanner may still hold the start of the next header.
    if (run.at_boundary) require(run.consumed - out.size() < ws::kMaxHeaderBytes, "at a boundary, yet a frame is held");
    require(run.consumed - out.size() < ws::kMaxControlFrameBytes, "more held back than one control frame");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ChunkedInput input = ChunkedInput::split(data, size);
    ws::ScanPolicy policy = policy_for(input.options);
    bool stops = (input.options & 0x40) != 0;

    ws::FrameScanner chunked(policy);
    Recorder chunked_sink;
    Run run = scan(chunked, input, chunked_sink, stops);
    check_passed_on_is_the_input(chunked_sink, run, input.stream, chunked.failed());

    ws::FrameScanner whole(policy);
    Recorder whole_sink;
    scan(whole, ChunkedInput{input.options, {}, input.stream}, whole_sink, false);
    require(chunked_sink.same_as(whole_sink), "the scanner's events depend on how the stream was split");

    if (chunked.failed()) {
        require(chunked.at_boundary(), "a failed scanner is not at a frame boundary");
        char byte = 0;
        require(chunked.feed(&byte, 1, chunked_sink) == 0, "a failed scanner consumed more bytes");
    }
    return 0;
}
