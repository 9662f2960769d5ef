// Transport failure paths that no peer can provoke on purpose: each must reach
// the handler from the event loop (never from inside the owner's call), and
// bytes that cannot be sent are reported, never dropped in silence.
#include <doctest/doctest.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "fakes.hpp"
#include "transport.hpp"

using namespace loopgate;
using namespace loopgate::testing;

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
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
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
