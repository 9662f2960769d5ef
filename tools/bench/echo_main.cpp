// loopgate-bench-echo: the TLS WebSocket echo upstream of tools/bench.sh.
//
//   loopgate-bench-echo --listen HOST:PORT (--cert FILE --key FILE | --plain) [--threads N]
//
// N event loops (default: one per CPU), each on its own socket bound to the
// same port (SO_REUSEPORT), so the upstream is not what limits a benchmark
// run. Prints "listening on HOST:PORT" once bound. SIGUSR1 prints one line of
// counters ("stats handshakes=N resumed=N ..."); SIGTERM or SIGINT exits.
// See docs/benchmarks.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <algorithm>
#include <thread>
#include <vector>

#include "echo_server.hpp"
#include "stream.hpp"

namespace {

struct Options {
    std::string listen;
    std::string cert;
    std::string key;
    bool plain = false;
    unsigned threads = 0;
};

int usage(const char* why) {
    std::fprintf(stderr, "loopgate-bench-echo: %s\nusage: loopgate-bench-echo --listen HOST:PORT (--cert FILE --key FILE | --plain)\n", why);
    return 2;
}

bool parse(int argc, char** argv, Options& options) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--listen" && has_value) options.listen = argv[++i];
        else if (arg == "--cert" && has_value) options.cert = argv[++i];
        else if (arg == "--key" && has_value) options.key = argv[++i];
        else if (arg == "--plain") options.plain = true;
        else if (arg == "--threads" && has_value) options.threads = static_cast<unsigned>(std::atoi(argv[++i]));
        else return false;
    }
    if (options.threads == 0) options.threads = std::max(1u, std::thread::hardware_concurrency());
    if (options.threads > 64) return false;
    return !options.listen.empty() && (options.plain ? options.cert.empty() : !options.cert.empty() && !options.key.empty());
}

// HOST:PORT or [IPv6]:PORT.
bool parse_address(const std::string& text, sockaddr_storage& out, socklen_t& length) {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos) return false;
    std::string host = text.substr(0, colon);
    const int port = std::atoi(text.c_str() + colon + 1);
    if (port < 0 || port > 65535) return false;
    std::memset(&out, 0, sizeof out);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        auto* a = reinterpret_cast<sockaddr_in6*>(&out);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        length = sizeof *a;
        return inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &a->sin6_addr) == 1;
    }
    auto* a = reinterpret_cast<sockaddr_in*>(&out);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof *a;
    return inet_pton(AF_INET, host.c_str(), &a->sin_addr) == 1;
}

int select_http11(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in, unsigned int in_length, void*) {
    static const unsigned char wanted[] = "\x08http/1.1";
    unsigned char* chosen = nullptr;
    if (SSL_select_next_proto(&chosen, out_length, wanted, sizeof wanted - 1, in, in_length) != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

SSL_CTX* server_context(const Options& options) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return nullptr;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    // Idle connections keep no TLS buffers: thousands of them are held in W5.
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char context[] = "loopgate-bench-echo";
    SSL_CTX_set_session_id_context(ctx, context, sizeof context - 1);
    SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);
    if (SSL_CTX_use_certificate_chain_file(ctx, options.cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, options.key.c_str(), SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        std::fprintf(stderr, "loopgate-bench-echo: certificate or key: %s\n", bench::openssl_errors().c_str());
        SSL_CTX_free(ctx);
        return nullptr;
    }
    return ctx;
}

// A listening socket on `address` that others may share (SO_REUSEPORT).
int listen_on(const sockaddr_storage& address, socklen_t length) {
    const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void print_stats(const bench::EchoStats& s) {
    std::printf("stats accepted=%llu handshakes=%llu resumed=%llu tls13=%llu handshake_failures=%llu upgraded=%llu refused=%llu "
                "protocol_errors=%llu frames=%llu bytes=%llu active=%llu\n",
                (unsigned long long)s.accepted.load(), (unsigned long long)s.handshakes.load(),
                (unsigned long long)s.resumed.load(), (unsigned long long)s.tls13.load(),
                (unsigned long long)s.handshake_failures.load(),
                (unsigned long long)s.upgraded.load(), (unsigned long long)s.refused.load(),
                (unsigned long long)s.protocol_errors.load(), (unsigned long long)s.frames.load(),
                (unsigned long long)s.bytes.load(), (unsigned long long)s.active.load());
    std::fflush(stdout);
}

void raise_file_limit() {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

bench::EchoStats stats;

// One event loop on its own socket; it lives as long as the process, which ends by _exit.
void serve(int fd, SSL_CTX* ctx) {
    auto* loop = new uv_loop_t;
    uv_loop_init(loop);
    auto* server = new bench::EchoServer(loop, ctx, stats);
    if (const int rc = server->start(fd); rc != 0) {
        std::fprintf(stderr, "loopgate-bench-echo: %s\n", uv_strerror(rc));
        _exit(1);
    }
    uv_run(loop, UV_RUN_DEFAULT);
}

}  // namespace

int main(int argc, char** argv) {
    Options options;
    if (!parse(argc, argv, options)) return usage("bad arguments");
    sockaddr_storage address{};
    socklen_t address_length = 0;
    if (!parse_address(options.listen, address, address_length)) return usage("--listen: expected HOST:PORT");
    std::signal(SIGPIPE, SIG_IGN);
    raise_file_limit();

    SSL_CTX* ctx = nullptr;
    if (!options.plain && (ctx = server_context(options)) == nullptr) return 1;

    const int fd = listen_on(address, address_length);
    if (fd < 0) {
        std::fprintf(stderr, "loopgate-bench-echo: cannot listen on %s: %s\n", options.listen.c_str(), std::strerror(errno));
        return 1;
    }
    // The port really bound (port 0 picks one), which the other threads' sockets share.
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &address_length);
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (address.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<sockaddr_in6*>(&address);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    } else {
        const auto* a = reinterpret_cast<sockaddr_in*>(&address);
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    }
    std::vector<int> sockets{fd};
    for (unsigned i = 1; i < options.threads; ++i) {
        const int shared = listen_on(address, address_length);
        if (shared < 0) {
            std::fprintf(stderr, "loopgate-bench-echo: cannot share port %d: %s\n", port, std::strerror(errno));
            return 1;
        }
        sockets.push_back(shared);
    }

    uv_loop_t* loop = uv_default_loop();
    uv_signal_t usr1, term, interrupt;
    uv_signal_init(loop, &usr1);
    uv_signal_start(&usr1, [](uv_signal_t*, int) { print_stats(stats); }, SIGUSR1);
    for (auto [handle, number] : {std::pair{&term, SIGTERM}, std::pair{&interrupt, SIGINT}}) {
        uv_signal_init(loop, handle);
        uv_signal_start(handle, [](uv_signal_t*, int) {
            std::fflush(stdout);
            _exit(0);
        }, number);
    }
    for (int socket_fd : sockets) std::thread(serve, socket_fd, ctx).detach();
    std::printf(address.ss_family == AF_INET6 ? "listening on [%s]:%d\n" : "listening on %s:%d\n", host, port);
    std::fflush(stdout);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
