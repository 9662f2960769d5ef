// Which way the kernel routes an upstream's address after a network change,
// and which upstream connections that leaves stranded: the verdict, the one
// lookup per address, the netlink messages (Linux) and the routing-socket
// messages (macOS, read on every platform), the netlink exchange's bounds
// (over a socketpair playing the kernel, on a clock set by hand), and the
// kernel asked for real.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "ipv4.hpp"
#include "path_lookup.hpp"
#include "route_message.hpp"

#if defined(__linux__)
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netlink_exchange.hpp"
#include "rtnl_route.hpp"
#endif

using namespace loopgate;

namespace {

in_addr address(const char* text) { return test::ipv4(text, 0).sin_addr; }

KernelPath route_from(const char* source, unsigned interface = 3) {
    KernelPath path;
    path.kind = KernelPath::Kind::route;
    path.source = address(source);
    path.interface = interface;
    return path;
}

// Every destination routed from `source` on interface 3; 100.64.0.1 and
// 100.64.0.9 held by interface 3, 192.168.1.20 by interface 4.
struct CountingLookup final : PathLookup {
    KernelPath path_to(const in_addr& destination) override {
        ++asked[destination.s_addr];
        return route_from(source);
    }
    unsigned interface_holding(const in_addr& local) override {
        ++holders_asked[local.s_addr];
        if (local.s_addr == address("100.64.0.1").s_addr || local.s_addr == address("100.64.0.9").s_addr) return 3;
        return local.s_addr == address("192.168.1.20").s_addr ? 4 : 0;
    }
    const char* source = "100.64.0.1";
    std::map<uint32_t, int> asked;
    std::map<uint32_t, int> holders_asked;
};

}  // namespace

// ---------------------------------------------------------------------------
// The verdict

TEST_CASE("path: a connection whose source is still the route's is left to the probe") {
    CHECK_FALSE(path_gone(route_from("100.64.0.1"), test::ipv4("100.64.0.1", 40000), 3));
}

TEST_CASE("path: a connection from another source than the route's now is gone") {
    auto why = path_gone(route_from("192.168.1.20"), test::ipv4("100.64.0.1", 40000), 0);
    REQUIRE(why);
    CHECK(*why == "route to the upstream changed: it now leaves from 192.168.1.20, not from 100.64.0.1");
    CHECK(why->size() <= 123);  // fits a close frame's reason
}

TEST_CASE("path: another source on the route's own interface leaves the connection to the probe") {
    // A second address on the link, or the route given another `src`: packets
    // from the old address still leave by the right interface.
    CHECK_FALSE(path_gone(route_from("100.64.0.9", 3), test::ipv4("100.64.0.1", 40000), 3));
    // On another interface, on none, or when the kernel did not name the route's: gone.
    CHECK(path_gone(route_from("100.64.0.9", 3), test::ipv4("100.64.0.1", 40000), 4));
    CHECK(path_gone(route_from("100.64.0.9", 3), test::ipv4("100.64.0.1", 40000), 0));
    CHECK(path_gone(route_from("100.64.0.9", 0), test::ipv4("100.64.0.1", 40000), 0));
}

TEST_CASE("path: the cache asks who holds a local address only when the route's source differs, once each") {
    CountingLookup kernel;
    PathCache paths(kernel);
    // The route's own source: no question about interfaces.
    for (int session = 0; session < 5; ++session) {
        CHECK_FALSE(paths.gone(test::ipv4("100.64.0.1", 40000 + session), test::ipv4("100.64.0.2", 443)));
    }
    CHECK(kernel.holders_asked.empty());
    // From another address of the route's interface: kept; from another interface's: gone.
    kernel.source = "100.64.0.9";
    PathCache moved(kernel);
    for (int session = 0; session < 5; ++session) {
        CHECK_FALSE(moved.gone(test::ipv4("100.64.0.1", 40000 + session), test::ipv4("100.64.0.2", 443)));
        auto why = moved.gone(test::ipv4("192.168.1.20", 40000 + session), test::ipv4("100.64.0.2", 443));
        REQUIRE(why);
        CHECK(*why == "route to the upstream changed: it now leaves from 100.64.0.9, not from 192.168.1.20");
    }
    CHECK(kernel.holders_asked.size() == 2);
    CHECK(kernel.holders_asked[address("100.64.0.1").s_addr] == 1);
    CHECK(kernel.holders_asked[address("192.168.1.20").s_addr] == 1);
}

