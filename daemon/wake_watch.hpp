// Noticing that the machine woke from sleep, for the network monitor: after a
// sleep every upstream connection may be dead, so the sessions are probed at
// once. One source per platform, behind this interface:
//  - ClockWakeCheck (wake_check.cpp, every platform): the wall clock jumping
//    ahead of the monotonic clock, which stops during sleep. It has to poll,
//    so it polls only while wanted: while an app is connected or an HTTP
//    upstream connection waits in a pool. With neither there is nothing a
//    sleep could break, and an idle loopgate wakes nobody up.
//  - macOS (wake_watch_darwin.cpp): IOKit's power notifications
//    (IORegisterForSystemPower, kIOMessageSystemHasPoweredOn). Nothing polls.
// WakeWatcher::create (wake_watch_clock.cpp elsewhere, wake_watch_darwin.cpp
// on macOS) picks the platform's.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "clock.hpp"

namespace loopgate {

class WakeWatcher {
public:
    using OnWake = std::function<void(const std::string& what)>;

    virtual ~WakeWatcher() = default;
    // Whether anything a wake could concern exists now (an app is connected).
    // A watcher that polls does so only while wanted.
    virtual void set_wanted(bool wanted) = 0;
    // For /status: "polling" or "idle" (the clock check), "power notifications" (IOKit).
    virtual const char* state() const = 0;

    // The platform's watcher; `interval_ms` is the clock check's period
    // (where the platform has nothing better, or that fails). Never null.
    static std::unique_ptr<WakeWatcher> create(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake);
};

// Sleep shows as wall time passing while monotonic time (which stops during
// sleep on Linux and macOS) does not. Pure, so it is unit-tested.
class ClockJumpDetector {
public:
    explicit ClockJumpDetector(int64_t threshold_ms) : threshold_ms_(threshold_ms) {}
    // Feed both clocks at each tick; returns a description when they diverged.
    bool observe(int64_t wall_ms, int64_t monotonic_ms, std::string& what);
    // The next observation only primes again (the clocks were not watched meanwhile).
    void reset() { primed_ = false; }

private:
    int64_t threshold_ms_;
    bool primed_ = false;
    int64_t last_wall_ms_ = 0;
    int64_t last_monotonic_ms_ = 0;
};

// The clock check: every interval_ms while wanted, both clocks compared.
class ClockWakeCheck final : public WakeWatcher {
public:
    using WallClock = std::function<int64_t()>;  // milliseconds since the epoch

    // `clock` is the monotonic clock; `alarm` one of its alarms (the daemon's
    // is unreferenced, so it never keeps the loop running).
    ClockWakeCheck(Clock& clock, std::unique_ptr<Alarm> alarm, uint32_t interval_ms, OnWake on_wake,
                   WallClock wall_clock = system_wall_clock_ms);
    void set_wanted(bool wanted) override;
    const char* state() const override { return alarm_->active() ? "polling" : "idle"; }

    static int64_t system_wall_clock_ms();
    // The check on the loop's clock, with an unreferenced timer (it never
    // keeps the loop running): the daemon's.
    static std::unique_ptr<WakeWatcher> on_loop(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake);

private:
    void observe();
    void schedule();

    Clock& clock_;
    std::unique_ptr<Alarm> alarm_;
    uint32_t interval_ms_;
    OnWake on_wake_;
    WallClock wall_clock_;
    ClockJumpDetector jumps_;
    bool wanted_ = false;
};

}  // namespace loopgate
