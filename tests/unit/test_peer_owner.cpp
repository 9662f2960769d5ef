// Who owns an app's TCP socket: the netlink messages (request built, replies
// read: whole, cut short, failed, foreign) and the kernel asked for real over
// loopback. macOS's socket list: test_pcblist.cpp; the listener's use of the
// answer: test_listener_owner.cpp.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "ipv4.hpp"
#include "peer_owner.hpp"

#if defined(__linux__)
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "sock_diag.hpp"
#endif

using namespace loopgate;

namespace {

const sockaddr_in kApp = test::ipv4("127.0.0.1", 50122);
const sockaddr_in kOurs = test::ipv4("127.0.0.1", 18789);

}  // namespace

#if defined(__linux__)

using Kind = sock_diag::Answer::Kind;

namespace {

const sock_diag::Tuple kAsked{kApp, kOurs};

// Netlink messages as the kernel would send them, appended to one datagram.
struct Datagram {
    std::vector<uint8_t> bytes;

    Datagram& message(uint16_t type, uint32_t seq, const void* body, size_t size, uint16_t flags = 0) {
        nlmsghdr header{};
        header.nlmsg_len = static_cast<uint32_t>(NLMSG_LENGTH(size));
        header.nlmsg_type = type;
        header.nlmsg_flags = flags;
        header.nlmsg_seq = seq;
        size_t at = bytes.size();
        bytes.resize(at + NLMSG_SPACE(size));
        std::memcpy(bytes.data() + at, &header, sizeof header);
        std::memcpy(bytes.data() + at + NLMSG_HDRLEN, body, size);
        return *this;
    }
    Datagram& socket(uint32_t seq, const sock_diag::Tuple& tuple, uint32_t uid, uint32_t inode = 4242,
                     uint16_t flags = 0) {
        inet_diag_msg m{};
        m.idiag_family = AF_INET;
        m.idiag_state = 1;  // TCP_ESTABLISHED
        m.id.idiag_sport = tuple.local.sin_port;
        m.id.idiag_dport = tuple.remote.sin_port;
        m.id.idiag_src[0] = tuple.local.sin_addr.s_addr;
        m.id.idiag_dst[0] = tuple.remote.sin_addr.s_addr;
        m.idiag_uid = uid;
        m.idiag_inode = inode;
        return message(SOCK_DIAG_BY_FAMILY, seq, &m, sizeof m, flags);
    }
    Datagram& error(uint32_t seq, int error) {
        nlmsgerr e{};
        e.error = error;
        return message(NLMSG_ERROR, seq, &e, sizeof e);
    }
    Datagram& done(uint32_t seq, int status = 0) {
        return message(NLMSG_DONE, seq, &status, sizeof status, NLM_F_MULTI);
    }
    std::span<const uint8_t> span() const { return bytes; }
};

sock_diag::Answer owner_reply(const Datagram& d, uint32_t seq = 7) {
    return sock_diag::read_owner_reply(d.span(), seq, kAsked);
}

}  // namespace

// ---------------------------------------------------------------------------
// The request

TEST_CASE("sock_diag: the owner request names the app's socket by its exact 4-tuple, in every state") {
    std::vector<uint8_t> bytes = sock_diag::owner_request(kAsked, 7);
    REQUIRE(bytes.size() == sizeof(nlmsghdr) + sizeof(inet_diag_req_v2));
    nlmsghdr header;
    inet_diag_req_v2 request;
    std::memcpy(&header, bytes.data(), sizeof header);
    std::memcpy(&request, bytes.data() + sizeof header, sizeof request);
    CHECK(header.nlmsg_len == bytes.size());
    CHECK(header.nlmsg_type == SOCK_DIAG_BY_FAMILY);
    CHECK(header.nlmsg_flags == NLM_F_REQUEST);  // one socket, not a dump
    CHECK(header.nlmsg_seq == 7);
    CHECK(request.sdiag_family == AF_INET);
    CHECK(request.sdiag_protocol == IPPROTO_TCP);
    CHECK(request.idiag_states == ~0u);
    CHECK(request.idiag_ext == 0);
    // The app's side: source = the app's address and port, destination = ours.
    CHECK(ntohs(request.id.idiag_sport) == 50122);
    CHECK(ntohs(request.id.idiag_dport) == 18789);
    CHECK(request.id.idiag_src[0] == htonl(INADDR_LOOPBACK));
    CHECK(request.id.idiag_dst[0] == htonl(INADDR_LOOPBACK));
    CHECK(request.id.idiag_src[1] == 0);
    CHECK(request.id.idiag_if == 0);
    CHECK(request.id.idiag_cookie[0] == INET_DIAG_NOCOOKIE);
    CHECK(request.id.idiag_cookie[1] == INET_DIAG_NOCOOKIE);
}

