// The listener and PeerOwner: the owner is asked at accept about the app's
// side of the connection, and a connection of another user, or of nobody
// known, is closed before a byte is read; loopgate's user and root get in, and
// allow_other_users does not ask.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>

#include "ipv4.hpp"
#include "fakes.hpp"
#include "listener.hpp"
#include "peer_owner.hpp"

using namespace loopgate;

namespace {

}  // namespace

namespace {

struct FixedOwner final : PeerOwner {
    std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) override {
        asked_app = app;
        asked_ours = ours;
        ++asks;
        if (!uid) error = "the test says nobody";
        return uid;
    }
    std::optional<uid_t> uid;
    sockaddr_in asked_app{};
    sockaddr_in asked_ours{};
    int asks = 0;
};

struct ListenerFixture {
    ListenerFixture() : route(testing::test_route_settings()) {
        REQUIRE(uv_loop_init(&loop) == 0);
        route.runtime.peer_owner = &owner;
        route.runtime.own_uid = 1000;
        listener = std::make_unique<Listener>(&loop, route.runtime);
        std::string error;
        REQUIRE_MESSAGE(listener->start(error), error);
        server = test::ipv4("127.0.0.1", listener->bound_port());
    }
    ~ListenerFixture() {
        if (client >= 0) ::close(client);
        listener.reset();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    void connect_and_send() {
        client = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
        socklen_t len = sizeof app;
        ::getsockname(client, reinterpret_cast<sockaddr*>(&app), &len);
        const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        REQUIRE(::send(client, request, sizeof request - 1, 0) == static_cast<ssize_t>(sizeof request - 1));
    }
    // What the client reads until the connection ends: "" for a close without an answer.
    std::string client_reads() {
        std::string got;
        char buf[512];
        for (int i = 0; i < 100; ++i) {
            ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) got.append(buf, static_cast<size_t>(n));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return got;
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        return got + "(still open)";
    }
    uv_loop_t loop{};
    FixedOwner owner;
    testing::FakeRoute route;
    std::unique_ptr<Listener> listener;
    sockaddr_in server{};
    sockaddr_in app{};
    int client = -1;
};

}  // namespace

TEST_CASE("listener: another user's connection is closed unread; the owner is asked about the app's side") {
    ListenerFixture f;
    f.owner.uid = 1001;
    f.connect_and_send();
    REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_other_user == 1; }));
    CHECK(f.owner.asks == 1);
    CHECK(f.owner.asked_app.sin_port == f.app.sin_port);
    CHECK(f.owner.asked_app.sin_addr.s_addr == f.app.sin_addr.s_addr);
    CHECK(f.owner.asked_ours.sin_port == f.server.sin_port);
    CHECK(f.route.runtime.stats.sessions_accepted == 0);
    CHECK(f.listener->session_count() == 0);
    CHECK(f.client_reads() == "");
}

TEST_CASE("listener: loopgate's own user and root get in") {
    for (uid_t uid : {uid_t{1000}, uid_t{0}}) {
        ListenerFixture f;
        f.owner.uid = uid;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.sessions_accepted == 1; }));
        CHECK(f.route.runtime.stats.refused_other_user == 0);
        CHECK(f.route.runtime.stats.refused_owner_unknown == 0);
    }
}

TEST_CASE("listener: an owner that cannot be told is refused; allow_other_users does not ask") {
    SUBCASE("unknown") {
        ListenerFixture f;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_owner_unknown == 1; }));
        CHECK(f.route.runtime.stats.sessions_accepted == 0);
        CHECK(f.client_reads() == "");
    }
    SUBCASE("no way to ask") {
        ListenerFixture f;
        f.route.runtime.peer_owner = nullptr;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_owner_unknown == 1; }));
        CHECK(f.route.runtime.stats.sessions_accepted == 0);
    }
    SUBCASE("allow_other_users") {
        ListenerFixture f;
        auto settings = std::make_shared<RouteSettings>(*f.route.runtime.settings);
        settings->config.allow_other_users = true;
        f.listener->use_settings(settings);
        f.owner.uid = 1001;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.sessions_accepted == 1; }));
        CHECK(f.owner.asks == 0);
    }
}
