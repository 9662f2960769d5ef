// After the 101: frames both ways between the app and the upstream, lossless
// (frame headers parsed only for boundaries, limits and rules), backpressure,
// the close handshake with its deadline, the idle check and liveness pings.
// The relay owns both transports from the moment it starts; when it is
// finished both are handed off (ending or closed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "clock.hpp"
#include "liveness.hpp"
#include "route.hpp"
#include "session_record.hpp"
#include "transport.hpp"
#include "ws_frame.hpp"

namespace loopgate {

class Relay final : private Liveness::Path {
public:
    enum class Side { app, upstream };

    class Owner {
    public:
        // An alarm of the relay's own ran: the session's end-of-event step.
        virtual void after_relay_alarm() = 0;

    protected:
        ~Owner() = default;
    };

    // Takes both transports (their handler stays the session, which passes
    // their events on). `allowed_rsv`: the RSV bits the negotiated extensions allow.
    Relay(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record, Transport* app,
          Transport* upstream, uint8_t allowed_rsv);
    ~Relay();
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    // Forwards the frames either side sent right behind its handshake, then
    // starts reading both sides.
    void begin(std::string_view early_from_app, std::string_view early_from_upstream);

    // Events of the transports, passed on by the session.
    void on_data(Side from, const char* data, size_t len);
    void on_end(Side side, const Transport::End& end);
    void on_drained(Side side);
    // Which side a transport of this relay is.
    Side side_of(const Transport& t) const { return &t == app_.transport ? Side::app : Side::upstream; }

    // loopgate is stopping: close 1001 both ways.
    void shut_down();
    // The network changed: ping the upstream now (see Liveness::probe).
    void probe(uint32_t timeout_ms);
    // The upstream connection's two IPv4 ends; false once it is gone or closing.
    bool upstream_ends(sockaddr_in& local, sockaddr_in& remote) const;
    // The network changed and the kernel no longer routes the upstream
    // connection's packets the way it was made (path_lookup.hpp): the app
    // gets 1012 with `reason` at once, without waiting for a pong.
    void upstream_path_gone(const std::string& reason);
    // Both sides are handed off: the session is over.
    bool finished() const { return app_.gone && up_.gone; }

private:
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
    };

    class Pipe final : public ws::FrameSink {
    public:
        Pipe(Relay& relay, Side from) : relay_(relay), from_(from) {}
        void on_frame_bytes(const char* data, size_t len) override;
        void on_control_frame(const ws::ControlFrame& frame) override;
        void on_frame_error(const ws::ScanError& error) override;

    private:
        Relay& relay_;
        Side from_;
    };

    // Liveness::Path
    void send_ping_frame(const char* frame, size_t len) override;
    bool upstream_paused() const override { return up_.paused; }
    void upstream_silent(const std::string& reason) override;
    void after_alarm() override { owner_.after_relay_alarm(); }

    void relay(Side from, const char* data, size_t len);
    void forward(Side from, const char* data, size_t len);
    void on_control(Side from, const ws::ControlFrame& frame);
    void on_protocol_error(Side from, const ws::ScanError& error);
    void close_both(uint16_t code, std::string_view reason);
    void close_toward(Side to, uint16_t code, std::string_view reason, bool then_end);
    void send_pending_close(Side to);
    void flush_pending(Side to);
    void start_close_deadline();
    void end_peer(Side side);
    void end_settled_peers();
    void watch_idle(uint64_t after_ms);
    void on_idle_check();

    Peer& peer(Side side) { return side == Side::app ? app_ : up_; }
    static Side other(Side side) { return side == Side::app ? Side::upstream : Side::app; }
    static const char* name(Side side) { return side == Side::app ? "app" : "upstream"; }
    uint64_t& bytes_from(Side side) {
        return side == Side::app ? record_.bytes_from_app : record_.bytes_from_upstream;
    }

    const RouteSettings& route_;
    RouteRuntime& runtime_;
    Owner& owner_;
    SessionRecord& record_;
    Clock& clock_;
    Peer app_;
    Peer up_;
    Pipe app_pipe_{*this, Side::app};
    Pipe up_pipe_{*this, Side::upstream};
    Liveness liveness_;
    std::unique_ptr<Alarm> close_deadline_;
    std::unique_ptr<Alarm> idle_;    // timeouts.idle_ms
    uint64_t last_frame_at_ = 0;     // clock time of the last byte relayed either way
    bool closing_ = false;           // the close handshake began
};

}  // namespace loopgate
