#include "default_paths.hpp"

#include <cstdlib>

namespace loopgate {

std::optional<std::string> default_config_path() {
    const char* home = std::getenv("HOME");
    bool has_home = home != nullptr && home[0] == '/';
#if defined(__APPLE__)
    if (!has_home) return std::nullopt;
    return std::string(home) + "/Library/Application Support/loopgate/loopgate.jsonc";
#else
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/loopgate/loopgate.jsonc";
    if (!has_home) return std::nullopt;
    return std::string(home) + "/.config/loopgate/loopgate.jsonc";
#endif
}

const char* default_config_path_text() {
#if defined(__APPLE__)
    return "~/Library/Application Support/loopgate/loopgate.jsonc";
#else
    return "$XDG_CONFIG_HOME/loopgate/loopgate.jsonc (~/.config/loopgate/loopgate.jsonc)";
#endif
}

}  // namespace loopgate
