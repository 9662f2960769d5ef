// The admin endpoint: a small HTTP/1.1 server on loopback or a unix socket,
// off unless the config's admin.listen says where. One request per
// connection, GET only:
//   /healthz   200 "ok" while the process runs
//   /readyz    200 when no route's upstream is down, else 503; a line per route
//   /status    JSON: version, config, routes, health, sessions
//   /status.txt  the same for a person (what `loopgate status` prints); 503 when a route is down
//   /metrics   Prometheus text format
// and POST /reload: reads the config file again (as SIGHUP does); 200 with
// the new generation, or 409 with the errors and the old config still running.
// The same Host check as a route's listener; any Origin is refused, so no
// web page can read it.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "access_policy.hpp"
#include "admin_report.hpp"
#include "config.hpp"
#include "listening_socket.hpp"
#include "peer_owner.hpp"

namespace loopgate {

class AdminServer {
public:
    using Snapshot = std::function<StatusView()>;
    struct ReloadResult {
        bool applied = false;
        std::string text;  // what happened, for a person
    };
    using Reload = std::function<ReloadResult()>;

    // `files` make a unix socket endpoint's file private (the daemon's UnixSocketFiles);
    // on TCP, `owners` tells who is at the other end: only `self` and root get in.
    AdminServer(uv_loop_t* loop, SocketFiles* files, PeerOwner* owners, uid_t self, Snapshot snapshot, Reload reload);
    ~AdminServer();
    AdminServer(const AdminServer&) = delete;
    AdminServer& operator=(const AdminServer&) = delete;

    bool start(const config::ListenAddress& listen, std::string& error);
    const std::string& bound_address() const { return socket_.bound_address(); }
    // No more connections; those under way are still answered.
    void stop_accepting() { socket_.stop(); }

private:
    class Exchange;
    friend class Exchange;

    void accept(Transport* connection);
    void finished(Exchange* exchange);

    uv_loop_t* loop_;
    Snapshot snapshot_;
    Reload reload_;
    PeerOwner* owners_;
    uid_t self_;
    ListeningSocket socket_;
    AccessPolicy access_;
    std::unordered_set<Exchange*> exchanges_;
};

}  // namespace loopgate
