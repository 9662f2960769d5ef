#include "route_health.hpp"

#include <algorithm>

#include "log.hpp"
#include "route.hpp"

namespace loopgate {

RouteHealth::RouteHealth(RouteRuntime& route)
    : route_(route),
      retry_alarm_(route.clock->new_alarm()),
      retry_deadline_(route.clock->new_alarm()),
      jitter_(std::random_device{}()) {}

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
        log::info("upstream up").kv("route", route_.settings->config.name).kv("down_for_ms", down_for_ms());
    }
    state_ = State::up;
    attempt_ = 0;
    down_reason_.clear();
    unreached_reason_.clear();
    retry_alarm_->stop();
    retry_deadline_->stop();
    dialer_.reset();
    release_all();
}

void RouteHealth::report_failed(const std::string& reason) {
    if (state_ == State::unknown) unreached_reason_ = reason;
}

void RouteHealth::report_unreachable(const std::string& reason) {
    if (state_ != State::up) return;  // never up: nothing to hold for; already down: already retrying
    state_ = State::down;
    down_reason_ = reason;
    down_since_ms_ = route_.clock->now_ms();
    attempt_ = 0;
    log::warn("upstream down").kv("route", route_.settings->config.name).kv("reason", reason);
    schedule_retry();
}

void RouteHealth::network_changed() {
    if (state_ != State::down || stopped_) return;
    attempt_ = 0;
    // A dial already in flight started on the old network and may hang on
    // it (a SYN into a vanished route): start afresh on the new one.
    retry_now();
}

void RouteHealth::upstream_changed() {
    if (stopped_) return;
    state_ = State::unknown;
    down_reason_.clear();
    unreached_reason_.clear();
    attempt_ = 0;
    retry_alarm_->stop();
    retry_deadline_->stop();
    dialer_.reset();  // a retry toward the old upstream proves nothing now
    // They dial with the settings they started with: if the old upstream is
    // still down they are answered at once, and the app's next try reaches the new one.
    release_all();
}

void RouteHealth::stop() {
    stopped_ = true;
    retry_alarm_->stop();
    retry_deadline_->stop();
    dialer_.reset();
}

uint64_t RouteHealth::down_for_ms() const {
    return state_ == State::down ? route_.clock->now_ms() - down_since_ms_ : 0;
}

void RouteHealth::schedule_retry() {
    if (stopped_) return;
    const auto& r = route_.settings->config.reconnect;
    uint64_t delay = r.backoff_initial_ms;
    if (held_.empty()) {
        // Full jitter: a random delay up to the exponential ceiling, so many
        // loopgates (or routes) coming back at once do not retry in step.
        uint64_t ceiling = std::min<uint64_t>(r.backoff_max_ms, uint64_t{r.backoff_initial_ms} << std::min(attempt_, 20u));
        delay = std::uniform_int_distribution<uint64_t>(10, std::max<uint64_t>(ceiling, 10))(jitter_);
        ++attempt_;
    }
    log::debug("upstream retry scheduled").kv("route", route_.settings->config.name).kv("delay_ms", delay)
        .kv("held", static_cast<uint64_t>(held_.size()));
    retry_alarm_->start(delay, [this] { retry_now(); });
}

void RouteHealth::retry_now() {
    retry_alarm_->stop();
    ++retries_;
    DialHandler& handler = *this;
    dialer_ = route_.dialers->new_dialer(route_.settings, handler);  // abandons one still in flight
    // The dialer bounds each connect; the whole dial (TLS included) is bounded here.
    uint32_t ms = route_.settings->config.timeouts.handshake_ms;
    retry_deadline_->start(ms, [this, ms] {
        std::string stage = dialer_ ? dialer_->stage() : std::string("dialing");
        dialer_.reset();
        retry_failed("no connection within " + std::to_string(ms) + " ms (" + stage + ")");
    });
    dialer_->start();
}

void RouteHealth::on_dial_ready(Transport* upstream) {
    // Reachable and (for wss) the TLS peer verified: good enough to let the
    // held apps dial for real. The probe connection is not needed.
    upstream->close();
    report_up();  // destroys dialer_, whose callback this is: nothing may follow
}

void RouteHealth::on_dial_failed(const DialFailure& failure) {
    dialer_.reset();  // whose callback this is: only members are touched from here on
    retry_failed(failure.reason);
}

void RouteHealth::retry_failed(const std::string& reason) {
    log::debug("upstream retry failed").kv("route", route_.settings->config.name).kv("reason", reason);
    retry_deadline_->stop();
    down_reason_ = reason;
    schedule_retry();
}

bool RouteHealth::hold(HeldConnection* connection) {
    if (state_ != State::down || stopped_ || route_.settings->config.reconnect.hold_ms == 0) return false;
    if (held_.size() >= route_.settings->config.reconnect.max_held) return false;
    held_.push_back(connection);
    // Someone is waiting: do not sit out a backoff step now.
    if (!dialer_) retry_now();
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
