#include "client_run.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace bench {

namespace {

constexpr uint64_t ms = 1000000;
constexpr size_t max_latencies = 20000000;
constexpr uint64_t verify_timeout_ns = 10000 * ms;

uint64_t seconds_ns(double s) { return static_cast<uint64_t>(s * 1e9); }

std::string quoted(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

std::string number(double value) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    return buffer;
}

}  // namespace

Run::Run(uv_loop_t* loop, const Options& options, const Target& target) : loop_(loop), options_(options), target_(target) {
    if (options_.mode == "open") sessions_.assign(options_.openers, nullptr);
}

Run::~Run() {
    for (SSL_SESSION* session : sessions_) SSL_SESSION_free(session);
}

void Run::start() {
    uv_timer_init(loop_, &tick_);
    tick_.data = this;
    uv_timer_start(&tick_, on_tick, 20, 20);
    first_start_ns_ = uv_hrtime();
    if (options_.mode == "open") {
        for (uint32_t slot = 0; slot < options_.openers; ++slot) open_one(static_cast<int>(slot));
        all_settled();  // the window starts after the warm-up, counted from now
    } else {
        open_more();
    }
}

void Run::open_one(int slot) {
    auto* conn = new Conn(loop_, target_, *this, next_id_++, slot);
    ++started_;
    std::string error;
    if (!conn->start(error)) {
        conn->destroy();
        ++failed_;
        if (options_.mode != "open") ++done_opening_;
        count_error(error);
        if (measuring_) ++window_errors_;
        return;
    }
    live_.insert(conn);
}

// echo and hold: keep up to open_concurrency sessions opening at once.
void Run::open_more() {
    const uint32_t total = options_.conns;
    while (!stopping_ && started_ < total && started_ - done_opening_ < options_.open_concurrency) open_one(-1);
    if (!settled_ && done_opening_ >= total) all_settled();
}

void Run::all_settled() {
    settled_ = true;
    settled_ns_ = uv_hrtime();
    if (options_.mode == "hold") report_held();
}

void Run::opened(Conn& conn) {
    ++opened_;
    if (options_.mode == "echo") {
        ++done_opening_;
        for (uint32_t i = 0; i < options_.inflight; ++i) conn.send_message();
        open_more();
    } else {
        conn.send_message();
    }
}

void Run::echoed(Conn& conn, uint64_t latency_ns) {
    if (options_.mode == "echo") {
        if (measuring_) {
            ++messages_;
            bytes_ += target_.message_size;
            if (latencies_.size() < max_latencies) latencies_.push_back(latency_ns);
        }
        if (!stopping_) conn.send_message();
    } else if (options_.mode == "open") {
        conn.send_close();
    } else if (verifying_.erase(&conn) > 0) {
        ++verified_;
        if (verifying_.empty()) report_verify();
    } else {
        held_.insert(&conn);
        ++done_opening_;
        open_more();
    }
}

void Run::ended(Conn& conn, const std::string& reason) {
    live_.erase(&conn);
    const bool was_held = held_.erase(&conn) > 0;
    const bool was_verifying = verifying_.erase(&conn) > 0;
    const bool was_open = conn.was_opened();
    const int slot = conn.slot();
    const uint64_t took = uv_hrtime() - conn.started_ns();
    const bool resumed = conn.resumed();
    conn.destroy();
    if (options_.mode == "open") {
        if (measuring_ && reason.empty()) {
            ++sessions_done_;
            if (resumed) ++sessions_resumed_;
            if (latencies_.size() < max_latencies) latencies_.push_back(took);
        }
        if (!reason.empty()) {
            count_error(reason);
            if (measuring_) ++window_errors_;
        }
        if (!stopping_) open_one(slot);
        return;
    }
    count_error(reason.empty() ? "closed" : reason);
    if (measuring_) ++window_errors_;
    // echo: a session lost after its 101; hold: one lost after it was held.
    const bool lost = options_.mode == "hold" ? was_held : was_open;
    if (lost) {
        ++lost_;
    } else {
        ++failed_;
        ++done_opening_;
    }
    if (was_verifying) {
        ++verify_failed_;
        if (verifying_.empty()) report_verify();
    }
    if (!lost) open_more();
}

