// The first phase of a session, and of each request on a kept-alive
// connection: reading the app's request head within timeouts.request_ms,
// then checking it: a WebSocket upgrade loopgate can forward, or (when the
// route forwards HTTP) a plain request; and the route's Host, Origin and
// Fetch Metadata policy.
#pragma once

#include <memory>
#include <string>

#include "clock.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"
#include "route.hpp"
#include "session_record.hpp"

namespace loopgate {

class RequestPhase {
public:
    class Owner {
    public:
        // An upgrade that passed every check, and the bytes the app sent behind it.
        virtual void on_request(http::Request request, std::string early_bytes) = 0;
        // A plain HTTP request that passed every check: its reader (for the
        // body) and the bytes behind its head.
        virtual void on_http_request(std::unique_ptr<http::Reader> reader, std::string rest) = 0;
        virtual void refuse(handshake::Refusal refusal) = 0;
        // A kept-alive connection stayed silent: end it without a word.
        virtual void end_idle_connection() = 0;
        // The session's end-of-event step, after an alarm of ours.
        virtual void settle() = 0;

    protected:
        ~Owner() = default;
    };

    // A kept-alive connection may stay silent for kKeepAliveIdleMs before
    // its next request; the request then has timeouts.request_ms.
    static constexpr uint32_t kKeepAliveIdleMs = 60000;

    RequestPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record,
                 bool kept_alive = false);
    RequestPhase(const RequestPhase&) = delete;
    RequestPhase& operator=(const RequestPhase&) = delete;

    void on_app_data(const char* data, size_t len);
    // A kept-alive connection that has not begun its next request.
    bool waiting_idle() const { return waiting_idle_; }

private:
    void start_request_deadline();
    void log_request(const http::Request& request) const;

    const RouteSettings& route_;
    Owner& owner_;
    SessionRecord& record_;
    std::unique_ptr<http::Reader> reader_;
    std::unique_ptr<Alarm> deadline_;
    bool waiting_idle_ = false;  // kept alive, no byte of the next request yet
};

}  // namespace loopgate
