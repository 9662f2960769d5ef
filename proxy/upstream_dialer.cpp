#include "upstream_dialer.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include "log.hpp"

namespace loopgate {

struct UpstreamDialer::Lookup {
    uv_getaddrinfo_t req;
    UpstreamDialer* owner;  // null once the dialer is gone; the lookup then frees itself
};

UpstreamDialer::UpstreamDialer(uv_loop_t* loop, RouteContext& route, Handler& handler)
    : loop_(loop), route_(route), handler_(handler), attempt_timer_(loop) {}

UpstreamDialer::~UpstreamDialer() {
    if (lookup_ != nullptr) {
        lookup_->owner = nullptr;
        uv_cancel(reinterpret_cast<uv_req_t*>(&lookup_->req));
    }
    if (attempt_ != nullptr) attempt_->close();
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
        try_next_address();
        return;
    }
    stage_ = "resolving " + up.host;
    lookup_ = new Lookup{};
    lookup_->owner = this;
    lookup_->req.data = lookup_;
    addrinfo hints{};
    hints.ai_family = AF_INET;  // IPv4 only, by design
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(
        loop_, &lookup_->req,
        [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
            auto* lookup = static_cast<Lookup*>(req->data);
            UpstreamDialer* owner = lookup->owner;
            delete lookup;
            if (owner == nullptr) {
                uv_freeaddrinfo(res);
                return;
            }
            owner->lookup_ = nullptr;
            owner->on_resolved(status, res);
        },
        up.host.c_str(), nullptr, &hints);
    if (rc != 0) {
        delete lookup_;
        lookup_ = nullptr;
        fail_later(502, "cannot resolve upstream host " + up.host + ": " + uv_strerror(rc));
    }
}

void UpstreamDialer::on_resolved(int status, addrinfo* result) {
    const auto& up = route_.config.upstream;
    if (status != 0) {
        uv_freeaddrinfo(result);
        std::string why = status == UV_EAI_NONAME || status == UV_EAI_NODATA
                              ? "no IPv4 address found (loopgate connects over IPv4 only)"
                              : uv_strerror(status);
        fail(502, "cannot resolve upstream host " + up.host + ": " + why, true);
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
        fail(502, "cannot resolve upstream host " + up.host + ": no IPv4 address found (loopgate connects over IPv4 only)",
             true);
        return;
    }
    try_next_address();
}

void UpstreamDialer::try_next_address() {
    if (next_ >= addresses_.size()) {
        fail(502, "cannot connect to upstream " + route_.config.upstream.authority() + ": " + attempt_errors_, true);
        return;
    }
    const sockaddr_in& addr = addresses_[next_++];
    attempt_ = Transport::create(loop_, this);
    if (route_.tls) {
        std::string error;
        SSL* ssl = tls::new_upstream_ssl(route_.tls.get(), route_.config.upstream, error);
        if (ssl == nullptr) {
            fail_later(502, error);
            return;
        }
        attempt_->use_tls(ssl);
    }
    // Sent data unacknowledged for longer than a ping cycle means the path is
    // gone; let the kernel say so too (30 s when pings are off).
    const auto& liveness = route_.config.liveness;
    attempt_->set_unacked_timeout(liveness.ping_interval_ms == 0 ? 30000
                                                                 : liveness.ping_interval_ms + liveness.ping_timeout_ms);
    int rc = attempt_->connect(addr);
    stage_ = "connecting to " + attempt_->peer();
    log::debug("upstream connect").kv("route", route_.config.name).kv("address", attempt_->peer());
    if (rc != 0) {
        if (!attempt_errors_.empty()) attempt_errors_ += "; ";
        attempt_errors_ += attempt_->peer() + " " + uv_strerror(rc);
        attempt_->close();
        attempt_ = nullptr;
        attempt_timer_.start(0, [this] { try_next_address(); });
        return;
    }
    attempt_timer_.start(route_.config.timeouts.connect_ms, [this] {
        if (!attempt_errors_.empty()) attempt_errors_ += "; ";
        attempt_errors_ += attempt_->peer() + " connect timed out after " +
                           std::to_string(route_.config.timeouts.connect_ms) + " ms";
        attempt_->close();
        attempt_ = nullptr;
        try_next_address();
    });
}

void UpstreamDialer::on_transport_connected(Transport& t, int status) {
    if (status != 0) {
        if (!attempt_errors_.empty()) attempt_errors_ += "; ";
        attempt_errors_ += t.peer() + " " + (status == UV_ECONNREFUSED ? "connection refused" : uv_strerror(status));
        attempt_timer_.stop();
        attempt_->close();
        attempt_ = nullptr;
        try_next_address();
        return;
    }
    attempt_timer_.stop();
    if (!route_.tls) {
        Transport* ready = attempt_;
        attempt_ = nullptr;
        handler_.on_dial_ready(ready);
        return;
    }
    stage_ = "TLS handshake with " + t.peer();
}

void UpstreamDialer::on_transport_tls_ready(Transport& t) {
    log::debug("upstream TLS ready").kv("route", route_.config.name).kv("address", t.peer())
        .kv("tls", tls::describe_session(t.ssl()));
    Transport* ready = attempt_;
    attempt_ = nullptr;
    handler_.on_dial_ready(ready);
}

void UpstreamDialer::on_transport_end(Transport& t, const Transport::End& end) {
    std::string where = " (" + route_.config.upstream.host + " at " + t.peer() + ")";
    attempt_->close();
    attempt_ = nullptr;
    switch (end.kind) {
    case Transport::End::Kind::verify_error:
    case Transport::End::Kind::tls_error: fail(502, end.detail + where); return;
    case Transport::End::Kind::eof: fail(502, "upstream closed the connection before the handshake" + where); return;
    case Transport::End::Kind::io_error: fail(502, "upstream connection failed: " + end.detail + where); return;
    }
}

void UpstreamDialer::fail(int http_status, std::string reason, bool unreachable) {
    attempt_timer_.stop();
    handler_.on_dial_failed(Failure{http_status, std::move(reason), unreachable});
}

void UpstreamDialer::fail_later(int http_status, std::string reason) {
    attempt_timer_.start(0, [this, http_status, reason = std::move(reason)]() mutable {
        fail(http_status, std::move(reason));
    });
}

}  // namespace loopgate
