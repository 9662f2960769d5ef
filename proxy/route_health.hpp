// Whether a route's upstream is reachable, and what to do while it is not.
//
//   unknown --101--> up --unreachable/lost--> down --retry ok--> up
//
// While down: retry with exponential backoff and full jitter (a fresh DNS
// lookup each attempt, through UpstreamDialer), and hold new app
// connections (bounded in number and time) until the upstream is back. A
// network change resets the backoff and retries at once. A route that has
// never been up does not hold anyone: a misconfigured upstream should be
// visible at once (502), not after a wait.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "timer.hpp"
#include "upstream_dialer.hpp"

namespace loopgate {

struct RouteContext;

class HeldConnection {
public:
    // The upstream is back: go on dialing. Never called after release().
    virtual void on_upstream_back() = 0;

protected:
    ~HeldConnection() = default;
};

class RouteHealth final : private UpstreamDialer::Handler {
public:
    enum class State { unknown, up, down };

    RouteHealth(uv_loop_t* loop, RouteContext& route);
    ~RouteHealth();
    RouteHealth(const RouteHealth&) = delete;
    RouteHealth& operator=(const RouteHealth&) = delete;

    State state() const { return state_; }
    static const char* state_name(State state);

    // What sessions learn.
    void report_up();
    void report_unreachable(const std::string& reason);

    // A network change: retry at once, from the first backoff step.
    void network_changed();

    // Holding new apps while down. hold() returns false when the route holds
    // as many as it may (or does not hold at all).
    bool hold(HeldConnection* connection);
    void release(HeldConnection* connection);
    size_t held_count() const { return held_.size(); }

    const std::string& down_reason() const { return down_reason_; }
    // Seconds since the route went down (0 when not down).
    uint64_t down_for_seconds() const;

private:
    void on_dial_ready(Transport* upstream) override;
    void on_dial_failed(const UpstreamDialer::Failure& failure) override;

    void schedule_retry();
    void retry_now();
    void release_all();

    uv_loop_t* loop_;
    RouteContext& route_;
    State state_ = State::unknown;
    std::string down_reason_;
    std::chrono::steady_clock::time_point down_since_;
    uint32_t attempt_ = 0;  // retries since down (the backoff exponent)
    std::unique_ptr<UpstreamDialer> dialer_;  // the latest retry; may be spent
    bool dialing_ = false;                   // a retry is in flight
    Timer retry_timer_;
    std::vector<HeldConnection*> held_;
    std::mt19937 jitter_;
};

}  // namespace loopgate
