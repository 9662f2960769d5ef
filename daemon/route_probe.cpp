#include "route_probe.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "address_text.hpp"
#include "handshake.hpp"
#include "http_reader.hpp"
#include "loopgate_version.h"
#include "probe_report.hpp"
#include "route.hpp"
#include "timer.hpp"
#include "transport.hpp"
#include "upgrade_response.hpp"
#include "upstream_dialer.hpp"
#include "ws_frame.hpp"

namespace loopgate {
namespace {


constexpr size_t kMaxRefusalBody = 4096;
constexpr uint32_t kMaxCloseWaitMs = 5000;
constexpr uint64_t kLingerMs = 1000;

}  // namespace

class RouteProbe::Steps final : private UpstreamDialer::Handler, private Transport::Handler, private ws::FrameSink {
public:
    Steps(uv_loop_t* loop, const config::Route& route, size_t index, const tls::TrustAnchors& anchors,
          ProbeOutput& out)
        : loop_(loop), anchors_(anchors), out_(out), index_(index), deadline_(loop), close_timer_(loop) {
        settings_->config = route;
    }

    ~Steps() {
        if (up_ != nullptr) up_->close();
        if (resume_up_ != nullptr) resume_up_->close();
    }

    Steps(const Steps&) = delete;
    Steps& operator=(const Steps&) = delete;

    // Drives the loop until the probe is over. True when the upgrade succeeded.
    bool run() {
        started_ = ProbeClock::now();
        std::string heading = "route " + route_.config.name + ": " + route_.config.upstream.text();
        if (route_.config.connect_to) heading += " (connect_to " + *route_.config.connect_to + ")";
        out_.heading(heading);
        if (prepare_tls()) start_dial();
        while (!finished_) {
            if (uv_run(loop_, UV_RUN_ONCE) == 0 && !finished_) fail("internal", "nothing left to wait for");
        }
        return ok_;
    }

    // What the upstream presented, for --print-pin.
    const std::optional<tls::PeerReport>& seen() const { return seen_; }
    bool chain_verified() const { return seen_ && seen_->chain_checked && seen_->chain_error == 0; }
    size_t index() const { return index_; }
    const std::string& failed_step() const { return failed_step_; }
    const std::string& failure_reason() const { return failure_reason_; }
    const std::optional<RouteProbe::AnswerDate>& answer_date() const { return answer_date_; }
    int refused_status() const { return refused_status_; }

private:
    void print_step(const char* step, const char* verdict, const std::string& took, const std::string& detail) {
        out_.step({step, verdict, took, detail});
    }

    bool prepare_tls() {
        step_started_ = ProbeClock::now();  // fail() measures from it
        if (!route_.config.upstream.tls) {
            print_step("trust", "--", elapsed_text(step_started_), "plaintext ws:// upstream: no TLS");
            return true;
        }
        std::string error;
        settings_->tls = tls::make_upstream_context(settings_->config, anchors_, error);
        if (!route_.tls) {
            fail("trust", error);
            return false;
        }
        print_step("trust", "ok", elapsed_text(step_started_), tls::trust_description(route_.tls.get()));
        return true;
    }

    void start_dial() {
        step_started_ = ProbeClock::now();
        const auto& up = route_.config.upstream;
        if (route_.config.connect_to || up.host_is_ipv4_literal) {
            print_step("resolve", "--", elapsed_text(step_started_),
                       route_.config.connect_to ? "not needed: connect_to " + *route_.config.connect_to
                                                : "not needed: " + up.host + " is an address");
        }
        uint32_t ms = route_.config.timeouts.handshake_ms;
        deadline_.start(ms, [this, ms] {
            std::string doing = upgrading_ ? "waiting for the upgrade response" : dialer_->stage();
            fail(upgrading_ ? "upgrade" : current_step_, "did not complete within " + std::to_string(ms) +
                                                             " ms (timeouts.handshake_ms; " + doing + ")");
        });
        UpstreamDialer::Handler& handler = *this;
        dialer_ = std::make_unique<UpstreamDialer>(loop_, settings_, stats_, handler);
        dialer_->start();
    }

    // ---- UpstreamDialer::Handler ----

