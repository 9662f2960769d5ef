#include "rtnl_route.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "netlink_messages.hpp"

namespace loopgate::rtnl_route {
namespace {

using netlink::read_at;

Answer& unknown(Answer& answer, std::string error) {
    answer.complete = true;
    answer.path.kind = KernelPath::Kind::unknown;
    answer.path.error = std::move(error);
    return answer;
}

// NLMSG_ERROR's body: the errno the lookup failed with.
Answer& read_error(std::span<const uint8_t> body, Answer& answer) {
    if (body.size() < sizeof(int)) return unknown(answer, "the kernel's error reply was cut short");
    int error = -read_at<int>(body);
    if (error == 0) return unknown(answer, "the kernel acknowledged the lookup without answering it");
    if (error == ENETUNREACH || error == EHOSTUNREACH || error == EACCES) {
        answer.complete = true;
        answer.path.kind = KernelPath::Kind::unreachable;
        answer.path.error = std::strerror(error);
        return answer;
    }
    return unknown(answer, std::string("the kernel answered: ") + std::strerror(error));
}

// RTM_NEWROUTE's body: an rtmsg, then attributes, each length checked.
Answer& read_route(std::span<const uint8_t> body, Answer& answer) {
    if (body.size() < sizeof(rtmsg)) {
        return unknown(answer, "the kernel's route was cut short: " + std::to_string(body.size()) + " of " +
                                   std::to_string(sizeof(rtmsg)) + " bytes");
    }
    auto route = read_at<rtmsg>(body);
    if (route.rtm_family != AF_INET) return unknown(answer, "the kernel answered with a route of another family");
    answer.complete = true;
    answer.path.kind = KernelPath::Kind::route;
    size_t offset = NLMSG_ALIGN(sizeof(rtmsg));
    while (offset + sizeof(rtattr) <= body.size()) {
        auto attribute = read_at<rtattr>(body, offset);
        if (attribute.rta_len < sizeof(rtattr) || offset + attribute.rta_len > body.size()) {
            return unknown(answer, "an attribute of the kernel's route was cut short");
        }
        size_t payload = attribute.rta_len - RTA_LENGTH(0);
        size_t at = offset + RTA_LENGTH(0);
        if (attribute.rta_type == RTA_OIF && payload >= sizeof(uint32_t)) {
            answer.path.interface = read_at<uint32_t>(body, at);
        } else if (attribute.rta_type == RTA_PREFSRC && payload >= sizeof(in_addr)) {
            answer.path.source = read_at<in_addr>(body, at);
        }
        offset += RTA_ALIGN(attribute.rta_len);
    }
    if (offset < body.size()) return unknown(answer, "an attribute of the kernel's route was cut short");
    return answer;
}

}  // namespace

std::vector<uint8_t> route_request(const in_addr& destination, uint32_t seq) {
    struct Request {
        nlmsghdr header;
        rtmsg body;
        rtattr dst;
        in_addr address;
    } request{};
    static_assert(sizeof(Request) == NLMSG_LENGTH(sizeof(rtmsg)) + RTA_LENGTH(sizeof(in_addr)));
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = RTM_GETROUTE;
    request.header.nlmsg_flags = NLM_F_REQUEST;
    request.header.nlmsg_seq = seq;
    request.body.rtm_family = AF_INET;
    request.body.rtm_dst_len = 32;
    request.dst.rta_len = RTA_LENGTH(sizeof(in_addr));
    request.dst.rta_type = RTA_DST;
    request.address = destination;
    std::vector<uint8_t> bytes(sizeof request);
    std::memcpy(bytes.data(), &request, sizeof request);
    return bytes;
}

Answer read_route_reply(std::span<const uint8_t> datagram, uint32_t seq) {
    Answer answer;
    netlink::Walk walk = netlink::walk(datagram, seq, [&](const nlmsghdr& header, std::span<const uint8_t> body) {
        switch (header.nlmsg_type) {
            case NLMSG_ERROR: read_error(body, answer); return true;
            case RTM_NEWROUTE: read_route(body, answer); return true;
            case NLMSG_DONE: unknown(answer, "the kernel ended its answer without a route"); return true;
            default: ++answer.foreign; return false;  // not the answer
        }
    });
    answer.foreign += walk.foreign;
    if (!walk.cut_short.empty()) unknown(answer, std::move(walk.cut_short));
    return answer;
}

}  // namespace loopgate::rtnl_route
