#include "daemon.hpp"

#include <sys/resource.h>
#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <csignal>
#include <utility>

#include "exit_status.hpp"
#include "log.hpp"
#include "login_session.hpp"
#include "loopgate_version.h"

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

log::Level log_level_of(config::LogLevel level) {
    switch (level) {
    case config::LogLevel::debug: return log::Level::debug;
    case config::LogLevel::info: return log::Level::info;
    case config::LogLevel::warn: return log::Level::warn;
    case config::LogLevel::error: return log::Level::error;
    }
    return log::Level::info;
}

bool same_listen(const std::optional<config::ListenAddress>& a, const std::optional<config::ListenAddress>& b) {
    return a.has_value() == b.has_value() && (!a || a->text() == b->text());
}

void release_free_memory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

bool same_network_settings(const config::Network& a, const config::Network& b) {
    return a.watch == b.watch && a.debounce_ms == b.debounce_ms && a.wake_check_interval_ms == b.wake_check_interval_ms;
}

}  // namespace

Daemon::Daemon(config::Config config, std::filesystem::path config_file, std::optional<log::Level> log_level)
    : config_(std::move(config)),
      config_file_(std::move(config_file)),
      log_level_override_(log_level),
      log_sink_(log_level ? *log_level : log_level_of(config_.log_level), &recent_problems_) {
    loop_error_ = uv_loop_init(&loop_);
    login_session_ = this_process_session();
}

Daemon::~Daemon() {
    admin_.reset();
    retired_admin_.reset();
    routes_.reset();  // listeners, sessions and health trackers hold handles on the loop
    shutdown_timer_.reset();
    memory_timer_.reset();
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
    // A peer that vanishes mid-write is an error code, not a signal; the
    // other signals loopgate has no use for must not end it either.
    for (int ignored : {SIGPIPE, SIGUSR1, SIGUSR2, SIGALRM}) std::signal(ignored, SIG_IGN);
    apply_process_settings();
    // Opened whatever the routes say: a reload may add one that needs it.
    std::string no_peer_owner;
    peer_owner_ = open_peer_owner(no_peer_owner);
    memory_timer_ = std::make_unique<Timer>(&loop_);
    memory_timer_->unref();  // never the reason the process stays up
    process_load_.on_busy_changed = [this](bool busy) { on_busy_changed(busy); };
    std::string no_path_lookup;
    path_lookup_ = open_path_lookup(no_path_lookup);
    if (!path_lookup_) {
        log::warn("cannot look up routes: after a network change every session is probed, none closed at once")
            .kv("error", no_path_lookup);
    }
    routes_ = std::make_unique<RouteSet>(RouteSet::Environment{&loop_, &clock_, &transports_, &process_load_, &trust_,
                                                               &socket_files_, peer_owner_.get(), no_peer_owner,
                                                               geteuid()});
    started_ms_ = clock_.now_ms();
    ActivatedSockets activated = take_activated_sockets();
    if (int status = routes_->start(config_.routes, activated); status != kExitOk) return status;
    for (const auto& [name, fds] : activated.by_name) {
        log::warn("a socket handed over matches no route; closed").kv("name", name);
        for (int fd : fds) ::close(fd);
    }
    for (int fd : activated.unnamed) {
        log::warn("a socket handed over has no route name (FileDescriptorName=, or the plist's Sockets key); closed")
            .kv("fd", fd);
        ::close(fd);
    }
    if (std::string error; !open_admin(config_.admin_listen, admin_, error)) {
        log::error("cannot start the admin endpoint").kv("error", error);
        return kExitUnavailable;
    }
    if (!watch_signal(SIGINT, &Daemon::begin_shutdown) || !watch_signal(SIGTERM, &Daemon::begin_shutdown) ||
        !watch_signal(SIGHUP, &Daemon::reload)) {
        return kExitOsError;
    }
    start_network_monitor();
    uv_run(&loop_, UV_RUN_DEFAULT);
    log::info("stopped");
    return kExitOk;
}

