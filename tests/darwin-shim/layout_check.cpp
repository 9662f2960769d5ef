// Compiled by tools/check-darwin.sh like the macOS sources: the routing-socket
// structs in this shim must have the sizes and offsets macOS's own headers
// give them on 64-bit macOS. The numbers are a second source, independent of
// our reading of xnu's headers: the tables Go's syscall package generates from
// the macOS SDK with godefs (ztypes_darwin_amd64.go: SizeofRtMsghdr = 0x5c,
// SizeofRtMetrics = 0x38, SizeofIfMsghdr = 0x70, SizeofIfData = 0x60,
// SizeofIfaMsghdr = 0x14, and the field order and padding of each struct).
// netwatch_darwin.cpp compares read lengths with these sizes, so a shim that
// got them wrong would hide a wrong bound.
#include <net/if.h>
#include <net/route.h>

#include <cstddef>

static_assert(sizeof(rt_metrics) == 0x38);
static_assert(sizeof(rt_msghdr) == 0x5c);
static_assert(offsetof(rt_msghdr, rtm_version) == 2);
static_assert(offsetof(rt_msghdr, rtm_type) == 3);
static_assert(offsetof(rt_msghdr, rtm_index) == 4);
static_assert(offsetof(rt_msghdr, rtm_flags) == 8);
static_assert(offsetof(rt_msghdr, rtm_rmx) == 36);

static_assert(sizeof(if_data) == 0x60);
static_assert(sizeof(if_msghdr) == 0x70);
static_assert(offsetof(if_msghdr, ifm_flags) == 8);
static_assert(offsetof(if_msghdr, ifm_index) == 12);
static_assert(offsetof(if_msghdr, ifm_data) == 16);

static_assert(sizeof(ifa_msghdr) == 0x14);
static_assert(offsetof(ifa_msghdr, ifam_index) == 12);
static_assert(offsetof(ifa_msghdr, ifam_metric) == 16);
