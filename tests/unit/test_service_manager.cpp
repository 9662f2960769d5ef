// The service managers behind `loopgate setup` and `loopgate doctor`: which
// one auto-detection picks, the commands each runs (a fake runner records
// them), the systemd unit they write, and what they read back from
// `systemctl show`, `launchctl print` and the plist.
#include <doctest/doctest.h>

#include <signal.h>

#include <cstdlib>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "service_launchd.hpp"
#include "service_manager.hpp"
#include "service_parts.hpp"
#include "service_systemd.hpp"
#include "temp_dir.hpp"

namespace loopgate::test {
namespace {

using Argv = std::vector<std::string>;

// Records every command; answers those whose words start with a programmed prefix.
class FakeRunner final : public CommandRunner {
public:
    Result run(const Argv& argv, bool capture) override {
        calls.push_back(argv);
        captured.push_back(capture);
        std::string line = command_text(argv);
        for (const auto& [prefix, result] : answers) {
            if (line.starts_with(prefix)) return result;
        }
        return {0, ""};
    }
    std::vector<std::string> lines() const {
        std::vector<std::string> out;
        for (const auto& call : calls) out.push_back(command_text(call));
        return out;
    }
    std::map<std::string, Result> answers;
    std::vector<Argv> calls;
    std::vector<bool> captured;
};

ServiceEnvironment environment_in(const TempDir& dir) {
    ServiceEnvironment env;
    env.home = (dir.path() / "home").string();
    env.config_home = (dir.path() / "home" / ".config").string();
    env.uid = 501;
    env.loopgate_bin = "/opt/loop gate/bin/loopgate";
    env.agent_script = "/opt/loop gate/share/loopgate/loopgate-agent.sh";
    return env;
}

constexpr const char* kTemplate =
    "# how to copy this by hand\n#   cp tools/loopgate.service ...\n\n[Unit]\nDescription=loopgate\n\n"
    "[Service]\nExecStart=%h/.local/bin/loopgate run --config %h/.config/loopgate/loopgate.jsonc\n"
    "ExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\n\n[Install]\nWantedBy=default.target\n";

}  // namespace

TEST_CASE("service: --service names") {
    CHECK(parse_service_choice("auto") == ServiceChoice::auto_detect);
    CHECK(parse_service_choice("launchd") == ServiceChoice::launchd);
    CHECK(parse_service_choice("systemd") == ServiceChoice::systemd);
    CHECK(parse_service_choice("none") == ServiceChoice::none);
    CHECK_FALSE(parse_service_choice("upstart"));
    CHECK_FALSE(parse_service_choice(""));
}

TEST_CASE("service: auto picks launchd on macOS without asking systemctl") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    env.macos = true;
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_service_manager(ServiceChoice::auto_detect, env, runner, out);
    CHECK(manager->kind() == ServiceKind::launchd);
    CHECK(runner.calls.empty());
}

TEST_CASE("service: auto picks systemd when the user manager answers, else none, saying why") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    CHECK(make_service_manager(ServiceChoice::auto_detect, env, runner, out)->kind() == ServiceKind::systemd);
    REQUIRE(runner.lines() == std::vector<std::string>{"systemctl --user show-environment"});
    CHECK(runner.captured.front());

    runner.answers["systemctl --user show-environment"] = {1, "Failed to connect to bus: No medium found\n"};
    auto none = make_service_manager(ServiceChoice::auto_detect, env, runner, out);
    CHECK(none->kind() == ServiceKind::none);
    CHECK(none->state().detail == "no service manager: not macOS, and `systemctl --user` does not answer: "
                                  "Failed to connect to bus: No medium found");

    runner.answers["systemctl --user show-environment"] = {127, "systemctl: No such file or directory"};
    CHECK(make_service_manager(ServiceChoice::auto_detect, env, runner, out)->state().detail ==
          "no service manager: not macOS, and no systemctl");
}