TEST_CASE("path: no route at all is gone, with the kernel's words") {
    KernelPath path;
    path.kind = KernelPath::Kind::unreachable;
    path.error = "Network is unreachable";
    auto why = path_gone(path, test::ipv4("100.64.0.1", 40000), 0);
    REQUIRE(why);
    CHECK(*why == "no route to the upstream after network change (Network is unreachable)");
}

TEST_CASE("path: a path the kernel could not tell, or one without a source, closes nothing") {
    KernelPath unknown;
    unknown.error = "no answer from the kernel";
    CHECK_FALSE(path_gone(unknown, test::ipv4("100.64.0.1", 40000), 0));
    KernelPath no_source;
    no_source.kind = KernelPath::Kind::route;
    CHECK_FALSE(path_gone(no_source, test::ipv4("100.64.0.1", 40000), 0));
}

TEST_CASE("path: one network change asks the kernel once per upstream address, however many sessions") {
    CountingLookup kernel;
    PathCache paths(kernel);
    for (int session = 0; session < 50; ++session) {
        paths.path_to(address("100.64.0.2"));
        paths.path_to(address("100.64.0.6"));
    }
    CHECK(paths.lookups() == 2);
    CHECK(kernel.asked.size() == 2);
    CHECK(kernel.asked[address("100.64.0.2").s_addr] == 1);
    CHECK(kernel.asked[address("100.64.0.6").s_addr] == 1);
}

// ---------------------------------------------------------------------------
// macOS's routing-socket messages (route_message.cpp), on every platform

