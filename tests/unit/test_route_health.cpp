// RouteHealth's rules, on a fake clock with fake dialers: when it retries,
// whom it holds, and what releases them.
#include <doctest/doctest.h>

#include "fakes.hpp"
#include "route_health.hpp"
#include "transport.hpp"

using namespace loopgate;
using namespace loopgate::testing;

namespace {

struct Waiter final : HeldConnection {
    int called = 0;
    void on_upstream_back() override { ++called; }
};

struct Fixture {
    explicit Fixture(config::Route settings = test_route_settings()) : route(std::move(settings)) {
        uv_loop_init(&loop);
    }
    ~Fixture() {
        uv_run(&loop, UV_RUN_DEFAULT);  // frees the transports handed to the health tracker
        uv_loop_close(&loop);
    }
    RouteHealth& health() { return *route.runtime.health; }
    FakeDialers& dialers() { return *route.dialers; }
    // Up, then lost: down with a retry scheduled.
    void bring_down() {
        health().report_up();
        health().report_unreachable("connection refused");
        REQUIRE(health().state() == RouteHealth::State::down);
    }
    // The scheduled retry starts within `within_ms` (the backoff step's ceiling); fails it.
    void fail_next_retry(uint64_t within_ms) {
        size_t before = dialers().count();
        for (uint64_t waited = 0; waited < within_ms && dialers().count() == before; waited += 10) route.clock.advance(10);
        REQUIRE(dialers().count() == before + 1);
        REQUIRE(dialers().fail(dialers().last(), "connection refused"));
    }
    Transport* spare_transport() { return Transport::create(&loop, nullptr); }

    uv_loop_t loop{};
    FakeRoute route;
};

}  // namespace

TEST_CASE("route health: a route never up holds nobody and does not retry") {
    Fixture f;
    Waiter waiter;
    f.health().report_unreachable("connection refused");
    CHECK(f.health().state() == RouteHealth::State::unknown);
    CHECK_FALSE(f.health().hold(&waiter));
    f.route.clock.advance(600000);
    CHECK(f.dialers().count() == 0);
}

TEST_CASE("route health: a route never up says why its last dial failed, until it is up or its upstream changes") {
    Fixture f;
    CHECK(f.health().unreached_reason().empty());
    f.health().report_failed("cannot connect to upstream 127.0.0.1:28999: connection refused");
    f.health().report_unreachable("cannot connect to upstream 127.0.0.1:28999: connection refused");
    CHECK(f.health().state() == RouteHealth::State::unknown);
    CHECK(f.health().unreached_reason() == "cannot connect to upstream 127.0.0.1:28999: connection refused");
    f.health().report_failed("certificate verify failed: wrong host name");  // reached, but not usable
    CHECK(f.health().unreached_reason() == "certificate verify failed: wrong host name");
    f.health().upstream_changed();  // a reload to another upstream: nothing known of it
    CHECK(f.health().unreached_reason().empty());
    f.health().report_failed("connection refused");
    f.health().report_up();
    CHECK(f.health().unreached_reason().empty());
    f.health().report_failed("a one-off failure while up");  // up: that is the outage machinery's business
    CHECK(f.health().unreached_reason().empty());
}

TEST_CASE("route health: down after up, the first retry comes within backoff_initial_ms") {
    Fixture f;
    f.bring_down();
    CHECK(f.health().down_reason() == "connection refused");
    CHECK(f.dialers().count() == 0);
    f.route.clock.advance(250);
    CHECK(f.dialers().count() == 1);
    CHECK(f.dialers().live() == 1);
}

TEST_CASE("route health: with nobody waiting, failed retries back off up to backoff_max_ms") {
    config::Route settings = test_route_settings();
    settings.reconnect.backoff_max_ms = 4000;
    Fixture f(settings);
    f.bring_down();
    // Ceilings 250, 500, 1000, 2000, then capped at 4000.
    for (uint64_t ceiling : {250, 500, 1000, 2000, 4000, 4000, 4000}) f.fail_next_retry(ceiling);
    CHECK(f.health().retries() == 7);
    CHECK(f.health().down_reason() == "connection refused");
}

TEST_CASE("route health: after failed retries, a newly held app brings the retry forward at once") {
    Fixture f;
    f.bring_down();
    for (uint64_t ceiling : {250, 500, 1000, 2000, 4000, 8000}) f.fail_next_retry(ceiling);
    // The next retry may be up to 16 s away now. An app arrives: retry now.
    size_t before = f.dialers().count();
    Waiter waiter;
    REQUIRE(f.health().hold(&waiter));
    CHECK(f.dialers().count() == before + 1);
    CHECK(f.dialers().live() == 1);
}

TEST_CASE("route health: while an app waits, a failed retry is followed by the next within backoff_initial_ms") {
    Fixture f;
    f.bring_down();
    for (uint64_t ceiling : {250, 500, 1000, 2000, 4000, 8000}) f.fail_next_retry(ceiling);
    Waiter waiter;
    REQUIRE(f.health().hold(&waiter));
    for (int i = 0; i < 5; ++i) {
        REQUIRE(f.dialers().fail(f.dialers().last(), "connection refused"));
        size_t before = f.dialers().count();
        f.route.clock.advance(249);
        CHECK(f.dialers().count() == before);
        f.route.clock.advance(1);
        CHECK(f.dialers().count() == before + 1);
    }
}

