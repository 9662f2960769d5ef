// What `loopgate doctor` found, and how it is shown: one finding per thing
// checked (the config, the agent, each route, the clock, the network, the
// log), each with what was seen and what to do about it. Text for a person,
// JSON for a machine; pure, so both are unit-tested.
#pragma once

#include <string>
#include <vector>

namespace loopgate::doctor {

enum class Severity {
    ok,    // nothing to do
    warn,  // worth knowing; loopgate works
    fail,  // something is broken: doctor exits 1
};

const char* severity_name(Severity severity);  // "ok", "warn", "FAIL"

struct Finding {
    std::string area;     // "config", "agent", "route gw", "clock", "network", "session", "log"
    Severity severity = Severity::ok;
    std::string summary;  // one line: what doctor saw
    std::vector<std::string> details;  // more lines: config errors, probe steps, log lines
    std::string todo;     // what to do about it; empty when nothing
};

struct Report {
    std::string config_path;
    std::vector<Finding> findings;

    bool healthy() const;  // no finding is a failure
    size_t count(Severity severity) const;
};

// Each finding on a line of its own; the details and the advice of those that
// are not ok under it; a last line counting the problems.
std::string report_text(const Report& report);

// {"config_file", "healthy", "problems", "warnings", "findings": [{"area",
// "severity" ("ok", "warn", "fail"), "summary", "details", "todo"}]}
std::string report_json(const Report& report);

}  // namespace loopgate::doctor
