// A one-shot timer on the event loop, owned like a value. The uv handle lives
// on the heap and is freed in its close callback, so destroying a Timer at
// any point (even from its own callback) is safe.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

#include "clock.hpp"

namespace loopgate {

class Timer final : public Alarm {
public:
    explicit Timer(uv_loop_t* loop);
    ~Timer() override;
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    void start(uint64_t timeout_ms, std::function<void()> on_fire) override;
    void stop() override;
    bool active() const override;
    // An unreferenced timer still fires, but does not keep the loop running.
    void unref();

private:
    struct Box {
        uv_timer_t handle;
        std::function<void()> on_fire;
    };
    Box* box_;
};

}  // namespace loopgate
