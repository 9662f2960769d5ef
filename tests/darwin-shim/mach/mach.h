// Stand-in for Apple's <mach/mach.h>, which libuv's <uv/darwin.h> includes
// when __APPLE__ and __MACH__ are defined; declares only what libuv's public
// headers use from it. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_MACH_MACH_H
#define LOOPGATE_DARWIN_SHIM_MACH_MACH_H

// <mach/port.h> (via <mach/mach_types.h>): a port name, __darwin_natural_t,
// an unsigned int.
typedef unsigned int mach_port_t;

// <mach/mach_types.h>: libuv's uv_sem_t on macOS (UV_PLATFORM_SEM_T).
typedef mach_port_t semaphore_t;

#endif
