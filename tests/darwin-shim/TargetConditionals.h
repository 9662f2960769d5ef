// Stand-in for Apple's <TargetConditionals.h>: libuv's <uv/darwin.h> includes
// it and nothing we compile tests a TARGET_OS_* macro, so it defines none.
// (Code that starts testing TARGET_OS_OSX etc. must add them here.)
#ifndef LOOPGATE_DARWIN_SHIM_TARGETCONDITIONALS_H
#define LOOPGATE_DARWIN_SHIM_TARGETCONDITIONALS_H
#endif
