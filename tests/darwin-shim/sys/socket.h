// Extends glibc's <sys/socket.h>: Apple's values for PF_ROUTE, which
// daemon/netwatch_darwin.cpp uses, and AF_LINK, and no SO_PEERCRED, which
// proxy/unix_socket.cpp tests for. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_SYS_SOCKET_H
#define LOOPGATE_DARWIN_SHIM_SYS_SOCKET_H

#include_next <sys/socket.h>

// <sys/socket.h>, route(4): the routing socket's protocol family (Apple:
// AF_ROUTE 17, PF_ROUTE AF_ROUTE). glibc makes PF_ROUTE an alias of
// PF_NETLINK (16), and its AF_ROUTE follows PF_ROUTE.
#undef PF_ROUTE
#define PF_ROUTE 17

// <sys/socket.h>: link-level socket addresses (struct sockaddr_dl), Apple's
// 18; glibc has no AF_LINK. proxy/route_message.cpp checks its own constant
// against it.
#define AF_LINK 18

// Not declared here: Apple's <sys/socket.h> has no SO_PEERCRED (a unix
// socket's peer is asked with getpeereid(3), or LOCAL_PEERCRED from
// <sys/un.h>), so proxy/unix_socket.cpp takes its macOS branch.
#undef SO_PEERCRED

#endif
