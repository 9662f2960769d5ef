// Telling a clock far off: HTTP dates in the three forms RFC 9110 makes a
// recipient accept, certificate times, and doctor's verdict from either.
#include <doctest/doctest.h>

#include "clock_skew.hpp"
#include "doctor_checks.hpp"

namespace loopgate::test {
namespace {

using doctor::Severity;

// RFC 9110 5.6.7's example instant.
constexpr int64_t kExample = 784111777;  // 1994-11-06T08:49:37Z

TEST_CASE("parse_http_date reads IMF-fixdate and both obsolete forms of the same instant") {
    CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == kExample);
    CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == kExample);
    CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == kExample);
    CHECK(parse_http_date("  Sun, 06 Nov 1994 08:49:37 GMT\t") == kExample);  // header whitespace
    CHECK(parse_http_date("Tue, 01 Dec 2026 15:10:28 GMT") == parse_utc_time("2026-12-01T15:10:28Z"));
    CHECK(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT") == parse_utc_time("2024-02-29T00:00:00Z"));
}

TEST_CASE("parse_http_date refuses what is not a date") {
    for (const char* bad : {"", "yesterday", "Sun, 06 Nov 1994 08:49:37", "Sun, 06 Nov 1994 08:49:37 UTC",
                            "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Now 1994 08:49:37 GMT",
                            "Sun, 31 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
                            "Fri, 29 Feb 2023 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 GMT junk",
                            "1994-11-06T08:49:37Z"}) {
        INFO(bad);
        CHECK_FALSE(parse_http_date(bad).has_value());
    }
}

TEST_CASE("parse_http_date accepts only RFC 9110's day names, each in its own form") {
    for (const char* bad : {"Xyz, 01 Dec 2026 15:10:28 GMT", "Tuesday, 01 Dec 2026 15:10:28 GMT",
                            "tue, 01 Dec 2026 15:10:28 GMT", "TUE, 01 Dec 2026 15:10:28 GMT",
                            "Tue, 01-Dec-26 15:10:28 GMT", "Someday, 01-Dec-26 15:10:28 GMT",
                            "Xyz Dec  1 15:10:28 2026", "Tuesday Dec  1 15:10:28 2026",
                            "Sept, 01 Dec 2026 15:10:28 GMT"}) {
        INFO(bad);
        CHECK_FALSE(parse_http_date(bad).has_value());
    }
    for (const char* good : {"Mon, 07 Nov 1994 08:49:37 GMT", "Wed, 09 Nov 1994 08:49:37 GMT",
                             "Thursday, 10-Nov-94 08:49:37 GMT", "Sat Nov 12 08:49:37 1994"}) {
        INFO(good);
        CHECK(parse_http_date(good).has_value());
    }
    // The weekday is redundant: a wrong one (1 Dec 2026 is a Tuesday) is read, not refused (5.6.7:
    // recipients are to be robust in parsing timestamps).
    CHECK(parse_http_date("Fri, 01 Dec 2026 15:10:28 GMT") == parse_utc_time("2026-12-01T15:10:28Z"));
}

TEST_CASE("certificate times read and print back the same") {
    CHECK(parse_utc_time("1994-11-06T08:49:37Z") == kExample);
    CHECK(utc_time_text(kExample) == "1994-11-06T08:49:37Z");
    CHECK(utc_time_text(0) == "1970-01-01T00:00:00Z");
    CHECK(utc_time_text(*parse_utc_time("2038-01-19T03:14:08Z")) == "2038-01-19T03:14:08Z");
    CHECK_FALSE(parse_utc_time("1994-11-06 08:49:37Z").has_value());
    CHECK_FALSE(parse_utc_time("1994-13-06T08:49:37Z").has_value());
}

TEST_CASE("durations read as a person says them") {
    CHECK(duration_text(0) == "0 s");
    CHECK(duration_text(-45) == "45 s");
    CHECK(duration_text(119) == "119 s");
    CHECK(duration_text(600) == "10 min");
    CHECK(duration_text(3 * 3600) == "3 h");
    CHECK(duration_text(9 * 86400) == "9 days");
}

doctor::ClockSample sample(const char* date, int64_t received) { return {"gw", date, received}; }

TEST_CASE("a Date within five minutes of the local time is a clock that agrees") {
    auto f = doctor::check_clock({sample("Sun, 06 Nov 1994 08:49:37 GMT", kExample + 299)}, {}, kExample);
    REQUIRE(f);
    CHECK(f->severity == Severity::ok);
    CHECK(f->summary == "agrees with the gateway of route gw within 4 min");
}

TEST_CASE("a clock ten minutes ahead of the gateway's is a problem, named with the Date seen") {
    auto f = doctor::check_clock({sample("Sun, 06 Nov 1994 08:49:37 GMT", kExample + 600)}, {}, kExample + 600);
    REQUIRE(f);
    CHECK(f->severity == Severity::fail);
    CHECK(f->summary == "this machine's clock is 10 min ahead of the gateway of route gw (its Date: Sun, 06 Nov 1994 "
                        "08:49:37 GMT)");
    CHECK(f->todo.find("timedatectl set-ntp true") != std::string::npos);
}

TEST_CASE("a clock behind is told as behind, and the worst of several gateways counts") {
    auto f = doctor::check_clock({sample("Sun, 06 Nov 1994 08:49:37 GMT", kExample - 10),
                                  {"other", "Sun, 06 Nov 1994 10:49:37 GMT", kExample - 5}, sample("garbage", 0)},
                                 {}, kExample);
    REQUIRE(f);
    CHECK(f->severity == Severity::fail);
    CHECK(f->summary.find("2 h behind the gateway of route other") != std::string::npos);
}

doctor::RouteFacts with_leaf(const char* from, const char* until, int chain_error = 0) {
    doctor::RouteFacts r;
    r.name = "gw";
    tls::PeerReport report;
    report.chain.push_back(tls::CertSummary{"CN=gw", "CN=ca", "DNS:gw", from, until, "", ""});
    report.chain_error = chain_error;
    r.seen = report;
    return r;
}

TEST_CASE("without a Date header, a certificate whose dates exclude the local time points at the clock") {
    auto f = doctor::check_clock({}, {with_leaf("2030-01-01T00:00:00Z", "2031-01-01T00:00:00Z")}, kExample);
    REQUIRE(f);
    CHECK(f->severity == Severity::fail);
    CHECK(f->summary == "the certificate of route gw is valid from 2030-01-01T00:00:00Z to 2031-01-01T00:00:00Z, and "
                        "this machine's time is 1994-11-06T08:49:37Z");
}

TEST_CASE("without a Date header, certificates valid now say the clock is plausible; nothing seen, nothing said") {
    auto f = doctor::check_clock({}, {with_leaf("1990-01-01T00:00:00Z", "2000-01-01T00:00:00Z")}, kExample);
    REQUIRE(f);
    CHECK(f->severity == Severity::ok);
    CHECK_FALSE(doctor::check_clock({}, {doctor::RouteFacts{}}, kExample).has_value());
    // OpenSSL's own verdict counts even when the dates in the summary could not be read.
    auto expired = doctor::check_clock({}, {with_leaf("", "", 10)}, kExample);
    REQUIRE(expired);
    CHECK(expired->severity == Severity::fail);
}

}  // namespace
}  // namespace loopgate::test
