// Whether a relayed session's upstream still answers: loopgate's own masked
// pings ("loopgate-<random>-<n>"), sent at frame boundaries, and their pongs,
// swallowed so the app never sees them. A pong that does not come within the
// timeout means the path is dead; the relay then tells the app 1012 at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "clock.hpp"
#include "config.hpp"
#include "ws_frame.hpp"

namespace loopgate {

class Liveness {
public:
    // What the relay does for it.
    class Path {
    public:
        // Queue this ping frame toward the upstream at the next frame boundary;
        // call ping_written() once it is handed to the transport.
        virtual void send_ping_frame(const char* frame, size_t len) = 0;
        // The relay stopped reading the upstream (the app reads slowly): a
        // missing pong is then no sign of a dead path.
        virtual bool upstream_paused() const = 0;
        // No pong in time.
        virtual void upstream_silent(const std::string& reason) = 0;
        // An alarm of ours ran: the session's end-of-event step.
        virtual void after_alarm() = 0;

    protected:
        ~Path() = default;
    };

    Liveness(Clock& clock, const config::Liveness& settings, Path& path);
    Liveness(const Liveness&) = delete;
    Liveness& operator=(const Liveness&) = delete;

    // Periodic pings, when ping_interval_ms is set: each at least that long
    // after the last pong, on the clock's shared tick (coalesced_delay in
    // clock.hpp), so the pings of many sessions go out together.
    void start();
    // The network changed: ping now; no pong within timeout_ms means the path is gone.
    void probe(uint32_t timeout_ms);
    // The closing handshake began, or the upstream is gone: no more pings.
    void stop();
    void ping_written() { ping_written_ = true; }
    // A pong from the upstream: true when it answers one of our pings (and
    // must not reach the app).
    bool swallow_pong(const ws::ControlFrame& frame);

private:
    void send_ping(uint32_t timeout_ms, std::string reason_if_lost);
    void arm_deadline(uint32_t timeout_ms);
    void on_deadline(uint32_t timeout_ms);

    Clock& clock_;
    config::Liveness settings_;
    Path& path_;
    std::unique_ptr<Alarm> alarm_;  // next periodic ping, or the pong deadline
    bool stopped_ = false;
    std::string prefix_;            // "loopgate-<random>-": marks our pings' payloads
    std::string outstanding_;       // payload of the ping awaiting its pong
    bool ping_written_ = false;     // it left for the upstream (not waiting for a frame boundary)
    uint64_t deadline_ms_ = 0;      // clock time the outstanding pong is due (0 = none)
    uint64_t pings_sent_ = 0;
    std::string reason_if_lost_;    // what the app is told if the pong never comes
};

}  // namespace loopgate
