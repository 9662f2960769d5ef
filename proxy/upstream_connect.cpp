#include "upstream_connect.hpp"

#include <algorithm>

#include "log.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr size_t kMaxRefusalBody = 64 * 1024;

}  // namespace

UpstreamConnect::UpstreamConnect(RouteSettingsPtr settings, RouteRuntime& runtime, Owner& owner,
                                 SessionRecord& record, const http::Request& request, Transport::Handler& events)
    : settings_(std::move(settings)),
      route_(*settings_),
      runtime_(runtime),
      owner_(owner),
      record_(record),
      request_(request),
      events_(events),
      deadline_(runtime.clock->new_alarm()),
      response_reader_(http::Reader::Kind::response, kMaxResponseHead, kMaxRefusalBody) {}

UpstreamConnect::~UpstreamConnect() {
    // Gracefully: the upstream may be mid-answer, and deserves its close_notify and FIN.
    if (upstream_ != nullptr) upstream_->end(std::max<uint32_t>(route_.config.timeouts.close_ms, 100));
}

void UpstreamConnect::start() {
    uint32_t ms = route_.config.timeouts.handshake_ms;
    deadline_->start(ms, [this, ms] {
        std::string stage = upstream_ != nullptr ? "waiting for the upgrade response from " + record_.upstream_address
                                                 : dialer_ ? dialer_->stage() : std::string("dialing");
        fail(504, "upstream did not complete the handshake within " + std::to_string(ms) + " ms (" + stage + ")",
             /*unreachable=*/true);
        owner_.settle();
    });
    DialHandler& handler = *this;
    dialer_ = runtime_.dialers->new_dialer(settings_, handler);
    dialer_->start();
}

void UpstreamConnect::on_dial_ready(Transport* upstream) {
    upstream_ = upstream;
    dialer_.reset();  // whose callback this is: it touches nothing after
    upstream->set_handler(&events_);
    record_.upstream_address = upstream->peer();
    if (upstream->ssl() != nullptr) record_.tls_resumed = SSL_session_reused(upstream->ssl()) == 1 ? "true" : "false";
    std::string request = handshake::build_upstream_request(request_, route_.config.upstream,
                                                            route_.config.upstream_headers);
    upstream->write(request.data(), request.size());
    upstream->flush();
    upstream->read_start();
    owner_.settle();
}

void UpstreamConnect::on_dial_failed(const DialFailure& failure) {
    DialFailure copy = failure;  // it may live in the dialer, which goes now
    dialer_.reset();
    deadline_->stop();
    owner_.on_connect_failed(copy);
    owner_.settle();
}

void UpstreamConnect::fail(int status, std::string reason, bool unreachable) {
    deadline_->stop();
    DialFailure failure;
    failure.http_status = status;
    failure.reason = std::move(reason);
    failure.unreachable = unreachable;
    owner_.on_connect_failed(failure);
}

void UpstreamConnect::on_upstream_data(const char* data, size_t len) {
    size_t consumed = 0;
    auto status = response_reader_.feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return;
    if (status == http::Reader::Status::error) {
        fail(502, "upstream " + record_.upstream_address + " did not answer with HTTP: " + response_reader_.error_reason());
        return;
    }
    deadline_->stop();
    const http::Response& response = response_reader_.response();
    if (response.status != 101) {
        owner_.on_upstream_refused(response);
        return;
    }
    handshake::Negotiated negotiated;
    if (auto why = handshake::check_upstream_101(response, request_, negotiated)) {
        fail(502, *why);
        return;
    }
    Transport* upstream = upstream_;
    upstream_ = nullptr;
    owner_.on_upgraded(upstream, response, negotiated, std::string_view(data + consumed, len - consumed));
}

void UpstreamConnect::on_upstream_end(const Transport::End& end) {
    if (response_reader_.finish() == http::Reader::Status::complete && response_reader_.response().status != 101) {
        deadline_->stop();
        owner_.on_upstream_refused(response_reader_.response());
    } else if (end.kind == Transport::End::Kind::tls_error) {
        // TLS 1.3 servers refuse a client certificate only after the
        // client's handshake is done, so the alert lands here.
        fail(502, end.detail + " (" + route_.config.upstream.host + " at " + record_.upstream_address +
                      ", before answering the WebSocket upgrade)");
    } else {
        std::string why = end.kind == Transport::End::Kind::eof ? "closed the connection" : end.detail;
        fail(502, "upstream " + record_.upstream_address + " " + why + " before answering the WebSocket upgrade");
    }
}

}  // namespace loopgate
