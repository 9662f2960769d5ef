// Who may use a route and what the logs may show: Host and Origin rules as
// the config reads them and as requests are checked against them, secrets
// redacted, the config keys that set them, the unix socket file, and the
// frame size limit.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "access_policy.hpp"
#include "config.hpp"
#include "handshake.hpp"
#include "redact.hpp"
#include "unix_socket.hpp"
#include "ws_frame.hpp"

namespace fs = std::filesystem;
using loopgate::AccessPolicy;
using loopgate::config::HostRule;
using loopgate::config::LoadResult;
using loopgate::config::OriginRule;
using Errors = std::vector<std::string>;

namespace {

// ---- helpers ----

class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};
        // Short: unix socket paths are limited to ~100 bytes.
        path_ = fs::path("/tmp") / ("lg-policy-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
        fs::permissions(path_, fs::perms::owner_all, fs::perm_options::replace);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

std::optional<std::string> host_error(const std::string& text) {
    HostRule ignored;
    return loopgate::config::parse_host_rule(text, ignored);
}

OriginRule origin(const std::string& text, bool wildcard = true) {
    OriginRule out;
    auto problem = loopgate::config::parse_origin(text, wildcard, out);
    INFO("origin: " << text);
    REQUIRE_FALSE(problem.has_value());
    return out;
}

std::string origin_error(const std::string& text, bool wildcard = true) {
    OriginRule ignored;
    return loopgate::config::parse_origin(text, wildcard, ignored).value_or("(accepted)");
}

loopgate::config::Config parse_ok(const std::string& text, const fs::path& base = "/tmp") {
    LoadResult result = loopgate::config::parse_config(text, base);
    INFO("text: " << text);
    REQUIRE(result.errors == Errors{});
    return *result.config;
}

Errors parse_errors(const std::string& text) { return loopgate::config::parse_config(text, "/tmp").errors; }

std::string route_config(const std::string& extra, const std::string& listen = "127.0.0.1:0") {
    return R"({"routes": [{"name": "gw", "listen": ")" + listen + R"(", "upstream": "wss://gateway.test")" + extra +
           "}]}";
}

loopgate::config::Route tcp_route(const std::string& extra = "", const std::string& listen = "127.0.0.1:0") {
    return parse_ok(route_config(extra, listen)).routes.at(0);
}

loopgate::http::Request request(const std::string& host, std::vector<std::string> origins = {}) {
    loopgate::http::Request req;
    req.method = "GET";
    req.target = "/";
    if (!host.empty()) req.headers.add("Host", host);
    for (const auto& o : origins) req.headers.add("Origin", o);
    return req;
}

// The 403's reason, or "" when the request is let in.
std::string refusal(const AccessPolicy& policy, const loopgate::http::Request& req) {
    auto refused = policy.check(req);
    if (!refused) return "";
    CHECK(refused->status == 403);
    return refused->reason;
}

bool listening_unix_socket(const fs::path& path, int& fd) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 4) == 0;
}

