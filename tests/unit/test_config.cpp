// config/config: the document as a whole — syntax errors with line and
// column, types, unknown and duplicate keys, required keys, ranges, every
// default and every key, loading a file, the shipped example — by the exact
// message an admin would read. Each section's own rules have their own file
// (test_rules_access.cpp, test_rules_upstream.cpp, ...).
#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_text.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::config::LoadResult;
using namespace loopgate::test;
using loopgate::config::Config;
using loopgate::config::LogLevel;

namespace {

fs::path find_source_file(const fs::path& relative) {
    fs::path next_to_test = fs::absolute(fs::path(__FILE__)).parent_path() / "../.." / relative;
    if (fs::exists(next_to_test)) return next_to_test.lexically_normal();
    for (fs::path dir = fs::current_path(); !dir.empty(); dir = dir.parent_path()) {
        if (fs::exists(dir / relative)) return dir / relative;
        if (dir == dir.parent_path()) break;
    }
    return {};
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

TEST_CASE("config: a minimal route gets every default") {
    Config config = parse_ok(route_config(""));
    CHECK(config.log_level == LogLevel::info);
    CHECK(config.shutdown_timeout_ms == 5000);
    REQUIRE(config.routes.size() == 1);
    const auto& route = config.routes[0];
    CHECK(route.name == "gw");
    CHECK(route.listen.host == "127.0.0.1");
    CHECK(route.listen.port == 0);
    CHECK(route.listen.is_loopback);
    CHECK_FALSE(route.allow_non_loopback);
    CHECK_FALSE(route.allow_other_users);
    CHECK(route.http);
    CHECK_FALSE(route.forwarded_headers);
    CHECK(route.timeouts.response_ms == 60000);
    CHECK(route.limits.max_body_bytes == 64ull << 20);
    CHECK(route.upstream.tls);
    CHECK(route.upstream.host == "gateway.test");
    CHECK(route.upstream.port == 443);
    CHECK(route.upstream.base_path == "");
    CHECK_FALSE(route.allow_plaintext_upstream);
    CHECK(route.connect_to == std::nullopt);
    CHECK(route.tls.ca_file == std::nullopt);
    CHECK(route.timeouts.request_ms == 10000);
    CHECK(route.timeouts.connect_ms == 5000);
    CHECK(route.timeouts.handshake_ms == 15000);
    CHECK(route.timeouts.close_ms == 5000);
    CHECK(route.limits.max_request_header_bytes == 16384);
    CHECK(route.limits.max_message_bytes == (64ull << 20));
}

TEST_CASE("config: every key can be set") {
    TempDir dir;
    fs::path ca = dir.write("ca.pem", "pem");
    Config config = parse_ok(R"({
        "log": {"level": "debug"},
        "shutdown_timeout_ms": 0,
        "routes": [{
            "name": "Main_gw-1.x",
            "listen": "0.0.0.0:18789",
            "allow_non_loopback": true,
            "upstream": "wss://Gateway.Example.ts.net:8443/relay/",
            "allow_plaintext_upstream": false,
            "connect_to": "100.101.102.103",
            "tls": {"ca_file": ")" + ca.string() + R"("},
            "timeouts": {"request_ms": 100, "connect_ms": 600000, "handshake_ms": 2000, "close_ms": 0},
            "limits": {"max_request_header_bytes": 1024, "max_message_bytes": 1099511627776}
        }]
    })");
    CHECK(config.log_level == LogLevel::debug);
    CHECK(config.shutdown_timeout_ms == 0);
    const auto& route = config.routes.at(0);
    CHECK(route.name == "Main_gw-1.x");
    CHECK(route.listen.text() == "0.0.0.0:18789");
    CHECK_FALSE(route.listen.is_loopback);
    CHECK(route.allow_non_loopback);
    CHECK(route.upstream.host == "gateway.example.ts.net");
    CHECK(route.upstream.port == 8443);
    CHECK(route.upstream.base_path == "/relay");
    CHECK(route.upstream.text() == "wss://gateway.example.ts.net:8443/relay");
    CHECK(route.connect_to == std::optional<std::string>("100.101.102.103"));
    CHECK(route.tls.ca_file == std::optional<fs::path>(ca));
    CHECK(route.timeouts.request_ms == 100);
    CHECK(route.timeouts.connect_ms == 600000);
    CHECK(route.timeouts.handshake_ms == 2000);
    CHECK(route.timeouts.close_ms == 0);
    CHECK(route.limits.max_request_header_bytes == 1024);
    CHECK(route.limits.max_message_bytes == (1ull << 40));
}

TEST_CASE("config: // and /* */ comments are accepted") {
    Config config = parse_ok(R"(// loopgate config
    {
        /* the only route */
        "routes": [{
            "name": "gw", // trailing comment
            "listen": "127.0.0.1:9000", /* inline */ "upstream": "wss://gateway.test"
        }]
    }
    // end)");
    CHECK(config.routes.at(0).listen.port == 9000);
}

TEST_CASE("config: several routes keep their order") {
    Config config = parse_ok(R"({"routes": [
        {"name": "a", "listen": "127.0.0.1:9001", "upstream": "wss://a.test"},
        {"name": "b", "listen": "127.0.0.2:9001", "upstream": "wss://b.test"},
        {"name": "c", "listen": "127.0.0.1:0", "upstream": "wss://c.test"},
        {"name": "d", "listen": "127.0.0.1:0", "upstream": "wss://d.test"}
    ]})");
    REQUIRE(config.routes.size() == 4);
    CHECK(config.routes[0].name == "a");
    CHECK(config.routes[1].listen.text() == "127.0.0.2:9001");
    CHECK(config.routes[3].upstream.host == "d.test");
}

