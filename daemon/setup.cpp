#include "setup.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "config.hpp"
#include "config_edit.hpp"
#include "exit_status.hpp"
#include "log.hpp"
#include "log_sink.hpp"
#include "route_probe.hpp"
#include "setup_agent.hpp"
#include "setup_options.hpp"
#include "system_files.hpp"
#include "tls_pins.hpp"
#include "tls_context.hpp"
#include "trust_store.hpp"

namespace loopgate {
namespace {

namespace fs = std::filesystem;
using ordered_json = nlohmann::ordered_json;

constexpr int kSelfSignedLeaf = 18;   // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
constexpr int kSelfSignedChain = 19;  // X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN

struct Outcome {
    bool ok = false;
    std::optional<tls::PeerReport> seen;
    std::string failed_step;
    std::string reason;
    int refused_status = 0;  // the upgrade was answered with this instead of 101

    // The gateway refused an upgrade without credentials (401/403) after TLS and
    // the certificate checked out: the app brings its token, the path is fine.
    bool wants_credentials() const {
        return !ok && failed_step == "upgrade" && (refused_status == 401 || refused_status == 403);
    }
};

void note_credentials(const Outcome& outcome) {
    std::printf("\nThe gateway answered %d to an upgrade without credentials: it wants a token (or a\n"
                "login) that your app sends itself. TLS and the certificate checked out, so the route is\n"
                "written; loopgate passes the app's credentials through unchanged.\n",
                outcome.refused_status);
}

int fail(int status, const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "loopgate setup: %s\n", message.c_str());
    return status;
}

// The route object as it is written: name, listen, upstream, tls.
ordered_json route_json(const std::string& name, uint16_t port, const std::string& upstream, const ordered_json& tls) {
    ordered_json route;
    route["name"] = name;
    route["listen"] = "127.0.0.1:" + std::to_string(port);
    route["upstream"] = upstream;
    if (!tls.empty()) route["tls"] = tls;
    return route;
}

// The route as the config parser reads it (URL, name and tls checked), or nothing with the errors printed.
std::optional<config::Route> parsed_route(const ordered_json& route) {
    ordered_json draft;
    draft["routes"] = ordered_json::array({route});
    config::LoadResult result = config::parse_config(draft.dump(), fs::current_path());
    if (result.config) return result.config->routes.front();
    for (const auto& error : result.errors) std::fprintf(stderr, "loopgate setup: %s\n", error.c_str());
    return std::nullopt;
}

// How setup words the probe's reasons: the advice to add a CA names --ca-file (setup's way to give one).
std::string in_setup_words(const std::string& text) { return tls::with_ca_advice(text, "--ca-file"); }

// The probe's lines as `loopgate probe` prints them, in setup's words.
class SetupProbeOutput final : public ProbeOutput {
public:
    void heading(const std::string& text) override { printed_.heading(text); }
    void step(const ProbeStep& step) override {
        ProbeStep worded = step;
        worded.detail = in_setup_words(step.detail);
        printed_.step(worded);
    }
    void detail(const std::string& text) override { printed_.detail(in_setup_words(text)); }
    void outcome(const std::string& text) override { printed_.outcome(in_setup_words(text)); }

private:
    PrintedProbe printed_;
};

Outcome probe(const config::Route& route) {
    StderrLogSink log_sink(log::Level::error);  // the probe prints its own account of every step
    uv_loop_t loop{};
    Outcome outcome;
    if (int rc = uv_loop_init(&loop)) {
        outcome.failed_step = "internal";
        outcome.reason = std::string("cannot start the event loop: ") + uv_strerror(rc);
        return outcome;
    }
    SystemTrustAnchors anchors = SystemTrustAnchors::from_environment();
    {
        SetupProbeOutput printed;
        RouteProbe steps(&loop, route, 0, anchors, printed);
        outcome.ok = steps.run();
        outcome.seen = steps.seen();
        outcome.failed_step = steps.failed_step();
        outcome.reason = in_setup_words(steps.failure_reason());
        outcome.refused_status = steps.refused_status();
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    std::fflush(stdout);
    return outcome;
}

bool same_pin(const std::string& a, const std::string& b) {
    config::Pin pa;
    config::Pin pb;
    return !config::parse_pin(a, pa) && !config::parse_pin(b, pb) && pa == pb;
}

// Asks on the terminal; true when the admin typed yes.
bool confirmed_on_terminal() {
    std::printf("type yes if the fingerprint matches: ");
    std::fflush(stdout);
    std::string answer;
    if (!std::getline(std::cin, answer)) return false;
    return answer == "yes";
}

// The trust of a self-signed gateway: {"verify": "pin-only", "pins": [PIN]}, or the exit status of a refusal.
std::optional<ordered_json> pin_only_trust(const tls::CertSummary& leaf, const SetupOptions& options, int& status) {
    std::string sha = tls::leaf_pin(leaf);
    std::string spki = tls::spki_pin(leaf);
    std::printf("\nThe gateway presented a self-signed certificate (%s). No CA vouches for it: compare\n"
                "its fingerprint with the one the gateway itself reports before trusting it.\n"
                "  certificate  %s\n  public key   %s\n"
                "On the gateway: openssl x509 -in CERT.pem -noout -fingerprint -sha256\n"
                "  (or, for the key: openssl x509 -in CERT.pem -noout -pubkey | openssl pkey -pubin -outform DER\n"
                "   | openssl dgst -sha256 -binary | base64)\n",
                leaf.subject.c_str(), sha.c_str(), spki.c_str());
    std::string pin;
    if (options.pin) {
        config::Pin parsed;
        config::parse_pin(*options.pin, parsed);  // it parses: check_command_line saw to that
        if (!same_pin(*options.pin, sha) && !same_pin(*options.pin, spki)) {
            status = fail(kExitFailure, "refused: --pin " + config::pin_text(parsed) +
                                            " matches neither the certificate (" + sha + ") nor its key (" + spki +
                                            "); nothing written");
            return std::nullopt;
        }
        pin = config::pin_text(parsed);
    } else if (::isatty(STDIN_FILENO) == 1) {
        if (!confirmed_on_terminal()) {
            status = fail(kExitFailure, "refused: the fingerprint was not confirmed; nothing written");
            return std::nullopt;
        }
        pin = sha;
    } else {
        status = fail(kExitFailure, "refused: a self-signed certificate needs a pin; check the fingerprint on "
                                    "the gateway, then pass --pin " + sha + " (or --pin " + spki + ")");
        return std::nullopt;
    }
    ordered_json trust;
    trust["verify"] = "pin-only";
    trust["pins"] = ordered_json::array({pin});
    return trust;
}

// Writes `text` to `path` with mode 0600, through a temporary file and a rename. Returns why not.
std::optional<std::string> write_private(const fs::path& path, const std::string& text) {
    std::error_code error;
    fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    std::vector<fs::path> missing;
    for (fs::path at = dir; !at.empty() && !fs::exists(at, error); at = at.parent_path()) {
        missing.push_back(at);
        if (at == at.parent_path()) break;
    }
    for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        if (::mkdir(it->c_str(), 0700) != 0 && errno != EEXIST) {
            return "cannot create " + it->string() + ": " + std::strerror(errno);
        }
    }
    fs::path temp = path;
    temp += ".setup-" + std::to_string(::getpid());
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot create " + temp.string() + ": " + std::strerror(errno);
    ::fchmod(fd, 0600);
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            ::unlink(temp.c_str());
            return "cannot write " + temp.string() + ": " + std::strerror(err);
        }
        done += static_cast<size_t>(n);
    }
    bool synced = ::fsync(fd) == 0;
    ::close(fd);
    if (!synced || ::rename(temp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(temp.c_str());
        return "cannot write " + path.string() + ": " + std::strerror(err);
    }
    return std::nullopt;
}

