// launchd socket activation (macOS only; compiled on Linux only against the
// shim in tests/darwin-shim, never run here). The agent's plist declares
//   <key>Sockets</key><dict><key>ROUTE</key><dict><key>SockNodeName</key>
//   <string>127.0.0.1</string><key>SockServiceName</key><string>18789</string></dict></dict>
// and launch_activate_socket(3) hands each one over by that name.
#include <launch.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "activation.hpp"

namespace loopgate {

ActivatedSockets take_launchd_sockets(const std::vector<std::string>& route_names, std::string& error) {
    ActivatedSockets sockets;
    for (const std::string& name : route_names) {
        int* fds = nullptr;
        size_t count = 0;
        int rc = launch_activate_socket(name.c_str(), &fds, &count);
        if (rc == ENOENT || rc == ESRCH) continue;  // not declared, or not run by launchd
        if (rc != 0) {
            error = "launch_activate_socket(" + name + "): " + std::strerror(rc);
            continue;
        }
        for (size_t i = 0; i < count; ++i) sockets.by_name[name].push_back(fds[i]);
        std::free(fds);  // the array is ours to free, the descriptors too (launch_activate_socket(3))
    }
    return sockets;
}

}  // namespace loopgate
