// Dialing a route's upstream: resolve A records only (never AAAA: see
// DESIGN.md on Tailscale's IPv6 black hole), connect to each address in turn,
// then the TLS handshake. The caller holds the overall deadline; this class
// bounds each TCP connect attempt.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "route.hpp"
#include "timer.hpp"
#include "transport.hpp"

namespace loopgate {

class UpstreamDialer final : private Transport::Handler {
public:
    struct Failure {
        int http_status = 502;
        std::string reason;
        bool unreachable = false;  // DNS, connect refused or timed out: the path, not the peer
        enum class Step { resolve, connect, tls };
        Step step = Step::resolve;              // what was being done when it failed
        std::optional<tls::PeerReport> peer;    // what the upstream presented, when TLS got that far
    };

    class Handler {
    public:
        // The connection is up (and TLS verified): the transport is now the caller's.
        virtual void on_dial_ready(Transport* upstream) = 0;
        virtual void on_dial_failed(const Failure& failure) = 0;
        // Progress, for `loopgate probe`; a session needs none of it.
        virtual void on_dial_resolved(const std::vector<sockaddr_in>& /*addresses*/) {}
        virtual void on_dial_attempt_failed(const std::string& /*address*/, const std::string& /*why*/) {}
        virtual void on_dial_connected(Transport& /*t*/) {}

    protected:
        ~Handler() = default;
    };

    UpstreamDialer(uv_loop_t* loop, RouteContext& route, Handler& handler);
    ~UpstreamDialer();
    UpstreamDialer(const UpstreamDialer&) = delete;
    UpstreamDialer& operator=(const UpstreamDialer&) = delete;

    void start();
    // What it is doing now, for a deadline message: "TLS handshake with 100.64.0.7:443".
    const std::string& stage() const { return stage_; }

private:
    struct Lookup;

    void on_resolved(int status, addrinfo* result);
    void lookup(int family);
    // No A record: ask for AAAA only to tell "not found" from "IPv6 only"; never to connect.
    void explain_missing_ipv4();
    void on_ipv6_lookup(int status, addrinfo* result);
    void note_attempt_error(const std::string& address, const std::string& why);
    void try_next_address();
    void fail(int http_status, std::string reason, bool unreachable = false);
    void fail_later(int http_status, std::string reason);

    void on_transport_connected(Transport& t, int status) override;
    void on_transport_tls_ready(Transport& t) override;
    void on_transport_data(Transport&, const char*, size_t) override {}
    void on_transport_end(Transport& t, const Transport::End& end) override;

    uv_loop_t* loop_;
    RouteContext& route_;
    Handler& handler_;
    Lookup* lookup_ = nullptr;
    std::vector<sockaddr_in> addresses_;
    size_t next_ = 0;
    std::string attempt_errors_;
    Transport* attempt_ = nullptr;
    Timer attempt_timer_;
    std::string stage_;
    Failure::Step step_ = Failure::Step::resolve;
    std::optional<tls::PeerReport> last_peer_;
};

}  // namespace loopgate