namespace {

using namespace route_message;

template <typename T>
void put(std::vector<uint8_t>& bytes, size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

// A reply as xnu writes it: the header, then the addresses in rtm_addrs order.
std::vector<uint8_t> get_reply(int32_t pid, int32_t seq, int32_t flags, int32_t error, const char* ifa,
                               uint16_t interface = 4) {
    std::vector<uint8_t> bytes(kHeaderBytes, 0);
    bytes[kOffVersion] = kVersion;
    bytes[kOffType] = kGet;
    put<uint16_t>(bytes, kOffIndex, interface);
    put<int32_t>(bytes, kOffFlags, flags);
    put<int32_t>(bytes, kOffPid, pid);
    put<int32_t>(bytes, kOffSeq, seq);
    put<int32_t>(bytes, kOffErrno, error);
    int32_t addrs = kAddrDst | kAddrGateway | kAddrIfp;
    auto sockaddr_in4 = [&](const char* text) {
        size_t at = bytes.size();
        bytes.resize(at + 16, 0);
        bytes[at] = 16;
        bytes[at + 1] = kFamilyInet;
        in_addr a = address(text);
        std::memcpy(bytes.data() + at + 4, &a, 4);
    };
    sockaddr_in4("100.64.0.2");  // RTA_DST
    sockaddr_in4("192.168.1.1");  // RTA_GATEWAY
    size_t at = bytes.size();  // RTA_IFP: a sockaddr_dl naming "en0" (len 20, padded to 20)
    bytes.resize(at + 20, 0);
    bytes[at] = 20;
    bytes[at + 1] = kFamilyLink;
    if (ifa != nullptr) {
        addrs |= kAddrIfa;
        sockaddr_in4(ifa);
    }
    put<int32_t>(bytes, kOffAddrs, addrs);
    put<uint16_t>(bytes, kOffMsglen, static_cast<uint16_t>(bytes.size()));
    return bytes;
}

}  // namespace

TEST_CASE("route message: RTM_GET names the destination and asks for the interface and its address") {
    auto bytes = get_request(address("100.64.0.2"), 4242, 9);
    REQUIRE(bytes.size() == kHeaderBytes + 16 + 20);
    uint16_t length;
    std::memcpy(&length, bytes.data(), 2);
    CHECK(length == bytes.size());
    CHECK(bytes[kOffVersion] == kVersion);
    CHECK(bytes[kOffType] == kGet);
    int32_t addrs, pid, seq;
    std::memcpy(&addrs, bytes.data() + kOffAddrs, 4);
    std::memcpy(&pid, bytes.data() + kOffPid, 4);
    std::memcpy(&seq, bytes.data() + kOffSeq, 4);
    CHECK(addrs == (kAddrDst | kAddrIfp));
    CHECK(pid == 4242);
    CHECK(seq == 9);
    CHECK(bytes[kHeaderBytes] == 16);
    CHECK(bytes[kHeaderBytes + 1] == kFamilyInet);
    in_addr destination = address("100.64.0.2");
    CHECK(std::memcmp(bytes.data() + kHeaderBytes + 4, &destination, 4) == 0);
    CHECK(bytes[kHeaderBytes + 16] == 20);
    CHECK(bytes[kHeaderBytes + 17] == kFamilyLink);
}

TEST_CASE("route message: the reply gives the interface and its address as the source") {
    auto reply = read_get_reply(get_reply(4242, 9, kFlagUp, 0, "192.168.1.20"), 4242, 9);
    REQUIRE(reply.mine);
    CHECK(reply.path.kind == KernelPath::Kind::route);
    CHECK(reply.path.interface == 4);
    REQUIRE(reply.path.source);
    CHECK(reply.path.source->s_addr == address("192.168.1.20").s_addr);
}

TEST_CASE("route message: no route (ESRCH), a reject and a blackhole route are unreachable") {
    auto none = read_get_reply(get_reply(4242, 9, 0, ESRCH, nullptr), 4242, 9);
    REQUIRE(none.mine);
    CHECK(none.path.kind == KernelPath::Kind::unreachable);
    CHECK(none.path.error == std::strerror(ESRCH));
    CHECK(read_get_reply(get_reply(4242, 9, kFlagUp | kFlagReject, 0, "10.0.0.1"), 4242, 9).path.kind ==
          KernelPath::Kind::unreachable);
    CHECK(read_get_reply(get_reply(4242, 9, kFlagUp | kFlagBlackhole, 0, "10.0.0.1"), 4242, 9).path.error ==
          "a blackhole route");
}

TEST_CASE("route message: another process's or another request's message, or a change, is not the reply") {
    CHECK_FALSE(read_get_reply(get_reply(1, 9, kFlagUp, 0, "10.0.0.1"), 4242, 9).mine);
    CHECK_FALSE(read_get_reply(get_reply(4242, 8, kFlagUp, 0, "10.0.0.1"), 4242, 9).mine);
    auto change = get_reply(4242, 9, kFlagUp, 0, "10.0.0.1");
    change[kOffType] = 0x1;  // RTM_ADD
    CHECK_FALSE(read_get_reply(change, 4242, 9).mine);
    std::vector<uint8_t> tiny(10, 0);
    CHECK_FALSE(read_get_reply(tiny, 4242, 9).mine);
}

TEST_CASE("route message: a reply cut short is a path that cannot be told") {
    auto bytes = get_reply(4242, 9, kFlagUp, 0, "192.168.1.20");
    bytes.resize(bytes.size() - 8);  // the message says it is longer
    auto cut = read_get_reply(bytes, 4242, 9);
    REQUIRE(cut.mine);
    CHECK(cut.path.kind == KernelPath::Kind::unknown);
    CHECK(cut.path.error.find("cut short") != std::string::npos);
    // Lengths that agree, but an address running past the end.
    put<uint16_t>(bytes, kOffMsglen, static_cast<uint16_t>(bytes.size()));
    auto short_address = read_get_reply(bytes, 4242, 9);
    CHECK(short_address.path.kind == KernelPath::Kind::unknown);
    CHECK_FALSE(short_address.path.source);
}

#if defined(__linux__)
// ---------------------------------------------------------------------------
// Linux's netlink messages (rtnl_route.cpp)

namespace {

// Netlink messages as the kernel would send them, appended to one datagram.
struct Datagram {
    std::vector<uint8_t> bytes;