TEST_CASE("sock_diag: the probe is a dump of TCP sockets in no state") {
    std::vector<uint8_t> bytes = sock_diag::probe_request(3);
    REQUIRE(bytes.size() == sizeof(nlmsghdr) + sizeof(inet_diag_req_v2));
    nlmsghdr header;
    inet_diag_req_v2 request;
    std::memcpy(&header, bytes.data(), sizeof header);
    std::memcpy(&request, bytes.data() + sizeof header, sizeof request);
    CHECK(header.nlmsg_flags == (NLM_F_REQUEST | NLM_F_DUMP));
    CHECK(header.nlmsg_seq == 3);
    CHECK(request.sdiag_protocol == IPPROTO_TCP);
    CHECK(request.idiag_states == 0);
}

// ---------------------------------------------------------------------------
// Replies

TEST_CASE("sock_diag: the reply for the app's socket names its uid") {
    Datagram d;
    d.socket(7, kAsked, 501);
    sock_diag::Answer answer = owner_reply(d);
    CHECK(answer.kind == Kind::owner);
    CHECK(answer.uid == 501);
    CHECK(answer.foreign == 0);
}

TEST_CASE("sock_diag: replies cut short fail, whichever part is missing") {
    Datagram whole;
    whole.socket(7, kAsked, 501);
    SUBCASE("less than a header") {
        std::vector<uint8_t> cut(whole.bytes.begin(), whole.bytes.begin() + 10);
        auto answer = sock_diag::read_owner_reply(cut, 7, kAsked);
        CHECK(answer.kind == Kind::failed);
        CHECK(answer.error == "a reply was cut short: 10 bytes left where a netlink header needs 16");
    }
    SUBCASE("a message longer than the datagram") {
        std::vector<uint8_t> cut(whole.bytes.begin(), whole.bytes.begin() + 40);
        auto answer = sock_diag::read_owner_reply(cut, 7, kAsked);
        CHECK(answer.kind == Kind::failed);
        CHECK(answer.error.find("a reply was cut short: a message of 88 bytes with 40 left") == 0);
    }
    SUBCASE("a socket description shorter than inet_diag_msg") {
        Datagram d;
        inet_diag_msg m{};
        d.message(SOCK_DIAG_BY_FAMILY, 7, &m, 20);
        auto answer = owner_reply(d);
        CHECK(answer.kind == Kind::failed);
        CHECK(answer.error == "the kernel's socket description was cut short: 20 of 72 bytes");
    }
    SUBCASE("an error reply without its errno") {
        Datagram d;
        int half = 0;
        d.message(NLMSG_ERROR, 7, &half, 2);
        auto answer = owner_reply(d);
        CHECK(answer.kind == Kind::failed);
        CHECK(answer.error == "the kernel's error reply was cut short");
    }
    SUBCASE("a header claiming less than itself") {
        std::vector<uint8_t> bad = whole.bytes;
        uint32_t tiny = 8;
        std::memcpy(bad.data(), &tiny, sizeof tiny);
        CHECK(sock_diag::read_owner_reply(bad, 7, kAsked).kind == Kind::failed);
    }
}

TEST_CASE("sock_diag: NLMSG_ERROR fails with the kernel's errno") {
    Datagram d;
    d.error(7, -ENOENT);
    auto answer = owner_reply(d);
    CHECK(answer.kind == Kind::failed);
    CHECK(answer.error == std::string("the kernel answered: ") + std::strerror(ENOENT));

    Datagram ack;
    ack.error(7, 0);
    CHECK(owner_reply(ack).kind == Kind::failed);
    CHECK(owner_reply(ack).error == "the kernel acknowledged the request without answering it");
}

TEST_CASE("sock_diag: a late answer to an earlier request is skipped, also its error") {
    Datagram late;
    late.socket(6, kAsked, 0);  // root's answer, but to request 6
    auto answer = owner_reply(late);
    CHECK(answer.kind == Kind::incomplete);
    CHECK(answer.foreign == 1);

    Datagram late_error;
    late_error.error(6, -ENOENT);
    CHECK(owner_reply(late_error).kind == Kind::incomplete);

    Datagram both;
    both.socket(6, kAsked, 0).socket(7, kAsked, 501);
    answer = owner_reply(both);
    CHECK(answer.kind == Kind::owner);
    CHECK(answer.uid == 501);
    CHECK(answer.foreign == 1);
}

