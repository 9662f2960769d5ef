// proxy/upstream_pool: a route's idle upstream connections, on a fake clock
// with real socketpairs: handed only to requests with the settings they were
// made for, the newest first, closed when idle too long, when the pool is
// full, when the upstream says anything while they wait, or when the network
// changes under them (the listener's check after a network change).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakes.hpp"
#include "listener.hpp"
#include "route.hpp"
#include "transport.hpp"
#include "upstream_pool.hpp"

using namespace loopgate;
using namespace loopgate::testing;

namespace {

struct Fixture {
    Fixture() { uv_loop_init(&loop); }
    ~Fixture() {
        pool.reset();
        for (int fd : peers) ::close(fd);
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    // A connected transport; its far end (the "upstream") stays with the fixture.
    Transport* connection() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
        ::fcntl(fds[1], F_SETFL, O_NONBLOCK);
        peers.push_back(fds[1]);
        Transport* t = Transport::create(&loop, nullptr, Transport::Kind::unix_socket);
        REQUIRE(t->adopt(fds[0]) == 0);
        return t;
    }
    // Whether the upstream's end saw the connection close, within a bounded number of loop turns.
    bool closed(size_t i) {
        return run_until(&loop, [&] {
            char byte;
            return ::read(peers.at(i), &byte, 1) == 0;
        });
    }
    uv_loop_t loop{};
    FakeClock clock;
    ProcessLoad process;
    std::unique_ptr<UpstreamPool> pool = std::make_unique<UpstreamPool>(clock, &process, 2, 1000);
    std::vector<int> peers;
    RouteSettings settings_a, settings_b;
};

}  // namespace

TEST_CASE("upstream pool: a connection goes only to requests with its settings, the newest first") {
    Fixture f;
    Transport* older = f.connection();
    Transport* newer = f.connection();
    f.pool->put(older, &f.settings_a);
    f.pool->put(newer, &f.settings_a);
    CHECK(f.pool->take(&f.settings_b) == nullptr);
    CHECK(f.pool->take(&f.settings_a) == newer);
    CHECK(f.pool->take(&f.settings_a) == older);
    CHECK(f.pool->take(&f.settings_a) == nullptr);
    older->close();
    newer->close();
}

TEST_CASE("upstream pool: an idle connection is closed after idle_ms, a full pool closes its oldest") {
    Fixture f;
    f.pool->put(f.connection(), &f.settings_a);
    f.clock.advance(999);
    CHECK(f.pool->idle() == 1);
    f.clock.advance(1);
    CHECK(f.pool->idle() == 0);
    CHECK(f.closed(0));

    f.pool->put(f.connection(), &f.settings_a);
    f.pool->put(f.connection(), &f.settings_a);
    f.pool->put(f.connection(), &f.settings_a);  // one more than max_idle
    CHECK(f.pool->idle() == 2);
    CHECK(f.closed(1));
}

TEST_CASE("upstream pool: the process counts a connection as busy from put to take or close, however it goes") {
    // The daemon's wake check runs while the process is busy: after a sleep a
    // pooled connection is dead, and the pool's clock did not move.
    std::vector<bool> told;  // outlives the fixture, whose pool tells as it goes
    Fixture f;
    f.process.on_busy_changed = [&](bool busy) { told.push_back(busy); };
    Transport* taken = f.connection();
    f.pool->put(taken, &f.settings_a);
    CHECK(told == std::vector<bool>{true});
    CHECK(f.pool->take(&f.settings_a) == taken);
    CHECK(told == std::vector<bool>{true, false});
    taken->close();

    f.pool->put(f.connection(), &f.settings_a);  // peers[1]: pushed out by the third put (max_idle is 2)
    f.pool->put(f.connection(), &f.settings_a);  // peers[2]: pushed out by the fourth
    f.pool->put(f.connection(), &f.settings_b);  // peers[3]: expires
    f.pool->put(f.connection(), &f.settings_b);  // peers[4]: speaks, and is dropped
    CHECK(f.process.idle_upstreams == 2);
    REQUIRE(::write(f.peers[4], "x", 1) == 1);  // the upstream says something: dropped
    CHECK(run_until(&f.loop, [&] { return f.pool->idle() == 1; }));
    CHECK(f.process.idle_upstreams == 1);
    f.clock.advance(1000);
    CHECK(f.process.idle_upstreams == 0);
    CHECK(told == std::vector<bool>{true, false, true, false});

    f.pool->put(f.connection(), &f.settings_a);
    f.pool->put(f.connection(), &f.settings_a);
    f.process.connection_opened();  // an app, too: busy until both are gone
    f.pool->clear();
    CHECK(f.process.idle_upstreams == 0);
    CHECK(told == std::vector<bool>{true, false, true, false, true});
    f.process.connection_closed();
    CHECK(told == std::vector<bool>{true, false, true, false, true, false});
    f.pool->put(f.connection(), &f.settings_a);
    f.pool.reset();  // a route removed by a reload
    CHECK(told == std::vector<bool>{true, false, true, false, true, false, true, false});
}

TEST_CASE("upstream pool: once closed (stopping, route removed) a connection put back is closed, not kept") {
    Fixture f;
    f.pool->put(f.connection(), &f.settings_a);
    f.pool->close();
    CHECK(f.closed(0));
    f.pool->put(f.connection(), &f.settings_a);  // a response that was still running when loopgate began to stop
    CHECK(f.pool->idle() == 0);
    CHECK(f.process.idle_upstreams == 0);
    CHECK(f.closed(1));
    CHECK(f.pool->take(&f.settings_a) == nullptr);
}

TEST_CASE("upstream pool: bytes or an end from a waiting upstream drop its connection") {
    Fixture f;
    f.pool->put(f.connection(), &f.settings_a);
    f.pool->put(f.connection(), &f.settings_a);
    REQUIRE(::write(f.peers[0], "x", 1) == 1);  // an idle connection has nothing to say
    CHECK(run_until(&f.loop, [&] { return f.pool->idle() == 1; }));
    ::shutdown(f.peers[1], SHUT_WR);              // the upstream's keep-alive timeout
    CHECK(run_until(&f.loop, [&] { return f.pool->idle() == 0; }));
    CHECK(f.pool->take(&f.settings_a) == nullptr);
}

TEST_CASE("upstream pool: a network change closes every idle connection of the route; the next request dials") {
    Fixture f;
    FakeRoute route(test_route_settings());
    route.runtime.pool = std::make_unique<UpstreamPool>(route.clock, &f.process, 4, 30000);
    UpstreamPool& pool = *route.runtime.pool;
    const RouteSettings* settings = route.runtime.settings.get();
    pool.put(f.connection(), settings);
    pool.put(f.connection(), settings);
    Listener listener(&f.loop, route.runtime);
    // No relaying session to probe, no path lookup: only the pool to empty.
    CHECK(f.process.busy());
    Listener::NetworkCheck checked = listener.check_sessions(nullptr, 1000);
    CHECK(checked.pooled_closed == 2);
    CHECK_FALSE(f.process.busy());  // the wake check may stop: nothing a sleep could break is left
    CHECK(checked.probed == 0);
    CHECK(pool.idle() == 0);
    CHECK(pool.take(settings) == nullptr);
    CHECK(f.closed(0));
    CHECK(f.closed(1));
    CHECK(listener.check_sessions(nullptr, 1000).pooled_closed == 0);
}
