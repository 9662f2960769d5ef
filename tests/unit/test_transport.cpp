// Transport failure paths that no peer can provoke on purpose: each must reach
// the handler from the event loop (never from inside the owner's call), and
// bytes that cannot be sent are reported, never dropped in silence.
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <string>

#include "buffer_pool.hpp"
#include "fakes.hpp"
#include "self_signed.hpp"
#include "socket_pair.hpp"
#include "transport.hpp"

using namespace loopgate;
using namespace loopgate::testing;
using loopgate::test::TempDir;

namespace {

struct RecordingHandler final : Transport::Handler {
    void on_transport_data(Transport&, const char* data, size_t len) override { data_.append(data, len); }
    void on_transport_end(Transport&, const Transport::End& end) override {
        ended = true;
        kind = end.kind;
        detail = end.detail;
    }
    std::string data_;
    bool ended = false;
    Transport::End::Kind kind = Transport::End::Kind::eof;
    std::string detail;
};

}  // namespace

TEST_CASE("transport: bytes TLS cannot take are reported from the loop, not dropped in silence") {
    uv_loop_t loop;
    REQUIRE(uv_loop_init(&loop) == 0);
    int fds[2];
    REQUIRE(test::nonblocking_socketpair(fds));
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    REQUIRE(ctx != nullptr);
    SSL* ssl = SSL_new(ctx);
    REQUIRE(ssl != nullptr);
    SSL_set_connect_state(ssl);

    RecordingHandler handler;
    Transport* t = Transport::create(&loop, &handler, Transport::Kind::unix_socket);
    REQUIRE(t->adopt(fds[0]) == 0);
    REQUIRE(t->use_tls(ssl));
    // No handshake has happened: TLS cannot encrypt application data yet.
    t->write("hello", 5);
    t->flush();
    CHECK_FALSE(handler.ended);  // never from inside the owner's own call
    REQUIRE(run_until(&loop, [&] { return handler.ended; }));
    CHECK(handler.kind == Transport::End::Kind::tls_error);
    CHECK(handler.detail.find("cannot encrypt 5 bytes") != std::string::npos);

    t->close();
    close(fds[1]);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
    SSL_CTX_free(ctx);
}

// ---- every write path byte-exact: sizes around TLS record (16 KiB) and chunk (64 KiB) boundaries ----

namespace {

const size_t kSweep[] = {0, 1, 16383, 16384, 16385, 65535, 65536, 65537, 1 << 20};

// Byte i of a stream: no short period, so a chunk lost, doubled or reordered shows.
std::string stream_bytes(size_t from, size_t len) {
    std::string s(len, '\0');
    for (size_t k = 0; k < len; ++k) {
        size_t i = from + k;
        s[k] = static_cast<char>((i * 131 + (i >> 8) * 7 + (i >> 16) * 13) & 0xff);
    }
    return s;
}

// What a peer's transport delivers; optionally echoes it, or stops reading
// after each delivery until the test starts it again.
struct Peer final : Transport::Handler {
    void on_transport_connected(Transport&, int status) override { connected = status; }
    void on_transport_tls_ready(Transport&) override { tls_ready = true; }
    void on_transport_data(Transport& t, const char* data, size_t len) override {
        CHECK_FALSE(in_owner_call);  // never from inside the owner's own call
        CHECK_FALSE(paused);         // nothing while it does not read
        received.append(data, len);
        ++deliveries;
        if (echo) {
            t.write(data, len);
            t.flush();
        }
        if (pause_after_each) {
            t.read_stop();
            paused = true;
        }
    }
    void on_transport_end(Transport&, const Transport::End& end) override {
        CHECK_FALSE(in_owner_call);
        ended = true;
        ++ends;
        kind = end.kind;
        detail = end.detail;
        connection_lost = end.connection_lost;
    }
    void on_transport_drained(Transport&) override {
        CHECK_FALSE(in_owner_call);
        ++drained;
    }

