// Extends glibc's <netinet/tcp.h> with what Apple's <netinet/tcp.h> (xnu
// bsd/netinet/tcp.h; tcp(4)) has and proxy/socket_tuning_darwin.cpp uses, and
// gives the shared option names Apple's values. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_NETINET_TCP_H
#define LOOPGATE_DARWIN_SHIM_NETINET_TCP_H

#include_next <netinet/tcp.h>

// <netinet/tcp.h>, tcp(4): keepalive probe interval and count; both
// platforms have the names, with different values.
#undef TCP_KEEPINTVL
#define TCP_KEEPINTVL 0x101
#undef TCP_KEEPCNT
#define TCP_KEEPCNT 0x102

// <netinet/tcp.h>: seconds of unanswered retransmission before the
// connection is dropped. Linux has no such option.
#define TCP_RXT_CONNDROPTIME 0x80

// Not declared here: Linux-only options the Linux twin
// (socket_tuning_linux.cpp) uses and Apple's <netinet/tcp.h> lacks, so that
// copying them into the macOS file fails this check as it would on a Mac.
#undef TCP_KEEPIDLE
#undef TCP_USER_TIMEOUT

#endif
