#include <doctest/doctest.h>

#include <string>

#include "network_monitor.hpp"

using loopgate::ClockJumpDetector;

TEST_CASE("clocks that advance together are not a wake from sleep") {
    ClockJumpDetector detector(3000);
    std::string what;
    CHECK_FALSE(detector.observe(1'000'000, 50'000, what));
    CHECK_FALSE(detector.observe(1'002'000, 52'000, what));
    CHECK_FALSE(detector.observe(1'004'500, 54'000, what));  // 500 ms of drift: NTP slewing, a busy machine
}

TEST_CASE("the wall clock running ahead of the monotonic clock is reported as a wake from sleep") {
    ClockJumpDetector detector(3000);
    std::string what;
    detector.observe(1'000'000, 50'000, what);
    // Two seconds of monotonic time, but an hour of wall time: the machine slept.
    REQUIRE(detector.observe(1'000'000 + 3'602'000, 52'000, what));
    CHECK(what == "wall clock ran 3600 s ahead (wake from sleep)");
    // The next tick is measured from the new readings, not reported again.
    CHECK_FALSE(detector.observe(1'000'000 + 3'604'000, 54'000, what));
}

TEST_CASE("the wall clock set back is reported too") {
    ClockJumpDetector detector(3000);
    std::string what;
    detector.observe(1'000'000, 50'000, what);
    REQUIRE(detector.observe(900'000, 52'000, what));
    CHECK(what == "wall clock went back 102 s");
}

TEST_CASE("the first observation only primes the detector") {
    ClockJumpDetector detector(3000);
    std::string what;
    CHECK_FALSE(detector.observe(5'000'000'000, 1, what));
    CHECK(what.empty());
}
