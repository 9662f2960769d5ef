// Reading the messages of one netlink datagram (Linux only), every length
// checked before a byte is read: the walk sock_diag.cpp and rtnl_route.cpp
// both read the kernel's answers with. Pure, so their unit tests feed it
// truncated, failed and foreign datagrams.
#pragma once

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace loopgate::netlink {

// A T copied out of `bytes` at `offset` (netlink data need not be aligned for T).
template <typename T>
T read_at(std::span<const uint8_t> bytes, size_t offset = 0) {
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof value);
    return value;
}

struct Walk {
    unsigned foreign = 0;   // messages of another request's sequence number
    std::string cut_short;  // not empty: the datagram ends inside a message, and why
};

// Hands each message carrying `seq` to on_message(header, body), NLMSG_NOOP
// excepted, until it returns true (it has its answer). A datagram cut short
// ends the walk with the reason; the messages before it were handed on.
template <typename OnMessage>
Walk walk(std::span<const uint8_t> datagram, uint32_t seq, OnMessage on_message) {
    Walk walk;
    size_t offset = 0;
    while (offset < datagram.size()) {
        size_t left = datagram.size() - offset;
        if (left < sizeof(nlmsghdr)) {
            walk.cut_short = "a reply was cut short: " + std::to_string(left) +
                             " bytes left where a netlink header needs " + std::to_string(sizeof(nlmsghdr));
            return walk;
        }
        auto header = read_at<nlmsghdr>(datagram, offset);
        if (header.nlmsg_len < sizeof(nlmsghdr) || header.nlmsg_len > left) {
            walk.cut_short = "a reply was cut short: a message of " + std::to_string(header.nlmsg_len) +
                             " bytes with " + std::to_string(left) + " left in the datagram";
            return walk;
        }
        auto body = datagram.subspan(offset + sizeof(nlmsghdr), header.nlmsg_len - sizeof(nlmsghdr));
        offset += NLMSG_ALIGN(header.nlmsg_len);
        if (header.nlmsg_seq != seq) {
            ++walk.foreign;
            continue;
        }
        if (header.nlmsg_type == NLMSG_NOOP) continue;
        if (on_message(header, body)) return walk;
    }
    return walk;
}

}  // namespace loopgate::netlink
