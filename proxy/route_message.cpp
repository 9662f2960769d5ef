#include "route_message.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__APPLE__)
#include <net/route.h>
#include <sys/socket.h>

#include <cstddef>

// The offsets written out in route_message.hpp, checked against Apple's header.
static_assert(loopgate::route_message::kHeaderBytes == sizeof(rt_msghdr));
static_assert(loopgate::route_message::kOffType == offsetof(rt_msghdr, rtm_type));
static_assert(loopgate::route_message::kOffIndex == offsetof(rt_msghdr, rtm_index));
static_assert(loopgate::route_message::kOffFlags == offsetof(rt_msghdr, rtm_flags));
static_assert(loopgate::route_message::kOffAddrs == offsetof(rt_msghdr, rtm_addrs));
static_assert(loopgate::route_message::kOffPid == offsetof(rt_msghdr, rtm_pid));
static_assert(loopgate::route_message::kOffSeq == offsetof(rt_msghdr, rtm_seq));
static_assert(loopgate::route_message::kOffErrno == offsetof(rt_msghdr, rtm_errno));
static_assert(loopgate::route_message::kVersion == RTM_VERSION && loopgate::route_message::kGet == RTM_GET);
static_assert(loopgate::route_message::kAddrDst == RTA_DST && loopgate::route_message::kAddrIfp == RTA_IFP &&
              loopgate::route_message::kAddrIfa == RTA_IFA);
static_assert(loopgate::route_message::kFlagReject == RTF_REJECT &&
              loopgate::route_message::kFlagBlackhole == RTF_BLACKHOLE);
static_assert(loopgate::route_message::kFamilyLink == AF_LINK);
#endif

namespace loopgate::route_message {
namespace {

constexpr int kAddressSlots = 8;  // RTAX_MAX

size_t rounded(size_t len) { return len == 0 ? 4 : 1 + ((len - 1) | 3); }  // ROUNDUP32

template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

template <typename T>
void write_at(std::vector<uint8_t>& bytes, size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

Answer& unknown(Answer& answer, std::string error) {
    answer.path.kind = KernelPath::Kind::unknown;
    answer.path.error = std::move(error);
    return answer;
}

Answer& unreachable(Answer& answer, std::string error) {
    answer.path.kind = KernelPath::Kind::unreachable;
    answer.path.error = std::move(error);
    return answer;
}

}  // namespace

std::vector<uint8_t> get_request(const in_addr& destination, int32_t pid, int32_t seq) {
    size_t total = kHeaderBytes + rounded(kSockaddrInBytes) + rounded(kSockaddrDlBytes);
    std::vector<uint8_t> bytes(total, 0);
    write_at<uint16_t>(bytes, kOffMsglen, static_cast<uint16_t>(total));
    bytes[kOffVersion] = kVersion;
    bytes[kOffType] = kGet;
    write_at<int32_t>(bytes, kOffFlags, kFlagUp);
    write_at<int32_t>(bytes, kOffAddrs, kAddrDst | kAddrIfp);
    write_at<int32_t>(bytes, kOffPid, pid);
    write_at<int32_t>(bytes, kOffSeq, seq);
    size_t dst = kHeaderBytes;  // struct sockaddr_in: len, family, port, address, zero
    bytes[dst] = kSockaddrInBytes;
    bytes[dst + 1] = kFamilyInet;
    std::memcpy(bytes.data() + dst + 4, &destination, sizeof destination);
    size_t ifp = dst + rounded(kSockaddrInBytes);  // an empty struct sockaddr_dl: "name the interface"
    bytes[ifp] = kSockaddrDlBytes;
    bytes[ifp + 1] = kFamilyLink;
    return bytes;
}

Answer read_get_reply(std::span<const uint8_t> message, int32_t pid, int32_t seq) {
    Answer answer;
    if (message.size() < kHeaderBytes) return answer;  // too short to be anyone's reply
    if (message[kOffVersion] != kVersion || message[kOffType] != kGet) return answer;
    if (read_at<int32_t>(message, kOffPid) != pid || read_at<int32_t>(message, kOffSeq) != seq) return answer;
    answer.mine = true;
    size_t length = read_at<uint16_t>(message, kOffMsglen);
    if (length < kHeaderBytes || length > message.size()) {
        return unknown(answer, "the routing socket's reply was cut short: " + std::to_string(message.size()) +
                                   " of " + std::to_string(length) + " bytes");
    }
    if (int error = read_at<int32_t>(message, kOffErrno)) {
        if (error == ESRCH || error == ENETUNREACH || error == EHOSTUNREACH) return unreachable(answer, std::strerror(error));
        return unknown(answer, std::string("the routing socket answered: ") + std::strerror(error));
    }
    int32_t flags = read_at<int32_t>(message, kOffFlags);
    if (flags & (kFlagReject | kFlagBlackhole)) {
        return unreachable(answer, flags & kFlagReject ? "a reject route" : "a blackhole route");
    }
    answer.path.kind = KernelPath::Kind::route;
    answer.path.interface = read_at<uint16_t>(message, kOffIndex);
    int32_t addresses = read_at<int32_t>(message, kOffAddrs);
    size_t offset = kHeaderBytes;
    for (int slot = 0; slot < kAddressSlots; ++slot) {
        if (!(addresses & (1 << slot))) continue;
        if (offset >= length) return unknown(answer, "the routing socket's reply lists more addresses than it holds");
        size_t sa_len = message[offset];
        if (offset + rounded(sa_len) > length) {
            return unknown(answer, "an address in the routing socket's reply was cut short");
        }
        if ((1 << slot) == kAddrIfa && sa_len >= 8 && message[offset + 1] == kFamilyInet) {
            answer.path.source = read_at<in_addr>(message, offset + 4);
        }
        offset += rounded(sa_len);
    }
    return answer;
}

}  // namespace loopgate::route_message
