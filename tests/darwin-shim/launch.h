/* Stand-in for Apple's <launch.h>: only what daemon/activation_darwin.cpp uses. */
#pragma once

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* launch_activate_socket(3), <launch.h> (macOS 10.9 and later): the listening
 * descriptors launchd created for the key `name` of the job's Sockets
 * dictionary. Returns 0, or ENOENT (no such key), ESRCH (not managed by
 * launchd), EALREADY (already activated). The caller frees *fds with free(3). */
int launch_activate_socket(const char *name, int **fds, size_t *cnt);

#ifdef __cplusplus
}
#endif
