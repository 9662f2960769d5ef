// macOS: a wake from sleep, as IOKit's power management announces it
// (IORegisterForSystemPower; kIOMessageSystemHasPoweredOn once every driver
// has woken, network included). Nothing polls: an idle loopgate sleeps.
//
// Bridging IOKit to the libuv loop. IOKit delivers its notifications through
// an IONotificationPort, which has to be given to a CFRunLoop or a dispatch
// queue; loopgate's thread runs libuv, not a run loop. So the port gets a
// private serial dispatch queue of its own: the callback runs on one of
// libdispatch's threads, where it
//  - answers kIOMessageCanSystemSleep and kIOMessageSystemWillSleep at once
//    with IOAllowPowerChange (the system waits up to 30 s for every
//    registered client: a sleep must never wait for loopgate's loop), and
//  - for kIOMessageSystemHasPoweredOn calls uv_async_send, the one libuv call
//    that is safe from another thread; the async handle's callback then runs
//    on the loop thread and reports the wake to the network monitor.
// Teardown runs in the order IOPMLib.h asks for (IODeregisterForSystemPower,
// IONotificationPortDestroy, IOServiceClose), with an empty work item run
// synchronously on the queue before the connection is closed, so a callback
// still under way has finished before what it uses (the connection, the async
// handle) goes.
//
// If IOKit cannot be reached, the clock check (wake_check.cpp) stands in.
//
// Written from IOPMLib.h, IOKitLib.h, IOMessage.h and libdispatch's headers;
// UNTESTED on a Mac. CI compiles it against our stand-ins for those headers
// (tools/check-darwin.sh, tests/darwin-shim/); docs/network-changes.md says so.
#include <IOKit/IOMessage.h>
#include <IOKit/pwr_mgt/IOPMLib.h>
#include <dispatch/dispatch.h>

#include <cstdint>

#include "log.hpp"
#include "wake_watch.hpp"

namespace loopgate {
namespace {

class PowerWakeWatcher final : public WakeWatcher {
public:
    PowerWakeWatcher(uv_loop_t* loop, OnWake on_wake) : on_wake_(std::move(on_wake)) {
        box_ = new AsyncBox{};
        box_->owner = this;
        if (int rc = uv_async_init(loop, &box_->handle, [](uv_async_t* h) {
                auto* box = static_cast<AsyncBox*>(h->data);
                if (box->owner != nullptr) box->owner->on_wake_("system woke from sleep (IOKit power notification)");
            })) {
            log::warn("cannot watch for wake from sleep").kv("error", uv_strerror(rc));
            delete box_;
            box_ = nullptr;
            return;
        }
        box_->handle.data = box_;
        uv_unref(reinterpret_cast<uv_handle_t*>(&box_->handle));  // never the reason the process stays up
        root_ = IORegisterForSystemPower(box_, &port_, &PowerWakeWatcher::on_power_message, &notifier_);
        if (root_ == MACH_PORT_NULL) return;
        box_->root = root_;
        queue_ = dispatch_queue_create("loopgate.power", DISPATCH_QUEUE_SERIAL);
        IONotificationPortSetDispatchQueue(port_, queue_);
    }

    ~PowerWakeWatcher() override {
        if (root_ != MACH_PORT_NULL) {
            IODeregisterForSystemPower(&notifier_);
            IONotificationPortDestroy(port_);
            // A callback already running on the queue (it may still answer
            // with root_, and signal the async handle) finishes before this returns.
            dispatch_sync_f(queue_, nullptr, [](void*) {});
            IOServiceClose(root_);
            dispatch_release(queue_);
        }
        if (box_ == nullptr) return;
        box_->owner = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&box_->handle),
                 [](uv_handle_t* h) { delete static_cast<AsyncBox*>(h->data); });
    }

    bool registered() const { return root_ != MACH_PORT_NULL; }
    void set_wanted(bool) override {}  // nothing polls, whoever is connected
    const char* state() const override { return "power notifications"; }

private:
    struct AsyncBox {
        uv_async_t handle;
        PowerWakeWatcher* owner;    // read on the loop thread only
        io_connect_t root = MACH_PORT_NULL;  // for the answers, on the queue's thread
    };

    // On the dispatch queue's thread: nothing here may touch the loop but uv_async_send.
    static void on_power_message(void* refcon, io_service_t, uint32_t type, void* argument) {
        auto* box = static_cast<AsyncBox*>(refcon);
        switch (type) {
        case kIOMessageCanSystemSleep:
        case kIOMessageSystemWillSleep:
            IOAllowPowerChange(box->root, static_cast<long>(reinterpret_cast<intptr_t>(argument)));
            break;
        case kIOMessageSystemHasPoweredOn: uv_async_send(&box->handle); break;
        default: break;  // kIOMessageSystemWillPowerOn, WillNotSleep...: must not be answered
        }
    }

    OnWake on_wake_;
    AsyncBox* box_ = nullptr;
    io_connect_t root_ = MACH_PORT_NULL;
    IONotificationPortRef port_ = nullptr;
    io_object_t notifier_ = MACH_PORT_NULL;
    dispatch_queue_t queue_ = nullptr;
};

}  // namespace

std::unique_ptr<WakeWatcher> WakeWatcher::create(uv_loop_t* loop, uint32_t interval_ms, OnWake on_wake) {
    auto power = std::make_unique<PowerWakeWatcher>(loop, on_wake);
    if (power->registered()) return power;
    log::warn("IOKit power notifications unavailable; checking the clock for wake from sleep instead");
    return ClockWakeCheck::on_loop(loop, interval_ms, std::move(on_wake));
}

}  // namespace loopgate
