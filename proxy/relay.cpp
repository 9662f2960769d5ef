#include "relay.hpp"

#include <algorithm>

#include "log.hpp"
#include "route_health.hpp"

namespace loopgate {

// ---- Pipe: the frame scanner's sink for one direction ----

void Relay::Pipe::on_frame_bytes(const char* data, size_t len) { relay_.forward(from_, data, len); }
void Relay::Pipe::on_control_frame(const ws::ControlFrame& frame) { relay_.on_control(from_, frame); }
void Relay::Pipe::on_frame_error(const ws::ScanError& error) { relay_.on_protocol_error(from_, error); }

// ---- life cycle ----

Relay::Relay(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record, Transport* app,
             Transport* upstream, uint8_t allowed_rsv)
    : route_(route),
      runtime_(runtime),
      owner_(owner),
      record_(record),
      clock_(*runtime.clock),
      liveness_(*runtime.clock, route.config.liveness, *this),
      close_deadline_(runtime.clock->new_alarm()),
      idle_(runtime.clock->new_alarm()) {
    app_.transport = app;
    up_.transport = upstream;
    uint64_t max_message = route_.config.limits.max_message_bytes;
    uint64_t max_frame = route_.config.limits.max_frame_bytes;
    app_.scanner.set_policy({true, allowed_rsv, max_message, max_frame});
    up_.scanner.set_policy({false, allowed_rsv, max_message, max_frame});
}

Relay::~Relay() {
    if (app_.transport != nullptr) app_.transport->close();
    if (up_.transport != nullptr) up_.transport->close();
}

void Relay::begin(std::string_view early_from_app, std::string_view early_from_upstream) {
    if (!early_from_app.empty()) relay(Side::app, early_from_app.data(), early_from_app.size());
    if (!early_from_upstream.empty()) relay(Side::upstream, early_from_upstream.data(), early_from_upstream.size());
    if (app_.transport != nullptr) {
        app_.transport->flush();
        if (!app_.paused) app_.transport->read_start();
    }
    if (up_.transport != nullptr && !up_.paused) up_.transport->read_start();
    if (!closing_) liveness_.start();
    last_frame_at_ = clock_.now_ms();
    if (route_.config.timeouts.idle_ms != 0) watch_idle(route_.config.timeouts.idle_ms);
}

void Relay::on_data(Side from, const char* data, size_t len) { relay(from, data, len); }

void Relay::on_drained(Side side) {
    Peer& source = peer(other(side));
    if (source.paused && source.transport != nullptr) {
        source.paused = false;
        source.transport->read_start();
    }
}

void Relay::shut_down() { close_both(ws::kGoingAway, "loopgate is shutting down"); }

void Relay::probe(uint32_t timeout_ms) {
    if (closing_ || up_.gone) return;
    liveness_.probe(timeout_ms);
}

bool Relay::upstream_ends(sockaddr_in& local, sockaddr_in& remote) const {
    if (closing_ || up_.gone || up_.transport == nullptr) return false;
    return up_.transport->tcp_ends(local, remote) == 0;
}

void Relay::upstream_path_gone(const std::string& reason) {
    if (closing_ || up_.gone) return;
    liveness_.stop();
    upstream_silent(reason);
}

void Relay::close_both(uint16_t code, std::string_view reason) {
    record_.record_close("loopgate", code, reason);
    close_toward(Side::app, code, reason, false);
    close_toward(Side::upstream, code, reason, false);
    end_settled_peers();
}

// ---- frames ----

void Relay::relay(Side from, const char* data, size_t len) {
    Peer& src = peer(from);
    Peer& dst = peer(other(from));
    Pipe& pipe = from == Side::app ? app_pipe_ : up_pipe_;
    bytes_from(from) += len;
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
            src.transport->read_stop();  // resumed by on_drained
            src.paused = true;
        }
    }
    end_settled_peers();
}

void Relay::forward(Side from, const char* data, size_t len) {
    Peer& src = peer(from);
    Peer& dst = peer(other(from));
    // Nothing follows a close frame (RFC 6455 5.5.1).
    if (src.close_received || dst.close_sent || dst.transport == nullptr) return;
    dst.transport->write(data, len);
    // Only what passes between app and upstream counts: loopgate's own pings
    // must not keep an idle session alive.
    last_frame_at_ = clock_.now_ms();
}

void Relay::on_control(Side from, const ws::ControlFrame& frame) {
    if (from == Side::upstream && frame.opcode == ws::kPong && liveness_.swallow_pong(frame)) return;
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
        record_.record_close(name(from), code, reason);
    }
    start_close_deadline();
}

