// loopgate setup's pure helpers: the route name a host suggests, the listen
// port it picks, what it checks of its command line before dialing, and
// adding a route to the text of a JSONC config.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "config.hpp"
#include "config_edit.hpp"
#include "exit_status.hpp"
#include "setup_options.hpp"
#include "tls_pins.hpp"

namespace loopgate::test {
namespace {

constexpr const char* kRoute = "{\n    \"name\": \"new\",\n    \"listen\": \"127.0.0.1:18790\",\n"
                               "    \"upstream\": \"wss://gateway.test\"\n}";

// The text parses (JSON with comments) and the last of its routes is the new one.
size_t routes_after(const std::string& text) {
    INFO(text);
    auto parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
    REQUIRE_FALSE(parsed.is_discarded());
    const auto& routes = parsed.at("routes");
    REQUIRE(!routes.empty());
    CHECK(routes.back().at("name") == "new");
    return routes.size();
}

// Holds 127.0.0.1:PORT bound (0: any) until destroyed.
struct HeldPort {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    uint16_t port = 0;
    explicit HeldPort(uint16_t wanted = 0) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(wanted);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
        port = ntohs(addr.sin_port);
    }
    ~HeldPort() { ::close(fd); }
};

}  // namespace

TEST_CASE("setup: the route name is the host's first label, sanitized") {
    CHECK(derive_route_name("openclaw.example.com", false) == "openclaw");
    CHECK(derive_route_name("localhost", false) == "localhost");
    CHECK(derive_route_name("127.0.0.1", true) == "127.0.0.1");
    CHECK(derive_route_name("my_gw-1.lan", false) == "my_gw-1");
    CHECK(derive_route_name("b\xc3\xa4r+x.lan", false) == "b--r-x");
    CHECK(derive_route_name("", false) == "gateway");
    CHECK(derive_route_name(".lan", false) == "gateway");
    CHECK(derive_route_name(std::string(100, 'a') + ".lan", false) == std::string(64, 'a'));
}

// Which ports a fake 127.0.0.1 has taken, and which ports setup tried.
struct FakePorts {
    std::set<uint16_t> held;
    std::vector<uint16_t> tried;
    PortBindCheck check() {
        return [this](uint16_t port) {
            tried.push_back(port);
            return held.contains(port) ? EADDRINUSE : 0;
        };
    }
};

TEST_CASE("setup: the listen port is --port, else the upstream's when free, else the first free from 18789") {
    FakePorts ports;
    CHECK(choose_listen_port(uint16_t{4242}, 443, {}, ports.check()) == 4242);
    CHECK(ports.tried.empty());  // --port is checked on its own (check_requested_port)
    CHECK(choose_listen_port(std::nullopt, 28443, {}, ports.check()) == 28443);

    ports.held = {28443, 18789, 18790};
    CHECK(choose_listen_port(std::nullopt, 28443, {}, ports.check()) == 18791);
    // The same answer every time (a dry run shows what the real run writes).
    CHECK(choose_listen_port(std::nullopt, 28443, {}, ports.check()) == 18791);
    // Ports the config already uses (routes, admin) are skipped though nothing listens there yet.
    CHECK(choose_listen_port(std::nullopt, 28443, {18791, 18792}, ports.check()) == 18793);
    CHECK(choose_listen_port(std::nullopt, 18795, {18795}, ports.check()) == 18791);
}

TEST_CASE("setup: when the upstream's port and all of 18789-18889 are taken, no port is chosen") {
    FakePorts ports;
    for (uint32_t port = kFirstSetupPort; port <= kLastSetupPort; ++port) ports.held.insert(static_cast<uint16_t>(port));
    ports.held.insert(443);
    CHECK(choose_listen_port(std::nullopt, 443, {}, ports.check()) == 0);
    CHECK(ports.tried.size() == 1 + (kLastSetupPort - kFirstSetupPort + 1));  // bounded: each tried once
    CHECK(ports.tried.back() == kLastSetupPort);
    ports.held.erase(kLastSetupPort);
    CHECK(choose_listen_port(std::nullopt, 443, {}, ports.check()) == kLastSetupPort);
}

TEST_CASE("setup: a port something listens on is not free, one nothing holds is") {
    uint16_t free_one = 0;
    {
        HeldPort probe;
        free_one = probe.port;
        CHECK(port_bind_error(free_one) == EADDRINUSE);
    }
    CHECK(port_bind_error(free_one) == 0);
    CHECK(choose_listen_port(std::nullopt, free_one, {}) == free_one);
}

TEST_CASE("setup: --port that something listens on is refused at once with 69, naming --port") {
    FakePorts ports;
    ports.held = {28443};
    auto refused = check_requested_port(28443, nullptr, ports.check());
    REQUIRE(refused);
    CHECK(refused->status == kExitUnavailable);
    CHECK(refused->message.starts_with("--port 28443 is in use on 127.0.0.1"));
    CHECK(refused->message.find("lsof -iTCP:28443 -sTCP:LISTEN") != std::string::npos);
    CHECK_FALSE(check_requested_port(28444, nullptr, ports.check()));

    auto denied = check_requested_port(80, nullptr, [](uint16_t) { return EACCES; });
    REQUIRE(denied);
    CHECK(denied->status == kExitUnavailable);
    CHECK(denied->message.starts_with("--port 80 cannot be listened on at 127.0.0.1: Permission denied"));
}

