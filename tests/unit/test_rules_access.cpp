// config/rules_access: a route's listener and who may use it — name, listen
// address (TCP or unix socket), the access keys and upstream_headers — and
// the checks across routes, by the exact message an admin would read.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_text.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::config::LoadResult;
using namespace loopgate::test;

namespace {

loopgate::config::Route tcp_route(const std::string& extra = "", const std::string& listen = "127.0.0.1:0") {
    return parse_ok(route_config(extra, listen)).routes.at(0);
}

}  // namespace

TEST_CASE("config: access keys are read with their defaults") {
    auto config = parse_ok(route_config(""));
    const auto& route = config.routes.at(0);
    CHECK(config.max_connections == 1024);
    CHECK(route.max_connections == 256);
    CHECK(route.allowed_hosts.empty());
    CHECK(route.allowed_origins.empty());
    CHECK(route.upstream_headers.empty());
    CHECK(route.timeouts.idle_ms == 0);
    CHECK(route.limits.max_frame_bytes == 0);
    auto tuned = parse_ok(R"({"max_connections": 10, "routes": [{"name": "gw", "listen": "127.0.0.1:0",
        "upstream": "wss://gateway.test", "max_connections": 3, "timeouts": {"idle_ms": 500},
        "limits": {"max_frame_bytes": 4096}, "allowed_origins": ["http://localhost:*"]}]})");
    CHECK(tuned.max_connections == 10);
    CHECK(tuned.routes.at(0).max_connections == 3);
    CHECK(tuned.routes.at(0).timeouts.idle_ms == 500);
    CHECK(tuned.routes.at(0).limits.max_frame_bytes == 4096);
    CHECK(tuned.routes.at(0).allowed_origins.at(0).text() == "http://localhost:*");
}

TEST_CASE("config: access keys report errors by JSON path") {
    CHECK(parse_errors(route_config(R"(, "allowed_origins": ["http://ok.test", "null", 7])")) ==
          Errors{"routes[0].allowed_origins[1]: \"null\" is the origin of sandboxed pages and local files, which any "
                 "web page can create; it cannot be allowed",
                 "routes[0].allowed_origins[2]: expected a string, got number"});
    CHECK(parse_errors(route_config(R"(, "allowed_hosts": "localhost")")) ==
          Errors{"routes[0].allowed_hosts: expected an array, got string"});
    CHECK(parse_errors(route_config(R"(, "max_connections": 0)")) ==
          Errors{"routes[0].max_connections: must be between 1 and 100000"});
    CHECK(parse_errors(R"({"max_connections": -1, "routes": [{"name": "gw", "listen": "127.0.0.1:0",
        "upstream": "wss://gateway.test"}]})") == Errors{"max_connections: must be between 1 and 100000"});
    CHECK(parse_errors(route_config(R"(, "timeouts": {"idle_ms": 50})")) ==
          Errors{"routes[0].timeouts.idle_ms: must be 0 (off) or between 100 and 86400000"});
    CHECK(parse_errors(route_config(R"(, "allowed_hosts": ["app.test"])", "unix:/tmp/lg.sock")) ==
          Errors{"routes[0].allowed_hosts: has no effect on a unix socket listener (the Host check guards TCP "
                 "listeners against DNS rebinding; browsers cannot reach unix sockets)"});
}

TEST_CASE("config: upstream_headers refuses what would break the handshake, never quoting a value") {
    CHECK(parse_errors(route_config(R"(, "upstream_headers": {"Host": "x", "Sec-WebSocket-Key": "x",
        "Bad Name": "x", "X-Token": "s3cret\r\nX-Evil: 1", "Authorization": "", "X-N": 1})")) ==
          Errors{"routes[0].upstream_headers.Authorization: value is empty",
                 "routes[0].upstream_headers[\"Bad Name\"]: is not a valid header name",
                 "routes[0].upstream_headers.Host: is written by loopgate itself and cannot be set",
                 "routes[0].upstream_headers[\"Sec-WebSocket-Key\"]: belongs to the WebSocket handshake between the "
                 "app and the gateway and cannot be set",
                 "routes[0].upstream_headers[\"X-N\"]: expected a string, got number",
                 "routes[0].upstream_headers[\"X-Token\"]: value contains a line break or another control character"});
    CHECK(parse_errors(route_config(R"(, "upstream_headers": {"X-A": "1", "x-a": "2"})")) ==
          Errors{"routes[0].upstream_headers[\"x-a\"]: the same header is set twice (header names ignore case)"});
}

