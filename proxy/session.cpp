#include "session.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>

#include "log.hpp"
#include "redact.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kMaxRefusalBody = 64 * 1024;

}  // namespace

// ---- Pipe: the frame scanner's sink for one direction ----

void Session::Pipe::on_frame_bytes(const char* data, size_t len) { session_.forward(from_, data, len); }
void Session::Pipe::on_control_frame(const ws::ControlFrame& frame) { session_.on_control(from_, frame); }
void Session::Pipe::on_frame_error(const ws::ScanError& error) { session_.on_protocol_error(from_, error); }

// ---- life cycle ----

Session::Session(uv_loop_t* loop, RouteContext& route, SessionOwner& owner, Transport* app)
    : loop_(loop),
      route_(route),
      owner_(owner),
      request_reader_(http::Reader::Kind::request, route.config.limits.max_request_header_bytes),
      response_reader_(http::Reader::Kind::response, kMaxResponseHead, kMaxRefusalBody),
      deadline_(loop),
      liveness_(loop),
      idle_(loop),
      started_(std::chrono::steady_clock::now()) {
    unsigned char id[4] = {};
    RAND_bytes(id, sizeof id);
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "loopgate-%02x%02x%02x%02x-", id[0], id[1], id[2], id[3]);
    ping_prefix_ = prefix;
    app_.transport = app;
    app->set_handler(this);
    app_address_ = app->peer();
    ++route_.stats.sessions_accepted;
    ++route_.stats.sessions_active;
    if (route_.process != nullptr) ++route_.process->connections_active;
}

Session::~Session() {
    --route_.stats.sessions_active;
    if (route_.process != nullptr) --route_.process->connections_active;
    if (route_.health) route_.health->release(this);
    if (app_.transport != nullptr) app_.transport->close();
    if (up_.transport != nullptr) up_.transport->close();
}

void Session::start() {
    if (auto why = over_capacity()) {
        // Answered at once, without reading the request: a flood must cost
        // as little as possible. The transport still drains what the app
        // sends, so the answer is not lost to a reset.
        refuse(503, *why, {{"Retry-After", "1"}});
        settle();
        return;
    }
    app_.transport->read_start();
    uint32_t ms = route_.config.timeouts.request_ms;
    deadline_.start(ms, [this, ms] {
        refuse(408, "the WebSocket upgrade request was not complete within " + std::to_string(ms) + " ms");
        settle();
    });
}

// This session counts itself already, hence ">".
std::optional<std::string> Session::over_capacity() const {
    uint32_t route_max = route_.config.max_connections;
    if (route_.stats.sessions_active > route_max) {
        return "too many connections: route \"" + route_.config.name + "\" already has " + std::to_string(route_max) +
               " (max_connections); try again later";
    }
    const ProcessLoad* process = route_.process;
    if (process != nullptr && process->max_connections != 0 && process->connections_active > process->max_connections) {
        return "too many connections: loopgate already has " + std::to_string(process->max_connections) +
               " over all routes (top-level max_connections); try again later";
    }
    return std::nullopt;
}

void Session::shut_down() {
    switch (phase_) {
    case Phase::reading_request:
    case Phase::held:
    case Phase::dialing:
    case Phase::upgrading: refuse(503, "loopgate is shutting down", {{"Retry-After", "1"}}); break;
    case Phase::relaying:
        record_close("loopgate", ws::kGoingAway, "loopgate is shutting down");
        close_toward(Side::app, ws::kGoingAway, "loopgate is shutting down", false);
        close_toward(Side::upstream, ws::kGoingAway, "loopgate is shutting down", false);
        finish_if_settled();
        break;
    case Phase::finished: break;
    }
    settle();
}

void Session::settle() {
    if (phase_ != Phase::finished || settling_) return;
    settling_ = true;
    log_summary();
    owner_.on_session_finished(this);  // deletes this: nothing may follow
}

void Session::log_summary() {
    auto elapsed = std::chrono::steady_clock::now() - started_;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    // A refusal is worth a warning; an app that connected and left without a
    // request (a port probe) is not.
    bool refused = http_status_ != 101 && http_status_ != 0;
    log::Line line(refused ? log::Level::warn : log::Level::info, "connection closed");
    const std::string& target = request_reader_.request().target;
    line.kv("route", route_.config.name)
        .kv("app", app_address_)
        .kv("path", target.empty() ? std::string("-") : redact::target(target))
        .kv("upstream", upstream_address_)
        .kv("status", http_status_)
        .kv("duration_ms", static_cast<int64_t>(ms))
        .kv("bytes_from_app", app_.bytes_in)
        .kv("bytes_from_upstream", up_.bytes_in);
    if (tls_resumed_ != nullptr) line.kv("tls_resumed", tls_resumed_);
    if (http_status_ == 101) {
        line.kv("close_code", static_cast<unsigned>(close_code_)).kv("close_reason", close_reason_).kv("closed_by", closed_by_);
    } else {
        line.kv("reason", refusal_reason_);
    }
}