mode_t mode_of(const fs::path& path) {
    struct stat st{};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

// ---- Host rules ----

TEST_CASE("policy: host rules read names, IPv4, [IPv6] and ports, lower-cased") {
    HostRule rule;
    CHECK_FALSE(loopgate::config::parse_host_rule("App.Example:8443", rule));
    CHECK(rule.host == "app.example");
    CHECK(rule.port == 8443);
    CHECK_FALSE(loopgate::config::parse_host_rule("[::1]", rule));
    CHECK(rule.host == "[::1]");
    CHECK_FALSE(rule.port.has_value());
    CHECK(host_error("*") == "\"*\" would turn the Host check off; list the names apps use instead");
    CHECK(host_error("") == "host is missing");
    CHECK(host_error("a..b") ==
          "host must be a name (letters, digits, '-', '.'), an IPv4 address or an [IPv6] address");
    CHECK(host_error("::1") ==
          "host must be a name (letters, digits, '-', '.'), an IPv4 address or an [IPv6] address");
    CHECK(host_error("app.example:0") == "port must be between 1 and 65535");
    CHECK(host_error("app.example:99999") == "port must be between 1 and 65535");
    CHECK(host_error("[::1") == "IPv6 address without a closing ']'");
}

// ---- Origin rules ----

TEST_CASE("policy: origins are normalized as browsers send them") {
    OriginRule rule = origin("HTTP://LocalHost:80");
    CHECK(rule.text() == "http://localhost");  // the default port is never in a browser's Origin
    CHECK(origin("https://app.example:443").text() == "https://app.example");
    CHECK(origin("http://localhost:5173").text() == "http://localhost:5173");
    CHECK(origin("tauri://localhost").text() == "tauri://localhost");
    CHECK(origin("http://localhost:*").text() == "http://localhost:*");
}

TEST_CASE("policy: origin rules that would let every page in are refused with the reason") {
    CHECK(origin_error("null") ==
          "\"null\" is the origin of sandboxed pages and local files, which any web page can create; it cannot be "
          "allowed");
    CHECK(origin_error("*") == "\"*\" would let every web page in; list the origins of the pages you trust");
    CHECK(origin_error("localhost:5173") == "expected an origin such as http://localhost:5173 (scheme://host[:port])");
    CHECK(origin_error("http://localhost:5173/") ==
          "an origin has no path, query or trailing '/': write scheme://host[:port]");
    CHECK(origin_error("http://user@localhost") == "an origin has no user name or password");
    CHECK(origin_error("http://localhost:*", false) == "port must be between 1 and 65535");
    CHECK(origin_error("http://localhost:x") == "port must be between 1 and 65535, or *");
}

TEST_CASE("policy: an origin rule matches scheme, host and port exactly, or any port with *") {
    OriginRule any_port = origin("http://localhost:*");
    CHECK(any_port.matches(origin("http://localhost:5173", false)));
    CHECK(any_port.matches(origin("http://localhost", false)));
    CHECK_FALSE(any_port.matches(origin("https://localhost:5173", false)));
    CHECK_FALSE(any_port.matches(origin("http://localhost.evil.example:5173", false)));
    OriginRule exact = origin("http://127.0.0.1:5173");
    CHECK(exact.matches(origin("http://127.0.0.1:5173", false)));
    CHECK_FALSE(exact.matches(origin("http://127.0.0.1:5174", false)));
}

// ---- the access policy of a route ----

TEST_CASE("policy: by default a TCP route accepts its own names, with its port or without one") {
    AccessPolicy policy = AccessPolicy::for_route(tcp_route(), 18789);
    CHECK(refusal(policy, request("127.0.0.1:18789")) == "");
    CHECK(refusal(policy, request("localhost:18789")) == "");
    CHECK(refusal(policy, request("LOCALHOST")) == "");
    CHECK(refusal(policy, request("127.0.0.1")) == "");
    CHECK(refusal(policy, request("localhost:18790")) != "");
    CHECK(refusal(policy, request("[::1]:18789")) != "");
}

TEST_CASE("policy: a rebinding page's Host is refused with a reason naming it and the accepted names") {
    AccessPolicy policy = AccessPolicy::for_route(tcp_route(), 18789);
    CHECK(refusal(policy, request("evil.example:18789")) ==
          "Host \"evil.example:18789\" is not a name of this listener (127.0.0.1:18789, localhost:18789); a web page "
          "that rebinds its DNS name to this machine looks like this. If the name is yours, add it to allowed_hosts "
          "of route \"gw\"");
    // Whatever the attacker sends is shown escaped and cut, never raw.
    std::string reason = refusal(policy, request("a\x01\"" + std::string(300, 'x')));
    CHECK(reason.find("\"a\\x01\\x22") != std::string::npos);
    CHECK(reason.find(std::string(201, 'x')) == std::string::npos);
}

TEST_CASE("policy: allowed_hosts adds names; the listen address is one of the defaults") {
    auto route = tcp_route(R"(, "allowed_hosts": ["app.test", "other.test:9000"])", "127.0.0.2:0");
    AccessPolicy policy = AccessPolicy::for_route(route, 4000);
    CHECK(refusal(policy, request("app.test:4000")) == "");
    CHECK(refusal(policy, request("app.test")) == "");
    CHECK(refusal(policy, request("app.test:4001")) != "");
    CHECK(refusal(policy, request("other.test:9000")) == "");
    CHECK(refusal(policy, request("other.test:4000")) != "");
    CHECK(refusal(policy, request("127.0.0.2:4000")) == "");
    CHECK(refusal(policy, request("127.0.0.1:4000")) == "");
    CHECK(policy.describe_hosts() == "127.0.0.1:4000, localhost:4000, 127.0.0.2:4000, app.test:4000, other.test:9000");
}

TEST_CASE("policy: a unix socket route accepts any Host") {
    auto route = tcp_route("", "unix:/tmp/lg.sock");
    AccessPolicy policy = AccessPolicy::for_route(route, 0);
    CHECK(refusal(policy, request("evil.example")) == "");
    CHECK(refusal(policy, request("whatever:1")) == "");
}

TEST_CASE("policy: no Origin is a native app and is let in; an Origin must be listed") {
    auto route = tcp_route(R"(, "allowed_origins": ["http://localhost:*", "tauri://localhost"])");
    AccessPolicy policy = AccessPolicy::for_route(route, 18789);
    CHECK(refusal(policy, request("127.0.0.1:18789")) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://localhost:5173"})) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"tauri://localhost"})) == "");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://127.0.0.1:5173"})) ==
          "Origin \"http://127.0.0.1:5173\" is not allowed: a web page from there may not use route \"gw\"; if you "
          "trust that page, add http://127.0.0.1:5173 to the route's allowed_origins");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"null"})) ==
          "Origin \"null\" is not allowed: a web page from there may not use route \"gw\"");
    CHECK(refusal(policy, request("127.0.0.1:18789", {"http://localhost:5173", "http://localhost:5173"})) ==
          "more than one Origin header");
}