TEST_CASE("setup: --port of the admin endpoint is refused in --port's terms; a route's is the clash check's") {
    auto loaded = config::parse_config(R"({"admin": {"listen": "127.0.0.1:28790"},
        "routes": [{"name": "a", "listen": "127.0.0.1:28791", "upstream": "wss://a.test"}]})", ".");
    REQUIRE(loaded.config);
    FakePorts ports;
    ports.held = {28790, 28791};  // the running loopgate holds both
    auto refused = check_requested_port(28790, &*loaded.config, ports.check());
    REQUIRE(refused);
    CHECK(refused->status == kExitFailure);
    CHECK(refused->message == "refused: --port 28790 is the admin endpoint's port (admin.listen 127.0.0.1:28790); "
                              "pick another");
    CHECK_FALSE(check_requested_port(28791, &*loaded.config, ports.check()));  // --force may replace that route
    CHECK(route_clashes(*loaded.config, "b", 28791) == "routes[0] \"a\" listens on 127.0.0.1:28791");
    CHECK(route_clashes(*loaded.config, "a", 0) == "routes[0] \"a\" has the name a");
    CHECK(route_clashes(*loaded.config, "b", 0).empty());
}

TEST_CASE("setup: the URL, --pin and --ca-file are checked before anything is dialed, named as options") {
    SetupOptions options;
    options.url = "https://127.0.0.1:28443";
    auto refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->status == kExitUsage);
    CHECK(refused->message == "setup takes a wss:// URL, not https://127.0.0.1:28443");
    for (const char* url : {"ws://gw.test", "gw.test:443", "wss:/gw.test", ""}) {
        options.url = url;
        CHECK(check_command_line(options));
    }
    options.url = "WSS://gw.test";
    CHECK_FALSE(check_command_line(options));

    options.pin = "sha256:abc";
    refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->status == kExitUsage);
    CHECK(refused->message.starts_with("--pin sha256:abc: "));
    CHECK(refused->message.find(config::kPinForms) != std::string::npos);
    options.pin = "nonsense";
    refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->message == "--pin nonsense: not a pin: " + std::string(config::kPinForms));
    options.pin = "sha256:" + std::string(64, 'a');
    CHECK_FALSE(check_command_line(options));

    options.ca_file = "/nonexistent/nope.pem";
    refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->status == kExitUsage);
    CHECK(refused->message == "--ca-file /nonexistent/nope.pem: No such file or directory");
    char dir[] = "/tmp/loopgate-setup-XXXXXX";
    REQUIRE(::mkdtemp(dir) != nullptr);
    std::string not_pem = std::string(dir) + "/not.pem";
    { std::ofstream(not_pem) << "not a certificate\n"; }
    options.ca_file = not_pem;
    refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->message == "--ca-file " + not_pem + ": holds no PEM certificate");
    options.ca_file = dir;
    refused = check_command_line(options);
    REQUIRE(refused);
    CHECK(refused->message == "--ca-file " + std::string(dir) + ": not a regular file");
    ::unlink(not_pem.c_str());
    ::rmdir(dir);
}

TEST_CASE("setup: a route is added before the closing bracket, comments kept") {
    std::string text = "// my config\n{\n    /* routes ] here */\n    \"routes\": [\n"
                       "        {\"name\": \"a\", \"listen\": \"127.0.0.1:1001\", \"upstream\": \"wss://a.test\"} // first ]\n"
                       "    ],\n    \"log_level\": \"info\" // after\n}\n";
    auto out = insert_route(text, kRoute);
    REQUIRE(out);
    CHECK(routes_after(*out) == 2);
    CHECK(out->find("// my config") == 0);
    CHECK(out->find("/* routes ] here */") != std::string::npos);
    CHECK(out->find("// first ]") != std::string::npos);
    CHECK(out->find("// after") != std::string::npos);
    CHECK(out->find("\n        {\n            \"name\": \"new\"") != std::string::npos);
}

TEST_CASE("setup: strings holding ']', '//' and quotes do not end the scan") {
    std::string text = "{\"x\": \"a ] b // c /* d\", \"routes\": [{\"name\": \"a\", \"listen\": \"127.0.0.1:1001\", "
                       "\"upstream\": \"wss://a.test/p]\\\"//\"}], \"y\": [\"]\"]}";
    auto array = find_routes_array(text);
    REQUIRE(array);
    CHECK(text[array->close] == ']');
    CHECK(text.substr(array->close, 4) == "], \"");
    auto out = insert_route(text, kRoute);
    REQUIRE(out);
    CHECK(routes_after(*out) == 2);
    CHECK(out->find("\"y\": [\"]\"]") != std::string::npos);
}

TEST_CASE("setup: an empty routes array gets the route, with no comma") {
    for (std::string text : {std::string("{\"routes\": []}"), std::string("{\n  \"routes\": [\n  ]\n}\n"),
                             std::string("{\"routes\": [ /* none yet */ ]}")}) {
        auto out = insert_route(text, kRoute);
        REQUIRE(out);
        CHECK(routes_after(*out) == 1);
    }
}

TEST_CASE("setup: trailing whitespace and comments after the last route") {
    std::string text = "{\"routes\": [{\"name\": \"a\", \"listen\": \"127.0.0.1:1001\", \"upstream\": \"wss://a.test\"}"
                       "   \t\n  // the end\n  /* really */  \n  ]}   \n\n";
    auto out = insert_route(text, kRoute);
    REQUIRE(out);
    CHECK(routes_after(*out) == 2);
    CHECK(out->find("// the end") != std::string::npos);
    CHECK(out->ends_with("]}   \n\n"));
}

TEST_CASE("setup: no routes array, no insertion") {
    CHECK_FALSE(insert_route("{\"log_level\": \"info\"}", kRoute));
    CHECK_FALSE(insert_route("{\"nested\": {\"routes\": []}}", kRoute));
    CHECK_FALSE(insert_route("[]", kRoute));
    CHECK_FALSE(insert_route("{\"routes\": [ /* unclosed ", kRoute));
}

}  // namespace loopgate::test
