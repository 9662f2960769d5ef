// The last phase of `loopgate setup`: with the config written (or, in a dry
// run, shown), install and start the agent through the service manager, wait
// for the new listener, prove the path with a WebSocket upgrade through it,
// and end with the one line that matters: `point your app at ws://127.0.0.1:PORT/`.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "config.hpp"
#include "service_manager.hpp"

namespace loopgate {

struct AgentPhase {
    ServiceManager& manager;
    std::string config_path;
    uint16_t port = 0;
    bool dry_run = false;
    std::chrono::milliseconds wait{10000};  // for the new listener to accept
    // The config's admin endpoint: with no service manager, a loopgate that
    // already runs from this file is asked through it to read the file again.
    std::optional<config::ListenAddress> admin;
};

// Exit: 0 the path works (101, or 401/403 from a gateway that wants a token),
// or nobody starts loopgate here (and none runs from this file: one that does
// is reloaded through its admin endpoint and the path proven) and the command
// to run was printed, or a dry run; 69 the agent could not be installed or started, nothing listened in
// time, a loopgate running from the file refused to reload it, or the upgrade through the listener failed — with what to look at
// (the agent's state and log, `loopgate doctor`) on stderr.
int start_agent_and_prove(const AgentPhase& phase);

}  // namespace loopgate
