// AddressRace with a fake clock and fake connections: when each address is
// tried, who wins, what is closed, and what the failure says.
#include <doctest/doctest.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "address_race.hpp"
#include "fakes.hpp"

using loopgate::AddressRace;
using loopgate::testing::FakeClock;

namespace {

constexpr uint64_t kConnectMs = 1000;

// The owner's side: what the race asked for, and when.
struct FakeConnects final : AddressRace::Owner {
    explicit FakeConnects(FakeClock& clock) : clock(clock) {}

    int race_open(size_t i) override {
        opened.push_back({i, clock.now_ms()});
        return i < open_results.size() ? open_results[i] : 0;
    }
    void race_close(size_t i, bool lost) override { closed.push_back({i, lost}); }
    void race_attempt_failed(size_t i, const std::string& why) override { failed.push_back({i, why}); }
    void race_won(size_t i) override {
        ++decisions;
        won = i;
        if (destroy_on_decision) race.reset();
    }
    void race_lost(const std::string& errors, int local) override {
        ++decisions;
        lost = errors;
        local_error = local;
        if (destroy_on_decision) race.reset();
    }

    std::vector<size_t> opened_addresses() const {
        std::vector<size_t> out;
        for (const auto& [i, at] : opened) out.push_back(i);
        return out;
    }
    uint64_t opened_at(size_t i) const {
        for (const auto& [address, at] : opened) {
            if (address == i) return at;
        }
        FAIL("address " << i << " was never opened");
        return 0;
    }

    FakeClock& clock;
    std::vector<int> open_results;  // what race_open answers, per address (default 0)
    std::vector<std::pair<size_t, uint64_t>> opened;  // address, when
    std::vector<std::pair<size_t, bool>> closed;      // address, lost
    std::vector<std::pair<size_t, std::string>> failed;
    std::optional<size_t> won;
    std::optional<std::string> lost;
    int local_error = -1;
    int decisions = 0;
    bool destroy_on_decision = false;
    std::unique_ptr<AddressRace> race;
};

struct Race {
    explicit Race(size_t addresses) : connects(clock) {
        std::vector<std::string> names;
        for (size_t i = 0; i < addresses; ++i) names.push_back("100.64.0." + std::to_string(i + 1) + ":443");
        connects.race = std::make_unique<AddressRace>(clock, names, kConnectMs, connects);
        started_at = clock.now_ms();
    }
    AddressRace& race() { return *connects.race; }
    uint64_t elapsed() const { return clock.now_ms() - started_at; }

    FakeClock clock;
    FakeConnects connects;
    uint64_t started_at = 0;
};

}  // namespace

TEST_CASE("address race: a first address still connecting after 250 ms gets the second beside it; the second wins") {
    Race r(2);
    r.race().start();
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0});
    r.clock.advance(AddressRace::kAttemptDelayMs - 1);
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0});
    r.clock.advance(1);
    REQUIRE(r.connects.opened_addresses() == std::vector<size_t>{0, 1});
    CHECK(r.connects.opened_at(1) - r.started_at == AddressRace::kAttemptDelayMs);
    CHECK(r.race().connecting() == "100.64.0.1:443, 100.64.0.2:443");

    r.clock.advance(20);
    r.race().on_connected(1);
    CHECK(r.connects.won == std::optional<size_t>(1));
    CHECK(r.connects.closed == std::vector<std::pair<size_t, bool>>{{0, true}});  // the first, as a loser
    CHECK(r.connects.failed.empty());
    CHECK(r.clock.armed() == 0);  // no deadline or delay left behind
    r.clock.advance(10 * kConnectMs);
    CHECK(r.connects.decisions == 1);
    CHECK(r.connects.opened.size() == 2);
}