    int connected = 1;
    int ends = 0;
    bool tls_ready = false;
    bool echo = false;
    bool pause_after_each = false;
    bool paused = false;
    bool in_owner_call = false;
    std::string received;
    size_t deliveries = 0;
    int drained = 0;
    bool ended = false;
    Transport::End::Kind kind = Transport::End::Kind::eof;
    std::string detail;
    bool connection_lost = false;
};

// A plain transport on its own loop over one end of a socketpair; the test
// plays the peer on the other end (`far`). `sndbuf`: the kernel's send buffer
// for the transport's end (0: the default).
struct PlainPair {
    explicit PlainPair(int sndbuf = 0) {
        REQUIRE(uv_loop_init(&loop) == 0);
        int fds[2];
        REQUIRE(test::nonblocking_socketpair(fds));
        near = fds[0];
        far = fds[1];
        if (sndbuf > 0) REQUIRE(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) == 0);
        t = Transport::create(&loop, &peer, Transport::Kind::unix_socket);
        REQUIRE(t->adopt(fds[0]) == 0);
    }
    ~PlainPair() {
        close_transport();
        close_far();
        CHECK(uv_loop_close(&loop) == 0);
    }
    // Closes the transport and runs the loop until its handles are gone.
    void close_transport() {
        if (t != nullptr) t->close();
        t = nullptr;
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    void close_far() {
        if (far >= 0) close(far);
        far = -1;
    }
    uv_loop_t loop{};
    Peer peer;
    Transport* t = nullptr;
    int near = -1;  // the transport's end (it owns it): for asking the kernel what waits there
    int far = -1;
};

// A TLS client transport and a TLS server transport on the same loop, over
// loopback TCP: both ends go through the transport's own BIO.
class TlsPair {
public:
    TlsPair() {
        REQUIRE(uv_loop_init(&loop) == 0);
        test::KeyPair pair = test::make_self_signed(dir_, "transport-test");
        server_ctx_ = SSL_CTX_new(TLS_server_method());
        client_ctx_ = SSL_CTX_new(TLS_client_method());
        REQUIRE(SSL_CTX_use_certificate_file(server_ctx_, pair.cert.c_str(), SSL_FILETYPE_PEM) == 1);
        REQUIRE(SSL_CTX_use_PrivateKey_file(server_ctx_, pair.key.c_str(), SSL_FILETYPE_PEM) == 1);
        // As loopgate's upstream context does (tls_context.cpp).
        SSL_CTX_set_mode(client_ctx_, SSL_MODE_RELEASE_BUFFERS);

        REQUIRE(uv_tcp_init(&loop, &listener_) == 0);
        listener_.data = this;
        sockaddr_in addr{};
        REQUIRE(uv_ip4_addr("127.0.0.1", 0, &addr) == 0);
        REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<const sockaddr*>(&addr), 0) == 0);
        REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 4, on_connection) == 0);
        int len = sizeof addr;
        REQUIRE(uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);

        client = Transport::create(&loop, &client_peer);
        SSL* ssl = SSL_new(client_ctx_);
        SSL_set_connect_state(ssl);
        REQUIRE(client->use_tls(ssl));
        REQUIRE(client->connect(addr) == 0);
        REQUIRE(run_until(&loop, [&] { return client_peer.tls_ready && server_peer.tls_ready; }));
        CHECK(client_peer.connected == 0);
    }
    ~TlsPair() {
        if (client != nullptr) client->close();
        if (server != nullptr) server->close();
        uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        uv_run(&loop, UV_RUN_DEFAULT);
        CHECK(uv_loop_close(&loop) == 0);
        SSL_CTX_free(server_ctx_);
        SSL_CTX_free(client_ctx_);
    }

    uv_loop_t loop;
    Peer client_peer;
    Peer server_peer;
    Transport* client = nullptr;
    Transport* server = nullptr;

private:
    static void on_connection(uv_stream_t* listener, int status) {
        auto* self = static_cast<TlsPair*>(listener->data);
        REQUIRE(status == 0);
        self->server = Transport::create(&self->loop, &self->server_peer);
        REQUIRE(self->server->accept_from(listener) == 0);
        SSL* ssl = SSL_new(self->server_ctx_);
        SSL_set_accept_state(ssl);
        REQUIRE(self->server->use_tls(ssl));
        self->server->read_start();
    }

    TempDir dir_;
    SSL_CTX* server_ctx_ = nullptr;
    SSL_CTX* client_ctx_ = nullptr;
    uv_tcp_t listener_;
};

}  // namespace