TEST_CASE("config: log levels and their names") {
    for (auto level : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
        std::string name(loopgate::config::log_level_name(level));
        Config config = parse_ok(R"({"log": {"level": ")" + name + R"("}, )" + route_config("").substr(1));
        CHECK(config.log_level == level);
    }
    CHECK(loopgate::config::log_level_name(LogLevel::warn) == "warn");
    CHECK(parse_ok(R"({"log": {}, )" + route_config("").substr(1)).log_level == LogLevel::info);
}

// ---------------------------------------------------------------------------
// Syntax errors

TEST_CASE("config: a syntax error on line 3 names its line and column") {
    check_errors("{\n  \"routes\": []\n  \"log\": {}\n}",
                 {"line 3, column 3: syntax error: unexpected string literal; expected ',' or '}'"});
}

TEST_CASE("config: syntax error explanations are short") {
    check_errors("", {"line 1, column 1: syntax error: unexpected end of input; expected '[', '{', or a literal"});
    check_errors("{\"routes\": [1, 2}",
                 {"line 1, column 17: syntax error: unexpected '}'; expected ',' or ']'"});
    check_errors("{\"a\": tru}", {"line 1, column 10: syntax error: invalid literal"});
    check_errors("{} /* open", {"line 1, column 11: syntax error: invalid comment; missing closing '*/'"});
    check_errors("{\"a\": 1} x", {"line 1, column 10: syntax error: invalid literal; expected end of input"});
}

TEST_CASE("config: a trailing comma is named as such") {
    // At the comma, which is what to delete, not at the bracket after it.
    check_errors("{\n  \"log\": {},\n}", {"line 2, column 12: syntax error: trailing comma before '}' is not allowed"});
    check_errors("{\"routes\": [1,\n ]}", {"line 1, column 14: syntax error: trailing comma before ']' is not allowed"});
}

// Found by tests/fuzz/fuzz_config: nlohmann throws out_of_range, not
// parse_error, for these, and `loopgate check` died with std::terminate.
TEST_CASE("config: a number too large for a double is a syntax error, not a crash") {
    check_errors("{\"shutdown_timeout_ms\":\n  1e999}", {"line 2, column 3: syntax error: number 1e999 is too large"});
    check_errors("[-2e2222]", {"line 1, column 2: syntax error: number -2e2222 is too large"});
}

