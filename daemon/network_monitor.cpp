#include "network_monitor.hpp"

#include <algorithm>
#include <chrono>

#include "log.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxListedChanges = 8;  // a burst of 200 route changes needs no 200-item log line

int64_t wall_clock_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

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

NetworkMonitor::NetworkMonitor(uv_loop_t* loop, const config::Network& settings, OnChanged on_changed)
    : loop_(loop),
      settings_(settings),
      on_changed_(std::move(on_changed)),
      debounce_(loop),
      wake_timer_(loop),
      // A few seconds of disagreement is NTP slewing or a busy machine; a
      // sleep is usually far longer.
      clock_jumps_(std::max<int64_t>(3000, 2 * static_cast<int64_t>(settings.wake_check_interval_ms))) {}

NetworkMonitor::~NetworkMonitor() = default;

void NetworkMonitor::start() {
    if (!settings_.watch) {
        log::info("network watching is off (network.watch = false)");
        return;
    }
    std::string error;
    watcher_ = NetworkWatcher::create(loop_, [this](const std::string& what) { note(what); }, error);
    if (!watcher_) log::warn("network changes will not be noticed").kv("error", error);
    if (settings_.wake_check_interval_ms > 0) schedule_wake_check();
}

void NetworkMonitor::schedule_wake_check() {
    wake_timer_.start(settings_.wake_check_interval_ms, [this] {
        std::string what;
        if (clock_jumps_.observe(wall_clock_ms(), static_cast<int64_t>(uv_hrtime() / 1000000), what)) note(what);
        schedule_wake_check();
    });
    wake_timer_.unref();  // never the reason the process stays up
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
