// Racing a dial's addresses (the connection-attempt part of RFC 8305 §5;
// IPv4 only, since loopgate never connects over IPv6). The first address is
// tried at once. An attempt that has not connected within kAttemptDelayMs
// starts the next address beside it; an attempt that fails starts the next at
// once. The first attempt to connect wins and every other one still under
// way is closed. Each attempt is bounded by the route's connect timeout, and
// when all have failed the reason lists every address with why it failed.
//
// Which failure decides when all have failed: the network's word outranks
// loopgate's own want of descriptors or memory. An attempt that got as far as
// the network (a connect refused or timed out, no route to the host: the
// upstream's or the path's answer) makes the loss the upstream's, reported as
// the addresses' errors, whether the local failure came before it in time or
// after it; the address that could not be opened is then listed as "not
// tried". The loss is local (race_lost's `local_error`) only when no attempt
// got that far: then nothing is known about the upstream, and the route's
// health must not take loopgate's shortage for an outage.
//
// A state machine only: its owner opens and closes the connections and
// reports how each went, and alarms come from a Clock, so unit tests drive it
// with a fake clock and fake connections (UpstreamDialer is the real owner).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "clock.hpp"

namespace loopgate {

class AddressRace {
public:
    static constexpr uint64_t kAttemptDelayMs = 250;  // RFC 8305's recommended Connection Attempt Delay

    class Owner {
    public:
        // Starts connecting to address i: 0, or a uv error, in which case
        // whatever the owner made for it is closed already.
        virtual int race_open(size_t i) = 0;
        // Attempt i is over without winning (it failed, timed out, or `lost`
        // because another connected first): close its connection. Must not
        // destroy the race.
        virtual void race_close(size_t i, bool lost) = 0;
        // Progress (for `loopgate probe`): attempt i failed. Must not destroy the race.
        virtual void race_attempt_failed(size_t /*i*/, const std::string& /*why*/) {}
        // Attempt i connected first; every other one is closed. The race's
        // last call: the owner may destroy it from here.
        virtual void race_won(size_t i) = 0;
        // Every attempt failed. `errors`: "ADDRESS why; ADDRESS why", in address
        // order. `local_error`: a uv error when an address could not even be
        // tried for want of loopgate's own resources (descriptors, memory) and
        // no other attempt got as far as the network, else 0 (see above).
        // The race's last call, never made from inside start().
        virtual void race_lost(const std::string& errors, int local_error) = 0;

    protected:
        ~Owner() = default;
    };

    // `names` (one per address, "100.64.0.7:443") are for the failure reason.
    AddressRace(Clock& clock, std::vector<std::string> names, uint64_t connect_timeout_ms, Owner& owner);
    AddressRace(const AddressRace&) = delete;
    AddressRace& operator=(const AddressRace&) = delete;

    void start();
    // The owner's reports about attempt i; ignored once it is over (closed or lost).
    void on_connected(size_t i);
    void on_failed(size_t i, const std::string& why);

    // The addresses being connected to now: "100.64.0.2:443, 100.64.0.6:443".
    std::string connecting() const;
    bool decided() const { return decided_; }

private:
    enum class State { waiting, connecting, failed, lost, won };
    struct Attempt {
        std::string name;
        State state = State::waiting;
        std::string error;
        std::unique_ptr<Alarm> deadline;  // connect timeout
    };

    void open_next();
    void fail(size_t i, const std::string& why);
    void finish_later();
    void finish();

    Clock& clock_;
    Owner& owner_;
    uint64_t connect_timeout_ms_;
    std::vector<Attempt> attempts_;
    size_t next_ = 0;       // the next address to open
    size_t in_flight_ = 0;  // attempts connecting
    int local_error_ = 0;
    bool network_answered_ = false;  // some attempt failed for a reason not loopgate's own
    bool decided_ = false;
    std::unique_ptr<Alarm> delay_;  // starts the next address; also reports the loss from the loop
};

}  // namespace loopgate
