#include "setup_agent.hpp"

#include <cstdio>
#include <iostream>
#include <thread>

#include <filesystem>

#include "admin_client.hpp"
#include "admin_report.hpp"
#include "exit_status.hpp"
#include "path_check.hpp"

namespace loopgate {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kAnswerTimeout{20000};  // the gateway's dial and upgrade, through loopgate
constexpr size_t kLogLines = 10;

std::string seconds_text(milliseconds ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", static_cast<double>(ms.count()) / 1000.0);
    return text;
}

std::string indented(const std::string& text) {
    std::string out = "      ";
    for (char c : text) {
        out += c;
        if (c == '\n') out += "      ";
    }
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
    return out;
}

// The loud ending: what failed, the agent's state and log, and what to run next.
int fail_loudly(const AgentPhase& phase, const std::string& what) {
    std::cout.flush();
    std::fflush(stdout);
    AgentState state = phase.manager.state();
    std::string log = phase.manager.recent_log(kLogLines);
    std::fprintf(stderr, "loopgate setup: FAILED: %s\n", what.c_str());
    std::fprintf(stderr, "  look at:\n");
    std::fprintf(stderr, "    the agent (%s)  %s\n", service_kind_name(state.kind), state.detail.c_str());
    if (!state.definition.empty()) {
        std::fprintf(stderr, "    its definition  %s%s\n", state.definition.c_str(),
                     state.installed ? "" : " (not there)");
    }
    std::fprintf(stderr, "    its log         %s\n", state.log.c_str());
    if (!log.empty()) std::fprintf(stderr, "%s\n", indented(log).c_str());
    std::fprintf(stderr, "    loopgate doctor --config %s  (the agent, each route's probe, recent failures)\n",
                 phase.config_path.c_str());
    if (phase.dry_run) {
        std::fprintf(stderr, "  dry run: nothing was written or started.\n");
    } else {
        std::fprintf(stderr, "  The config is written (%s); once loopgate runs with it, the app's URL is "
                     "ws://127.0.0.1:%u/\n", phase.config_path.c_str(), phase.port);
    }
    return kExitUnavailable;
}

std::string point_line(uint16_t port) { return "point your app at ws://127.0.0.1:" + std::to_string(port) + "/"; }

bool same_file(const std::string& a, const std::string& b) {
    std::error_code error;
    return std::filesystem::weakly_canonical(a, error) == std::filesystem::weakly_canonical(b, error);
}

// Nobody manages loopgate here, but one may run from this very file (started
// by hand): then it is asked to read the file again, as `loopgate reload`
// would. "" when it did (the new route listens now), else why not, for the
// person; `refused` when it answered and refused the file.
std::optional<std::string> reload_running(const AgentPhase& phase, bool& refused) {
    refused = false;
    if (!phase.admin) return "no admin endpoint in the config to find a running loopgate by";
    AdminReply status = admin_request(*phase.admin, "GET", "/status");
    std::string error;
    std::optional<StatusView> view = status.status == 200 ? status_from_json(status.body, error) : std::nullopt;
    if (!view) return "no loopgate answers at " + phase.admin->text();
    if (!same_file(view->config_file, phase.config_path)) {
        return "the loopgate at " + phase.admin->text() + " runs from " + view->config_file + ", not this file";
    }
    AdminReply reload = admin_request(*phase.admin, "POST", "/reload");
    if (reload.status == 200) {
        std::cout << "a loopgate runs from this file (pid " << view->pid << "): " << reload.body;
        return std::nullopt;
    }
    refused = reload.status == 409;
    return "the loopgate at " + phase.admin->text() + " did not reload: " +
           (reload.status != 0 ? reload.body : reload.error);
}

}  // namespace

int start_agent_and_prove(const AgentPhase& phase) {
    ServiceManager& manager = phase.manager;
    const std::string address = "127.0.0.1:" + std::to_string(phase.port);
    std::cout << "\nthe agent (" << service_kind_name(manager.kind()) << ")\n";
    // Nobody manages loopgate here: one running from this file (by hand) reads it again.
    bool reloaded = false;
    std::optional<std::string> why_not;
    if (manager.kind() == ServiceKind::none && !phase.dry_run) {
        bool refused = false;
        why_not = reload_running(phase, refused);
        if (refused) return fail_loudly(phase, *why_not);  // 69: the config is written, the daemon kept its own
        reloaded = !why_not;
    }
    StartResult started{StartResult::Outcome::started, ""};  // reloaded: a listener should come
    if (!reloaded) started = manager.install_and_start(phase.config_path, phase.dry_run);
    std::cout.flush();
    if (started.outcome == StartResult::Outcome::failed) return fail_loudly(phase, started.message);
    if (phase.dry_run) {
        std::cout << "dry run: then wait up to " << seconds_text(phase.wait) << " s for " << address
                  << " to accept, and upgrade a WebSocket through it to the gateway.\n"
                  << "dry run: nothing was changed.\n\n"
                  << point_line(phase.port) << "\n";
        return kExitOk;
    }
    if (!reloaded && started.outcome == StartResult::Outcome::left_to_admin) {
        std::cout << "setup cannot prove the path through " << address << " until that runs; then your app "
                  << "(or loopgate doctor) will tell.\n\n"
                  << point_line(phase.port) << "\n";
        return kExitOk;
    }

    std::cout << "waiting for " << address << " to accept (up to " << seconds_text(phase.wait) << " s)\n";
    std::cout.flush();
    const auto waited_from = PathClock::now();
    std::unique_ptr<LoopbackConnection> connection;  // the accepted one carries the upgrade
    ListenerWaitHooks hooks{
        [&] { return (connection = LoopbackConnection::open(phase.port, milliseconds(200))) != nullptr; },
        [&]() -> std::optional<std::string> {
            if (reloaded) return std::nullopt;  // not the manager's: the wait's own bound applies
            AgentState state = manager.state();
            if (state.loaded) return std::nullopt;
            return "the agent is not running: " + state.detail;
        },
        [] { return PathClock::now(); },
        [](milliseconds ms) { std::this_thread::sleep_for(ms); },
    };
    ListenerWait listening = wait_for_listener(hooks, phase.wait);
    if (!listening.listening) return fail_loudly(phase, "nothing listens on " + address + ": " + listening.why);
    auto took = std::chrono::duration_cast<milliseconds>(PathClock::now() - waited_from).count();
    std::cout << address << " accepts (after " << took << " ms); upgrading a WebSocket through it\n";
    std::cout.flush();

    PathVerdict verdict = judge_path(upgrade_through(*connection, kAnswerTimeout, "setup"));
    connection.reset();
    if (!verdict.working) return fail_loudly(phase, "the WebSocket upgrade through " + address + ": " + verdict.summary);
    std::cout << "path ok: " << verdict.summary << "\n\n" << point_line(phase.port) << "\n";
    return kExitOk;
}

}  // namespace loopgate
