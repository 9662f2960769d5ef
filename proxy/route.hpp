// What the data path knows about one route at run time: its settings, its
// TLS context and its counters.
#pragma once

#include <cstdint>
#include <memory>

#include "access_policy.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "dialer.hpp"
#include "tls_context.hpp"

namespace loopgate {

class RouteHealth;  // route_health.hpp; whoever destroys a RouteContext includes it

struct RouteStats {
    uint64_t sessions_accepted = 0;
    uint64_t sessions_active = 0;
    uint64_t upgrades_refused = 0;     // answered with an HTTP error before the 101
    uint64_t upstream_failures = 0;    // dial, TLS or handshake failures
    uint64_t local_exhaustion = 0;     // refused 503: loopgate ran out of descriptors or memory
    uint64_t tls_handshakes_full = 0;     // upstream TLS handshakes that sent a certificate
    uint64_t tls_handshakes_resumed = 0;  // ... that resumed a cached session instead
};

// Shared by every route of the process: the global connection limit.
struct ProcessLoad {
    uint32_t max_connections = 0;  // 0 = no global limit
    uint64_t connections_active = 0;
};

struct RouteContext {
    config::Route config;
    tls::SslCtxPtr tls;  // null for a ws:// upstream
    RouteStats stats;
    std::unique_ptr<RouteHealth> health;  // set by whoever runs the route (the daemon)
    AccessPolicy access;                  // set by the listener once it knows its port
    ProcessLoad* process = nullptr;       // set by the daemon; null = this route alone
    // How sessions and the health tracker tell time and reach the upstream:
    // the loop's clock and UpstreamDialers in the daemon, fakes in unit tests.
    Clock* clock = nullptr;
    std::unique_ptr<DialerFactory> dialers;
};

}  // namespace loopgate
