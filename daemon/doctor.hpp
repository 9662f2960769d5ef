// `loopgate doctor`: one command that says whether loopgate works here and,
// for each thing that does not, what to do. It checks the config as `check`
// does, asks the service manager (launchd, systemd) and the running loopgate
// (its admin endpoint) how the agent is, tries each route's listener, probes
// each route's upstream as `probe` does, compares this clock with the
// gateways', looks for the IPv6 trap on the Tailscale interface and shows the
// last warnings and errors loopgate logged. The judgements are pure
// (doctor_checks.hpp); this gathers the facts and prints the report.
#pragma once

#include <string>

#include "service_manager.hpp"

namespace loopgate {

struct DoctorOptions {
    std::string config_path;
    bool json = false;  // the report as JSON (doctor_report.hpp), for machines
};

// `service` (may be null: nothing is asked) says whether the agent is
// installed and loaded and where its log is; `runner` runs what the system
// is asked through (macOS: netstat). Prints the report on stdout.
// Exit: 0 no problem found (warnings may have been printed), 1 a problem found.
int run_doctor(const DoctorOptions& options, ServiceManager* service, CommandRunner& runner);

}  // namespace loopgate