TEST_CASE("config: columns count characters, not bytes") {
    check_errors("{\"é\": 1 2}", {"line 1, column 9: syntax error: unexpected number literal; expected ',' or '}'"});
}

TEST_CASE("config: a syntax error hides nothing else that could be wrong") {
    // The duplicate key and unknown key are not reported: the text is not JSON.
    check_errors("{\"a\": 1, \"a\": 2,,}",
                 {"line 1, column 17: syntax error: unexpected ','; expected string literal"});
}

// ---------------------------------------------------------------------------
// Structure: duplicates, unknown keys, types, required keys

TEST_CASE("config: duplicate keys are errors at any depth") {
    check_errors(R"({"log": {}, "log": {}, )" + route_config("").substr(1), {R"(top level: duplicate key "log")"});
    check_route_error(R"(, "name": "gw2")", R"(routes[0]: duplicate key "name")");
    check_errors(R"({"routes": [{"name": "a", "listen": "127.0.0.1:0", "upstream": "wss://a.test"},
        {"name": "b", "listen": "127.0.0.1:0", "upstream": "wss://b.test",
         "timeouts": {"close_ms": 1, "close_ms": 2}}]})",
                 {R"(routes[1].timeouts: duplicate key "close_ms")"});
}

// What each object accepts, exactly as "unknown key" errors list them
// (alphabetical). Adding a config key means adding it here too.
const std::string kTopKeys = "admin, log, max_connections, network, routes, shutdown_timeout_ms";
const std::string kRouteKeys =
    "allow_non_loopback, allow_other_users, allow_plaintext_upstream, allowed_hosts, allowed_origins, connect_to, "
    "forwarded_headers, http, limits, listen, liveness, max_connections, name, reconnect, timeouts, tls, upstream, "
    "upstream_headers";
const std::string kTimeoutKeys = "close_ms, connect_ms, handshake_ms, idle_ms, request_ms, response_ms";
const std::string kLimitKeys = "max_body_bytes, max_frame_bytes, max_message_bytes, max_request_header_bytes";
const std::string kTlsKeys = "ca_dir, ca_file, client_cert, client_key, max_version, min_version, pins, verify";

TEST_CASE("config: unknown keys list the expected ones") {
    check_errors(R"({"admin_bogus": {}, )" + route_config("").substr(1),
                 {"admin_bogus: unknown key (expected one of: " + kTopKeys + ")"});
    check_route_error(R"(, "ping_bogus": 1)",
                      "routes[0].ping_bogus: unknown key (expected one of: " + kRouteKeys + ")");
    check_route_error(R"(, "timeouts": {"bogus_ms": 1})",
                      "routes[0].timeouts.bogus_ms: unknown key (expected one of: " + kTimeoutKeys + ")");
    check_route_error(R"(, "limits": {"max_bogus": 1})",
                      "routes[0].limits.max_bogus: unknown key (expected one of: " + kLimitKeys + ")");
    check_route_error(R"(, "tls": {"bogus_sha256": []})",
                      "routes[0].tls.bogus_sha256: unknown key (expected one of: " + kTlsKeys + ")");
    check_errors(R"({"log": {"lvl": "info"}, )" + route_config("").substr(1),
                 {"log.lvl: unknown key (expected one of: level)"});
}

TEST_CASE("config: keys that are not identifiers are quoted in paths") {
    check_route_error(R"(, "max size": 1)",
                      R"(routes[0]["max size"]: unknown key (expected one of: )" + kRouteKeys + ")");
}