// ---- events ----

void Session::on_transport_data(Transport& t, const char* data, size_t len) {
    Side side = side_of(t);
    switch (phase_) {
    case Phase::reading_request:
        if (side == Side::app) read_request(data, len);
        break;
    case Phase::upgrading:
        if (side == Side::upstream) read_response(data, len);
        break;
    case Phase::relaying: relay(side, data, len); break;
    case Phase::held:
    case Phase::dialing:
    case Phase::finished: break;
    }
    settle();
}

void Session::on_transport_end(Transport& t, const Transport::End& end) {
    Side side = side_of(t);
    switch (phase_) {
    case Phase::reading_request:
    case Phase::held:
    case Phase::dialing:
        // The app gave up before we answered: nothing to tell anyone.
        refusal_reason_ = "app closed the connection before the upgrade completed";
        closed_by_ = "app";
        end_peer(Side::app);
        end_peer(Side::upstream);
        phase_ = Phase::finished;
        break;
    case Phase::upgrading:
        if (side == Side::app) {
            refusal_reason_ = "app closed the connection before the upgrade completed";
            closed_by_ = "app";
            end_peer(Side::app);
            end_peer(Side::upstream);
            phase_ = Phase::finished;
        } else if (response_reader_.finish() == http::Reader::Status::complete &&
                   response_reader_.response().status != 101) {
            relay_refusal(response_reader_.response());
        } else if (end.kind == Transport::End::Kind::tls_error) {
            // TLS 1.3 servers refuse a client certificate only after the
            // client's handshake is done, so the alert lands here.
            refuse(502, end.detail + " (" + route_.config.upstream.host + " at " + upstream_address_ +
                            ", before answering the WebSocket upgrade)");
        } else {
            std::string why = end.kind == Transport::End::Kind::eof ? "closed the connection" : end.detail;
            refuse(502, "upstream " + upstream_address_ + " " + why + " before answering the WebSocket upgrade");
        }
        break;
    case Phase::relaying: peer_lost(side, end); break;
    case Phase::finished: break;
    }
    settle();
}

void Session::on_transport_drained(Transport& t) {
    Peer& source = peer(other(side_of(t)));
    if (source.paused && source.transport != nullptr) {
        source.paused = false;
        source.transport->read_start();
    }
    settle();
}

// ---- before the 101 ----

void Session::read_request(const char* data, size_t len) {
    size_t consumed = 0;
    auto status = request_reader_.feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return;
    if (status == http::Reader::Status::error) {
        refuse(request_reader_.error_status(), request_reader_.error_reason());
        return;
    }
    early_app_bytes_.assign(data + consumed, len - consumed);
    app_.transport->read_stop();  // until the upstream is ready for what follows
    log_request();
    if (auto refusal = handshake::check_app_request(request_reader_.request())) {
        refuse(refusal->status, refusal->reason, refusal->headers);
        return;
    }
    if (auto refusal = route_.access.check(request_reader_.request())) {
        refuse(refusal->status, refusal->reason, refusal->headers);
        return;
    }
    begin_upstream();
}

// Every header, for whoever debugs a refused app; credentials redacted.
void Session::log_request() const {
    if (!log::enabled(log::Level::debug)) return;
    const http::Request& request = request_reader_.request();
    std::string headers;
    for (const auto& h : request.headers.list()) {
        if (!headers.empty()) headers += "; ";
        headers += h.name + ": " + redact::header_value(h.name, h.value);
    }
    log::debug("upgrade request")
        .kv("route", route_.config.name)
        .kv("app", app_address_)
        .kv("method", request.method)
        .kv("path", redact::target(request.target))
        .kv("headers", headers);
}

void Session::begin_upstream() {
    RouteHealth* health = route_.health.get();
    if (health != nullptr && health->state() == RouteHealth::State::down) {
        hold_while_down();
        return;
    }
    start_dialing();
}

