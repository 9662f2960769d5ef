// loopgate-test-gateway: a small WebSocket server (RFC 6455) over TLS or plain TCP, used by the
// demo, the integration tests and the benchmarks. This file: listening, accepting, one thread per
// connection, signals and the shutdown.
//
// It deliberately shares no code with loopgate: if both used the same frame parser, a bug in it
// would make the tests agree with themselves. It is written for clarity and speed instead of
// scale: one thread per connection, blocking sockets, big buffers, payloads streamed in chunks so
// a 200 MiB message costs no more memory than a 20 byte one. See docs/test-gateway.md.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "connection.hpp"
#include "live_connections.hpp"
#include "log.hpp"
#include "options.hpp"
#include "server.hpp"
#include "tls_context.hpp"

namespace test_gateway {
namespace {

using namespace std::chrono_literals;

constexpr auto kShutdownGrace = 3s;

int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int) {
    int saved = errno;
    char byte = 1;
    [[maybe_unused]] ssize_t ignored = ::write(g_signal_pipe[1], &byte, 1);
    errno = saved;
}

void install_signal_handlers() {
    if (::pipe(g_signal_pipe) != 0) throw std::runtime_error("pipe: " + std::string(std::strerror(errno)));
    for (int fd : g_signal_pipe) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(g_signal_pipe[1], F_SETFL, O_NONBLOCK);
    struct sigaction action {};
    action.sa_handler = on_stop_signal;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
}

std::string format_address(const sockaddr_storage& address) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (address.ss_family == AF_INET) {
        const auto& v4 = reinterpret_cast<const sockaddr_in&>(address);
        ::inet_ntop(AF_INET, &v4.sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(v4.sin_port));
    }
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(address);
    ::inet_ntop(AF_INET6, &v6.sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(v6.sin6_port));
}

int open_listener(const Options& options) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* found = nullptr;
    if (int error = ::getaddrinfo(options.host.c_str(), options.port.c_str(), &hints, &found); error != 0)
        throw std::runtime_error("cannot resolve " + options.host + ": " + ::gai_strerror(error));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
    std::string last_error = "no address";
    for (addrinfo* candidate = found; candidate; candidate = candidate->ai_next) {
        int fd = ::socket(candidate->ai_family, candidate->ai_socktype, candidate->ai_protocol);
        if (fd < 0) continue;
        int on = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        ::fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (::bind(fd, candidate->ai_addr, candidate->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0) return fd;
        last_error = std::strerror(errno);
        ::close(fd);
    }
    throw std::runtime_error("cannot listen on " + options.host + ":" + options.port + ": " + last_error);
}

void serve_connection(int fd, const Server& server, std::string peer) {
    try {
        serve_client(fd, server, peer);
    } catch (const std::exception& error) {
        warn("connection from " + peer + ": " + error.what());
    }
    g_live.thread_done();
}

void start_connection(int fd, const sockaddr_storage& address, const Server& server) {
    int on = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    g_live.add(fd);
    try {
        std::thread(serve_connection, fd, std::cref(server), format_address(address)).detach();
    } catch (const std::system_error& error) {
        warn(std::string("cannot start a thread: ") + error.what());
        g_live.forget_socket(fd);
        g_live.thread_done();
        ::close(fd);
    }
}

// Accepts until SIGTERM/SIGINT arrives on the signal pipe.
void accept_until_stopped(int listener, const Server& server) {
    for (;;) {
        pollfd pollers[2] = {{listener, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
        if (::poll(pollers, 2, -1) < 0) {
            if (errno == EINTR) continue;
            throw std::runtime_error("poll: " + std::string(std::strerror(errno)));
        }
        if (pollers[1].revents != 0) return;
        sockaddr_storage address{};
        socklen_t length = sizeof address;
        int fd = ::accept(listener, reinterpret_cast<sockaddr*>(&address), &length);
        if (fd >= 0) {
            start_connection(fd, address, server);
        } else if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            warn("accept: " + std::string(std::strerror(errno)));
            std::this_thread::sleep_for(10ms);  // out of descriptors: do not spin
        }
    }
}

int run(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
            print_line(stdout, std::string(kUsage));
            return 0;
        }
    }
    if (auto error = parse_options(argc, argv, options)) {
        warn(*error);
        print_line(stderr, std::string(kUsage));
        return 2;
    }
    try {
        SslCtxPtr tls;
        if (!options.plain) tls = make_tls_context(options);
        install_signal_handlers();
        int listener = open_listener(options);
        sockaddr_storage bound{};
        socklen_t length = sizeof bound;
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &length);
        say("listening on " + format_address(bound));
        // The signal pipe is never drained, so once a stop signal wrote to it, it stays readable
        // for every connection thread that polls it.
        Server server{tls.get(), options.close_on_exit, options.log_control_frames, options.log_handshakes,
                      g_signal_pipe[0], options.date_offset};
        accept_until_stopped(listener, server);
        ::close(listener);
        // With --close-on-exit the echo sessions send their close frames and wait for the replies
        // themselves; whatever is still busy after the grace period is cut off as without the flag.
        if (options.close_on_exit) g_live.wait_idle(kShutdownGrace);
        g_live.shut_all();
        if (!g_live.wait_idle(kShutdownGrace)) warn("some connections did not finish in time");
        return 0;
    } catch (const std::exception& error) {
        warn(error.what());
        return 1;
    }
}

}  // namespace
}  // namespace test_gateway

int main(int argc, char** argv) {
    int status = test_gateway::run(argc, argv);
    // Connection threads are detached; a normal exit would run OpenSSL's atexit cleanup while one
    // of them may still be unwinding. Output is flushed, so leave without global teardown.
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(status);
}