TEST_CASE("config: wrong types name what was expected and what was found") {
    check_errors("[]", {"top level: expected an object, got array"});
    check_errors(R"({"routes": {}})", {"routes: expected an array, got object"});
    check_errors(R"({"routes": ["gw"]})", {"routes[0]: expected an object, got string"});
    check_errors(route_with(R"("name": 5, "listen": true, "upstream": null)"),
                 {"routes[0].name: expected a string, got number", "routes[0].listen: expected a string, got boolean",
                  "routes[0].upstream: expected a string, got null"});
    check_route_error(R"(, "allow_non_loopback": "yes")",
                      "routes[0].allow_non_loopback: expected a boolean, got string");
    check_route_error(R"(, "allow_plaintext_upstream": 1)",
                      "routes[0].allow_plaintext_upstream: expected a boolean, got number");
    check_route_error(R"(, "timeouts": [])", "routes[0].timeouts: expected an object, got array");
    check_route_error(R"(, "limits": "big")", "routes[0].limits: expected an object, got string");
    check_route_error(R"(, "tls": true)", "routes[0].tls: expected an object, got boolean");
    check_route_error(R"(, "tls": {"ca_file": 7})", "routes[0].tls.ca_file: expected a string or null, got number");
    check_route_error(R"(, "timeouts": {"close_ms": "1"})",
                      "routes[0].timeouts.close_ms: expected an integer, got string");
    check_errors(R"({"log": "debug", )" + route_config("").substr(1), {"log: expected an object, got string"});
    check_errors(R"({"log": {"level": 1}, )" + route_config("").substr(1),
                 {"log.level: expected a string, got number"});
    check_errors(R"({"shutdown_timeout_ms": null, )" + route_config("").substr(1),
                 {"shutdown_timeout_ms: expected an integer, got null"});
}

TEST_CASE("config: a fractional number is not an integer") {
    check_route_error(R"(, "timeouts": {"connect_ms": 1500.5})",
                      "routes[0].timeouts.connect_ms: expected an integer, got number");
    check_route_error(R"(, "limits": {"max_message_bytes": 1e6})",
                      "routes[0].limits.max_message_bytes: expected an integer, got number");
}

TEST_CASE("config: required keys") {
    check_errors("{}", {"routes: required key is missing"});
    check_errors(R"({"routes": [{}]})",
                 {"routes[0].name: required key is missing", "routes[0].listen: required key is missing",
                  "routes[0].upstream: required key is missing"});
}

TEST_CASE("config: at least one route") {
    check_errors(R"({"routes": []})", {"routes: at least one route is required"});
}

// ---------------------------------------------------------------------------
// Integer ranges

TEST_CASE("config: integers outside their range") {
    auto prefixed = [](const std::string& top) { return "{" + top + ", " + route_config("").substr(1); };
    check_errors(prefixed(R"("shutdown_timeout_ms": 600001)"), {"shutdown_timeout_ms: must be between 0 and 600000"});
    check_errors(prefixed(R"("shutdown_timeout_ms": -1)"), {"shutdown_timeout_ms: must be between 0 and 600000"});
    check_route_error(R"(, "timeouts": {"request_ms": 99})",
                      "routes[0].timeouts.request_ms: must be between 100 and 3600000");
    check_route_error(R"(, "timeouts": {"request_ms": 3600001})",
                      "routes[0].timeouts.request_ms: must be between 100 and 3600000");
    check_route_error(R"(, "timeouts": {"connect_ms": 0})",
                      "routes[0].timeouts.connect_ms: must be between 100 and 600000");
    check_route_error(R"(, "timeouts": {"handshake_ms": 600001})",
                      "routes[0].timeouts.handshake_ms: must be between 100 and 600000");
    check_route_error(R"(, "timeouts": {"close_ms": -5})", "routes[0].timeouts.close_ms: must be between 0 and 600000");
    check_route_error(R"(, "limits": {"max_request_header_bytes": 1023})",
                      "routes[0].limits.max_request_header_bytes: must be between 1024 and 1048576");
    check_route_error(R"(, "limits": {"max_request_header_bytes": 1048577})",
                      "routes[0].limits.max_request_header_bytes: must be between 1024 and 1048576");
    check_route_error(R"(, "limits": {"max_message_bytes": 0})",
                      "routes[0].limits.max_message_bytes: must be between 1 and 1099511627776");
    check_route_error(R"(, "limits": {"max_message_bytes": 1099511627777})",
                      "routes[0].limits.max_message_bytes: must be between 1 and 1099511627776");
}