TEST_CASE("policy: by default every browser page is refused, also on a unix socket") {
    for (const char* listen : {"127.0.0.1:0", "unix:/tmp/lg.sock"}) {
        AccessPolicy policy = AccessPolicy::for_route(tcp_route("", listen), 18789);
        CHECK(refusal(policy, request("localhost:18789", {"http://localhost:18789"})) != "");
    }
}

TEST_CASE("policy: a default-constructed policy lets nothing in") {
    AccessPolicy nothing;
    CHECK(refusal(nothing, request("127.0.0.1")) != "");
}

// ---- redaction ----

TEST_CASE("redact: credential-like query values are replaced, everything else kept") {
    using loopgate::redact::target;
    CHECK(target("/ws?token=abc&room=7") == "/ws?token=REDACTED&room=7");
    CHECK(target("/ws?Access_Token=abc;x=1") == "/ws?Access_Token=REDACTED;x=1");
    CHECK(target("/?password=p&passwd=q&pwd=r") == "/?password=REDACTED&passwd=REDACTED&pwd=REDACTED");
    CHECK(target("/?api_key=k&SECRET=s&auth=a&session=x&sig=y&signature=z") ==
          "/?api_key=REDACTED&SECRET=REDACTED&auth=REDACTED&session=REDACTED&sig=REDACTED&signature=REDACTED");
    CHECK(target("/?%74oken=abc") == "/?%74oken=REDACTED");  // percent-encoded name
    CHECK(target("/ws/chat?room=token") == "/ws/chat?room=token");
    CHECK(target("/?token") == "/?token");  // a name without a value hides nothing
    CHECK(target("/path-only") == "/path-only");
    CHECK(target("/" + std::string(600, 'a'), 512) == "/" + std::string(511, 'a') + "...");
}

TEST_CASE("redact: secret headers are named, with subprotocols that may carry tokens") {
    using loopgate::redact::header_value;
    CHECK(header_value("Authorization", "Bearer x") == "REDACTED");
    CHECK(header_value("cookie", "a=b") == "REDACTED");
    CHECK(header_value("Proxy-Authorization", "Basic x") == "REDACTED");
    CHECK(header_value("X-Api-Key", "k") == "REDACTED");
    CHECK(header_value("Sec-WebSocket-Protocol", "base64url.bearer.authorization.k8s.io.x") == "REDACTED");
    CHECK(header_value("Origin", "http://localhost") == "http://localhost");
    CHECK(header_value("User-Agent", "app/1") == "app/1");
}

// ---- config keys ----

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

// ---- the unix socket file ----

TEST_CASE("unix socket: a private directory is accepted and the socket ends up 0600, removed when done") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    {
        loopgate::UnixSocketFile file(path);
        bool removed_stale = true;
        CHECK_FALSE(file.prepare(removed_stale).has_value());
        CHECK_FALSE(removed_stale);
        REQUIRE(listening_unix_socket(path, fd));
        CHECK_FALSE(file.claim().has_value());
        CHECK(mode_of(path) == 0600);
    }
    ::close(fd);
    CHECK_FALSE(fs::exists(fs::symlink_status(path)));
}

