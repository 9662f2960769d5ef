#include "network_monitor.hpp"

#include <algorithm>

#include "log.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxListedChanges = 8;  // a burst of 200 route changes needs no 200-item log line

}  // namespace

NetworkMonitor::NetworkMonitor(uv_loop_t* loop, const config::Network& settings, OnChanged on_changed)
    : loop_(loop),
      settings_(settings),
      on_changed_(std::move(on_changed)),
      debounce_(loop) {}

NetworkMonitor::~NetworkMonitor() = default;

void NetworkMonitor::start(bool wake_wanted) {
    if (!settings_.watch) {
        log::info("network watching is off (network.watch = false)");
        return;
    }
    std::string error;
    watcher_ = NetworkWatcher::create(loop_, [this](const std::string& what) { note(what); }, error);
    if (!watcher_) log::warn("network changes will not be noticed").kv("error", error);
    if (settings_.wake_check_interval_ms > 0) {
        wake_ = WakeWatcher::create(loop_, settings_.wake_check_interval_ms, [this](const std::string& what) { note(what); });
        wake_->set_wanted(wake_wanted);
    }
}

void NetworkMonitor::set_wake_wanted(bool wanted) {
    if (wake_) wake_->set_wanted(wanted);
}

void NetworkMonitor::note(const std::string& what) {
    log::debug("network event").kv("what", what);
    if (pending_.empty()) burst_started_ms_ = uv_now(loop_);
    if (std::find(pending_.begin(), pending_.end(), what) == pending_.end()) {
        if (pending_.size() < kMaxListedChanges) pending_.push_back(what);
        else ++dropped_;
    }
    // Wait for the burst to settle, but never more than 4 debounce periods
    // after its first event: a flapping link must not postpone the probe forever.
    uint64_t waited = uv_now(loop_) - burst_started_ms_;
    uint64_t cap = 4ull * settings_.debounce_ms;
    uint64_t delay = waited >= cap ? 0 : std::min<uint64_t>(settings_.debounce_ms, cap - waited);
    debounce_.start(delay, [this] { fire(); });
}

void NetworkMonitor::fire() {
    std::string changes;
    for (const auto& item : pending_) {
        if (!changes.empty()) changes += "; ";
        changes += item;
    }
    if (dropped_ > 0) changes += "; and " + std::to_string(dropped_) + " more";
    pending_.clear();
    dropped_ = 0;
    on_changed_(changes);
}

}  // namespace loopgate
