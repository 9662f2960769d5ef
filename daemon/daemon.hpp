// The running process: the routes (RouteSet), signals (SIGTERM/SIGINT stop,
// SIGHUP reloads the config file, the rest are ignored), the network
// monitor, and the orderly shutdown.
#pragma once

#include <uv.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

#include "admin_server.hpp"
#include "clock.hpp"
#include "config.hpp"
#include "log.hpp"
#include "log_sink.hpp"
#include "login_session.hpp"
#include "recent_problems.hpp"
#include "network_monitor.hpp"
#include "path_lookup.hpp"
#include "peer_owner.hpp"
#include "route.hpp"
#include "route_set.hpp"
#include "timer.hpp"
#include "transport.hpp"
#include "trust_store.hpp"
#include "unix_socket_file.hpp"

namespace loopgate {

class Daemon {
public:
    // `config_file` is read again on SIGHUP; `log_level`, when set (the
    // command line's --log-level), wins over the file's at start and on reload.
    Daemon(config::Config config, std::filesystem::path config_file, std::optional<log::Level> log_level);
    ~Daemon();
    Daemon(const Daemon&) = delete;
    Daemon& operator=(const Daemon&) = delete;

    // Runs until SIGINT/SIGTERM and the drain that follows. Returns the
    // process exit status: 0 after a clean shutdown.
    int run();

private:
    struct SignalWatch {
        uv_signal_t handle;
        Daemon* owner;
        void (Daemon::*on_signal)(int);
    };

    bool watch_signal(int signum, void (Daemon::*on_signal)(int));
    void apply_process_settings();
    ActivatedSockets take_activated_sockets() const;
    void start_network_monitor();
    void reload(int signum);
    AdminServer::ReloadResult reload_now(const char* by);
    void begin_shutdown(int signum);
    void force_shutdown();
    void on_routes_idle();
    void close_process_handles();
    void on_network_changed(const std::string& changes);
    void on_busy_changed(bool busy);
    void watch_memory();
    // An admin endpoint for `listen` (none when unset); false and `error` when it cannot listen.
    bool open_admin(const std::optional<config::ListenAddress>& listen, std::unique_ptr<AdminServer>& out,
                    std::string& error);
    StatusView status() const;

    config::Config config_;
    std::filesystem::path config_file_;
    std::optional<log::Level> log_level_override_;
    RecentProblems recent_problems_;  // the last warnings and errors, for /status (and so doctor)
    StderrLogSink log_sink_;  // first in, last out: everything below may log while it goes
    uint64_t generation_ = 1;  // config generation: 1 at start, +1 per applied reload
    uint64_t reloads_ = 0;
    uint64_t failed_reloads_ = 0;
    uint64_t network_changes_ = 0;
    std::string last_network_change_;
    uint64_t last_network_change_ms_ = 0;
    uint64_t started_ms_ = 0;
    LoginSession login_session_ = LoginSession::unknown;  // asked once, at start
    uv_loop_t loop_{};
    int loop_error_ = 0;  // uv_loop_init failed (no descriptor for epoll/kqueue)
    LoopClock clock_{&loop_};
    TransportSet transports_;   // every connection, for the shutdown deadline
    ProcessLoad process_load_;  // the global connection limit, shared by every route
    // The system store as this process's environment names it (SSL_CERT_FILE, SSL_CERT_DIR).
    SystemTrustAnchors trust_ = SystemTrustAnchors::from_environment();
    UnixSocketFiles socket_files_;  // unix socket listeners' files: private, removed at the end
    // Who owns an app's TCP socket, for every route: one per process (one
    // netlink socket on Linux), opened before the routes start.
    std::unique_ptr<PeerOwner> peer_owner_;
    // Which way the kernel routes each upstream address, asked after a
    // network change (one netlink or routing socket per process).
    std::unique_ptr<PathLookup> path_lookup_;
    std::unique_ptr<RouteSet> routes_;
    std::unique_ptr<AdminServer> admin_;
    // The endpoint a reload moved away from, kept until the next reload: the
    // request that asked for the reload may be its own.
    std::unique_ptr<AdminServer> retired_admin_;
    std::vector<SignalWatch*> signals_;
    std::unique_ptr<NetworkMonitor> network_;
    std::unique_ptr<Timer> shutdown_timer_;
    std::unique_ptr<Timer> memory_timer_;
    size_t sessions_at_last_check_ = 0;
    uint64_t accepted_at_last_check_ = 0;
    bool shutting_down_ = false;
};

}  // namespace loopgate
