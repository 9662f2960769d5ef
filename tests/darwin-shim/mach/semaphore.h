// Stand-in for Apple's <mach/semaphore.h>: libuv's <uv/darwin.h> includes it
// for semaphore_t, which <mach/mach.h> here declares.
#ifndef LOOPGATE_DARWIN_SHIM_MACH_SEMAPHORE_H
#define LOOPGATE_DARWIN_SHIM_MACH_SEMAPHORE_H
#include <mach/mach.h>
#endif
