// What the data path knows about one route, in two parts:
//
//  - RouteSettings: what the config says, made ready to use (the TLS context,
//    the access policy for the port bound). Immutable once built, and shared:
//    every session keeps the settings it started with for its whole life, so
//    a reload that builds new ones changes nothing for sessions under way.
//  - RouteRuntime: what happens on the route (health, counters, the clock and
//    dialers it uses). One per route, with one owner (the daemon), outliving
//    every session of the route.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>

#include "access_policy.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "dialer.hpp"
#include "refusal_log.hpp"
#include "socket_file.hpp"
#include "tls_context.hpp"
#include "transport.hpp"

namespace loopgate {

class RouteHealth;   // route_health.hpp; whoever destroys a RouteRuntime includes it
class UpstreamPool;  // upstream_pool.hpp; likewise
class PeerOwner;     // peer_owner.hpp

struct RouteSettings {
    config::Route config;
    std::shared_ptr<SSL_CTX> tls;  // null for a ws:// upstream; shared by copies of the settings
    AccessPolicy access;  // for the port the listener bound
};
using RouteSettingsPtr = std::shared_ptr<const RouteSettings>;

// How long dials took, as a Prometheus histogram: cumulative counts per bound.
struct DialHistogram {
    static constexpr double kBoundsSeconds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static constexpr size_t kBuckets = sizeof kBoundsSeconds / sizeof kBoundsSeconds[0];
    uint64_t at_most[kBuckets] = {};  // dials that took at most kBoundsSeconds[i]
    uint64_t count = 0;
    double sum_seconds = 0;
    void observe(double seconds);
};

struct RouteStats {
    uint64_t sessions_accepted = 0;
    uint64_t sessions_active = 0;
    uint64_t upgrades_refused = 0;        // answered with an HTTP error before the 101
    uint64_t upstream_failures = 0;       // dial, TLS or handshake failures
    uint64_t local_exhaustion = 0;        // refused 503: loopgate ran out of descriptors or memory
    uint64_t refused_other_user = 0;      // closed at accept: the app's socket is another user's
    uint64_t refused_owner_unknown = 0;   // closed at accept: whose socket it is could not be told
    uint64_t tls_handshakes_full = 0;     // upstream TLS handshakes that sent a certificate
    uint64_t tls_handshakes_resumed = 0;  // ... that resumed a cached session instead
    uint64_t upstream_dials = 0;          // dials started by sessions (not the health tracker's retries)
    uint64_t dial_failures[5] = {};       // by DialFailure::Step
    uint64_t bytes_from_app = 0;          // relayed by sessions that ended
    uint64_t bytes_from_upstream = 0;
    DialHistogram dial_seconds;           // dials that reached a TLS-verified connection
    uint64_t http_requests = 0;           // forwarded plain HTTP requests (not upgrades)
    uint64_t http_upstream_reused = 0;    // ... sent over a pooled upstream connection
};

// Shared by every route of the process: the global connection limit, and
// whether anything a sleep could break is open at all: an app's connection,
// or an upstream connection pooled for the next HTTP request (after a night
// asleep its peer has long forgotten it, and the pool's monotonic clock has
// not moved). The daemon runs the wake check only while busy: an idle
// loopgate must not wake the machine up.
struct ProcessLoad {
    uint32_t max_connections = 0;  // 0 = no global limit
    uint64_t connections_active = 0;
    uint64_t idle_upstreams = 0;   // pooled, waiting for a request; not counted against the limit
    // Called when busy() goes from false to true (true) and back (false).
    std::function<void(bool busy)> on_busy_changed;

    bool busy() const { return connections_active + idle_upstreams > 0; }
    // Each session, held apps and plain HTTP requests included, from its start to its end.
    void connection_opened() { count(connections_active, true); }
    void connection_closed() { count(connections_active, false); }
    // Each pooled upstream connection, from put to take or close.
    void upstream_pooled() { count(idle_upstreams, true); }
    void upstream_unpooled() { count(idle_upstreams, false); }

private:
    void count(uint64_t& counter, bool up) {
        bool was = busy();
        up ? ++counter : --counter;
        if (busy() != was && on_busy_changed) on_busy_changed(!was);
    }
};

struct RouteRuntime {
    RouteSettingsPtr settings;            // what new sessions and retries start with
    RouteStats stats;
    RefusalLog refusal_log;               // how many refusal warnings the route writes (stats count them all)
    std::unique_ptr<RouteHealth> health;  // set by whoever runs the route (the daemon)
    std::unique_ptr<UpstreamPool> pool;   // idle upstream connections for HTTP; may be null
    ProcessLoad* process = nullptr;       // set by the daemon; null = this route alone
    // How sessions and the health tracker tell time and reach the upstream:
    // the loop's clock and UpstreamDialers in the daemon, fakes in unit tests.
    Clock* clock = nullptr;
    std::unique_ptr<DialerFactory> dialers;
    TransportSet* transports = nullptr;  // the data path's, for shutdown; may be null
    SocketFiles* socket_files = nullptr; // for a unix socket listener's file; null: TCP only
    // Who owns an app's TCP socket, asked at accept unless the route has
    // allow_other_users; the daemon's (one per process). Null: nobody can be
    // told, so such a route lets no TCP connection in.
    PeerOwner* peer_owner = nullptr;
    uid_t own_uid = 0;  // the user whose apps are let in (with root): loopgate's effective uid
};

}  // namespace loopgate
