// What the data path knows about one route at run time: its settings, its
// TLS context and its counters.
#pragma once

#include <cstdint>

#include "config.hpp"
#include "tls_context.hpp"

namespace loopgate {

struct RouteStats {
    uint64_t sessions_accepted = 0;
    uint64_t sessions_active = 0;
    uint64_t upgrades_refused = 0;     // answered with an HTTP error before the 101
    uint64_t upstream_failures = 0;    // dial, TLS or handshake failures
};

struct RouteContext {
    config::Route config;
    tls::SslCtxPtr tls;  // null for a ws:// upstream
    RouteStats stats;
};

}  // namespace loopgate
