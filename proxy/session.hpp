// One app connection and its upstream, from accept to the last byte.
//
//   reading_request --(valid upgrade)--> [held while the upstream is down]
//     --> connecting --(101 checked)--> relaying --(both sides done)--> finished
//   reading_request --(plain HTTP, on a route that forwards it)--> forwarding
//     --(response done, kept alive)--> reading_request (the next request) ...
//
// Each phase is an object that owns what it uses (RequestPhase: the reader
// and its deadline; HoldPhase: the place on the held list; UpstreamConnect:
// the dialer, the deadline and the upstream until its 101; Relay: both
// transports, the close handshake and liveness; HttpExchange: one forwarded
// HTTP request, its upstream connection and deadlines). Leaving a phase destroys
// it, so nothing of a phase that is over can call back. Any failure before
// the 101 answers the app with an HTTP error; after it, with a close frame.
//
// The session is the handler of both transports and passes their events to
// the phase. Every entry point (a transport event, an alarm of a phase, the
// health tracker, the owner's calls) ends in settle(), which frees the
// phases left behind and, once the session is finished, logs its summary and
// asks the owner to delete it.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "handshake.hpp"
#include "hold_phase.hpp"
#include "http_exchange.hpp"
#include "http_reader.hpp"
#include "path_lookup.hpp"
#include "relay.hpp"
#include "request_phase.hpp"
#include "route.hpp"
#include "session_record.hpp"
#include "transport.hpp"
#include "upstream_connect.hpp"

namespace loopgate {

class Session;

class SessionOwner {
public:
    // The session is done; the owner deletes it.
    virtual void on_session_finished(Session* session) = 0;

protected:
    ~SessionOwner() = default;
};

class Session final : private Transport::Handler,
                      private RequestPhase::Owner,
                      private HoldPhase::Owner,
                      private UpstreamConnect::Owner,
                      private HttpExchange::Owner,
                      private Relay::Owner {
public:
    enum class Phase { reading_request, held, connecting, forwarding, relaying, finished };

    // Keeps the route's current settings for its whole life; uses the
    // runtime's clock and dialers. Takes the app's transport.
    Session(RouteRuntime& runtime, SessionOwner& owner, Transport* app);
    ~Session();
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;

    void start();
    // loopgate is stopping: 503 before the 101, close 1001 after it.
    void shut_down();
    // The network changed. A relaying session whose upstream connection the
    // kernel no longer routes the way it was made (`paths`, when the daemon
    // can ask; see path_lookup.hpp) is closed 1012 at once: `closed`. Any
    // other relaying session pings the upstream now; no pong within
    // timeout_ms means the path is gone and the app gets 1012: `probed`.
    enum class AfterNetworkChange { left_alone, probed, closed };
    AfterNetworkChange check_upstream(PathCache* paths, uint32_t timeout_ms);
    Phase phase() const { return phase_; }
    static const char* phase_name(Phase phase);
    // What it did so far (bytes, upstream, TLS resumption), for the admin endpoint.
    const SessionRecord& record() const { return record_; }
    bool relaying() const { return phase_ == Phase::relaying; }

private:
    // Transport::Handler
    void on_transport_data(Transport& t, const char* data, size_t len) override;
    void on_transport_end(Transport& t, const Transport::End& end) override;
    void on_transport_drained(Transport& t) override;

    // What the phases report.
    void on_request(http::Request request, std::string early_bytes) override;
    void on_upstream_back() override;
    void on_upgraded(Transport* upstream, const http::Response& response, const handshake::Negotiated& negotiated,
                     std::string_view after_101) override;
    void on_upstream_refused(const http::Response& response) override;
    void on_connect_failed(const DialFailure& failure) override;
    void on_http_request(std::unique_ptr<http::Reader> reader, std::string rest) override;
    void on_exchange_done(bool keep_alive, std::string next_bytes) override;
    void on_exchange_broken(const std::string& why) override;
    void refuse(handshake::Refusal refusal) override;
    void end_idle_connection() override;
    void settle() override;
    void after_relay_alarm() override { settle(); }

    void connect();
    void read_next_request(std::string next_bytes);
    void hold_while_down();
    // Bytes the app sends while it waits for the 101: kept for the relay (bounded).
    void keep_early_app_bytes(const char* data, size_t len);
    void app_gave_up();
    // Hands the app's transport off (its last bytes are still written).
    void end_app();
    // Moves the current phase's object out of the way; settle() frees it.
    void leave_phase(Phase next);
    std::optional<std::string> over_capacity() const;

    RouteSettingsPtr settings_;
    const RouteSettings& route_;  // *settings_
    RouteRuntime& runtime_;
    SessionOwner& owner_;
    Phase phase_ = Phase::reading_request;
    Transport* app_;                  // ours until the relay takes it
    const Transport* app_identity_;   // tells the app's events from the upstream's
    SessionRecord record_;
    http::Request request_;           // once read and checked
    std::string early_app_bytes_;     // frames the app sent before it got the 101
    uint64_t held_since_ms_ = 0;      // when the session was first held (0 = never)

    std::unique_ptr<RequestPhase> request_phase_;
    std::unique_ptr<HoldPhase> hold_;
    std::unique_ptr<UpstreamConnect> connect_;
    std::unique_ptr<HttpExchange> exchange_;
    std::unique_ptr<Relay> relay_;
    // Phases left during this event; freed by settle(), once nothing of theirs is on the stack.
    std::vector<std::shared_ptr<void>> left_phases_;
    bool settling_ = false;
    bool shutting_down_ = false;      // a response still running ends the connection when done
};

}  // namespace loopgate
