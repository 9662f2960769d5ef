// The systemd user unit: $XDG_CONFIG_HOME/systemd/user/loopgate.service,
// made from tools/loopgate.service (built in as systemd_unit_template.h) with
// this binary and config in ExecStart, then `systemctl --user`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "loopgate_version.h"
#include "service_parts.hpp"
#include "service_systemd.hpp"
#include "systemd_unit_template.h"
#include "text.hpp"

namespace loopgate {
namespace {

namespace fs = std::filesystem;

constexpr const char* kUnit = "loopgate.service";
constexpr std::string_view kMarker = "# Written by `loopgate setup`";

// Writes beside the target and renames, so systemd never reads half a unit.
std::optional<std::string> write_unit(const fs::path& path, const std::string& text) {
    std::error_code error;
    fs::create_directories(path.parent_path(), error);
    if (error) return "cannot create " + path.parent_path().string() + ": " + error.message();
    fs::path temp = path;
    temp += ".setup-" + std::to_string(::getpid());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return "cannot create " + temp.string() + ": " + std::strerror(errno);
    ::fchmod(fd, 0644);
    bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    bool closed = ::close(fd) == 0;
    if (!written || !closed || ::rename(temp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        return "cannot write " + path.string() + ": " + std::strerror(err);
    }
    return std::nullopt;
}

std::map<std::string, std::string> properties(std::string_view text) {
    std::map<std::string, std::string> found;
    while (!text.empty()) {
        std::string_view line = config::take_line(text);
        size_t eq = line.find('=');
        if (eq != std::string_view::npos) found[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    }
    return found;
}

class SystemdManager final : public ServiceManager {
public:
    SystemdManager(const ServiceEnvironment& env, CommandRunner& runner, std::ostream& out)
        : env_(env), runner_(runner), out_(out), unit_path_(env.config_home + "/systemd/user/" + kUnit) {}

    ServiceKind kind() const override { return ServiceKind::systemd; }

    StartResult install_and_start(const std::string& config_path, bool dry_run) override {
        if (env_.home.empty()) return failed("HOME is not set: no place for the user unit");
        if (env_.loopgate_bin.empty()) return failed("cannot tell where this loopgate binary is");
        auto unit = render_systemd_unit(kSystemdUnitTemplate, env_.loopgate_bin, config_path);
        if (!unit) return failed("the binary or config path holds a control character; not written into a unit");
        auto existing = read_text_file(unit_path_);
        std::vector<std::vector<std::string>> commands;
        const char* start = "reload-or-restart";  // the same unit: SIGHUP when it runs, a start when not
        if (existing && !existing->starts_with(kMarker)) {
            std::string runs = systemd_unit_config_path(*existing, env_).value_or("");
            if (!same_config_path(runs, config_path, env_)) {
                return failed(unit_path_ + " was not written by loopgate setup and runs loopgate with " +
                              (runs.empty() ? "another config" : "--config " + runs) + ", not " + config_path +
                              ": point it at " + config_path + " or remove it, then run setup again");
            }
            out_ << unit_path_ << " was not written by loopgate setup: kept as it is (it runs this config)\n";
        } else if (existing == unit) {
            out_ << unit_path_ << " is up to date\n";
        } else if (dry_run) {
            out_ << "dry run: would write " << unit_path_ << " (mode 0644):\n" << *unit;
            commands.push_back({"systemctl", "--user", "daemon-reload"});
            start = "restart";
        } else {
            if (auto why = write_unit(unit_path_, *unit)) return failed(*why);
            out_ << "wrote " << unit_path_ << "\n";
            commands.push_back({"systemctl", "--user", "daemon-reload"});
            start = "restart";  // a changed ExecStart takes effect only in a new process
        }
        commands.push_back({"systemctl", "--user", "enable", kUnit});
        commands.push_back({"systemctl", "--user", start, kUnit});
        for (const auto& command : commands) {
            if (dry_run) {
                out_ << "dry run: would run: " << command_text(command) << "\n";
                continue;
            }
            out_ << "running: " << command_text(command) << "\n";
            out_.flush();
            CommandRunner::Result done = runner_.run(command, /*capture=*/false);
            if (done.status != 0) {
                return failed(command_text(command) + " failed (exit status " + std::to_string(done.status) +
                              "); see: systemctl --user status " + kUnit + ", " + log_location());
            }
        }
        return {StartResult::Outcome::started, ""};
    }

    AgentState state() override {
        AgentState state;
        state.kind = ServiceKind::systemd;
        state.log = log_location();
        state.definition = unit_path_;
        CommandRunner::Result shown = runner_.run(
            {"systemctl", "--user", "show", kUnit,
             "--property=LoadState,ActiveState,SubState,MainPID,FragmentPath,ExecMainStatus"},
            /*capture=*/true);
        std::error_code error;
        if (shown.status != 0) {
            state.installed = fs::exists(unit_path_, error);
            state.detail = "systemctl --user does not answer: " + first_line(shown.output);
        } else {
            auto found = properties(shown.output);
            if (!found["FragmentPath"].empty()) state.definition = found["FragmentPath"];
            state.installed = found["LoadState"] == "loaded";
            const std::string& active = found["ActiveState"];
            state.loaded = active == "active" || active == "activating" || active == "reloading";
            if (long pid = std::atol(found["MainPID"].c_str()); pid > 0) state.pid = pid;
            state.detail = active + " (" + found["SubState"] + ")";
            if (!found["ExecMainStatus"].empty() && found["ExecMainStatus"] != "0") {
                state.detail += ", last exit status " + found["ExecMainStatus"];
            }
        }
        if (auto text = read_text_file(state.definition)) {
            state.config_path = systemd_unit_config_path(*text, env_).value_or("");
        }
        return state;
    }

    std::string log_location() const override { return std::string("journalctl --user -u ") + kUnit; }

    std::string recent_log(size_t lines) override {
        CommandRunner::Result shown = runner_.run(
            {"journalctl", "--user", "-u", kUnit, "-n", std::to_string(lines), "--no-pager", "-o", "cat"},
            /*capture=*/true);
        return shown.status == 0 ? shown.output : "";
    }

private:
    static StartResult failed(std::string why) { return {StartResult::Outcome::failed, std::move(why)}; }

    const ServiceEnvironment& env_;
    CommandRunner& runner_;
    std::ostream& out_;
    std::string unit_path_;
};

// One word of ExecStart as systemd reads it back (systemd.service(5), "Command
// lines"): % and $ doubled, double quotes around anything with a space, a
// quote or a backslash. Nothing for a control character.
std::optional<std::string> systemd_word(std::string_view word) {
    std::string escaped;
    bool quote = word.empty();
    for (char c : word) {
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;
        if (c == '%' || c == '$') escaped += c;
        if (c == ' ' || c == '"' || c == '\'' || c == '\\' || c == ';') quote = true;
        if (c == '"' || c == '\\') escaped += '\\';
        escaped += c;
    }
    return quote ? "\"" + escaped + "\"" : escaped;
}

// ExecStart's words, quotes and backslashes undone, specifiers %% %h and $$ resolved.
std::vector<std::string> exec_start_words(std::string_view line, const ServiceEnvironment& env) {
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    char quote = 0;
    for (size_t i = 0; i < line.size(); ++i) {
        char c = line[i];
        if (quote == 0 && (c == ' ' || c == '\t')) {
            if (in_word) words.push_back(word);
            word.clear();
            in_word = false;
            continue;
        }
        in_word = true;
        if (quote == 0 && (c == '"' || c == '\'')) {
            quote = c;
        } else if (quote != 0 && c == quote) {
            quote = 0;
        } else if (c == '\\' && i + 1 < line.size()) {
            word += line[++i];
        } else if ((c == '%' || c == '$') && i + 1 < line.size() && line[i + 1] == c) {
            word += line[++i];
        } else if (c == '%' && i + 1 < line.size() && line[i + 1] == 'h') {
            word += env.home;
            ++i;
        } else {
            word += c;
        }
    }
    if (in_word) words.push_back(word);
    return words;
}

}  // namespace

std::optional<std::string> render_systemd_unit(std::string_view unit_template, const std::string& bin,
                                               const std::string& config_path) {
    std::string exec = "ExecStart=";
    bool first = true;
    for (const std::string& word : {bin, std::string("run"), std::string("--config"), config_path}) {
        auto quoted = systemd_word(word);
        if (!quoted) return std::nullopt;
        exec += (first ? "" : " ") + *quoted;
        first = false;
    }
    std::string unit = std::string(kMarker) + " (loopgate " + LOOPGATE_VERSION + ") from the\n"
                       "# template tools/loopgate.service, which explains every setting. Run setup again\n"
                       "# rather than editing it. Logs: journalctl --user -u loopgate.service\n\n";
    bool body = false;  // the template's own header comment (how to copy it by hand) is left out
    std::string_view rest = unit_template;
    while (!rest.empty()) {
        std::string_view line = config::take_line(rest);
        body = body || line.starts_with("[");
        if (!body) continue;
        unit += line.starts_with("ExecStart=") ? std::string_view(exec) : line;
        unit += '\n';
    }
    return unit;
}

std::optional<std::string> systemd_unit_config_path(std::string_view unit, const ServiceEnvironment& env) {
    while (!unit.empty()) {
        std::string_view line = config::take_line(unit);
        if (!line.starts_with("ExecStart=")) continue;
        line.remove_prefix(10);
        while (!line.empty() && std::string_view("@-:+!").find(line.front()) != std::string_view::npos) {
            line.remove_prefix(1);
        }
        std::vector<std::string> words = exec_start_words(line, env);
        for (size_t i = 1; i < words.size(); ++i) {
            if ((words[i] == "--config" || words[i] == "-c") && i + 1 < words.size()) return words[i + 1];
            if (words[i].starts_with("--config=")) return words[i].substr(9);
        }
        return env.config_home + "/loopgate/loopgate.jsonc";  // run's default without --config
    }
    return std::nullopt;
}

bool same_config_path(const std::string& a, const std::string& b, const ServiceEnvironment& env) {
    auto canonical = [&](const std::string& path) {
        std::filesystem::path full = path;
        if (path == "~" || path.starts_with("~/")) full = env.home + path.substr(1);
        else if (full.is_relative()) full = std::filesystem::path(env.home) / full;
        std::error_code error;
        std::filesystem::path resolved = std::filesystem::weakly_canonical(full, error);
        return error ? full.lexically_normal() : resolved;
    };
    if (a.empty() || b.empty()) return a == b;
    return canonical(a) == canonical(b);
}

std::unique_ptr<ServiceManager> make_systemd_manager(const ServiceEnvironment& env, CommandRunner& runner,
                                                     std::ostream& out) {
    return std::make_unique<SystemdManager>(env, runner, out);
}

}  // namespace loopgate
