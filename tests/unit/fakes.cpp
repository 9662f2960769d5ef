#include "fakes.hpp"

#include <poll.h>

#include <algorithm>

#include "log.hpp"
#include "route_health.hpp"
#include "upstream_pool.hpp"

namespace loopgate::testing {

class FakeClock::FakeAlarm final : public Alarm {
public:
    explicit FakeAlarm(FakeClock& clock) : clock_(clock) { clock_.alarms_.insert(this); }
    ~FakeAlarm() override { clock_.alarms_.erase(this); }
    void start(uint64_t timeout_ms, std::function<void()> on_fire) override {
        due_ = clock_.now_ + timeout_ms;
        sequence_ = clock_.next_sequence_++;
        on_fire_ = std::move(on_fire);
        armed_ = true;
    }
    void stop() override {
        armed_ = false;
        on_fire_ = nullptr;
    }
    bool active() const override { return armed_; }

    FakeClock& clock_;
    bool armed_ = false;
    uint64_t due_ = 0;
    uint64_t sequence_ = 0;
    std::function<void()> on_fire_;
};

std::unique_ptr<Alarm> FakeClock::new_alarm() { return std::make_unique<FakeAlarm>(*this); }

void FakeClock::advance(uint64_t ms) {
    uint64_t target = now_ + ms;
    for (;;) {
        FakeAlarm* next = nullptr;
        for (FakeAlarm* alarm : alarms_) {
            if (!alarm->armed_ || alarm->due_ > target) continue;
            if (next == nullptr || alarm->due_ < next->due_ ||
                (alarm->due_ == next->due_ && alarm->sequence_ < next->sequence_)) {
                next = alarm;
            }
        }
        if (next == nullptr) break;
        now_ = std::max(now_, next->due_);
        next->armed_ = false;
        auto fire = std::move(next->on_fire_);  // it may be destroyed or rearmed by its callback
        next->on_fire_ = nullptr;
        if (fire) fire();
    }
    now_ = target;
}

size_t FakeClock::armed() const {
    return static_cast<size_t>(std::count_if(alarms_.begin(), alarms_.end(), [](FakeAlarm* a) { return a->armed_; }));
}

namespace {

class FakeDialer final : public Dialer {
public:
    explicit FakeDialer(std::shared_ptr<FakeDial> dial) : dial_(std::move(dial)) {}
    ~FakeDialer() override { dial_->abandoned = true; }
    void start() override { dial_->started = true; }
    const std::string& stage() const override { return stage_; }

private:
    std::shared_ptr<FakeDial> dial_;
    std::string stage_ = "connecting to 192.0.2.1:443";
};

}  // namespace

std::unique_ptr<Dialer> FakeDialers::new_dialer(RouteSettingsPtr settings, DialHandler& handler) {
    auto dial = std::make_shared<FakeDial>();
    dial->handler = &handler;
    dial->settings = std::move(settings);
    dials_.push_back(dial);
    return std::make_unique<FakeDialer>(dial);
}

size_t FakeDialers::live() const {
    return static_cast<size_t>(std::count_if(dials_.begin(), dials_.end(), [](const auto& d) { return d->live(); }));
}

bool FakeDialers::fail(FakeDial& dial, DialFailure failure) {
    if (!dial.live()) return false;
    dial.answered = true;
    dial.handler->on_dial_failed(failure);
    return true;
}

bool FakeDialers::fail(FakeDial& dial, const std::string& reason, bool unreachable) {
    DialFailure failure;
    failure.reason = reason;
    failure.unreachable = unreachable;
    return fail(dial, failure);
}

bool FakeDialers::succeed(FakeDial& dial, Transport* upstream) {
    if (!dial.live()) return false;
    dial.answered = true;
    dial.handler->on_dial_ready(upstream);
    return true;
}

FakeRoute::FakeRoute(config::Route settings) {
    auto initial = std::make_shared<RouteSettings>();
    initial->config = std::move(settings);
    runtime.settings = std::move(initial);
    runtime.clock = &clock;
    auto factory = std::make_unique<FakeDialers>();
    dialers = factory.get();
    runtime.dialers = std::move(factory);
    runtime.health = std::make_unique<RouteHealth>(runtime);
}

FakeRoute::~FakeRoute() { runtime.health.reset(); }

void FakeRoute::listen_on(uint16_t port) {
    auto next = std::make_shared<RouteSettings>(*runtime.settings);
    next->access = AccessPolicy::for_route(next->config, port);
    runtime.settings = std::move(next);
}

config::Route test_route_settings() {
    config::Route route;
    route.name = "test";
    route.listen.host = "127.0.0.1";
    route.listen.is_loopback = true;
    route.upstream.host = "gateway.test";
    route.upstream.port = 443;
    route.reconnect.hold_ms = 10000;
    route.reconnect.max_held = 4;
    route.reconnect.backoff_initial_ms = 250;
    route.reconnect.backoff_max_ms = 600000;
    route.timeouts.handshake_ms = 3000;
    route.liveness.ping_interval_ms = 0;
    return route;
}

bool run_until(uv_loop_t* loop, const std::function<bool()>& done, int max_turns) {
    for (int turn = 0; turn < max_turns; ++turn) {
        if (done()) return true;
        uv_run(loop, UV_RUN_NOWAIT);
        poll(nullptr, 0, turn < 100 ? 0 : 1);  // socketpair bytes are there at once; allow the kernel a moment later
    }
    return done();
}

}  // namespace loopgate::testing
