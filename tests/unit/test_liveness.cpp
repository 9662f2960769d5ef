// loopgate's own pings: the periodic pings of many sessions go out together
// (one wakeup per tick, not one per session), each still at least
// ping_interval_ms after the last pong. On a fake clock.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "fakes.hpp"
#include "liveness.hpp"
#include "ws_frame.hpp"

using namespace loopgate;
using loopgate::testing::FakeClock;

namespace {

// The relay's side of one session: records when each ping went out, answers
// with a pong when the test says so.
struct FakePath final : Liveness::Path {
    explicit FakePath(FakeClock& clock) : clock(clock) {}
    void send_ping_frame(const char* frame, size_t len) override {
        sent_at.push_back(clock.now_ms());
        last_frame.assign(frame, len);
        if (liveness) liveness->ping_written();
    }
    bool upstream_paused() const override { return false; }
    void upstream_silent(const std::string& reason) override { lost = reason; }
    void after_alarm() override {}

    // The upstream answers the last ping (its payload, unmasked, in a pong).
    void pong() {
        std::string payload = ping_payload();
        ws::ControlFrame frame{};
        frame.opcode = ws::kPong;
        frame.payload = reinterpret_cast<const uint8_t*>(payload.data());
        frame.payload_len = payload.size();
        CHECK(liveness->swallow_pong(frame));
    }
    // The payload of the last ping: a masked frame of at most 125 bytes.
    std::string ping_payload() const {
        auto* bytes = reinterpret_cast<const uint8_t*>(last_frame.data());
        size_t len = bytes[1] & 0x7f;
        std::string payload(len, '\0');
        for (size_t i = 0; i < len; ++i) payload[i] = static_cast<char>(bytes[6 + i] ^ bytes[2 + i % 4]);
        return payload;
    }

    FakeClock& clock;
    Liveness* liveness = nullptr;
    std::vector<uint64_t> sent_at;
    std::string last_frame;
    std::string lost;
};

struct Session {
    Session(FakeClock& clock, const config::Liveness& settings) : path(clock), liveness(clock, settings, path) {
        path.liveness = &liveness;
    }
    FakePath path;
    Liveness liveness;
};

config::Liveness every(uint32_t interval_ms) {
    config::Liveness settings;
    settings.ping_interval_ms = interval_ms;
    settings.ping_timeout_ms = 10000;
    return settings;
}

}  // namespace

TEST_CASE("coalesced delay: at least the delay, less than one tick more, ending on the tick") {
    CHECK(coalesced_delay(1000, 15000) == 15000);       // already on a whole second
    CHECK(coalesced_delay(1001, 15000) == 15999);       // to the next whole second
    CHECK(coalesced_delay(123'456, 15000) == 15544);    // 139'000
    CHECK(coalesced_delay(123'456, 5000) == 5044);      // tick 500: 128'500
    CHECK(coalesced_delay(123'456, 2000) == 2144);      // tick 200: 125'600
    CHECK(coalesced_delay(123'456, 1000) == 1044);      // tick 100: 124'500
    CHECK(coalesced_delay(123'456, 250) == 264);        // tick 20: 123'720
    CHECK(coalesced_delay(123'456, 99) == 99);          // too short to round
    for (uint64_t now : {0ull, 7ull, 999ull, 1'000'001ull}) {
        for (uint64_t delay : {100ull, 333ull, 1500ull, 15000ull, 3'600'000ull}) {
            uint64_t d = coalesced_delay(now, delay);
            CHECK(d >= delay);
            CHECK(d - delay < 1000);
            CHECK(d - delay <= delay / 10);
        }
    }
}

TEST_CASE("liveness: sessions started at different times send their periodic pings together") {
    FakeClock clock;  // starts at 1000
    std::vector<std::unique_ptr<Session>> sessions;
    for (uint64_t started : {50, 137, 420, 861}) {
        clock.advance(started - (clock.now_ms() - 1000));
        sessions.push_back(std::make_unique<Session>(clock, every(15000)));
        sessions.back()->liveness.start();
    }
    clock.advance(17000 - clock.now_ms());
    for (auto& s : sessions) {
        REQUIRE(s->path.sent_at.size() == 1);
        CHECK(s->path.sent_at[0] == 17000);  // the first whole second at least 15 s after the last start
    }
    // Pongs come back at different times; the next pings meet again.
    uint64_t rtt = 3;
    for (auto& s : sessions) {
        clock.advance(rtt);
        s->path.pong();
        rtt += 40;
    }
    clock.advance(20000);
    for (auto& s : sessions) {
        REQUIRE(s->path.sent_at.size() == 2);
        CHECK(s->path.sent_at[1] == 33000);
        CHECK(s->path.lost.empty());
    }
}

TEST_CASE("liveness: each periodic ping is at least ping_interval_ms after the pong before it") {
    FakeClock clock;
    clock.advance(999);  // 1999: just after a whole second, the worst case for rounding
    Session s(clock, every(15000));
    s.liveness.start();
    clock.advance(15000);
    CHECK(s.path.sent_at.empty());  // 16999: rounded up, not down
    clock.advance(1);
    REQUIRE(s.path.sent_at.size() == 1);
    CHECK(s.path.sent_at[0] == 17000);
}

TEST_CASE("liveness: a ping that is not answered still ends the session after ping_timeout_ms") {
    FakeClock clock;
    Session s(clock, every(1000));
    s.liveness.start();
    clock.advance(1000);
    REQUIRE(s.path.sent_at.size() == 1);
    clock.advance(9999);
    CHECK(s.path.lost.empty());
    clock.advance(1);
    CHECK(s.path.lost == "upstream lost: no pong within 10000 ms");
}