TEST_CASE("config: upstream_headers are secrets: listed, and the file must not be readable by others") {
    LoadResult parsed = loopgate::config::parse_config(
        route_config(R"(, "upstream_headers": {"Authorization": "Bearer s3cret"})"), "/tmp");
    REQUIRE(parsed.config.has_value());
    CHECK(parsed.secret_keys == Errors{"routes[0].upstream_headers.Authorization"});
    CHECK(parsed.config->routes.at(0).upstream_headers.at(0).value == "Bearer s3cret");

    TempDir dir;
    fs::path file = dir.path() / "loopgate.json";
    std::ofstream(file) << route_config(R"(, "upstream_headers": {"Authorization": "Bearer s3cret"})");
    ::chmod(file.c_str(), 0644);
    LoadResult shared = loopgate::config::load_config_file(file);
    CHECK_FALSE(shared.config.has_value());
    CHECK(shared.errors == Errors{"routes[0].upstream_headers.Authorization: holds a secret, but " + file.string() +
                                  " is readable by other users (mode 0644); run: chmod 600 " + file.string()});
    ::chmod(file.c_str(), 0600);
    CHECK(loopgate::config::load_config_file(file).config.has_value());
    // Without a secret, a world-readable config is fine.
    std::ofstream(file) << route_config("");
    ::chmod(file.c_str(), 0644);
    CHECK(loopgate::config::load_config_file(file).config.has_value());
}

TEST_CASE("config: unix socket listen addresses") {
    auto route = tcp_route("", "unix:/run/user/501/loopgate.sock");
    CHECK(route.listen.is_unix());
    CHECK(route.listen.unix_path == "/run/user/501/loopgate.sock");
    CHECK(route.listen.text() == "unix:/run/user/501/loopgate.sock");
    // Relative to the config file's directory, like every other path.
    auto relative = parse_ok(route_config("", "unix:run/lg.sock"), "/etc/loopgate").routes.at(0);
    CHECK(relative.listen.unix_path == "/etc/loopgate/run/lg.sock");
    std::string long_path = "/tmp/" + std::string(100, 's');
    CHECK(parse_errors(route_config("", "unix:" + long_path)) ==
          Errors{"routes[0].listen: unix socket path " + long_path + " is 105 bytes long; the limit is 103"});
    CHECK(parse_errors(route_config("", "unix:")) == Errors{"routes[0].listen: expected unix:/path/to/socket"});
    CHECK(parse_errors(route_config("", "unix:/tmp/")) ==
          Errors{"routes[0].listen: unix socket path must name a file, not a directory"});
    CHECK(parse_errors(R"({"routes": [
        {"name": "a", "listen": "unix:/tmp/lg.sock", "upstream": "wss://a.test"},
        {"name": "b", "listen": "unix:/tmp/lg.sock", "upstream": "wss://b.test"}]})") ==
          Errors{"routes[1].listen: unix:/tmp/lg.sock is already used by routes[0]"});
}

// ---- the route's tls object ----

TEST_CASE("config: route names are short and plain") {
    const std::string message = "routes[0].name: must be 1 to 64 characters of letters, digits, '_', '.' and '-'";
    auto named = [](const std::string& name) {
        return route_with(R"("name": ")" + name + R"(", "listen": "127.0.0.1:0", "upstream": "wss://g.test")");
    };
    check_errors(named(""), {message});
    check_errors(named(std::string(65, 'a')), {message});
    check_errors(named("my gateway"), {message});
    check_errors(named("gw/1"), {message});
    CHECK(parse_ok(named(std::string(64, 'a'))).routes.at(0).name == std::string(64, 'a'));
}

TEST_CASE("config: route names are unique") {
    check_errors(R"({"routes": [
        {"name": "x", "listen": "127.0.0.1:0", "upstream": "wss://a.test"},
        {"name": "y", "listen": "127.0.0.1:0", "upstream": "wss://a.test"},
        {"name": "x", "listen": "127.0.0.1:0", "upstream": "wss://b.test"}]})",
                 {R"(routes[2].name: duplicate route name "x" (also routes[0].name))"});
}

// ---------------------------------------------------------------------------
// listen

