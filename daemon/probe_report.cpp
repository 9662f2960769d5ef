#include "probe_report.hpp"

#include <cstdio>

namespace loopgate {

std::string elapsed_text(ProbeClock::time_point since) {
    auto us = std::chrono::duration_cast<std::chrono::microseconds>(ProbeClock::now() - since).count();
    char text[32];
    std::snprintf(text, sizeof text, "%lld ms", static_cast<long long>(us / 1000));
    return text;
}

std::string micros_text(int64_t us) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f ms", static_cast<double>(us) / 1000.0);
    return text;
}

void PrintedProbe::heading(const std::string& text) { std::printf("%s\n", text.c_str()); }

// One step per line: name, verdict, duration, then what was seen.
void PrintedProbe::step(const ProbeStep& s) {
    std::printf("%-8s %-4s %9s  %s\n", s.step.c_str(), s.verdict.c_str(), s.took.c_str(), s.detail.c_str());
}

void PrintedProbe::detail(const std::string& text) { std::printf("%24s%s\n", "", text.c_str()); }

void PrintedProbe::outcome(const std::string& text) { std::printf("%s\n", text.c_str()); }

void print_chain(ProbeOutput& out, const tls::PeerReport& report) {
    for (size_t i = 0; i < report.chain.size(); ++i) {
        const tls::CertSummary& cert = report.chain[i];
        out.detail("certificate " + std::to_string(i) + (i == 0 ? " (leaf)" : ""));
        out.detail("  subject   " + cert.subject);
        out.detail("  issuer    " + cert.issuer);
        out.detail("  names     " + (cert.names.empty() ? std::string("(no subjectAltName)") : cert.names));
        out.detail("  valid     " + cert.not_before + " to " + cert.not_after);
        if (i != 0) continue;  // pins match the leaf only, so only its fingerprints are offered
        out.detail("  sha256    " + tls::leaf_pin(cert));
        out.detail("  spki      " + tls::spki_pin(cert));
    }
}

std::string verdict_text(const tls::PeerReport& report) {
    std::string text = report.chain_checked ? "chain and host name verified"
                                            : "chain and host name not checked (\"verify\": \"pin-only\")";
    if (report.pins_checked) return text + "; pin " + report.matched_pin + " matched";
    return text + "; no pins configured";
}

void print_pin_lines(const tls::CertSummary& leaf, bool chain_verified, size_t route_index) {
    std::printf("\nTo pin this certificate, first check its fingerprint out of band (on the gateway:\n"
                "openssl x509 -in CERT.pem -noout -fingerprint -sha256), then put in routes[%zu].tls:\n\n",
                route_index);
    std::printf("      \"pins\": [\"%s\"],\n", tls::leaf_pin(leaf).c_str());
    if (!chain_verified) {
        std::printf("      \"verify\": \"pin-only\",  // this certificate does not verify against a CA\n");
    }
    std::printf("      // or pin its public key, which survives a renewal that keeps the key:\n"
                "      // \"pins\": [\"%s\"],\n",
                tls::spki_pin(leaf).c_str());
}

}  // namespace loopgate
