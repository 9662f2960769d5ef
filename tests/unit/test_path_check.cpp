// setup's proof of the path: the bounded wait for the new listener (with a
// fake clock), and how the answer through it is judged.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>

#include "ipv4.hpp"
#include "path_check.hpp"

namespace loopgate::test {
namespace {

using std::chrono::milliseconds;

// A clock that moves only when the wait sleeps.
struct FakeWorld {
    PathClock::time_point now{};
    int attempts = 0;
    int accept_on = -1;  // the attempt that is accepted; -1 never
    int asked = 0;
    int gone_on_ask = -1;  // the ask whose answer is "gone"; -1 never

    ListenerWaitHooks hooks() {
        return {[this] { return ++attempts == accept_on; },
                [this]() -> std::optional<std::string> {
                    if (++asked == gone_on_ask) return std::string("launchd does not have it loaded");
                    return std::nullopt;
                },
                [this] { return now; }, [this](milliseconds ms) { now += ms; }};
    }
};

PathAnswer refused(int status, std::string reason, std::string body, bool from_loopgate = false) {
    PathAnswer answer;
    answer.kind = PathAnswer::Kind::refused;
    answer.status = status;
    answer.reason = std::move(reason);
    answer.body_line = std::move(body);
    answer.from_loopgate = from_loopgate;
    return answer;
}

}  // namespace

TEST_CASE("path: the wait ends at the first accepted attempt") {
    FakeWorld world;
    world.accept_on = 4;
    ListenerWait wait = wait_for_listener(world.hooks(), milliseconds(10000));
    CHECK(wait.listening);
    CHECK(world.attempts == 4);
    CHECK(world.now - PathClock::time_point{} == milliseconds(300));  // 100 ms between attempts
    CHECK(world.asked == 1);  // once after the first refusal, then every 500 ms
}

TEST_CASE("path: the wait gives up at its limit, saying nothing accepted") {
    FakeWorld world;
    ListenerWait wait = wait_for_listener(world.hooks(), milliseconds(2000));
    CHECK_FALSE(wait.listening);
    CHECK(wait.why == "nothing accepted connections within 2 s");
    CHECK(world.now - PathClock::time_point{} == milliseconds(2000));
    CHECK(world.attempts == 21);
    CHECK(world.asked == 5);  // at 0, 500, 1000, 1500, 2000 ms
}

TEST_CASE("path: the wait stops early when the manager says the agent is gone") {
    FakeWorld world;
    world.gone_on_ask = 2;
    ListenerWait wait = wait_for_listener(world.hooks(), milliseconds(10000));
    CHECK_FALSE(wait.listening);
    CHECK(wait.why == "launchd does not have it loaded");
    CHECK(world.now - PathClock::time_point{} == milliseconds(500));
}

TEST_CASE("path: a listener that is there at once is not waited for") {
    FakeWorld world;
    world.accept_on = 1;
    CHECK(wait_for_listener(world.hooks(), milliseconds(10000)).listening);
    CHECK(world.asked == 0);
    CHECK(world.now == PathClock::time_point{});
}

TEST_CASE("path: 101 works") {
    PathAnswer answer;
    answer.kind = PathAnswer::Kind::upgraded;
    answer.status = 101;
    answer.reason = "Switching Protocols";
    PathVerdict verdict = judge_path(answer);
    CHECK(verdict.working);
    CHECK(verdict.summary == "101 Switching Protocols: the gateway accepted the WebSocket upgrade through loopgate");
}

TEST_CASE("path: 401 or 403 from the gateway works: it wants the app's token") {
    for (int status : {401, 403}) {
        PathVerdict verdict = judge_path(refused(status, "Unauthorized", "token missing"));
        CHECK(verdict.working);
        CHECK(verdict.summary.find("it wants credentials (a token) that your app sends") != std::string::npos);
    }
}

TEST_CASE("path: the gateway's refusal reaches the terminal without control bytes, and cut") {
    PathVerdict verdict = judge_path(refused(500, "Oops\x1b[2J", "\x1b]0;owned\x07 bad" + std::string(500, 'x')));
    CHECK_FALSE(verdict.working);
    CHECK(verdict.summary.find('\x1b') == std::string::npos);
    CHECK(verdict.summary.find('\x07') == std::string::npos);
    CHECK(verdict.summary.find("500 Oops?[2J") != std::string::npos);
    CHECK(verdict.summary.find("?]0;owned? bad") != std::string::npos);
    CHECK(verdict.summary.ends_with("..."));
    CHECK(verdict.summary.size() < 300);
}

TEST_CASE("path: loopgate's own refusal, another status or no HTTP does not work") {
    PathVerdict own = judge_path(refused(403, "Forbidden", "Host 'x' is not one of this listener's names", true));
    CHECK_FALSE(own.working);
    CHECK(own.summary == "loopgate answered 403 Forbidden: Host 'x' is not one of this listener's names");
    PathVerdict bad_gateway = judge_path(refused(502, "Bad Gateway", "upstream certificate expired", true));
    CHECK_FALSE(bad_gateway.working);
    CHECK(bad_gateway.summary == "loopgate answered 502 Bad Gateway: upstream certificate expired");
    PathVerdict gateway = judge_path(refused(404, "Not Found", ""));
    CHECK_FALSE(gateway.working);
    CHECK(gateway.summary == "the gateway answered 404 Not Found");
    PathAnswer failed;
    failed.failure = "upstream 127.0.0.1:1 did not answer with HTTP: bad status line";
    CHECK_FALSE(judge_path(failed).working);
    CHECK(judge_path(failed).summary == failed.failure);
}


namespace {

// A listening socket on 127.0.0.1 whose connections are accepted by the
// backlog and never read nor answered.
struct SilentListener {
    SilentListener() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in any = ipv4("127.0.0.1", 0);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        sockaddr_in bound{};
        socklen_t len = sizeof bound;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
        port = ntohs(bound.sin_port);
    }
    ~SilentListener() { ::close(fd); }
    int fd = -1;
    uint16_t port = 0;
};

}  // namespace

TEST_CASE("path: a bound under a second is said in milliseconds") {
    FakeWorld world;
    ListenerWait wait = wait_for_listener(world.hooks(), milliseconds(500));
    CHECK(wait.why == "nothing accepted connections within 500 ms");
    wait = wait_for_listener(world.hooks(), milliseconds(1500));
    CHECK(wait.why == "nothing accepted connections within 1.5 s");
}

TEST_CASE("path: no answer in time says so, in milliseconds under a second") {
    SilentListener listener;
    std::string why;
    auto connection = LoopbackConnection::open(listener.port, milliseconds(1000), &why);
    REQUIRE_MESSAGE(connection != nullptr, why);
    PathAnswer answer = upgrade_through(*connection, milliseconds(100), "setup");
    CHECK(answer.failure == "no answer through 127.0.0.1:" + std::to_string(listener.port) + " within 100 ms");
}

TEST_CASE("path: a send that cannot finish by its deadline says it timed out, not an earlier EAGAIN") {
    SilentListener listener;
    auto connection = LoopbackConnection::open(listener.port, milliseconds(1000));
    REQUIRE(connection != nullptr);
    std::string lots(64 << 20, 'x');  // more than both socket buffers hold: the peer never reads
    errno = 0;
    CHECK_FALSE(connection->send_all(lots, PathClock::now() + milliseconds(100)));
    CHECK(errno == ETIMEDOUT);
}

}  // namespace loopgate::test
