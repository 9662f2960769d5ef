#include "doctor_checks.hpp"

#include <filesystem>

#include "clock_skew.hpp"

namespace loopgate::doctor {
namespace {

std::string plural(size_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

bool managed(const AgentFacts& agent) { return agent.service && agent.service->kind != ServiceKind::none; }

// The launchd label or the systemd unit: the definition's file name.
std::string service_name(const AgentState& state) {
    std::filesystem::path definition(state.definition);
    if (state.kind == ServiceKind::launchd) return definition.empty() ? "com.loopgate.agent" : definition.stem().string();
    return definition.empty() ? "loopgate.service" : definition.filename().string();
}

std::string what_manages(const AgentState& state) {
    std::string what = state.kind == ServiceKind::launchd ? "the launchd agent" : "the systemd user unit";
    return state.definition.empty() ? what : what + " " + state.definition;
}

// How to start (or restart) the agent, or loopgate by hand where nothing manages it.
std::string start_advice(const AgentFacts& agent, const std::string& config_path) {
    if (!managed(agent) || !agent.service->installed) {
        return "start it: loopgate run --config " + config_path +
               " (in a terminal), or install the agent (docs/launchd.md, or the systemd user unit in loopgate(8))";
    }
    const AgentState& s = *agent.service;
    std::string uid = std::to_string(agent.uid);
    if (s.kind == ServiceKind::launchd) {
        if (!s.loaded) return "load it: launchctl bootstrap gui/" + uid + " " + s.definition;
        return "its log says why (" + s.log + "); once fixed: launchctl kickstart -k gui/" + uid + "/" + service_name(s);
    }
    if (!s.loaded) return "start it: systemctl --user enable --now " + service_name(s);
    return "its log says why (" + s.log + "); once fixed: systemctl --user restart " + service_name(s);
}

std::string status_summary(const StatusView& status) {
    return "loopgate " + status.version + " is running (pid " + std::to_string(status.pid) + ", up " +
           duration_text(static_cast<int64_t>(status.uptime_ms / 1000)) + "), config generation " +
           std::to_string(status.generation) + " (" + plural(status.reloads, "reload", "reloads") + ", " +
           std::to_string(status.failed_reloads) + " refused)";
}

Finding agent_answered(const AgentFacts& agent, const ConfigFacts& config) {
    const StatusView& status = *agent.status;
    Finding f{"agent", Severity::ok, status_summary(status), {}, ""};
    if (!managed(agent)) return f;
    const AgentState& s = *agent.service;
    std::string pid = std::to_string(status.pid);
    if (!s.installed) {
        f.summary += "; no agent is installed, so nothing restarts it after a crash or a reboot";
        return f;
    }
    f.details.push_back(what_manages(s) + ": " + (s.detail.empty() ? std::string(s.loaded ? "loaded" : "not loaded")
                                                                   : s.detail));
    if (!s.loaded) {
        f.severity = Severity::warn;
        f.details.push_back("the agent is installed but not loaded: pid " + pid +
                            " was started another way and nothing restarts it after a crash or at login");
        f.todo = "stop pid " + pid + " (kill " + pid + "), then " + start_advice(agent, config.path);
    } else if (!s.pid) {
        f.severity = Severity::warn;
        f.details.push_back("the agent is loaded but not running while pid " + pid +
                            " holds the ports it would listen on");
        f.todo = "stop the loopgate you started by hand (kill " + pid + "); the agent then starts its own";
    } else if (static_cast<uint64_t>(*s.pid) != status.pid) {
        f.severity = Severity::warn;
        f.details.push_back("the agent's process is pid " + std::to_string(*s.pid) + ", but pid " + pid +
                            " answers on the admin endpoint: two loopgates");
        f.todo = "stop the one you do not want; only one can listen on each port";
    }
    if (!s.config_path.empty() && s.config_path != config.path) {
        f.severity = std::max(f.severity, Severity::warn);
        f.details.push_back("the agent runs --config " + s.config_path + "; doctor checked " + config.path);
        if (f.todo.empty()) f.todo = "loopgate doctor --config " + s.config_path + " checks the agent's own file";
    }
    return f;
}

Finding agent_silent(const AgentFacts& agent, const ConfigFacts& config) {
    Finding f{"agent", Severity::fail, "loopgate is not running: " + agent.admin_error, {}, ""};
    if (managed(agent)) {
        const AgentState& s = *agent.service;
        f.details.push_back(what_manages(s) + ": " +
                            (!s.installed ? std::string("not installed")
                                          : s.detail.empty() ? std::string(s.loaded ? "loaded" : "not loaded") : s.detail));
        if (s.loaded && s.pid) {
            f.summary = "the agent runs (pid " + std::to_string(*s.pid) + ") but its admin endpoint does not answer: " +
                        agent.admin_error;
        }
    } else if (agent.service && !agent.service->detail.empty()) {
        f.details.push_back(agent.service->detail);  // why nothing manages it here
    }
    f.todo = start_advice(agent, config.path);
    return f;
}

Finding agent_without_admin(const AgentFacts& agent, const ConfigFacts& config) {
    const std::string add_admin = "add \"admin\": {\"listen\": \"127.0.0.1:18790\"} to the config, then send the "
                                  "running loopgate SIGHUP (kill -HUP PID: loopgate reload cannot reach it before the "
                                  "endpoint exists) or restart it, so doctor and loopgate status can ask it";
    std::string accepting;
    std::string refusing;
    for (const auto& l : agent.listeners) {
        std::string& list = l.error.empty() ? accepting : refusing;
        list += (list.empty() ? "" : ", ") + l.address + (l.error.empty() ? "" : " (" + l.error + ")");
    }
    if (!accepting.empty()) {
        return {"agent", Severity::warn,
                "something accepts connections on " + accepting +
                    " (loopgate, most likely), but the config has no admin endpoint to ask how it is",
                {}, add_admin};
    }
    if (!refusing.empty()) {
        Finding f = agent_silent(agent, config);
        f.summary = "loopgate is not running: nothing listens on " + refusing;
        return f;
    }
    if (managed(agent) && agent.service->pid) {
        return {"agent", Severity::warn,
                "the agent runs (pid " + std::to_string(*agent.service->pid) +
                    "), but the config has no admin endpoint to ask how it is",
                {}, add_admin};
    }
    return {"agent", Severity::warn,
            "cannot tell whether loopgate runs: the config has no admin endpoint and no route with a fixed port", {},
            add_admin};
}

}  // namespace

Finding check_config(const ConfigFacts& config, const AgentFacts& agent) {
    if (config.missing) {
        return {"config", Severity::fail, "no config file at " + config.path, {},
                "write one: loopgate setup wss://GATEWAY[:PORT] (or give the file with --config FILE)"};
    }
    if (!config.errors.empty()) {
        Finding f{"config", Severity::fail, config.path + " is invalid: " + plural(config.errors.size(), "error", "errors"),
                  config.errors, ""};
        f.todo = "fix the keys and lines listed (loopgate check says the same)";
        if (agent.status) {
            f.todo += "; the running loopgate keeps generation " + std::to_string(agent.status->generation) +
                      " until then, and a restart would fail (exit 78)";
        } else {
            f.todo += "; loopgate does not start with it (exit 78)";
        }
        return f;
    }
    const config::Config& c = *config.config;
    std::string summary = config.path + ": valid, " + plural(c.routes.size(), "route", "routes") + ", " +
                          (c.admin_listen ? "admin endpoint " + c.admin_listen->text() : std::string("no admin endpoint"));
    return {"config", Severity::ok, summary, {}, ""};
}

Finding check_agent(const AgentFacts& agent, const ConfigFacts& config) {
    if (!agent.admin_address.empty()) {
        Finding f = agent.status ? agent_answered(agent, config) : agent_silent(agent, config);
        if (agent.admin_from_invalid_config) {
            f.details.push_back("asked through admin.listen " + agent.admin_address + ", read alone from the invalid file");
        }
        return f;
    }
    if (config.config != nullptr) return agent_without_admin(agent, config);
    // The config is invalid and names no admin endpoint doctor could read.
    if (managed(agent) && agent.service->pid) {
        return {"agent", Severity::warn,
                "the agent runs (pid " + std::to_string(*agent.service->pid) +
                    "); with the config invalid, doctor cannot find its admin endpoint to ask how it is",
                {}, ""};
    }
    if (managed(agent) && agent.service->installed) return agent_silent(agent, config);
    return {"agent", Severity::warn,
            std::string("cannot tell whether loopgate runs: ") +
                (config.missing ? "there is no config file to find its admin endpoint in"
                                : "the config is invalid and names no admin endpoint doctor can read"),
            {}, ""};
}

std::optional<Finding> check_drift(const ConfigFacts& config, const StatusView& status) {
    if (config.config == nullptr) return std::nullopt;
    Finding f{"agent", Severity::warn, "", {}, ""};
    if (!status.config_file.empty() && status.config_file != config.path) {
        f.summary = "the running loopgate reads " + status.config_file + ", not " + config.path;
        f.todo = "loopgate doctor --config " + status.config_file + " checks the file it runs";
        return f;
    }
    std::set<std::string> in_file;
    for (const auto& route : config.config->routes) {
        in_file.insert(route.name);
        const RouteView* running = nullptr;
        for (const auto& r : status.routes) {
            if (!r.retiring && r.name == route.name) running = &r;
        }
        if (running == nullptr) {
            f.details.push_back("route " + route.name + " is in the file but not running");
            continue;
        }
        bool fixed_port = route.listen.is_unix() || route.listen.port != 0;  // port 0: any port is the file's
        if (fixed_port && route.listen.text() != running->listen) {
            f.details.push_back("route " + route.name + " listens on " + running->listen + "; the file says " +
                                route.listen.text());
        }
        if (route.upstream.text() != running->upstream) {
            f.details.push_back("route " + route.name + " forwards to " + running->upstream + "; the file says " +
                                route.upstream.text());
        }
    }
    for (const auto& r : status.routes) {
        if (!r.retiring && in_file.count(r.name) == 0) {
            f.details.push_back("route " + r.name + " runs but is no longer in the file");
        }
    }
    if (f.details.empty()) return std::nullopt;
    f.summary = "the running loopgate (generation " + std::to_string(status.generation) + ") is not what " +
                config.path + " says";
    f.todo = "loopgate reload (it reads the file again; a file it refuses leaves it as it is)";
    return f;
}

std::optional<Finding> check_session(const AgentFacts& agent) {
    if (!agent.status || agent.status->session.empty()) return std::nullopt;
    std::string pid = std::to_string(agent.status->pid);
    if (agent.status->session == "gui") {
        return Finding{"session", Severity::ok, "loopgate runs in your GUI login session", {}, ""};
    }
    std::string uid = std::to_string(agent.uid);
    std::string label = agent.service && agent.service->kind == ServiceKind::launchd ? service_name(*agent.service)
                                                                                      : "com.loopgate.agent";
    return Finding{
        "session", Severity::warn,
        "loopgate (pid " + pid + ") runs outside your GUI login session (launchd's user/" + uid +
            " domain, or started over ssh)",
        {"macOS keeps keychain access and authorizations per security session, and starts only the agents of "
         "gui/" + uid + " at login"},
        "stop it (launchctl bootout user/" + uid + "/" + label + ", or kill " + pid +
            "), then load the agent in your session: launchctl bootstrap gui/" + uid +
            " ~/Library/LaunchAgents/" + label + ".plist (loopgate-agent.sh install does this)"};
}

}  // namespace loopgate::doctor
