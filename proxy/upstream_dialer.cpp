#include "upstream_dialer.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>

#include "address_text.hpp"
#include "log.hpp"

namespace loopgate {

struct UpstreamDialer::Lookup {
    uv_getaddrinfo_t req;
    UpstreamDialer* owner;  // null once the dialer is gone; the lookup then frees itself
    int family;             // AF_INET to connect; AF_INET6 only to explain a missing A record
};

UpstreamDialer::UpstreamDialer(uv_loop_t* loop, RouteSettingsPtr settings, RouteStats& stats, Handler& handler,
                               TransportSet* transports)
    : loop_(loop), settings_(std::move(settings)), route_(*settings_), stats_(stats), transports_(transports),
      handler_(handler), clock_(loop), later_(loop) {}

UpstreamDialer::~UpstreamDialer() {
    if (lookup_ != nullptr) {
        lookup_->owner = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(&lookup_->req));
    }
    for (size_t i = 0; i < attempts_.size(); ++i) race_close(i, false);
    if (connection_ != nullptr) connection_->close();
}

const std::string& UpstreamDialer::stage() const {
    if (step_ == Failure::Step::connect && race_ != nullptr && !race_->decided()) {
        std::string connecting = race_->connecting();
        if (!connecting.empty()) stage_ = "connecting to " + connecting;
    }
    return stage_;
}

void UpstreamDialer::start() {
    const auto& up = route_.config.upstream;
    const std::string& literal = route_.config.connect_to ? *route_.config.connect_to : up.host;
    if (route_.config.connect_to || up.host_is_ipv4_literal) {
        sockaddr_in addr{};
        if (uv_ip4_addr(literal.c_str(), up.port, &addr) != 0) {
            fail_later(502, "invalid upstream address " + literal);
            return;
        }
        addresses_.push_back(addr);
        start_race();
        return;
    }
    stage_ = "resolving " + up.host;
    lookup(AF_INET);  // IPv4 only, by design
}

void UpstreamDialer::lookup(int family) {
    const auto& up = route_.config.upstream;
    lookup_ = new Lookup{};
    lookup_->owner = this;
    lookup_->family = family;
    lookup_->req.data = lookup_;
    addrinfo hints{};
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(
        loop_, &lookup_->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
            auto* lookup = static_cast<Lookup*>(req->data);
            UpstreamDialer* owner = lookup->owner;
            int family = lookup->family;
            delete lookup;
            if (owner == nullptr) {
                uv_freeaddrinfo(res);
                return;
            }
            owner->lookup_ = nullptr;
            if (family == AF_INET6) owner->on_ipv6_lookup(status, res);
            else owner->on_resolved(status, res);
        },
        up.host.c_str(), nullptr, &hints);
    if (rc != 0) {
        delete lookup_;
        lookup_ = nullptr;
        if (is_local_exhaustion(rc)) {
            fail_later(503, "cannot resolve upstream host " + up.host + ": loopgate is out of resources (" +
                                uv_strerror(rc) + "); try again later", /*local=*/true);
        } else {
            fail_later(502, "cannot resolve upstream host " + up.host + ": " + uv_strerror(rc));
        }
    }
}

void UpstreamDialer::on_resolved(int status, addrinfo* result) {
    const auto& up = route_.config.upstream;
    if (status != 0) {
        uv_freeaddrinfo(result);
        if (is_local_exhaustion(status)) {
            fail_local("cannot resolve upstream host " + up.host, status);
            return;
        }
        if (status == UV_EAI_NONAME || status == UV_EAI_NODATA || status == UV_EAI_ADDRFAMILY) {
            explain_missing_ipv4();
            return;
        }
        fail(502, "cannot resolve upstream host " + up.host + ": " + uv_strerror(status), true);
        return;
    }
    for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET) continue;  // belt and braces: never dial IPv6
        sockaddr_in addr = *reinterpret_cast<sockaddr_in*>(ai->ai_addr);
        addr.sin_port = htons(up.port);
        addresses_.push_back(addr);
    }
    uv_freeaddrinfo(result);
    if (addresses_.empty()) {
        explain_missing_ipv4();
        return;
    }
    handler_.on_dial_resolved(addresses_);
    start_race();
}

void UpstreamDialer::explain_missing_ipv4() {
    stage_ = "looking up IPv6 addresses of " + route_.config.upstream.host + " (to explain the missing IPv4 one)";
    lookup(AF_INET6);
}