TEST_CASE("sock_diag: another socket than the one asked about is never taken for it") {
    // Our own accepted socket: the same 4-tuple seen from the other side.
    sock_diag::Tuple ours{kOurs, kApp};
    Datagram d;
    d.socket(7, ours, 0, 4242, NLM_F_MULTI);
    auto answer = owner_reply(d);
    CHECK(answer.kind == Kind::incomplete);
    CHECK(answer.foreign == 1);

    for (auto other : {sock_diag::Tuple{test::ipv4("127.0.0.1", 50123), kOurs},
                       sock_diag::Tuple{test::ipv4("127.0.0.2", 50122), kOurs},
                       sock_diag::Tuple{kApp, test::ipv4("127.0.0.1", 18790)},
                       sock_diag::Tuple{kApp, test::ipv4("127.0.0.3", 18789)}}) {
        Datagram wrong;
        wrong.socket(7, other, 0);
        CHECK(owner_reply(wrong).kind == Kind::incomplete);
    }

    // A multipart reply: the wrong socket, the right one, then the end.
    Datagram parts;
    parts.socket(7, ours, 0, 1, NLM_F_MULTI).socket(7, kAsked, 501, 2, NLM_F_MULTI).done(7);
    answer = owner_reply(parts);
    CHECK(answer.kind == Kind::owner);
    CHECK(answer.uid == 501);

    // ... and without the right one, the end says there is none.
    Datagram none;
    none.socket(7, ours, 0, 1, NLM_F_MULTI).done(7);
    answer = owner_reply(none);
    CHECK(answer.kind == Kind::failed);
    CHECK(answer.error == "the kernel knows no TCP socket from 127.0.0.1:50122 to 127.0.0.1:18789");
}

TEST_CASE("sock_diag: a socket the app closed already has no owner to name") {
    Datagram d;
    d.socket(7, kAsked, 0, /*inode*/ 0);  // TIME_WAIT: the kernel reports uid 0
    auto answer = owner_reply(d);
    CHECK(answer.kind == Kind::failed);
    CHECK(answer.error.find("the app already closed its socket") == 0);
}

TEST_CASE("sock_diag: the probe's answer") {
    Datagram ok;
    ok.done(3);
    CHECK(sock_diag::read_probe_reply(ok.span(), 3).kind == Kind::ready);

    Datagram no_tcp;
    no_tcp.done(3, -ENOENT);
    auto answer = sock_diag::read_probe_reply(no_tcp.span(), 3);
    CHECK(answer.kind == Kind::failed);
    CHECK(answer.error == std::string("the kernel cannot describe TCP sockets: ") + std::strerror(ENOENT));

    Datagram refused;
    refused.error(3, -EPERM);
    CHECK(sock_diag::read_probe_reply(refused.span(), 3).kind == Kind::failed);

    Datagram foreign;
    foreign.done(2);
    CHECK(sock_diag::read_probe_reply(foreign.span(), 3).kind == Kind::incomplete);
}

#endif  // __linux__

// ---------------------------------------------------------------------------
// The kernel, for real

namespace {

struct LoopbackPair {
    LoopbackPair() {
        listener = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in any = test::ipv4("127.0.0.1", 0);
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
        REQUIRE(::listen(listener, 4) == 0);
        socklen_t len = sizeof server;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&server), &len);
        client = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
        len = sizeof app;
        ::getsockname(client, reinterpret_cast<sockaddr*>(&app), &len);
        accepted = ::accept(listener, nullptr, nullptr);
        REQUIRE(accepted >= 0);
    }
    ~LoopbackPair() {
        for (int fd : {client, accepted, listener}) {
            if (fd >= 0) ::close(fd);
        }
    }
    int listener = -1;
    int client = -1;
    int accepted = -1;
    sockaddr_in server{};
    sockaddr_in app{};
};

}  // namespace

TEST_CASE("peer owner: the kernel names this process's uid for a loopback connection it made") {
    std::string error;
    auto owner = open_peer_owner(error);
    REQUIRE_MESSAGE(owner != nullptr, error);
    LoopbackPair pair;
    for (int i = 0; i < 3; ++i) {  // one socket, reused
        auto uid = owner->owner_of(pair.app, pair.server, error);
        REQUIRE_MESSAGE(uid.has_value(), error);
        CHECK(*uid == geteuid());
    }

    sockaddr_in nobody_there = pair.app;
    nobody_there.sin_port = htons(ntohs(pair.app.sin_port) == 65535 ? 1 : ntohs(pair.app.sin_port) + 1);
    CHECK_FALSE(owner->owner_of(nobody_there, pair.server, error).has_value());
#if defined(__linux__)
    CHECK(error == std::string("the kernel answered: ") + std::strerror(ENOENT));
#endif

    // Once the app closed its end, nobody owns it any more: refused, not
    // root's. Our accepted end, still open, is another socket: the same
    // 4-tuple the other way round, which is why the order of the two matters.
    ::close(pair.client);
    pair.client = -1;
    CHECK_FALSE(owner->owner_of(pair.app, pair.server, error).has_value());
    CHECK(error.find("the app already closed its socket") == 0);
    auto ours = owner->owner_of(pair.server, pair.app, error);
    REQUIRE_MESSAGE(ours.has_value(), error);
    CHECK(*ours == geteuid());
}