TEST_CASE("service: a named manager is taken as given, nothing asked") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    env.macos = true;
    FakeRunner runner;
    std::ostringstream out;
    CHECK(make_service_manager(ServiceChoice::systemd, env, runner, out)->kind() == ServiceKind::systemd);
    CHECK(make_service_manager(ServiceChoice::none, env, runner, out)->kind() == ServiceKind::none);
    env.macos = false;
    CHECK(make_service_manager(ServiceChoice::launchd, env, runner, out)->kind() == ServiceKind::launchd);
    CHECK(runner.calls.empty());
}

TEST_CASE("service: none prints the exact run command and starts nothing") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    std::ostringstream out;
    auto manager = make_no_manager(env, out, "--service none");
    StartResult result = manager->install_and_start("/home/me/Library/Application Support/lg.jsonc", false);
    CHECK(result.outcome == StartResult::Outcome::left_to_admin);
    CHECK(out.str().find("    '/opt/loop gate/bin/loopgate' run --config "
                         "'/home/me/Library/Application Support/lg.jsonc'\n") != std::string::npos);
    AgentState state = manager->state();
    CHECK_FALSE(state.installed);
    CHECK_FALSE(state.loaded);
    CHECK(manager->recent_log(10).empty());
}

TEST_CASE("service: commands are printed as a shell reads them back") {
    CHECK(command_text({"systemctl", "--user", "enable", "loopgate.service"}) ==
          "systemctl --user enable loopgate.service");
    CHECK(command_text({"a b", "it's", ""}) == "'a b' 'it'\\''s' ''");
    CHECK(command_text({"--config=/x/y.jsonc", "gui/501/com.loopgate.agent"}) ==
          "--config=/x/y.jsonc gui/501/com.loopgate.agent");
}

TEST_CASE("service: the last lines of a log") {
    CHECK(last_lines("a\nb\nc\n", 2) == "b\nc");
    CHECK(last_lines("a\nb\nc", 5) == "a\nb\nc");
    CHECK(last_lines("a\nb\n", 0).empty());
    CHECK(first_line("\n  first\nsecond") == "first");
    CHECK(first_line("") == "(it printed nothing)");
}

TEST_CASE("service: a log larger than what is read gives its newest lines, never a cut one") {
    TempDir dir;
    std::string text;
    for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + " of an agent log that only grows\n";
    auto file = dir.write("loopgate.log", text);
    auto tail = read_file_tail(file.string(), 4096);
    REQUIRE(tail);
    CHECK(tail->size() <= 4096);
    CHECK(tail->starts_with("line "));
    CHECK(last_lines(*tail, 1) == "line 19999 of an agent log that only grows");
    CHECK(read_file_tail(dir.write("small.log", "a\nb\n").string(), 4096) == "a\nb\n");
    CHECK_FALSE(read_file_tail((dir.path() / "missing.log").string(), 4096));
}

// ---- systemd ----

TEST_CASE("systemd: the unit is the template with this binary and config in ExecStart") {
    auto unit = render_systemd_unit(kTemplate, "/opt/loop gate/bin/loopgate", "/home/me/100%/$HOME/lg.jsonc");
    REQUIRE(unit);
    CHECK(unit->starts_with("# Written by `loopgate setup`"));
    CHECK(unit->find("how to copy this by hand") == std::string::npos);
    CHECK(unit->find("\nExecStart=\"/opt/loop gate/bin/loopgate\" run --config /home/me/100%%/$$HOME/lg.jsonc\n") !=
          std::string::npos);
    CHECK(unit->find("\nExecReload=/bin/kill -HUP $MAINPID\nRestart=on-failure\n") != std::string::npos);
    CHECK(unit->ends_with("[Install]\nWantedBy=default.target\n"));
    CHECK_FALSE(render_systemd_unit(kTemplate, "/bin/loopgate", "/home/me/two\nlines.jsonc"));
}

