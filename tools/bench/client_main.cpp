// loopgate-bench-client: the load client of tools/bench.sh. It speaks ws://
// to a proxy, or wss:// straight to the echo upstream ("direct": the limit),
// checks every echoed byte, and prints one JSON line of counts, latencies,
// errors and the CPU the watched processes used over the measured window.
//
//   loopgate-bench-client --url ws://127.0.0.1:PORT | wss://NAME:PORT
//       [--connect-to IPv4] [--ca FILE] [--path /echo]
//       [--mode echo|open|hold] [--conns N] [--inflight N] [--size BYTES]
//       [--openers N] [--open-concurrency N] [--warmup S] [--duration S]
//       [--timeout S] [--watch NAME=PID[,PID...]]...
//
// Exit status 0, 3 when a session failed or an echo was wrong (the JSON says
// which), 2 for bad arguments. See docs/benchmarks.md and client_run.hpp.
#include <arpa/inet.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client_run.hpp"
#include "stream.hpp"

namespace {

int usage(const std::string& why) {
    std::fprintf(stderr, "loopgate-bench-client: %s (see the comment at the top of tools/bench/client_main.cpp)\n", why.c_str());
    return 2;
}

bool parse_watch(const std::string& text, bench::Watched& out) {
    const size_t eq = text.find('=');
    if (eq == std::string::npos || eq == 0) return false;
    out.name = text.substr(0, eq);
    size_t at = eq + 1;
    while (at <= text.size()) {
        const size_t comma = std::min(text.find(',', at), text.size());
        const int pid = std::atoi(text.substr(at, comma - at).c_str());
        if (pid <= 0) return false;
        out.pids.push_back(pid);
        at = comma + 1;
    }
    return !out.pids.empty();
}

std::string parse_options(int argc, char** argv, bench::Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) return "missing value for " + arg;
        const std::string value = argv[++i];
        if (arg == "--url") o.url = value;
        else if (arg == "--connect-to") o.connect_to = value;
        else if (arg == "--ca") o.ca = value;
        else if (arg == "--path") o.path = value;
        else if (arg == "--mode") o.mode = value;
        else if (arg == "--conns") o.conns = static_cast<uint32_t>(std::stoul(value));
        else if (arg == "--inflight") o.inflight = static_cast<uint32_t>(std::stoul(value));
        else if (arg == "--size") o.size = std::stoull(value);
        else if (arg == "--openers") o.openers = static_cast<uint32_t>(std::stoul(value));
        else if (arg == "--open-concurrency") o.open_concurrency = static_cast<uint32_t>(std::stoul(value));
        else if (arg == "--warmup") o.warmup = std::stod(value);
        else if (arg == "--duration") o.duration = std::stod(value);
        else if (arg == "--timeout") o.timeout = std::stod(value);
        else if (arg == "--watch") {
            bench::Watched w;
            if (!parse_watch(value, w)) return "--watch: expected NAME=PID[,PID...]";
            o.watched.push_back(w);
        } else {
            return "unknown option " + arg;
        }
    }
    if (o.mode != "echo" && o.mode != "open" && o.mode != "hold") return "--mode: echo, open or hold";
    if (o.url.empty()) return "--url is required";
    if (o.conns == 0 || o.inflight == 0 || o.openers == 0 || o.open_concurrency == 0) return "counts must be at least 1";
    if (o.size == 0 || o.size > (64u << 20)) return "--size: 1 to 64 MiB";
    if (o.duration <= 0 || o.duration > 3600 || o.warmup < 0 || o.warmup > 600 || o.timeout <= 0 || o.timeout > 600) {
        return "--duration, --warmup and --timeout: seconds, bounded (duration 0-3600, warmup 0-600, timeout 0-600)";
    }
    return "";
}

// ws://HOST:PORT or wss://HOST:PORT, a path of its own not taken (--path).
std::string make_target(const bench::Options& o, bench::Target& t) {
    bool tls;
    std::string rest;
    if (o.url.rfind("ws://", 0) == 0) {
        tls = false;
        rest = o.url.substr(5);
    } else if (o.url.rfind("wss://", 0) == 0) {
        tls = true;
        rest = o.url.substr(6);
    } else {
        return "--url: ws://HOST:PORT or wss://HOST:PORT";
    }
    if (const size_t slash = rest.find('/'); slash != std::string::npos) rest.resize(slash);
    const size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return "--url: the port is required";
    const std::string host = rest.substr(0, colon);
    const int port = std::atoi(rest.c_str() + colon + 1);
    if (port <= 0 || port > 65535) return "--url: bad port";
    const std::string ip = o.connect_to.empty() ? host : o.connect_to;
    t.address.sin_family = AF_INET;
    t.address.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, ip.c_str(), &t.address.sin_addr) != 1) return "--url/--connect-to: an IPv4 address is needed to connect to";
    t.host_header = rest;
    t.path = o.path;
    if (tls) {
        SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (o.ca.empty() || SSL_CTX_load_verify_locations(ctx, o.ca.c_str(), nullptr) != 1) {
            return "--ca: a readable CA file is needed for wss:// (" + bench::openssl_errors() + ")";
        }
        static const unsigned char alpn[] = "\x08http/1.1";
        SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1);
        // Sessions are kept by the run (one per opener), not in OpenSSL's cache.
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        t.tls = ctx;
        t.tls_name = host;
    }
    t.message_size = o.size;
    t.pattern_span = 4u << 20;
    t.pattern.resize(t.pattern_span + o.size);
    RAND_bytes(t.pattern.data(), static_cast<int>(t.pattern.size()));
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    bench::Options options;
    std::string error;
    try {
        error = parse_options(argc, argv, options);
    } catch (const std::exception&) {
        error = "a number was expected";
    }
    if (!error.empty()) return usage(error);
    bench::Target target;
    if (error = make_target(options, target); !error.empty()) return usage(error);
    std::signal(SIGPIPE, SIG_IGN);
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    uv_loop_t* loop = uv_default_loop();
    bench::Run run(loop, options, target);
    run.start();
    uv_run(loop, UV_RUN_DEFAULT);
    std::fflush(stdout);
    // Thousands of sessions may still be open: the kernel closes them faster than a teardown.
    _exit(run.exit_status());
}
