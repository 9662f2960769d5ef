#include "timer.hpp"

#include <cstdlib>

#include "log.hpp"

namespace loopgate {

Timer::Timer(uv_loop_t* loop) : box_(new Box{}) {
    // Fails only for a loop that is not initialised: a bug, not a condition.
    if (int rc = uv_timer_init(loop, &box_->handle)) {
        log::error("cannot create a timer").kv("error", uv_strerror(rc));
        std::abort();
    }
    box_->handle.data = box_;
}

Timer::~Timer() {
    box_->on_fire = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&box_->handle),
             [](uv_handle_t* h) { delete static_cast<Box*>(h->data); });
}

void Timer::start(uint64_t timeout_ms, std::function<void()> on_fire) {
    box_->on_fire = std::move(on_fire);
    int rc = uv_timer_start(
        &box_->handle,
        [](uv_timer_t* h) {
            auto* box = static_cast<Box*>(h->data);
            // Move out first: the callback may restart or destroy the timer.
            auto fire = std::move(box->on_fire);
            box->on_fire = nullptr;
            if (fire) fire();
        },
        timeout_ms, 0);
    // Fails only for a closing handle, which a live Timer never has.
    if (rc != 0) log::error("cannot start a timer").kv("error", uv_strerror(rc));
}

void Timer::stop() {
    uv_timer_stop(&box_->handle);
    box_->on_fire = nullptr;
}

bool Timer::active() const { return uv_is_active(reinterpret_cast<const uv_handle_t*>(&box_->handle)) != 0; }

void Timer::unref() { uv_unref(reinterpret_cast<uv_handle_t*>(&box_->handle)); }

std::unique_ptr<Alarm> LoopClock::new_alarm() { return std::make_unique<Timer>(loop_); }

}  // namespace loopgate