    Datagram& message(uint16_t type, uint32_t seq, const std::vector<uint8_t>& body) {
        nlmsghdr header{};
        header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(body.size()));
        header.nlmsg_type = type;
        header.nlmsg_seq = seq;
        size_t at = bytes.size();
        bytes.resize(at + NLMSG_SPACE(body.size()));
        std::memcpy(bytes.data() + at, &header, sizeof header);
        std::memcpy(bytes.data() + at + NLMSG_HDRLEN, body.data(), body.size());
        return *this;
    }
    // RTM_NEWROUTE as `ip route get` shows it: table, dst, oif, prefsrc, gateway.
    Datagram& route(uint32_t seq, const char* prefsrc, uint32_t oif, uint8_t family = AF_INET) {
        std::vector<uint8_t> body(NLMSG_ALIGN(sizeof(rtmsg)), 0);
        rtmsg m{};
        m.rtm_family = family;
        m.rtm_dst_len = 32;
        m.rtm_table = RT_TABLE_MAIN;
        m.rtm_type = RTN_UNICAST;
        m.rtm_flags = RTM_F_CLONED;
        std::memcpy(body.data(), &m, sizeof m);
        uint32_t table = RT_TABLE_MAIN;
        attribute(body, RTA_TABLE, &table, 4);
        in_addr dst = address("100.64.0.2");
        attribute(body, RTA_DST, &dst, 4);
        attribute(body, RTA_OIF, &oif, 4);
        if (prefsrc != nullptr) {
            in_addr src = address(prefsrc);
            attribute(body, RTA_PREFSRC, &src, 4);
        }
        in_addr gateway = address("100.64.0.2");
        attribute(body, RTA_GATEWAY, &gateway, 4);
        return message(RTM_NEWROUTE, seq, body);
    }
    Datagram& error(uint32_t seq, int error) {
        std::vector<uint8_t> body(sizeof(nlmsgerr), 0);
        nlmsgerr e{};
        e.error = error;
        std::memcpy(body.data(), &e, sizeof e);
        return message(NLMSG_ERROR, seq, body);
    }
    static void attribute(std::vector<uint8_t>& body, uint16_t type, const void* data, size_t len) {
        rtattr a{};
        a.rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
        a.rta_type = type;
        size_t at = body.size();
        body.resize(at + RTA_SPACE(len), 0);
        std::memcpy(body.data() + at, &a, sizeof a);
        std::memcpy(body.data() + at + RTA_LENGTH(0), data, len);
    }
    std::span<const uint8_t> span() const { return bytes; }
};

}  // namespace

TEST_CASE("rtnetlink: the request asks for the route to exactly one IPv4 destination") {
    auto bytes = rtnl_route::route_request(address("100.64.0.2"), 7);
    REQUIRE(bytes.size() == NLMSG_LENGTH(sizeof(rtmsg)) + RTA_LENGTH(4));
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof header);
    CHECK(header.nlmsg_len == bytes.size());
    CHECK(header.nlmsg_type == RTM_GETROUTE);
    CHECK(header.nlmsg_flags == NLM_F_REQUEST);  // one route, not a dump
    CHECK(header.nlmsg_seq == 7);
    rtmsg body;
    std::memcpy(&body, bytes.data() + NLMSG_HDRLEN, sizeof body);
    CHECK(body.rtm_family == AF_INET);
    CHECK(body.rtm_dst_len == 32);
    rtattr dst;
    std::memcpy(&dst, bytes.data() + NLMSG_LENGTH(sizeof(rtmsg)), sizeof dst);
    CHECK(dst.rta_type == RTA_DST);
    CHECK(dst.rta_len == RTA_LENGTH(4));
    in_addr asked;
    std::memcpy(&asked, bytes.data() + NLMSG_LENGTH(sizeof(rtmsg)) + RTA_LENGTH(0), 4);
    CHECK(asked.s_addr == address("100.64.0.2").s_addr);
}

TEST_CASE("rtnetlink: the reply's preferred source and outgoing interface are read") {
    auto answer = rtnl_route::read_route_reply(Datagram{}.route(7, "100.64.0.1", 5).span(), 7);
    REQUIRE(answer.complete);
    CHECK(answer.path.kind == KernelPath::Kind::route);
    CHECK(answer.path.interface == 5);
    REQUIRE(answer.path.source);
    CHECK(answer.path.source->s_addr == address("100.64.0.1").s_addr);
}