void Session::start_dialing() {
    phase_ = Phase::dialing;
    uint32_t ms = route_.config.timeouts.handshake_ms;
    deadline_.start(ms, [this, ms] {
        std::string stage = phase_ == Phase::upgrading
                                ? "waiting for the upgrade response from " + upstream_address_
                                : dialer_->stage();
        upstream_failed(504, "upstream did not complete the handshake within " + std::to_string(ms) + " ms (" + stage + ")",
                        true);
        settle();
    });
    UpstreamDialer::Handler& handler = *this;
    dialer_ = std::make_unique<UpstreamDialer>(loop_, route_, handler);  // replaces a spent one
    dialer_->start();
}

void Session::hold_while_down() {
    RouteHealth& health = *route_.health;
    const auto& reconnect = route_.config.reconnect;
    std::string down = "upstream " + route_.config.upstream.authority() + " is unreachable (" +
                       health.down_reason() + ")";
    if (!health.hold(this)) {
        std::string why = reconnect.hold_ms == 0 ? down
                                                 : down + " and " + std::to_string(health.held_count()) +
                                                       " connections are already waiting for it";
        refuse(503, why, {{"Retry-After", "5"}});
        return;
    }
    phase_ = Phase::held;
    log::info("holding connection until the upstream is back").kv("route", route_.config.name).kv("app", app_address_);
    uint32_t ms = reconnect.hold_ms;
    deadline_.start(ms, [this, ms, down] {
        refuse(503, down + "; waited " + std::to_string(ms) + " ms", {{"Retry-After", "5"}});
        settle();
    });
}

void Session::on_upstream_back() {
    // Called from the route's health tracker: start dialing, finish later.
    deadline_.stop();
    start_dialing();
}

void Session::upstream_failed(int status, const std::string& reason, bool unreachable) {
    RouteHealth* health = route_.health.get();
    if (unreachable && health != nullptr) {
        bool was_up = health->state() == RouteHealth::State::up;
        health->report_unreachable(reason);
        // The upstream was there a moment ago: an outage, worth waiting out.
        if (was_up && health->state() == RouteHealth::State::down) {
            if (up_.transport != nullptr) end_peer(Side::upstream);
            up_.gone = false;  // a new upstream connection will come
            upstream_address_ = "-";
            response_reader_.reset();
            hold_while_down();
            return;
        }
    }
    refuse(status, reason);
}

void Session::on_dial_ready(Transport* upstream) {
    up_.transport = upstream;
    upstream->set_handler(this);
    upstream_address_ = upstream->peer();
    if (upstream->ssl() != nullptr) tls_resumed_ = SSL_session_reused(upstream->ssl()) == 1 ? "true" : "false";
    phase_ = Phase::upgrading;
    std::string request = handshake::build_upstream_request(request_reader_.request(), route_.config.upstream,
                                                            route_.config.upstream_headers);
    upstream->write(request.data(), request.size());
    upstream->flush();
    upstream->read_start();
    settle();
}

void Session::on_dial_failed(const UpstreamDialer::Failure& failure) {
    ++route_.stats.upstream_failures;
    upstream_failed(failure.http_status, failure.reason, failure.unreachable);
    settle();
}

void Session::read_response(const char* data, size_t len) {
    size_t consumed = 0;
    auto status = response_reader_.feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return;
    if (status == http::Reader::Status::error) {
        ++route_.stats.upstream_failures;
        refuse(502, "upstream " + upstream_address_ + " did not answer with HTTP: " + response_reader_.error_reason());
        return;
    }
    const http::Response& response = response_reader_.response();
    if (response.status != 101) {
        relay_refusal(response);
        return;
    }
    handshake::Negotiated negotiated;
    if (auto why = handshake::check_upstream_101(response, request_reader_.request(), negotiated)) {
        ++route_.stats.upstream_failures;
        refuse(502, *why);
        return;
    }
    uint64_t max_message = route_.config.limits.max_message_bytes;
    uint64_t max_frame = route_.config.limits.max_frame_bytes;
    app_.scanner.set_policy({true, negotiated.allowed_rsv, max_message, max_frame});
    up_.scanner.set_policy({false, negotiated.allowed_rsv, max_message, max_frame});
    if (route_.health) route_.health->report_up();
    begin_relay(data + consumed, len - consumed);
}

