// What every connection needs to know about the server it belongs to.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <optional>

namespace test_gateway {

struct Server {
    SSL_CTX* tls = nullptr;  // null for plain connections
    std::optional<uint16_t> close_on_exit;
    bool log_control_frames = false;
    bool log_handshakes = false;
    int stop_fd = -1;  // becomes readable, and stays so, once SIGTERM or SIGINT arrived
    // Set: every answer carries a Date header this many seconds off the real time.
    std::optional<int64_t> date_offset;
};

}  // namespace test_gateway
