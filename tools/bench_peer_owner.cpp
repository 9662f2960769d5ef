// One PeerOwner question, timed: the owner of a loopback connection this
// process made, asked N times through the PeerOwner loopgate itself uses (on
// Linux its one netlink socket), with IDLE more loopback connections open
// meanwhile. Prints wall-clock and CPU microseconds per question, and the same
// for the two address look-ups the listener makes first (Transport::tcp_ends:
// getsockname and getpeername). tools/bench-peer-owner.py runs it; see
// docs/benchmarks.md.
//
//   loopgate-bench-peer-owner [N (default 20000)] [IDLE (default 0)]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "peer_owner.hpp"

namespace {

double seconds(clockid_t clock) {
    timespec t{};
    clock_gettime(clock, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A connected pair over 127.0.0.1: the app's end and the accepted one.
bool connect_pair(int listener, const sockaddr_in& server, int& client, int& accepted) {
    client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) return false;
    accepted = accept(listener, nullptr, nullptr);
    return accepted >= 0;
}

template <typename F>
void timed(const char* what, long n, F f) {
    double wall = seconds(CLOCK_MONOTONIC);
    double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
    for (long i = 0; i < n; ++i) f();
    wall = seconds(CLOCK_MONOTONIC) - wall;
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    std::printf("%s: %ld calls, %.2f us wall, %.2f us CPU per call\n", what, n, wall / n * 1e6, cpu / n * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
    long n = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    long idle = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 0;
    if (n < 1 || n > 10000000 || idle < 0 || idle > 100000) {
        std::fprintf(stderr, "usage: %s [N 1..10000000] [IDLE 0..100000]\n", argv[0]);
        return 64;
    }
    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);

    std::string error;
    auto owner = loopgate::open_peer_owner(error);
    if (!owner) {
        std::fprintf(stderr, "no way to ask: %s\n", error.c_str());
        return 69;
    }
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in server = loopback(0);
    socklen_t len = sizeof server;
    if (bind(listener, reinterpret_cast<sockaddr*>(&server), sizeof server) != 0 || listen(listener, 1024) != 0 ||
        getsockname(listener, reinterpret_cast<sockaddr*>(&server), &len) != 0) {
        std::perror("listen");
        return 71;
    }
    std::vector<int> held;
    for (long i = 0; i < idle; ++i) {
        int c = -1;
        int a = -1;
        if (!connect_pair(listener, server, c, a)) {
            std::perror("idle connection");
            return 71;
        }
        held.push_back(c);
        held.push_back(a);
    }
    int client = -1;
    int accepted = -1;
    if (!connect_pair(listener, server, client, accepted)) {
        std::perror("connection");
        return 71;
    }
    sockaddr_in app{};
    len = sizeof app;
    getsockname(client, reinterpret_cast<sockaddr*>(&app), &len);

    bool wrong = false;
    auto ask = [&] {
        auto uid = owner->owner_of(app, server, error);
        if (!uid || *uid != geteuid()) wrong = true;
    };
    for (int i = 0; i < 100; ++i) ask();  // warm-up
    std::printf("%ld idle loopback connections open\n", idle);
    timed("owner_of (one sock_diag round trip on Linux)", n, ask);
    timed("getsockname + getpeername (the listener reads both ends first)", n, [&] {
        sockaddr_in a{};
        sockaddr_in b{};
        socklen_t la = sizeof a;
        socklen_t lb = sizeof b;
        getsockname(accepted, reinterpret_cast<sockaddr*>(&a), &la);
        getpeername(accepted, reinterpret_cast<sockaddr*>(&b), &lb);
    });
    if (wrong) {
        std::fprintf(stderr, "owner_of did not name this process's uid: %s\n", error.c_str());
        return 1;
    }
    for (int fd : held) close(fd);
    return 0;
}