TEST_CASE("rtnetlink: a route without a preferred source has none") {
    auto answer = rtnl_route::read_route_reply(Datagram{}.route(7, nullptr, 5).span(), 7);
    REQUIRE(answer.complete);
    CHECK(answer.path.kind == KernelPath::Kind::route);
    CHECK_FALSE(answer.path.source);
}

TEST_CASE("rtnetlink: network and host unreachable, and a prohibit route, are unreachable paths") {
    for (int error : {ENETUNREACH, EHOSTUNREACH, EACCES}) {
        auto answer = rtnl_route::read_route_reply(Datagram{}.error(7, -error).span(), 7);
        REQUIRE(answer.complete);
        CHECK(answer.path.kind == KernelPath::Kind::unreachable);
        CHECK(answer.path.error == std::strerror(error));
    }
}

TEST_CASE("rtnetlink: any other error is a path that cannot be told, never a reason to close") {
    auto answer = rtnl_route::read_route_reply(Datagram{}.error(7, -EINVAL).span(), 7);
    REQUIRE(answer.complete);
    CHECK(answer.path.kind == KernelPath::Kind::unknown);
    CHECK(answer.path.error == std::string("the kernel answered: ") + std::strerror(EINVAL));
    auto ack = rtnl_route::read_route_reply(Datagram{}.error(7, 0).span(), 7);
    CHECK(ack.path.kind == KernelPath::Kind::unknown);
    auto other_family = rtnl_route::read_route_reply(Datagram{}.route(7, "100.64.0.1", 5, AF_INET6).span(), 7);
    CHECK(other_family.path.kind == KernelPath::Kind::unknown);
}

TEST_CASE("rtnetlink: a late answer to an earlier lookup is skipped") {
    auto late = rtnl_route::read_route_reply(Datagram{}.route(6, "10.0.0.9", 2).span(), 7);
    CHECK_FALSE(late.complete);
    CHECK(late.foreign == 1);
    auto both = rtnl_route::read_route_reply(Datagram{}.route(6, "10.0.0.9", 2).route(7, "100.64.0.1", 5).span(), 7);
    REQUIRE(both.complete);
    CHECK(both.foreign == 1);
    CHECK(both.path.source->s_addr == address("100.64.0.1").s_addr);
}

TEST_CASE("rtnetlink: a reply or an attribute cut short cannot be told") {
    Datagram d;
    d.route(7, "100.64.0.1", 5);
    auto header_cut = d.bytes;
    header_cut.resize(10);
    CHECK(rtnl_route::read_route_reply(header_cut, 7).path.kind == KernelPath::Kind::unknown);
    auto message_cut = d.bytes;
    message_cut.resize(message_cut.size() - 12);
    auto answer = rtnl_route::read_route_reply(message_cut, 7);
    REQUIRE(answer.complete);
    CHECK(answer.path.error.find("cut short") != std::string::npos);
    // The message's own length shrunk to end inside the last attribute.
    auto attribute_cut = d.bytes;
    nlmsghdr header;
    std::memcpy(&header, attribute_cut.data(), sizeof header);
    header.nlmsg_len -= 6;
    std::memcpy(attribute_cut.data(), &header, sizeof header);
    attribute_cut.resize(header.nlmsg_len);
    CHECK(rtnl_route::read_route_reply(attribute_cut, 7).path.error == "an attribute of the kernel's route was cut short");
}

TEST_CASE("rtnetlink: the kernel asked for real routes loopback from loopback") {
    std::string error;
    auto lookup = open_path_lookup(error);
    REQUIRE_MESSAGE(lookup, error);
    KernelPath path = lookup->path_to(address("127.0.0.1"));
    REQUIRE_MESSAGE(path.kind == KernelPath::Kind::route, path.error);
    REQUIRE(path.source);
    CHECK(path.source->s_addr == address("127.0.0.1").s_addr);
    CHECK(path.interface != 0);
    // Twice on the same socket: sequence numbers keep the answers apart.
    CHECK(lookup->path_to(address("127.0.0.1")).kind == KernelPath::Kind::route);
    // The address is held by the very interface the route leaves by; no interface holds 192.0.2.1.
    CHECK(lookup->interface_holding(address("127.0.0.1")) == path.interface);
    CHECK(lookup->interface_holding(address("192.0.2.1")) == 0);
}
// ---------------------------------------------------------------------------
// The exchange: one bound for all of it, and the first few datagrams only

