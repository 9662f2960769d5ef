#include "route_set.hpp"

#include <algorithm>
#include <chrono>
#include <optional>

#include "exit_status.hpp"
#include "log.hpp"
#include "route_health.hpp"
#include "upstream_pool.hpp"
#include "upstream_dialer.hpp"

namespace loopgate {

RouteSet::RouteSet(Environment environment) : env_(environment), reaper_(environment.loop) {}

RouteSet::~RouteSet() = default;

std::shared_ptr<RouteSettings> RouteSet::prepare(const config::Route& route, std::string& error) const {
    auto settings = std::make_shared<RouteSettings>();
    settings->config = route;
    if (!route.upstream.tls) {
        log::warn("upstream is plaintext: traffic to it is not encrypted")
            .kv("route", route.name)
            .kv("upstream", route.upstream.text());
        return settings;
    }
    settings->tls = tls::make_upstream_context(route, *env_.trust, error);
    if (!settings->tls) {
        error = "route \"" + route.name + "\": cannot prepare TLS: " + error;
        return nullptr;
    }
    // Which anchors a route trusts is the first thing to check when
    // verification fails, so it is said whenever a route is set up.
    log::info("upstream TLS")
        .kv("route", route.name)
        .kv("verify", route.tls.verify == config::TlsVerify::full ? "full" : "pin-only")
        .kv("pins", static_cast<uint64_t>(route.tls.pins.size()))
        .kv("client_cert", route.tls.client_cert ? route.tls.client_cert->string() : std::string("-"))
        .kv("trust", tls::trust_description(settings->tls.get()));
    return settings;
}

bool RouteSet::check_users(const config::Route& route, std::string& error) const {
    if (route.listen.is_unix()) return true;  // the socket file's mode keeps other users out
    if (route.allow_other_users) {
        log::warn("route lets other users in: any local user's app may use its upstream")
            .kv("route", route.name)
            .kv("allow_other_users", true);
        return true;
    }
    if (env_.peer_owner == nullptr) {
        error = "route \"" + route.name + "\": cannot tell which user an app connection comes from (" +
                env_.peer_owner_error + "), and a TCP route lets in only loopgate's user unless allow_other_users " +
                "is true: set allow_other_users to true on this route to let every local user in";
        return false;
    }
    if (!route.listen.is_loopback) {
        log::warn("route listens beyond loopback: a connection from another machine has no local owner and is refused")
            .kv("route", route.name)
            .kv("hint", "allow_other_users lets other machines (and users) in");
    }
    return true;
}

bool RouteSet::open_route(std::shared_ptr<RouteSettings> settings, Running& out, std::string& error, int activated_fd) {
    // Kept alive here: the listener replaces runtime->settings (with its access policy) when it starts.
    RouteSettingsPtr keep = settings;
    const config::Route& config = keep->config;
    auto runtime = std::make_unique<RouteRuntime>();
    runtime->settings = std::move(settings);
    runtime->process = env_.process;
    runtime->clock = env_.clock;
    runtime->transports = env_.transports;
    runtime->socket_files = env_.socket_files;
    runtime->peer_owner = env_.peer_owner;
    runtime->own_uid = env_.own_uid;
    runtime->dialers = std::make_unique<UpstreamDialers>(env_.loop, runtime->stats, env_.transports);
    runtime->health = std::make_unique<RouteHealth>(*runtime);
    runtime->pool = std::make_unique<UpstreamPool>(*env_.clock, env_.process);
    auto listener = std::make_unique<Listener>(env_.loop, *runtime);
    bool started = activated_fd >= 0 ? listener->start_on(activated_fd, error) : listener->start(error);
    if (!started) {
        error = "route \"" + config.name + "\": " + error;
        return false;
    }
    log::Line line(log::Level::info, "listening");
    line.kv("route", config.name).kv("address", listener->bound_address()).kv("upstream", config.upstream.text());
    if (activated_fd >= 0) line.kv("socket", "handed over");
    if (config.connect_to) line.kv("connect_to", *config.connect_to);
    out.runtime = std::move(runtime);
    out.listener = std::move(listener);
    return true;
}

int RouteSet::start(const std::vector<config::Route>& routes, ActivatedSockets& activated) {
    // One socket without a name and one route: they go together.
    if (routes.size() == 1 && activated.by_name.empty() && activated.unnamed.size() == 1) {
        activated.by_name[routes[0].name].push_back(activated.unnamed[0]);
        activated.unnamed.clear();
    }
    for (const auto& route : routes) {
        int fd = -1;
        if (auto found = activated.by_name.find(route.name); found != activated.by_name.end() && !found->second.empty()) {
            fd = found->second.front();
            found->second.erase(found->second.begin());
            if (found->second.empty()) activated.by_name.erase(found);
        }
        std::string error;
        if (!check_users(route, error)) {
            log::error("cannot start route").kv("route", route.name).kv("error", error);
            return kExitConfig;
        }
        auto settings = prepare(route, error);
        if (!settings) {
            log::error("cannot prepare TLS").kv("route", route.name).kv("error", error);
            return kExitConfig;
        }
        Running running;
        if (!open_route(std::move(settings), running, error, fd)) {
            log::Line line(log::Level::error, "cannot listen");
            line.kv("route", route.name).kv("error", error);
            if (!route.listen.is_unix() && error.find("address already in use") != std::string::npos) {
                std::string port = std::to_string(route.listen.port);
                line.kv("hint", route.listen.text() + " is in use by another process; `lsof -iTCP:" + port +
                                    " -sTCP:LISTEN` shows which");
            }
            return kExitUnavailable;
        }
        active_.push_back(std::move(running));
    }
    return kExitOk;
}

RouteSet::Running* RouteSet::find(const std::string& name) {
    for (auto& running : active_) {
        // A reload moves routes out of active_ one by one: those are gone already.
        if (running.runtime != nullptr && running.runtime->settings->config.name == name) return &running;
    }
    return nullptr;
}

bool RouteSet::apply(const std::vector<config::Route>& routes, std::string& error) {
    // First everything that can fail, changing nothing that runs.
    std::vector<std::shared_ptr<RouteSettings>> prepared;
    for (const auto& route : routes) {
        if (!check_users(route, error)) return false;
        auto settings = prepare(route, error);
        if (!settings) return false;
        prepared.push_back(std::move(settings));
    }
    std::vector<Running> opened(routes.size());
    for (size_t i = 0; i < routes.size(); ++i) {
        Running* old = find(routes[i].name);
        if (old != nullptr && old->runtime->settings->config.listen.text() == routes[i].listen.text()) continue;
        // New listeners only bound so far: no app has reached them, so they go without a trace.
        if (!open_route(prepared[i], opened[i], error)) return false;
    }
    // Then the switch, all at once.
    std::vector<Running> next;
    for (size_t i = 0; i < routes.size(); ++i) {
        Running* old = find(routes[i].name);
        if (opened[i].listener) {
            if (old != nullptr) {
                log::info("route moves").kv("route", routes[i].name).kv("from", old->listener->bound_address());
                retire(std::move(*old));  // leaves *old empty
            } else {
                log::info("route added").kv("route", routes[i].name);
            }
            next.push_back(std::move(opened[i]));
            continue;
        }
        RouteSettingsPtr before = old->runtime->settings;
        bool same_upstream = before->config.upstream.text() == routes[i].upstream.text() &&
                             before->config.connect_to == routes[i].connect_to;
        bool resumable = same_upstream && before->tls && prepared[i]->tls && before->config.tls == routes[i].tls &&
                         tls::carry_session(before->tls.get(), prepared[i]->tls.get());
        old->listener->use_settings(prepared[i]);
        if (!same_upstream) old->runtime->health->upstream_changed();
        old->runtime->pool->clear();  // made for the old settings: new requests dial afresh
        log::info("route updated")
            .kv("route", routes[i].name)
            .kv("address", old->listener->bound_address())
            .kv("upstream", same_upstream ? "unchanged" : routes[i].upstream.text())
            .kv("tls_session", resumable ? "kept" : prepared[i]->tls ? "new" : "-");
        next.push_back(std::move(*old));  // leaves *old empty
    }
    for (auto& left : active_) {
        if (left.runtime == nullptr) continue;
        log::info("route removed").kv("route", left.runtime->settings->config.name)
            .kv("sessions", static_cast<uint64_t>(left.listener->session_count()));
        retire(std::move(left));
    }
    active_ = std::move(next);
    return true;
}

void RouteSet::retire(Running running) {
    running.runtime->health->stop();  // no more retries for a route that accepts no one
    running.runtime->pool->close();
    Listener* listener = running.listener.get();
    retiring_.push_back(std::move(running));
    listener->retire([this] { reaper_.start(0, [this] { reap_retired(); }); });
}

void RouteSet::reap_retired() {
    auto idle = [](const Running& r) { return r.listener->session_count() == 0; };
    retiring_.erase(std::remove_if(retiring_.begin(), retiring_.end(), idle), retiring_.end());
}

void RouteSet::network_changed(PathLookup* lookup) {
    // One lookup per distinct upstream address, over every route.
    std::optional<PathCache> paths;
    if (lookup != nullptr) paths.emplace(*lookup);
    for (auto* group : {&active_, &retiring_}) {
        for (auto& running : *group) {
            RouteRuntime& route = *running.runtime;
            const config::Route& config = route.settings->config;
            Listener::NetworkCheck checked =
                running.listener->check_sessions(paths ? &*paths : nullptr, config.liveness.probe_timeout_ms);
            route.health->network_changed();
            log::info("probing upstream sessions")
                .kv("route", config.name)
                .kv("sessions", static_cast<uint64_t>(checked.probed))
                .kv("closed_path_gone", static_cast<uint64_t>(checked.closed))
                .kv("closed_idle_http_upstreams", static_cast<uint64_t>(checked.pooled_closed))
                .kv("timeout_ms", config.liveness.probe_timeout_ms)
                .kv("upstream_state", RouteHealth::state_name(route.health->state()));
        }
    }
    if (paths && paths->lookups() > 0) {
        log::debug("upstream paths looked up").kv("addresses", static_cast<uint64_t>(paths->lookups()));
    }
}

std::string RouteSet::address_of(const std::string& name) const {
    for (const auto& running : active_) {
        if (running.runtime->settings->config.name == name) return running.listener->bound_address();
    }
    return "";
}

std::vector<RouteView> RouteSet::views() const {
    std::vector<RouteView> views;
    auto started_ms_ago = [](const SessionRecord& record) {
        auto age = std::chrono::steady_clock::now() - record.started;
        return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(age).count());
    };
    for (const auto* group : {&active_, &retiring_}) {
        for (const auto& running : *group) {
            const RouteRuntime& route = *running.runtime;
            const RouteHealth& health = *route.health;
            RouteView view;
            view.name = route.settings->config.name;
            view.listen = running.listener->bound_address();
            view.upstream = route.settings->config.upstream.text();
            view.state = RouteHealth::state_name(health.state());
            view.down_reason = health.down_reason();
            view.unreached_reason = health.unreached_reason();
            view.down_for_ms = health.down_for_ms();
            view.held = health.held_count();
            view.retiring = group == &retiring_;
            if (route.settings->tls) view.tls_sessions_cached = tls::cached_sessions(route.settings->tls.get());
            view.stats = route.stats;
            running.listener->for_each_session([&](const Session& session) {
                const SessionRecord& r = session.record();
                view.sessions.push_back({r.app_address, r.path.empty() ? "-" : r.path, r.upstream_address,
                                         Session::phase_name(session.phase()), r.tls_resumed ? r.tls_resumed : "",
                                         started_ms_ago(r), r.bytes_from_app, r.bytes_from_upstream});
            });
            views.push_back(std::move(view));
        }
    }
    return views;
}

