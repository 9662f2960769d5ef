// Listening sockets handed over by a service manager, so they exist before
// loopgate runs and outlive its restarts: an app that connects meanwhile
// waits in the kernel's queue instead of being refused.
//
//  - systemd (activation_systemd.cpp, every platform): LISTEN_PID, LISTEN_FDS
//    and LISTEN_FDNAMES (sd_listen_fds(3)); fds from 3 on. A socket unit
//    names each one with FileDescriptorName= after its route.
//  - launchd (activation_darwin.cpp, macOS only): the plist's Sockets
//    dictionary, one key per route name, taken with launch_activate_socket(3).
//
// Each socket is matched to the route of its name; with one unnamed socket
// and one route, they go together.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace loopgate {

struct ActivatedSockets {
    std::map<std::string, std::vector<int>> by_name;  // route name -> listening fds
    std::vector<int> unnamed;
    bool empty() const { return by_name.empty() && unnamed.empty(); }
};

// systemd's: takes the fds (marked close-on-exec) and clears the variables.
// `error` says why variables that are set cannot be used.
ActivatedSockets take_systemd_sockets(std::string& error);

// launchd's, for these route names (macOS; elsewhere nothing). A name the
// plist does not declare is simply not activated.
ActivatedSockets take_launchd_sockets(const std::vector<std::string>& route_names, std::string& error);

}  // namespace loopgate
