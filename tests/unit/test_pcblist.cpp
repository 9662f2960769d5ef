// macOS's TCP socket list (net.inet.tcp.pcblist_n), read from bytes laid out
// as xnu's get_pcblist_n writes them: the app's socket found by its own
// address among the machine's, and lists that are cut short, malformed,
// ambiguous or without the socket refused.
#include <doctest/doctest.h>

#include <arpa/inet.h>

#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "ipv4.hpp"
#include "pcblist.hpp"

using namespace loopgate;

namespace {

const sockaddr_in kApp = test::ipv4("127.0.0.1", 50122);
const sockaddr_in kOurs = test::ipv4("127.0.0.1", 18789);

}  // namespace

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
        .socket(test::ipv4("127.0.0.1", 50000), kOurs, 77)  // another app
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
