// Stand-in for Apple's <mach/task.h>: libuv's <uv/darwin.h> includes it and
// its public headers use nothing from it, so it declares nothing.
#ifndef LOOPGATE_DARWIN_SHIM_MACH_TASK_H
#define LOOPGATE_DARWIN_SHIM_MACH_TASK_H
#include <mach/mach.h>
#endif