TEST_CASE("systemd: the config a unit runs, read back from its ExecStart") {
    ServiceEnvironment env;
    env.home = "/home/me";
    env.config_home = "/home/me/.config";
    auto unit = render_systemd_unit(kTemplate, "/opt/loop gate/bin/loopgate", "/home/me/my \"odd\" 100%.jsonc");
    REQUIRE(unit);
    CHECK(systemd_unit_config_path(*unit, env) == "/home/me/my \"odd\" 100%.jsonc");
    CHECK(systemd_unit_config_path(kTemplate, env) == "/home/me/.config/loopgate/loopgate.jsonc");
    CHECK(systemd_unit_config_path("[Service]\nExecStart=-/usr/bin/loopgate run --config=/etc/lg.jsonc\n", env) ==
          "/etc/lg.jsonc");
    CHECK(systemd_unit_config_path("[Service]\nExecStart=/usr/bin/loopgate run\n", env) ==
          "/home/me/.config/loopgate/loopgate.jsonc");
    CHECK_FALSE(systemd_unit_config_path("[Service]\nType=exec\n", env));
}

TEST_CASE("systemd: a first install writes the unit, reloads systemd, enables and restarts it") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_systemd_manager(env, runner, out);
    StartResult result = manager->install_and_start("/home/me/lg.jsonc", false);
    CHECK(result.outcome == StartResult::Outcome::started);
    auto unit = read_text_file(env.config_home + "/systemd/user/loopgate.service");
    REQUIRE(unit);
    CHECK(systemd_unit_config_path(*unit, env) == "/home/me/lg.jsonc");
    CHECK(unit->find("\nExecStart=\"/opt/loop gate/bin/loopgate\" run --config /home/me/lg.jsonc\n") !=
          std::string::npos);
    CHECK(runner.lines() == std::vector<std::string>{"systemctl --user daemon-reload",
                                                     "systemctl --user enable loopgate.service",
                                                     "systemctl --user restart loopgate.service"});
    CHECK(out.str().find("wrote " + env.config_home + "/systemd/user/loopgate.service") != std::string::npos);

    SUBCASE("the same unit again: SIGHUP to a running agent (reload-or-restart), no daemon-reload") {
        runner.calls.clear();
        CHECK(manager->install_and_start("/home/me/lg.jsonc", false).outcome == StartResult::Outcome::started);
        CHECK(runner.lines() == std::vector<std::string>{"systemctl --user enable loopgate.service",
                                                         "systemctl --user reload-or-restart loopgate.service"});
    }
    SUBCASE("another config: the unit is rewritten and the agent restarted") {
        runner.calls.clear();
        CHECK(manager->install_and_start("/home/me/other.jsonc", false).outcome == StartResult::Outcome::started);
        CHECK(runner.lines().front() == "systemctl --user daemon-reload");
        CHECK(runner.lines().back() == "systemctl --user restart loopgate.service");
    }
}

TEST_CASE("systemd: a unit setup did not write is kept when it runs this config, refused when not") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    std::string own = "[Service]\nExecStart=%h/.local/bin/loopgate run --config %h/lg.jsonc\n";
    dir.write("home/.config/systemd/user/loopgate.service", own, 0644);
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_systemd_manager(env, runner, out);
    CHECK(manager->install_and_start(env.home + "/lg.jsonc", false).outcome == StartResult::Outcome::started);
    CHECK(read_text_file(env.config_home + "/systemd/user/loopgate.service") == own);
    CHECK(runner.lines().back() == "systemctl --user reload-or-restart loopgate.service");
    CHECK(out.str().find("not written by loopgate setup: kept") != std::string::npos);

    runner.calls.clear();
    StartResult other = manager->install_and_start("/elsewhere.jsonc", false);
    CHECK(other.outcome == StartResult::Outcome::failed);
    CHECK(other.message.find("runs loopgate with --config " + env.home + "/lg.jsonc, not /elsewhere.jsonc") !=
          std::string::npos);
    CHECK(runner.calls.empty());
    CHECK(read_text_file(env.config_home + "/systemd/user/loopgate.service") == own);
}

