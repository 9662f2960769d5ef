#include "route_health.hpp"

#include <algorithm>

#include "log.hpp"
#include "route.hpp"

namespace loopgate {

RouteHealth::RouteHealth(uv_loop_t* loop, RouteContext& route)
    : loop_(loop), route_(route), retry_timer_(loop), jitter_(std::random_device{}()) {}

RouteHealth::~RouteHealth() = default;

const char* RouteHealth::state_name(State state) {
    switch (state) {
    case State::unknown: return "unknown";
    case State::up: return "up";
    case State::down: return "down";
    }
    return "unknown";
}

void RouteHealth::report_up() {
    if (state_ == State::down) {
        log::info("upstream up").kv("route", route_.config.name).kv("down_for_s", down_for_seconds());
    }
    state_ = State::up;
    attempt_ = 0;
    down_reason_.clear();
    retry_timer_.stop();
    dialer_.reset();
    dialing_ = false;
    release_all();
}

void RouteHealth::report_unreachable(const std::string& reason) {
    if (state_ != State::up) return;  // never up: nothing to hold for; already down: already retrying
    state_ = State::down;
    down_reason_ = reason;
    down_since_ = std::chrono::steady_clock::now();
    attempt_ = 0;
    log::warn("upstream down").kv("route", route_.config.name).kv("reason", reason);
    schedule_retry();
}

void RouteHealth::network_changed() {
    if (state_ != State::down) return;
    attempt_ = 0;
    // A dial already in flight started on the old network and may hang on
    // it (a SYN into a vanished route): start afresh on the new one.
    retry_now();
}

uint64_t RouteHealth::down_for_seconds() const {
    if (state_ != State::down) return 0;
    auto elapsed = std::chrono::steady_clock::now() - down_since_;
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(elapsed).count());
}

void RouteHealth::schedule_retry() {
    const auto& r = route_.config.reconnect;
    // Full jitter: a random delay up to the exponential ceiling, so many
    // loopgates (or routes) coming back at once do not retry in step.
    uint64_t ceiling = std::min<uint64_t>(r.backoff_max_ms, uint64_t{r.backoff_initial_ms} << std::min(attempt_, 20u));
    uint64_t delay = std::uniform_int_distribution<uint64_t>(10, std::max<uint64_t>(ceiling, 10))(jitter_);
    ++attempt_;
    log::debug("upstream retry scheduled").kv("route", route_.config.name).kv("delay_ms", delay);
    retry_timer_.start(delay, [this] { retry_now(); });
}

void RouteHealth::retry_now() {
    retry_timer_.stop();
    UpstreamDialer::Handler& handler = *this;
    dialing_ = true;
    dialer_ = std::make_unique<UpstreamDialer>(loop_, route_, handler);
    dialer_->start();
}

void RouteHealth::on_dial_ready(Transport* upstream) {
    // Reachable and (for wss) the TLS peer verified: good enough to let the
    // held apps dial for real. The probe connection is not needed.
    upstream->close();
    report_up();  // destroys dialer_, whose callback this is: nothing may follow
}

void RouteHealth::on_dial_failed(const UpstreamDialer::Failure& failure) {
    log::debug("upstream retry failed").kv("route", route_.config.name).kv("reason", failure.reason);
    down_reason_ = failure.reason;
    schedule_retry();
}

bool RouteHealth::hold(HeldConnection* connection) {
    if (state_ != State::down || route_.config.reconnect.hold_ms == 0) return false;
    if (held_.size() >= route_.config.reconnect.max_held) return false;
    held_.push_back(connection);
    // Someone is waiting: do not sit out a long backoff step now.
    if (!dialing_ && attempt_ > 1) {
        attempt_ = 0;
        retry_now();
    }
    return true;
}

void RouteHealth::release(HeldConnection* connection) {
    held_.erase(std::remove(held_.begin(), held_.end(), connection), held_.end());
}

void RouteHealth::release_all() {
    std::vector<HeldConnection*> waiting;
    waiting.swap(held_);
    for (HeldConnection* connection : waiting) connection->on_upstream_back();
}

}  // namespace loopgate