    void on_dial_resolved(const std::vector<sockaddr_in>& addresses) override {
        if (resuming_) return;
        std::string list;
        for (const auto& addr : addresses) list += (list.empty() ? "" : ", ") + ipv4_text(addr);
        print_step("resolve", "ok", elapsed_text(step_started_),
                   route_.config.upstream.host + " -> " + list + " (A records only)");
        step_started_ = ProbeClock::now();
        current_step_ = "connect";
    }

    void on_dial_attempt_failed(const std::string& address, const std::string& why) override {
        if (resuming_) return;
        print_step("connect", "FAIL", elapsed_text(step_started_), address + " " + why);
        step_started_ = ProbeClock::now();
    }

    void on_dial_connected(Transport& t) override {
        if (resuming_) return;
        print_step("connect", "ok", elapsed_text(step_started_), t.peer());
        step_started_ = ProbeClock::now();
        current_step_ = "tls";
    }

    void on_dial_ready(Transport* upstream) override {
        if (resuming_) {
            finish_resume_check(upstream);
            return;
        }
        up_ = upstream;
        up_->set_handler(this);
        if (up_->ssl() != nullptr) report_tls();
        send_upgrade();
    }

    void on_dial_failed(const UpstreamDialer::Failure& failure) override {
        if (resuming_) {
            deadline_.stop();
            print_step("resume", "warn", elapsed_text(step_started_), "the second connection failed: " + failure.reason);
            succeed();
            return;
        }
        using Step = UpstreamDialer::Failure::Step;
        if (failure.step == Step::connect) {
            finish_failed("connect", failure.reason, true);  // each address had its own line
            return;
        }
        if (failure.step != Step::tls || !failure.peer || failure.peer->chain.empty()) {
            fail(failure.step == Step::resolve ? "resolve" : "tls", failure.reason);
            return;
        }
        seen_ = failure.peer;
        bool rejected = seen_->pin_mismatch || seen_->chain_error != 0;
        print_step("tls", "FAIL", elapsed_text(step_started_),
                   rejected ? "certificate received; loopgate aborted the handshake" : failure.reason);
        print_chain(out_, *seen_);
        if (!rejected) {
            finish_failed("tls", failure.reason);
            return;
        }
        print_step("verify", "FAIL", micros_text(seen_->verify_us), failure.reason);
        finish_failed("verify", failure.reason);
    }

    void report_tls() {
        SSL* ssl = up_->ssl();
        const unsigned char* alpn = nullptr;
        unsigned int alpn_len = 0;
        SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
        std::string detail = tls::describe_session(ssl) + ", full handshake (no session to resume yet)";
        if (SSL_session_reused(ssl) == 1) detail = tls::describe_session(ssl) + ", resumed a session";
        detail += alpn_len > 0 ? ", ALPN " + std::string(reinterpret_cast<const char*>(alpn), alpn_len) : ", no ALPN";
        print_step("tls", "ok", elapsed_text(step_started_), detail);
        const tls::PeerReport* report = tls::peer_report(ssl);
        if (report == nullptr) return;
        seen_ = *report;
        print_chain(out_, *report);
        print_step("verify", "ok", micros_text(report->verify_us), verdict_text(*report));
    }

    // ---- the WebSocket upgrade ----

    void send_upgrade() {
        step_started_ = ProbeClock::now();
        current_step_ = "upgrade";
        upgrading_ = true;
        response_ = std::make_unique<UpgradeResponse>(kMaxRefusalBody, route_.config.upstream.host, up_->peer());
        request_ = handshake::new_client_request(route_.config.upstream.authority(), "/",
                                                std::string("loopgate-probe/") + LOOPGATE_VERSION);
        std::string request = handshake::build_upstream_request(request_, route_.config.upstream,
                                                                route_.config.upstream_headers);
        up_->write(request.data(), request.size());
        up_->flush();
        up_->read_start();
    }

    void on_transport_data(Transport& t, const char* data, size_t len) override {
        if (&t != up_) return;
        if (upgrading_) {
            read_response(data, len);
        } else if (closing_) {
            scanner_.feed(data, len, *this);
        }
    }

    void read_response(const char* data, size_t len) { judge(response_->feed(data, len, request_)); }

