// Kernel settings that stop a dead upstream path from hanging a connection
// for minutes: keepalive probes on an idle connection, and a bound on how
// long sent data may stay unacknowledged. One file per platform.
#pragma once

#include <cstdint>

namespace loopgate {

// Returns 0, or an errno for the first option the kernel refused.
int tune_upstream_socket(int fd, uint32_t unacked_timeout_ms);

}  // namespace loopgate