TEST_CASE("systemd: a config path spelt another way, or a link to it, is the same config") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    dir.write("home/lg.jsonc", "{}", 0600);
    std::filesystem::create_symlink(env.home + "/lg.jsonc", env.home + "/link.jsonc");
    const std::string real = env.home + "/lg.jsonc";
    CHECK(same_config_path("~/lg.jsonc", real, env));
    CHECK(same_config_path(env.home + "/./lg.jsonc", real, env));
    CHECK(same_config_path(env.home + "/sub/../lg.jsonc", real, env));
    CHECK(same_config_path(env.home + "/link.jsonc", real, env));
    CHECK(same_config_path("lg.jsonc", real, env));  // relative: to the home directory
    CHECK(same_config_path(env.home + "/not-yet.jsonc", "~/./not-yet.jsonc", env));  // need not exist
    CHECK_FALSE(same_config_path(env.home + "/other.jsonc", real, env));
    CHECK_FALSE(same_config_path("", real, env));

    std::string own = "[Service]\nExecStart=/usr/bin/loopgate run --config %h/./link.jsonc\n";
    dir.write("home/.config/systemd/user/loopgate.service", own, 0644);
    FakeRunner runner;
    std::ostringstream out;
    CHECK(make_systemd_manager(env, runner, out)->install_and_start(real, false).outcome ==
          StartResult::Outcome::started);
    CHECK(out.str().find("not written by loopgate setup: kept as it is (it runs this config)") != std::string::npos);
    CHECK(read_text_file(env.config_home + "/systemd/user/loopgate.service") == own);
}

TEST_CASE("systemd: a systemctl that fails stops the install, naming the command and the journal") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    runner.answers["systemctl --user enable"] = {1, ""};
    std::ostringstream out;
    StartResult result = make_systemd_manager(env, runner, out)->install_and_start("/lg.jsonc", false);
    CHECK(result.outcome == StartResult::Outcome::failed);
    CHECK(result.message == "systemctl --user enable loopgate.service failed (exit status 1); see: systemctl --user "
                            "status loopgate.service, journalctl --user -u loopgate.service");
    CHECK(runner.lines().size() == 2);  // daemon-reload, enable; never the restart
}

TEST_CASE("systemd: a dry run prints the unit and the commands, writes and runs nothing") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    StartResult result = make_systemd_manager(env, runner, out)->install_and_start("/lg.jsonc", true);
    CHECK(result.outcome == StartResult::Outcome::started);
    CHECK(runner.calls.empty());
    CHECK_FALSE(std::filesystem::exists(env.home));
    CHECK(out.str().find("would write " + env.config_home + "/systemd/user/loopgate.service") != std::string::npos);
    CHECK(out.str().find("ExecStart=\"/opt/loop gate/bin/loopgate\" run --config /lg.jsonc\n") != std::string::npos);
    for (const char* command : {"daemon-reload", "enable loopgate.service", "restart loopgate.service"}) {
        CHECK(out.str().find(std::string("would run: systemctl --user ") + command + "\n") != std::string::npos);
    }
}

TEST_CASE("systemd: the state is what systemctl show says, and the unit's config") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_systemd_manager(env, runner, out);
    REQUIRE(manager->install_and_start("/home/me/lg.jsonc", false).outcome == StartResult::Outcome::started);
    const std::string unit = env.config_home + "/systemd/user/loopgate.service";

    runner.answers["systemctl --user show"] = {
        0, "LoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\nFragmentPath=" + unit +
               "\nExecMainStatus=0\n"};
    AgentState up = manager->state();
    CHECK(up.kind == ServiceKind::systemd);
    CHECK(up.installed);
    CHECK(up.loaded);
    CHECK(up.pid == 4242);
    CHECK(up.definition == unit);
    CHECK(up.config_path == "/home/me/lg.jsonc");
    CHECK(up.detail == "active (running)");
    CHECK(up.log == "journalctl --user -u loopgate.service");

    runner.answers["systemctl --user show"] = {
        0, "LoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nFragmentPath=" + unit +
               "\nExecMainStatus=78\n"};
    AgentState down = manager->state();
    CHECK_FALSE(down.loaded);
    CHECK_FALSE(down.pid.has_value());
    CHECK(down.detail == "failed (failed), last exit status 78");

    runner.answers["systemctl --user show"] = {1, "Failed to connect to bus\n"};
    AgentState silent = manager->state();
    CHECK(silent.installed);  // the file is there
    CHECK_FALSE(silent.loaded);
    CHECK(silent.detail == "systemctl --user does not answer: Failed to connect to bus");
}

