// The routes the daemon runs, and what a reload does to them.
//
// A route is its runtime (health, counters) and its listener (the socket and
// the sessions it accepted). A reload builds new settings for every route of
// the new config and applies them all, or nothing:
//  - a route whose name and listen address stay keeps its listener and its
//    runtime; sessions accepted from then on start with the new settings,
//    sessions under way keep theirs;
//  - a new route, or one whose listen address changed, gets a new listener;
//  - a removed route (or the old listener of a changed one) stops accepting
//    and is kept until its last session ends.
// Nothing is changed when a new listener cannot start, TLS cannot be set up
// or a TCP route that keeps other users out has no way to tell them apart.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clock.hpp"
#include "activation.hpp"
#include "admin_report.hpp"
#include "config.hpp"
#include "listener.hpp"
#include "path_lookup.hpp"
#include "peer_owner.hpp"
#include "route.hpp"
#include "timer.hpp"
#include "transport.hpp"

namespace loopgate {

class RouteSet {
public:
    struct Environment {
        uv_loop_t* loop;
        Clock* clock;
        TransportSet* transports;
        ProcessLoad* process;
        const tls::TrustAnchors* trust;  // where "full" routes' anchors come from
        SocketFiles* socket_files;       // unix socket listeners' files
        // Who owns an app's TCP socket (the daemon's, or null and why not);
        // a TCP route without allow_other_users cannot start without it.
        PeerOwner* peer_owner = nullptr;
        std::string peer_owner_error;
        uid_t own_uid = 0;  // the user a TCP route lets in, with root
    };

    explicit RouteSet(Environment environment);
    ~RouteSet();
    RouteSet(const RouteSet&) = delete;
    RouteSet& operator=(const RouteSet&) = delete;

    // Starts every route, on the socket handed over for it when there is one
    // (taken out of `activated`). Returns an exit status: 0, kExitConfig when
    // TLS cannot be set up or a TCP route cannot tell users apart (see
    // PeerOwner), kExitUnavailable when a listener cannot start.
    int start(const std::vector<config::Route>& routes, ActivatedSockets& activated);
    // A reload: true when applied; false (and `error`) when nothing changed.
    bool apply(const std::vector<config::Route>& routes, std::string& error);

    // The network changed: every relaying session whose upstream path is
    // gone (asked of `lookup`, once per upstream address; null: cannot be
    // asked) is closed 1012 at once, the others probed; down routes retry now.
    void network_changed(PathLookup* lookup);
    size_t session_count() const;
    // App connections accepted so far, over every route (for the memory check).
    uint64_t sessions_accepted() const;
    // The address a route listens on ("" for no such route), and how many
    // removed routes still drain their sessions.
    std::string address_of(const std::string& name) const;
    // Every route's state and sessions, for the admin endpoint.
    std::vector<RouteView> views() const;
    size_t retiring_count() const { return retiring_.size(); }
    // Shutdown: no more retries, every session told (503 or close 1001); on_idle once all are done.
    void shut_down(std::function<void()> on_idle);
    // The shutdown deadline: closes whatever is left.
    void close_all();

private:
    struct Running {
        std::unique_ptr<RouteRuntime> runtime;
        std::unique_ptr<Listener> listener;
    };

    std::shared_ptr<RouteSettings> prepare(const config::Route& route, std::string& error) const;
    // Whether the route can keep other users out as it says (or need not);
    // logs what a route that lets them in, or listens beyond loopback, means.
    bool check_users(const config::Route& route, std::string& error) const;
    bool open_route(std::shared_ptr<RouteSettings> settings, Running& out, std::string& error, int activated_fd = -1);
    void retire(Running running);
    void reap_retired();
    Running* find(const std::string& name);

    Environment env_;
    std::vector<Running> active_;
    std::vector<Running> retiring_;  // removed by a reload; draining their sessions
    Timer reaper_;                   // frees retired routes outside their sessions' callbacks
    size_t busy_ = 0;                // listeners not yet idle during shutdown
};

}  // namespace loopgate
