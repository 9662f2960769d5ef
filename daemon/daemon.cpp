#include "daemon.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <csignal>

#include "exit_status.hpp"
#include "log.hpp"
#include "route_health.hpp"
#include "upstream_dialer.hpp"

namespace loopgate {

namespace {

// Each connection holds two descriptors (app and upstream). macOS starts a
// launchd agent with a soft limit of 256, which would turn max_connections
// into a promise loopgate cannot keep: raise the soft limit, or say so.
void raise_file_limit(const config::Config& config) {
    // With no global limit, the routes' own limits are what can be open at once.
    uint64_t max_connections = config.max_connections;
    if (max_connections == 0) {
        for (const auto& route : config.routes) max_connections += route.max_connections;
    }
    rlim_t wanted = rlim_t{max_connections} * 2 + 64;
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    if (limit.rlim_cur >= wanted) return;
    log::warn("open file limit is lower than max_connections needs")
        .kv("max_connections", max_connections)
        .kv("needed", static_cast<uint64_t>(wanted))
        .kv("limit", static_cast<uint64_t>(limit.rlim_cur));
}

}  // namespace

Daemon::Daemon(config::Config config) : config_(std::move(config)) { loop_error_ = uv_loop_init(&loop_); }

Daemon::~Daemon() {
    listeners_.clear();
    routes_.clear();  // their health trackers hold timers on the loop
    shutdown_timer_.reset();
    close_process_handles();
    // Let every close callback run so no memory outlives the loop.
    if (loop_error_ != 0) return;
    uv_run(&loop_, UV_RUN_DEFAULT);
    if (int rc = uv_loop_close(&loop_)) log::warn("handles still open at exit").kv("error", uv_strerror(rc));
}

int Daemon::run() {
    if (loop_error_ != 0) {
        log::error("cannot start the event loop").kv("error", uv_strerror(loop_error_));
        return kExitOsError;
    }
    std::signal(SIGPIPE, SIG_IGN);  // a peer that vanishes mid-write is an error code, not a signal
    raise_file_limit(config_);
    process_load_.max_connections = config_.max_connections;
    if (!prepare_routes()) return kExitConfig;
    if (!start_listeners()) return kExitFailure;
    if (!watch_signal(SIGINT) || !watch_signal(SIGTERM)) return kExitOsError;
    network_ = std::make_unique<NetworkMonitor>(&loop_, config_.network,
                                                [this](const std::string& changes) { on_network_changed(changes); });
    network_->start();
    uv_run(&loop_, UV_RUN_DEFAULT);
    log::info("stopped");
    return 0;
}

bool Daemon::prepare_routes() {
    for (const auto& route : config_.routes) {
        auto settings = std::make_shared<RouteSettings>();
        settings->config = route;
        if (route.upstream.tls) {
            std::string error;
            settings->tls = tls::make_upstream_context(route, error);
            if (!settings->tls) {
                log::error("cannot prepare TLS").kv("route", route.name).kv("error", error);
                return false;
            }
            // Which anchors a route trusts is the first thing to check when
            // verification fails, so it is said once at start.
            log::info("upstream TLS")
                .kv("route", route.name)
                .kv("verify", route.tls.verify == config::TlsVerify::full ? "full" : "pin-only")
                .kv("pins", static_cast<uint64_t>(route.tls.pins.size()))
                .kv("client_cert", route.tls.client_cert ? route.tls.client_cert->string() : std::string("-"))
                .kv("trust", tls::trust_description(settings->tls.get()));
        } else {
            log::warn("upstream is plaintext: traffic to it is not encrypted")
                .kv("route", route.name)
                .kv("upstream", route.upstream.text());
        }
        auto runtime = std::make_unique<RouteRuntime>();
        runtime->settings = std::move(settings);
        runtime->process = &process_load_;
        runtime->clock = &clock_;
        runtime->transports = &transports_;
        runtime->dialers = std::make_unique<UpstreamDialers>(&loop_, runtime->stats, &transports_);
        runtime->health = std::make_unique<RouteHealth>(*runtime);
        routes_.push_back(std::move(runtime));
    }
    return true;
}

bool Daemon::start_listeners() {
    for (auto& route : routes_) {
        auto listener = std::make_unique<Listener>(&loop_, *route);
        const config::Route& config = route->settings->config;
        std::string error;
        if (!listener->start(error)) {
            log::error("cannot listen").kv("route", config.name).kv("error", error);
            return false;
        }
        log::Line line(log::Level::info, "listening");
        line.kv("route", config.name)
            .kv("address", listener->bound_address())
            .kv("upstream", config.upstream.text());
        if (config.connect_to) line.kv("connect_to", *config.connect_to);
        listeners_.push_back(std::move(listener));
    }
    return true;
}

bool Daemon::watch_signal(int signum) {
    auto* watch = new SignalWatch{};
    watch->owner = this;
    if (int rc = uv_signal_init(&loop_, &watch->handle)) {
        delete watch;
        log::error("cannot watch a signal").kv("signal", signum).kv("error", uv_strerror(rc));
        return false;
    }
    watch->handle.data = watch;
    signals_.push_back(watch);  // closed with the others from here on
    int rc = uv_signal_start(
        &watch->handle,
        [](uv_signal_t* h, int sig) { static_cast<SignalWatch*>(h->data)->owner->begin_shutdown(sig); }, signum);
    if (rc != 0) {
        log::error("cannot watch a signal").kv("signal", signum).kv("error", uv_strerror(rc));
        return false;
    }
    return true;
}

void Daemon::begin_shutdown(int signum) {
    if (shutting_down_) {
        log::warn("second signal: stopping now").kv("signal", signum);
        force_shutdown();
        return;
    }
    shutting_down_ = true;
    transports_.close_promptly_from_now_on();
    size_t sessions = 0;
    for (auto& listener : listeners_) sessions += listener->session_count();
    log::info("shutting down").kv("signal", signum).kv("sessions", static_cast<uint64_t>(sessions))
        .kv("timeout_ms", config_.shutdown_timeout_ms);
    shutdown_timer_ = std::make_unique<Timer>(&loop_);
    shutdown_timer_->start(config_.shutdown_timeout_ms, [this] {
        log::warn("shutdown timeout: closing remaining connections");
        force_shutdown();
    });
    listeners_busy_ = listeners_.size();
    // A network change or wake during the drain changes nothing now.
    network_.reset();
    // No more retries toward down upstreams: their timers would keep the loop alive.
    for (auto& route : routes_) route->health->stop();
    for (auto& listener : listeners_) listener->shut_down([this] { on_listener_idle(); });
}

void Daemon::on_listener_idle() {
    if (--listeners_busy_ != 0) return;
    // Every session is done. Connections may still be writing their last
    // bytes and FIN: they close once written, and the loop ends with them. The
    // shutdown deadline stays armed (without keeping the loop alive) in case one never drains.
    close_process_handles();
    shutdown_timer_->unref();
}

void Daemon::force_shutdown() {
    listeners_.clear();  // closes what is left
    shutdown_timer_.reset();
    close_process_handles();
    transports_.close_all();
}

void Daemon::on_network_changed(const std::string& changes) {
    if (shutting_down_) return;
    log::info("network changed").kv("changes", changes);
    for (auto& listener : listeners_) {
        RouteRuntime& route = listener->route();
        const config::Route& config = route.settings->config;
        size_t probed = listener->probe_sessions(config.liveness.probe_timeout_ms);
        route.health->network_changed();
        log::info("probing upstream sessions")
            .kv("route", config.name)
            .kv("sessions", static_cast<uint64_t>(probed))
            .kv("timeout_ms", config.liveness.probe_timeout_ms)
            .kv("upstream_state", RouteHealth::state_name(route.health->state()));
    }
}

void Daemon::close_process_handles() {
    network_.reset();
    for (SignalWatch* watch : signals_) {
        uv_close(reinterpret_cast<uv_handle_t*>(&watch->handle),
                 [](uv_handle_t* h) { delete static_cast<SignalWatch*>(h->data); });
    }
    signals_.clear();
}

}  // namespace loopgate
