// loopgate setup's pure helpers: the route name a host suggests, the listen
// port it picks, and adding a route to the text of a JSONC config.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "config_edit.hpp"

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

TEST_CASE("setup: the listen port is --port, else the upstream's when free, else another free one") {
    CHECK(choose_listen_port(uint16_t{4242}, 443, {}) == 4242);
    uint16_t free_one = 0;
    {
        HeldPort probe;
        free_one = probe.port;
    }
    CHECK(choose_listen_port(std::nullopt, free_one, {}) == free_one);
    {
        HeldPort held(free_one);
        uint16_t chosen = choose_listen_port(std::nullopt, free_one, {});
        CHECK(chosen != 0);
        CHECK(chosen != free_one);
    }
    uint16_t chosen = choose_listen_port(std::nullopt, free_one, {free_one});
    CHECK(chosen != free_one);
    CHECK(chosen != 0);
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
