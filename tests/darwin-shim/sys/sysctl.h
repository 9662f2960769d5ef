// Stands in for Apple's <sys/sysctl.h> (glibc has none since 2.32): the one
// call proxy/peer_owner_darwin.cpp makes. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_SYS_SYSCTL_H
#define LOOPGATE_DARWIN_SHIM_SYS_SYSCTL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// sysctlbyname(3), <sys/sysctl.h>: reads (oldp/oldlenp) or sets (newp/newlen)
// the kernel state named `name`; with oldp null, *oldlenp gets the size needed.
int sysctlbyname(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen);

#ifdef __cplusplus
}
#endif

#endif
