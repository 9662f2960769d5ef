// Who owns an app's TCP socket: the netlink messages (request built, replies
// read: whole, cut short, failed, foreign), the kernel asked for real over
// loopback, macOS's socket list read from bytes laid out as xnu lays them,
// and the listener closing a connection of another user before reading it.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "fakes.hpp"
#include "listener.hpp"
#include "pcblist.hpp"
#include "peer_owner.hpp"

#if defined(__linux__)
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "sock_diag.hpp"
#endif

using namespace loopgate;
namespace {

sockaddr_in address(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

const sockaddr_in kApp = address("127.0.0.1", 50122);
const sockaddr_in kOurs = address("127.0.0.1", 18789);

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

    for (auto other : {sock_diag::Tuple{address("127.0.0.1", 50123), kOurs},
                       sock_diag::Tuple{address("127.0.0.2", 50122), kOurs},
                       sock_diag::Tuple{kApp, address("127.0.0.1", 18790)},
                       sock_diag::Tuple{kApp, address("127.0.0.3", 18789)}}) {
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
        listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in any = address("127.0.0.1", 0);
        REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&any), sizeof any) == 0);
        REQUIRE(::listen(listener, 4) == 0);
        socklen_t len = sizeof server;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&server), &len);
        client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

// ---------------------------------------------------------------------------
// macOS's socket list, laid out as xnu's get_pcblist_n writes it

namespace {

struct PcbList {
    std::vector<uint8_t> bytes;

    PcbList() { generation(); }
    void put32(size_t at, uint32_t v) { std::memcpy(bytes.data() + at, &v, 4); }
    void put64(size_t at, uint64_t v) { std::memcpy(bytes.data() + at, &v, 8); }
    size_t record(uint32_t kind, uint32_t len) {
        size_t at = bytes.size();
        bytes.resize(at + ((len + 7) & ~7u));
        put32(at, len);
        put32(at + 4, kind);
        return at;
    }
    void generation() {
        size_t at = bytes.size();
        bytes.resize(at + pcblist::kXinpgenSize);
        put32(at, pcblist::kXinpgenSize);
        put32(at + 4, 2);  // xig_count
    }
    PcbList& socket(const sockaddr_in& local, const sockaddr_in& remote, uint32_t uid, uint64_t so = 0xdead,
                    uint8_t vflag = 0x1) {
        size_t inp = record(pcblist::kXsoInpcb, 104);
        std::memcpy(bytes.data() + inp + pcblist::kInpFport, &remote.sin_port, 2);
        std::memcpy(bytes.data() + inp + pcblist::kInpLport, &local.sin_port, 2);
        bytes[inp + pcblist::kInpVflag] = vflag;
        std::memcpy(bytes.data() + inp + pcblist::kInpFaddr4, &remote.sin_addr, 4);
        std::memcpy(bytes.data() + inp + pcblist::kInpLaddr4, &local.sin_addr, 4);
        size_t so_at = record(pcblist::kXsoSocket, 104);
        put64(so_at + pcblist::kXsoSo, so);
        put32(so_at + pcblist::kXsoUid, uid);
        record(0x002, 32);   // xsockbuf_n, receive
        record(0x004, 32);   // xsockbuf_n, send
        record(0x008, 136);  // xsockstat_n
        record(0x020, 204);  // xtcpcb_n
        return *this;
    }
    std::optional<uid_t> owner(std::string& error) const {
        return pcblist::owner_of(bytes, kApp, kOurs, error);
    }
};

}  // namespace

TEST_CASE("pcblist: the app's socket is found among the machine's, by its own address") {
    PcbList list;
    list.socket(kOurs, kApp, 0)                          // our accepted socket: the other side
        .socket(address("127.0.0.1", 50000), kOurs, 77)  // another app
        .socket(kApp, kOurs, 501)
        .generation();
    std::string error;
    auto uid = list.owner(error);
    REQUIRE_MESSAGE(uid.has_value(), error);
    CHECK(*uid == 501);
}

TEST_CASE("pcblist: no such socket, a closed one, an IPv6-only one, or two owners fail") {
    std::string error;
    PcbList none;
    none.socket(kOurs, kApp, 0).generation();
    CHECK_FALSE(none.owner(error).has_value());
    CHECK(error == "no TCP socket with that address is listed");

    PcbList closed;
    closed.socket(kApp, kOurs, 0, /*so*/ 0).generation();
    CHECK_FALSE(closed.owner(error).has_value());
    CHECK(error == "the app already closed its socket: its owner is no longer known");

    PcbList v6;
    v6.socket(kApp, kOurs, 501, 0xdead, /*INP_IPV6*/ 0x2).generation();
    CHECK_FALSE(v6.owner(error).has_value());

    PcbList two;
    two.socket(kApp, kOurs, 501).socket(kApp, kOurs, 502).generation();
    CHECK_FALSE(two.owner(error).has_value());
    CHECK(error == "two TCP sockets of different owners have that address");
}

