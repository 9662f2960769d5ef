// What one app connection did, for the one line logged when it ends: who,
// where to, how it ended, and how many bytes went each way.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "refusal_log.hpp"

namespace loopgate {

struct SessionRecord {
    std::string route;
    std::string app_address;
    std::string path;                  // the request target, redacted; "-" before a request
    std::string upstream_address = "-";
    const char* tls_resumed = nullptr;  // "true"/"false" once a TLS upstream is up
    int http_status = 0;                // 101, the refusal's status, or 0 (no request)
    std::string refusal_reason;
    bool refused = false;               // answered with a refusal (loopgate's or the upstream's)
    uint16_t close_code = 0;
    std::string close_reason;
    const char* closed_by = "-";
    uint64_t bytes_from_app = 0;        // after the 101
    uint64_t bytes_from_upstream = 0;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

    // The first close recorded is the one that counts.
    void record_close(const char* by, uint16_t code, std::string_view reason);
    // "connection closed": info for a session or a port probe, warn for a
    // refusal (as many as `refusals` admits at `now_ms`).
    void log(RefusalLog& refusals, uint64_t now_ms) const;
};

}  // namespace loopgate
