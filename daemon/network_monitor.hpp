// Everything that says "the network under us may have changed", gathered
// into one debounced signal: the platform's NetworkWatcher and a wake-from-
// sleep check (the wall clock jumping ahead of the monotonic clock).
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "netwatch.hpp"
#include "timer.hpp"

namespace loopgate {

// Sleep shows as wall time passing while monotonic time (which stops during
// sleep on Linux and macOS) does not. Pure, so it is unit-tested.
class ClockJumpDetector {
public:
    explicit ClockJumpDetector(int64_t threshold_ms) : threshold_ms_(threshold_ms) {}
    // Feed both clocks at each tick; returns a description when they diverged.
    bool observe(int64_t wall_ms, int64_t monotonic_ms, std::string& what);

private:
    int64_t threshold_ms_;
    bool primed_ = false;
    int64_t last_wall_ms_ = 0;
    int64_t last_monotonic_ms_ = 0;
};

class NetworkMonitor {
public:
    // Called once per debounced burst with the changes seen, joined.
    using OnChanged = std::function<void(const std::string& changes)>;

    NetworkMonitor(uv_loop_t* loop, const config::Network& settings, OnChanged on_changed);
    ~NetworkMonitor();

    // Starts the watchers; a watcher that cannot start is logged, not fatal.
    void start();

private:
    void note(const std::string& what);
    void fire();
    void schedule_wake_check();

    uv_loop_t* loop_;
    config::Network settings_;
    OnChanged on_changed_;
    std::unique_ptr<NetworkWatcher> watcher_;
    Timer debounce_;
    Timer wake_timer_;
    ClockJumpDetector clock_jumps_;
    std::vector<std::string> pending_;
    size_t dropped_ = 0;
    uint64_t burst_started_ms_ = 0;
};

}  // namespace loopgate