TEST_CASE("transport: TLS bytes echo byte-exact for sizes around record and chunk boundaries, whole and in pieces") {
    size_t chunks_before = chunks_in_use();
    {
        TlsPair tls;
        tls.server_peer.echo = true;
        std::string sent;
        for (bool in_pieces : {false, true}) {
            for (size_t size : kSweep) {
                std::string bytes = stream_bytes(sent.size(), size);
                tls.client_peer.in_owner_call = true;
                if (in_pieces) {
                    // Several writes before one flush: they travel as one stream.
                    size_t a = size / 3;
                    size_t b = size / 2;
                    tls.client->write(bytes.data(), a);
                    tls.client->write(bytes.data() + a, b - a);
                    tls.client->write(bytes.data() + b, size - b);
                } else {
                    tls.client->write(bytes.data(), size);
                }
                tls.client->flush();
                tls.client_peer.in_owner_call = false;
                sent += bytes;
            }
        }
        REQUIRE(run_until(&tls.loop, [&] { return tls.client_peer.received.size() >= sent.size(); }, 20000));
        CHECK(tls.server_peer.received == sent);
        CHECK(tls.client_peer.received == sent);
        REQUIRE(run_until(&tls.loop, [&] { return tls.client->backlog() == 0 && tls.server->backlog() == 0; }));
        CHECK_FALSE(tls.client_peer.ended);
        CHECK_FALSE(tls.server_peer.ended);
        // Idle again: neither end holds a buffer of its own.
        CHECK(chunks_in_use() == chunks_before);
    }
    CHECK(chunks_in_use() == chunks_before);
}

TEST_CASE("transport: TLS data the owner stops taking waits, unread, and arrives whole once it reads again") {
    size_t chunks_before = chunks_in_use();
    TlsPair tls;
    tls.client_peer.pause_after_each = true;
    std::string sent;
    for (size_t size : kSweep) {
        std::string bytes = stream_bytes(sent.size(), size);
        tls.server->write(bytes.data(), bytes.size());
        tls.server->flush();
        sent += bytes;
    }
    // Each delivery stops the reading; the test starts it again, from outside
    // the loop, only once the loop has run a while with the client stopped.
    for (int round = 0; round < 2000 && tls.client_peer.received.size() < sent.size(); ++round) {
        REQUIRE(run_until(&tls.loop, [&] { return tls.client_peer.paused; }, 20000));
        for (int turn = 0; turn < 3; ++turn) uv_run(&tls.loop, UV_RUN_NOWAIT);
        tls.client_peer.paused = false;
        tls.client_peer.in_owner_call = true;
        tls.client->read_start();
        tls.client_peer.in_owner_call = false;
    }
    CHECK(tls.client_peer.received == sent);
    CHECK(tls.client_peer.deliveries > 3);  // it really was stopped and started again
    REQUIRE(run_until(&tls.loop, [&] { return tls.server->backlog() == 0; }));
    CHECK(chunks_in_use() == chunks_before);
}

TEST_CASE("transport: plain bytes reach a slow reader in order, the queue behind the write in flight included") {
    size_t chunks_before = chunks_in_use();
    // The kernel takes little at a time: short writevs, a write in flight, bytes queued behind it.
    PlainPair pair(8192);
    Peer& peer = pair.peer;
    std::string sent;
    peer.in_owner_call = true;
    for (size_t size : kSweep) {
        std::string bytes = stream_bytes(sent.size(), size);
        pair.t->write(bytes.data(), bytes.size());
        pair.t->flush();
        sent += bytes;
    }
    bool above = pair.t->above_high_water();
    peer.in_owner_call = false;
    CHECK(above);  // 1.3 MB waiting: the owner would stop the other side now
    CHECK(peer.drained == 0);

    std::string got;
    auto read_some = [&] {
        char buf[4096];
        ssize_t n = read(pair.far, buf, sizeof buf);
        if (n > 0) got.append(buf, static_cast<size_t>(n));
        return got.size() >= sent.size();
    };
    REQUIRE(run_until(&pair.loop, read_some, 20000));
    CHECK(got == sent);
    REQUIRE(run_until(&pair.loop, [&] { return pair.t->backlog() == 0; }));
    CHECK(peer.drained == 1);  // told once, when the queue fell to the low mark
    CHECK_FALSE(peer.ended);
    CHECK(chunks_in_use() == chunks_before);
}

