// Who keeps loopgate running in the background for this user, behind one
// interface: launchd (a LaunchAgent, written and loaded by
// launchd/loopgate-agent.sh), a systemd user unit
// ($XDG_CONFIG_HOME/systemd/user/loopgate.service), or nobody (the admin runs
// `loopgate run` themself). `loopgate setup` installs and (re)starts the agent
// through it; `loopgate doctor` asks it whether the agent is installed and
// running and where its log is.
//
// The launchd manager only runs commands (the agent script, launchctl), no
// macOS API, so it is built everywhere and the Linux tests drive it against
// a fake launchctl; auto-detection picks it only on macOS.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace loopgate {

// Runs a program (found on PATH when argv[0] has no '/') and waits for it.
// The real one spawns it; unit tests use a fake that records argv.
class CommandRunner {
public:
    struct Result {
        int status = 0;      // its exit status; 127 when it could not be started, 128+N when killed by signal N
        std::string output;  // its stdout and stderr together, when captured
    };
    virtual ~CommandRunner() = default;
    // capture: its output is kept in Result::output; otherwise it goes to this
    // process's stdout and stderr (flushed first).
    virtual Result run(const std::vector<std::string>& argv, bool capture) = 0;
};

// Spawns the command with this process's environment; a command still running
// after a minute is killed (status 128+SIGKILL) and the output says so.
std::unique_ptr<CommandRunner> make_process_runner();

enum class ServiceKind { launchd, systemd, none };
const char* service_kind_name(ServiceKind kind);  // "launchd", "systemd", "none"

// The --service option: auto, launchd, systemd or none.
enum class ServiceChoice { auto_detect, launchd, systemd, none };
std::optional<ServiceChoice> parse_service_choice(std::string_view text);

// What the managers need to know about this user and this program. Tests make their own.
struct ServiceEnvironment {
    std::string home;          // $HOME: Library/LaunchAgents and Library/Logs on macOS
    std::string config_home;   // $XDG_CONFIG_HOME, else HOME/.config: where systemd/user/ is
    uid_t uid = 0;             // launchd's gui/UID domain
    bool macos = false;        // built for macOS (auto picks launchd)
    std::string loopgate_bin;  // this program, absolute; a symlink (Homebrew's bin/loopgate) is kept
    std::string agent_script;  // loopgate-agent.sh; "" when none was found
    std::vector<std::string> agent_script_searched;  // where it was looked for, for the error

    // From the environment: the agent script is $LOOPGATE_AGENT_SCRIPT when set
    // (a build tree, the tests), else PREFIX/share/loopgate/loopgate-agent.sh
    // for the bin/ this program is in (its link, then its real path), else the
    // datadir it was built for.
    static ServiceEnvironment from_process(std::string_view argv0);
};

// What the manager says about loopgate's agent. Asking changes nothing.
struct AgentState {
    ServiceKind kind = ServiceKind::none;
    bool installed = false;   // its definition (plist, unit file) is on disk
    bool loaded = false;      // the manager has it: launchd bootstrapped it; systemd: active, activating or reloading
    std::optional<long> pid;  // its running process
    std::string definition;   // the plist or the unit file; "" for none
    std::string config_path;  // the --config its definition runs loopgate with; "" when not known
    std::string log;          // where its log is: a file, or the command that shows it
    std::string detail;       // the manager's own words (state, last exit status), or why it did not answer
};

struct StartResult {
    enum class Outcome {
        started,        // installed and started, restarted, or told to re-read its config: a listener should come
        left_to_admin,  // nobody starts loopgate here: the admin runs the command that was printed
        failed,         // a command failed; `message` names it and what it said
    };
    Outcome outcome = Outcome::failed;
    std::string message;
};

class ServiceManager {
public:
    virtual ~ServiceManager() = default;
    virtual ServiceKind kind() const = 0;

    // Installs the agent to run `loopgate run --config config_path` and starts
    // it. One already running from the same definition is made to re-read its
    // config (SIGHUP, so connections on its other routes stay up); one whose
    // definition changed is restarted. Prints each step to the manager's
    // stream. dry_run: prints the file it would write and every command it
    // would run instead, and changes nothing.
    virtual StartResult install_and_start(const std::string& config_path, bool dry_run) = 0;

    // Asks the manager (launchctl print, systemctl show).
    virtual AgentState state() = 0;
    // Where the log is (AgentState::log), without asking anything.
    virtual std::string log_location() const = 0;
    // The agent's last `lines` log lines, "" when there are none or they cannot be read.
    virtual std::string recent_log(size_t lines) = 0;
};

// auto: launchd when built for macOS; else systemd when a user manager answers
// (`systemctl --user show-environment` succeeds); else none. The manager
// prints to `out` and runs its commands through `runner`; both outlive it.
std::unique_ptr<ServiceManager> make_service_manager(ServiceChoice choice, const ServiceEnvironment& env,
                                                     CommandRunner& runner, std::ostream& out);

}  // namespace loopgate
