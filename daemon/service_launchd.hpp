// The text work of the launchd manager, apart from running commands so the
// unit tests can check it: what `launchctl print` says about a job, and what
// the agent's plist runs and where it logs.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loopgate {

inline constexpr const char* kLaunchdLabel = "com.loopgate.agent";  // loopgate-agent.sh's default label

struct LaunchctlJob {
    std::string state;       // "running", "not running", "spawn scheduled", ... ("" when not printed)
    std::optional<long> pid;
    std::string last_exit;   // "(never exited)", "78: EX_CONFIG", ... ("" when not printed)
};
// The job's own fields of `launchctl print gui/UID/LABEL` (the first of each
// key; nested dictionaries come after them).
LaunchctlJob parse_launchctl_print(std::string_view text);

// The <string> values a plist gives `key`: one, or each of an <array> of them,
// XML entities undone. Empty when the key is not there.
std::vector<std::string> plist_strings(std::string_view plist, std::string_view key);

}  // namespace loopgate
