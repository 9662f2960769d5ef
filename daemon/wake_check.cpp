#include <algorithm>
#include <chrono>

#include "timer.hpp"
#include "wake_watch.hpp"

namespace loopgate {
namespace {

// The loop's clock, kept by the check it feeds.
class LoopWakeCheck final : public WakeWatcher {
public:
    LoopWakeCheck(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake) : clock_(loop) {
        auto timer = std::make_unique<Timer>(loop);
        timer->unref();  // never the reason the process stays up
        check_ = std::make_unique<ClockWakeCheck>(clock_, std::move(timer), interval_ms, std::move(on_wake));
    }
    void set_wanted(bool wanted) override { check_->set_wanted(wanted); }
    const char* state() const override { return check_->state(); }

private:
    LoopClock clock_;
    std::unique_ptr<ClockWakeCheck> check_;
};

}  // namespace

std::unique_ptr<WakeWatcher> ClockWakeCheck::on_loop(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake) {
    return std::make_unique<LoopWakeCheck>(loop, interval_ms, std::move(on_wake));
}

bool ClockJumpDetector::observe(int64_t wall_ms, int64_t monotonic_ms, std::string& what) {
    bool jumped = false;
    if (primed_) {
        int64_t drift = (wall_ms - last_wall_ms_) - (monotonic_ms - last_monotonic_ms_);
        if (drift > threshold_ms_ || drift < -threshold_ms_) {
            jumped = true;
            what = drift > 0 ? "wall clock ran " + std::to_string(drift / 1000) + " s ahead (wake from sleep)"
                             : "wall clock went back " + std::to_string(-drift / 1000) + " s";
        }
    }
    primed_ = true;
    last_wall_ms_ = wall_ms;
    last_monotonic_ms_ = monotonic_ms;
    return jumped;
}

int64_t ClockWakeCheck::system_wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

ClockWakeCheck::ClockWakeCheck(Clock& clock, std::unique_ptr<Alarm> alarm, uint32_t interval_ms, OnWake on_wake,
                               WallClock wall_clock)
    : clock_(clock),
      alarm_(std::move(alarm)),
      interval_ms_(interval_ms),
      on_wake_(std::move(on_wake)),
      wall_clock_(std::move(wall_clock)),
      // A few seconds of disagreement is NTP slewing or a busy machine; a
      // sleep is usually far longer.
      jumps_(std::max<int64_t>(3000, 2 * static_cast<int64_t>(interval_ms))) {}

void ClockWakeCheck::set_wanted(bool wanted) {
    if (wanted == wanted_) return;
    wanted_ = wanted;
    if (!wanted) {
        alarm_->stop();
        return;
    }
    // A sleep while nobody was connected concerns nobody now: start afresh.
    jumps_.reset();
    observe();
    schedule();
}

void ClockWakeCheck::observe() {
    std::string what;
    if (jumps_.observe(wall_clock_(), static_cast<int64_t>(clock_.now_ms()), what)) on_wake_(what);
}

void ClockWakeCheck::schedule() {
    alarm_->start(interval_ms_, [this] {
        observe();  // may call back into set_wanted(false) through a probe that ends the last session
        if (wanted_ && !alarm_->active()) schedule();
    });
}

}  // namespace loopgate