TEST_CASE("config: a uint32 field does not wrap around") {
    check_route_error(R"(, "timeouts": {"close_ms": 4294967296})",
                      "routes[0].timeouts.close_ms: must be between 0 and 600000");
}

// ---------------------------------------------------------------------------
// log.level, name

TEST_CASE("config: log.level must be a known level") {
    check_errors(R"({"log": {"level": "verbose"}, )" + route_config("").substr(1),
                 {"log.level: must be one of debug, info, warn, error"});
    check_errors(R"({"log": {"level": "INFO"}, )" + route_config("").substr(1),
                 {"log.level: must be one of debug, info, warn, error"});
}

TEST_CASE("config: all errors are reported together, in order") {
    check_errors(R"({
        "log": {"level": "loud"},
        "shutdown_timeout_ms": 1.5,
        "extra": 1,
        "routes": [
            {"name": "a", "listen": "localhost:1", "upstream": "ws://a.test", "timeouts": {"close_ms": -1}},
            {"name": "a", "listen": "127.0.0.1:2", "upstream": "wss://b.test", "connect_to": "b.test",
             "limits": {"max_message_bytes": 0}},
            {"listen": "10.0.0.1:3", "upstream": "wss://user@c.test"}
        ]
    })",
                 {
                     "extra: unknown key (expected one of: " + kTopKeys + ")",
                     "routes[0].listen: host must be an IPv4 address such as 127.0.0.1",
                     "routes[0].timeouts.close_ms: must be between 0 and 600000",
                     "routes[0].upstream: ws:// is unencrypted; set routes[0].allow_plaintext_upstream to true to "
                     "allow it",
                     "routes[1].connect_to: must be an IPv4 address (loopgate connects over IPv4 only)",
                     "routes[1].limits.max_message_bytes: must be between 1 and 1099511627776",
                     "routes[2].name: required key is missing",
                     "routes[2].upstream: credentials in the URL are not allowed",
                     "routes[2].listen: 10.0.0.1 is not a loopback address; set routes[2].allow_non_loopback to true "
                     "to listen on it",
                     R"(routes[1].name: duplicate route name "a" (also routes[0].name))",
                     "log.level: must be one of debug, info, warn, error",
                     "shutdown_timeout_ms: expected an integer, got number",
                 });
}

// ---------------------------------------------------------------------------
// Files

TEST_CASE("config file: an unreadable file is the only error") {
    TempDir dir;
    fs::path missing = dir.path() / "nope.jsonc";
    LoadResult result = loopgate::config::load_config_file(missing);
    CHECK(result.errors == Errors{"cannot read " + missing.string() + ": No such file or directory"});
    CHECK_FALSE(result.config.has_value());
    result = loopgate::config::load_config_file(dir.path());
    CHECK(result.errors == Errors{"cannot read " + dir.path().string() + ": Is a directory"});
}

TEST_CASE("config file: paths resolve against the file's own directory") {
    TempDir dir;
    fs::path ca = dir.write("conf/ca.pem", "pem");
    fs::path file = dir.write("conf/loopgate.jsonc", route_config(R"(, "tls": {"ca_file": "ca.pem"})"));
    LoadResult result = loopgate::config::load_config_file(file);
    REQUIRE(result.errors == Errors{});
    CHECK(result.config->routes.at(0).tls.ca_file == std::optional<fs::path>(ca));
}

TEST_CASE("config file: a relative config path still yields an absolute ca_file") {
    TempDir dir;
    fs::path ca = dir.write("conf/ca.pem", "pem");
    dir.write("conf/loopgate.jsonc", route_config(R"(, "tls": {"ca_file": "ca.pem"})"));
    fs::path saved = fs::current_path();
    fs::current_path(dir.path());
    LoadResult result = loopgate::config::load_config_file("conf/loopgate.jsonc");
    fs::current_path(saved);
    REQUIRE(result.errors == Errors{});
    CHECK(result.config->routes.at(0).tls.ca_file == std::optional<fs::path>(ca));
}