SSL_SESSION* Run::session_for(int slot) { return slot >= 0 && static_cast<size_t>(slot) < sessions_.size() ? sessions_[slot] : nullptr; }

void Run::keep_session(int slot, SSL_SESSION* session) {
    if (slot < 0 || static_cast<size_t>(slot) >= sessions_.size()) {
        SSL_SESSION_free(session);
        return;
    }
    SSL_SESSION_free(sessions_[slot]);
    sessions_[slot] = session;
}

void Run::on_tick(uv_timer_t* timer) { static_cast<Run*>(timer->data)->tick(); }

void Run::tick() {
    const uint64_t now = uv_hrtime();
    expire_slow(now);
    if (stopping_) return;
    if (options_.mode == "hold") {
        if (!verifying_.empty() && now > verify_deadline_ns_) {
            for (Conn* conn : std::vector<Conn*>(verifying_.begin(), verifying_.end())) conn->abort("timeout: no echo while verifying");
        }
        return;
    }
    if (!settled_) return;
    if (!measuring_ && window_start_ns_ == 0 && now >= settled_ns_ + seconds_ns(options_.warmup)) begin_window();
    if (measuring_ && now >= window_start_ns_ + seconds_ns(options_.duration)) end_window();
}

// A session still opening, or waiting for an echo, past --timeout is given up.
void Run::expire_slow(uint64_t now) {
    const uint64_t limit = seconds_ns(options_.timeout);
    std::vector<Conn*> late;
    for (Conn* conn : live_) {
        const bool opening = !conn->is_open() && now - conn->started_ns() > limit;
        const bool stalled = conn->in_flight() > 0 && now - conn->oldest_sent_ns() > limit;
        if (opening || stalled) late.push_back(conn);
    }
    for (Conn* conn : late) conn->abort(conn->is_open() ? "timeout: no echo" : "timeout: opening");
    // A hold run whose openings all ended or expired has settled even if some were never started.
    if (!settled_ && options_.mode != "open" && now - first_start_ns_ > 4 * limit + seconds_ns(60)) all_settled();
}

void Run::begin_window() {
    measuring_ = true;
    window_start_ns_ = uv_hrtime();
    cpu_start_.clear();
    for (const Watched& w : options_.watched) cpu_start_.push_back(cpu_seconds(w.pids));
    own_cpu_start_ = own_cpu_seconds();
}

void Run::end_window() {
    measuring_ = false;
    window_end_ns_ = uv_hrtime();
    cpu_used_.clear();
    for (size_t i = 0; i < options_.watched.size(); ++i) cpu_used_.push_back(cpu_seconds(options_.watched[i].pids) - cpu_start_[i]);
    own_cpu_used_ = own_cpu_seconds() - own_cpu_start_;
    const double seconds = static_cast<double>(window_end_ns_ - window_start_ns_) / 1e9;
    std::string out = "{\"mode\":" + quoted(options_.mode) + ",\"seconds\":" + number(seconds);
    if (options_.mode == "echo") {
        out += ",\"conns\":" + std::to_string(options_.conns) + ",\"open\":" + std::to_string(live_.size()) +
               ",\"messages\":" + std::to_string(messages_) + ",\"bytes\":" + std::to_string(bytes_) +
               ",\"msgs_per_s\":" + number(static_cast<double>(messages_) / seconds) +
               ",\"mb_per_s\":" + number(static_cast<double>(bytes_) / seconds / 1e6);
    } else {
        out += ",\"sessions\":" + std::to_string(sessions_done_) + ",\"resumed\":" + std::to_string(sessions_resumed_) +
               ",\"sessions_per_s\":" + number(static_cast<double>(sessions_done_) / seconds);
    }
    out += ",\"window_errors\":" + std::to_string(window_errors_) + "," + latency_json() + "," + cpu_json() + "," + errors_json() + "}";
    std::printf("%s\n", out.c_str());
    std::fflush(stdout);
    if (window_errors_ > 0 || (options_.mode == "echo" && live_.size() < options_.conns)) exit_status_ = 3;
    stop();
}