TEST_CASE("pcblist: a list cut short or malformed fails") {
    std::string error;
    PcbList list;
    list.socket(kApp, kOurs, 501).generation();

    std::vector<uint8_t> cut(list.bytes.begin(), list.bytes.begin() + 100);  // inside the xinpcb_n
    CHECK_FALSE(pcblist::owner_of(cut, kApp, kOurs, error).has_value());
    CHECK(error == "the TCP socket list (net.inet.tcp.pcblist_n) has a record cut short");

    std::vector<uint8_t> header_only(list.bytes.begin(), list.bytes.begin() + 10);
    CHECK_FALSE(pcblist::owner_of(header_only, kApp, kOurs, error).has_value());
    CHECK(error == "the TCP socket list (net.inet.tcp.pcblist_n) has no valid header");

    PcbList short_inpcb;
    short_inpcb.record(pcblist::kXsoInpcb, 40);
    short_inpcb.generation();
    CHECK_FALSE(short_inpcb.owner(error).has_value());
    CHECK(error == "the TCP socket list (net.inet.tcp.pcblist_n) has an xinpcb_n of 40 bytes");

    // The socket record is cut off by the end of the list: no owner to take.
    std::vector<uint8_t> no_socket(list.bytes.begin(), list.bytes.begin() + 24 + 104);
    CHECK_FALSE(pcblist::owner_of(no_socket, kApp, kOurs, error).has_value());
}

// ---------------------------------------------------------------------------
// The listener: asked at accept, refused before a byte is read

namespace {

struct FixedOwner final : PeerOwner {
    std::optional<uid_t> owner_of(const sockaddr_in& app, const sockaddr_in& ours, std::string& error) override {
        asked_app = app;
        asked_ours = ours;
        ++asks;
        if (!uid) error = "the test says nobody";
        return uid;
    }
    std::optional<uid_t> uid;
    sockaddr_in asked_app{};
    sockaddr_in asked_ours{};
    int asks = 0;
};

struct ListenerFixture {
    ListenerFixture() : route(testing::test_route_settings()) {
        REQUIRE(uv_loop_init(&loop) == 0);
        route.runtime.peer_owner = &owner;
        route.runtime.own_uid = 1000;
        listener = std::make_unique<Listener>(&loop, route.runtime);
        std::string error;
        REQUIRE_MESSAGE(listener->start(error), error);
        server = address("127.0.0.1", listener->bound_port());
    }
    ~ListenerFixture() {
        if (client >= 0) ::close(client);
        listener.reset();
        uv_run(&loop, UV_RUN_DEFAULT);
        uv_loop_close(&loop);
    }
    void connect_and_send() {
        client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&server), sizeof server) == 0);
        socklen_t len = sizeof app;
        ::getsockname(client, reinterpret_cast<sockaddr*>(&app), &len);
        const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        REQUIRE(::send(client, request, sizeof request - 1, 0) == static_cast<ssize_t>(sizeof request - 1));
    }
    // What the client reads until the connection ends: "" for a close without an answer.
    std::string client_reads() {
        std::string got;
        char buf[512];
        for (int i = 0; i < 100; ++i) {
            ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) got.append(buf, static_cast<size_t>(n));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return got;
            uv_run(&loop, UV_RUN_NOWAIT);
        }
        return got + "(still open)";
    }
    uv_loop_t loop{};
    FixedOwner owner;
    testing::FakeRoute route;
    std::unique_ptr<Listener> listener;
    sockaddr_in server{};
    sockaddr_in app{};
    int client = -1;
};

}  // namespace

TEST_CASE("listener: another user's connection is closed unread; the owner is asked about the app's side") {
    ListenerFixture f;
    f.owner.uid = 1001;
    f.connect_and_send();
    REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_other_user == 1; }));
    CHECK(f.owner.asks == 1);
    CHECK(f.owner.asked_app.sin_port == f.app.sin_port);
    CHECK(f.owner.asked_app.sin_addr.s_addr == f.app.sin_addr.s_addr);
    CHECK(f.owner.asked_ours.sin_port == f.server.sin_port);
    CHECK(f.route.runtime.stats.sessions_accepted == 0);
    CHECK(f.listener->session_count() == 0);
    CHECK(f.client_reads() == "");
}

TEST_CASE("listener: loopgate's own user and root get in") {
    for (uid_t uid : {uid_t{1000}, uid_t{0}}) {
        ListenerFixture f;
        f.owner.uid = uid;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.sessions_accepted == 1; }));
        CHECK(f.route.runtime.stats.refused_other_user == 0);
        CHECK(f.route.runtime.stats.refused_owner_unknown == 0);
    }
}

TEST_CASE("listener: an owner that cannot be told is refused; allow_other_users does not ask") {
    SUBCASE("unknown") {
        ListenerFixture f;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_owner_unknown == 1; }));
        CHECK(f.route.runtime.stats.sessions_accepted == 0);
        CHECK(f.client_reads() == "");
    }
    SUBCASE("no way to ask") {
        ListenerFixture f;
        f.route.runtime.peer_owner = nullptr;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.refused_owner_unknown == 1; }));
        CHECK(f.route.runtime.stats.sessions_accepted == 0);
    }
    SUBCASE("allow_other_users") {
        ListenerFixture f;
        auto settings = std::make_shared<RouteSettings>(*f.route.runtime.settings);
        settings->config.allow_other_users = true;
        f.listener->use_settings(settings);
        f.owner.uid = 1001;
        f.connect_and_send();
        REQUIRE(testing::run_until(&f.loop, [&] { return f.route.runtime.stats.sessions_accepted == 1; }));
        CHECK(f.owner.asks == 0);
    }
}
