// The running process: routes wired to listeners, signals, orderly shutdown.
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "clock.hpp"
#include "config.hpp"
#include "listener.hpp"
#include "network_monitor.hpp"
#include "route.hpp"
#include "timer.hpp"

namespace loopgate {

class Daemon {
public:
    explicit Daemon(config::Config config);
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
    };

    bool prepare_routes();
    bool start_listeners();
    bool watch_signal(int signum);
    void begin_shutdown(int signum);
    void force_shutdown();
    void on_listener_idle();
    void close_process_handles();
    void on_network_changed(const std::string& changes);

    config::Config config_;
    uv_loop_t loop_{};
    int loop_error_ = 0;  // uv_loop_init failed (no descriptor for epoll/kqueue)
    LoopClock clock_{&loop_};
    TransportSet transports_;   // every connection, for the shutdown deadline
    ProcessLoad process_load_;  // the global connection limit, shared by every route
    std::vector<std::unique_ptr<RouteRuntime>> routes_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<SignalWatch*> signals_;
    std::unique_ptr<NetworkMonitor> network_;
    std::unique_ptr<Timer> shutdown_timer_;
    bool shutting_down_ = false;
    size_t listeners_busy_ = 0;
};

}  // namespace loopgate
