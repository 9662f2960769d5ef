// How `loopgate probe` reports: one line per step (name, verdict, duration,
// what was seen), the certificate chain, and the tls.pins lines to paste.
// The dialing and judging live in probe.cpp; this file only prints.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tls_context.hpp"

namespace loopgate {

using ProbeClock = std::chrono::steady_clock;

std::string elapsed_text(ProbeClock::time_point since);
std::string micros_text(int64_t us);
void print_step(const char* step, const char* verdict, const std::string& took, const std::string& detail);
void print_detail(const std::string& text);
void print_chain(const tls::PeerReport& report);
std::string verdict_text(const tls::PeerReport& report);
void print_pin_lines(const tls::CertSummary& leaf, bool chain_verified, size_t route_index);

}  // namespace loopgate
