#include "http_exchange.hpp"

#include <algorithm>
#include <charconv>

#include "http_forward.hpp"
#include "log.hpp"
#include "redact.hpp"
#include "route_health.hpp"
#include "upstream_pool.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxResponseHead = 64 * 1024;
// What the app may send ahead (its body before the upstream is ready, or its
// next request) before loopgate stops reading it.
constexpr size_t kMaxPendingAppBytes = 256 * 1024;

std::optional<uint64_t> content_length(const http::Request& request) {
    const std::string* value = request.headers.find("content-length");
    if (value == nullptr) return std::nullopt;
    uint64_t n = 0;
    auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
    if (ec != std::errc() || end != value->data() + value->size()) return std::nullopt;  // llhttp checked it already
    return n;
}

bool has_body(const http::Request& request) {
    return request.headers.find("transfer-encoding") != nullptr || content_length(request).value_or(0) > 0;
}

}  // namespace

HttpExchange::HttpExchange(RouteSettingsPtr settings, RouteRuntime& runtime, Owner& owner, SessionRecord& record,
                           Transport& app, std::unique_ptr<http::Reader> reader, std::string rest,
                           Transport::Handler& events)
    : settings_(std::move(settings)),
      route_(*settings_),
      runtime_(runtime),
      owner_(owner),
      record_(record),
      app_(app),
      events_(events),
      request_(reader->request()),
      request_reader_(std::move(reader)),
      pending_app_bytes_(std::move(rest)),
      deadline_(runtime.clock->new_alarm()),
      body_deadline_(runtime.clock->new_alarm()) {
    const std::string* host = request_.headers.find("host");
    app_origin_ = "http://" + (host != nullptr ? *host : std::string("127.0.0.1"));
}

HttpExchange::~HttpExchange() {
    // Mid-exchange (the app left, or loopgate stops): the connection's state
    // is unknown, so it is never reused.
    if (upstream_ != nullptr) upstream_->close();
}

void HttpExchange::start() {
    started_ms_ = runtime_.clock->now_ms();
    ++runtime_.stats.http_requests;
    if (auto refusal = http_forward::check_forwardable(request_)) {
        fail(std::move(*refusal));
        return;
    }
    uint64_t max = route_.config.limits.max_body_bytes;
    if (auto length = content_length(request_); length && *length > max) {
        fail({413, "the request body (" + std::to_string(*length) + " bytes) is larger than " + std::to_string(max) +
                       " bytes (limits.max_body_bytes)", {}});
        return;
    }
    connect();
}

void HttpExchange::shut_down() {
    if (!response_started_) fail({503, "loopgate is shutting down", {{"Retry-After", "1"}}});
}

void HttpExchange::connect() {
    UpstreamPool* pool = runtime_.pool.get();
    Transport* pooled = pool != nullptr && !retried_ ? pool->take(settings_.get()) : nullptr;
    if (pooled == nullptr) {
        dial();
        return;
    }
    reused_ = true;
    connected_ = true;
    ++runtime_.stats.http_upstream_reused;
    upstream_ = pooled;
    upstream_->set_handler(&events_);
    send_request();
}

void HttpExchange::dial() {
    reused_ = false;
    uint32_t ms = route_.config.timeouts.handshake_ms;
    deadline_->start(ms, [this, ms] {
        std::string stage = dialer_ ? dialer_->stage() : std::string("dialing");
        dialer_.reset();
        fail({504, "upstream did not answer within " + std::to_string(ms) + " ms (" + stage + ")", {}});
        owner_.settle();
    });
    ++runtime_.stats.upstream_dials;
    DialHandler& handler = *this;
    dialer_ = runtime_.dialers->new_dialer(settings_, handler);
    dialer_->start();
}

void HttpExchange::on_dial_ready(Transport* upstream) {
    dialer_.reset();  // whose callback this is: it touches nothing after
    deadline_->stop();
    runtime_.stats.dial_seconds.observe(static_cast<double>(runtime_.clock->now_ms() - started_ms_) / 1000.0);
    if (runtime_.health) runtime_.health->report_up();
    upstream_ = upstream;
    connected_ = true;
    upstream_->set_handler(&events_);
    record_.upstream_address = upstream->peer();
    if (upstream->ssl() != nullptr) record_.tls_resumed = SSL_session_reused(upstream->ssl()) == 1 ? "true" : "false";
    send_request();
    owner_.settle();
}

void HttpExchange::on_dial_failed(const DialFailure& failure) {
    DialFailure copy = failure;  // it may live in the dialer, which goes now
    dialer_.reset();
    deadline_->stop();
    ++runtime_.stats.dial_failures[static_cast<size_t>(copy.step)];
    if (copy.local) {
        ++runtime_.stats.local_exhaustion;
        fail({503, copy.reason, {{"Retry-After", "1"}}});
    } else {
        ++runtime_.stats.upstream_failures;
        if (runtime_.health) runtime_.health->report_failed(copy.reason);
        if (copy.unreachable && runtime_.health) runtime_.health->report_unreachable(copy.reason);
        fail({copy.http_status, copy.reason, {}});
    }
    owner_.settle();
}