TEST_CASE("config: listen must be an IPv4 HOST:PORT") {
    auto listen_error = [](const std::string& listen, const std::string& message) {
        check_errors(route_with(R"("name": "gw", "upstream": "wss://g.test", "listen": ")" + listen + "\""),
                     {"routes[0].listen: " + message});
    };
    const std::string host_port = "expected HOST:PORT with a port between 0 and 65535";
    listen_error("localhost:9000", "host must be an IPv4 address such as 127.0.0.1");
    listen_error("127.0.0.256:9000", "host must be an IPv4 address such as 127.0.0.1");
    listen_error("127.0.0.01:9000", "host must be an IPv4 address such as 127.0.0.1");
    listen_error(":9000", "host must be an IPv4 address such as 127.0.0.1");
    listen_error("[::1]:80", "IPv6 listen addresses are not supported yet");
    listen_error("::1:80", "IPv6 listen addresses are not supported yet");
    listen_error("127.0.0.1", host_port);
    listen_error("127.0.0.1:", host_port);
    listen_error("127.0.0.1:65536", host_port);
    listen_error("127.0.0.1:http", host_port);
    listen_error("127.0.0.1:-1", host_port);
}

TEST_CASE("config: listen accepts any loopback address and port 0") {
    auto listen_of = [](const std::string& listen) {
        return parse_ok(route_with(R"("name": "gw", "upstream": "wss://g.test", "listen": ")" + listen + "\""))
            .routes.at(0)
            .listen;
    };
    CHECK(listen_of("127.1.2.3:65535").text() == "127.1.2.3:65535");
    CHECK(listen_of("127.1.2.3:65535").is_loopback);
    CHECK(listen_of("127.0.0.1:0").port == 0);
}

TEST_CASE("config: a non-loopback listen address needs allow_non_loopback") {
    std::string route = R"("name": "gw", "upstream": "wss://g.test", "listen": "0.0.0.0:9000")";
    check_errors(route_with(route),
                 {"routes[0].listen: 0.0.0.0 is not a loopback address; set routes[0].allow_non_loopback to true to "
                  "listen on it"});
    check_errors(route_with(route + R"(, "allow_non_loopback": false)"),
                 {"routes[0].listen: 0.0.0.0 is not a loopback address; set routes[0].allow_non_loopback to true to "
                  "listen on it"});
    CHECK(parse_ok(route_with(route + R"(, "allow_non_loopback": true)")).routes.at(0).allow_non_loopback);
    // A mistyped flag is reported once, without a second complaint about the address.
    check_errors(route_with(route + R"(, "allow_non_loopback": "true")"),
                 {"routes[0].allow_non_loopback: expected a boolean, got string"});
}

TEST_CASE("config: two routes cannot listen on the same address") {
    check_errors(R"({"routes": [
        {"name": "a", "listen": "127.0.0.1:9000", "upstream": "wss://a.test"},
        {"name": "b", "listen": "127.0.0.1:9000", "upstream": "wss://b.test"}]})",
                 {"routes[1].listen: 127.0.0.1:9000 is already used by routes[0]"});
    check_errors(R"({"routes": [
        {"name": "a", "listen": "0.0.0.0:9000", "allow_non_loopback": true, "upstream": "wss://a.test"},
        {"name": "b", "listen": "127.0.0.1:9000", "upstream": "wss://b.test"}]})",
                 {"routes[1].listen: 127.0.0.1:9000 is already used by routes[0] (0.0.0.0:9000)"});
    check_errors(R"({"routes": [
        {"name": "a", "listen": "127.0.0.1:9000", "upstream": "wss://a.test"},
        {"name": "b", "listen": "0.0.0.0:9000", "allow_non_loopback": true, "upstream": "wss://b.test"}]})",
                 {"routes[1].listen: 0.0.0.0:9000 is already used by routes[0] (127.0.0.1:9000)"});
}

// ---------------------------------------------------------------------------
// upstream

TEST_CASE("config: allow_other_users is a TCP route's boolean, off by default") {
    CHECK_FALSE(parse_ok(route_config("")).routes.at(0).allow_other_users);
    CHECK(parse_ok(route_config(R"(, "allow_other_users": true)")).routes.at(0).allow_other_users);
    CHECK_FALSE(parse_ok(route_config(R"(, "allow_other_users": false)")).routes.at(0).allow_other_users);
    check_route_error(R"(, "allow_other_users": "yes")", "routes[0].allow_other_users: expected a boolean, got string");
    check_route_error(R"(, "allow_other_users": 1)", "routes[0].allow_other_users: expected a boolean, got number");
    // With allow_non_loopback, another machine's connections need it too; both parse.
    auto open = parse_ok(route_with(R"("name": "gw", "upstream": "wss://g.test", "listen": "0.0.0.0:9000", )"
                                    R"("allow_non_loopback": true, "allow_other_users": true)"));
    CHECK(open.routes.at(0).allow_other_users);
}

TEST_CASE("config: allow_other_users on a unix socket route is refused: its file mode decides") {
    std::string unix_route = R"("name": "gw", "upstream": "wss://g.test", "listen": "unix:/run/lg/lg.sock")";
    check_errors(route_with(unix_route + R"(, "allow_other_users": true)"),
                 {"routes[0].allow_other_users: has no effect on a unix socket listener (its file is mode 0600 in a "
                  "directory only loopgate's user can enter: other users cannot connect to it at all)"});
    CHECK_FALSE(parse_ok(route_with(unix_route + R"(, "allow_other_users": false)")).routes.at(0).allow_other_users);
}