TEST_CASE("address race: an attempt that fails fast starts the next address at once, without the 250 ms wait") {
    Race r(3);
    r.race().start();
    r.clock.advance(10);
    r.race().on_failed(0, "connection refused");
    REQUIRE(r.connects.opened_addresses() == std::vector<size_t>{0, 1});
    CHECK(r.connects.opened_at(1) - r.started_at == 10);
    CHECK(r.connects.closed == std::vector<std::pair<size_t, bool>>{{0, false}});
    CHECK(r.connects.failed == std::vector<std::pair<size_t, std::string>>{{0, "connection refused"}});
    // The delay now counts from the second attempt's start.
    r.clock.advance(AddressRace::kAttemptDelayMs - 1);
    CHECK(r.connects.opened.size() == 2);
    r.clock.advance(1);
    CHECK(r.connects.opened_at(2) - r.started_at == 10 + AddressRace::kAttemptDelayMs);
    r.race().on_connected(2);
    CHECK(r.connects.won == std::optional<size_t>(2));
}

TEST_CASE("address race: a failure while a later attempt is under way still starts the next one at once") {
    Race r(3);
    r.race().start();
    r.clock.advance(AddressRace::kAttemptDelayMs);  // the second starts beside the first
    r.clock.advance(5);
    r.race().on_failed(0, "connection refused");
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0, 1, 2});
    CHECK(r.connects.opened_at(2) - r.started_at == AddressRace::kAttemptDelayMs + 5);
}

TEST_CASE("address race: when every address fails the reason lists each, in address order, each bounded by connect_ms") {
    Race r(3);
    r.race().start();
    r.clock.advance(AddressRace::kAttemptDelayMs);  // 1 starts
    r.clock.advance(10);
    r.race().on_failed(1, "connection refused");  // 2 starts at once
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0, 1, 2});
    r.clock.advance(10);
    r.race().on_failed(2, "no route to host");
    CHECK(r.connects.decisions == 0);  // the first is still connecting
    r.clock.advance(kConnectMs - 270 - 1);
    CHECK(r.connects.decisions == 0);
    r.clock.advance(1);  // the first's connect timeout, counted from its own start
    REQUIRE(r.connects.lost.has_value());
    CHECK(r.elapsed() == kConnectMs);
    CHECK(*r.connects.lost ==
          "100.64.0.1:443 connect timed out after 1000 ms; 100.64.0.2:443 connection refused; "
          "100.64.0.3:443 no route to host");
    CHECK(r.connects.local_error == 0);
    CHECK(r.connects.closed.size() == 3);
    CHECK(r.connects.decisions == 1);
    CHECK(r.connects.failed.size() == 3);
}

TEST_CASE("address race: the last failure is reported from the loop, never from inside the report of it") {
    Race r(1);
    r.race().start();
    r.race().on_failed(0, "connection refused");
    CHECK(r.connects.decisions == 0);
    r.clock.advance(0);
    CHECK(*r.connects.lost == "100.64.0.1:443 connection refused");
}

TEST_CASE("address race: a loser that connects after the winner is never handed on") {
    Race r(2);
    r.race().start();
    r.clock.advance(AddressRace::kAttemptDelayMs);
    r.race().on_connected(1);
    r.race().on_connected(0);            // the first connects too, but too late
    r.race().on_failed(0, "reset");      // or fails late: nothing either
    CHECK(r.connects.decisions == 1);
    CHECK(r.connects.won == std::optional<size_t>(1));
    CHECK(r.connects.closed == std::vector<std::pair<size_t, bool>>{{0, true}});
    CHECK(r.connects.failed.empty());
}

TEST_CASE("address race: a single address is tried once, with no second attempt and its own connect timeout") {
    Race r(1);
    r.race().start();
    r.clock.advance(AddressRace::kAttemptDelayMs);
    CHECK(r.connects.opened.size() == 1);
    CHECK(r.clock.armed() == 1);  // only its connect deadline
    r.race().on_connected(0);
    CHECK(r.connects.won == std::optional<size_t>(0));
    CHECK(r.connects.closed.empty());

    Race silent(1);
    silent.race().start();
    silent.clock.advance(kConnectMs);
    REQUIRE(silent.connects.lost.has_value());
    CHECK(*silent.connects.lost == "100.64.0.1:443 connect timed out after 1000 ms");
    CHECK(silent.connects.closed == std::vector<std::pair<size_t, bool>>{{0, false}});
}

