// One forwarded HTTP request and its response (a session's phase while an
// app speaks plain HTTP: a browser UI's page, assets, API calls, events).
//
//   connecting (a pooled upstream connection, or a new dial) --> request
//   head sent, body streamed as the app sends it --> response head (1xx
//   heads passed on as they come) --> body streamed as the upstream sends it
//   --> done: the upstream connection back to the pool, the app connection
//   ready for its next request (or closed, as either side asked).
//
// Nothing is buffered whole: each side is paused while the other cannot
// take more. Before the response starts, a failure is answered with
// loopgate's own status (502/503/504 as for upgrades, 408, 413); after it,
// the app connection is cut, as the response cannot be completed. A reused
// connection that the upstream closed before answering is retried once on a
// new one, for an idempotent request without a body only.
//
// It owns the upstream transport and its deadlines; the app's transport stays
// the session's, which passes both transports' events here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "clock.hpp"
#include "dialer.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"
#include "route.hpp"
#include "session_record.hpp"
#include "transport.hpp"

namespace loopgate {

class HttpExchange final : private DialHandler {
public:
    class Owner {
    public:
        // The response is complete. With keep_alive the app connection may
        // carry another request, which begins with next_bytes.
        virtual void on_exchange_done(bool keep_alive, std::string next_bytes) = 0;
        // Before the response started: answer the app with loopgate's error.
        virtual void refuse(handshake::Refusal refusal) = 0;
        // After it started: the response cannot be completed; cut the app connection.
        virtual void on_exchange_broken(const std::string& why) = 0;
        virtual void settle() = 0;

    protected:
        ~Owner() = default;
    };

    // `reader` has read the request's head; `rest` are the bytes behind it.
    // `events` becomes the upstream transport's handler (the session).
    HttpExchange(RouteSettingsPtr settings, RouteRuntime& runtime, Owner& owner, SessionRecord& record,
                 Transport& app, std::unique_ptr<http::Reader> reader, std::string rest, Transport::Handler& events);
    ~HttpExchange();
    HttpExchange(const HttpExchange&) = delete;
    HttpExchange& operator=(const HttpExchange&) = delete;

    void start();
    // loopgate is stopping: 503 before the response started; after, the
    // response is let finish within the shutdown deadline.
    void shut_down();
    bool owns(const Transport& t) const { return &t == upstream_; }
    void on_app_data(const char* data, size_t len);
    void on_app_drained();
    void on_upstream_data(const char* data, size_t len);
    void on_upstream_end(const Transport::End& end);
    void on_upstream_drained();

private:
    void on_dial_ready(Transport* upstream) override;
    void on_dial_failed(const DialFailure& failure) override;
    void connect();
    void dial();
    void send_request();
    // Once the request is sent whole: the response head must come within timeouts.response_ms.
    void start_response_deadline();
    void forward_request_body(const char* data, size_t len);
    void read_response(const char* data, size_t len);
    void response_complete(bool upstream_reusable);
    void fail(handshake::Refusal refusal);
    // The access line, and the bytes into the session's record.
    void account(int status, const char* outcome);

    RouteSettingsPtr settings_;
    const RouteSettings& route_;
    RouteRuntime& runtime_;
    Owner& owner_;
    SessionRecord& record_;
    Transport& app_;
    Transport::Handler& events_;
    http::Request request_;
    std::unique_ptr<http::Reader> request_reader_;
    std::string pending_app_bytes_;   // read before the upstream was ready, or behind the request
    std::unique_ptr<http::Reader> response_reader_;
    std::unique_ptr<Dialer> dialer_;
    std::unique_ptr<Alarm> deadline_;  // the dial, then the response head
    std::unique_ptr<Alarm> body_deadline_;  // the app's request body must keep coming
    Transport* upstream_ = nullptr;
    std::string app_origin_;  // "http://" + the app's Host
    bool reused_ = false;
    bool connected_ = false;
    bool retried_ = false;
    bool request_done_ = false;
    bool response_started_ = false;  // the final head went to the app
    bool response_seen_ = false;     // any byte of a response came
    bool finished_ = false;
    bool close_app_after_ = false;   // the app is told the connection ends with this response
    uint64_t started_ms_ = 0;
    uint64_t bytes_from_app_ = 0;
    uint64_t bytes_from_upstream_ = 0;
};

}  // namespace loopgate
