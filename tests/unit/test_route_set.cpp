// What a reload does to the routes, with real listeners on loopback port 0
// and no upstream: kept, added, removed, moved, and all-or-nothing.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.hpp"
#include "config.hpp"
#include "exit_status.hpp"
#include "peer_owner.hpp"
#include "route_set.hpp"
#include "trust_store.hpp"
#include "unix_socket_file.hpp"
#include "self_signed.hpp"
#include "temp_dir.hpp"

using namespace loopgate;
using loopgate::test::KeyPair;
using loopgate::test::TempDir;

namespace {

config::Route plain_route(const std::string& name, uint16_t port = 0) {
    config::Route route;
    route.name = name;
    route.listen.host = "127.0.0.1";
    route.listen.port = port;
    route.listen.is_loopback = true;
    route.upstream.tls = false;
    route.upstream.host = "127.0.0.1";
    route.upstream.port = 9;
    route.upstream.host_is_ipv4_literal = true;
    route.allow_plaintext_upstream = true;
    return route;
}

// A port something else already listens on.
struct Blocker {
    Blocker() {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        REQUIRE(listen(fd, 1) == 0);
        socklen_t len = sizeof addr;
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
        port = ntohs(addr.sin_port);
    }
    ~Blocker() { close(fd); }
    int fd;
    uint16_t port;
};

// Never asked here: no test connects.
struct NoOwner final : PeerOwner {
    std::optional<uid_t> owner_of(const sockaddr_in&, const sockaddr_in&, std::string& error) override {
        error = "not in this test";
        return std::nullopt;
    }
};

struct Fixture {
    // can_tell_owners false: a system that cannot tell who owns a TCP socket.
    explicit Fixture(SystemTrustAnchors anchors = SystemTrustAnchors::from_environment(), bool can_tell_owners = true)
        : trust(std::move(anchors)) {
        uv_loop_init(&loop);
        PeerOwner* peer_owner = can_tell_owners ? &owner : nullptr;
        routes = std::make_unique<RouteSet>(RouteSet::Environment{&loop, &clock, &transports, &process, &trust,
                                                                  &socket_files, peer_owner, "no sock_diag here",
                                                                  geteuid()});
    }
    ~Fixture() {
        routes.reset();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    int start(const std::vector<config::Route>& routes) {
        ActivatedSockets none;
        return this->routes->start(routes, none);
    }
    uv_loop_t loop{};
    LoopClock clock{&loop};
    TransportSet transports;
    ProcessLoad process;
    SystemTrustAnchors trust;
    UnixSocketFiles socket_files;
    NoOwner owner;
    std::unique_ptr<RouteSet> routes;
};

}  // namespace

TEST_CASE("route set: a reload keeps a route's socket, adds new routes and retires removed ones") {
    Fixture f;
    REQUIRE(f.start({plain_route("kept"), plain_route("removed")}) == 0);
    std::string kept = f.routes->address_of("kept");
    REQUIRE_FALSE(kept.empty());

    config::Route changed = plain_route("kept");
    changed.timeouts.idle_ms = 1000;  // another setting, same listen address
    std::string error;
    REQUIRE(f.routes->apply({changed, plain_route("added")}, error));
    CHECK(f.routes->address_of("kept") == kept);
    CHECK_FALSE(f.routes->address_of("added").empty());
    CHECK(f.routes->address_of("removed").empty());
    // No session held it: the removed route is freed on the next loop turn.
    uv_run(&f.loop, UV_RUN_NOWAIT);
    CHECK(f.routes->retiring_count() == 0);
}

TEST_CASE("route set: a route whose listen address changes moves to a new socket") {
    Fixture f;
    REQUIRE(f.start({plain_route("gw")}) == 0);
    std::string before = f.routes->address_of("gw");
    std::string error;
    config::Route moved = plain_route("gw");
    moved.listen.host = "127.0.0.2";
    REQUIRE(f.routes->apply({moved}, error));
    CHECK(f.routes->address_of("gw").rfind("127.0.0.2:", 0) == 0);
    CHECK(f.routes->address_of("gw") != before);
}

TEST_CASE("route set: a reload that cannot open a listener changes nothing") {
    Fixture f;
    REQUIRE(f.start({plain_route("gw")}) == 0);
    std::string before = f.routes->address_of("gw");
    Blocker taken;
    std::string error;
    CHECK_FALSE(f.routes->apply({plain_route("gw"), plain_route("new"), plain_route("blocked", taken.port)}, error));
    CHECK(error.find("route \"blocked\": cannot listen on 127.0.0.1:" + std::to_string(taken.port)) == 0);
    CHECK(f.routes->address_of("gw") == before);
    CHECK(f.routes->address_of("new").empty());
    CHECK(f.routes->address_of("blocked").empty());
    CHECK(f.routes->retiring_count() == 0);
}

TEST_CASE("route set: a reload whose TLS cannot be set up changes nothing") {
    Fixture f;
    REQUIRE(f.start({plain_route("gw")}) == 0);
    config::Route tls = plain_route("gw");
    tls.upstream.tls = true;
    tls.tls.ca_file = "/nonexistent/loopgate-test-ca.pem";
    std::string error;
    CHECK_FALSE(f.routes->apply({tls}, error));
    CHECK(error.find("route \"gw\": cannot prepare TLS") == 0);
    CHECK_FALSE(f.routes->address_of("gw").empty());
}

TEST_CASE("route set: two data paths in one process each trust what their owner handed them") {
    TempDir dir;
    KeyPair ca = test::make_self_signed(dir, "system-root");
    // One daemon whose system store is a real bundle, one whose store is empty: side by side.
    Fixture trusting(SystemTrustAnchors({ca.cert.string(), (dir.path() / "no-dir").string()}));
    Fixture empty(SystemTrustAnchors({(dir.path() / "none.pem").string(), (dir.path() / "no-dir").string()}));
    config::Route tls = plain_route("gw");
    tls.upstream.tls = true;
    tls.allow_plaintext_upstream = false;
    CHECK(trusting.start({tls}) == 0);
    CHECK_FALSE(trusting.routes->address_of("gw").empty());
    CHECK(empty.start({tls}) != 0);
    CHECK(empty.routes->address_of("gw").empty());
}

TEST_CASE("route set: a TCP route that keeps other users out does not start where owners cannot be told") {
    std::string expected =
        "route \"gw\": cannot tell which user an app connection comes from (no sock_diag here), and a TCP route "
        "lets in only loopgate's user unless allow_other_users is true: set allow_other_users to true on this "
        "route to let every local user in";
    {
        Fixture f(SystemTrustAnchors::from_environment(), false);
        CHECK(f.start({plain_route("gw")}) == kExitConfig);
        CHECK(f.routes->address_of("gw").empty());
    }
    Fixture f(SystemTrustAnchors::from_environment(), false);
    config::Route open = plain_route("gw");
    open.allow_other_users = true;
    REQUIRE(f.start({open}) == 0);
    std::string before = f.routes->address_of("gw");
    // A reload that turns the check on changes nothing, and says why.
    std::string error;
    CHECK_FALSE(f.routes->apply({plain_route("gw")}, error));
    CHECK(error == expected);
    CHECK(f.routes->address_of("gw") == before);
}
