#include "upstream_connect.hpp"

#include <algorithm>

#include "log.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxRefusalBody = 64 * 1024;  // relayed to the app as it came

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
      deadline_(runtime.clock->new_alarm()) {}

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
    ++runtime_.stats.upstream_dials;
    dial_started_ms_ = runtime_.clock->now_ms();
    dialer_ = runtime_.dialers->new_dialer(settings_, handler);
    dialer_->start();
}

void UpstreamConnect::on_dial_ready(Transport* upstream) {
    upstream_ = upstream;
    dialer_.reset();  // whose callback this is: it touches nothing after
    runtime_.stats.dial_seconds.observe(static_cast<double>(runtime_.clock->now_ms() - dial_started_ms_) / 1000.0);
    upstream->set_handler(&events_);
    record_.upstream_address = upstream->peer();
    if (upstream->ssl() != nullptr) record_.tls_resumed = SSL_session_reused(upstream->ssl()) == 1 ? "true" : "false";
    std::string request = handshake::build_upstream_request(request_, route_.config.upstream,
                                                            route_.config.upstream_headers);
    upstream->write(request.data(), request.size());
    upstream->flush();
    response_ = std::make_unique<UpgradeResponse>(kMaxRefusalBody, route_.config.upstream.host, upstream->peer());
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
    failure.step = status == 504 ? DialFailure::Step::timeout : DialFailure::Step::upgrade;
    owner_.on_connect_failed(failure);
}

void UpstreamConnect::on_upstream_data(const char* data, size_t len) {
    judge(response_->feed(data, len, request_));
}

void UpstreamConnect::on_upstream_end(const Transport::End& end) { judge(response_->end(end)); }

void UpstreamConnect::judge(UpgradeResponse::Verdict verdict) {
    switch (verdict) {
    case UpgradeResponse::Verdict::need_more: return;
    case UpgradeResponse::Verdict::failed: fail(502, response_->failure(), response_->connection_lost()); return;
    case UpgradeResponse::Verdict::refused:
        deadline_->stop();
        owner_.on_upstream_refused(response_->response());
        return;
    case UpgradeResponse::Verdict::upgraded: {
        deadline_->stop();
        Transport* upstream = upstream_;
        upstream_ = nullptr;
        owner_.on_upgraded(upstream, response_->response(), response_->negotiated(), response_->after_101());
        return;
    }
    }
}

}  // namespace loopgate
