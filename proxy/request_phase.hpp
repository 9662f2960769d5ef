// The first phase of a session: reading the app's upgrade request within
// timeouts.request_ms, then checking it (a WebSocket upgrade loopgate can
// forward; the route's Host and Origin policy).
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
        // A request that passed every check, and the bytes the app sent behind it.
        virtual void on_request(http::Request request, std::string early_bytes) = 0;
        virtual void refuse(handshake::Refusal refusal) = 0;
        // The session's end-of-event step, after an alarm of ours.
        virtual void settle() = 0;

    protected:
        ~Owner() = default;
    };

    RequestPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record);
    RequestPhase(const RequestPhase&) = delete;
    RequestPhase& operator=(const RequestPhase&) = delete;

    void on_app_data(const char* data, size_t len);

private:
    void log_request(const http::Request& request) const;

    const RouteSettings& route_;
    Owner& owner_;
    SessionRecord& record_;
    http::Reader reader_;
    std::unique_ptr<Alarm> deadline_;
};

}  // namespace loopgate
