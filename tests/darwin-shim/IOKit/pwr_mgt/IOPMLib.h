// Stand-in for Apple's <IOKit/pwr_mgt/IOPMLib.h> (IOKit.framework), declaring
// only what daemon/wake_watch_darwin.cpp uses. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_IOKIT_PWR_MGT_IOPMLIB_H
#define LOOPGATE_DARWIN_SHIM_IOKIT_PWR_MGT_IOPMLIB_H

#include <IOKit/IOKitLib.h>

#ifdef __cplusplus
extern "C" {
#endif

// <IOKit/pwr_mgt/IOPMLib.h>: connects to the root power domain for sleep and
// wake notifications, delivered to `callback` through *thePortRef (which the
// caller must hand to a run loop or dispatch queue). Returns MACH_PORT_NULL on
// failure; else a connection to close with IOServiceClose after
// IODeregisterForSystemPower(notifier), then IONotificationPortDestroy.
io_connect_t IORegisterForSystemPower(void* refcon, IONotificationPortRef* thePortRef, IOServiceInterestCallback callback,
                                      io_object_t* notifier);
// <IOKit/pwr_mgt/IOPMLib.h>: ends the registration.
IOReturn IODeregisterForSystemPower(io_object_t* notifier);
// <IOKit/pwr_mgt/IOPMLib.h>: acknowledges kIOMessageCanSystemSleep or
// kIOMessageSystemWillSleep; notificationID is the message argument.
IOReturn IOAllowPowerChange(io_connect_t kernelPort, long notificationID);

#ifdef __cplusplus
}
#endif

#endif
