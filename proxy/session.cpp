#include "session.hpp"

#include <algorithm>

#include "log.hpp"
#include "route_health.hpp"

namespace loopgate {
namespace {

// What an app may send before it has its 101 (its first frames, typically a
// `connect` request). Beyond this loopgate stops reading it until the relay.
constexpr size_t kMaxEarlyAppBytes = 64 * 1024;

}  // namespace

// ---- life cycle ----

Session::Session(RouteRuntime& runtime, SessionOwner& owner, Transport* app)
    : settings_(runtime.settings), route_(*settings_), runtime_(runtime), owner_(owner), app_(app), app_identity_(app) {
    app->set_handler(this);
    record_.route = route_.config.name;
    record_.app_address = app->peer();
    ++runtime_.stats.sessions_accepted;
    ++runtime_.stats.sessions_active;
    if (runtime_.process != nullptr) runtime_.process->connection_opened();
}

Session::~Session() {
    runtime_.stats.bytes_from_app += record_.bytes_from_app;
    runtime_.stats.bytes_from_upstream += record_.bytes_from_upstream;
    --runtime_.stats.sessions_active;
    if (runtime_.process != nullptr) runtime_.process->connection_closed();
    if (app_ != nullptr) app_->close();
}

const char* Session::phase_name(Phase phase) {
    switch (phase) {
    case Phase::reading_request: return "reading_request";
    case Phase::held: return "held";
    case Phase::connecting: return "connecting";
    case Phase::forwarding: return "forwarding";
    case Phase::relaying: return "relaying";
    case Phase::finished: return "finished";
    }
    return "unknown";
}

void Session::start() {
    if (auto why = over_capacity()) {
        // Answered at once, without reading the request: a flood must cost
        // as little as possible. The transport still drains what the app
        // sends, so the answer is not lost to a reset.
        refuse({503, *why, {{"Retry-After", "1"}}});
        settle();
        return;
    }
    RequestPhase::Owner& owner = *this;
    request_phase_ = std::make_unique<RequestPhase>(route_, runtime_, owner, record_);
    app_->read_start();
}

// This session counts itself already, hence ">".
std::optional<std::string> Session::over_capacity() const {
    uint32_t route_max = route_.config.max_connections;
    if (runtime_.stats.sessions_active > route_max) {
        return "too many connections: route \"" + route_.config.name + "\" already has " + std::to_string(route_max) +
               " (max_connections); try again later";
    }
    const ProcessLoad* process = runtime_.process;
    if (process != nullptr && process->max_connections != 0 && process->connections_active > process->max_connections) {
        return "too many connections: loopgate already has " + std::to_string(process->max_connections) +
               " over all routes (top-level max_connections); try again later";
    }
    return std::nullopt;
}

void Session::shut_down() {
    shutting_down_ = true;
    if (phase_ == Phase::relaying) relay_->shut_down();
    else if (phase_ == Phase::forwarding) exchange_->shut_down();
    // An idle kept-alive connection asked nothing: a 503 there would answer no request.
    else if (phase_ == Phase::reading_request && request_phase_->waiting_idle()) end_idle_connection();
    else if (phase_ != Phase::finished) refuse({503, "loopgate is shutting down", {{"Retry-After", "1"}}});
    settle();
}

Session::AfterNetworkChange Session::check_upstream(PathCache* paths, uint32_t timeout_ms) {
    if (phase_ != Phase::relaying) return AfterNetworkChange::left_alone;
    sockaddr_in local{};
    sockaddr_in remote{};
    if (paths != nullptr && relay_->upstream_ends(local, remote)) {
        if (auto gone = paths->gone(local, remote)) {
            relay_->upstream_path_gone(*gone);
            settle();
            return AfterNetworkChange::closed;
        }
    }
    relay_->probe(timeout_ms);
    settle();
    return AfterNetworkChange::probed;
}

void Session::leave_phase(Phase next) {
    if (request_phase_) left_phases_.push_back(std::move(request_phase_));
    if (hold_) left_phases_.push_back(std::move(hold_));
    if (connect_) left_phases_.push_back(std::move(connect_));
    if (exchange_) left_phases_.push_back(std::move(exchange_));
    phase_ = next;
}

void Session::settle() {
    left_phases_.clear();
    if (phase_ == Phase::relaying && relay_->finished()) phase_ = Phase::finished;
    if (phase_ != Phase::finished || settling_) return;
    settling_ = true;
    record_.log(runtime_.refusal_log, runtime_.clock->now_ms());
    owner_.on_session_finished(this);  // deletes this: nothing may follow
}

// ---- transport events ----

void Session::on_transport_data(Transport& t, const char* data, size_t len) {
    bool from_app = &t == app_identity_;
    switch (phase_) {
    case Phase::reading_request:
        if (from_app) request_phase_->on_app_data(data, len);
        break;
    case Phase::held:
        if (from_app) keep_early_app_bytes(data, len);
        break;
    case Phase::connecting:
        if (from_app) keep_early_app_bytes(data, len);
        else if (connect_->owns(t)) connect_->on_upstream_data(data, len);
        break;
    case Phase::forwarding:
        if (from_app) exchange_->on_app_data(data, len);
        else if (exchange_->owns(t)) exchange_->on_upstream_data(data, len);
        break;
    case Phase::relaying: relay_->on_data(relay_->side_of(t), data, len); break;
    case Phase::finished: break;
    }
    settle();
}

void Session::on_transport_end(Transport& t, const Transport::End& end) {
    bool from_app = &t == app_identity_;
    switch (phase_) {
    case Phase::reading_request:
    case Phase::held:
        if (from_app) app_gave_up();
        break;
    case Phase::connecting:
        if (from_app) app_gave_up();
        else if (connect_->owns(t)) connect_->on_upstream_end(end);
        break;
    case Phase::forwarding:
        if (from_app) app_gave_up();
        else if (exchange_->owns(t)) exchange_->on_upstream_end(end);
        break;
    case Phase::relaying: relay_->on_end(relay_->side_of(t), end); break;
    case Phase::finished: break;
    }
    settle();
}

void Session::on_transport_drained(Transport& t) {
    if (phase_ == Phase::relaying) {
        relay_->on_drained(relay_->side_of(t));
    } else if (phase_ == Phase::forwarding) {
        if (&t == app_identity_) exchange_->on_app_drained();
        else if (exchange_->owns(t)) exchange_->on_upstream_drained();
    }
    settle();
}

void Session::keep_early_app_bytes(const char* data, size_t len) {
    early_app_bytes_.append(data, len);
    if (early_app_bytes_.size() >= kMaxEarlyAppBytes) app_->read_stop();  // the rest waits in the kernel
}

void Session::app_gave_up() {
    // Nothing to tell anyone: the app left before we answered (or, between
    // two kept-alive requests, simply left: nothing was asked, nothing failed).
    bool between_requests = phase_ == Phase::reading_request && request_phase_->waiting_idle();
    record_.refusal_reason = phase_ == Phase::forwarding ? "app closed the connection before the response was complete"
                             : between_requests          ? ""
                                                         : "app closed the connection before the upgrade completed";
    record_.closed_by = "app";
    end_app();
    leave_phase(Phase::finished);
}

// ---- before the 101 ----

void Session::on_request(http::Request request, std::string early_bytes) {
    request_ = std::move(request);
    early_app_bytes_ = std::move(early_bytes);
    // Still read while waiting, so an app that hangs up is noticed at once.
    RouteHealth* health = runtime_.health.get();
    if (health != nullptr && health->state() == RouteHealth::State::down) hold_while_down();
    else connect();
}

void Session::connect() {
    leave_phase(Phase::connecting);
    UpstreamConnect::Owner& owner = *this;
    Transport::Handler& events = *this;
    connect_ = std::make_unique<UpstreamConnect>(settings_, runtime_, owner, record_, request_, events);
    connect_->start();
}

void Session::hold_while_down() {
    RouteHealth& health = *runtime_.health;
    const auto& reconnect = route_.config.reconnect;
    std::string down = "upstream " + route_.config.upstream.authority() + " is unreachable (" +
                       health.down_reason() + ")";
    // One bound for the whole wait, however often the upstream comes and goes meanwhile.
    uint64_t now = runtime_.clock->now_ms();
    if (held_since_ms_ == 0) held_since_ms_ = std::max<uint64_t>(now, 1);
    uint64_t waited = now - std::min(now, held_since_ms_);
    uint64_t left = reconnect.hold_ms > waited ? reconnect.hold_ms - waited : 0;
    HoldPhase::Owner& owner = *this;
    auto hold = std::make_unique<HoldPhase>(route_, runtime_, owner, down);
    if (!hold->start(left)) {
        std::string why = down;
        if (reconnect.hold_ms != 0 && left == 0) why += "; waited " + std::to_string(reconnect.hold_ms) + " ms";
        else if (reconnect.hold_ms != 0) why += " and " + std::to_string(health.held_count()) +
                                                " connections are already waiting for it";
        refuse({503, why, {{"Retry-After", "5"}}});
        return;
    }
    leave_phase(Phase::held);
    hold_ = std::move(hold);
    log::info("holding connection until the upstream is back").kv("route", route_.config.name)
        .kv("app", record_.app_address);
}

void Session::on_upstream_back() { connect(); }

void Session::on_connect_failed(const DialFailure& failure) {
    if (failure.local) {
        // loopgate's own limit (descriptors, memory): the upstream is fine.
        ++runtime_.stats.local_exhaustion;
        ++runtime_.stats.dial_failures[static_cast<size_t>(failure.step)];
        refuse({503, failure.reason, {{"Retry-After", "1"}}});
        return;
    }
    ++runtime_.stats.upstream_failures;
    ++runtime_.stats.dial_failures[static_cast<size_t>(failure.step)];
    RouteHealth* health = runtime_.health.get();
    if (health != nullptr) health->report_failed(failure.reason);
    if (failure.unreachable && health != nullptr) {
        health->report_unreachable(failure.reason);
        // Down means it was up a moment ago: an outage, worth waiting out.
        if (health->state() == RouteHealth::State::down) {
            record_.upstream_address = "-";
            hold_while_down();
            return;
        }
    }
    refuse({failure.http_status, failure.reason, {}});
}

void Session::on_upstream_refused(const http::Response& response) {
    record_.http_status = response.status;
    record_.refused = true;
    record_.refusal_reason = "upstream answered " + std::to_string(response.status) + " " + response.reason;
    record_.closed_by = "upstream";
    ++runtime_.stats.upgrades_refused;
    std::string relayed = handshake::build_relayed_refusal(response);
    app_->write(relayed.data(), relayed.size());
    end_app();
    leave_phase(Phase::finished);
}

void Session::refuse(handshake::Refusal refusal) {
    record_.http_status = refusal.status;
    record_.refused = true;
    record_.refusal_reason = refusal.reason;
    ++runtime_.stats.upgrades_refused;
    if (app_ != nullptr) {
        std::string response = handshake::build_refusal(refusal);
        app_->write(response.data(), response.size());
        record_.closed_by = "loopgate";
    }
    end_app();
    leave_phase(Phase::finished);
}

void Session::end_app() {
    if (app_ == nullptr) return;
    app_->end(std::max<uint32_t>(route_.config.timeouts.close_ms, 100));
    app_ = nullptr;
}

// ---- plain HTTP ----

void Session::on_http_request(std::unique_ptr<http::Reader> reader, std::string rest) {
    leave_phase(Phase::forwarding);
    HttpExchange::Owner& owner = *this;
    Transport::Handler& events = *this;
    exchange_ = std::make_unique<HttpExchange>(settings_, runtime_, owner, record_, *app_, std::move(reader),
                                               std::move(rest), events);
    exchange_->start();
}

void Session::on_exchange_done(bool keep_alive, std::string next_bytes) {
    if (!keep_alive || shutting_down_) {  // stopping: no next request will be answered
        record_.closed_by = "loopgate";
        end_app();
        leave_phase(Phase::finished);
        return;
    }
    read_next_request(std::move(next_bytes));
}

void Session::read_next_request(std::string next_bytes) {
    leave_phase(Phase::reading_request);
    RequestPhase::Owner& owner = *this;
    request_phase_ = std::make_unique<RequestPhase>(route_, runtime_, owner, record_, /*kept_alive=*/true);
    app_->read_start();
    if (!next_bytes.empty()) request_phase_->on_app_data(next_bytes.data(), next_bytes.size());
}

void Session::end_idle_connection() {
    record_.closed_by = "loopgate";
    end_app();
    leave_phase(Phase::finished);
}

void Session::on_exchange_broken(const std::string& why) {
    record_.refusal_reason = why;
    record_.closed_by = "upstream";
    // Cut, not ended: a clean end would let the app take a truncated body for a whole one.
    if (app_ != nullptr) app_->close();
    app_ = nullptr;
    leave_phase(Phase::finished);
}

// ---- the 101 ----

void Session::on_upgraded(Transport* upstream, const http::Response& response,
                          const handshake::Negotiated& negotiated, std::string_view after_101) {
    if (runtime_.health) runtime_.health->report_up();
    record_.http_status = 101;
    std::string reply = handshake::build_app_101(response, request_);
    app_->write(reply.data(), reply.size());
    log::debug("upgraded").kv("route", route_.config.name).kv("app", record_.app_address)
        .kv("upstream", record_.upstream_address);
    Transport* app = app_;
    app_ = nullptr;
    leave_phase(Phase::relaying);
    Relay::Owner& owner = *this;
    relay_ = std::make_unique<Relay>(route_, runtime_, owner, record_, app, upstream, negotiated.allowed_rsv);
    std::string early = std::move(early_app_bytes_);
    relay_->begin(early, after_101);
    request_ = http::Request{};  // its 101 is built: nothing reads it again, and a relayed session is held long
}

}  // namespace loopgate