    void judge(UpgradeResponse::Verdict verdict) {
        if (verdict == UpgradeResponse::Verdict::need_more) return;
        upgrading_ = false;
        note_date(response_->response());
        deadline_.stop();
        switch (verdict) {
        case UpgradeResponse::Verdict::need_more: return;
        case UpgradeResponse::Verdict::failed: fail("upgrade", response_->failure()); return;
        case UpgradeResponse::Verdict::refused: refused(response_->response()); return;
        case UpgradeResponse::Verdict::upgraded:
            print_step("upgrade", "ok", elapsed_text(step_started_),
                       "101 " + response_->response().reason + " from " + up_->peer() +
                           ", Sec-WebSocket-Accept correct");
            start_close(response_->after_101().data(), response_->after_101().size());
            return;
        }
    }

    // The upstream's clock, for `loopgate doctor`: the Date header of whatever it answered.
    void note_date(const http::Response& response) {
        if (response.status == 0) return;
        if (const std::string* date = response.headers.find("date")) {
            answer_date_ = RouteProbe::AnswerDate{*date, std::chrono::system_clock::now()};
        }
    }

    void refused(const http::Response& response) {
        refused_status_ = response.status;
        std::string body = response.body.substr(0, response.body.find('\n'));
        fail("upgrade", "upstream answered " + std::to_string(response.status) + " " + response.reason +
                            " instead of 101 Switching Protocols" + (body.empty() ? "" : ": " + body));
    }

    void on_transport_end(Transport& t, const Transport::End& end) override {
        if (&t != up_) return;
        up_->close();
        up_ = nullptr;
        if (upgrading_) {
            judge(response_->end(end));
        } else if (closing_) {
            close_done("warn", "the upstream closed the connection without a close frame");
        }
    }

    // ---- the close handshake ----

    void start_close(const char* after_101, size_t len) {
        step_started_ = ProbeClock::now();
        current_step_ = "close";
        closing_ = true;
        scanner_.set_policy({false, 0x70, uint64_t{1} << 40, 0});
        char frame[ws::kMaxControlFrameBytes];
        size_t n = ws::build_close_frame(frame, ws::kNormal, "loopgate probe", /*masked=*/true);
        up_->write(frame, n);
        up_->flush();
        uint32_t wait_ms = std::min(std::max<uint32_t>(route_.config.timeouts.close_ms, 100), kMaxCloseWaitMs);
        close_timer_.start(wait_ms, [this, wait_ms] {
            close_done("warn", "no close frame from the upstream within " + std::to_string(wait_ms) + " ms");
        });
        if (len > 0) scanner_.feed(after_101, len, *this);
    }

    void on_frame_bytes(const char*, size_t len) override { frame_bytes_ += len; }

    void on_control_frame(const ws::ControlFrame& frame) override {
        if (frame.opcode != ws::kClose || !closing_) return;
        uint16_t code = ws::kNoStatus;
        std::string_view reason;
        ws::ScanError ignored;
        ws::parse_close_payload(frame.payload, frame.payload_len, code, reason, ignored);
        std::string detail = "sent 1000, the upstream answered " + std::to_string(code);
        if (frame_bytes_ > 0) detail += " (after " + std::to_string(frame_bytes_) + " bytes of its own frames)";
        close_done("ok", detail);
    }

    void on_frame_error(const ws::ScanError& error) override {
        close_done("warn", "the upstream sent an invalid frame: " + error.reason);
    }

    // The upgrade worked: a close that goes wrong is worth a warning, not a failure.
    void close_done(const char* verdict, const std::string& detail) {
        if (!closing_) return;
        closing_ = false;
        close_timer_.stop();
        print_step("close", verdict, elapsed_text(step_started_), detail);
        if (up_ != nullptr) {
            up_->end(kLingerMs);
            up_ = nullptr;
        }
        if (route_.tls) start_resume_check();
        else succeed();
    }

    // ---- resumption ----

    // A second dial offers the session the first one left in the route's cache.
    void start_resume_check() {
        resuming_ = true;
        step_started_ = ProbeClock::now();
        uint32_t ms = route_.config.timeouts.handshake_ms;
        deadline_.start(ms, [this, ms] {
            print_step("resume", "warn", elapsed_text(step_started_),
                       "the second connection did not complete within " + std::to_string(ms) + " ms (" +
                           resume_dialer_->stage() + ")");
            succeed();
        });
        UpstreamDialer::Handler& handler = *this;
        resume_dialer_ = std::make_unique<UpstreamDialer>(loop_, settings_, stats_, handler);
        resume_dialer_->start();
    }

