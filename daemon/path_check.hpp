// How `loopgate setup` proves the path it just configured: wait (bounded)
// until the new listener on 127.0.0.1 accepts, then make a real WebSocket
// upgrade through it, as the app will, and judge the answer that comes back
// from the gateway through loopgate.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace loopgate {

using PathClock = std::chrono::steady_clock;

// The world the wait looks at, as functions, so unit tests drive it with a fake clock.
struct ListenerWaitHooks {
    std::function<bool()> accepts;                           // one connection attempt to the listener
    std::function<std::optional<std::string>()> agent_gone;  // why the agent cannot come up any more, or nothing
    std::function<PathClock::time_point()> now;
    std::function<void(std::chrono::milliseconds)> sleep;
};

struct ListenerWait {
    bool listening = false;
    std::string why;  // when not: the agent went away (its manager's words), or nothing listened in time
};

// Tries every 100 ms until the listener accepts or `limit` has passed; asks
// agent_gone every 500 ms (first after the first refused attempt) and stops
// at once when it answers.
ListenerWait wait_for_listener(const ListenerWaitHooks& hooks, std::chrono::milliseconds limit);

// A TCP connection to 127.0.0.1:PORT, closed when it goes. The wait keeps
// the one that was accepted for the upgrade, so the daemon never sees (and
// logs) a connection that hangs up unread.
class LoopbackConnection {
public:
    // Connected within `timeout`, or nothing (with `why`, when given).
    static std::unique_ptr<LoopbackConnection> open(uint16_t port, std::chrono::milliseconds timeout,
                                                    std::string* why = nullptr);
    ~LoopbackConnection();
    LoopbackConnection(const LoopbackConnection&) = delete;
    LoopbackConnection& operator=(const LoopbackConnection&) = delete;

    uint16_t port() const { return port_; }
    // False on an error or at the deadline (errno ETIMEDOUT), as for receive().
    bool send_all(std::string_view data, PathClock::time_point deadline);
    // What comes by the deadline: >0 bytes, 0 the peer closed, -1 an error
    // (errno says which) or the deadline (errno ETIMEDOUT).
    long receive(char* buffer, size_t size, PathClock::time_point deadline);

private:
    LoopbackConnection(int fd, uint16_t port) : fd_(fd), port_(port) {}
    bool wait(short events, PathClock::time_point deadline);

    int fd_;
    uint16_t port_;
};

struct PathAnswer {
    enum class Kind { upgraded, refused, failed };
    Kind kind = Kind::failed;
    int status = 0;              // the HTTP status (upgraded: 101)
    std::string reason;          // its reason phrase
    std::string body_line;       // a refusal's first body line
    bool from_loopgate = false;  // the refusal is loopgate's own ("loopgate: ..." body), not the gateway's
    std::string failure;         // on failed: what went wrong
};

// GET / with a fresh Sec-WebSocket-Key over `connection` (to
// ws://127.0.0.1:PORT/), the answer's Sec-WebSocket-Accept checked, then a
// close 1000. Bounded by `timeout` in all. `command` ("setup", "doctor")
// names the asker in the log loopgate writes of it: User-Agent
// loopgate-COMMAND/VERSION, close reason "loopgate COMMAND".
PathAnswer upgrade_through(LoopbackConnection& connection, std::chrono::milliseconds timeout,
                           std::string_view command);

struct PathVerdict {
    bool working = false;
    std::string summary;  // one sentence
};

// 101: working. 401 or 403 from the gateway: working, the gateway wants
// credentials the app brings. Anything else (loopgate's own 4xx/5xx, a
// gateway's other status, no HTTP): not working, with what came back.
PathVerdict judge_path(const PathAnswer& answer);

}  // namespace loopgate
