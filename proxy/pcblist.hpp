// The records of macOS's net.inet.tcp.pcblist_n sysctl, read for one
// question: which uid owns the TCP socket with this exact 4-tuple. A pure
// function over the bytes (peer_owner_darwin.cpp makes the sysctl call), built
// on every platform so the unit tests run it on Linux too.
//
// The layout is XNU's, which the public SDK does not declare (the structs are
// PRIVATE): the list starts and ends with a struct xinpgen, and holds one item
// per socket, each a run of records that start with {u_int32_t len; u_int32_t
// kind} and are padded to 8 bytes (ROUNDUP64): xinpcb_n (XSO_INPCB), xsocket_n
// (XSO_SOCKET), two xsockbuf_n, xsockstat_n, xtcpcb_n. Written from xnu's
// bsd/netinet/in_pcblist.c (get_pcblist_n), bsd/netinet/in_pcb.h (xinpgen,
// xinpcb_n; #pragma pack(4)) and bsd/sys/socketvar.h (xsocket_n; #pragma
// pack(4)); the offsets are in pcblist.cpp.
#pragma once

#include <netinet/in.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace loopgate::pcblist {

// The uid owning the IPv4 TCP socket whose own address is `local` and whose
// peer is `remote`; nullopt and `error` when the list holds no such socket,
// when it has no socket any more (a closed pcb), when two sockets of
// different owners match, or when a record is cut short or malformed.
std::optional<uid_t> owner_of(std::span<const uint8_t> list, const sockaddr_in& local, const sockaddr_in& remote,
                              std::string& error);

// What the layout says, for the unit tests that build lists.
inline constexpr uint32_t kXsoSocket = 0x001;  // XSO_SOCKET, <sys/socketvar.h>
inline constexpr uint32_t kXsoInpcb = 0x010;   // XSO_INPCB
inline constexpr size_t kXinpgenSize = 24;     // sizeof(struct xinpgen)
inline constexpr size_t kInpFport = 16;        // xinpcb_n.inp_fport (network order)
inline constexpr size_t kInpLport = 18;        // xinpcb_n.inp_lport
inline constexpr size_t kInpVflag = 44;        // xinpcb_n.inp_vflag (INP_IPV4 = 0x1)
inline constexpr size_t kInpFaddr4 = 60;       // inp_dependfaddr.inp46_foreign.ia46_addr4
inline constexpr size_t kInpLaddr4 = 76;       // inp_dependladdr.inp46_local.ia46_addr4
inline constexpr size_t kInpcbMinSize = 80;    // through the local IPv4 address
inline constexpr size_t kXsoSo = 8;            // xsocket_n.xso_so (0: no socket)
inline constexpr size_t kXsoUid = 64;          // xsocket_n.so_uid
inline constexpr size_t kXsocketMinSize = 68;  // through so_uid

}  // namespace loopgate::pcblist
