#include "request_phase.hpp"

#include "log.hpp"
#include "redact.hpp"

namespace loopgate {

RequestPhase::RequestPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record,
                           bool kept_alive)
    : route_(route),
      owner_(owner),
      record_(record),
      reader_(std::make_unique<http::Reader>(http::Reader::Kind::request, route.config.limits.max_request_header_bytes,
                                             0, /*stream_body=*/true)),
      deadline_(runtime.clock->new_alarm()) {
    if (kept_alive) {
        waiting_idle_ = true;
        deadline_->start(kKeepAliveIdleMs, [this] {
            owner_.end_idle_connection();
            owner_.settle();
        });
        return;
    }
    start_request_deadline();
}

void RequestPhase::start_request_deadline() {
    uint32_t ms = route_.config.timeouts.request_ms;
    deadline_->start(ms, [this, ms] {
        owner_.refuse({408, std::string(route_.config.http ? "the request" : "the WebSocket upgrade request") +
                                " was not complete within " + std::to_string(ms) + " ms", {}});
        owner_.settle();
    });
}

void RequestPhase::on_app_data(const char* data, size_t len) {
    if (waiting_idle_ && len > 0) {
        waiting_idle_ = false;
        start_request_deadline();
    }
    size_t consumed = 0;
    auto status = reader_->feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return;
    const std::string& target = reader_->request().target;
    if (!target.empty()) record_.path = redact::target(target);
    if (status == http::Reader::Status::error) {
        owner_.refuse({reader_->error_status(), reader_->error_reason(), {}});
        return;
    }
    deadline_->stop();
    const http::Request& request = reader_->request();
    log_request(request);
    if (route_.config.http && !handshake::is_websocket_upgrade(request)) {
        if (auto refusal = route_.access.check_http(request)) {
            owner_.refuse(std::move(*refusal));
            return;
        }
        owner_.on_http_request(std::move(reader_), std::string(data + consumed, len - consumed));
        return;
    }
    if (auto refusal = handshake::check_app_request(request)) {
        owner_.refuse(std::move(*refusal));
        return;
    }
    if (auto refusal = route_.access.check(request)) {
        owner_.refuse(std::move(*refusal));
        return;
    }
    owner_.on_request(reader_->take_request(), std::string(data + consumed, len - consumed));
}

// Every header, for whoever debugs a refused app; credentials redacted.
void RequestPhase::log_request(const http::Request& request) const {
    if (!log::enabled(log::Level::debug)) return;
    std::string headers;
    for (const auto& h : request.headers.list()) {
        if (!headers.empty()) headers += "; ";
        headers += h.name + ": " + redact::header_value(h.name, h.value);
    }
    log::debug("upgrade request")
        .kv("route", route_.config.name)
        .kv("app", record_.app_address)
        .kv("method", request.method)
        .kv("path", redact::target(request.target))
        .kv("headers", headers);
}

}  // namespace loopgate
