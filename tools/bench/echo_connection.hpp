// One client of the echo upstream: TLS handshake, the upgrade request, then
// every data frame echoed back as it streams in (header first, payload chunk
// by chunk, never a whole message held), pings answered, a close echoed.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

#include "stream.hpp"
#include "wire.hpp"

namespace bench {

class EchoServer;

class EchoConnection {
public:
    EchoConnection(EchoServer& server, int fd, SSL* ssl);
    void start();
    // Past this time a closing connection is dropped even if the peer has not hung up.
    uint64_t linger_deadline() const { return linger_deadline_; }
    void destroy();

private:
    enum class Phase { handshake, head, frames, lingering };

    static void on_poll(uv_poll_t* poll, int status, int events);
    void on_events(int events);
    bool read_some();
    void feed(const uint8_t* data, size_t size);
    void consume(const uint8_t* data, size_t size);
    bool take_head(const uint8_t*& data, size_t& size);
    void control_frame(const FrameHeader& header, const uint8_t* payload);
    void send_frame(uint8_t opcode, const uint8_t* payload, size_t size);
    void fail(uint16_t code, const char* reason);
    bool flush();
    void begin_linger();
    void update_interest();
    size_t pending() const { return out_.size() - out_head_; }

    EchoServer& server_;
    Stream stream_;
    uv_poll_t poll_{};
    Phase phase_ = Phase::handshake;
    bool counted_ = false;
    bool read_wants_write_ = false;
    bool write_wants_read_ = false;
    bool close_after_flush_ = false;
    bool destroyed_ = false;
    int interest_ = 0;
    uint64_t linger_deadline_ = 0;
    std::string head_;
    std::string carry_;  // a frame header, or a control frame, split across reads
    bool in_payload_ = false;
    uint64_t payload_left_ = 0;
    uint64_t payload_offset_ = 0;
    uint32_t mask_ = 0;
    std::vector<uint8_t> out_;
    size_t out_head_ = 0;
};

}  // namespace bench
