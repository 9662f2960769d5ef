#include "request_phase.hpp"

#include "log.hpp"
#include "redact.hpp"

namespace loopgate {

RequestPhase::RequestPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, SessionRecord& record)
    : route_(route),
      owner_(owner),
      record_(record),
      reader_(http::Reader::Kind::request, route.config.limits.max_request_header_bytes),
      deadline_(runtime.clock->new_alarm()) {
    uint32_t ms = route_.config.timeouts.request_ms;
    deadline_->start(ms, [this, ms] {
        owner_.refuse({408, "the WebSocket upgrade request was not complete within " + std::to_string(ms) + " ms", {}});
        owner_.settle();
    });
}

void RequestPhase::on_app_data(const char* data, size_t len) {
    size_t consumed = 0;
    auto status = reader_.feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return;
    const std::string& target = reader_.request().target;
    if (!target.empty()) record_.path = redact::target(target);
    if (status == http::Reader::Status::error) {
        owner_.refuse({reader_.error_status(), reader_.error_reason(), {}});
        return;
    }
    deadline_->stop();
    const http::Request& request = reader_.request();
    log_request(request);
    if (auto refusal = handshake::check_app_request(request)) {
        owner_.refuse(std::move(*refusal));
        return;
    }
    if (auto refusal = route_.access.check(request)) {
        owner_.refuse(std::move(*refusal));
        return;
    }
    owner_.on_request(reader_.take_request(), std::string(data + consumed, len - consumed));
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