    void finish_resume_check(Transport* upstream) {
        deadline_.stop();
        resume_up_ = upstream;
        bool resumed = SSL_session_reused(upstream->ssl()) == 1;
        print_step("resume", resumed ? "ok" : "no", elapsed_text(step_started_),
                   resumed ? "a second TLS handshake resumed the session (" + tls::describe_session(upstream->ssl()) + ")"
                           : "a second TLS handshake was a full one: the upstream did not resume the session");
        resume_up_->end(kLingerMs);
        resume_up_ = nullptr;
        succeed();
    }

    void on_transport_drained(Transport&) override {}

    // ---- outcomes ----

    void succeed() {
        if (finished_) return;
        out_.outcome("probe ok: route " + route_.config.name + " answered the WebSocket upgrade (" +
                     elapsed_text(started_) + " in all)");
        ok_ = true;
        finish();
    }

    void fail(const std::string& step, const std::string& reason) {
        if (finished_) return;
        print_step(step.c_str(), "FAIL", elapsed_text(step_started_), reason);
        finish_failed(step, reason);
    }

    // The step's own line already gave the reason, unless it was spread over several lines.
    void finish_failed(const std::string& step, const std::string& reason, bool repeat_reason = false) {
        if (finished_) return;
        failed_step_ = step;
        failure_reason_ = reason;
        out_.outcome("probe failed at step " + step + (repeat_reason ? ": " + reason : std::string()));
        finish();
    }

    void finish() {
        finished_ = true;
        deadline_.stop();
        close_timer_.stop();
        if (up_ != nullptr) {
            up_->close();
            up_ = nullptr;
        }
    }

    uv_loop_t* loop_;
    const tls::TrustAnchors& anchors_;
    ProbeOutput& out_;
    std::shared_ptr<RouteSettings> settings_ = std::make_shared<RouteSettings>();
    const RouteSettings& route_ = *settings_;
    RouteStats stats_;
    size_t index_;
    ProbeClock::time_point started_;
    ProbeClock::time_point step_started_;
    std::string current_step_ = "resolve";
    std::unique_ptr<UpstreamDialer> dialer_;
    std::unique_ptr<UpstreamDialer> resume_dialer_;
    Transport* up_ = nullptr;
    Transport* resume_up_ = nullptr;
    http::Request request_;
    std::unique_ptr<UpgradeResponse> response_;  // from the upgrade request on
    ws::FrameScanner scanner_;
    uint64_t frame_bytes_ = 0;
    Timer deadline_;
    Timer close_timer_;
    std::optional<tls::PeerReport> seen_;
    bool upgrading_ = false;
    bool closing_ = false;
    bool resuming_ = false;
    bool finished_ = false;
    bool ok_ = false;
    std::string failed_step_;
    std::string failure_reason_;
    std::optional<RouteProbe::AnswerDate> answer_date_;
    int refused_status_ = 0;
};


RouteProbe::RouteProbe(uv_loop_t* loop, const config::Route& route, size_t index, const tls::TrustAnchors& anchors)
    : RouteProbe(loop, route, index, anchors, printed_) {}

RouteProbe::RouteProbe(uv_loop_t* loop, const config::Route& route, size_t index, const tls::TrustAnchors& anchors,
                       ProbeOutput& out)
    : steps_(std::make_unique<Steps>(loop, route, index, anchors, out)) {}

RouteProbe::~RouteProbe() = default;

bool RouteProbe::run() { return steps_->run(); }
const std::optional<tls::PeerReport>& RouteProbe::seen() const { return steps_->seen(); }
bool RouteProbe::chain_verified() const { return steps_->chain_verified(); }
size_t RouteProbe::index() const { return steps_->index(); }
const std::string& RouteProbe::failed_step() const { return steps_->failed_step(); }
const std::string& RouteProbe::failure_reason() const { return steps_->failure_reason(); }
const std::optional<RouteProbe::AnswerDate>& RouteProbe::answer_date() const { return steps_->answer_date(); }
int RouteProbe::refused_status() const { return steps_->refused_status(); }

}  // namespace loopgate