void Session::begin_relay(const char* after_101, size_t len) {
    deadline_.stop();
    phase_ = Phase::relaying;
    http_status_ = 101;
    std::string response = handshake::build_app_101(response_reader_.response(), request_reader_.request());
    app_.transport->write(response.data(), response.size());
    log::debug("upgraded").kv("route", route_.config.name).kv("app", app_address_).kv("upstream", upstream_address_);
    // Frames either side sent right behind its handshake: forward them first.
    std::string early = std::move(early_app_bytes_);
    if (!early.empty()) relay(Side::app, early.data(), early.size());
    if (len > 0) relay(Side::upstream, after_101, len);
    if (app_.transport != nullptr) {
        app_.transport->flush();
        if (!app_.paused) app_.transport->read_start();
    }
    schedule_ping();
    last_frame_at_ = uv_now(loop_);
    if (route_.config.timeouts.idle_ms != 0) watch_idle(route_.config.timeouts.idle_ms);
}

void Session::refuse(int status, std::string reason, std::vector<http::Header> headers) {
    deadline_.stop();
    if (route_.health) route_.health->release(this);
    http_status_ = status;
    refusal_reason_ = reason;
    ++route_.stats.upgrades_refused;
    if (app_.transport != nullptr) {
        std::string response = handshake::build_refusal({status, std::move(reason), std::move(headers)});
        app_.transport->write(response.data(), response.size());
        closed_by_ = "loopgate";
    }
    end_peer(Side::app);
    end_peer(Side::upstream);
    phase_ = Phase::finished;
}

void Session::relay_refusal(const http::Response& response) {
    deadline_.stop();
    http_status_ = response.status;
    refusal_reason_ = "upstream answered " + std::to_string(response.status) + " " + response.reason;
    ++route_.stats.upgrades_refused;
    std::string relayed = handshake::build_relayed_refusal(response);
    app_.transport->write(relayed.data(), relayed.size());
    closed_by_ = "upstream";
    end_peer(Side::app);
    end_peer(Side::upstream);
    phase_ = Phase::finished;
}

// ---- after the 101 ----

void Session::relay(Side from, const char* data, size_t len) {
    Peer& src = peer(from);
    Peer& dst = peer(other(from));
    Pipe& pipe = from == Side::app ? app_pipe_ : up_pipe_;
    src.bytes_in += len;
    size_t offset = 0;
    while (offset < len && !src.scanner.failed()) {
        offset += src.scanner.feed(data + offset, len - offset, pipe);
        if (src.scanner.stop_requested() && src.scanner.at_boundary()) {
            src.scanner.clear_stop();
            flush_pending(other(from));
        }
    }
    if (dst.transport != nullptr) {
        dst.transport->flush();
        if (dst.transport->above_high_water() && src.transport != nullptr && !src.paused) {
            src.transport->read_stop();  // resumed by on_transport_drained
            src.paused = true;
        }
    }
    finish_if_settled();
}

void Session::forward(Side from, const char* data, size_t len) {
    Peer& src = peer(from);
    Peer& dst = peer(other(from));
    // Nothing follows a close frame (RFC 6455 5.5.1).
    if (src.close_received || dst.close_sent || dst.transport == nullptr) return;
    dst.transport->write(data, len);
    // Only what passes between app and upstream counts: loopgate's own pings
    // must not keep an idle session alive.
    last_frame_at_ = uv_now(loop_);
}

void Session::watch_idle(uint64_t after_ms) {
    idle_.start(after_ms, [this] {
        on_idle_check();
        settle();
    });
}

void Session::on_idle_check() {
    if (phase_ != Phase::relaying || close_deadline_started_) return;
    uint32_t idle_ms = route_.config.timeouts.idle_ms;
    uint64_t quiet = uv_now(loop_) - last_frame_at_;
    if (quiet < idle_ms) {
        watch_idle(idle_ms - quiet);
        return;
    }
    record_close("loopgate", ws::kGoingAway, "idle");
    close_toward(Side::app, ws::kGoingAway, "idle", false);
    close_toward(Side::upstream, ws::kGoingAway, "idle", false);
    finish_if_settled();
}

void Session::on_control(Side from, const ws::ControlFrame& frame) {
    if (from == Side::upstream && frame.opcode == ws::kPong && swallow_own_pong(frame)) return;
    if (frame.opcode != ws::kClose) {
        forward(from, frame.wire, frame.wire_len);
        return;
    }
    Peer& src = peer(from);
    Peer& dst = peer(other(from));
    if (src.close_received) return;
    src.close_received = true;
    uint16_t code = ws::kNoStatus;
    std::string_view reason;
    ws::ScanError ignored;
    ws::parse_close_payload(frame.payload, frame.payload_len, code, reason, ignored);
    if (!dst.close_sent && dst.transport != nullptr && dst.pending_close.empty()) {
        dst.transport->write(frame.wire, frame.wire_len);
        dst.close_sent = true;
        record_close(name(from), code, reason);
    }
    start_close_deadline();
}

