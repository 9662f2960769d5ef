// The clock check for wake from sleep polls only while an app is connected:
// switched on and off by the daemon, on a fake clock and a fake wall clock.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fakes.hpp"
#include "wake_watch.hpp"

using loopgate::ClockWakeCheck;
using loopgate::testing::FakeClock;

namespace {

struct Check {
    FakeClock clock;
    // The wall clock runs with the monotonic one, plus every sleep so far.
    int64_t wall_offset_ms = 1'700'000'000'000;
    std::vector<std::string> wakes;
    ClockWakeCheck check{clock, clock.new_alarm(), 2000, [this](const std::string& what) { wakes.push_back(what); },
                         [this] { return wall_offset_ms + static_cast<int64_t>(clock.now_ms()); }};

    // Time passing awake: both clocks move together.
    void run_for(uint64_t ms) { clock.advance(ms); }
    // A sleep: the wall clock moves, the monotonic clock does not.
    void sleep_for(int64_t ms) { wall_offset_ms += ms; }
};

}  // namespace

TEST_CASE("with no app connected the clock check has no alarm armed at all") {
    Check c;
    CHECK(c.clock.armed() == 0);
    CHECK(std::string(c.check.state()) == "idle");
    c.sleep_for(3'600'000);
    c.run_for(60'000);
    CHECK(c.wakes.empty());
    CHECK(c.clock.armed() == 0);
}

TEST_CASE("the first app connecting starts the check and the last one leaving stops it") {
    Check c;
    c.check.set_wanted(true);
    CHECK(c.clock.armed() == 1);
    CHECK(std::string(c.check.state()) == "polling");
    c.run_for(2000);
    CHECK(c.clock.armed() == 1);  // re-armed after each look
    c.check.set_wanted(false);
    CHECK(c.clock.armed() == 0);
    CHECK(std::string(c.check.state()) == "idle");
    c.run_for(10'000);
    CHECK(c.clock.armed() == 0);
    // Telling it twice changes nothing.
    c.check.set_wanted(true);
    c.check.set_wanted(true);
    CHECK(c.clock.armed() == 1);
}

TEST_CASE("a sleep while an app is connected is reported at the next look") {
    Check c;
    c.check.set_wanted(true);
    c.run_for(2000);
    c.sleep_for(3'600'000);
    c.run_for(1999);
    CHECK(c.wakes.empty());  // not looked yet
    c.run_for(1);
    REQUIRE(c.wakes.size() == 1);
    CHECK(c.wakes[0] == "wall clock ran 3600 s ahead (wake from sleep)");
    c.run_for(10'000);
    CHECK(c.wakes.size() == 1);
}

TEST_CASE("a sleep while nobody was connected is not reported when the next app connects") {
    Check c;
    c.check.set_wanted(true);
    c.run_for(4000);
    c.check.set_wanted(false);
    c.sleep_for(3'600'000);  // nothing to probe: nobody is connected
    c.run_for(500);
    c.check.set_wanted(true);
    c.run_for(6000);
    CHECK(c.wakes.empty());
    // But the next sleep is.
    c.sleep_for(600'000);
    c.run_for(2000);
    CHECK(c.wakes.size() == 1);
}

TEST_CASE("the process load says when the first app connects and when the last one leaves, once each") {
    loopgate::ProcessLoad load;
    std::vector<bool> told;
    load.on_busy_changed = [&](bool busy) { told.push_back(busy); };
    load.connection_opened();
    load.connection_opened();
    load.connection_closed();
    CHECK(told == std::vector<bool>{true});
    load.connection_closed();
    CHECK(told == std::vector<bool>{true, false});
    load.connection_opened();
    CHECK(told == std::vector<bool>{true, false, true});
    CHECK(load.connections_active == 1);
}