TEST_CASE("transport: a write to a peer that is gone is reported from the loop as a lost connection") {
    auto old_handler = std::signal(SIGPIPE, SIG_IGN);  // as the daemon does (daemon.cpp)
    {
        PlainPair pair;
        Peer& peer = pair.peer;
        pair.close_far();
        pair.t->write("late", 4);
        pair.t->flush();
        CHECK_FALSE(peer.ended);  // never from inside the owner's own call
        REQUIRE(run_until(&pair.loop, [&] { return peer.ended; }));
        CHECK(peer.kind == Transport::End::Kind::io_error);
        CHECK(peer.detail.find("write failed") != std::string::npos);
        CHECK(peer.connection_lost);
        CHECK(pair.t->backlog() == 0);  // nothing kept for a write that can never happen
    }
    std::signal(SIGPIPE, old_handler);
}

TEST_CASE("transport: a peer gone while chunks wait behind a write in flight: one lost-connection end, no chunk kept") {
    auto old_handler = std::signal(SIGPIPE, SIG_IGN);
    size_t chunks_before = chunks_in_use();
    {
        PlainPair pair(8192);
        Peer& peer = pair.peer;
        peer.in_owner_call = true;
        for (int i = 0; i < 20; ++i) {
            std::string bytes = stream_bytes(static_cast<size_t>(i) * 65536, 65536);
            pair.t->write(bytes.data(), bytes.size());
            pair.t->flush();
        }
        peer.in_owner_call = false;
        // The kernel took what fits; the rest is in flight or queued behind it.
        for (int turn = 0; turn < 3; ++turn) uv_run(&pair.loop, UV_RUN_NOWAIT);
        REQUIRE(pair.t->backlog() > 1000000);
        REQUIRE(chunks_in_use() > chunks_before);
        pair.close_far();
        REQUIRE(run_until(&pair.loop, [&] { return peer.ended; }));
        CHECK(peer.kind == Transport::End::Kind::io_error);
        CHECK(peer.connection_lost);
        CHECK(pair.t->backlog() == 0);
        CHECK(peer.drained == 0);  // a queue that was dropped did not drain
        for (int turn = 0; turn < 3; ++turn) uv_run(&pair.loop, UV_RUN_NOWAIT);
        CHECK(peer.ends == 1);     // the write in flight and the queue behind it failed once, together
        pair.close_transport();
        CHECK(chunks_in_use() == chunks_before);  // the queued chunks went back to the pool
    }
    std::signal(SIGPIPE, old_handler);
}

TEST_CASE("transport: after read_stop the bytes stay in the kernel, unread, until read_start") {
    PlainPair pair;
    Peer& peer = pair.peer;
    pair.t->read_start();
    REQUIRE(write(pair.far, "first", 5) == 5);
    REQUIRE(run_until(&pair.loop, [&] { return peer.received == "first"; }));
    pair.t->read_stop();
    REQUIRE(write(pair.far, "second", 6) == 6);
    for (int turn = 0; turn < 5; ++turn) uv_run(&pair.loop, UV_RUN_NOWAIT);
    CHECK(peer.received == "first");
    int waiting = 0;
    REQUIRE(ioctl(pair.near, FIONREAD, &waiting) == 0);
    CHECK(waiting == 6);  // still the kernel's: the other side's window closes, not loopgate's memory grows
    pair.t->read_start();
    REQUIRE(run_until(&pair.loop, [&] { return peer.received == "firstsecond"; }));
}
