// One route's probe: the steps of `loopgate probe` (and of `loopgate setup`,
// which checks a gateway the same way). It dials as a session would — A
// records only, each address in turn, TLS with the route's trust, pins and
// client certificate — sends a WebSocket upgrade with a fresh key, closes
// with 1000, then dials again to see whether the TLS session resumes, and
// reports each step with its duration: on stdout, or to the ProbeOutput given.
#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "config.hpp"
#include "probe_report.hpp"
#include "tls_context.hpp"

namespace loopgate {

class RouteProbe {
public:
    // `index` is the route's place in the config, for --print-pin's lines.
    RouteProbe(uv_loop_t* loop, const config::Route& route, size_t index, const tls::TrustAnchors& anchors);
    RouteProbe(uv_loop_t* loop, const config::Route& route, size_t index, const tls::TrustAnchors& anchors,
               ProbeOutput& out);
    ~RouteProbe();
    RouteProbe(const RouteProbe&) = delete;
    RouteProbe& operator=(const RouteProbe&) = delete;

    // Drives the loop until the probe is over. True when the upgrade succeeded.
    bool run();

    // What the upstream presented (for --print-pin), and whether its chain verified.
    const std::optional<tls::PeerReport>& seen() const;
    bool chain_verified() const;
    size_t index() const;
    // After a failed run: the step that failed ("resolve", "connect", "tls",
    // "verify", "upgrade", ...) and why; empty after a success.
    const std::string& failed_step() const;
    const std::string& failure_reason() const;
    // After a failed upgrade step: the status the upstream answered instead of 101 (0 when none).
    int refused_status() const;

    // The Date header of the upstream's answer to the upgrade (a 101 or a
    // refusal) and when it arrived by this machine's clock; unset when there
    // was no answer or it carried no Date.
    struct AnswerDate {
        std::string header;
        std::chrono::system_clock::time_point received;
    };
    const std::optional<AnswerDate>& answer_date() const;

private:
    class Steps;
    PrintedProbe printed_;
    std::unique_ptr<Steps> steps_;
};

}  // namespace loopgate
