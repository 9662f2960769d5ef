// Dialing a route's upstream: resolve A records only (never AAAA: see
// the README on Tailscale's IPv6 black hole), race TCP connects to the
// addresses (address_race.hpp: the next one starts 250 ms after the last or
// at once when one fails; the first connected wins), then the TLS handshake
// on the winner. The caller holds the overall deadline; the race bounds each
// TCP connect attempt.
#pragma once

#include <netinet/in.h>
#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "address_race.hpp"
#include "clock.hpp"
#include "dialer.hpp"
#include "route.hpp"
#include "timer.hpp"
#include "transport.hpp"

namespace loopgate {

class UpstreamDialer final : public Dialer, private Transport::Handler, private AddressRace::Owner {
public:
    using Failure = DialFailure;
    using Handler = DialHandler;

    // Counts TLS handshakes (full, resumed) in `stats`, which must outlive it.
    UpstreamDialer(uv_loop_t* loop, RouteSettingsPtr settings, RouteStats& stats, Handler& handler,
                   TransportSet* transports = nullptr);
    ~UpstreamDialer() override;
    UpstreamDialer(const UpstreamDialer&) = delete;
    UpstreamDialer& operator=(const UpstreamDialer&) = delete;

    void start() override;
    const std::string& stage() const override;

private:
    struct Lookup;

    void on_resolved(int status, addrinfo* result);
    void lookup(int family);
    // No A record: ask for AAAA only to tell "not found" from "IPv6 only"; never to connect.
    void explain_missing_ipv4();
    void on_ipv6_lookup(int status, addrinfo* result);
    void start_race();
    size_t attempt_index(const Transport& t) const;

    int race_open(size_t i) override;
    void race_close(size_t i, bool lost) override;
    void race_attempt_failed(size_t i, const std::string& why) override;
    void race_won(size_t i) override;
    void race_lost(const std::string& errors, int local_error) override;
    void fail(int http_status, std::string reason, bool unreachable = false, bool local = false);
    void fail_local(const std::string& what, int uv_status);
    void fail_later(int http_status, std::string reason, bool local = false);

    void on_transport_connected(Transport& t, int status) override;
    void on_transport_tls_ready(Transport& t) override;
    void on_transport_data(Transport&, const char*, size_t) override {}
    void on_transport_end(Transport& t, const Transport::End& end) override;

    uv_loop_t* loop_;
    RouteSettingsPtr settings_;
    const RouteSettings& route_;  // *settings_
    RouteStats& stats_;
    TransportSet* transports_;
    Handler& handler_;
    Lookup* lookup_ = nullptr;
    std::vector<sockaddr_in> addresses_;
    std::vector<std::string> names_;        // addresses_ as text
    LoopClock clock_;
    std::unique_ptr<AddressRace> race_;
    std::vector<Transport*> attempts_;      // per address: its connect under way, or null
    Transport* connection_ = nullptr;       // the race's winner, in its TLS handshake
    // A TLS connection that could not even be set up (no SSL object): the
    // reason, reported when the race is over instead of the connect errors.
    std::string setup_error_;
    int setup_status_ = 0;
    Timer later_;                           // failures found inside start(), reported from the loop
    mutable std::string stage_;
    Failure::Step step_ = Failure::Step::resolve;
    std::optional<tls::PeerReport> last_peer_;
};

// Makes UpstreamDialers for one route.
class UpstreamDialers final : public DialerFactory {
public:
    UpstreamDialers(uv_loop_t* loop, RouteStats& stats, TransportSet* transports)
        : loop_(loop), stats_(stats), transports_(transports) {}
    std::unique_ptr<Dialer> new_dialer(RouteSettingsPtr settings, DialHandler& handler) override {
        return std::make_unique<UpstreamDialer>(loop_, std::move(settings), stats_, handler, transports_);
    }

private:
    uv_loop_t* loop_;
    RouteStats& stats_;
    TransportSet* transports_;
};

}  // namespace loopgate
