#include "cli.hpp"
#include "exit_status.hpp"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "daemon.hpp"
#include "log.hpp"
#include "loopgate_version.h"
#include "admin_client.hpp"
#include "probe.hpp"

#define DEFAULT_CONFIG_TEXT "~/.config/loopgate/loopgate.jsonc"

namespace loopgate {
namespace {

constexpr const char* kUsage =
    "usage: loopgate run --config FILE [--log-level debug|info|warn|error]\n"
    "       loopgate check --config FILE\n"
    "       loopgate probe [--config FILE] [ROUTE] [--print-pin]\n"
    "       loopgate status [--config FILE]\n"
    "       loopgate --version | --help\n";

constexpr const char* kHelp =
    "loopgate: a local WebSocket gateway proxy.\n"
    "Accepts plain WebSocket connections on loopback and forwards each one over its\n"
    "own IPv4-only, TLS-verified upstream connection.\n"
    "\n"
    "commands:\n"
    "  run --config FILE     run in the foreground, logging (logfmt) to stderr;\n"
    "                        SIGINT/SIGTERM close every connection (1001) and exit 0\n"
    "  check --config FILE   validate the config: exit 0, or print every error and exit 78\n"
    "  probe [ROUTE]         dial the upstream of ROUTE (default: every route) as a session\n"
    "                        would and print each step with its duration: addresses, TLS,\n"
    "                        the certificate chain and its pins, the verdict, the upgrade;\n"
    "                        exit 0, or 1 naming the failing step (config: " DEFAULT_CONFIG_TEXT ")\n"
    "  status                ask the running loopgate (its admin.listen) how its routes are:\n"
    "                        exit 0 all up, 1 a route is down, 69 no answer (config: " DEFAULT_CONFIG_TEXT ")\n"
    "\n"
    "options:\n"
    "  --config FILE         the config file (JSON with comments)\n"
    "  --log-level LEVEL     override log.level from the config\n"
    "  --print-pin           probe: also print the tls.pins lines that pin what was seen\n"
    "  --version             print the version\n"
    "  --help                print this help\n";

struct Args {
    std::string command;
    std::optional<std::string> config_path;
    std::optional<std::string> log_level;
    std::optional<std::string> route;  // probe
    bool print_pin = false;            // probe
};

int usage_error(const std::string& message) {
    std::fprintf(stderr, "loopgate: %s\n%s", message.c_str(), kUsage);
    return kExitUsage;
}

// Returns an error message, or nothing when args were understood.
std::optional<std::string> parse_args(const std::vector<std::string_view>& argv, Args& args) {
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string_view arg = argv[i];
        auto value = [&](std::string_view flag) -> std::optional<std::string> {
            if (i + 1 >= argv.size()) return std::nullopt;
            (void)flag;
            return std::string(argv[++i]);
        };
        if (arg == "--config" || arg == "-c") {
            auto v = value(arg);
            if (!v) return std::string(arg) + " needs a file";
            args.config_path = v;
        } else if (arg.substr(0, 9) == "--config=") {
            args.config_path = std::string(arg.substr(9));
        } else if (arg == "--log-level") {
            auto v = value(arg);
            if (!v) return "--log-level needs a level";
            args.log_level = v;
        } else if (arg == "--version" || arg == "--help" || arg == "-h" || arg == "version" || arg == "help") {
            if (!args.command.empty()) return "unexpected argument '" + std::string(arg) + "'";
            args.command = arg == "-h" ? "--help" : (arg.substr(0, 2) == "--" ? std::string(arg) : "--" + std::string(arg));
        } else if ((arg == "run" || arg == "check" || arg == "probe" || arg == "status") && args.command.empty()) {
            args.command = arg;
        } else if (arg == "--print-pin") {
            args.print_pin = true;
        } else if (args.command == "probe" && !args.route && !arg.empty() && arg[0] != '-') {
            args.route = std::string(arg);
        } else {
            return "unknown argument '" + std::string(arg) + "'";
        }
    }
    if (args.command.empty()) return "no command given";
    if (args.print_pin && args.command != "probe") return "--print-pin belongs to the probe command";
    return std::nullopt;
}

// The config's names, the log's levels (log.cpp keeps the two enums in step).
std::optional<log::Level> parse_level(std::string_view name) {
    for (auto level : {config::LogLevel::debug, config::LogLevel::info, config::LogLevel::warn, config::LogLevel::error}) {
        if (config::log_level_name(level) == name) return static_cast<log::Level>(level);
    }
    return std::nullopt;
}

std::optional<config::Config> load_or_report(const std::string& path) {
    config::LoadResult result = config::load_config_file(path);
    if (result.errors.empty()) return std::move(result.config);
    std::fprintf(stderr, "loopgate: %s: %zu error%s\n", path.c_str(), result.errors.size(),
                 result.errors.size() == 1 ? "" : "s");
    for (const auto& error : result.errors) std::fprintf(stderr, "  %s\n", error.c_str());
    return std::nullopt;
}

int command_check(const Args& args) {
    auto config = load_or_report(*args.config_path);
    if (!config) return kExitConfig;
    std::printf("%s: ok (%zu route%s)\n", args.config_path->c_str(), config->routes.size(),
                config->routes.size() == 1 ? "" : "s");
    return kExitOk;
}

int command_probe(const Args& args) {
    auto config = load_or_report(*args.config_path);
    if (!config) return kExitConfig;
    return run_probe(*config, ProbeOptions{args.route, args.print_pin});
}

// Where launchd/loopgate-agent.sh puts the config, so an admin can just type `loopgate probe`.
std::optional<std::string> default_config_path() {
    const char* home = std::getenv("HOME");
    if (home == nullptr || *home == '\0') return std::nullopt;
    return std::string(home) + "/.config/loopgate/loopgate.jsonc";
}

int command_run(const Args& args) {
    auto config = load_or_report(*args.config_path);
    if (!config) return kExitConfig;
    std::optional<log::Level> level_override;
    if (args.log_level) level_override = parse_level(*args.log_level);
    log::set_level(level_override ? *level_override : *parse_level(config::log_level_name(config->log_level)));
    log::info("starting").kv("version", LOOPGATE_VERSION).kv("config", *args.config_path);
    Daemon daemon(std::move(*config), *args.config_path, level_override);
    return daemon.run();
}

}  // namespace

int run_cli(int argc, char** argv) {
    std::vector<std::string_view> words(argv + 1, argv + argc);
    Args args;
    if (auto error = parse_args(words, args)) return usage_error(*error);
    if (args.command == "--version") {
        std::printf("loopgate %s\n", LOOPGATE_VERSION);
        return kExitOk;
    }
    if (args.command == "--help") {
        std::printf("%s\n%s", kHelp, kUsage);
        return kExitOk;
    }
    if (!args.config_path && (args.command == "probe" || args.command == "status")) {
        args.config_path = default_config_path();
    }
    if (!args.config_path) return usage_error(args.command + " needs --config FILE");
    if (args.log_level && !parse_level(*args.log_level)) {
        return usage_error("--log-level must be debug, info, warn or error");
    }
    if (args.command == "probe") return command_probe(args);
    if (args.command == "status") {
        auto config = load_or_report(*args.config_path);
        return config ? run_status(*config) : kExitConfig;
    }
    return args.command == "check" ? command_check(args) : command_run(args);
}

}  // namespace loopgate
