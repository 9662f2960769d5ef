// One run of the load client, in one of three modes:
//   echo: CONNS sessions, each keeping INFLIGHT messages of SIZE bytes in
//         flight; counts messages, bytes and latencies over the window
//         (W1 small messages, W2 bulk, W3 round trip).
//   open: OPENERS loops of new sessions: connect, upgrade, one message, close
//         handshake; counts sessions per second (W4).
//   hold: opens CONNS sessions (one echo each) and holds them idle; reports on
//         stdout, then on the line "verify" from stdin makes every held session
//         echo once more and reports again; stdin's end ends the run (W5, W6).
// Every loop is bounded: each session's opening and each echo by
// --timeout, each window by --warmup and --duration.
#pragma once

#include <uv.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "client_conn.hpp"
#include "proc_stat.hpp"

namespace bench {

struct Options {
    std::string url;
    std::string connect_to;
    std::string ca;
    std::string path = "/echo";
    std::string mode = "echo";
    uint32_t conns = 1;
    uint32_t inflight = 1;
    size_t size = 64;
    double warmup = 1;
    double duration = 5;
    uint32_t openers = 8;
    uint32_t open_concurrency = 64;
    double timeout = 10;
    std::vector<Watched> watched;
};

class Run : public ConnEvents {
public:
    Run(uv_loop_t* loop, const Options& options, const Target& target);
    ~Run() override;
    void start();
    int exit_status() const { return exit_status_; }

    void opened(Conn& conn) override;
    void echoed(Conn& conn, uint64_t latency_ns) override;
    void ended(Conn& conn, const std::string& reason) override;
    SSL_SESSION* session_for(int slot) override;
    void keep_session(int slot, SSL_SESSION* session) override;

private:
    static void on_tick(uv_timer_t* timer);
    static void on_stdin(uv_poll_t* poll, int status, int events);
    void tick();
    void open_one(int slot);
    void open_more();
    void all_settled();
    void begin_window();
    void end_window();
    void expire_slow(uint64_t now);
    void report_held();
    void start_verify();
    void report_verify();
    void stop();
    void count_error(const std::string& reason) { ++errors_[reason]; }
    std::string errors_json() const;
    std::string cpu_json() const;
    std::string latency_json() const;

    uv_loop_t* loop_;
    const Options& options_;
    const Target& target_;
    uv_timer_t tick_{};
    uv_poll_t stdin_poll_{};
    bool stdin_polling_ = false;
    int exit_status_ = 0;
    bool stopping_ = false;

    std::set<Conn*> live_;
    std::set<Conn*> held_;
    std::set<Conn*> verifying_;
    uint32_t next_id_ = 0;
    uint32_t started_ = 0;
    uint32_t opened_ = 0;
    uint32_t done_opening_ = 0;  // echo: opened or failed; hold: held or failed
    uint32_t failed_ = 0;   // sessions that never opened
    uint32_t lost_ = 0;     // sessions that ended after they opened
    std::map<std::string, uint64_t> errors_;
    std::vector<SSL_SESSION*> sessions_;
    bool settled_ = false;
    uint64_t settled_ns_ = 0;
    uint64_t first_start_ns_ = 0;

    // The measured window.
    bool measuring_ = false;
    uint64_t window_start_ns_ = 0;
    uint64_t window_end_ns_ = 0;
    uint64_t messages_ = 0;
    uint64_t bytes_ = 0;
    uint64_t sessions_done_ = 0;
    uint64_t sessions_resumed_ = 0;
    uint64_t window_errors_ = 0;
    std::vector<uint64_t> latencies_;
    std::vector<double> cpu_start_;
    std::vector<double> cpu_used_;
    double own_cpu_start_ = 0;
    double own_cpu_used_ = 0;

    // Verification of held sessions.
    uint64_t verify_deadline_ns_ = 0;
    uint32_t verified_ = 0;
    uint32_t verify_failed_ = 0;
    std::string stdin_text_;
};

}  // namespace bench
