// One app connection and its upstream, from accept to the last byte.
//
//   reading_request --(valid upgrade)--> [held while the upstream is down]
//     --> dialing --(TLS up)--> upgrading --(101 checked)--> relaying
//     --(close handshakes done)--> finished
//
// Any failure before the 101 answers the app with an HTTP error; after it,
// with a close frame. The session lives until both transports are handed off
// (ended or closed), then logs one summary line and asks its owner to delete it.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "handshake.hpp"
#include "http_reader.hpp"
#include "route.hpp"
#include "route_health.hpp"
#include "timer.hpp"
#include "transport.hpp"
#include "upstream_dialer.hpp"
#include "ws_frame.hpp"

namespace loopgate {

class Session;

class SessionOwner {
public:
    // The session is done; the owner deletes it.
    virtual void on_session_finished(Session* session) = 0;

protected:
    ~SessionOwner() = default;
};

class Session final : private Transport::Handler, private UpstreamDialer::Handler, private HeldConnection {
public:
    Session(uv_loop_t* loop, RouteContext& route, SessionOwner& owner, Transport* app);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start();
    // loopgate is stopping: 503 before the 101, close 1001 after it.
    void shut_down();
    // The network changed: ping the upstream now; no pong within timeout_ms
    // means the path is gone and the app gets 1012 at once.
    void probe_upstream(uint32_t timeout_ms);
    bool relaying() const { return phase_ == Phase::relaying; }

private:
    enum class Phase { reading_request, held, dialing, upgrading, relaying, finished };
    enum class Side { app, upstream };

    // One end of the proxied connection.
    struct Peer {
        Transport* transport = nullptr;
        ws::FrameScanner scanner;     // frames coming FROM this peer
        bool close_received = false;  // it sent us a close frame
        bool close_sent = false;      // we forwarded or sent it a close frame
        bool gone = false;            // its transport was ended or closed
        bool paused = false;          // not read: the other side's queue is full
        bool end_after_close = false; // fail the connection once our close is out
        std::string pending_ping;     // our ping, waiting for a frame boundary
        std::string pending_close;    // our close frame, waiting for a frame boundary
        uint64_t bytes_in = 0;        // bytes read from it after the 101
    };

    class Pipe final : public ws::FrameSink {
    public:
        Pipe(Session& session, Side from) : session_(session), from_(from) {}
        void on_frame_bytes(const char* data, size_t len) override;
        void on_control_frame(const ws::ControlFrame& frame) override;
        void on_frame_error(const ws::ScanError& error) override;

    private:
        Session& session_;
        Side from_;
    };

    // Transport::Handler
    void on_transport_data(Transport& t, const char* data, size_t len) override;
    void on_transport_end(Transport& t, const Transport::End& end) override;
    void on_transport_drained(Transport& t) override;
    // UpstreamDialer::Handler
    void on_dial_ready(Transport* upstream) override;
    void on_dial_failed(const UpstreamDialer::Failure& failure) override;
    // HeldConnection
    void on_upstream_back() override;

    // Reaching the upstream.
    void begin_upstream();
    void start_dialing();
    void hold_while_down();
    void upstream_failed(int status, const std::string& reason, bool unreachable);

    // Liveness: our own pings upstream, their pongs swallowed.
    void schedule_ping();
    void send_ping(uint32_t timeout_ms, std::string reason_if_lost);
    bool swallow_own_pong(const ws::ControlFrame& frame);
    void on_pong_deadline(uint32_t timeout_ms);
    void stop_liveness();

    // Before the 101.
    void read_request(const char* data, size_t len);
    void read_response(const char* data, size_t len);
    void begin_relay(const char* after_101, size_t len);
    void refuse(int status, std::string reason, std::vector<http::Header> headers = {});
    void relay_refusal(const http::Response& response);

    // After the 101.
    void relay(Side from, const char* data, size_t len);
    void forward(Side from, const char* data, size_t len);
    void on_control(Side from, const ws::ControlFrame& frame);
    void on_protocol_error(Side from, const ws::ScanError& error);
    void peer_lost(Side side, const Transport::End& end);
    void close_toward(Side to, uint16_t code, std::string_view reason, bool then_end);
    void send_pending_close(Side to);
    void flush_pending(Side to);
    void start_close_deadline();
    void record_close(const char* by, uint16_t code, std::string_view reason);
    void end_peer(Side side);
    void finish_if_settled();

    // Every entry point ends here: deletes the session when it is done.
    void settle();
    void log_summary();
    void log_request() const;
    // Closes 1001 "idle" both ways once no frame passed for timeouts.idle_ms.
    void watch_idle(uint64_t after_ms);
    void on_idle_check();
    // Why this connection is over a connection limit, or nothing.
    std::optional<std::string> over_capacity() const;

    Peer& peer(Side side) { return side == Side::app ? app_ : up_; }
    static Side other(Side side) { return side == Side::app ? Side::upstream : Side::app; }
    static const char* name(Side side) { return side == Side::app ? "app" : "upstream"; }
    Side side_of(const Transport& t) const { return &t == app_.transport ? Side::app : Side::upstream; }

    uv_loop_t* loop_;
    RouteContext& route_;
    SessionOwner& owner_;
    Phase phase_ = Phase::reading_request;
    Peer app_;
    Peer up_;
    Pipe app_pipe_{*this, Side::app};
    Pipe up_pipe_{*this, Side::upstream};
    http::Reader request_reader_;
    http::Reader response_reader_;
    std::string early_app_bytes_;  // frames the app sent right behind its request
    std::unique_ptr<UpstreamDialer> dialer_;
    Timer deadline_;
    Timer liveness_;
    Timer idle_;                    // timeouts.idle_ms
    uint64_t last_frame_at_ = 0;    // loop time of the last byte relayed either way
    std::string ping_prefix_;       // "loopgate-<random>-": marks our pings' payloads
    std::string ping_outstanding_;  // payload of the ping awaiting its pong
    bool ping_written_ = false;
    uint64_t ping_deadline_ms_ = 0;  // loop time the outstanding ping's pong is due (0 = none)     // it left for the upstream (not waiting for a frame boundary)
    uint64_t pings_sent_ = 0;
    std::string liveness_reason_;   // what the app is told if the pong never comes
    bool close_deadline_started_ = false;
    bool settling_ = false;

    // For the summary line.
    std::chrono::steady_clock::time_point started_;
    std::string app_address_;
    std::string upstream_address_ = "-";
    const char* tls_resumed_ = nullptr;  // "true"/"false" once a TLS upstream is up
    int http_status_ = 0;
    std::string refusal_reason_;
    uint16_t close_code_ = 0;
    std::string close_reason_;
    const char* closed_by_ = "-";
};

}  // namespace loopgate
