// `loopgate status` and `loopgate reload`: ask the running daemon's admin
// endpoint (the config's admin.listen) and print its answer. Blocking and
// short: CLI commands, not the event loop.
#pragma once

#include "config.hpp"

namespace loopgate {

// Exit status: 0 every route's upstream is up (or not known to be down), 1 a
// route is down, 69 (EX_UNAVAILABLE) the daemon does not answer, 78 no
// admin endpoint in the config.
int run_status(const config::Config& config);

// Exit status: 0 the config was reloaded, 1 it was refused (the previous one
// still runs; the errors are printed), 69 no answer, 78 no admin endpoint.
int run_reload(const config::Config& config);

}  // namespace loopgate