TEST_CASE("config text: loaded as the file would be, before it is written (setup, a dry run too)") {
    TempDir dir;
    fs::path file = dir.path() / "conf" / "loopgate.jsonc";  // not there yet
    std::string text = route_config(R"(, "tls": {"ca_file": "ca.pem"})");
    fs::path ca = file.parent_path() / "ca.pem";
    // The files it names are checked on disk, relative to the file's directory, as load_config_file does.
    CHECK(loopgate::config::load_config_text(text, file).errors ==
          Errors{"routes[0].tls.ca_file: cannot read " + ca.string() + ": No such file or directory"});
    CHECK(loopgate::config::parse_config(text, file.parent_path()).errors.empty());  // no file checks there
    dir.write("conf/ca.pem", "pem");
    LoadResult result = loopgate::config::load_config_text(text, file);
    REQUIRE(result.errors == Errors{});
    CHECK(result.config->routes.at(0).tls.ca_file == std::optional<fs::path>(ca));
}

TEST_CASE("config file: errors in a file are reported like errors in text") {
    TempDir dir;
    fs::path file = dir.write("bad.jsonc", "{\n  // comment\n  \"routes\": [,]\n}\n");
    CHECK(loopgate::config::load_config_file(file).errors ==
          Errors{"line 3, column 14: syntax error: unexpected ','; expected '[', '{', or a literal"});
}

TEST_CASE("config: the shipped example config is valid and shows the defaults") {
    fs::path example = find_source_file("config/loopgate.example.jsonc");
    REQUIRE_MESSAGE(!example.empty(), "config/loopgate.example.jsonc not found from the test's location");
    // The example points at the CA the demo generates: ../build/demo/ca.pem.
    TempDir dir;
    fs::path ca = dir.write("build/demo/ca.pem", "pem");
    fs::path file = dir.write("config/loopgate.example.jsonc", read_text(example));
    LoadResult result = loopgate::config::load_config_file(file);
    REQUIRE(result.errors == Errors{});
    const Config& config = *result.config;
    CHECK(config.log_level == LogLevel::info);
    CHECK(config.shutdown_timeout_ms == Config{}.shutdown_timeout_ms);
    REQUIRE(config.routes.size() == 1);
    const auto& route = config.routes[0];
    CHECK(route.name == "gateway");
    CHECK(route.listen.text() == "127.0.0.1:18789");
    CHECK(route.upstream.text() == "wss://localhost:18799");
    CHECK(route.tls.ca_file == std::optional<fs::path>(ca));
    CHECK(route.connect_to == std::nullopt);
    loopgate::config::Timeouts defaults;
    CHECK(route.timeouts.request_ms == defaults.request_ms);
    CHECK(route.timeouts.connect_ms == defaults.connect_ms);
    CHECK(route.timeouts.handshake_ms == defaults.handshake_ms);
    CHECK(route.timeouts.close_ms == defaults.close_ms);
    loopgate::config::Limits limits;
    CHECK(route.limits.max_request_header_bytes == limits.max_request_header_bytes);
    CHECK(route.limits.max_message_bytes == limits.max_message_bytes);
    // The example is the admin's reference: every tunable key appears in it.
    std::string text = read_text(example);
    for (const char* key : {"\"request_ms\"", "\"connect_ms\"", "\"handshake_ms\"", "\"close_ms\"",
                            "\"max_request_header_bytes\"", "\"max_message_bytes\"", "\"shutdown_timeout_ms\"",
                            "\"level\""}) {
        CHECK_MESSAGE(text.find(key) != std::string::npos, key << " is not shown in the example");
    }
}

