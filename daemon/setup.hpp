// `loopgate setup URL`: from a gateway URL to a written, checked config.
// Dials the gateway as `loopgate probe` does (the same steps are printed),
// chooses how to trust it (a verified chain: "full"; a self-signed
// certificate: "pin-only" with a pin the admin confirmed), picks a listen
// port and a route name, loads the config with the route added as `loopgate
// check` does and writes it (keeping the rest of the file's text). The
// command line is checked before anything is dialed (setup_options.hpp). Then it
// installs and starts the agent (setup_agent.hpp) and proves the path.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "service_manager.hpp"

namespace loopgate {

struct SetupOptions {
    std::string url;
    std::optional<std::string> name;
    std::optional<uint16_t> port;
    std::optional<std::string> ca_file;
    std::optional<std::string> pin;
    std::string config_path;
    bool force = false;    // replace a route of the same name or port
    bool dry_run = false;  // print what would be written and run, change nothing
    ServiceChoice service = ServiceChoice::auto_detect;  // who starts the agent (--service)
    std::chrono::milliseconds wait{10000};               // for the new listener (--wait)
    std::string argv0;                                   // to find this binary for the agent
};

// Exit: 0 written and the path works (or would be; or no service manager
// and the run command printed), 1 refused (certificate, pin, clash with a
// route or admin.listen: nothing written), 64 bad URL or options, 69 --port
// in use or no free port, the gateway cannot be reached (nothing written) or
// the agent did not start or the path through it failed (the config stays
// written), 78 the config (existing, or as it would be written) is invalid.
int run_setup(const SetupOptions& options);

}  // namespace loopgate
