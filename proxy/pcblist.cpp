#include "pcblist.hpp"

#include <cstddef>
#include <cstring>

namespace loopgate::pcblist {
namespace {

// XNU's records as its headers declare them (see pcblist.hpp), transcribed
// here only so the compiler works out the offsets the reader uses: both sit
// between #pragma pack(4) and #pragma pack() in xnu. Fields we never read keep
// their types, because their sizes place the ones we do.
#pragma pack(push, 4)
struct InAddr4in6 {  // struct in_addr_4in6, bsd/netinet/in_pcb.h
    uint32_t ia46_pad32[3];
    uint32_t ia46_addr4;
};
struct XinpcbN {  // struct xinpcb_n, bsd/netinet/in_pcb.h
    uint32_t xi_len;
    uint32_t xi_kind;
    uint64_t xi_inpp;
    uint16_t inp_fport;
    uint16_t inp_lport;
    uint64_t inp_ppcb;
    uint64_t inp_gencnt;
    int32_t inp_flags;
    uint32_t inp_flow;
    uint8_t inp_vflag;
    uint8_t inp_ip_ttl;
    uint8_t inp_ip_p;
    union {
        InAddr4in6 inp46_foreign;
        uint8_t inp6_foreign[16];  // struct in6_addr: 4-byte aligned
        uint32_t align_;
    } inp_dependfaddr;
    union {
        InAddr4in6 inp46_local;
        uint8_t inp6_local[16];
        uint32_t align_;
    } inp_dependladdr;
    struct {
        uint8_t inp4_ip_tos;
    } inp_depend4;
    struct {
        uint8_t inp6_hlim;
        int32_t inp6_cksum;
        uint16_t inp6_ifindex;
        int16_t inp6_hops;
    } inp_depend6;
    uint32_t inp_flowhash;
    uint32_t inp_flags2;
};
struct XsocketN {  // struct xsocket_n, bsd/sys/socketvar.h
    uint32_t xso_len;
    uint32_t xso_kind;
    uint64_t xso_so;
    int16_t so_type;
    uint32_t so_options;
    int16_t so_linger;
    int16_t so_state;
    uint64_t so_pcb;
    int32_t xso_protocol;
    int32_t xso_family;
    int16_t so_qlen;
    int16_t so_incqlen;
    int16_t so_qlimit;
    int16_t so_timeo;
    uint16_t so_error;
    int32_t so_pgid;
    uint32_t so_oobmark;
    uint32_t so_uid;
    int32_t so_last_pid;
    int32_t so_e_pid;
    uint64_t so_gencnt;
    uint32_t so_flags;
    uint32_t so_flags1;
    int32_t so_usecount;
    int32_t so_retaincnt;
    uint32_t xso_filter_flags;
};
struct Xinpgen {  // struct xinpgen, bsd/netinet/in_pcb.h
    uint32_t xig_len;
    uint32_t xig_count;
    uint64_t xig_gen;
    uint64_t xig_sogen;
};
#pragma pack(pop)

static_assert(sizeof(Xinpgen) == kXinpgenSize);
static_assert(offsetof(XinpcbN, inp_fport) == kInpFport);
static_assert(offsetof(XinpcbN, inp_lport) == kInpLport);
static_assert(offsetof(XinpcbN, inp_vflag) == kInpVflag);
static_assert(offsetof(XinpcbN, inp_dependfaddr) + offsetof(InAddr4in6, ia46_addr4) == kInpFaddr4);
static_assert(offsetof(XinpcbN, inp_dependladdr) + offsetof(InAddr4in6, ia46_addr4) == kInpLaddr4);
static_assert(kInpcbMinSize == kInpLaddr4 + 4);
static_assert(sizeof(XinpcbN) == 104);
static_assert(offsetof(XsocketN, xso_so) == kXsoSo);
static_assert(offsetof(XsocketN, so_uid) == kXsoUid);
static_assert(kXsocketMinSize == kXsoUid + 4);
static_assert(sizeof(XsocketN) == 104);

constexpr uint8_t kInpIpv4 = 0x1;  // INP_IPV4, bsd/netinet/in_pcb.h

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

size_t roundup64(size_t n) { return (n + 7) & ~size_t{7}; }

// One socket's records as far as they were read.
struct Item {
    bool have_inpcb = false;
    bool have_socket = false;
    bool ours = false;  // the 4-tuple asked about
    bool socket_gone = false;
    uint32_t uid = 0;
};

}  // namespace

std::optional<uid_t> owner_of(std::span<const uint8_t> list, const sockaddr_in& local, const sockaddr_in& remote,
                              std::string& error) {
    if (list.size() < kXinpgenSize || read_at<uint32_t>(list, 0) < kXinpgenSize ||
        read_at<uint32_t>(list, 0) > list.size()) {
        error = "the TCP socket list (net.inet.tcp.pcblist_n) has no valid header";
        return std::nullopt;
    }
    std::optional<uint32_t> found;
    bool found_closed = false;
    bool two_owners = false;
    Item item;
    auto finish_item = [&] {
        if (item.have_inpcb && item.ours) {
            if (!item.have_socket || item.socket_gone) {
                found_closed = true;
            } else if (found && *found != item.uid) {
                two_owners = true;
            } else {
                found = item.uid;
            }
        }
        item = Item{};
    };
    size_t offset = roundup64(read_at<uint32_t>(list, 0));
    while (offset + 8 <= list.size()) {
        uint32_t len = read_at<uint32_t>(list, offset);
        uint32_t kind = read_at<uint32_t>(list, offset + 4);
        // The closing xinpgen: a record no longer than it (as netstat tells them apart).
        if (len <= kXinpgenSize) break;
        if (len > list.size() - offset) {
            error = "the TCP socket list (net.inet.tcp.pcblist_n) has a record cut short";
            return std::nullopt;
        }
        auto record = list.subspan(offset, len);
        if (kind == kXsoInpcb) {
            finish_item();
            if (len < kInpcbMinSize) {
                error = "the TCP socket list (net.inet.tcp.pcblist_n) has an xinpcb_n of " + std::to_string(len) +
                        " bytes";
                return std::nullopt;
            }
            item.have_inpcb = true;
            item.ours = (read_at<uint8_t>(record, kInpVflag) & kInpIpv4) != 0 &&
                        read_at<uint16_t>(record, kInpLport) == local.sin_port &&
                        read_at<uint16_t>(record, kInpFport) == remote.sin_port &&
                        read_at<uint32_t>(record, kInpLaddr4) == local.sin_addr.s_addr &&
                        read_at<uint32_t>(record, kInpFaddr4) == remote.sin_addr.s_addr;
        } else if (kind == kXsoSocket && item.have_inpcb) {
            if (len < kXsocketMinSize) {
                error = "the TCP socket list (net.inet.tcp.pcblist_n) has an xsocket_n of " + std::to_string(len) +
                        " bytes";
                return std::nullopt;
            }
            item.have_socket = true;
            item.socket_gone = read_at<uint64_t>(record, kXsoSo) == 0;
            item.uid = read_at<uint32_t>(record, kXsoUid);
        }
        offset += roundup64(len);
    }
    finish_item();
    if (two_owners) {
        error = "two TCP sockets of different owners have that address";
        return std::nullopt;
    }
    if (found) return static_cast<uid_t>(*found);
    error = found_closed ? "the app already closed its socket: its owner is no longer known"
                         : "no TCP socket with that address is listed";
    return std::nullopt;
}

}  // namespace loopgate::pcblist
