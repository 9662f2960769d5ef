// ServiceEnvironment::from_process: who the user is, where this program is
// and where the agent script was installed beside it.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "loopgate_version.h"
#include "service_manager.hpp"

namespace loopgate {
namespace {

namespace fs = std::filesystem;

bool is_executable_file(const fs::path& path) {
    std::error_code error;
    return fs::is_regular_file(path, error) && ::access(path.c_str(), X_OK) == 0;
}

// argv[0] made absolute, or found on PATH as the shell found it. The last
// component is not resolved: a plist or unit naming Homebrew's bin/loopgate
// keeps working after an upgrade. /proc/self/exe when neither works.
std::string program_path(std::string_view argv0) {
    std::error_code error;
    if (argv0.find('/') != std::string_view::npos) {
        return fs::absolute(fs::path(argv0), error).lexically_normal().string();
    }
    const char* path = std::getenv("PATH");
    std::string_view dirs = path != nullptr ? path : "";
    while (!argv0.empty() && !dirs.empty()) {
        size_t colon = dirs.find(':');
        std::string_view dir = dirs.substr(0, colon);
        dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
        fs::path candidate = fs::path(dir.empty() ? "." : std::string(dir)) / std::string(argv0);
        if (is_executable_file(candidate)) return fs::absolute(candidate, error).lexically_normal().string();
    }
    fs::path self = fs::read_symlink("/proc/self/exe", error);
    return error ? std::string() : self.string();
}

void find_agent_script(ServiceEnvironment& env) {
    if (const char* given = std::getenv("LOOPGATE_AGENT_SCRIPT"); given != nullptr && given[0] != '\0') {
        env.agent_script_searched.push_back(std::string(given) + " (LOOPGATE_AGENT_SCRIPT)");
        std::error_code error;
        if (is_executable_file(given)) env.agent_script = fs::absolute(given, error).lexically_normal().string();
        return;
    }
    std::vector<fs::path> candidates;
    if (!env.loopgate_bin.empty()) {
        const fs::path relative = fs::path("share") / "loopgate" / "loopgate-agent.sh";
        fs::path bin = env.loopgate_bin;
        candidates.push_back(bin.parent_path().parent_path() / relative);
        std::error_code error;
        fs::path real = fs::canonical(bin, error);
        if (!error && real != bin) candidates.push_back(real.parent_path().parent_path() / relative);
    }
    candidates.push_back(fs::path(LOOPGATE_DATADIR) / "loopgate-agent.sh");
    for (const auto& candidate : candidates) {
        env.agent_script_searched.push_back(candidate.string());
        if (is_executable_file(candidate)) {
            env.agent_script = candidate.string();
            return;
        }
    }
}

}  // namespace

ServiceEnvironment ServiceEnvironment::from_process(std::string_view argv0) {
    ServiceEnvironment env;
    const char* home = std::getenv("HOME");
    env.home = home != nullptr ? home : "";
    const char* xdg = std::getenv("XDG_CONFIG_HOME");
    env.config_home = xdg != nullptr && xdg[0] == '/' ? std::string(xdg) : env.home + "/.config";
    env.uid = ::getuid();
#if defined(__APPLE__)
    env.macos = true;
#endif
    env.loopgate_bin = program_path(argv0);
    find_agent_script(env);
    return env;
}

}  // namespace loopgate