ActivatedSockets Daemon::take_activated_sockets() const {
    std::string error;
    ActivatedSockets sockets = take_systemd_sockets(error);
    if (!error.empty()) log::warn("systemd socket activation").kv("error", error);
    if (sockets.empty()) {
        std::vector<std::string> names;
        for (const auto& route : config_.routes) names.push_back(route.name);
        error.clear();
        sockets = take_launchd_sockets(names, error);
        if (!error.empty()) log::warn("launchd socket activation").kv("error", error);
    }
    return sockets;
}

void Daemon::apply_process_settings() {
    log_sink_.set_level(log_level_override_ ? *log_level_override_ : log_level_of(config_.log_level));
    raise_file_limit(config_);
    process_load_.max_connections = config_.max_connections;
}

void Daemon::start_network_monitor() {
    network_ = std::make_unique<NetworkMonitor>(&loop_, config_.network,
                                                [this](const std::string& changes) { on_network_changed(changes); });
    network_->start(process_load_.busy());
}

// What runs only while an app is connected or an upstream connection is
// pooled: the wake check (an idle loopgate polls nothing) and the memory
// check (it stops by itself once neither is left).
void Daemon::on_busy_changed(bool busy) {
    if (network_) network_->set_wake_wanted(busy);
    if (busy && memory_timer_ && !memory_timer_->active()) watch_memory();
}

bool Daemon::watch_signal(int signum, void (Daemon::*on_signal)(int)) {
    auto* watch = new SignalWatch{};
    watch->owner = this;
    watch->on_signal = on_signal;
    if (int rc = uv_signal_init(&loop_, &watch->handle)) {
        delete watch;
        log::error("cannot watch a signal").kv("signal", signum).kv("error", uv_strerror(rc));
        return false;
    }
    watch->handle.data = watch;
    signals_.push_back(watch);  // closed with the others from here on
    int rc = uv_signal_start(
        &watch->handle,
        [](uv_signal_t* h, int sig) {
            auto* w = static_cast<SignalWatch*>(h->data);
            (w->owner->*w->on_signal)(sig);
        },
        signum);
    if (rc != 0) {
        log::error("cannot watch a signal").kv("signal", signum).kv("error", uv_strerror(rc));
        return false;
    }
    return true;
}

void Daemon::reload(int) { reload_now("SIGHUP"); }

// Read the config file again; apply all of it, or keep all of the old.
AdminServer::ReloadResult Daemon::reload_now(const char* by) {
    if (shutting_down_) return {false, "loopgate is shutting down\n"};
    config::LoadResult loaded = config::load_config_file(config_file_);
    std::string error;
    // The admin endpoint first: a new address that cannot be bound keeps everything as it was.
    std::unique_ptr<AdminServer> admin;
    bool admin_moves = loaded.errors.empty() && !same_listen(config_.admin_listen, loaded.config->admin_listen);
    if (admin_moves && !open_admin(loaded.config->admin_listen, admin, error)) loaded.errors.push_back(error);
    if (loaded.errors.empty() && !routes_->apply(loaded.config->routes, error)) loaded.errors.push_back(error);
    if (!loaded.errors.empty()) {
        ++failed_reloads_;
        std::string text;
        for (const auto& e : loaded.errors) {
            log::error("reload: config error").kv("error", e);
            text += e + "\n";
        }
        log::error("reload failed: still running the previous config")
            .kv("by", by)
            .kv("config", config_file_.string())
            .kv("errors", static_cast<uint64_t>(loaded.errors.size()))
            .kv("generation", generation_)
            .kv("failed_reloads", failed_reloads_);
        return {false, text + "reload failed: still running generation " + std::to_string(generation_) + "\n"};
    }
    bool network_changed = !same_network_settings(config_.network, loaded.config->network);
    config_ = std::move(*loaded.config);
    if (admin_moves) {
        retired_admin_ = std::exchange(admin_, std::move(admin));
        if (retired_admin_) retired_admin_->stop_accepting();
    }
    apply_process_settings();
    if (network_changed) start_network_monitor();  // replaces the old one
    ++generation_;
    ++reloads_;
    log::info("reloaded")
        .kv("by", by)
        .kv("config", config_file_.string())
        .kv("generation", generation_)
        .kv("routes", static_cast<uint64_t>(config_.routes.size()))
        .kv("reloads", reloads_);
    return {true, "reloaded " + config_file_.string() + ": generation " + std::to_string(generation_) + ", " +
                      std::to_string(config_.routes.size()) + " routes\n"};
}

