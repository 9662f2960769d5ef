#include "cli.hpp"

#include <llhttp.h>
#include <openssl/crypto.h>
#include <uv.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "admin_client.hpp"
#include "config.hpp"
#include "daemon.hpp"
#include "default_paths.hpp"
#include "doctor.hpp"
#include "exit_status.hpp"
#include "log.hpp"
#include "loopgate_version.h"
#include "probe.hpp"
#include "setup.hpp"
#include "trust_store.hpp"

namespace loopgate {
namespace {

struct Command {
    const char* name;
    const char* usage;
    const char* help;
};

// Every command, as `loopgate help CMD` and `loopgate CMD --help` print it.
constexpr Command kCommands[] = {
    {"run", "loopgate run [--config FILE] [--log-level debug|info|warn|error]",
     "Runs in the foreground, logging (logfmt) to stderr.\n"
     "SIGTERM/SIGINT close every connection (1001) and exit 0; a second one stops at once.\n"
     "SIGHUP reloads the config file: all of it, or nothing if it is invalid.\n"
     "Exit: 0 stopped cleanly, 66 config file missing, 78 config invalid,\n"
     "69 a listen address is in use, 71 the event loop cannot start."},
    {"check", "loopgate check [--config FILE]",
     "Validates the config: prints \"FILE: ok (N routes)\", or every error with its JSON path\n"
     "(or line and column). Exit: 0 valid, 78 invalid, 66 the file is missing or unreadable."},
    {"probe", "loopgate probe [--config FILE] [ROUTE] [--print-pin]",
     "Dials the upstream of ROUTE (default: every route) as a session would and prints each\n"
     "step with its duration: addresses, TLS, the certificate chain and its pins, the verdict,\n"
     "the upgrade. --print-pin also prints the tls.pins lines that pin what was seen.\n"
     "Exit: 0 every route answered, 1 a step failed (named), 64 no such route."},
    {"setup",
     "loopgate setup wss://HOST[:PORT] [--name NAME] [--port N] [--ca-file FILE]\n"
     "               [--pin sha256:...|spki-sha256:...] [--config FILE] [--force] [--dry-run]\n"
     "               [--service auto|launchd|systemd|none] [--wait SECONDS]",
     "From a gateway URL to a working local URL. Dials the gateway as probe does (printing the same\n"
     "steps) and adds a route for it to the config (created 0600 in a 0700 directory when missing;\n"
     "the rest of an existing file, comments included, is kept) and loads it as check does.\n"
     "A certificate that verifies (system store or --ca-file) gives \"verify\": \"full\"; a self-signed\n"
     "one gives \"pin-only\" with --pin, which must match its sha256: or spki-sha256: fingerprint\n"
     "(on a terminal, without --pin, setup asks). Any other certificate failure is refused. A gateway\n"
     "that answers 401/403 to an upgrade without a token is fine: the app sends its own.\n"
     "--port defaults to the gateway's own port when free on 127.0.0.1, else the first free port\n"
     "from 18789 to 18889 the config does not use; --name to the host's first label. A route of the\n"
     "same name or port is refused unless --force (which rewrites the file without its comments);\n"
     "--port of admin.listen, or one another process listens on, is refused in any case. The URL,\n"
     "--pin, --ca-file and --port are checked before the gateway is dialed, and the config it would\n"
     "write is loaded as check does before anything is written (in a dry run too).\n"
     "Then it installs and starts the agent: --service launchd (the default on macOS: the\n"
     "LaunchAgent, through share/loopgate/loopgate-agent.sh; LOOPGATE_AGENT_SCRIPT overrides where),\n"
     "systemd (the default where `systemctl --user` answers: ~/.config/systemd/user/loopgate.service),\n"
     "or none (it prints the `loopgate run` command to start yourself). An agent already running is\n"
     "sent SIGHUP when its definition is unchanged, else restarted. It waits up to --wait seconds\n"
     "(default 10) for the new listener, makes a WebSocket upgrade through it and reports the\n"
     "gateway's answer, and ends with: point your app at ws://127.0.0.1:PORT/.\n"
     "--dry-run prints the config it would write and every command it would run; changes nothing.\n"
     "Exit: 0 written and working (101, or 401/403 from the gateway), or the run command printed;\n"
     "1 refused (nothing written); 64 bad URL or options; 69 --port in use or no free port, gateway\n"
     "unreachable (nothing written), or the agent did not start (or a loopgate running from the file\n"
     "refused it) or the path through it failed (the config stays; stderr says what to look at); 78 the config is (or would be) invalid."},
    {"status", "loopgate status [--config FILE]",
     "Asks the running loopgate (through the config's admin.listen) how its routes are.\n"
     "Exit: 0 all up, 1 a route is down or never up, 69 no answer, 78 no admin endpoint configured."},
    {"reload", "loopgate reload [--config FILE]",
     "Makes the running loopgate read its config again (through admin.listen; the same as\n"
     "kill -HUP) and prints the result. Exit: 0 applied, 1 refused (the previous config stays),\n"
     "69 no answer, 78 no admin endpoint configured."},
    {"doctor", "loopgate doctor [--config FILE] [--json] [--service auto|launchd|systemd|none]",
     "Says whether loopgate works here and, for each thing that does not, what to do: the config\n"
     "(as check loads it), the agent (installed and loaded in launchd or systemd, running, its\n"
     "config generation, through admin.listen), each route's listener and probe (as probe dials),\n"
     "this clock against the gateways' Date (a clock far off breaks certificates), an IPv6 default\n"
     "route through Tailscale (apps that try IPv6 first hang; loopgate dials IPv4 only), on macOS a\n"
     "loopgate outside the GUI login session, and the last warnings and errors it logged.\n"
     "--json prints the same findings as JSON. --service picks the service manager to ask (auto).\n"
     "Exit: 0 no problem found (warnings may be printed), 1 a problem found."},
    {"help", "loopgate help [COMMAND]", "Prints the help of every command, or of one."},
};

const Command* find_command(std::string_view name) {
    for (const Command& command : kCommands) {
        if (name == command.name) return &command;
    }
    return nullptr;
}

void print_usage(FILE* out) {
    std::fprintf(out, "usage:");
    bool first = true;
    for (const Command& command : kCommands) {
        std::fprintf(out, "%s%s\n", first ? " " : "       ", command.usage);
        first = false;
    }
    std::fprintf(out, "       loopgate --version | --help\n");
}

void print_help(const Command* only) {
    if (only != nullptr) {
        std::printf("usage: %s\n\n%s\n", only->usage, only->help);
    } else {
        std::printf("loopgate: a local WebSocket gateway proxy. Accepts plain WebSocket connections on\n"
                    "loopback and forwards each one over its own IPv4-only, TLS-verified upstream.\n\n");
        print_usage(stdout);
        for (const Command& command : kCommands) std::printf("\n%s\n%s\n", command.usage, command.help);
    }
    std::printf("\n--config FILE defaults to %s.\nSee loopgate(8) and loopgate.jsonc(5).\n",
                default_config_path_text());
}

struct Args {
    std::string command;
    bool help = false;
    std::optional<std::string> config_path;
    std::optional<std::string> log_level;
    std::optional<std::string> operand;  // probe: ROUTE; help: COMMAND; setup: URL
    bool print_pin = false;
    SetupOptions setup;
    bool setup_only = false;  // a setup option was given
    bool service_given = false;  // --service: setup's and doctor's
    bool json = false;           // doctor --json
};

int usage_error(const std::string& message) {
    std::fprintf(stderr, "loopgate: %s\n", message.c_str());
    print_usage(stderr);
    return kExitUsage;
}

// Returns an error message, or nothing when args were understood.
std::optional<std::string> parse_args(const std::vector<std::string_view>& argv, Args& args) {
    for (size_t i = 0; i < argv.size(); ++i) {
        std::string_view arg = argv[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= argv.size()) return std::nullopt;
            return std::string(argv[++i]);
        };
        if (arg == "--config" || arg == "-c") {
            args.config_path = value();
            if (!args.config_path) return std::string(arg) + " needs a file";
        } else if (arg.substr(0, 9) == "--config=") {
            args.config_path = std::string(arg.substr(9));
        } else if (arg == "--log-level") {
            args.log_level = value();
            if (!args.log_level) return "--log-level needs a level";
        } else if (arg == "--help" || arg == "-h") {
            args.help = true;
        } else if (arg == "--version" || arg == "version") {
            if (!args.command.empty()) return "unexpected argument '" + std::string(arg) + "'";
            args.command = "--version";
        } else if (args.command.empty() && find_command(arg) != nullptr) {
            args.command = std::string(arg);
        } else if (arg == "--name" || arg == "--ca-file" || arg == "--pin" || arg == "--port" ||
                   arg == "--service" || arg == "--wait") {
            auto given = value();
            if (!given) return std::string(arg) + " needs a value";
            (arg == "--service" ? args.service_given : args.setup_only) = true;
            if (arg == "--name") args.setup.name = *given;
            if (arg == "--ca-file") args.setup.ca_file = *given;
            if (arg == "--pin") args.setup.pin = *given;
            if (arg == "--port") {
                char* end = nullptr;
                unsigned long port = std::strtoul(given->c_str(), &end, 10);
                if (given->empty() || *end != '\0' || port == 0 || port > 65535) return "--port needs 1 to 65535";
                args.setup.port = static_cast<uint16_t>(port);
            }
            if (arg == "--service") {
                auto choice = parse_service_choice(*given);
                if (!choice) return "--service must be auto, launchd, systemd or none";
                args.setup.service = *choice;
            }
            if (arg == "--wait") {
                char* end = nullptr;
                unsigned long seconds = std::strtoul(given->c_str(), &end, 10);
                if (given->empty() || *end != '\0' || seconds == 0 || seconds > 600) {
                    return "--wait needs 1 to 600 (seconds)";
                }
                args.setup.wait = std::chrono::seconds(seconds);
            }
        } else if (arg == "--force" || arg == "--dry-run") {
            args.setup_only = true;
            (arg == "--force" ? args.setup.force : args.setup.dry_run) = true;
        } else if (arg == "--print-pin") {
            args.print_pin = true;
        } else if (arg == "--json") {
            args.json = true;
        } else if ((args.command == "probe" || args.command == "help" || args.command == "setup") && !args.operand &&
                   !arg.empty() && arg[0] != '-') {
            args.operand = std::string(arg);
        } else {
            return "unknown argument '" + std::string(arg) + "'";
        }
    }
    if (args.command.empty() && !args.help) return "no command given";
    if (args.log_level && args.command != "run") return "--log-level belongs to the run command";
    if (args.print_pin && args.command != "probe") return "--print-pin belongs to the probe command";
    if (args.setup_only && args.command != "setup") {
        return "--name, --port, --ca-file, --pin, --wait, --force and --dry-run belong to the setup command";
    }
    if (args.service_given && args.command != "setup" && args.command != "doctor") {
        return "--service belongs to the setup and doctor commands";
    }
    if (args.json && args.command != "doctor") return "--json belongs to the doctor command";
    if (args.command == "setup" && !args.operand && !args.help) {
        return "setup needs a gateway URL (wss://HOST[:PORT])";
    }
    return std::nullopt;
}

// The config's names, the log's levels (log.cpp keeps the two enums in step).
std::optional<log::Level> parse_level(std::string_view name) {
    for (auto level : {config::LogLevel::debug, config::LogLevel::info, config::LogLevel::warn, config::LogLevel::error}) {
        if (config::log_level_name(level) == name) return static_cast<log::Level>(level);
    }
    return std::nullopt;
}

// The config, or the exit status that says why not (66 cannot read the file, 78 invalid).
bool readable_or_report(const std::string& path) {
    std::error_code error;
    bool is_file = std::filesystem::is_regular_file(path, error);
    if (is_file && std::ifstream(path).good()) return true;
    std::string why = !std::filesystem::exists(path, error) ? "No such file or directory"
                      : !is_file                           ? "not a regular file"
                                                            : "cannot be read (permissions?)";
    std::fprintf(stderr, "loopgate: cannot read %s: %s\n", path.c_str(), why.c_str());
    return false;
}

void report_errors(const std::string& path, const std::vector<std::string>& errors) {
    std::fprintf(stderr, "loopgate: %s: %zu error%s\n", path.c_str(), errors.size(), errors.size() == 1 ? "" : "s");
    for (const auto& e : errors) std::fprintf(stderr, "  %s\n", e.c_str());
}

std::optional<config::Config> load_or_report(const std::string& path, int& status) {
    if (!readable_or_report(path)) {
        status = kExitNoInput;
        return std::nullopt;
    }
    config::LoadResult result = config::load_config_file(path);
    if (result.errors.empty()) return std::move(result.config);
    report_errors(path, result.errors);
    status = kExitConfig;
    return std::nullopt;
}

// What `run` would refuse at start is refused here too: besides the file,
// each route's TLS is set up as run sets it up (the trust anchors a ca_file
// or the system store holds, the client certificate and its key).
int command_check(const std::string& path, const config::Config& config) {
    std::vector<std::string> errors = route_tls_errors(config, SystemTrustAnchors::from_environment());
    if (!errors.empty()) {
        report_errors(path, errors);
        return kExitConfig;
    }
    std::printf("%s: ok (%zu route%s)\n", path.c_str(), config.routes.size(), config.routes.size() == 1 ? "" : "s");
    return kExitOk;
}

// status and reload ask the running loopgate, at the admin endpoint the file
// names. A file with errors elsewhere still names it (the daemon keeps the
// config it loaded): status reports, and reload lets the daemon refuse the
// file with its own reasons (exit 1), as the docs promise.
int command_admin(const Args& args) {
    const std::string& path = *args.config_path;
    if (!readable_or_report(path)) return kExitNoInput;
    config::LoadResult result = config::load_config_file(path);
    std::optional<config::ListenAddress> admin;
    if (result.errors.empty()) {
        admin = result.config->admin_listen;
    } else {
        admin = config::admin_listen_of_file(path);
        if (!admin) {
            report_errors(path, result.errors);
            return kExitConfig;
        }
        std::fprintf(stderr, "loopgate: %s has %zu error%s (loopgate check lists them); the running loopgate "
                     "keeps the config it loaded\n", path.c_str(), result.errors.size(),
                     result.errors.size() == 1 ? "" : "s");
    }
    return args.command == "status" ? run_status(admin) : run_reload(admin);
}

int print_version() {
    std::printf("loopgate %s\n", LOOPGATE_VERSION);
    std::printf("  %s, libuv %s, llhttp %d.%d.%d\n", OpenSSL_version(OPENSSL_VERSION), uv_version_string(),
                LLHTTP_VERSION_MAJOR, LLHTTP_VERSION_MINOR, LLHTTP_VERSION_PATCH);
    return kExitOk;
}

int command_run(const Args& args, config::Config config) {
    std::optional<log::Level> level_override;
    if (args.log_level) level_override = parse_level(*args.log_level);
    Daemon daemon(std::move(config), *args.config_path, level_override);  // installs the log sink
    log::info("starting").kv("version", LOOPGATE_VERSION).kv("config", *args.config_path);
    return daemon.run();
}

// Doctor judges a missing or invalid config itself, so it runs before the config is loaded.
int command_doctor(const Args& args, const char* argv0) {
    std::unique_ptr<CommandRunner> runner = make_process_runner();
    ServiceEnvironment environment = ServiceEnvironment::from_process(argv0);
    std::ostringstream manager_words;  // asking prints nothing worth showing; the report says what it found
    std::unique_ptr<ServiceManager> manager = make_service_manager(args.setup.service, environment, *runner,
                                                                   manager_words);
    return run_doctor(DoctorOptions{*args.config_path, args.json}, manager.get(), *runner);
}

}  // namespace