void Session::on_protocol_error(Side from, const ws::ScanError& error) {
    log::warn("protocol error")
        .kv("route", route_.config.name)
        .kv("app", app_address_)
        .kv("from", name(from))
        .kv("close_code", static_cast<unsigned>(error.close_code))
        .kv("reason", error.reason);
    record_close("loopgate", error.close_code, std::string(name(from)) + ": " + error.reason);
    close_toward(from, error.close_code, error.reason, true);
    if (from == Side::app) {
        close_toward(Side::upstream, ws::kGoingAway, "app sent an invalid frame", false);
    } else {
        uint16_t code = error.close_code == ws::kMessageTooBig ? ws::kMessageTooBig : ws::kBadGateway;
        close_toward(Side::app, code, "upstream protocol error: " + error.reason, false);
    }
}

void Session::peer_lost(Side side, const Transport::End& end) {
    Peer& lost = peer(side);
    bool had_closed = lost.close_received;
    log::debug("peer connection ended").kv("route", route_.config.name).kv("app", app_address_)
        .kv("side", name(side)).kv("detail", end.detail);
    end_peer(side);
    Peer& other_peer = peer(other(side));
    if (!other_peer.pending_close.empty() && !lost.scanner.at_boundary()) {
        // Our close was waiting for a frame the lost peer will never finish.
        other_peer.pending_close.clear();
        end_peer(other(side));
    }
    if (!had_closed) {
        if (side == Side::upstream) {
            std::string why = "upstream connection lost";
            if (!end.detail.empty()) why += ": " + end.detail;
            record_close("upstream", ws::kServiceRestart, why);
            if (route_.health) route_.health->report_unreachable(why);
            close_toward(Side::app, ws::kServiceRestart, "upstream connection lost", false);
        } else {
            record_close("app", 1006, "app disconnected without a close frame");
            close_toward(Side::upstream, ws::kGoingAway, "app went away", false);
        }
    }
    finish_if_settled();
}

void Session::close_toward(Side to, uint16_t code, std::string_view reason, bool then_end) {
    Peer& target = peer(to);
    if (target.gone || target.close_sent || !target.pending_close.empty()) {
        if (then_end && target.pending_close.empty()) end_peer(to);
        else if (then_end) target.end_after_close = true;
        return;
    }
    char frame[ws::kMaxControlFrameBytes];
    size_t n = ws::build_close_frame(frame, code, reason, /*masked=*/to == Side::upstream);
    target.pending_close.assign(frame, n);
    target.end_after_close = then_end;
    start_close_deadline();
    Peer& feeder = peer(other(to));  // its frames flow toward the target
    if (feeder.scanner.at_boundary()) {
        send_pending_close(to);
    } else if (feeder.gone) {
        target.pending_close.clear();  // mid-frame forever: a close frame cannot be sent
        end_peer(to);
    } else {
        feeder.scanner.request_stop_at_boundary();
    }
}

void Session::flush_pending(Side to) {
    Peer& target = peer(to);
    if (!target.pending_ping.empty() && target.transport != nullptr && !target.close_sent) {
        target.transport->write(target.pending_ping.data(), target.pending_ping.size());
        target.transport->flush();
        ping_written_ = true;
    }
    target.pending_ping.clear();
    send_pending_close(to);
}

// ---- liveness ----

void Session::schedule_ping() {
    uint32_t interval = route_.config.liveness.ping_interval_ms;
    if (interval == 0 || phase_ != Phase::relaying || close_deadline_started_) return;
    uint32_t timeout = route_.config.liveness.ping_timeout_ms;
    liveness_.start(interval, [this, timeout] {
        send_ping(timeout, "upstream lost: no pong within " + std::to_string(timeout) + " ms");
        settle();
    });
}

void Session::probe_upstream(uint32_t timeout_ms) {
    send_ping(timeout_ms, "upstream lost after network change");
    settle();
}

