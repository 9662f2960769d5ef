// RefusalLog: at most kLinesPerWindow refusal lines of a kind per window,
// then one summary line when the next line comes after the window (no timer).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "fakes.hpp"
#include "log.hpp"
#include "refusal_log.hpp"
#include "session_record.hpp"

using loopgate::RefusalLog;
using loopgate::testing::FakeClock;

namespace {

struct CapturedLog final : loopgate::log::Sink {
    CapturedLog() { previous = loopgate::log::use_sink(this); }
    ~CapturedLog() override { loopgate::log::use_sink(previous); }
    loopgate::log::Level level() const override { return loopgate::log::Level::debug; }
    void write(loopgate::log::Level, std::string_view line) override { lines.emplace_back(line); }
    size_t count(std::string_view text) const {
        size_t n = 0;
        for (const auto& line : lines) n += line.find(text) != std::string::npos;
        return n;
    }
    std::vector<std::string> lines;
    loopgate::log::Sink* previous = nullptr;
};

// Asks `log` about `n` refusals of one kind; returns how many were admitted.
int admitted(RefusalLog& log, const FakeClock& clock, int n, std::string_view reason = "bad Upgrade header",
             int status = 400) {
    int yes = 0;
    for (int i = 0; i < n; ++i) yes += log.admit("echo", "connection closed", status, reason, clock.now_ms());
    return yes;
}

// A session record of route "echo" that ended with `status`; refused (by
// loopgate or the upstream) when it has a reason.
loopgate::SessionRecord record(int status, std::string reason = "") {
    loopgate::SessionRecord r;
    r.route = "echo";
    r.http_status = status;
    r.refused = !reason.empty();
    r.refusal_reason = std::move(reason);
    return r;
}

}  // namespace

TEST_CASE("refusal log: the first lines of a kind in a window are written, the rest counted") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    CHECK(admitted(log, clock, 500) == static_cast<int>(RefusalLog::kLinesPerWindow));
    CHECK(captured.lines.empty());  // no summary while the window lasts
    clock.advance(RefusalLog::kWindowMs - 1);
    CHECK(admitted(log, clock, 1) == 0);
    CHECK(captured.lines.empty());
}

TEST_CASE("refusal log: the next refusal after the window writes the summary first, then is written") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    admitted(log, clock, 500);
    clock.advance(RefusalLog::kWindowMs);
    CHECK(admitted(log, clock, 1) == 1);
    REQUIRE(captured.lines.size() == 1);
    const std::string& summary = captured.lines[0];
    CHECK(summary.find("level=warn msg=\"more refusals like this were not logged\" route=echo") != std::string::npos);
    CHECK(summary.find("like=\"connection closed\" status=400 reason=\"bad Upgrade header\"") != std::string::npos);
    CHECK(summary.find("suppressed=490 in_seconds=1\n") != std::string::npos);
    // A new window: its own ten lines, and nothing to sum up after a quiet one.
    CHECK(admitted(log, clock, RefusalLog::kLinesPerWindow - 1) == static_cast<int>(RefusalLog::kLinesPerWindow - 1));
    clock.advance(RefusalLog::kWindowMs);
    CHECK(admitted(log, clock, 1) == 1);
    CHECK(captured.lines.size() == 1);
}

TEST_CASE("refusal log: each route kind has its own window, and any later line flushes every summary") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    admitted(log, clock, 20, "bad Upgrade header");
    CHECK(admitted(log, clock, 20, "missing Host") == static_cast<int>(RefusalLog::kLinesPerWindow));
    CHECK(admitted(log, clock, 20, "missing Host", 431) == static_cast<int>(RefusalLog::kLinesPerWindow));
    CHECK(log.admit("echo", "refused a connection from another user", 0, "1001", clock.now_ms()));
    clock.advance(RefusalLog::kWindowMs + 5000);
    log.flush("echo", clock.now_ms());  // e.g. a session that went well ends
    CHECK(captured.lines.size() == 3);
    CHECK(captured.count("reason=\"bad Upgrade header\" suppressed=10 ") == 1);
    CHECK(captured.count("status=400 reason=\"missing Host\" suppressed=10 ") == 1);
    CHECK(captured.count("status=431 reason=\"missing Host\" suppressed=10 ") == 1);
    log.flush("echo", clock.now_ms());
    CHECK(captured.lines.size() == 3);  // written once
}

