// One client connection, from the TLS handshake to the close: reads the request, answers it with
// a refusal or the 101, and then lets the behaviour its path asks for run the session.
#pragma once

#include <string>

#include "server.hpp"

namespace test_gateway {

// Serves the accepted socket `fd` (from `peer`, for diagnostics) and closes it. Throws on
// failures other than those of the client or the network.
void serve_client(int fd, const Server& server, std::string peer);

}  // namespace test_gateway
