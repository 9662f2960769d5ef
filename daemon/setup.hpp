// `loopgate setup URL`: from a gateway URL to a written, checked config.
// Dials the gateway as `loopgate probe` does (the same steps are printed),
// chooses how to trust it (a verified chain: "full"; a self-signed
// certificate: "pin-only" with a pin the admin confirmed), picks a listen
// port and a route name, adds the route to the config file (keeping the
// rest of its text) and loads the result as `loopgate check` does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace loopgate {

struct SetupOptions {
    std::string url;
    std::optional<std::string> name;
    std::optional<uint16_t> port;
    std::optional<std::string> ca_file;
    std::optional<std::string> pin;
    std::string config_path;
    bool force = false;    // replace a route of the same name or port
    bool dry_run = false;  // print what would be written, change nothing
};

// Exit: 0 written (or would be), 1 refused (certificate, pin, clash),
// 64 bad URL or options, 69 the gateway cannot be reached, 78 the config
// (existing or written) is invalid.
int run_setup(const SetupOptions& options);

}  // namespace loopgate
