// Extends glibc's <net/if.h> with what Apple's <net/if.h> (xnu bsd/net/if.h,
// which includes bsd/net/if_var.h) has and daemon/netwatch_darwin.cpp uses:
// the routing-socket messages about interfaces. IF_NAMESIZE and
// if_indextoname() come from glibc, as POSIX specifies them. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_NET_IF_H
#define LOOPGATE_DARWIN_SHIM_NET_IF_H

#include_next <net/if.h>

#include <stdint.h>
#include <sys/types.h>

// <net/if.h>: interface flags. glibc makes them enumerators (with a macro of
// the same name); Apple's are plain int macros, with the same values.
#undef IFF_UP
#define IFF_UP 0x1
#undef IFF_RUNNING
#define IFF_RUNNING 0x40

// <sys/_types/_timeval32.h>: the timeval inside if_data on LP64.
struct timeval32 {
    int32_t tv_sec;
    int32_t tv_usec;
};

// <net/if_var.h> (included by <net/if.h>): part of if_msghdr, so its layout
// decides sizeof(if_msghdr). Apple declares it under #pragma pack(4).
#pragma pack(4)
struct if_data {
    u_char ifi_type;
    u_char ifi_typelen;
    u_char ifi_physical;
    u_char ifi_addrlen;
    u_char ifi_hdrlen;
    u_char ifi_recvquota;
    u_char ifi_xmitquota;
    u_char ifi_unused1;
    u_int32_t ifi_mtu;
    u_int32_t ifi_metric;
    u_int32_t ifi_baudrate;
    u_int32_t ifi_ipackets;
    u_int32_t ifi_ierrors;
    u_int32_t ifi_opackets;
    u_int32_t ifi_oerrors;
    u_int32_t ifi_collisions;
    u_int32_t ifi_ibytes;
    u_int32_t ifi_obytes;
    u_int32_t ifi_imcasts;
    u_int32_t ifi_omcasts;
    u_int32_t ifi_iqdrops;
    u_int32_t ifi_noproto;
    u_int32_t ifi_recvtiming;
    u_int32_t ifi_xmittiming;
    struct timeval32 ifi_lastchange;
    u_int32_t ifi_unused2;
    u_int32_t ifi_hwassist;
    u_int32_t ifi_reserved1;
    u_int32_t ifi_reserved2;
};
#pragma pack()

// <net/if.h>, route(4): an RTM_IFINFO message (interface up/down, flags).
struct if_msghdr {
    unsigned short ifm_msglen;
    unsigned char ifm_version;
    unsigned char ifm_type;
    int ifm_addrs;
    int ifm_flags;
    unsigned short ifm_index;
    struct if_data ifm_data;
};

// <net/if.h>, route(4): an RTM_NEWADDR / RTM_DELADDR message.
struct ifa_msghdr {
    unsigned short ifam_msglen;
    unsigned char ifam_version;
    unsigned char ifam_type;
    int ifam_addrs;
    int ifam_flags;
    unsigned short ifam_index;
    int ifam_metric;
};

#endif
