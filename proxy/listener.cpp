#include "listener.hpp"

#include <cstdint>
#include <vector>

#include "log.hpp"
#include "peer_owner.hpp"
#include "upstream_pool.hpp"

namespace loopgate {

Listener::Listener(uv_loop_t* loop, RouteRuntime& route)
    : route_(route), socket_(loop, "route", route.settings->config.name, route.transports, route.socket_files) {}

Listener::~Listener() {
    stop_accepting();
    for (Session* session : sessions_) delete session;
}

bool Listener::start(std::string& error) {
    if (!socket_.start(config().listen, [this](Transport* app) { accept(app); }, error)) return false;
    use_settings(std::make_shared<RouteSettings>(*route_.settings));
    return true;
}

bool Listener::start_on(int fd, std::string& error) {
    if (!socket_.adopt(fd, [this](Transport* app) { accept(app); }, error)) return false;
    use_settings(std::make_shared<RouteSettings>(*route_.settings));
    return true;
}

void Listener::use_settings(std::shared_ptr<RouteSettings> settings) {
    settings->access = AccessPolicy::for_route(settings->config, socket_.bound_port());
    route_.settings = std::move(settings);
}

void Listener::stop_accepting() { socket_.stop(); }

void Listener::accept(Transport* app) {
    if (!admit(*app)) {
        app->close();  // nothing read, nothing answered
        return;
    }
    auto* session = new Session(route_, *this, app);
    sessions_.insert(session);
    session->start();
}

bool Listener::admit(Transport& app) {
    // A unix socket's file mode and directory keep other users out already.
    if (socket_.kind() != Transport::Kind::tcp || config().allow_other_users) return true;
    OwnerCheck check = check_owner(app, route_.peer_owner, route_.own_uid);
    if (!check.uid) {
        ++route_.stats.refused_owner_unknown;
        if (!route_.refusal_log.admit(config().name, "refused a connection: cannot tell which user it comes from", 0,
                                      check.error, route_.clock->now_ms())) {
            return false;
        }
        log::warn("refused a connection: cannot tell which user it comes from")
            .kv("route", config().name)
            .kv("app", app.peer())
            .kv("error", check.error);
        return false;
    }
    if (check.allowed) return true;
    ++route_.stats.refused_other_user;
    if (!route_.refusal_log.admit(config().name, "refused a connection from another user", 0,
                                  std::to_string(*check.uid), route_.clock->now_ms())) {
        return false;
    }
    log::warn("refused a connection from another user")
        .kv("route", config().name)
        .kv("app", app.peer())
        .kv("uid", static_cast<uint64_t>(*check.uid))
        .kv("loopgate_uid", static_cast<uint64_t>(route_.own_uid))
        .kv("hint", "only loopgate's user and root may use this route; allow_other_users lets every local user in");
    return false;
}

void Listener::on_session_finished(Session* session) {
    sessions_.erase(session);
    delete session;
    if (idle_wanted_) call_on_idle_if_empty();
}

void Listener::call_on_idle_if_empty() {
    if (!sessions_.empty() || !on_idle_) return;
    // Leaving (shutdown, or a reload retired the route): the counts of refusals
    // left out so far are written now, as no later line will bring them.
    route_.refusal_log.flush(config().name, UINT64_MAX);
    auto idle = std::move(on_idle_);
    on_idle_ = nullptr;
    idle();
}

void Listener::shut_down(std::function<void()> on_idle) {
    retire(std::move(on_idle));
    // Sessions may finish (and leave the list) while being told.
    std::vector<Session*> snapshot(sessions_.begin(), sessions_.end());
    for (Session* session : snapshot) {
        if (sessions_.count(session) != 0) session->shut_down();
    }
}

void Listener::retire(std::function<void()> on_idle) {
    stop_accepting();
    idle_wanted_ = true;
    on_idle_ = std::move(on_idle);
    call_on_idle_if_empty();
}

Listener::NetworkCheck Listener::check_sessions(PathCache* paths, uint32_t timeout_ms) {
    // A check can end a session (and erase it from the set) right away.
    std::vector<Session*> snapshot;
    for (Session* session : sessions_) {
        if (session->relaying()) snapshot.push_back(session);
    }
    NetworkCheck done;
    for (Session* session : snapshot) {
        if (sessions_.count(session) == 0) continue;
        switch (session->check_upstream(paths, timeout_ms)) {
        case Session::AfterNetworkChange::probed: ++done.probed; break;
        case Session::AfterNetworkChange::closed: ++done.closed; break;
        case Session::AfterNetworkChange::left_alone: break;
        }
    }
    if (route_.pool) {
        done.pooled_closed = route_.pool->idle();
        route_.pool->clear();
    }
    return done;
}

}  // namespace loopgate