void Session::send_ping(uint32_t timeout_ms, std::string reason_if_lost) {
    if (phase_ != Phase::relaying || close_deadline_started_ || up_.gone) return;
    liveness_reason_ = std::move(reason_if_lost);
    if (ping_outstanding_.empty()) {
        ping_outstanding_ = ping_prefix_ + std::to_string(++pings_sent_);
        ping_written_ = false;
        char frame[ws::kMaxControlFrameBytes];
        size_t n = ws::build_control_frame(frame, ws::kPing, reinterpret_cast<const uint8_t*>(ping_outstanding_.data()),
                                           ping_outstanding_.size(), /*masked=*/true);
        up_.pending_ping.assign(frame, n);
        // Only between frames: a control frame may sit between the fragments
        // of a message, never inside a frame the app is still sending.
        if (app_.scanner.at_boundary()) flush_pending(Side::upstream);
        else app_.scanner.request_stop_at_boundary();
    }
    // A ping already out keeps its deadline unless this one is sooner: a
    // stream of network changes must not push a dead session's end away.
    uint64_t deadline = uv_now(loop_) + timeout_ms;
    if (liveness_.active() && ping_deadline_ms_ != 0 && ping_deadline_ms_ <= deadline) return;
    ping_deadline_ms_ = deadline;
    liveness_.start(timeout_ms, [this, timeout_ms] {
        on_pong_deadline(timeout_ms);
        settle();
    });
}

bool Session::swallow_own_pong(const ws::ControlFrame& frame) {
    std::string_view payload(reinterpret_cast<const char*>(frame.payload), frame.payload_len);
    if (payload.substr(0, ping_prefix_.size()) != ping_prefix_) return false;  // the app's own: pass it on
    if (!ping_outstanding_.empty() && payload == ping_outstanding_) {
        ping_outstanding_.clear();
        ping_deadline_ms_ = 0;
        liveness_.stop();
        schedule_ping();
    }
    return true;
}

void Session::on_pong_deadline(uint32_t timeout_ms) {
    if (phase_ != Phase::relaying || ping_outstanding_.empty() || up_.gone) return;
    // Not our path's fault if the ping never left (the app is mid-frame) or
    // we stopped reading the upstream (the app reads slowly): wait again.
    if (!ping_written_ || up_.paused) {
        ping_deadline_ms_ = uv_now(loop_) + timeout_ms;
        liveness_.start(timeout_ms, [this, timeout_ms] {
            on_pong_deadline(timeout_ms);
            settle();
        });
        return;
    }
    std::string reason = liveness_reason_;
    log::warn("upstream lost").kv("route", route_.config.name).kv("app", app_address_)
        .kv("upstream", upstream_address_).kv("reason", reason);
    record_close("loopgate", ws::kServiceRestart, reason);
    if (route_.health) route_.health->report_unreachable(reason);
    // The path is dead: a close frame would never arrive. Drop it now.
    if (up_.transport != nullptr) up_.transport->close();
    up_.transport = nullptr;
    up_.gone = true;
    up_.pending_ping.clear();
    up_.pending_close.clear();
    close_toward(Side::app, ws::kServiceRestart, reason, false);
    finish_if_settled();
}

void Session::stop_liveness() {
    liveness_.stop();
    ping_outstanding_.clear();
    ping_deadline_ms_ = 0;
}

void Session::send_pending_close(Side to) {
    Peer& target = peer(to);
    if (target.pending_close.empty() || target.transport == nullptr) return;
    target.transport->write(target.pending_close.data(), target.pending_close.size());
    target.transport->flush();
    target.pending_close.clear();
    target.close_sent = true;
    if (target.end_after_close) end_peer(to);
}

void Session::start_close_deadline() {
    if (close_deadline_started_) return;
    close_deadline_started_ = true;
    stop_liveness();
    deadline_.start(route_.config.timeouts.close_ms, [this] {
        log::debug("close handshake timed out").kv("route", route_.config.name).kv("app", app_address_);
        end_peer(Side::app);
        end_peer(Side::upstream);
        phase_ = Phase::finished;
        settle();
    });
}

void Session::record_close(const char* by, uint16_t code, std::string_view reason) {
    if (std::string_view(closed_by_) != "-") return;
    closed_by_ = by;
    close_code_ = code;
    close_reason_ = reason;
}

void Session::end_peer(Side side) {
    Peer& p = peer(side);
    p.gone = true;
    if (p.transport == nullptr) return;
    p.transport->end(std::max<uint32_t>(route_.config.timeouts.close_ms, 100));
    p.transport = nullptr;
}

void Session::finish_if_settled() {
    if (phase_ != Phase::relaying) return;
    for (Side side : {Side::app, Side::upstream}) {
        Peer& p = peer(side);
        if (!p.gone && p.close_sent && p.close_received) end_peer(side);
    }
    if (app_.gone && up_.gone) phase_ = Phase::finished;
}

}  // namespace loopgate
