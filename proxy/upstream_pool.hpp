// A route's idle upstream connections, kept for the next forwarded HTTP
// request (a UI that loads 40 assets pays one TLS handshake, not 40).
//
// A connection comes back after a response that ended cleanly and waits
// here, read so that the upstream closing it is noticed, for at most idle_ms;
// then, or when anything arrives on it, or when the pool is full, it is
// closed. Each is kept with the settings it was dialed with and is only
// handed to a request with the same settings: a reload never sends a request
// over a connection made for an older config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "clock.hpp"
#include "transport.hpp"

namespace loopgate {

struct ProcessLoad;
struct RouteSettings;

class UpstreamPool final : private Transport::Handler {
public:
    static constexpr size_t kMaxIdle = 8;
    static constexpr uint64_t kIdleMs = 30000;

    // `process` (may be null) is told of each connection kept and let go, so
    // the daemon's wake check runs while one waits here.
    explicit UpstreamPool(Clock& clock, ProcessLoad* process = nullptr, size_t max_idle = kMaxIdle,
                          uint64_t idle_ms = kIdleMs);
    ~UpstreamPool();  // closes every idle connection
    UpstreamPool(const UpstreamPool&) = delete;
    UpstreamPool& operator=(const UpstreamPool&) = delete;

    // The most recently used idle connection made with `settings`, or null.
    // The caller sets its handler; it is still reading.
    Transport* take(const RouteSettings* settings);
    // Keeps a connection whose last response ended cleanly.
    void put(Transport* upstream, const RouteSettings* settings);
    // Closes every idle connection (a reload changed where they lead).
    void clear();
    // Closes every idle connection and keeps none from now on (loopgate is
    // stopping, or the route was removed): a connection put back by a
    // response that was still running is closed at once, not kept reading,
    // which would hold the loop, and the process, up to the shutdown deadline.
    void close();
    size_t idle() const { return idle_.size(); }

private:
    struct Idle {
        Transport* upstream;
        const RouteSettings* settings;
        std::unique_ptr<Alarm> expiry;
    };

    void on_transport_data(Transport& t, const char* data, size_t len) override;
    void on_transport_end(Transport& t, const Transport::End& end) override;
    void drop(Transport& t);
    void let_go(std::vector<Idle>::iterator it);  // erases it; the caller still has its transport

    Clock& clock_;
    ProcessLoad* process_;
    size_t max_idle_;
    bool closed_ = false;
    uint64_t idle_ms_;
    std::vector<Idle> idle_;  // oldest first
};

}  // namespace loopgate
