#include "listener.hpp"

#include <arpa/inet.h>

#include <vector>

#include "address_text.hpp"
#include "log.hpp"
#include "unix_socket.hpp"

namespace loopgate {

Listener::Listener(uv_loop_t* loop, RouteRuntime& route) : loop_(loop), route_(route) {}

Listener::~Listener() {
    stop_accepting();
    for (Session* session : sessions_) delete session;
}

bool Listener::start(std::string& error) {
    server_ = new Server{};
    server_->owner = this;
    bool listening = config().listen.is_unix() ? listen_unix(error) : listen_tcp(error);
    if (!listening) {
        stop_accepting();
        return false;
    }
    use_settings(std::make_shared<RouteSettings>(*route_.settings));
    return true;
}

void Listener::use_settings(std::shared_ptr<RouteSettings> settings) {
    settings->access = AccessPolicy::for_route(settings->config, bound_port_);
    route_.settings = std::move(settings);
}

bool Listener::listen_tcp(std::string& error) {
    const auto& listen = config().listen;
    sockaddr_in addr{};
    if (uv_ip4_addr(listen.host.c_str(), listen.port, &addr) != 0) {
        error = "invalid listen address " + listen.text();
        return false;
    }
    if (int rc = uv_tcp_init(loop_, &server_->handle.tcp)) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        delete server_;  // never a libuv handle: nothing to close
        server_ = nullptr;
        return false;
    }
    server_->handle.tcp.data = server_;
    int rc = uv_tcp_bind(&server_->handle.tcp, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_->handle), 511, on_connection);
    if (rc != 0) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        return false;
    }
    sockaddr_in bound{};
    int len = sizeof bound;
    if (int rc = uv_tcp_getsockname(&server_->handle.tcp, reinterpret_cast<sockaddr*>(&bound), &len)) {
        error = "cannot read the address bound for " + listen.text() + ": " + uv_strerror(rc);
        return false;
    }
    bound_port_ = ntohs(bound.sin_port);
    bound_ = ipv4_text(bound) + ":" + std::to_string(bound_port_);
    return true;
}

bool Listener::listen_unix(std::string& error) {
    const auto& listen = config().listen;
    if (int rc = uv_pipe_init(loop_, &server_->handle.pipe, 0)) {
        error = "cannot listen on " + listen.text() + ": " + uv_strerror(rc);
        delete server_;
        server_ = nullptr;
        return false;
    }
    server_->handle.pipe.data = server_;
    socket_file_ = std::make_unique<UnixSocketFile>(listen.unix_path);
    bool removed_stale = false;
    auto problem = socket_file_->prepare(removed_stale);
    if (removed_stale) {
        log::info("removed a stale socket file").kv("route", config().name).kv("path", listen.unix_path.string());
    }
    if (!problem) {
        int rc = uv_pipe_bind(&server_->handle.pipe, listen.unix_path.c_str());
        if (rc != 0) problem = uv_strerror(rc);
    }
    if (!problem) problem = socket_file_->claim();
    if (!problem) {
        int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&server_->handle), 511, on_connection);
        if (rc != 0) problem = uv_strerror(rc);
    }
    if (problem) {
        error = "cannot listen on " + listen.text() + ": " + *problem;
        return false;
    }
    bound_ = listen.text();
    return true;
}

void Listener::stop_accepting() {
    if (server_ == nullptr) return;
    server_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&server_->handle),
             [](uv_handle_t* h) { delete static_cast<Server*>(h->data); });
    server_ = nullptr;
    socket_file_.reset();  // removes the socket file, if it is still ours
}

void Listener::on_connection(uv_stream_t* stream, int status) {
    auto* server = static_cast<Server*>(stream->data);
    if (server->owner == nullptr) return;
    if (status < 0) {
        log::warn("accept failed").kv("route", server->owner->config().name).kv("error", uv_strerror(status));
        return;
    }
    server->owner->accept_one();
}

void Listener::accept_one() {
    auto kind = config().listen.is_unix() ? Transport::Kind::unix_socket : Transport::Kind::tcp;
    Transport* app = Transport::create(loop_, nullptr, kind, route_.transports);
    if (app->accept_from(reinterpret_cast<uv_stream_t*>(&server_->handle)) != 0) {
        app->close();
        return;
    }
    auto* session = new Session(route_, *this, app);
    sessions_.insert(session);
    session->start();
}

void Listener::on_session_finished(Session* session) {
    sessions_.erase(session);
    delete session;
    if (idle_wanted_ && sessions_.empty() && on_idle_) {
        auto idle = std::move(on_idle_);
        on_idle_ = nullptr;
        idle();
    }
}

void Listener::shut_down(std::function<void()> on_idle) {
    stop_accepting();
    idle_wanted_ = true;
    on_idle_ = std::move(on_idle);
    // Sessions may finish (and leave the list) while being told.
    std::vector<Session*> snapshot(sessions_.begin(), sessions_.end());
    for (Session* session : snapshot) {
        if (sessions_.count(session) != 0) session->shut_down();
    }
    if (sessions_.empty() && on_idle_) {
        auto idle = std::move(on_idle_);
        on_idle_ = nullptr;
        idle();
    }
}

void Listener::retire(std::function<void()> on_idle) {
    stop_accepting();
    idle_wanted_ = true;
    on_idle_ = std::move(on_idle);
    if (sessions_.empty() && on_idle_) {
        auto idle = std::move(on_idle_);
        on_idle_ = nullptr;
        idle();
    }
}

size_t Listener::probe_sessions(uint32_t timeout_ms) {
    // A probe can end a session (and erase it from the set) right away.
    std::vector<Session*> snapshot;
    for (Session* session : sessions_) {
        if (session->relaying()) snapshot.push_back(session);
    }
    for (Session* session : snapshot) {
        if (sessions_.count(session) != 0) session->probe_upstream(timeout_ms);
    }
    return snapshot.size();
}

}  // namespace loopgate