namespace {

// A NetlinkExchange whose "kernel" is the far end of a datagram socketpair,
// on a clock the test moves.
struct FakeKernel {
    static constexpr int kBoundMs = 100;
    FakeKernel() {
        int fds[2];
        REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) == 0);
        kernel_fd = fds[1];
        exchange = NetlinkExchange::adopt(fds[0], "test", kBoundMs, [this] { return now_ms; });
    }
    ~FakeKernel() { ::close(kernel_fd); }
    void send(const std::string& datagram) const {
        REQUIRE(::send(kernel_fd, datagram.data(), datagram.size(), 0) == static_cast<ssize_t>(datagram.size()));
    }
    std::string request() const {
        char buffer[64];
        ssize_t got = ::recv(kernel_fd, buffer, sizeof buffer, MSG_DONTWAIT);
        return got < 0 ? "" : std::string(buffer, static_cast<size_t>(got));
    }
    // Asks; every datagram read costs `ms_per_datagram` and, while `chatty`,
    // brings the next unrelated one. "answer" is the answer.
    bool ask(uint64_t ms_per_datagram, bool chatty, std::string& error) {
        std::vector<uint8_t> request{'q', '?'};
        return exchange->ask(request, [&](std::span<const uint8_t> datagram) {
            std::string text(datagram.begin(), datagram.end());
            seen.push_back(text);
            now_ms += ms_per_datagram;
            if (chatty) send("unrelated " + std::to_string(seen.size()));
            return text == "answer";
        }, error);
    }
    int kernel_fd = -1;
    uint64_t now_ms = 5000;
    std::unique_ptr<NetlinkExchange> exchange;
    std::vector<std::string> seen;
};

}  // namespace

TEST_CASE("netlink exchange: datagrams that keep coming do not stretch the bound: it is for the whole exchange") {
    FakeKernel kernel;
    kernel.send("unrelated 0");
    std::string error;
    // Each datagram arrives 40 ms after the one before, inside any per-read
    // bound of 100 ms; the exchange still ends at 100 ms, after the third.
    CHECK_FALSE(kernel.ask(40, true, error));
    CHECK(error == "no answer from the kernel (test) within 100 ms");
    CHECK(kernel.seen == std::vector<std::string>{"unrelated 0", "unrelated 1", "unrelated 2"});
    CHECK(kernel.request() == "q?");
}

TEST_CASE("netlink exchange: the answer behind a few unrelated datagrams, within the bound, is the answer") {
    FakeKernel kernel;
    kernel.send("unrelated 0");
    kernel.send("unrelated 1");
    kernel.send("answer");
    std::string error;
    CHECK(kernel.ask(30, false, error));
    CHECK(error.empty());
    CHECK(kernel.seen.size() == 3);
}

TEST_CASE("netlink exchange: only the first 16 datagrams are looked at, however fast they come") {
    FakeKernel kernel;
    kernel.send("unrelated 0");
    std::string error;
    CHECK_FALSE(kernel.ask(0, true, error));
    CHECK(error == "no answer to this request among 16 datagrams from the kernel (test)");
    CHECK(kernel.seen.size() == 16);
}

TEST_CASE("netlink exchange: a kernel that says nothing is waited for no longer than the bound") {
    int fds[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, fds) == 0);
    auto exchange = NetlinkExchange::adopt(fds[0], "test", 20);  // the real clock: a 20 ms wait
    std::string error;
    int reads = 0;
    CHECK_FALSE(exchange->ask({'q'}, [&](std::span<const uint8_t>) { return ++reads > 0; }, error));
    CHECK(error == "no answer from the kernel (test) within 20 ms");
    CHECK(reads == 0);
    ::close(fds[1]);
}
#endif  // __linux__