void UpstreamDialer::on_ipv6_lookup(int status, addrinfo* result) {
    std::string found;
    for (addrinfo* ai = status == 0 ? result : nullptr; ai != nullptr && found.empty(); ai = ai->ai_next) {
        if (ai->ai_family != AF_INET6) continue;
        char text[INET6_ADDRSTRLEN] = "";
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text, sizeof text);
        found = text;
    }
    uv_freeaddrinfo(result);
    std::string prefix = "cannot resolve upstream host " + route_.config.upstream.host + ": ";
    if (found.empty()) {
        fail(502, prefix + "name not found (no IPv4 or IPv6 address)", true);
    } else {
        fail(502, prefix + "the name has only IPv6 addresses (" + found +
                      "), and loopgate connects over IPv4 only; use an IPv4 name or connect_to", true);
    }
}

void UpstreamDialer::start_race() {
    step_ = Failure::Step::connect;
    for (const sockaddr_in& addr : addresses_) {
        sockaddr_storage ss{};
        std::memcpy(&ss, &addr, sizeof addr);
        names_.push_back(address_text(ss));
    }
    attempts_.assign(addresses_.size(), nullptr);
    AddressRace::Owner& owner = *this;  // a private base: converted here, where it is accessible
    race_ = std::make_unique<AddressRace>(clock_, names_, route_.config.timeouts.connect_ms, owner);
    race_->start();
}

size_t UpstreamDialer::attempt_index(const Transport& t) const {
    for (size_t i = 0; i < attempts_.size(); ++i) {
        if (attempts_[i] == &t) return i;
    }
    return attempts_.size();
}

// A TCP connection with its TLS state ready (the session to resume taken from
// the route's cache), so the ClientHello goes out the moment it connects.
int UpstreamDialer::race_open(size_t i) {
    Transport* t = Transport::create(loop_, this, Transport::Kind::tcp, transports_);
    if (route_.tls) {
        std::string error;
        SSL* ssl = tls::new_upstream_ssl(route_.tls.get(), route_.config.upstream, error);
        bool ok = ssl != nullptr && t->use_tls(ssl);
        if (!ok) {
            setup_status_ = ssl == nullptr ? 502 : 503;
            setup_error_ = ssl == nullptr ? error
                                          : "cannot set up TLS toward the upstream: loopgate is out of memory; try again later";
            if (ssl != nullptr) tls::give_back_session(ssl);
            t->close();
            return UV_ENOMEM;  // no further address would fare better
        }
    }
    // Sent data unacknowledged for longer than a ping cycle means the path is
    // gone; let the kernel say so too (30 s when pings are off).
    const auto& liveness = route_.config.liveness;
    t->set_unacked_timeout(liveness.ping_interval_ms == 0 ? 30000 : liveness.ping_interval_ms + liveness.ping_timeout_ms);
    int rc = t->connect(addresses_[i]);
    if (rc != 0) {
        if (t->ssl() != nullptr) tls::give_back_session(t->ssl());
        t->close();
        return rc;
    }
    log::debug("upstream connect").kv("route", route_.config.name).kv("address", names_[i]);
    attempts_[i] = t;
    return 0;
}

// Every attempt the race closes has not sent its ClientHello (that happens
// only once connected, and a connected attempt wins), so its session is unused.
void UpstreamDialer::race_close(size_t i, bool lost) {
    Transport* t = attempts_[i];
    if (t == nullptr) return;
    attempts_[i] = nullptr;
    if (lost) {
        log::debug("upstream connect abandoned").kv("route", route_.config.name).kv("address", names_[i])
            .kv("reason", "another address connected first");
    }
    if (t->ssl() != nullptr) tls::give_back_session(t->ssl());
    t->close();
}

void UpstreamDialer::race_attempt_failed(size_t i, const std::string& why) {
    handler_.on_dial_attempt_failed(names_[i], why);
}

void UpstreamDialer::race_won(size_t i) {
    connection_ = attempts_[i];
    attempts_[i] = nullptr;
    handler_.on_dial_connected(*connection_);
    if (!route_.tls) {
        Transport* ready = connection_;
        connection_ = nullptr;
        handler_.on_dial_ready(ready);
        return;
    }
    stage_ = "TLS handshake with " + connection_->peer();
    step_ = Failure::Step::tls;
}

