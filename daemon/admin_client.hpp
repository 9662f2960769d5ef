// `loopgate status`: asks the running daemon's admin endpoint (the config's
// admin.listen) for /status.txt and prints it. Blocking and short: a CLI
// command, not the event loop.
#pragma once

#include "config.hpp"

namespace loopgate {

// Exit status: 0 every route's upstream is up (or not known to be down), 1 a
// route is down, 69 (EX_UNAVAILABLE) the daemon does not answer, 78 no
// admin endpoint in the config.
int run_status(const config::Config& config);

}  // namespace loopgate
