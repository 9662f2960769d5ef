// Time as the state machines see it: "now" and one-shot alarms. The daemon
// runs on the event loop's clock (LoopClock); unit tests use a fake clock
// they advance by hand, so a rule like "retry after 250 ms, but at once when
// an app starts waiting" is tested without waiting for it.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace loopgate {

// A one-shot alarm. Destroying it cancels it, also from inside its own callback.
class Alarm {
public:
    virtual ~Alarm() = default;
    // (Re)arms: a pending callback is replaced.
    virtual void start(uint64_t timeout_ms, std::function<void()> on_fire) = 0;
    virtual void stop() = 0;
    virtual bool active() const = 0;
};

class Clock {
public:
    // Milliseconds on a monotonic clock with an arbitrary origin.
    virtual uint64_t now_ms() const = 0;
    virtual std::unique_ptr<Alarm> new_alarm() = 0;

protected:
    ~Clock() = default;
};

// Timers that need not be exact, such as the periodic pings of many
// sessions, are rounded up to a shared tick of the clock, so the loop wakes
// once for all of them instead of once each (an idle laptop's core stays
// asleep longer). The tick is the coarsest of 1000, 500, 200, 100, 50, 20 and
// 10 ms that is at most a tenth of `delay_ms` (each divides 1000, so ticks of
// different sizes still meet on whole seconds); below 100 ms nothing is
// rounded. Returns the delay to arm from `now_ms`: at least `delay_ms`, less
// than `delay_ms` plus the tick, and ending on a multiple of the tick.
constexpr uint64_t coalesced_delay(uint64_t now_ms, uint64_t delay_ms) {
    const uint64_t ticks[] = {1000, 500, 200, 100, 50, 20, 10};
    uint64_t tick = 1;
    for (uint64_t candidate : ticks) {
        if (candidate * 10 <= delay_ms) {
            tick = candidate;
            break;
        }
    }
    uint64_t due = now_ms + delay_ms;
    return delay_ms + (tick - due % tick) % tick;
}

// The event loop's time and timers.
class LoopClock final : public Clock {
public:
    explicit LoopClock(uv_loop_t* loop) : loop_(loop) {}
    uint64_t now_ms() const override { return uv_now(loop_); }
    std::unique_ptr<Alarm> new_alarm() override;

private:
    uv_loop_t* loop_;
};

}  // namespace loopgate
