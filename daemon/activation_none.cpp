// No launchd off macOS: nothing to take.
#include "activation.hpp"

namespace loopgate {

ActivatedSockets take_launchd_sockets(const std::vector<std::string>&, std::string&) { return {}; }

}  // namespace loopgate
