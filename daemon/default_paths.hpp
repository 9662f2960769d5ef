// The one default config path of every command (run, check, probe, status,
// reload) when --config is not given:
//   macOS  ~/Library/Application Support/loopgate/loopgate.jsonc
//   else   $XDG_CONFIG_HOME/loopgate/loopgate.jsonc (~/.config when unset)
// launchd/loopgate-agent.sh installs the agent with the same path.
#pragma once

#include <optional>
#include <string>

namespace loopgate {

// Nothing when HOME (or XDG_CONFIG_HOME) gives no absolute directory.
std::optional<std::string> default_config_path();
// As the help text shows it.
const char* default_config_path_text();

}  // namespace loopgate