TEST_CASE("config: liveness, reconnect and network settings are read and checked") {
    auto ok = loopgate::config::parse_config(R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test",
        "liveness": {"ping_interval_ms": 0, "ping_timeout_ms": 2000, "probe_timeout_ms": 500},
        "reconnect": {"hold_ms": 0, "max_held": 5, "backoff_initial_ms": 100, "backoff_max_ms": 1000}}],
        "network": {"watch": false, "debounce_ms": 0, "wake_check_interval_ms": 0}})",
                           std::filesystem::temp_directory_path());
    REQUIRE(ok.errors.empty());
    const auto& route = ok.config->routes.at(0);
    CHECK(route.liveness.ping_interval_ms == 0);
    CHECK(route.liveness.ping_timeout_ms == 2000);
    CHECK(route.liveness.probe_timeout_ms == 500);
    CHECK(route.reconnect.hold_ms == 0);
    CHECK(route.reconnect.max_held == 5);
    CHECK(route.reconnect.backoff_initial_ms == 100);
    CHECK(route.reconnect.backoff_max_ms == 1000);
    CHECK_FALSE(ok.config->network.watch);
    CHECK(ok.config->network.debounce_ms == 0);
    CHECK(ok.config->network.wake_check_interval_ms == 0);

    auto defaults = loopgate::config::parse_config(route_config(""), std::filesystem::temp_directory_path());
    REQUIRE(defaults.errors.empty());
    CHECK(defaults.config->routes.at(0).liveness.ping_interval_ms == 15000);
    CHECK(defaults.config->routes.at(0).reconnect.hold_ms == 10000);
    CHECK(defaults.config->network.watch);
    CHECK(defaults.config->network.wake_check_interval_ms == 2000);

    check_route_error(R"(, "liveness": {"ping_interval_ms": 50})",
                      "routes[0].liveness.ping_interval_ms: must be 0 (off) or between 100 and 3600000");
    check_route_error(R"(, "liveness": {"ping_interval_ms": 4000000})",
                      "routes[0].liveness.ping_interval_ms: must be 0 (off) or between 100 and 3600000");
    check_route_error(R"(, "liveness": {"ping_timeout_ms": 0})",
                      "routes[0].liveness.ping_timeout_ms: must be between 100 and 600000");
    check_route_error(R"(, "liveness": {"bogus": 1})",
                      "routes[0].liveness.bogus: unknown key (expected one of: ping_interval_ms, ping_timeout_ms, "
                      "probe_timeout_ms)");
    check_route_error(R"(, "reconnect": {"backoff_initial_ms": 5000, "backoff_max_ms": 1000})",
                      "routes[0].reconnect.backoff_max_ms: must not be smaller than backoff_initial_ms");
    check_route_error(R"(, "reconnect": {"hold_ms": -1})", "routes[0].reconnect.hold_ms: must be between 0 and 600000");
    check_errors(R"({"network": {"wake_check_interval_ms": 50}, )" + route_config("").substr(1),
                 {"network.wake_check_interval_ms: must be 0 (off) or between 100 and 600000"});
    check_errors(R"({"network": {"watch": "yes"}, )" + route_config("").substr(1),
                 {"network.watch: expected a boolean, got string"});
}

TEST_CASE("config: the admin endpoint is off by default, on loopback or a unix socket when set") {
    CHECK_FALSE(parse_ok(route_config("")).admin_listen.has_value());
    std::string routes = route_config("").substr(1);
    Config tcp = parse_ok(R"({"admin": {"listen": "127.0.0.1:18790"}, )" + routes);
    REQUIRE(tcp.admin_listen.has_value());
    CHECK(tcp.admin_listen->text() == "127.0.0.1:18790");
    check_errors(R"({"admin": {"listen": "0.0.0.0:18790"}, )" + routes,
                 {"admin.listen: 0.0.0.0 is not a loopback address; the admin endpoint listens on loopback or a unix "
                  "socket only"});
    check_errors(R"({"admin": {"port": 1}, )" + routes,
                 {"admin.port: unknown key (expected one of: listen)", "admin.listen: required key is missing"});
    check_errors(R"({"admin": {"listen": "127.0.0.1:18789"}, "routes": [{"name": "gw", "listen": "127.0.0.1:18789", )"
                 R"("upstream": "wss://gateway.test"}]})",
                 {"admin.listen: 127.0.0.1:18789 is already used by routes[0]"});
}