std::string Run::latency_json() const {
    std::vector<uint64_t> sorted = latencies_;
    auto at = [&](double q) -> double {
        if (sorted.empty()) return 0;
        const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(q * static_cast<double>(sorted.size())));
        std::nth_element(sorted.begin(), sorted.begin() + static_cast<long>(i), sorted.end());
        return static_cast<double>(sorted[i]) / 1e3;
    };
    const double p50 = at(0.50);
    const double p99 = at(0.99);
    return "\"p50_us\":" + number(p50) + ",\"p99_us\":" + number(p99) + ",\"samples\":" + std::to_string(latencies_.size());
}

std::string Run::cpu_json() const {
    std::string out = "\"cpu_s\":{\"client\":" + number(own_cpu_used_);
    for (size_t i = 0; i < cpu_used_.size(); ++i) out += "," + quoted(options_.watched[i].name) + ":" + number(cpu_used_[i]);
    return out + "}";
}

std::string Run::errors_json() const {
    std::string out = "\"errors\":{";
    bool first = true;
    for (const auto& [reason, count] : errors_) {
        out += (first ? "" : ",") + quoted(reason) + ":" + std::to_string(count);
        first = false;
    }
    return out + "}";
}

void Run::report_held() {
    const double seconds = static_cast<double>(uv_hrtime() - first_start_ns_) / 1e9;
    std::printf("{\"mode\":\"hold\",\"event\":\"held\",\"wanted\":%u,\"held\":%zu,\"failed\":%u,\"lost\":%u,\"open_seconds\":%s,%s}\n",
                options_.conns, held_.size(), failed_, lost_, number(seconds).c_str(), errors_json().c_str());
    std::fflush(stdout);
    uv_poll_init(loop_, &stdin_poll_, STDIN_FILENO);
    stdin_poll_.data = this;
    stdin_polling_ = uv_poll_start(&stdin_poll_, UV_READABLE, on_stdin) == 0;
    if (!stdin_polling_) stop();
}

void Run::on_stdin(uv_poll_t* poll, int status, int) {
    auto* self = static_cast<Run*>(poll->data);
    char buffer[256];
    const ssize_t n = status < 0 ? 0 : read(STDIN_FILENO, buffer, sizeof buffer);
    if (n <= 0) {
        self->stop();
        return;
    }
    self->stdin_text_.append(buffer, static_cast<size_t>(n));
    size_t line;
    while ((line = self->stdin_text_.find('\n')) != std::string::npos) {
        const std::string command = self->stdin_text_.substr(0, line);
        self->stdin_text_.erase(0, line + 1);
        if (command == "verify") self->start_verify();
    }
}

void Run::start_verify() {
    verified_ = 0;
    verify_failed_ = 0;
    verify_deadline_ns_ = uv_hrtime() + verify_timeout_ns;
    const std::vector<Conn*> held(held_.begin(), held_.end());
    verifying_.insert(held.begin(), held.end());
    for (Conn* conn : held) {
        if (verifying_.count(conn) > 0) conn->send_message();
    }
    if (verifying_.empty()) report_verify();
}

void Run::report_verify() {
    std::printf("{\"mode\":\"hold\",\"event\":\"verified\",\"held\":%zu,\"verified\":%u,\"failed\":%u,\"lost\":%u,%s}\n", held_.size(),
                verified_, verify_failed_, lost_, errors_json().c_str());
    std::fflush(stdout);
}

void Run::stop() {
    if (stopping_) return;
    stopping_ = true;
    uv_stop(loop_);
}

}  // namespace bench
