// Whether a route's upstream is reachable, and what to do while it is not.
//
//   unknown --101--> up --unreachable/lost--> down --retry ok--> up
//
// While down: retry (a fresh DNS lookup each attempt, through the route's
// dialers) and hold new app connections, bounded in number and time, until
// the upstream is back. Nobody waiting: exponential backoff with full jitter.
// Someone waiting: a new held app retries at once when no retry is in
// flight, and retries follow every backoff_initial_ms, so a held app is
// served within about that long of the gateway's return. A network change
// restarts the backoff and retries at once. A route that has never been up
// holds nobody: a misconfigured upstream shows at once (502), not after a wait.
#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "clock.hpp"
#include "dialer.hpp"

namespace loopgate {

struct RouteRuntime;

class HeldConnection {
public:
    // The upstream is back: go on dialing. Never called after release().
    virtual void on_upstream_back() = 0;

protected:
    ~HeldConnection() = default;
};

class RouteHealth final : private DialHandler {
public:
    enum class State { unknown, up, down };

    // Retries with route.settings (the latest), route.clock and route.dialers.
    explicit RouteHealth(RouteRuntime& route);
    ~RouteHealth();
    RouteHealth(const RouteHealth&) = delete;
    RouteHealth& operator=(const RouteHealth&) = delete;

    State state() const { return state_; }
    static const char* state_name(State state);

    // What sessions learn. report_failed: any dial that failed (not for a
    // local reason), unreachable or not; report_unreachable: one that found
    // no path to the upstream (after report_failed).
    void report_up();
    void report_failed(const std::string& reason);
    void report_unreachable(const std::string& reason);

    // A network change: retry at once, from the first backoff step.
    void network_changed();
    // A reload pointed the route at another upstream (route.settings is the
    // new one): what was learnt of the old says nothing of the new, so the
    // route starts over as a new one does, and held apps are let go at once.
    void upstream_changed();
    // loopgate is stopping: no more retries, nobody newly held.
    void stop();

    // Holding new apps while down. hold() returns false when the route holds
    // as many as it may (or does not hold at all).
    bool hold(HeldConnection* connection);
    void release(HeldConnection* connection);
    size_t held_count() const { return held_.size(); }

    const std::string& down_reason() const { return down_reason_; }
    // While the route has never been up: why its last dial failed (a typo'd
    // port, a gateway not started yet), for status and readiness; "" when no
    // dial failed, or once it was up. It holds nobody all the same.
    const std::string& unreached_reason() const { return unreached_reason_; }
    // Milliseconds since the route went down (0 when not down).
    uint64_t down_for_ms() const;
    bool retrying() const { return dialer_ != nullptr; }
    uint64_t retries() const { return retries_; }

private:
    void on_dial_ready(Transport* upstream) override;
    void on_dial_failed(const DialFailure& failure) override;

    void retry_failed(const std::string& reason);
    void schedule_retry();
    void retry_now();
    void release_all();

    RouteRuntime& route_;
    State state_ = State::unknown;
    bool stopped_ = false;
    std::string down_reason_;
    std::string unreached_reason_;  // unknown only: the last failed dial's reason
    uint64_t down_since_ms_ = 0;
    uint32_t attempt_ = 0;  // retries since down (the backoff exponent)
    uint64_t retries_ = 0;
    std::unique_ptr<Dialer> dialer_;           // the retry in flight, or null
    std::unique_ptr<Alarm> retry_alarm_;       // when the next retry starts
    std::unique_ptr<Alarm> retry_deadline_;    // a retry that hangs is given up
    std::vector<HeldConnection*> held_;
    std::mt19937 jitter_;
};

}  // namespace loopgate
