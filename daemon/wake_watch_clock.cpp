// Linux (and any platform without power notifications): the clock check,
// polling only while an app is connected or an upstream is pooled. (The kernel also cancels a
// TFD_TIMER_CANCEL_ON_SET timerfd at resume, which would need no polling at
// all; nothing in CI can make it fire short of setting the machine's clock,
// so it is not used yet.)
#include "wake_watch.hpp"

namespace loopgate {

std::unique_ptr<WakeWatcher> WakeWatcher::create(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake) {
    return ClockWakeCheck::on_loop(loop, interval_ms, std::move(on_wake));
}

}  // namespace loopgate
