// loopgate doctor's report (text and JSON), the ring of recent problems the
// daemon keeps, the log sink that fills it, /status read back, and the
// problem lines of a log file.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "admin_report.hpp"
#include "clock_skew.hpp"
#include "doctor_checks.hpp"
#include "doctor_report.hpp"
#include "log.hpp"
#include "log_sink.hpp"
#include "recent_problems.hpp"

namespace loopgate::test {
namespace {

using doctor::Finding;
using doctor::Report;
using doctor::Severity;

Report sample_report() {
    Report report;
    report.config_path = "/home/me/.config/loopgate/loopgate.jsonc";
    report.findings = {
        {"config", Severity::ok, "valid, 1 route", {"never shown for an ok finding"}, "nor this"},
        {"route gw", Severity::fail, "probe failed at connect: refused", {"connect  FAIL      1 ms  127.0.0.1:1 refused"},
         "is the gateway running?"},
        {"log", Severity::warn, "2 warnings", {"[5 s ago] level=warn msg=x"}, ""},
    };
    return report;
}

TEST_CASE("the text report: one aligned line per finding, details and advice under the others, then a count") {
    CHECK(doctor::report_text(sample_report()) ==
          "loopgate doctor: /home/me/.config/loopgate/loopgate.jsonc\n"
          "\n"
          "ok    config    valid, 1 route\n"
          "FAIL  route gw  probe failed at connect: refused\n"
          "                connect  FAIL      1 ms  127.0.0.1:1 refused\n"
          "                -> is the gateway running?\n"
          "warn  log       2 warnings\n"
          "                [5 s ago] level=warn msg=x\n"
          "\n"
          "1 problem, 1 warning\n");
}

TEST_CASE("the last line says whether anything is wrong, and healthy() agrees") {
    Report report;
    report.config_path = "c";
    report.findings = {{"config", Severity::ok, "valid", {}, ""}};
    CHECK(report.healthy());
    CHECK(doctor::report_text(report).ends_with("\nno problems found\n"));
    report.findings.push_back({"network", Severity::warn, "w", {}, ""});
    CHECK(report.healthy());
    CHECK(doctor::report_text(report).ends_with("\nno problems found; 1 warning\n"));
    report.findings.push_back({"agent", Severity::fail, "f", {}, ""});
    report.findings.push_back({"route x", Severity::fail, "f", {}, ""});
    CHECK_FALSE(report.healthy());
    CHECK(doctor::report_text(report).ends_with("\n2 problems, 1 warning\n"));
}

TEST_CASE("the JSON report carries every finding whole, details of ok ones included") {
    auto doc = nlohmann::json::parse(doctor::report_json(sample_report()));
    CHECK(doc["config_file"] == "/home/me/.config/loopgate/loopgate.jsonc");
    CHECK(doc["healthy"] == false);
    CHECK(doc["problems"] == 1);
    CHECK(doc["warnings"] == 1);
    REQUIRE(doc["findings"].size() == 3);
    CHECK(doc["findings"][0]["severity"] == "ok");
    CHECK(doc["findings"][0]["details"][0] == "never shown for an ok finding");
    CHECK(doc["findings"][1]["severity"] == "fail");
    CHECK(doc["findings"][1]["area"] == "route gw");
    CHECK(doc["findings"][1]["todo"] == "is the gateway running?");
    CHECK(doc["findings"][2]["todo"].is_null());
}

TEST_CASE("the ring keeps the last lines in order, without their newline, and counts every one") {
    RecentProblems ring;
    CHECK(ring.lines().empty());
    for (int i = 0; i < 20; ++i) ring.add("line " + std::to_string(i) + "\n");
    auto lines = ring.lines();
    REQUIRE(lines.size() == RecentProblems::kLines);
    CHECK(lines.front() == "line 4");
    CHECK(lines.back() == "line 19");
    CHECK(ring.total() == 20);
}

TEST_CASE("a line longer than the ring keeps is cut and says so") {
    RecentProblems ring;
    ring.add(std::string(2000, 'x'));
    auto lines = ring.lines();
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].size() == RecentProblems::kMaxLineBytes);
    CHECK(lines[0].ends_with(" ...(cut)"));
}

