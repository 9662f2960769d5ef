// A session whose upstream is down waits here, on the route's held list,
// until the route's health tracker says the upstream is back or the hold
// deadline passes (503 with Retry-After). Leaving the phase takes the
// session off the list.
#pragma once

#include <memory>
#include <string>

#include "clock.hpp"
#include "handshake.hpp"
#include "route.hpp"
#include "route_health.hpp"

namespace loopgate {

class HoldPhase final : private HeldConnection {
public:
    class Owner {
    public:
        virtual void on_upstream_back() = 0;
        virtual void refuse(handshake::Refusal refusal) = 0;
        virtual void settle() = 0;

    protected:
        ~Owner() = default;
    };

    // `down` says why the upstream is unreachable, for the 503's body.
    HoldPhase(const RouteSettings& route, RouteRuntime& runtime, Owner& owner, std::string down);
    ~HoldPhase();
    HoldPhase(const HoldPhase&) = delete;
    HoldPhase& operator=(const HoldPhase&) = delete;

    // Joins the held list for at most wait_ms. False when the route holds
    // no one now (or no more): the owner refuses at once.
    bool start(uint64_t wait_ms);

private:
    void on_upstream_back() override;

    const RouteSettings& route_;
    RouteRuntime& runtime_;
    Owner& owner_;
    std::string down_;
    std::unique_ptr<Alarm> deadline_;
    bool listed_ = false;
};

}  // namespace loopgate
