#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ws_frame.hpp"

using namespace loopgate::ws;

namespace {

struct Recorder : FrameSink {
    std::string forwarded;
    std::vector<std::string> controls;
    std::vector<ScanError> errors;
    void on_frame_bytes(const char* d, size_t n) override { forwarded.append(d, n); }
    void on_control_frame(const ControlFrame& f) override { controls.emplace_back(f.wire, f.wire_len); }
    void on_frame_error(const ScanError& e) override { errors.push_back(e); }
};

std::string server_frame(uint8_t first, const std::string& payload) {
    std::string f;
    f += static_cast<char>(first);
    f += static_cast<char>(payload.size());
    return f + payload;
}

}  // namespace

TEST_CASE("an unmasked text frame from a server passes through byte for byte") {
    FrameScanner scanner(ScanPolicy{false, 0, 1 << 20});
    Recorder sink;
    std::string frame = server_frame(0x81, "hello");
    CHECK(scanner.feed(frame.data(), frame.size(), sink) == frame.size());
    CHECK(sink.forwarded == frame);
    CHECK(sink.errors.empty());
    CHECK(scanner.at_boundary());
}