// ---- launchd ----

TEST_CASE("launchd: install runs the agent script with this binary, the config and --reload") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_launchd_manager(env, runner, out);
    CHECK(manager->install_and_start("/home/me/lg.jsonc", false).outcome == StartResult::Outcome::started);
    REQUIRE(runner.calls.size() == 1);
    CHECK(runner.calls[0] == Argv{env.agent_script, "install", "--bin", env.loopgate_bin, "--config",
                                  "/home/me/lg.jsonc", "--home", env.home, "--reload"});
    CHECK_FALSE(runner.captured[0]);  // its own lines reach the terminal

    runner.calls.clear();
    manager->install_and_start("/home/me/lg.jsonc", true);
    CHECK(runner.calls.at(0).back() == "--dry-run");

    runner.answers["'/opt/loop gate/share"] = {1, ""};
    StartResult failed = manager->install_and_start("/home/me/lg.jsonc", false);
    CHECK(failed.outcome == StartResult::Outcome::failed);
    CHECK(failed.message.find("install failed (exit status 1") != std::string::npos);
}

TEST_CASE("launchd: no agent script found is a failure naming where it looked") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    env.agent_script.clear();
    env.agent_script_searched = {"/a/share/loopgate/loopgate-agent.sh", "/usr/local/share/loopgate/loopgate-agent.sh"};
    FakeRunner runner;
    std::ostringstream out;
    StartResult result = make_launchd_manager(env, runner, out)->install_and_start("/lg.jsonc", false);
    CHECK(result.outcome == StartResult::Outcome::failed);
    CHECK(result.message.find("looked at /a/share/loopgate/loopgate-agent.sh, /usr/local/share/loopgate/"
                              "loopgate-agent.sh); set LOOPGATE_AGENT_SCRIPT") != std::string::npos);
    CHECK(runner.calls.empty());
}

TEST_CASE("launchd: launchctl print's own fields") {
    LaunchctlJob job = parse_launchctl_print(
        "gui/501/com.loopgate.agent = {\n\tactive count = 1\n\tpath = /Users/me/Library/LaunchAgents/x.plist\n"
        "\tstate = running\n\n\tprogram = /opt/homebrew/bin/loopgate\n\tpid = 812\n"
        "\tlast exit code = (never exited)\n\tendpoints = {\n\t\tstate = active\n\t\tpid = 1\n\t}\n}\n");
    CHECK(job.state == "running");
    CHECK(job.pid == 812);
    CHECK(job.last_exit == "(never exited)");
    LaunchctlJob stopped = parse_launchctl_print("x = {\n\tstate = not running\n\tlast exit code = 78: EX_CONFIG\n}\n");
    CHECK(stopped.state == "not running");
    CHECK_FALSE(stopped.pid.has_value());
    CHECK(stopped.last_exit == "78: EX_CONFIG");
}

TEST_CASE("launchd: a plist's strings, entities undone") {
    constexpr const char* plist =
        "<dict>\n  <key>Label</key>\n  <string>com.loopgate.agent</string>\n  <key>ProgramArguments</key>\n"
        "  <array>\n    <string>/opt/loop gate/bin/loopgate</string>\n    <string>run</string>\n"
        "    <string>--config</string>\n    <string>/Users/me/Tom &amp; Jerry&apos;s &lt;x&gt;.jsonc</string>\n"
        "  </array>\n  <key>StandardErrorPath</key>\n  <string>/Users/me/Library/Logs/loopgate/a.log</string>\n"
        "</dict>\n";
    CHECK(plist_strings(plist, "ProgramArguments") ==
          std::vector<std::string>{"/opt/loop gate/bin/loopgate", "run", "--config",
                                   "/Users/me/Tom & Jerry's <x>.jsonc"});
    CHECK(plist_strings(plist, "StandardErrorPath") ==
          std::vector<std::string>{"/Users/me/Library/Logs/loopgate/a.log"});
    CHECK(plist_strings(plist, "Label") == std::vector<std::string>{"com.loopgate.agent"});
    CHECK(plist_strings(plist, "Sockets").empty());
}

