// Reaching the upstream for one session: the dial (DNS, TCP, TLS), the
// upgrade request, and the upstream's answer, all within timeouts.handshake_ms.
// It owns the dialer, the deadline and the upstream transport until the 101
// is checked; destroying it abandons all three, so no callback of a dial
// that is over can reach the session.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "clock.hpp"
#include "dialer.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"
#include "route.hpp"
#include "session_record.hpp"
#include "transport.hpp"
#include "upgrade_response.hpp"

namespace loopgate {

class UpstreamConnect final : private DialHandler {
public:
    class Owner {
    public:
        // A valid 101: the upstream transport is now the owner's; after_101
        // holds the frames that came right behind it.
        virtual void on_upgraded(Transport* upstream, const http::Response& response,
                                 const handshake::Negotiated& negotiated, std::string_view after_101) = 0;
        // The upstream answered something else: relay it to the app.
        virtual void on_upstream_refused(const http::Response& response) = 0;
        // No usable upstream: the dial failed, the deadline passed, or the answer was not HTTP/a valid 101.
        virtual void on_connect_failed(const DialFailure& failure) = 0;
        virtual void settle() = 0;

    protected:
        ~Owner() = default;
    };

    // `events` becomes the upstream transport's handler (the session, which
    // passes its data and end back here).
    UpstreamConnect(RouteSettingsPtr settings, RouteRuntime& runtime, Owner& owner, SessionRecord& record,
                    const http::Request& request, Transport::Handler& events);
    ~UpstreamConnect();
    UpstreamConnect(const UpstreamConnect&) = delete;
    UpstreamConnect& operator=(const UpstreamConnect&) = delete;

    void start();
    bool owns(const Transport& t) const { return &t == upstream_; }
    void on_upstream_data(const char* data, size_t len);
    void on_upstream_end(const Transport::End& end);

private:
    void on_dial_ready(Transport* upstream) override;
    void on_dial_failed(const DialFailure& failure) override;
    void fail(int status, std::string reason, bool unreachable = false);
    void judge(UpgradeResponse::Verdict verdict);

    RouteSettingsPtr settings_;
    const RouteSettings& route_;  // *settings_
    RouteRuntime& runtime_;
    Owner& owner_;
    SessionRecord& record_;
    const http::Request& request_;
    Transport::Handler& events_;
    std::unique_ptr<Dialer> dialer_;
    std::unique_ptr<Alarm> deadline_;
    Transport* upstream_ = nullptr;  // ours from the dial until the 101 is handed on
    uint64_t dial_started_ms_ = 0;
    std::unique_ptr<UpgradeResponse> response_;  // from the upgrade request on
};

}  // namespace loopgate