void Daemon::begin_shutdown(int signum) {
    if (shutting_down_) {
        log::warn("second signal: stopping now").kv("signal", signum);
        force_shutdown();
        return;
    }
    shutting_down_ = true;
    transports_.close_promptly_from_now_on();
    log::info("shutting down").kv("signal", signum).kv("sessions", static_cast<uint64_t>(routes_->session_count()))
        .kv("timeout_ms", config_.shutdown_timeout_ms);
    shutdown_timer_ = std::make_unique<Timer>(&loop_);
    shutdown_timer_->start(config_.shutdown_timeout_ms, [this] {
        log::warn("shutdown timeout: closing remaining connections");
        force_shutdown();
    });
    // A network change or wake during the drain changes nothing now; the
    // admin endpoint goes with the process handles (it would keep the loop up).
    network_.reset();
    admin_.reset();
    retired_admin_.reset();
    routes_->shut_down([this] { on_routes_idle(); });
}

void Daemon::on_routes_idle() {
    // Every session is done. Connections may still be writing their last
    // bytes and FIN: they close once written, and the loop ends with them. The
    // shutdown deadline stays armed (without keeping the loop alive) in case one never drains.
    close_process_handles();
    if (shutdown_timer_) shutdown_timer_->unref();
}

void Daemon::force_shutdown() {
    routes_->close_all();
    shutdown_timer_.reset();
    close_process_handles();
    transports_.close_all();
}

// After a burst (hundreds of apps reconnecting after a gateway restart, then
// leaving), the C library keeps the freed memory in its arenas. Every 30 s,
// if sessions came or went since the last look, hand free pages back to the
// system (a few milliseconds for a heap of tens of MiB). It looks while apps
// are connected (or upstreams pooled) and once more after that ends, then
// sleeps until the next app connects or upstream is pooled: an idle
// loopgate has no timer running.
void Daemon::watch_memory() {
    memory_timer_->start(30000, [this] {
        size_t sessions = routes_->session_count();
        uint64_t accepted = routes_->sessions_accepted();
        if (sessions < sessions_at_last_check_ || accepted != accepted_at_last_check_) release_free_memory();
        sessions_at_last_check_ = sessions;
        accepted_at_last_check_ = accepted;
        if (process_load_.busy()) watch_memory();
    });
}

void Daemon::on_network_changed(const std::string& changes) {
    if (shutting_down_) return;
    log::info("network changed").kv("changes", changes);
    ++network_changes_;
    last_network_change_ = changes;
    last_network_change_ms_ = clock_.now_ms();
    routes_->network_changed(path_lookup_.get());
}

bool Daemon::open_admin(const std::optional<config::ListenAddress>& listen, std::unique_ptr<AdminServer>& out,
                        std::string& error) {
    out.reset();
    if (!listen) return true;
    auto admin = std::make_unique<AdminServer>(&loop_, &socket_files_, peer_owner_.get(), geteuid(), [this] { return status(); },
                                               [this] { return reload_now("admin"); });
    if (!admin->start(*listen, error)) {
        error = "admin.listen: " + error;
        return false;
    }
    out = std::move(admin);
    return true;
}

StatusView Daemon::status() const {
    StatusView view;
    view.version = LOOPGATE_VERSION;
    std::error_code ignored;  // the working directory is where it was at start: absolute() names the same file
    view.config_file = std::filesystem::absolute(config_file_, ignored).lexically_normal().string();
    view.generation = generation_;
    view.reloads = reloads_;
    view.failed_reloads = failed_reloads_;
    view.network_changes = network_changes_;
    view.last_network_change = last_network_change_;
    uint64_t now = clock_.now_ms();
    view.last_network_change_age_ms = last_network_change_.empty() ? 0 : now - last_network_change_ms_;
    view.uptime_ms = now - started_ms_;
    view.routes = routes_->views();
    view.pid = static_cast<uint64_t>(::getpid());
    view.session = login_session_name(login_session_);
    view.recent_problems = recent_problems_.lines();
    view.problems_logged = recent_problems_.total();
    view.wake_watch = network_ ? network_->wake_watch_state() : "off";
    return view;
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