// An address that could not be set up (setup_error_) or opened (local_error)
// decides only when no other attempt got an answer from the network.
void UpstreamDialer::race_lost(const std::string& errors, int local_error) {
    if (local_error != 0 && !setup_error_.empty()) {
        fail(setup_status_, setup_error_, false, setup_status_ == 503);
        return;
    }
    if (local_error != 0) {
        fail_local("cannot open a connection to the upstream", local_error);
        return;
    }
    fail(502, "cannot connect to upstream " + route_.config.upstream.authority() + ": " + errors, true);
}

void UpstreamDialer::on_transport_connected(Transport& t, int status) {
    size_t i = attempt_index(t);
    if (i == attempts_.size()) return;
    if (status != 0) {
        race_->on_failed(i, status == UV_ECONNREFUSED ? "connection refused" : uv_strerror(status));
        return;
    }
    race_->on_connected(i);
}

void UpstreamDialer::on_transport_tls_ready(Transport& t) {
    if (&t != connection_) return;
    bool resumed = SSL_session_reused(t.ssl()) == 1;
    tls::release_offered_session(t.ssl());
    ++(resumed ? stats_.tls_handshakes_resumed : stats_.tls_handshakes_full);
    log::debug("upstream TLS ready").kv("route", route_.config.name).kv("address", t.peer())
        .kv("tls", tls::describe_session(t.ssl())).kv("tls_resumed", resumed)
        .kv("tls_handshakes_full", stats_.tls_handshakes_full)
        .kv("tls_handshakes_resumed", stats_.tls_handshakes_resumed);
    Transport* ready = connection_;
    connection_ = nullptr;
    handler_.on_dial_ready(ready);
}

void UpstreamDialer::on_transport_end(Transport& t, const Transport::End& end) {
    if (&t != connection_) {
        // Still racing: it connected and ended in the same turn (its first
        // TLS step failed). Its ClientHello may be out, so its session stays used.
        size_t i = attempt_index(t);
        if (i == attempts_.size()) return;
        attempts_[i] = nullptr;
        t.close();
        race_->on_failed(i, end.detail.empty() ? "connection closed" : end.detail);
        return;
    }
    std::string where = " (" + route_.config.upstream.host + " at " + t.peer() + ")";
    if (const tls::PeerReport* report = t.ssl() != nullptr ? tls::peer_report(t.ssl()) : nullptr) last_peer_ = *report;
    if (t.ssl() != nullptr && step_ == Failure::Step::tls) tls::forget_session(t.ssl());
    connection_->close();
    connection_ = nullptr;
    // A connection that vanished (a gateway killed or restarting mid-handshake)
    // is the path's failure, like a refused connect; an alert is the peer's answer.
    bool lost = end.connection_lost;
    switch (end.kind) {
    case Transport::End::Kind::verify_error:
    case Transport::End::Kind::tls_error: fail(502, end.detail + where, lost); return;
    case Transport::End::Kind::eof: fail(502, "upstream closed the connection before the handshake" + where, lost); return;
    case Transport::End::Kind::io_error: fail(502, "upstream connection failed: " + end.detail + where, lost); return;
    }
}

void UpstreamDialer::fail(int http_status, std::string reason, bool unreachable, bool local) {
    later_.stop();
    Failure failure;
    failure.http_status = http_status;
    failure.reason = std::move(reason);
    failure.unreachable = unreachable;
    failure.local = local;
    failure.step = step_;
    failure.peer = std::move(last_peer_);
    handler_.on_dial_failed(failure);
}

// loopgate's own limit, reported as such: the app gets 503 (try again), and
// the route's health is left alone.
void UpstreamDialer::fail_local(const std::string& what, int uv_status) {
    log::warn("out of local resources").kv("route", route_.config.name).kv("error", uv_strerror(uv_status));
    fail(503, what + ": loopgate is out of resources (" + uv_strerror(uv_status) + "); try again later", false, true);
}

void UpstreamDialer::fail_later(int http_status, std::string reason, bool local) {
    later_.start(0, [this, http_status, local, reason = std::move(reason)]() mutable {
        fail(http_status, std::move(reason), false, local);
    });
}

bool is_local_exhaustion(int uv_status) {
    return uv_status == UV_EMFILE || uv_status == UV_ENFILE || uv_status == UV_ENOBUFS || uv_status == UV_ENOMEM ||
           uv_status == UV_EAI_MEMORY;
}

}  // namespace loopgate