uint64_t RouteSet::sessions_accepted() const {
    uint64_t accepted = 0;
    for (const auto* group : {&active_, &retiring_}) {
        for (const auto& running : *group) accepted += running.runtime->stats.sessions_accepted;
    }
    return accepted;
}

size_t RouteSet::session_count() const {
    size_t sessions = 0;
    for (const auto* group : {&active_, &retiring_}) {
        for (const auto& running : *group) sessions += running.listener->session_count();
    }
    return sessions;
}

void RouteSet::shut_down(std::function<void()> on_idle) {
    std::vector<Running*> all;
    for (auto* group : {&active_, &retiring_}) {
        for (auto& running : *group) all.push_back(&running);
    }
    // No more retries toward down upstreams: their timers would keep the loop alive.
    for (Running* running : all) {
        running->runtime->health->stop();
        running->runtime->pool->close();  // idle connections would keep the loop alive
    }
    busy_ = all.size() + 1;  // +1: on_idle cannot run before every listener was told
    auto one_idle = [this, on_idle] {
        if (--busy_ == 0) on_idle();
    };
    for (Running* running : all) running->listener->shut_down(one_idle);
    one_idle();
}

void RouteSet::close_all() {
    // Listeners first (they delete their sessions), then the runtimes those used.
    for (auto* group : {&active_, &retiring_}) {
        for (auto& running : *group) running.listener.reset();
    }
    active_.clear();
    retiring_.clear();
}

}  // namespace loopgate