TEST_CASE("refusal log: ever different reasons share one kind past kMaxKinds") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    int yes = 0;
    for (int i = 0; i < 1000; ++i) yes += log.admit("echo", "connection closed", 400, "Host " + std::to_string(i), clock.now_ms());
    CHECK(yes == static_cast<int>(RefusalLog::kMaxKinds + RefusalLog::kLinesPerWindow));
    clock.advance(RefusalLog::kWindowMs);
    log.flush("echo", clock.now_ms());
    REQUIRE(captured.lines.size() == 1);
    CHECK(captured.count("reason=(various) suppressed=" + std::to_string(1000 - yes) + " ") == 1);
}

TEST_CASE("refusal log: a session record logs a refusal only when admitted, a good session always") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    loopgate::SessionRecord refused = record(400, "bad Upgrade header");
    for (int i = 0; i < 50; ++i) refused.log(log, clock.now_ms());
    CHECK(captured.count("msg=\"connection closed\"") == RefusalLog::kLinesPerWindow);
    loopgate::SessionRecord good = record(101);
    clock.advance(RefusalLog::kWindowMs);
    good.log(log, clock.now_ms());
    REQUIRE(captured.lines.size() == RefusalLog::kLinesPerWindow + 2);
    CHECK(captured.lines[RefusalLog::kLinesPerWindow].find("suppressed=40 ") != std::string::npos);
    CHECK(captured.lines.back().find("level=info msg=\"connection closed\"") != std::string::npos);
}

// A forwarded HTTP connection ends with its last response's status (a 200):
// it is no refusal, so a busy app's ordinary lines are never suppressed.
TEST_CASE("refusal log: sessions that were not refused are always logged, whatever their status") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    loopgate::SessionRecord forwarded = record(200);
    for (int i = 0; i < 50; ++i) forwarded.log(log, clock.now_ms());
    CHECK(captured.count("msg=\"connection closed\"") == 50);
    CHECK(captured.count("level=warn") == 0);

    loopgate::SessionRecord refused = record(403, "Origin not allowed");
    for (int i = 0; i < 50; ++i) refused.log(log, clock.now_ms());
    CHECK(captured.count("level=warn") == RefusalLog::kLinesPerWindow);
}

TEST_CASE("refusal log: kinds whose windows began at different times are summed up each when its own ends") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    admitted(log, clock, 30, "bad Upgrade header");
    clock.advance(600);
    admitted(log, clock, 20, "missing Sec-WebSocket-Key header");
    clock.advance(400);  // the first window is over, the second is not
    log.flush("echo", clock.now_ms());
    REQUIRE(captured.lines.size() == 1);
    CHECK(captured.lines[0].find("reason=\"bad Upgrade header\" suppressed=20 ") != std::string::npos);
    clock.advance(600);
    log.flush("echo", clock.now_ms());
    REQUIRE(captured.lines.size() == 2);
    CHECK(captured.lines[1].find("reason=\"missing Sec-WebSocket-Key header\" suppressed=10 ") != std::string::npos);
}

TEST_CASE("refusal log: a route that stops writes every pending count at once") {
    CapturedLog captured;
    FakeClock clock;
    RefusalLog log;
    admitted(log, clock, 30);
    log.flush("echo", clock.now_ms());
    CHECK(captured.lines.empty());  // its window still runs
    log.flush("echo", UINT64_MAX);  // what the listener does when it stops
    REQUIRE(captured.lines.size() == 1);
    CHECK(captured.lines[0].find("suppressed=20 ") != std::string::npos);
}
