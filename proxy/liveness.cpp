#include "liveness.hpp"

#include <openssl/rand.h>

#include <cstdio>
#include <random>

namespace loopgate {

Liveness::Liveness(Clock& clock, const config::Liveness& settings, Path& path)
    : clock_(clock), settings_(settings), path_(path), alarm_(clock.new_alarm()) {
    unsigned char id[4] = {};
    if (RAND_bytes(id, sizeof id) != 1) {
        // Only needs to be unlikely to match an app's own ping payload.
        std::random_device random;
        for (unsigned char& byte : id) byte = static_cast<unsigned char>(random());
    }
    char prefix[32];
    std::snprintf(prefix, sizeof prefix, "loopgate-%02x%02x%02x%02x-", id[0], id[1], id[2], id[3]);
    prefix_ = prefix;
}

void Liveness::start() {
    uint32_t interval = settings_.ping_interval_ms;
    if (interval == 0 || stopped_) return;
    uint32_t timeout = settings_.ping_timeout_ms;
    // Every session's next ping on a shared tick: with 100 sessions the loop
    // wakes once per tick for all of them, not 100 times.
    alarm_->start(coalesced_delay(clock_.now_ms(), interval), [this, timeout] {
        send_ping(timeout, "upstream lost: no pong within " + std::to_string(timeout) + " ms");
        path_.after_alarm();
    });
}

void Liveness::probe(uint32_t timeout_ms) { send_ping(timeout_ms, "upstream lost after network change"); }

void Liveness::stop() {
    stopped_ = true;
    alarm_->stop();
    outstanding_.clear();
    deadline_ms_ = 0;
}

void Liveness::send_ping(uint32_t timeout_ms, std::string reason_if_lost) {
    if (stopped_) return;
    reason_if_lost_ = std::move(reason_if_lost);
    if (outstanding_.empty()) {
        outstanding_ = prefix_ + std::to_string(++pings_sent_);
        ping_written_ = false;
        char frame[ws::kMaxControlFrameBytes];
        size_t n = ws::build_control_frame(frame, ws::kPing, reinterpret_cast<const uint8_t*>(outstanding_.data()),
                                           outstanding_.size(), /*masked=*/true);
        path_.send_ping_frame(frame, n);
    }
    // A ping already out keeps its deadline unless this one is sooner: a
    // stream of network changes must not push a dead session's end away.
    uint64_t deadline = clock_.now_ms() + timeout_ms;
    if (alarm_->active() && deadline_ms_ != 0 && deadline_ms_ <= deadline) return;
    arm_deadline(timeout_ms);
}

void Liveness::arm_deadline(uint32_t timeout_ms) {
    deadline_ms_ = clock_.now_ms() + timeout_ms;
    alarm_->start(timeout_ms, [this, timeout_ms] {
        on_deadline(timeout_ms);
        path_.after_alarm();
    });
}

bool Liveness::swallow_pong(const ws::ControlFrame& frame) {
    std::string_view payload(reinterpret_cast<const char*>(frame.payload), frame.payload_len);
    if (payload.substr(0, prefix_.size()) != prefix_) return false;  // the app's own: pass it on
    if (!outstanding_.empty() && payload == outstanding_) {
        outstanding_.clear();
        deadline_ms_ = 0;
        alarm_->stop();
        start();
    }
    return true;
}

void Liveness::on_deadline(uint32_t timeout_ms) {
    if (stopped_ || outstanding_.empty()) return;
    // Not our path's fault if the ping never left (the app is mid-frame) or
    // we stopped reading the upstream (the app reads slowly): wait again.
    if (!ping_written_ || path_.upstream_paused()) {
        arm_deadline(timeout_ms);
        return;
    }
    std::string reason = reason_if_lost_;
    stop();
    path_.upstream_silent(reason);
}

}  // namespace loopgate