void HttpExchange::send_request() {
    const std::string* host = request_.headers.find("host");
    // The app's address without its port ("127.0.0.1:52100"); a unix socket peer has none (RFC 7239 "unknown").
    const std::string& app = record_.app_address;
    std::string app_ip = app.rfind("unix", 0) == 0 ? "unknown" : app.substr(0, app.rfind(':'));
    std::string head = http_forward::request_head(request_, route_.config.upstream, route_.config.upstream_headers,
                                                  route_.config.forwarded_headers, host ? *host : "", app_ip);
    upstream_->write(head.data(), head.size());
    response_reader_ = std::make_unique<http::Reader>(http::Reader::Kind::response, kMaxResponseHead, 0, true);
    if (request_.method == "HEAD") response_reader_->expect_no_body();
    response_seen_ = false;
    upstream_->read_start();
    if (request_done_) {
        // A retry: the request had no body; what is pending is the app's next request.
        upstream_->flush();
    } else {
        std::string early = std::move(pending_app_bytes_);
        pending_app_bytes_.clear();
        forward_request_body(early.data(), early.size());
        // Reading may have stopped while the early bytes piled up: the upstream takes them now.
        if (!finished_ && !request_done_ && !upstream_->above_high_water()) app_.read_start();
    }
    if (!finished_ && request_done_ && !deadline_->active()) start_response_deadline();
}

void HttpExchange::start_response_deadline() {
    uint32_t ms = route_.config.timeouts.response_ms;
    deadline_->start(ms, [this, ms] {
        fail({504, "upstream sent no response within " + std::to_string(ms) + " ms (timeouts.response_ms)", {}});
        owner_.settle();
    });
}

void HttpExchange::on_app_data(const char* data, size_t len) {
    if (upstream_ == nullptr || request_done_) {
        // Early body bytes, or the app's next request: kept, within bounds.
        pending_app_bytes_.append(data, len);
        if (pending_app_bytes_.size() >= kMaxPendingAppBytes) app_.read_stop();
        return;
    }
    forward_request_body(data, len);
}

void HttpExchange::forward_request_body(const char* data, size_t len) {
    size_t consumed = 0;
    auto status = request_reader_->feed_body(data, len, consumed);
    if (status == http::Reader::Status::error) {
        fail({400, request_reader_->error_reason(), {}});
        return;
    }
    uint64_t max = route_.config.limits.max_body_bytes;
    if (request_reader_->body_bytes() > max) {
        fail({413, "the request body is larger than " + std::to_string(max) + " bytes (limits.max_body_bytes)", {}});
        return;
    }
    upstream_->write(data, consumed);
    bytes_from_app_ += consumed;
    upstream_->flush();
    if (status == http::Reader::Status::complete) {
        request_done_ = true;
        body_deadline_->stop();
        pending_app_bytes_.append(data + consumed, len - consumed);
        if (pending_app_bytes_.size() >= kMaxPendingAppBytes) app_.read_stop();
        if (!response_started_) start_response_deadline();
        return;
    }
    uint32_t ms = route_.config.timeouts.request_ms;
    body_deadline_->start(ms, [this, ms] {
        fail({408, "the request body stalled: nothing came for " + std::to_string(ms) + " ms", {}});
        owner_.settle();
    });
    if (upstream_->above_high_water()) app_.read_stop();  // on_upstream_drained reads on
}

void HttpExchange::on_upstream_drained() {
    if (!request_done_ && !finished_) app_.read_start();
}

void HttpExchange::on_app_drained() {
    if (upstream_ != nullptr && !finished_) upstream_->read_start();
}

void HttpExchange::on_upstream_data(const char* data, size_t len) {
    response_seen_ = true;
    read_response(data, len);
}