TEST_CASE("route health: a second held app does not start a second retry while one is in flight") {
    Fixture f;
    f.bring_down();
    Waiter first, second;
    REQUIRE(f.health().hold(&first));
    REQUIRE(f.health().hold(&second));
    CHECK(f.dialers().count() == 1);
    CHECK(f.health().held_count() == 2);
}

TEST_CASE("route health: a retry that succeeds brings the route up and releases every held app once") {
    Fixture f;
    f.bring_down();
    Waiter first, second, released;
    REQUIRE(f.health().hold(&first));
    REQUIRE(f.health().hold(&second));
    REQUIRE(f.health().hold(&released));
    f.health().release(&released);  // it left meanwhile
    REQUIRE(f.dialers().succeed(f.dialers().last(), f.spare_transport()));
    CHECK(f.health().state() == RouteHealth::State::up);
    CHECK(f.health().down_reason().empty());
    CHECK(first.called == 1);
    CHECK(second.called == 1);
    CHECK(released.called == 0);
    CHECK(f.health().held_count() == 0);
    f.route.clock.advance(600000);
    CHECK(f.dialers().count() == 1);  // up: no more retries
}

TEST_CASE("route health: a retry that hangs is given up after handshake_ms, and the next one follows") {
    Fixture f;
    f.bring_down();
    Waiter waiter;
    REQUIRE(f.health().hold(&waiter));
    FakeDial& hanging = f.dialers().last();
    f.route.clock.advance(2999);
    CHECK(hanging.live());
    f.route.clock.advance(1);
    CHECK(hanging.abandoned);
    CHECK(f.health().down_reason().find("no connection within 3000 ms") != std::string::npos);
    f.route.clock.advance(250);
    CHECK(f.dialers().live() == 1);
}

TEST_CASE("route health: a network change replaces a retry in flight and resets the backoff") {
    Fixture f;
    f.bring_down();
    for (uint64_t ceiling : {250, 500, 1000, 2000}) f.fail_next_retry(ceiling);
    for (uint64_t waited = 0; waited < 4000 && f.dialers().live() == 0; waited += 10) f.route.clock.advance(10);
    REQUIRE(f.dialers().live() == 1);
    FakeDial& stale = f.dialers().last();
    f.health().network_changed();
    CHECK(stale.abandoned);
    CHECK(f.dialers().live() == 1);
    REQUIRE(f.dialers().fail(f.dialers().last(), "connection refused"));
    f.route.clock.advance(250);  // back at the first step
    CHECK(f.dialers().live() == 1);
}

TEST_CASE("route health: a network change while up or never up dials nothing") {
    Fixture f;
    f.health().network_changed();
    f.health().report_up();
    f.health().network_changed();
    CHECK(f.dialers().count() == 0);
}

TEST_CASE("route health: max_held bounds the held list and hold_ms 0 holds nobody") {
    Fixture f;
    f.bring_down();
    Waiter waiters[5];
    for (int i = 0; i < 4; ++i) CHECK(f.health().hold(&waiters[i]));
    CHECK_FALSE(f.health().hold(&waiters[4]));
    CHECK(f.health().held_count() == 4);

    config::Route settings = test_route_settings();
    settings.reconnect.hold_ms = 0;
    Fixture no_hold(settings);
    no_hold.bring_down();
    Waiter waiter;
    CHECK_FALSE(no_hold.health().hold(&waiter));
}

TEST_CASE("route health: stop() abandons the retry in flight and retries no more") {
    Fixture f;
    f.bring_down();
    Waiter waiter;
    REQUIRE(f.health().hold(&waiter));
    FakeDial& in_flight = f.dialers().last();
    f.health().stop();
    CHECK(in_flight.abandoned);
    f.health().network_changed();
    f.route.clock.advance(600000);
    CHECK(f.dialers().count() == 1);
    Waiter late;
    CHECK_FALSE(f.health().hold(&late));
}

TEST_CASE("route health: a lost upstream reported while down changes nothing") {
    Fixture f;
    f.bring_down();
    f.health().report_unreachable("another reason");
    CHECK(f.health().down_reason() == "connection refused");
    f.route.clock.advance(250);
    CHECK(f.dialers().count() == 1);
}

TEST_CASE("route health: a reload to another upstream forgets the old one's state and lets the held apps go") {
    Fixture f;
    f.bring_down();
    Waiter waiter;
    REQUIRE(f.health().hold(&waiter));
    FakeDial& in_flight = f.dialers().last();
    f.health().upstream_changed();
    CHECK(f.health().state() == RouteHealth::State::unknown);
    CHECK(f.health().down_reason().empty());
    CHECK(f.health().held_count() == 0);
    CHECK(waiter.called == 1);
    CHECK(in_flight.abandoned);
    // A new route is not retried and holds nobody until it has been up once.
    f.route.clock.advance(600000);
    CHECK(f.dialers().count() == 1);
    Waiter late;
    CHECK_FALSE(f.health().hold(&late));
    // Up, then down again: the usual rules.
    f.bring_down();
    f.route.clock.advance(250);
    CHECK(f.dialers().count() == 2);
}
