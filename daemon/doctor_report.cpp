#include "doctor_report.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace loopgate::doctor {
namespace {

constexpr size_t kSeverityWidth = 5;

std::string padded(std::string text, size_t width) {
    if (text.size() < width) text.append(width - text.size(), ' ');
    return text;
}

const char* json_severity(Severity severity) {
    switch (severity) {
    case Severity::ok: return "ok";
    case Severity::warn: return "warn";
    case Severity::fail: return "fail";
    }
    return "fail";
}

std::string plural(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

const char* severity_name(Severity severity) {
    switch (severity) {
    case Severity::ok: return "ok";
    case Severity::warn: return "warn";
    case Severity::fail: return "FAIL";
    }
    return "FAIL";
}

bool Report::healthy() const { return count(Severity::fail) == 0; }

size_t Report::count(Severity severity) const {
    return static_cast<size_t>(
        std::count_if(findings.begin(), findings.end(), [&](const Finding& f) { return f.severity == severity; }));
}

std::string report_text(const Report& report) {
    size_t area_width = 0;
    for (const auto& f : report.findings) area_width = std::max(area_width, f.area.size());
    std::string indent(kSeverityWidth + 1 + area_width + 2, ' ');
    std::string out = "loopgate doctor: " + report.config_path + "\n\n";
    for (const auto& f : report.findings) {
        out += padded(severity_name(f.severity), kSeverityWidth) + " " + padded(f.area, area_width) + "  " + f.summary +
               "\n";
        if (f.severity == Severity::ok) continue;
        for (const auto& line : f.details) out += indent + line + "\n";
        if (!f.todo.empty()) out += indent + "-> " + f.todo + "\n";
    }
    size_t problems = report.count(Severity::fail);
    size_t warnings = report.count(Severity::warn);
    out += "\n";
    if (problems == 0 && warnings == 0) {
        out += "no problems found\n";
    } else if (problems == 0) {
        out += "no problems found; " + plural(warnings, "warning", "warnings") + "\n";
    } else {
        out += plural(problems, "problem", "problems") + (warnings > 0 ? ", " + plural(warnings, "warning", "warnings")
                                                                       : std::string()) + "\n";
    }
    return out;
}

std::string report_json(const Report& report) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : report.findings) {
        findings.push_back({{"area", f.area},
                            {"severity", json_severity(f.severity)},
                            {"summary", f.summary},
                            {"details", f.details},
                            {"todo", f.todo.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.todo)}});
    }
    nlohmann::json doc = {{"config_file", report.config_path},
                          {"healthy", report.healthy()},
                          {"problems", report.count(Severity::fail)},
                          {"warnings", report.count(Severity::warn)},
                          {"findings", findings}};
    // Text from the network (a gateway's reason, a log line) may not be UTF-8: replaced, never a throw.
    return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace loopgate::doctor
