// Extends glibc's <sys/socket.h>: Apple's values for PF_ROUTE, which
// daemon/netwatch_darwin.cpp uses, and AF_LINK, SO_NOSIGPIPE, and no
// SO_PEERCRED, which proxy/unix_socket.cpp tests for, nor the Linux-only
// SOCK_CLOEXEC, SOCK_NONBLOCK and MSG_NOSIGNAL. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_SYS_SOCKET_H
#define LOOPGATE_DARWIN_SHIM_SYS_SOCKET_H

// Apple's <sys/socket.h> has no SOCK_CLOEXEC, SOCK_NONBLOCK (socket(2)'s
// type is only the type) nor MSG_NOSIGNAL (send(2); macOS has SO_NOSIGPIPE
// per socket instead). glibc declares them as enumerators, which #undef
// cannot hide, so they are renamed before glibc's header declares them and
// their macros dropped after: a use fails to compile, as on a Mac, and
// `#if defined(MSG_NOSIGNAL)` takes the macOS branch.
#define SOCK_CLOEXEC loopgate_shim_linux_only_SOCK_CLOEXEC
#define SOCK_NONBLOCK loopgate_shim_linux_only_SOCK_NONBLOCK
#define MSG_NOSIGNAL loopgate_shim_linux_only_MSG_NOSIGNAL

#include_next <sys/socket.h>

#undef SOCK_CLOEXEC
#undef SOCK_NONBLOCK
#undef MSG_NOSIGNAL

// <sys/socket.h>, route(4): the routing socket's protocol family (Apple:
// AF_ROUTE 17, PF_ROUTE AF_ROUTE). glibc makes PF_ROUTE an alias of
// PF_NETLINK (16), and its AF_ROUTE follows PF_ROUTE.
#undef PF_ROUTE
#define PF_ROUTE 17

// <sys/socket.h>: link-level socket addresses (struct sockaddr_dl), Apple's
// 18; glibc has no AF_LINK. proxy/route_message.cpp checks its own constant
// against it.
#define AF_LINK 18

// <sys/socket.h>, setsockopt(2): a write to a socket whose peer has gone
// returns EPIPE instead of raising SIGPIPE (Apple: 0x1022).
#define SO_NOSIGPIPE 0x1022

// Not declared here: Apple's <sys/socket.h> has no SO_PEERCRED (a unix
// socket's peer is asked with getpeereid(3), or LOCAL_PEERCRED from
// <sys/un.h>), so proxy/unix_socket.cpp takes its macOS branch.
#undef SO_PEERCRED

#endif
