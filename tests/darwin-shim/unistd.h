// Extends glibc's <unistd.h> with the one Apple declaration there that
// proxy/unix_socket.cpp uses and glibc lacks. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_UNISTD_H
#define LOOPGATE_DARWIN_SHIM_UNISTD_H

#include_next <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

// getpeereid(3), <unistd.h>: the effective user and group of the process at
// the other end of a connected unix-domain socket.
int getpeereid(int socket, uid_t* euid, gid_t* egid);

#ifdef __cplusplus
}
#endif

#endif