TEST_CASE("launchd: the state is the plist on disk and what launchctl print says") {
    TempDir dir;
    ServiceEnvironment env = environment_in(dir);
    FakeRunner runner;
    std::ostringstream out;
    auto manager = make_launchd_manager(env, runner, out);
    const std::string plist = env.home + "/Library/LaunchAgents/com.loopgate.agent.plist";

    runner.answers["launchctl print"] = {113, "Could not find service"};
    AgentState absent = manager->state();
    CHECK_FALSE(absent.installed);
    CHECK_FALSE(absent.loaded);
    CHECK(absent.detail == "launchd does not have gui/501/com.loopgate.agent loaded");
    CHECK(absent.log == env.home + "/Library/Logs/loopgate/com.loopgate.agent.log");
    CHECK(runner.lines().back() == "launchctl print gui/501/com.loopgate.agent");

    dir.write("home/Library/LaunchAgents/com.loopgate.agent.plist",
              "<key>ProgramArguments</key><array><string>/bin/loopgate</string><string>run</string>"
              "<string>--config</string><string>/lg.jsonc</string></array>", 0644);
    dir.write("home/Library/Logs/loopgate/com.loopgate.agent.log", "one\ntwo\nthree\n");
    runner.answers["launchctl print"] = {0, "x = {\n\tstate = running\n\tpid = 77\n}\n"};
    AgentState up = manager->state();
    CHECK(up.installed);
    CHECK(up.loaded);
    CHECK(up.pid == 77);
    CHECK(up.definition == plist);
    CHECK(up.config_path == "/lg.jsonc");
    CHECK(up.detail == "gui/501/com.loopgate.agent: running");
    CHECK(manager->recent_log(2) == "two\nthree");
}

// ---- the real runner ----

TEST_CASE("service: the process runner gives the exit status and, captured, the output") {
    auto runner = make_process_runner();
    CommandRunner::Result done = runner->run({"sh", "-c", "echo out; echo err >&2; exit 3"}, true);
    CHECK(done.status == 3);
    CHECK(done.output.find("out\n") != std::string::npos);
    CHECK(done.output.find("err\n") != std::string::npos);
    CHECK(runner->run({"sh", "-c", "kill -TERM $$"}, true).status == 128 + 15);
    CHECK(runner->run({"/no/such/program"}, true).status == 127);
}

TEST_CASE("service: a command that talks more than the runner keeps is not cut off, and the output says it was cut") {
    auto runner = make_process_runner();
    // 3 MB through a pipeline: were the pipe closed at the cap, tr would die of SIGPIPE (status 141).
    CommandRunner::Result done = runner->run({"sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' a"}, true);
    CHECK(done.status == 0);
    CHECK(done.output.size() < 1100000);
    CHECK(done.output.starts_with("aaaa"));
    CHECK(done.output.ends_with("(output cut at 1048576 bytes)"));
}

TEST_CASE("service: the runner does not wait for a grandchild that keeps the output pipe") {
    // launchctl and the fakes start a daemon that may hold the pipe; the command is done when it exits.
    auto runner = make_process_runner();
    CommandRunner::Result done = runner->run({"sh", "-c", "echo parent; sleep 30 & echo $!; exit 0"}, true);
    CHECK(done.status == 0);
    REQUIRE(done.output.starts_with("parent\n"));
    pid_t grandchild = static_cast<pid_t>(std::atol(done.output.substr(7).c_str()));
    REQUIRE(grandchild > 0);
    CHECK(::kill(grandchild, 0) == 0);  // still running: run() returned without waiting for it
    ::kill(grandchild, SIGKILL);
}

}  // namespace loopgate::test
