// A route's listening socket and the sessions it accepted.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <unordered_set>
#include <string>

#include "listening_socket.hpp"
#include "route.hpp"
#include "session.hpp"

namespace loopgate {

class Listener final : private SessionOwner {
public:
    // Accepts with route.settings as they are when each app connects.
    Listener(uv_loop_t* loop, RouteRuntime& route);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Binds and listens, and completes route.settings with the access
    // policy for the port bound. Returns false and sets error when it cannot.
    bool start(std::string& error);
    // The same on a socket that already listens (socket activation).
    bool start_on(int fd, std::string& error);
    // The address actually bound ("127.0.0.1:41234" when the config said port
    // 0), or "unix:/path".
    const std::string& bound_address() const { return socket_.bound_address(); }

    uint16_t bound_port() const { return socket_.bound_port(); }
    // Sessions accepted from now on start with these settings, completed
    // with the access policy for the port bound (a reload keeping this listener).
    void use_settings(std::shared_ptr<RouteSettings> settings);

    void stop_accepting();
    // Asks every session to close (503 or close 1001); on_idle runs once none remain.
    void shut_down(std::function<void()> on_idle);
    // Accepts no more and lets every session run to its end; on_idle runs
    // (from a session's end, so it must not destroy the listener) once none remain.
    void retire(std::function<void()> on_idle);
    size_t session_count() const { return sessions_.size(); }
    template <typename F>
    void for_each_session(F&& f) const {
        for (const Session* session : sessions_) f(*session);
    }
    // After a network change: every relaying session's upstream checked
    // against `paths` (null: cannot be asked) and closed at once when its
    // path is gone, or else pinged (Session::check_upstream); and the route's
    // idle pooled HTTP upstream connections closed, every one: they were made
    // over the old path, the next request would be sent into it, and a new
    // one costs a resumed handshake.
    struct NetworkCheck {
        size_t probed = 0;
        size_t closed = 0;
        size_t pooled_closed = 0;
    };
    NetworkCheck check_sessions(PathCache* paths, uint32_t timeout_ms);
    RouteRuntime& route() { return route_; }

private:
    const config::Route& config() const { return route_.settings->config; }
    void accept(Transport* app);
    // Whether the app's TCP socket is our user's or root's (or the route lets
    // everyone in); false after logging and counting the refusal.
    bool admit(Transport& app);
    void call_on_idle_if_empty();
    void on_session_finished(Session* session) override;

    RouteRuntime& route_;
    ListeningSocket socket_;
    std::unordered_set<Session*> sessions_;
    std::function<void()> on_idle_;
    bool idle_wanted_ = false;  // shut_down or retire: call on_idle_ when the last session ends
};

}  // namespace loopgate
