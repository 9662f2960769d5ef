// Stand-in for Apple's <net/route.h> (xnu bsd/net/route.h; route(4)),
// declaring only what daemon/netwatch_darwin.cpp, proxy/path_lookup_darwin.cpp
// and proxy/route_message.cpp use. It replaces glibc's
// <net/route.h> (Linux's ioctl routing table, unrelated to BSD's routing
// socket) completely: there is no #include_next. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_NET_ROUTE_H
#define LOOPGATE_DARWIN_SHIM_NET_ROUTE_H

// <net/route.h> includes these three on Apple as well.
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>

// <net/route.h>: part of rt_msghdr, so its size decides sizeof(rt_msghdr).
struct rt_metrics {
    u_int32_t rmx_locks;
    u_int32_t rmx_mtu;
    u_int32_t rmx_hopcount;
    int32_t rmx_expire;
    u_int32_t rmx_recvpipe;
    u_int32_t rmx_sendpipe;
    u_int32_t rmx_ssthresh;
    u_int32_t rmx_rtt;
    u_int32_t rmx_rttvar;
    u_int32_t rmx_pksent;
    u_int32_t rmx_filler[4];
};

// <net/route.h>, route(4): the header of every routing-socket message; for
// RTM_ADD/RTM_DELETE/RTM_CHANGE it is the whole fixed part.
struct rt_msghdr {
    u_short rtm_msglen;
    u_char rtm_version;
    u_char rtm_type;
    u_short rtm_index;
    int rtm_flags;
    int rtm_addrs;
    pid_t rtm_pid;
    int rtm_seq;
    int rtm_errno;
    int rtm_use;
    u_int32_t rtm_inits;
    struct rt_metrics rtm_rmx;
};

// <net/route.h>, route(4): rtm_version of the messages this header describes.
#define RTM_VERSION 5

// <net/route.h>, route(4): message types (rtm_type).
#define RTM_ADD 0x1
#define RTM_DELETE 0x2
#define RTM_CHANGE 0x3
#define RTM_GET 0x4
#define RTM_NEWADDR 0xc
#define RTM_DELADDR 0xd
#define RTM_IFINFO 0xe

// <net/route.h>, route(4): route flags (rtm_flags).
#define RTF_UP 0x1
#define RTF_REJECT 0x8
#define RTF_LLINFO 0x400
#define RTF_BLACKHOLE 0x1000
#define RTF_WASCLONED 0x20000

// <net/route.h>, route(4): which socket addresses follow the header (rtm_addrs).
#define RTA_DST 0x1
#define RTA_GATEWAY 0x2
#define RTA_IFP 0x10
#define RTA_IFA 0x20

#endif
