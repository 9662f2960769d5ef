// One WebSocket session of the load client: TCP connect, TLS (wss:// only),
// the upgrade, then messages sent and every echoed byte checked against what
// was sent, then an optional close handshake. Time is uv_hrtime() (ns).
#pragma once

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "stream.hpp"

namespace bench {

// What every session of a run shares.
struct Target {
    sockaddr_in address{};
    std::string host_header;  // Host: value
    std::string path;
    SSL_CTX* tls = nullptr;   // null for ws://
    std::string tls_name;     // SNI and the name the certificate must carry
    size_t message_size = 64;
    // Random bytes; message k of session i is a slice of it that starts
    // where payload_offset says, so a reordered, lost or foreign byte shows.
    std::vector<uint8_t> pattern;
    size_t pattern_span = 0;  // offsets are below this; pattern holds span + message_size bytes
    uint64_t payload_offset(uint32_t session, uint64_t seq) const {
        return (uint64_t{session} * 2654435761u + seq * 7919u * 64u) % pattern_span;
    }
};

class Conn;

class ConnEvents {
public:
    virtual ~ConnEvents() = default;
    virtual void opened(Conn& conn) = 0;
    // One whole message came back, byte for byte.
    virtual void echoed(Conn& conn, uint64_t latency_ns) = 0;
    // The session is over: `reason` is empty after a clean close handshake.
    // The handler must call destroy() (now or later) and nothing else.
    virtual void ended(Conn& conn, const std::string& reason) = 0;
    // The TLS session to offer for `slot`, and a newer one to keep.
    virtual SSL_SESSION* session_for(int) { return nullptr; }
    virtual void keep_session(int, SSL_SESSION*) {}
};

class Conn {
public:
    Conn(uv_loop_t* loop, const Target& target, ConnEvents& events, uint32_t id, int slot);
    // Starts connecting; false (with ended() not called) if no socket could be made.
    bool start(std::string& error);
    void send_message();
    void send_close();
    // Ends the session from outside (a timeout): ended() is called with `reason`.
    void abort(const std::string& reason) { finish(reason); }
    void destroy();

    uint32_t id() const { return id_; }
    int slot() const { return slot_; }
    uint64_t started_ns() const { return started_ns_; }
    bool is_open() const { return phase_ == Phase::open; }
    // The 101 came (the session may have ended since).
    bool was_opened() const { return was_opened_; }
    bool is_ended() const { return phase_ == Phase::ended; }
    bool resumed() const { return resumed_; }
    size_t in_flight() const { return in_flight_.size(); }
    uint64_t oldest_sent_ns() const { return in_flight_.empty() ? 0 : in_flight_.front().at_ns; }
    uint64_t bytes_checked() const { return bytes_checked_; }

private:
    enum class Phase { connecting, tls, upgrade, open, closing, ended };
    struct Sent {
        uint64_t at_ns;
        uint64_t offset;
    };

    static void on_poll(uv_poll_t* poll, int status, int events);
    void on_events(int events);
    void after_connect();
    void step_tls();
    void send_upgrade();
    bool read_some();
    void take_head(const uint8_t* data, size_t size);
    void take_frames(const uint8_t* data, size_t size);
    void take_control(uint8_t opcode, const uint8_t* payload, size_t size);
    bool check_payload(const uint8_t* data, size_t size);
    void end_of_frame();
    void queue_frame(uint8_t opcode, const uint8_t* payload, size_t size, bool from_pattern, uint64_t offset);
    bool flush();
    void finish(const std::string& reason);
    void update_interest();
    size_t pending() const { return out_.size() - out_head_; }

    uv_loop_t* loop_;
    const Target& target_;
    ConnEvents& events_;
    uint32_t id_;
    int slot_;
    std::unique_ptr<Stream> stream_;
    uv_poll_t poll_{};
    bool poll_started_ = false;
    Phase phase_ = Phase::connecting;
    bool in_event_ = false;
    bool read_wants_write_ = false;
    bool write_wants_read_ = false;
    bool resumed_ = false;
    bool was_opened_ = false;
    int interest_ = 0;
    uint64_t started_ns_ = 0;
    uint64_t seq_ = 0;
    uint64_t mask_state_;
    std::string head_;
    std::string expected_accept_;
    std::string carry_;
    std::deque<Sent> in_flight_;
    // The frame being read.
    bool in_payload_ = false;
    bool frame_fin_ = true;
    uint64_t payload_left_ = 0;
    std::string control_;
    // The message being read (the oldest in flight).
    bool in_message_ = false;
    uint64_t message_pos_ = 0;
    uint64_t bytes_checked_ = 0;
    std::vector<uint8_t> out_;
    size_t out_head_ = 0;
};

}  // namespace bench
