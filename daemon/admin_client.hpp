// `loopgate status` and `loopgate reload`: ask the running daemon's admin
// endpoint (the config's admin.listen) and print its answer; admin_request
// for other clients (`loopgate doctor`). Blocking and
// short: CLI commands, not the event loop.
#pragma once

#include <optional>
#include <string>

#include "config.hpp"

namespace loopgate {

struct AdminReply {
    int status = 0;  // the HTTP status; 0 when there was no usable answer (`error` says why)
    std::string body;
    std::string error;       // "no answer from the admin endpoint at ADDRESS: Connection refused"
    bool connected = false;  // the connection was made (a bad answer, not no one listening)
};

// A blocking connect to a loopgate address (the admin endpoint's or a
// route's listener): why not, or nothing when it was accepted. The connection
// is held up to `hold_ms` (until the peer closes) before it is closed: a TCP
// listener asks the kernel who owns the connecting socket as it accepts, and
// one already closed has no owner left to tell (a warning in its log).
std::optional<std::string> try_connect(const config::ListenAddress& address, int hold_ms);

// One request to the admin endpoint at `listen` (5 s timeouts); prints nothing.
AdminReply admin_request(const config::ListenAddress& listen, const char* method, const char* path);

// `admin`: the config file's admin.listen (null: it has none). Exit status:
// 0 every route's upstream is up (or not known to be down), 1 a route is
// down, 69 (EX_UNAVAILABLE) the daemon does not answer, 78 no admin endpoint.
int run_status(const std::optional<config::ListenAddress>& admin);

// Exit status: 0 the config was reloaded, 1 it was refused (the previous one
// still runs; the daemon's reasons are printed), 69 no answer, 78 no admin endpoint.
int run_reload(const std::optional<config::ListenAddress>& admin);

}  // namespace loopgate