void HttpExchange::read_response(const char* data, size_t len) {
    while (!response_started_) {
        size_t consumed = 0;
        auto status = response_reader_->feed(data, len, consumed);
        if (status == http::Reader::Status::need_more) return;
        if (status == http::Reader::Status::error) {
            fail({502, "upstream sent a malformed response: " + response_reader_->error_reason(), {}});
            return;
        }
        const http::Response& response = response_reader_->response();
        data += consumed;
        len -= consumed;
        if (response.status == 101) {
            fail({502, "upstream switched protocols on a plain HTTP request", {}});
            return;
        }
        if (response.status < 200) {
            // An interim response (100 Continue, 103 Early Hints) is the app's too; the final one follows.
            std::string head = http_forward::response_head(response, route_.config.upstream, app_origin_, false);
            app_.write(head.data(), head.size());
            app_.flush();
            size_t ended = 0;
            response_reader_->feed_body(data, len, ended);  // an interim response has no body
            data += ended;
            len -= ended;
            response_reader_ = std::make_unique<http::Reader>(http::Reader::Kind::response, kMaxResponseHead, 0, true);
            if (request_.method == "HEAD") response_reader_->expect_no_body();
            continue;
        }
        response_started_ = true;
        deadline_->stop();
        record_.http_status = response.status;
        bool app_wants_close = request_.headers.has_token("connection", "close");
        close_app_after_ = app_wants_close || response_reader_->body_until_close();
        std::string head = http_forward::response_head(response, route_.config.upstream, app_origin_, close_app_after_);
        app_.write(head.data(), head.size());
    }
    size_t consumed = 0;
    auto status = response_reader_->feed_body(data, len, consumed);
    if (status == http::Reader::Status::error) {
        owner_.on_exchange_broken("upstream sent a malformed response body: " + response_reader_->error_reason());
        account(response_reader_->response().status, "broken");
        finished_ = true;
        return;
    }
    app_.write(data, consumed);
    bytes_from_upstream_ += consumed;
    app_.flush();
    if (status == http::Reader::Status::complete) {
        response_complete(/*upstream_reusable=*/consumed == len);  // bytes behind a response: never reused
        return;
    }
    if (app_.above_high_water()) upstream_->read_stop();  // on_app_drained reads on
}

void HttpExchange::on_upstream_end(const Transport::End& end) {
    if (response_started_) {
        // A body that runs to the connection's end is complete now; any other is cut short.
        if (response_reader_->body_until_close() && response_reader_->finish() == http::Reader::Status::complete) {
            upstream_->close();
            upstream_ = nullptr;
            response_complete(false);
            return;
        }
        owner_.on_exchange_broken("upstream closed the connection before the response was complete");
        account(record_.http_status, "broken");
        finished_ = true;
        return;
    }
    std::string detail = end.detail.empty() ? "" : " (" + end.detail + ")";
    if (reused_ && !response_seen_) {
        // A pooled connection the upstream closed as loopgate reused it: the
        // request may or may not have reached it.
        if (!retried_ && http_forward::is_idempotent(request_.method) && !has_body(request_)) {
            retried_ = true;
            upstream_->close();
            upstream_ = nullptr;
            deadline_->stop();
            log::debug("retrying on a new connection").kv("route", route_.config.name).kv("method", request_.method);
            connect();
            return;
        }
        fail({502, "the upstream closed a reused connection before answering" + detail +
                       "; the request was not retried (" + request_.method +
                       (has_body(request_) ? " with a body" : "") + " may not be sent twice)", {}});
        return;
    }
    fail({502, "upstream closed the connection before answering" + detail, {}});
}

void HttpExchange::response_complete(bool upstream_reusable) {
    finished_ = true;
    deadline_->stop();
    body_deadline_->stop();
    account(record_.http_status, "done");
    if (upstream_ != nullptr) {
        UpstreamPool* pool = runtime_.pool.get();
        if (pool != nullptr && upstream_reusable && request_done_ && response_reader_->keep_alive()) {
            pool->put(upstream_, settings_.get());
        } else {
            upstream_->end(std::max<uint32_t>(route_.config.timeouts.close_ms, 100));
        }
        upstream_ = nullptr;
    }
    bool keep_alive = request_done_ && !close_app_after_;
    owner_.on_exchange_done(keep_alive, std::move(pending_app_bytes_));
}

void HttpExchange::fail(handshake::Refusal refusal) {
    if (finished_) return;
    finished_ = true;
    deadline_->stop();
    body_deadline_->stop();
    dialer_.reset();
    if (upstream_ != nullptr) {
        upstream_->close();  // mid-request: never reused
        upstream_ = nullptr;
    }
    account(refusal.status, "refused");
    if (response_started_) {
        owner_.on_exchange_broken(refusal.reason);
        return;
    }
    owner_.refuse(std::move(refusal));
}

void HttpExchange::account(int status, const char* outcome) {
    bool ok = std::string_view(outcome) == "done";
    record_.bytes_from_app += bytes_from_app_;
    record_.bytes_from_upstream += bytes_from_upstream_;
    uint64_t now_ms = runtime_.clock->now_ms();
    if (ok) runtime_.refusal_log.flush(route_.config.name, now_ms);
    else if (!runtime_.refusal_log.admit(route_.config.name, "http request", status, outcome, now_ms)) return;
    log::Line line(ok ? log::Level::info : log::Level::warn, "http request");
    line.kv("route", route_.config.name)
        .kv("app", record_.app_address)
        .kv("method", request_.method)
        .kv("path", redact::target(request_.target))
        .kv("status", status)
        .kv("outcome", outcome)
        .kv("bytes_from_app", bytes_from_app_)
        .kv("bytes_from_upstream", bytes_from_upstream_)
        .kv("duration_ms", now_ms - started_ms_)
        .kv("upstream_connection", !connected_ ? "-" : reused_ ? "reused" : "new");
}

}  // namespace loopgate
