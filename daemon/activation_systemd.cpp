// sd_listen_fds(3) without libsystemd: the protocol is three environment
// variables and descriptors from 3 on.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "activation.hpp"

namespace loopgate {
namespace {

constexpr int kFirstFd = 3;  // SD_LISTEN_FDS_START

bool parse_count(const char* text, long& out) {
    if (text == nullptr || *text == '\0') return false;
    char* end = nullptr;
    out = std::strtol(text, &end, 10);
    return *end == '\0' && out >= 0;
}

std::vector<std::string> split_names(const char* text) {
    std::vector<std::string> names;
    if (text == nullptr) return names;
    std::string all = text;
    size_t start = 0;
    for (;;) {
        size_t colon = all.find(':', start);
        names.push_back(all.substr(start, colon - start));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    return names;
}

}  // namespace

ActivatedSockets take_systemd_sockets(std::string& error) {
    ActivatedSockets sockets;
    const char* pid_text = std::getenv("LISTEN_PID");
    const char* fds_text = std::getenv("LISTEN_FDS");
    if (pid_text == nullptr && fds_text == nullptr) return sockets;
    long pid = 0;
    long count = 0;
    std::vector<std::string> names = split_names(std::getenv("LISTEN_FDNAMES"));
    // Not for us (a parent's, inherited): leave the descriptors alone.
    bool ours = parse_count(pid_text, pid) && pid == static_cast<long>(::getpid());
    if (ours && !parse_count(fds_text, count)) error = "LISTEN_FDS is not a number: " + std::string(fds_text);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (!ours || !error.empty()) return sockets;
    for (long i = 0; i < count; ++i) {
        int fd = kFirstFd + static_cast<int>(i);
        int type = 0;
        socklen_t len = sizeof type;
        int listening = 0;
        socklen_t listening_len = sizeof listening;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM ||
            getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &listening_len) != 0 || listening == 0) {
            error = "descriptor " + std::to_string(fd) + " from LISTEN_FDS is not a listening stream socket";
            continue;
        }
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        std::string name = static_cast<size_t>(i) < names.size() ? names[static_cast<size_t>(i)] : "";
        // systemd names unnamed sockets after the unit ("loopgate.socket"): not a route name.
        if (name.empty() || name == "unknown" || name.find(".socket") != std::string::npos) {
            sockets.unnamed.push_back(fd);
        } else {
            sockets.by_name[name].push_back(fd);
        }
    }
    return sockets;
}

}  // namespace loopgate
