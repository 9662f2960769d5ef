// Socket addresses as people read them: "100.64.0.7:443", "[::1]:8080".
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <string>

namespace loopgate {

// With the port; IPv6 in brackets. "?" for a family it does not know.
std::string address_text(const sockaddr_storage& address);
// The IPv4 address alone: "100.64.0.7".
std::string ipv4_text(const sockaddr_in& address);
// Who is at the other end of a connected unix socket:
// "unix:uid=501,pid=4242" (pid where the system tells it), or "unix".
std::string unix_peer_text(int fd);

}  // namespace loopgate
