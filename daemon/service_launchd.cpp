// The LaunchAgent: launchd/loopgate-agent.sh writes and (re)loads
// ~/Library/LaunchAgents/com.loopgate.agent.plist; `launchctl print` says
// whether launchd has it. No macOS API is called, so this file is built
// everywhere and tested on Linux with a fake launchctl (and a fake uname for
// the script).
#include "service_launchd.hpp"

#include <cstdlib>
#include <filesystem>

#include "service_parts.hpp"
#include "text.hpp"

namespace loopgate {
namespace {

namespace fs = std::filesystem;

std::string xml_unescape(std::string_view text) {
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        bool replaced = false;
        if (text[i] == '&') {
            for (const auto& [entity, c] : kEntities) {
                if (text.substr(i, entity.size()) == entity) {
                    out += c;
                    i += entity.size() - 1;
                    replaced = true;
                    break;
                }
            }
        }
        if (!replaced) out += text[i];
    }
    return out;
}

class LaunchdManager final : public ServiceManager {
public:
    LaunchdManager(const ServiceEnvironment& env, CommandRunner& runner, std::ostream& out)
        : env_(env),
          runner_(runner),
          out_(out),
          plist_(env.home + "/Library/LaunchAgents/" + kLaunchdLabel + ".plist"),
          log_(env.home + "/Library/Logs/loopgate/" + kLaunchdLabel + ".log"),
          target_("gui/" + std::to_string(env.uid) + "/" + kLaunchdLabel) {}

    ServiceKind kind() const override { return ServiceKind::launchd; }

    StartResult install_and_start(const std::string& config_path, bool dry_run) override {
        if (env_.home.empty()) return failed("HOME is not set: no place for the LaunchAgent");
        if (env_.loopgate_bin.empty()) return failed("cannot tell where this loopgate binary is");
        if (env_.agent_script.empty()) {
            std::string looked;
            for (const auto& place : env_.agent_script_searched) looked += (looked.empty() ? "" : ", ") + place;
            return failed("cannot find loopgate-agent.sh (looked at " + looked +
                          "); set LOOPGATE_AGENT_SCRIPT to launchd/loopgate-agent.sh of a loopgate checkout");
        }
        std::error_code error;
        if (fs::exists(env_.home + "/Library/LaunchAgents/homebrew.mxcl.loopgate.plist", error)) {
            out_ << "warning: `brew services` runs loopgate too (homebrew.mxcl.loopgate): two agents would take "
                    "the same ports; stop that one with: brew services stop loopgate\n";
        }
        // --reload: an agent loaded from the very same plist gets SIGHUP (the
        // other routes' connections stay up); otherwise bootout + bootstrap.
        std::vector<std::string> install = {env_.agent_script, "install", "--bin", env_.loopgate_bin,
                                            "--config", config_path, "--home", env_.home, "--reload"};
        if (dry_run) install.push_back("--dry-run");
        out_ << (dry_run ? "dry run: running " : "running: ") << command_text(install) << "\n";
        out_.flush();
        CommandRunner::Result done = runner_.run(install, /*capture=*/false);
        if (done.status != 0) {
            return failed(env_.agent_script + " install failed (exit status " + std::to_string(done.status) +
                          "; what it said is above)");
        }
        return {StartResult::Outcome::started, ""};
    }

    AgentState state() override {
        AgentState state;
        state.kind = ServiceKind::launchd;
        state.definition = plist_;
        state.log = log_file();
        std::error_code error;
        state.installed = fs::exists(plist_, error);
        if (auto text = read_text_file(plist_)) {
            std::vector<std::string> args = plist_strings(*text, "ProgramArguments");
            for (size_t i = 0; i + 1 < args.size(); ++i) {
                if (args[i] == "--config") state.config_path = args[i + 1];
            }
        }
        CommandRunner::Result printed = runner_.run({"launchctl", "print", target_}, /*capture=*/true);
        if (printed.status != 0) {
            state.detail = "launchd does not have " + target_ + " loaded" +
                           (printed.status == 127 ? " (no launchctl)" : "");
            return state;
        }
        LaunchctlJob job = parse_launchctl_print(printed.output);
        state.loaded = true;
        state.pid = job.pid;
        state.detail = target_ + ": " + (job.state.empty() ? "loaded" : job.state);
        if (!job.last_exit.empty()) state.detail += ", last exit code " + job.last_exit;
        return state;
    }

    std::string log_location() const override { return log_; }

    std::string recent_log(size_t lines) override {
        auto text = read_file_tail(log_file(), 256u << 10);  // the newest lines of a log that only grows
        return text ? last_lines(*text, lines) : "";
    }

private:
    // The plist's StandardErrorPath (the agent script's is log_), without asking launchd.
    std::string log_file() const {
        auto text = read_text_file(plist_);
        std::vector<std::string> log = text ? plist_strings(*text, "StandardErrorPath") : std::vector<std::string>{};
        return log.empty() ? log_ : log.front();
    }

    static StartResult failed(std::string why) { return {StartResult::Outcome::failed, std::move(why)}; }

    const ServiceEnvironment& env_;
    CommandRunner& runner_;
    std::ostream& out_;
    std::string plist_;
    std::string log_;
    std::string target_;
};

}  // namespace

LaunchctlJob parse_launchctl_print(std::string_view text) {
    LaunchctlJob job;
    bool have_pid = false;
    while (!text.empty()) {
        std::string_view line = config::take_line(text);
        size_t start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) continue;
        line.remove_prefix(start);
        auto value_of = [&](std::string_view key) -> std::optional<std::string_view> {
            if (!line.starts_with(key) || !line.substr(key.size()).starts_with(" = ")) return std::nullopt;
            return line.substr(key.size() + 3);
        };
        if (auto v = value_of("state"); v && job.state.empty()) job.state = std::string(*v);
        if (auto v = value_of("last exit code"); v && job.last_exit.empty()) job.last_exit = std::string(*v);
        if (auto v = value_of("pid"); v && !have_pid) {
            have_pid = true;
            long pid = std::atol(std::string(*v).c_str());
            if (pid > 0) job.pid = pid;
        }
    }
    return job;
}

std::vector<std::string> plist_strings(std::string_view plist, std::string_view key) {
    std::vector<std::string> found;
    std::string tag = "<key>" + std::string(key) + "</key>";
    size_t at = plist.find(tag);
    if (at == std::string_view::npos) return found;
    std::string_view rest = plist.substr(at + tag.size());
    size_t first = rest.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return found;
    rest.remove_prefix(first);
    std::string_view scope = rest;
    if (rest.starts_with("<array>")) {
        scope = rest.substr(0, rest.find("</array>"));
    } else if (!rest.starts_with("<string>")) {
        return found;
    }
    bool one = !rest.starts_with("<array>");
    while (true) {
        size_t open = scope.find("<string>");
        if (open == std::string_view::npos) break;
        size_t close = scope.find("</string>", open);
        if (close == std::string_view::npos) break;
        found.push_back(xml_unescape(scope.substr(open + 8, close - open - 8)));
        if (one) break;
        scope.remove_prefix(close + 9);
    }
    return found;
}

std::unique_ptr<ServiceManager> make_launchd_manager(const ServiceEnvironment& env, CommandRunner& runner,
                                                     std::ostream& out) {
    return std::make_unique<LaunchdManager>(env, runner, out);
}

}  // namespace loopgate
