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
