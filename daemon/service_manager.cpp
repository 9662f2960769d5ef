// Choosing the service manager, the "none" one, and the helpers the managers share.
#include "service_manager.hpp"

#include <algorithm>
#include <fstream>

#include "service_parts.hpp"

namespace loopgate {
namespace {

// Nobody starts loopgate here: setup prints the command and says it cannot
// prove the path until that runs.
class NoManager final : public ServiceManager {
public:
    NoManager(const ServiceEnvironment& env, std::ostream& out, std::string why)
        : env_(env), out_(out), why_(std::move(why)) {}

    ServiceKind kind() const override { return ServiceKind::none; }

    StartResult install_and_start(const std::string& config_path, bool dry_run) override {
        out_ << (dry_run ? "dry run: " : "") << "no service manager starts loopgate here (" << why_ << ").\n"
             << "Start it yourself, and keep it running:\n"
             << "    " << command_text({env_.loopgate_bin, "run", "--config", config_path}) << "\n"
             << "(a loopgate already running with this config reads it again with: "
             << command_text({"loopgate", "reload", "--config", config_path}) << ", or kill -HUP PID)\n";
        return {StartResult::Outcome::left_to_admin, ""};
    }

    AgentState state() override {
        AgentState state;
        state.kind = ServiceKind::none;
        state.log = log_location();
        state.detail = "no service manager: " + why_;
        return state;
    }

    std::string log_location() const override { return "the standard error of `loopgate run`, where it was started"; }
    std::string recent_log(size_t) override { return ""; }

private:
    const ServiceEnvironment& env_;
    std::ostream& out_;
    std::string why_;
};

bool shell_safe(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           std::string_view("_./:=@%+,-").find(c) != std::string_view::npos;
}

}  // namespace

const char* service_kind_name(ServiceKind kind) {
    switch (kind) {
    case ServiceKind::launchd: return "launchd";
    case ServiceKind::systemd: return "systemd";
    case ServiceKind::none: return "none";
    }
    return "none";
}

std::optional<ServiceChoice> parse_service_choice(std::string_view text) {
    if (text == "auto") return ServiceChoice::auto_detect;
    if (text == "launchd") return ServiceChoice::launchd;
    if (text == "systemd") return ServiceChoice::systemd;
    if (text == "none") return ServiceChoice::none;
    return std::nullopt;
}

std::unique_ptr<ServiceManager> make_service_manager(ServiceChoice choice, const ServiceEnvironment& env,
                                                     CommandRunner& runner, std::ostream& out) {
    switch (choice) {
    case ServiceChoice::launchd: return make_launchd_manager(env, runner, out);
    case ServiceChoice::systemd: return make_systemd_manager(env, runner, out);
    case ServiceChoice::none: return make_no_manager(env, out, "--service none");
    case ServiceChoice::auto_detect: break;
    }
    if (env.macos) return make_launchd_manager(env, runner, out);
    // A user manager that answers over its bus is what `systemctl --user enable` needs;
    // /run/systemd/system alone says nothing about this user's session (ssh, containers).
    CommandRunner::Result asked = runner.run({"systemctl", "--user", "show-environment"}, /*capture=*/true);
    if (asked.status == 0) return make_systemd_manager(env, runner, out);
    std::string why = asked.status == 127 ? "not macOS, and no systemctl"
                                          : "not macOS, and `systemctl --user` does not answer: " +
                                                first_line(asked.output);
    return make_no_manager(env, out, why);
}

std::unique_ptr<ServiceManager> make_no_manager(const ServiceEnvironment& env, std::ostream& out, std::string why) {
    return std::make_unique<NoManager>(env, out, std::move(why));
}

std::string command_text(const std::vector<std::string>& argv) {
    std::string text;
    for (const auto& word : argv) {
        if (!text.empty()) text += ' ';
        bool plain = !word.empty();
        for (char c : word) plain = plain && shell_safe(c);
        if (plain) {
            text += word;
            continue;
        }
        text += '\'';
        for (char c : word) {
            if (c == '\'') {
                text += "'\\''";
            } else {
                text += c;
            }
        }
        text += '\'';
    }
    return text;
}

std::optional<std::string> read_text_file(const std::string& path, size_t limit) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string text(limit, '\0');
    in.read(text.data(), static_cast<std::streamsize>(limit));
    if (in.bad()) return std::nullopt;
    text.resize(static_cast<size_t>(in.gcount()));
    return text;
}

std::optional<std::string> read_file_tail(const std::string& path, size_t limit) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) return std::nullopt;
    auto size = static_cast<size_t>(std::max<std::streamoff>(in.tellg(), 0));
    size_t start = size > limit ? size - limit : 0;
    in.seekg(static_cast<std::streamoff>(start));
    std::string text(size - start, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    if (in.bad()) return std::nullopt;
    text.resize(static_cast<size_t>(in.gcount()));
    if (start > 0) text.erase(0, std::min(text.size(), text.find('\n') + 1));  // a cut first line is not a line
    return text;
}

std::string last_lines(std::string_view text, size_t count) {
    if (count == 0) return "";
    size_t end = text.size();
    if (end > 0 && text[end - 1] == '\n') --end;
    size_t start = end;
    size_t found = 0;
    while (start > 0) {
        if (text[start - 1] == '\n' && ++found == count) break;
        --start;
    }
    return std::string(text.substr(start, end - start));
}

std::string first_line(std::string_view text) {
    size_t start = text.find_first_not_of(" \t\r\n");
    if (start == std::string_view::npos) return "(it printed nothing)";
    text = text.substr(start);
    return std::string(text.substr(0, text.find('\n')));
}

}  // namespace loopgate