void Relay::on_protocol_error(Side from, const ws::ScanError& error) {
    log::warn("protocol error")
        .kv("route", route_.config.name)
        .kv("app", record_.app_address)
        .kv("from", name(from))
        .kv("close_code", static_cast<unsigned>(error.close_code))
        .kv("reason", error.reason);
    record_.record_close("loopgate", error.close_code, std::string(name(from)) + ": " + error.reason);
    close_toward(from, error.close_code, error.reason, true);
    if (from == Side::app) {
        close_toward(Side::upstream, ws::kGoingAway, "app sent an invalid frame", false);
    } else {
        uint16_t code = error.close_code == ws::kMessageTooBig ? ws::kMessageTooBig : ws::kBadGateway;
        close_toward(Side::app, code, "upstream protocol error: " + error.reason, false);
    }
}

// ---- a side goes away ----

void Relay::on_end(Side side, const Transport::End& end) {
    Peer& lost = peer(side);
    bool had_closed = lost.close_received;
    log::debug("peer connection ended").kv("route", route_.config.name).kv("app", record_.app_address)
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
            record_.record_close("upstream", ws::kServiceRestart, why);
            if (runtime_.health) runtime_.health->report_unreachable(why);
            close_toward(Side::app, ws::kServiceRestart, "upstream connection lost", false);
        } else {
            record_.record_close("app", 1006, "app disconnected without a close frame");
            close_toward(Side::upstream, ws::kGoingAway, "app went away", false);
        }
    }
    end_settled_peers();
}

void Relay::upstream_silent(const std::string& reason) {
    log::warn("upstream lost").kv("route", route_.config.name).kv("app", record_.app_address)
        .kv("upstream", record_.upstream_address).kv("reason", reason);
    record_.record_close("loopgate", ws::kServiceRestart, reason);
    if (runtime_.health) runtime_.health->report_unreachable(reason);
    // The path is dead: a close frame would never arrive. Drop it now.
    if (up_.transport != nullptr) up_.transport->close();
    up_.transport = nullptr;
    up_.gone = true;
    up_.pending_ping.clear();
    up_.pending_close.clear();
    close_toward(Side::app, ws::kServiceRestart, reason, false);
    end_settled_peers();
}

// ---- the closing handshake ----

void Relay::close_toward(Side to, uint16_t code, std::string_view reason, bool then_end) {
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

void Relay::send_ping_frame(const char* frame, size_t len) {
    if (up_.gone) return;
    up_.pending_ping.assign(frame, len);
    // Only between frames: a control frame may sit between the fragments
    // of a message, never inside a frame the app is still sending.
    if (app_.scanner.at_boundary()) flush_pending(Side::upstream);
    else app_.scanner.request_stop_at_boundary();
}

void Relay::flush_pending(Side to) {
    Peer& target = peer(to);
    if (!target.pending_ping.empty() && target.transport != nullptr && !target.close_sent) {
        target.transport->write(target.pending_ping.data(), target.pending_ping.size());
        target.transport->flush();
        liveness_.ping_written();
    }
    target.pending_ping.clear();
    send_pending_close(to);
}

void Relay::send_pending_close(Side to) {
    Peer& target = peer(to);
    if (target.pending_close.empty() || target.transport == nullptr) return;
    target.transport->write(target.pending_close.data(), target.pending_close.size());
    target.transport->flush();
    target.pending_close.clear();
    target.close_sent = true;
    if (target.end_after_close) end_peer(to);
}

void Relay::start_close_deadline() {
    if (closing_) return;
    closing_ = true;
    liveness_.stop();
    idle_->stop();
    close_deadline_->start(route_.config.timeouts.close_ms, [this] {
        log::debug("close handshake timed out").kv("route", route_.config.name).kv("app", record_.app_address);
        end_peer(Side::app);
        end_peer(Side::upstream);
        owner_.after_relay_alarm();
    });
}

void Relay::end_peer(Side side) {
    Peer& p = peer(side);
    p.gone = true;
    if (p.transport == nullptr) return;
    p.transport->end(std::max<uint32_t>(route_.config.timeouts.close_ms, 100));
    p.transport = nullptr;
}

// A side that has both sent and received a close frame is done.
void Relay::end_settled_peers() {
    for (Side side : {Side::app, Side::upstream}) {
        Peer& p = peer(side);
        if (!p.gone && p.close_sent && p.close_received) end_peer(side);
    }
}

// ---- idle ----

void Relay::watch_idle(uint64_t after_ms) {
    idle_->start(after_ms, [this] {
        on_idle_check();
        owner_.after_relay_alarm();
    });
}

void Relay::on_idle_check() {
    if (closing_) return;
    uint32_t idle_ms = route_.config.timeouts.idle_ms;
    uint64_t quiet = clock_.now_ms() - last_frame_at_;
    if (quiet < idle_ms) {
        watch_idle(idle_ms - quiet);
        return;
    }
    close_both(ws::kGoingAway, "idle");
}

}  // namespace loopgate