TEST_CASE("address race: an address that cannot even be opened is noted and the next tried at once") {
    Race r(2);
    r.connects.open_results = {UV_ENETUNREACH, 0};
    r.race().start();
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0, 1});
    CHECK(r.connects.failed == std::vector<std::pair<size_t, std::string>>{{0, uv_strerror(UV_ENETUNREACH)}});
    CHECK(r.connects.closed.empty());  // nothing was left open to close
    r.race().on_failed(1, "connection refused");
    r.clock.advance(0);
    CHECK(*r.connects.lost == std::string("100.64.0.1:443 ") + uv_strerror(UV_ENETUNREACH) +
                                  "; 100.64.0.2:443 connection refused");
}

TEST_CASE("address race: out of descriptors, no further address is tried and the loss is local, reported from the loop") {
    Race r(3);
    r.connects.open_results = {UV_EMFILE, 0, 0};
    r.race().start();
    CHECK(r.connects.opened_addresses() == std::vector<size_t>{0});
    CHECK(r.connects.decisions == 0);  // not from inside start()
    r.clock.advance(0);
    CHECK(r.connects.local_error == UV_EMFILE);

    // With an attempt already under way, that one still decides.
    Race busy(3);
    busy.connects.open_results = {0, UV_EMFILE, 0};
    busy.race().start();
    busy.clock.advance(AddressRace::kAttemptDelayMs);
    CHECK(busy.connects.opened_addresses() == std::vector<size_t>{0, 1});
    busy.race().on_connected(0);
    CHECK(busy.connects.won == std::optional<size_t>(0));
}

TEST_CASE("address race: a refused or timed-out attempt outranks a local failure that came before or after it") {
    // Address 0 connecting, address 1 cannot get a descriptor (earlier in
    // time), then address 0 is refused: the upstream's answer is the loss.
    Race refused(3);
    refused.connects.open_results = {0, UV_EMFILE, 0};
    refused.race().start();
    refused.clock.advance(AddressRace::kAttemptDelayMs);
    CHECK(refused.connects.opened_addresses() == std::vector<size_t>{0, 1});
    refused.race().on_failed(0, "connection refused");
    refused.clock.advance(0);
    REQUIRE(refused.connects.lost.has_value());
    CHECK(refused.connects.local_error == 0);
    CHECK(*refused.connects.lost == std::string("100.64.0.1:443 connection refused; 100.64.0.2:443 not tried: ") +
                                        uv_strerror(UV_EMFILE));

    // The same with a timeout.
    Race timed_out(2);
    timed_out.connects.open_results = {0, UV_ENOMEM};
    timed_out.race().start();
    timed_out.clock.advance(kConnectMs);
    REQUIRE(timed_out.connects.lost.has_value());
    CHECK(timed_out.connects.local_error == 0);
    CHECK(timed_out.connects.lost->find("100.64.0.1:443 connect timed out after 1000 ms") == 0);

    // connect(2) refusing at once (no route to the host) is the network's word
    // too, though the local failure after it is the last thing that happened.
    Race unreachable(3);
    unreachable.connects.open_results = {UV_EHOSTUNREACH, UV_ENFILE, 0};
    unreachable.race().start();
    unreachable.clock.advance(0);
    CHECK(unreachable.connects.opened_addresses() == std::vector<size_t>{0, 1});
    REQUIRE(unreachable.connects.lost.has_value());
    CHECK(unreachable.connects.local_error == 0);
    CHECK(*unreachable.connects.lost == std::string("100.64.0.1:443 ") + uv_strerror(UV_EHOSTUNREACH) +
                                            "; 100.64.0.2:443 not tried: " + uv_strerror(UV_ENFILE));
}

TEST_CASE("address race: the owner may destroy the race from its decision") {
    Race r(2);
    r.connects.destroy_on_decision = true;
    r.race().start();
    r.clock.advance(AddressRace::kAttemptDelayMs);
    r.connects.race->on_connected(0);
    CHECK(r.connects.race == nullptr);
    CHECK(r.connects.closed == std::vector<std::pair<size_t, bool>>{{1, true}});

    Race timed_out(1);
    timed_out.connects.destroy_on_decision = true;
    timed_out.race().start();
    timed_out.clock.advance(kConnectMs);  // decided from inside its own alarm
    CHECK(timed_out.connects.race == nullptr);
    CHECK(timed_out.clock.armed() == 0);
}
