// Stand-in for Apple's <IOKit/IOKitLib.h> (IOKit.framework), declaring only
// what daemon/wake_watch_darwin.cpp uses. Linux has no such header. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_IOKIT_IOKITLIB_H
#define LOOPGATE_DARWIN_SHIM_IOKIT_IOKITLIB_H

#include <stdint.h>

#include <dispatch/dispatch.h>
#include <mach/mach.h>

#ifdef __cplusplus
extern "C" {
#endif

// <mach/kern_return.h>: a Mach call's result; KERN_SUCCESS is 0.
typedef int kern_return_t;
// <IOKit/IOReturn.h>: IOKit's result type, a kern_return_t; kIOReturnSuccess is KERN_SUCCESS.
typedef kern_return_t IOReturn;
#define kIOReturnSuccess 0

// <IOKit/IOTypes.h>: IOKit objects are Mach port names in user space.
typedef mach_port_t io_object_t;
typedef io_object_t io_connect_t;
typedef io_object_t io_service_t;
// <mach/port.h>: the null port name.
#define MACH_PORT_NULL 0

// <IOKit/IOKitLib.h>: an opaque notification port.
typedef struct IONotificationPort* IONotificationPortRef;

// <IOKit/IOKitLib.h>: called for each interest notification, on the run loop
// or dispatch queue the port was given to.
typedef void (*IOServiceInterestCallback)(void* refcon, io_service_t service, uint32_t messageType,
                                          void* messageArgument);

// <IOKit/IOKitLib.h> (macOS 10.6+): deliver the port's notifications on `queue`.
void IONotificationPortSetDispatchQueue(IONotificationPortRef notify, dispatch_queue_t queue);
// <IOKit/IOKitLib.h>: frees the port and what it holds.
void IONotificationPortDestroy(IONotificationPortRef notify);
// <IOKit/IOKitLib.h>: closes a connection to an IOService.
kern_return_t IOServiceClose(io_connect_t connect);

#ifdef __cplusplus
}
#endif

#endif