TEST_CASE("unix socket: a directory others can enter or write is refused with the fix") {
    TempDir dir;
    fs::permissions(dir.path(), fs::perms(0755), fs::perm_options::replace);
    loopgate::UnixSocketFile file(dir.path() / "lg.sock");
    bool removed_stale = false;
    CHECK(file.prepare(removed_stale).value_or("") ==
          "directory " + dir.path().string() + " can be entered or written by other users (mode 0755); only its owner "
          "may: chmod 700 " + dir.path().string());
    loopgate::UnixSocketFile missing(dir.path() / "nope" / "lg.sock");
    CHECK(missing.prepare(removed_stale).value_or("").find("(create it with: mkdir -m 700 ") != std::string::npos);
}

TEST_CASE("unix socket: a stale socket is replaced, a live one and a regular file are left alone") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    REQUIRE(listening_unix_socket(path, fd));
    loopgate::UnixSocketFile file(path);
    bool removed_stale = false;
    CHECK(file.prepare(removed_stale).value_or("") == "another process is already listening on " + path.string());
    CHECK(fs::exists(fs::symlink_status(path)));
    ::close(fd);  // the listener died without removing its file
    CHECK_FALSE(file.prepare(removed_stale).has_value());
    CHECK(removed_stale);
    CHECK_FALSE(fs::exists(fs::symlink_status(path)));

    std::ofstream(path) << "not a socket";
    CHECK(file.prepare(removed_stale).value_or("") ==
          path.string() + " exists and is not a socket; loopgate does not replace it (remove it if it is not needed)");
    CHECK(fs::is_regular_file(path));
}

TEST_CASE("unix socket: removal leaves a file that replaced ours alone") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    loopgate::UnixSocketFile file(path);
    bool removed_stale = false;
    REQUIRE_FALSE(file.prepare(removed_stale).has_value());
    REQUIRE(listening_unix_socket(path, fd));
    REQUIRE_FALSE(file.claim().has_value());
    ::close(fd);
    fs::remove(path);
    std::ofstream(path) << "someone else's";
    file.remove();
    CHECK(fs::is_regular_file(path));
}

// ---- frames and the upstream request ----

TEST_CASE("frames: a frame over max_frame_bytes closes with 1009 even when the message limit allows it") {
    struct Sink : loopgate::ws::FrameSink {
        loopgate::ws::ScanError error;
        size_t forwarded = 0;
        void on_frame_bytes(const char*, size_t len) override { forwarded += len; }
        void on_control_frame(const loopgate::ws::ControlFrame&) override {}
        void on_frame_error(const loopgate::ws::ScanError& e) override { error = e; }
    } sink;
    loopgate::ws::FrameScanner scanner(loopgate::ws::ScanPolicy{false, 0, 1 << 20, 100});
    std::string small = std::string("\x82\x64", 2) + std::string(100, 'a');   // 100 bytes: fine
    std::string big = std::string("\x82\x65", 2) + std::string(101, 'b');     // 101 bytes: too big
    scanner.feed(small.data(), small.size(), sink);
    CHECK(sink.forwarded == small.size());
    scanner.feed(big.data(), big.size(), sink);
    CHECK(scanner.failed());
    CHECK(sink.error.close_code == 1009);
    CHECK(sink.error.reason == "frame larger than the limit of 100 bytes");
    CHECK(sink.forwarded == small.size());
}

TEST_CASE("handshake: upstream_headers replace the app's headers of the same name") {
    loopgate::http::Request app = request("127.0.0.1:1");
    app.headers.add("authorization", "Bearer from-app");
    app.headers.add("X-Kept", "1");
    loopgate::config::UpstreamUrl upstream;
    REQUIRE_FALSE(loopgate::config::parse_upstream_url("wss://gw.test", upstream));
    std::vector<loopgate::config::HeaderSetting> extra = {{"Authorization", "Bearer from-config"}};
    std::string out = loopgate::handshake::build_upstream_request(app, upstream, extra);
    CHECK(out.find("from-app") == std::string::npos);
    CHECK(out.find("\r\nAuthorization: Bearer from-config\r\n") != std::string::npos);
    CHECK(out.find("\r\nX-Kept: 1\r\n") != std::string::npos);
}