TEST_CASE("a cut line never ends inside a UTF-8 character, and /status carries bytes that are not UTF-8") {
    RecentProblems ring;
    // "é" (two bytes) straddles the place the cut falls.
    std::string line(RecentProblems::kMaxLineBytes - std::string_view(" ...(cut)").size() - 1, 'a');
    line += "\xc3\xa9 and more text than the ring keeps";
    line += std::string(RecentProblems::kMaxLineBytes, 'b');
    ring.add(line);
    std::string kept = ring.lines().at(0);
    CHECK(kept.ends_with("a ...(cut)"));
    CHECK(kept.find('\xc3') == std::string::npos);

    StatusView view;
    view.recent_problems = {kept, "level=warn msg=\"gateway said\" reason=\"\xff\xfe\""};
    RouteView route;
    route.name = "gw";
    route.down_reason = "upstream answered \xc3";  // cut short by the gateway
    view.routes = {route};
    std::string json;
    REQUIRE_NOTHROW(json = status_json(view));
    auto doc = nlohmann::json::parse(json);
    CHECK(doc["recent_problems"][0] == kept);
    CHECK(doc["recent_problems"][1].get<std::string>().find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
}

TEST_CASE("the daemon's sink keeps warnings and errors in the ring whatever log.level is, and nothing else") {
    RecentProblems ring;
    {
        StderrLogSink sink(log::Level::error, &ring);  // warn lines are not written to stderr, but kept
        CHECK(log::enabled(log::Level::warn));
        CHECK_FALSE(log::enabled(log::Level::info));
        log::info("not kept");
        log::warn("upstream down").kv("route", "gw");
    }
    REQUIRE(ring.lines().size() == 1);
    CHECK(ring.lines()[0].find("level=warn msg=\"upstream down\" route=gw") != std::string::npos);
    StderrLogSink plain(log::Level::error);  // without a ring: the level is the level
    CHECK_FALSE(log::enabled(log::Level::warn));
}

TEST_CASE("/status read back gives the process, the routes and the recent problems it was written from") {
    StatusView view;
    view.version = "1.2.3";
    view.config_file = "/etc/loopgate.jsonc";
    view.generation = 4;
    view.reloads = 3;
    view.failed_reloads = 1;
    view.uptime_ms = 65000;
    view.pid = 4242;
    view.session = "gui";
    view.problems_logged = 7;
    view.recent_problems = {"ts=x level=warn msg=a", "ts=y level=error msg=b"};
    RouteView route;
    route.name = "gw";
    route.listen = "127.0.0.1:18789";
    route.upstream = "wss://gw.test:18789";
    route.state = "down";
    route.down_reason = "connection refused";
    route.down_for_ms = 3000;
    route.held = 2;
    view.routes = {route};
    route.name = "old";
    route.retiring = true;
    route.state = "up";
    view.routes.push_back(route);

    std::string error;
    auto back = status_from_json(status_json(view), error);
    REQUIRE(back);
    CHECK(back->version == "1.2.3");
    CHECK(back->config_file == "/etc/loopgate.jsonc");
    CHECK(back->generation == 4);
    CHECK(back->reloads == 3);
    CHECK(back->failed_reloads == 1);
    CHECK(back->uptime_ms == 65000);
    CHECK(back->pid == 4242);
    CHECK(back->session == "gui");
    CHECK(back->problems_logged == 7);
    CHECK(back->recent_problems == view.recent_problems);
    REQUIRE(back->routes.size() == 2);
    CHECK(back->routes[0].name == "gw");
    CHECK(back->routes[0].listen == "127.0.0.1:18789");
    CHECK(back->routes[0].upstream == "wss://gw.test:18789");
    CHECK(back->routes[0].state == "down");
    CHECK(back->routes[0].down_reason == "connection refused");
    CHECK(back->routes[0].down_for_ms == 3000);
    CHECK(back->routes[0].held == 2);
    CHECK_FALSE(back->routes[0].retiring);
    CHECK(back->routes[1].retiring);
}

TEST_CASE("/status read back refuses what is not a loopgate status document") {
    std::string error;
    CHECK_FALSE(status_from_json("not json", error));
    CHECK(error == "not a loopgate /status document");
    CHECK_FALSE(status_from_json("{\"routes\": []}", error));
    auto odd = status_from_json("{\"config_generation\": 1, \"routes\": [{\"name\": 5, \"retiring\": \"yes\"}], "
                                "\"pid\": -1}",
                                error);  // wrong types read as empty, never throw
    REQUIRE(odd);
    CHECK(odd->pid == 0);
    CHECK(odd->routes.at(0).name.empty());
    CHECK_FALSE(odd->routes.at(0).retiring);
}

TEST_CASE("a log file's problem lines: warnings, errors and what run printed before logging, the last ones") {
    std::string log =
        "ts=2026-12-01T10:00:00.000Z level=info msg=starting version=1\n"
        "loopgate: /c.jsonc: 1 error\n"
        "  routes[0].listen: expected HOST:PORT\n"
        "\n"
        "ts=2026-12-01T10:00:01.000Z level=warn msg=\"upstream down\" route=gw\n"
        "ts=2026-12-01T10:00:02.000Z level=debug msg=x\n"
        "ts=2026-12-01T10:00:03.000Z level=error msg=\"cannot listen\" route=gw";
    auto lines = doctor::problem_lines(log, 10);
    REQUIRE(lines.size() == 4);
    CHECK(lines[0] == "loopgate: /c.jsonc: 1 error");
    CHECK(lines[1] == "  routes[0].listen: expected HOST:PORT");
    CHECK(lines[3].ends_with("msg=\"cannot listen\" route=gw"));
    CHECK(doctor::problem_lines(log, 1) == std::vector<std::string>{lines[3]});
}

TEST_CASE("recent problems are shown with their age instead of their time stamp, the last five") {
    int64_t now = *parse_utc_time("2026-12-01T10:05:00Z");
    std::vector<std::string> lines;
    for (int i = 0; i < 7; ++i) {
        lines.push_back("ts=2026-12-01T10:0" + std::to_string(i) + ":00.500Z level=warn msg=m" + std::to_string(i));
    }
    auto f = doctor::check_recent_problems(lines, 30, "the running loopgate's log", "/var/log/x", now);
    CHECK(f.severity == Severity::warn);
    CHECK(f.summary == "30 warnings or errors in the running loopgate's log; the last 5:");
    REQUIRE(f.details.size() == 5);
    CHECK(f.details[0] == "[3 min ago] level=warn msg=m2");
    CHECK(f.details[2] == "[60 s ago] level=warn msg=m4");
    CHECK(f.details[3] == "[0 s ago] level=warn msg=m5");
    CHECK(f.details[4] == lines[6]);  // stamped after now (the clock moved back): shown as it was logged
    CHECK(f.todo == "the whole log: /var/log/x");
    auto none = doctor::check_recent_problems({}, 0, "the running loopgate's log", "", now);
    CHECK(none.severity == Severity::ok);
    CHECK(none.summary == "no warnings or errors in the running loopgate's log");
}

}  // namespace
}  // namespace loopgate::test