struct Existing {
    bool present = false;
    std::string text;
    std::optional<config::Config> config;
};

}  // namespace

int run_setup(const SetupOptions& options) {
    if (auto refused = check_command_line(options)) return fail(refused->status, refused->message);
    const fs::path path = options.config_path;
    Existing existing;
    std::error_code error;
    existing.present = fs::exists(path, error);
    if (existing.present) {
        config::LoadResult loaded = config::load_config_file(path);
        if (!loaded.config) {
            for (const auto& e : loaded.errors) std::fprintf(stderr, "  %s\n", e.c_str());
            return fail(kExitConfig, path.string() + " is invalid; fix it (loopgate check) before adding a route");
        }
        existing.config = std::move(loaded.config);
        if (int err = config::read_file(path, 16u << 20, existing.text)) {
            return fail(kExitNoInput, "cannot read " + path.string() + ": " + std::strerror(err));
        }
    }

    // The URL's host, port and path, and --name, checked by the config parser itself.
    ordered_json full_trust = ordered_json::object();
    if (options.ca_file) full_trust["ca_file"] = fs::absolute(*options.ca_file).lexically_normal().string();
    auto draft = parsed_route(route_json(options.name.value_or("setup"), 0, options.url, full_trust));
    if (!draft) return fail(kExitUsage, "cannot use " + options.url + " with these options");
    const std::string upstream = draft->upstream.text();
    const std::string name = options.name.value_or(derive_route_name(draft->upstream.host,
                                                                     draft->upstream.host_is_ipv4_literal));
    draft->name = name;  // the probe prints it

    std::string clash_why;
    std::set<uint16_t> taken;
    if (existing.config) {
        clash_why = route_clashes(*existing.config, name, options.port.value_or(0));
        for (const auto& route : existing.config->routes) {
            if (!route.listen.is_unix() && route.name != name) taken.insert(route.listen.port);
        }
        if (existing.config->admin_listen) taken.insert(existing.config->admin_listen->port);
        if (!clash_why.empty() && !options.force) {
            return fail(kExitFailure, "refused: " + path.string() + ": " + clash_why +
                                          " (pick another --name/--port, or --force to replace it)");
        }
    }
    if (options.port) {
        if (auto refused = check_requested_port(*options.port, existing.config ? &*existing.config : nullptr)) {
            return fail(refused->status, refused->message);
        }
    }
    uint16_t port = choose_listen_port(options.port, draft->upstream.port, taken);
    if (port == 0) {
        return fail(kExitUnavailable, "no port to listen on: neither the gateway's own (" +
                                          std::to_string(draft->upstream.port) + ") nor any of " +
                                          std::to_string(kFirstSetupPort) + "-" + std::to_string(kLastSetupPort) +
                                          " is free on 127.0.0.1 and unused by " + path.string() +
                                          "; pass --port");
    }
    if (existing.config && options.force) {
        clash_why = route_clashes(*existing.config, name, port);
    }

    std::printf("probing %s\n", upstream.c_str());
    Outcome outcome = probe(*draft);
    ordered_json trust = full_trust;
    if (outcome.wants_credentials()) {
        note_credentials(outcome);
    } else if (!outcome.ok) {
        const auto& seen = outcome.seen;
        bool self_signed = seen && !seen->chain.empty() && !seen->pin_mismatch &&
                           (seen->chain_error == kSelfSignedLeaf || seen->chain_error == kSelfSignedChain);
        if (!self_signed) {
            bool unreachable = outcome.failed_step == "resolve" || outcome.failed_step == "connect";
            return fail(unreachable ? kExitUnavailable : kExitFailure,
                        std::string(unreachable ? "cannot reach " : "refused: ") + upstream + ": " +
                            (outcome.failed_step.empty() ? "" : "step " + outcome.failed_step + ": ") +
                            outcome.reason + "; nothing written");
        }
        int status = kExitOk;
        auto pinned = pin_only_trust(seen->chain.front(), options, status);
        if (!pinned) return status;
        trust = *pinned;
        auto with_pin = parsed_route(route_json(name, 0, upstream, trust));
        if (!with_pin) return fail(kExitFailure, "internal: the pinned route does not parse");
        std::printf("\nprobing again with the pin\n");
        Outcome again = probe(*with_pin);
        if (again.wants_credentials()) {
            note_credentials(again);
        } else if (!again.ok) {
            return fail(kExitFailure, "refused: with the pin, step " + again.failed_step + ": " + again.reason +
                                          "; nothing written");
        }
    }

    ordered_json route = route_json(name, port, upstream, trust);
    if (!parsed_route(route)) return fail(kExitUsage, "the route for " + upstream + " does not parse");

    std::string text;
    std::string what;
    size_t added_at = existing.config ? existing.config->routes.size() : 0;  // the new route's index
    if (!existing.present) {
        text = *insert_route("// Written by `loopgate setup`. See loopgate.jsonc(5).\n{\n    \"routes\": [\n    ]\n}\n",
                             route.dump(4));
        what = "create " + path.string();
        fs::path dir = path.parent_path();
        if (!dir.empty() && !fs::exists(dir, error)) what += " (and its directory " + dir.string() + ", mode 0700)";
    } else if (!clash_why.empty()) {
        // --force: the clashing routes go; the file is rewritten from its parsed JSON.
        ordered_json whole = ordered_json::parse(existing.text, nullptr, true, true);
        ordered_json kept = ordered_json::array();
        for (auto& r : whole["routes"]) {
            bool clash = r.value("name", "") == name ||
                         r.value("listen", "").ends_with(":" + std::to_string(port));
            if (!clash) kept.push_back(r);
        }
        added_at = kept.size();
        kept.push_back(route);
        whole["routes"] = kept;
        text = whole.dump(4) + "\n";
        what = "replace " + clash_why + " in " + path.string() + " (--force: the file is rewritten, its comments "
               "are not kept)";
    } else {
        auto edited = insert_route(existing.text, route.dump(4));
        if (!edited) return fail(kExitConfig, path.string() + ": no top-level \"routes\" array to add the route to");
        text = *edited;
        what = "add route \"" + name + "\" to " + path.string();
    }

    // The text is loaded as `loopgate check` would load the file, before anything is written (a dry run too).
    config::LoadResult check = config::load_config_text(text, path);
    if (check.config) check.errors = route_tls_errors(*check.config, SystemTrustAnchors::from_environment());
    if (!check.config || !check.errors.empty()) {
        for (const auto& e : check.errors) std::fprintf(stderr, "  %s\n", e.c_str());
        return fail(kExitConfig, path.string() + " would be invalid with the route (routes[" +
                                     std::to_string(added_at) + "] is the one setup adds); nothing written");
    }
    const size_t routes = check.config->routes.size();
    const std::string loaded = path.string() + ": ok (" + std::to_string(routes) + " route" +
                               (routes == 1 ? "" : "s") + ")";

    // Who starts the agent; auto-detection only asks (systemctl --user show-environment).
    std::unique_ptr<CommandRunner> runner = make_process_runner();
    ServiceEnvironment environment = ServiceEnvironment::from_process(options.argv0);
    std::unique_ptr<ServiceManager> manager = make_service_manager(options.service, environment, *runner, std::cout);
    AgentPhase agent{*manager, fs::absolute(path, error).lexically_normal().string(), port, options.dry_run,
                     options.wait, check.config->admin_listen};

    if (options.dry_run) {
        std::printf("\ndry run: would %s (mode 0600); loaded as loopgate check loads it:\n%s\n", what.c_str(),
                    loaded.c_str());
        std::printf("%s:\n%s\n", existing.present && clash_why.empty() ? "the route it would add" : "the file",
                    existing.present && clash_why.empty() ? route.dump(4).c_str() : text.c_str());
        std::printf("dry run: nothing was written.\n");
        return start_agent_and_prove(agent);
    }

    std::printf("\n%s\n", what.c_str());
    if (auto why = write_private(path, text)) return fail(kExitFailure, *why);
    std::printf("%s\n", loaded.c_str());
    return start_agent_and_prove(agent);
}

}  // namespace loopgate
