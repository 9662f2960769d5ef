// WebSocket frame scanning for a lossless relay (RFC 6455 section 5).
//
// The scanner never reassembles messages and never unmasks data payloads: it
// reads frame headers to know where frames begin and end, validates them, and
// hands the bytes back to be forwarded unchanged. Control frames (at most 131
// bytes on the wire) are captured whole so a close frame can be inspected and
// the proxy knows it is at a frame boundary when it injects its own frames.
// No I/O here, so a fuzzer can drive it with any chunking.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace loopgate::ws {

enum Opcode : uint8_t {
    kContinuation = 0x0,
    kText = 0x1,
    kBinary = 0x2,
    kClose = 0x8,
    kPing = 0x9,
    kPong = 0xA,
};

// Close codes loopgate sends (RFC 6455 7.4.1 and the IANA registry).
enum CloseCode : uint16_t {
    kNormal = 1000,
    kGoingAway = 1001,
    kProtocolError = 1002,
    kNoStatus = 1005,
    kInvalidPayload = 1007,
    kMessageTooBig = 1009,
    kInternalError = 1011,
    kServiceRestart = 1012,
    kTryAgainLater = 1013,
    kBadGateway = 1014,
};

constexpr size_t kMaxControlPayload = 125;
constexpr size_t kMaxHeaderBytes = 14;
constexpr size_t kMaxControlFrameBytes = kMaxHeaderBytes + kMaxControlPayload;

struct ScanPolicy {
    bool expect_masked = true;            // frames from a client are masked, from a server not
    uint8_t allowed_rsv = 0;              // RSV bits a negotiated extension may use (0x40 = RSV1)
    uint64_t max_message_bytes = 64ull << 20;
    uint64_t max_frame_bytes = 0;         // 0 = frames are bounded by the message limit only
};

struct ScanError {
    uint16_t close_code = kProtocolError;
    std::string reason;
};

// A complete control frame as it appeared on the wire, plus its payload unmasked.
struct ControlFrame {
    uint8_t opcode = 0;
    const char* wire = nullptr;
    size_t wire_len = 0;
    const uint8_t* payload = nullptr;
    size_t payload_len = 0;
};

class FrameSink {
public:
    // Bytes to forward exactly as they are (whole frames or parts of data frames).
    virtual void on_frame_bytes(const char* data, size_t len) = 0;
    // A complete, valid control frame. Everything before it was already passed on.
    virtual void on_control_frame(const ControlFrame& frame) = 0;
    // The stream broke a rule. Nothing of the offending frame was passed on.
    virtual void on_frame_error(const ScanError& error) = 0;

protected:
    ~FrameSink() = default;
};

class FrameScanner {
public:
    // A separate default constructor: `Peer{}` value-initializes its scanner,
    // which clang (rightly, CWG 1518) refuses through an explicit one.
    FrameScanner() = default;
    explicit FrameScanner(ScanPolicy policy);

    void set_policy(const ScanPolicy& policy) { policy_ = policy; }

    // Scans `len` bytes, calling the sink. Returns the number of bytes
    // consumed: all of them, unless a stop at the next frame boundary was
    // requested and reached, or the stream failed.
    size_t feed(const char* data, size_t len, FrameSink& sink);

    // True when everything passed on so far is whole frames, so a frame of
    // our own may follow. A failed stream stopped at a frame boundary.
    bool at_boundary() const { return state_ == State::header || failed_; }
    bool failed() const { return failed_; }
    bool stop_requested() const { return stop_at_boundary_; }

    // After this, feed() returns at the end of the current frame.
    void request_stop_at_boundary() { stop_at_boundary_ = true; }
    void clear_stop() { stop_at_boundary_ = false; }

private:
    enum class State { header, payload, control };

    bool parse_header(const uint8_t* h, size_t n, ScanError& error);
    size_t header_size_needed(const uint8_t* h, size_t available) const;
    bool finish_control(FrameSink& sink, ScanError& error);

    ScanPolicy policy_;
    State state_ = State::header;
    bool failed_ = false;
    bool stop_at_boundary_ = false;
    bool in_message_ = false;         // a fragmented data message is open
    uint64_t message_bytes_ = 0;      // payload bytes of the open message so far

    // The frame being read.
    uint8_t opcode_ = 0;
    bool fin_ = false;
    bool masked_ = false;
    uint8_t mask_[4] = {};
    uint64_t payload_left_ = 0;
    size_t header_len_ = 0;           // bytes of this frame's header

    // A header split across reads, and a control frame being captured.
    uint8_t held_[kMaxControlFrameBytes] = {};
    size_t held_len_ = 0;
};

// Checks a close frame's payload (RFC 6455 5.5.1, 7.4). An empty payload is
// valid (no status). On success sets code (kNoStatus when empty) and reason.
bool parse_close_payload(const uint8_t* payload, size_t len, uint16_t& code, std::string_view& reason,
                         ScanError& error);

bool is_valid_close_code(uint16_t code);
bool is_valid_utf8(std::string_view text);

// Writes a close frame into out (room for kMaxControlFrameBytes) and returns
// its length. Frames toward a server must be masked (key from RAND_bytes).
size_t build_close_frame(char* out, uint16_t code, std::string_view reason, bool masked);

// Any control frame (ping, pong, close) with the given payload (<= 125 bytes).
size_t build_control_frame(char* out, uint8_t opcode, const uint8_t* payload, size_t len, bool masked);

}  // namespace loopgate::ws
