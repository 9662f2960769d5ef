// How a probe reports: one line per step (name, verdict, duration, what was
// seen), the certificate chain, and the tls.pins lines to paste. Where the
// lines go is a ProbeOutput: printed as they come (`loopgate probe`, `setup`)
// or kept for a summary (`loopgate doctor`). The dialing and judging live in
// route_probe.cpp; this file only reports.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tls_context.hpp"

namespace loopgate {

using ProbeClock = std::chrono::steady_clock;

struct ProbeStep {
    std::string step;     // resolve, connect, trust, tls, verify, upgrade, close, resume
    std::string verdict;  // ok, FAIL, warn, no, --
    std::string took;     // "12 ms"
    std::string detail;
};

class ProbeOutput {
public:
    virtual ~ProbeOutput() = default;
    virtual void heading(const std::string& text) = 0;  // "route gw: wss://host:port"
    virtual void step(const ProbeStep& step) = 0;
    virtual void detail(const std::string& text) = 0;   // under a step: the certificate chain
    virtual void outcome(const std::string& text) = 0;  // "probe ok: ...", "probe failed at step ..."
};

// Prints each line on stdout as it comes.
class PrintedProbe final : public ProbeOutput {
public:
    void heading(const std::string& text) override;
    void step(const ProbeStep& step) override;
    void detail(const std::string& text) override;
    void outcome(const std::string& text) override;
};

// Keeps the steps and the outcome; prints nothing.
class RecordedProbe final : public ProbeOutput {
public:
    void heading(const std::string&) override {}
    void step(const ProbeStep& step) override { steps.push_back(step); }
    void detail(const std::string&) override {}
    void outcome(const std::string& text) override { outcome_text = text; }

    std::vector<ProbeStep> steps;
    std::string outcome_text;
};

std::string elapsed_text(ProbeClock::time_point since);
std::string micros_text(int64_t us);
void print_chain(ProbeOutput& out, const tls::PeerReport& report);
std::string verdict_text(const tls::PeerReport& report);
void print_pin_lines(const tls::CertSummary& leaf, bool chain_verified, size_t route_index);

}  // namespace loopgate
