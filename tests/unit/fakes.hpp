// Fakes for the data path's state machines: a clock the test advances by
// hand, and dialers that succeed or fail when the test says so. With them,
// RouteHealth and a session's phases before the 101 run without a network
// and without waiting.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "dialer.hpp"
#include "route.hpp"

namespace loopgate::testing {

class FakeClock final : public Clock {
public:
    uint64_t now_ms() const override { return now_; }
    std::unique_ptr<Alarm> new_alarm() override;
    // Moves time forward, firing every alarm that falls due, in order.
    void advance(uint64_t ms);
    size_t armed() const;

private:
    class FakeAlarm;
    friend class FakeAlarm;
    uint64_t now_ = 1000;
    uint64_t next_sequence_ = 0;
    std::set<FakeAlarm*> alarms_;
};

// One dial a fake dialer was asked for.
struct FakeDial {
    DialHandler* handler = nullptr;
    RouteSettingsPtr settings;  // what it was asked to dial with
    bool started = false;
    bool abandoned = false;  // its dialer was destroyed
    bool answered = false;   // the test made it succeed or fail
    bool live() const { return started && !abandoned && !answered; }
};

class FakeDialers final : public DialerFactory {
public:
    std::unique_ptr<Dialer> new_dialer(RouteSettingsPtr settings, DialHandler& handler) override;

    size_t count() const { return dials_.size(); }
    size_t live() const;
    FakeDial& dial(size_t i) { return *dials_.at(i); }
    FakeDial& last() { return *dials_.back(); }
    // Answers a dial; false when nobody could hear it (abandoned, or answered already).
    bool fail(FakeDial& dial, DialFailure failure);
    bool fail(FakeDial& dial, const std::string& reason, bool unreachable = true);
    bool succeed(FakeDial& dial, Transport* upstream);

private:
    std::vector<std::shared_ptr<FakeDial>> dials_;
};

// A route wired to the fakes: up to the test to set its health going.
struct FakeRoute {
    explicit FakeRoute(config::Route settings);
    ~FakeRoute();
    // New settings for sessions from now on, with the access policy for `port`.
    void listen_on(uint16_t port);
    const config::Route& config() const { return runtime.settings->config; }
    FakeClock clock;
    FakeDialers* dialers = nullptr;  // owned by runtime
    RouteRuntime runtime;
};

config::Route test_route_settings();

// Runs the loop without blocking until `done` says so, at most `max_turns` turns.
bool run_until(uv_loop_t* loop, const std::function<bool()>& done, int max_turns = 2000);

}  // namespace loopgate::testing
