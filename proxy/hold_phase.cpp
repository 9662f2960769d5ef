#include "hold_phase.hpp"

namespace loopgate {

HoldPhase::HoldPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, std::string down)
    : route_(route), runtime_(runtime), owner_(owner), down_(std::move(down)), deadline_(runtime.clock->new_alarm()) {}

HoldPhase::~HoldPhase() {
    if (listed_) runtime_.health->release(this);
}

bool HoldPhase::start(uint64_t wait_ms) {
    if (runtime_.health == nullptr || wait_ms == 0 || !runtime_.health->hold(this)) return false;
    listed_ = true;
    uint32_t hold_ms = route_.config.reconnect.hold_ms;
    deadline_->start(wait_ms, [this, hold_ms] {
        owner_.refuse({503, down_ + "; waited " + std::to_string(hold_ms) + " ms", {{"Retry-After", "5"}}});
        owner_.settle();
    });
    return true;
}

void HoldPhase::on_upstream_back() {
    // The health tracker already took us off its list.
    listed_ = false;
    deadline_->stop();
    owner_.on_upstream_back();
    owner_.settle();
}

}  // namespace loopgate
