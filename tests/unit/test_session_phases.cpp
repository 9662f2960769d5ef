// A session before the 101, on a fake clock with fake dialers: the app is a
// real socketpair, the upstream never exists. Which phase it is in, what the
// app is answered, and that a phase that is over cannot act.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "fakes.hpp"
#include "route_health.hpp"
#include "session.hpp"
#include "socket_pair.hpp"

using namespace loopgate;
using namespace loopgate::testing;

namespace {

constexpr char kUpgrade[] =
    "GET /echo HTTP/1.1\r\nHost: 127.0.0.1:18789\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

struct Harness final : SessionOwner {
    explicit Harness(config::Route settings = test_route_settings()) : route(std::move(settings)) {
        uv_loop_init(&loop);
        route.listen_on(18789);
        int fds[2];
        REQUIRE(test::nonblocking_socketpair(fds));
        app_fd = fds[1];
        Transport* app = Transport::create(&loop, nullptr, Transport::Kind::unix_socket);
        REQUIRE(app->adopt(fds[0]) == 0);
        session = new Session(route.runtime, *this, app);
        session->start();
    }
    ~Harness() {
        delete session;
        route.runtime.health.reset();
        if (app_fd >= 0) close(app_fd);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    void on_session_finished(Session* s) override {
        CHECK(s == session);
        delete s;
        session = nullptr;
    }

    RouteHealth& health() { return *route.runtime.health; }
    FakeDialers& dialers() { return *route.dialers; }
    Session::Phase phase() const { return session ? session->phase() : Session::Phase::finished; }
    // Time passes; then the loop runs what became ready.
    void advance(uint64_t ms) {
        route.clock.advance(ms);
        turn();
    }
    void turn() { run_until(&loop, [] { return false; }, 20); }

    void send(const std::string& bytes) { REQUIRE(write(app_fd, bytes.data(), bytes.size()) == ssize_t(bytes.size())); }
    // What the app has been sent so far.
    const std::string& received() {
        char buf[4096];
        for (;;) {
            ssize_t n = read(app_fd, buf, sizeof buf);
            if (n > 0) answer.append(buf, size_t(n));
            if (n == 0) app_saw_eof = true;
            if (n <= 0) break;
        }
        return answer;
    }
    void hang_up() {
        close(app_fd);
        app_fd = -1;
    }
    // The app's request is read and checked: the session dials or holds.
    void request_upgrade() {
        send(kUpgrade);
        REQUIRE(run_until(&loop, [this] { return phase() != Session::Phase::reading_request; }));
    }
    Transport* spare_transport() { return Transport::create(&loop, nullptr); }

    uv_loop_t loop{};
    FakeRoute route;
    Session* session = nullptr;
    int app_fd = -1;
    std::string answer;
    bool app_saw_eof = false;
};

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("session: a complete upgrade request starts one dial") {
    Harness h;
    h.request_upgrade();
    CHECK(h.phase() == Session::Phase::connecting);
    CHECK(h.dialers().live() == 1);
}

TEST_CASE("session: no complete request within request_ms is 408") {
    Harness h;
    h.send("GET /echo HTTP/1.1\r\n");
    h.turn();
    h.advance(10000);
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 408 "));
    CHECK(h.phase() == Session::Phase::finished);
    CHECK(h.dialers().count() == 0);
}

TEST_CASE("session: a dial that fails on a route never up is answered at once, not held") {
    Harness h;
    h.request_upgrade();
    REQUIRE(h.dialers().fail(h.dialers().last(), "cannot connect to upstream gateway.test: connection refused"));
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 502 "));
    CHECK(h.answer.find("connection refused") != std::string::npos);
    CHECK(h.health().state() == RouteHealth::State::unknown);
}

TEST_CASE("session: running out of descriptors is loopgate's 503 and leaves the route up") {
    Harness h;
    h.health().report_up();
    h.request_upgrade();
    DialFailure failure;
    failure.http_status = 503;
    failure.local = true;
    failure.reason = "cannot open a connection to the upstream: loopgate is out of resources (too many open files)";
    REQUIRE(h.dialers().fail(h.dialers().last(), failure));
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 503 "));
    CHECK(h.answer.find("Retry-After: 1") != std::string::npos);
    CHECK(h.answer.find("too many open files") != std::string::npos);
    CHECK(h.health().state() == RouteHealth::State::up);
    CHECK(h.route.runtime.stats.local_exhaustion == 1);
    CHECK(h.route.runtime.stats.upstream_failures == 0);
}

TEST_CASE("session: the handshake deadline on an up route holds the app, and the stale dial is gone") {
    Harness h;
    h.health().report_up();
    h.request_upgrade();
    FakeDial& first = h.dialers().last();
    h.advance(3000);  // handshake_ms
    CHECK(h.health().state() == RouteHealth::State::down);
    CHECK(h.phase() == Session::Phase::held);
    CHECK(first.abandoned);  // nothing of that dial can answer the held app now
    CHECK_FALSE(h.dialers().fail(first, "late failure"));
    CHECK(h.received().empty());
    CHECK(h.health().held_count() == 1);
    // Holding it started a retry at once; it succeeds: the session dials anew, once.
    FakeDial& retry = h.dialers().last();
    REQUIRE(&retry != &first);
    size_t before = h.dialers().count();
    REQUIRE(h.dialers().succeed(retry, h.spare_transport()));
    CHECK(h.phase() == Session::Phase::connecting);
    CHECK(h.dialers().count() == before + 1);
    CHECK(h.dialers().live() == 1);
    CHECK(h.health().held_count() == 0);
}

TEST_CASE("session: an app that arrives while the route is down is held, and 503 after hold_ms") {
    Harness h;
    h.health().report_up();
    h.health().report_unreachable("connection refused");
    h.request_upgrade();
    CHECK(h.phase() == Session::Phase::held);
    h.advance(9999);
    CHECK(h.received().empty());
    // Its own retries fail meanwhile.
    while (h.dialers().live() > 0) h.dialers().fail(h.dialers().last(), "connection refused");
    h.advance(1);
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 503 "));
    CHECK(h.answer.find("Retry-After: 5") != std::string::npos);
    CHECK(h.answer.find("is unreachable (connection refused)") != std::string::npos);
    CHECK(h.health().held_count() == 0);
}

TEST_CASE("session: a held app that hangs up leaves the held list at once") {
    Harness h;
    h.health().report_up();
    h.health().report_unreachable("connection refused");
    h.request_upgrade();
    REQUIRE(h.health().held_count() == 1);
    h.hang_up();
    REQUIRE(run_until(&h.loop, [&] { return h.session == nullptr; }));
    CHECK(h.health().held_count() == 0);
}

TEST_CASE("session: a held app released into a dial that fails again is held again within the same hold_ms") {
    Harness h;
    h.health().report_up();
    h.health().report_unreachable("connection refused");
    h.request_upgrade();
    h.advance(4000);
    REQUIRE(h.dialers().succeed(h.dialers().last(), h.spare_transport()));  // the route's retry
    REQUIRE(h.phase() == Session::Phase::connecting);
    REQUIRE(h.dialers().fail(h.dialers().last(), "connection refused"));  // the session's own dial
    CHECK(h.phase() == Session::Phase::held);
    CHECK(h.received().empty());
    while (h.dialers().live() > 0) h.dialers().fail(h.dialers().last(), "connection refused");
    h.advance(6000);  // 10 s in all
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 503 "));
}

TEST_CASE("session: shutting down while held answers 503 and leaves the held list") {
    Harness h;
    h.health().report_up();
    h.health().report_unreachable("connection refused");
    h.request_upgrade();
    h.session->shut_down();
    CHECK(h.session == nullptr);
    CHECK(h.health().held_count() == 0);
    REQUIRE(run_until(&h.loop, [&] { return !h.received().empty(); }));
    CHECK(starts_with(h.answer, "HTTP/1.1 503 "));
    CHECK(h.answer.find("shutting down") != std::string::npos);
}

TEST_CASE("session: keeps the settings it started with when the route's are replaced") {
    Harness h;
    RouteSettingsPtr started_with = h.route.runtime.settings;
    h.route.listen_on(18789);  // what a reload does: new settings for sessions from now on
    REQUIRE(h.route.runtime.settings != started_with);
    h.request_upgrade();
    CHECK(h.dialers().last().settings == started_with);
}
