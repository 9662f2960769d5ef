// Everything that says "the network under us may have changed", gathered
// into one debounced signal: the platform's NetworkWatcher (events, nothing
// polled) and its WakeWatcher (wake_watch.hpp: IOKit on macOS; elsewhere a
// clock check that polls, and only while an app is connected or an upstream
// connection is pooled).
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
#include "wake_watch.hpp"

namespace loopgate {

class NetworkMonitor {
public:
    // Called once per debounced burst with the changes seen, joined.
    using OnChanged = std::function<void(const std::string& changes)>;

    NetworkMonitor(uv_loop_t* loop, const config::Network& settings, OnChanged on_changed);
    ~NetworkMonitor();

    // Starts the watchers; a watcher that cannot start is logged, not fatal.
    // `wake_wanted`: whether anything a sleep could break is open now
    // (ProcessLoad::busy: an app's connection, a pooled upstream one).
    void start(bool wake_wanted);
    // Such a thing opened where none was (true), or the last one closed
    // (false): the clock check polls only in between.
    void set_wake_wanted(bool wanted);
    // For /status: "off", "polling", "idle" or "power notifications".
    const char* wake_watch_state() const { return wake_ ? wake_->state() : "off"; }

private:
    void note(const std::string& what);
    void fire();

    uv_loop_t* loop_;
    config::Network settings_;
    OnChanged on_changed_;
    std::unique_ptr<NetworkWatcher> watcher_;
    std::unique_ptr<WakeWatcher> wake_;
    Timer debounce_;
    std::vector<std::string> pending_;
    size_t dropped_ = 0;
    uint64_t burst_started_ms_ = 0;
};

}  // namespace loopgate
