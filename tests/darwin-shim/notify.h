// Stand-in for Apple's <notify.h> (Libnotify; notify(3)), declaring only what
// daemon/netwatch_darwin.cpp uses. Linux has no such header. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_NOTIFY_H
#define LOOPGATE_DARWIN_SHIM_NOTIFY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// notify(3), <notify.h>: the status every notify_* call returns on success.
#define NOTIFY_STATUS_OK 0

// notify(3), <notify.h>: registers for `name`; notifications arrive as the
// 4-byte token written to *notify_fd. flags 0 (not NOTIFY_REUSE) opens a new
// descriptor.
uint32_t notify_register_file_descriptor(const char* name, int* notify_fd, int flags, int* out_token);

// notify(3), <notify.h>: ends the registration (and closes its descriptor).
uint32_t notify_cancel(int token);

#ifdef __cplusplus
}
#endif

#endif