int run_cli(int argc, char** argv) {
    std::vector<std::string_view> words(argv + 1, argv + argc);
    Args args;
    if (auto error = parse_args(words, args)) return usage_error(*error);
    if (args.command == "--version") return print_version();
    if (args.command == "help" || args.command.empty() || args.help) {
        const Command* only = nullptr;
        if (args.command == "help" && args.operand) {
            only = find_command(*args.operand);
            if (only == nullptr) return usage_error("no command '" + *args.operand + "'");
        } else if (!args.command.empty() && (args.command != "help" || args.help)) {
            only = find_command(args.command);  // `CMD --help`, `help --help`
        }
        print_help(only);
        return kExitOk;
    }
    if (!args.config_path) args.config_path = default_config_path();
    if (!args.config_path) return usage_error(args.command + " needs --config FILE (HOME is not set)");
    if (args.log_level && !parse_level(*args.log_level)) {
        return usage_error("--log-level must be debug, info, warn or error");
    }
    if (args.command == "setup") {
        args.setup.url = *args.operand;
        args.setup.config_path = *args.config_path;
        args.setup.argv0 = argc > 0 ? argv[0] : "loopgate";
        return run_setup(args.setup);
    }
    if (args.command == "doctor") return command_doctor(args, argc > 0 ? argv[0] : "loopgate");
    if (args.command == "status" || args.command == "reload") return command_admin(args);
    int status = kExitOk;
    auto config = load_or_report(*args.config_path, status);
    if (!config) return status;
    if (args.command == "check") return command_check(*args.config_path, *config);
    if (args.command == "probe") return run_probe(*config, ProbeOptions{args.operand, args.print_pin});
    return command_run(args, std::move(*config));
}

}  // namespace loopgate
