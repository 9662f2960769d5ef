// tls::TicketCache with the clock set by hand (the sessions' own time stamps
// and the `now` each call is given), and the route context around it: each
// dial takes a session of its own, an unused one comes back, a failed dial
// forgets only its own, a reload with the same trust shares the cache. Every
// session is counted when OpenSSL frees it, so each test also shows that the
// cache neither leaks a reference nor gives one up twice.
#include <doctest/doctest.h>
#include <openssl/ssl.h>

#include <ctime>
#include <string>
#include <vector>

#include "config.hpp"
#include "ticket_cache.hpp"
#include "tls_context.hpp"

using loopgate::tls::TicketCache;

namespace {

int sessions_made = 0;
int sessions_freed = 0;

// Each session() carries a pointer to sessions_freed in this index's ex_data;
// OpenSSL calls the free callback when the last reference goes.
void count_free(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    if (ptr != nullptr) ++*static_cast<int*>(ptr);
}

int counted_index() {
    static const int index = SSL_SESSION_get_ex_new_index(0, nullptr, nullptr, nullptr, count_free);
    return index;
}

// The sessions made and freed since a test began.
struct Census {
    int made_at_start = sessions_made;
    int freed_at_start = sessions_freed;
    int freed() const { return sessions_freed - freed_at_start; }
    int alive() const { return sessions_made - made_at_start - freed(); }
};

// A resumable session that arrived at `arrived_s` (wall-clock seconds) and lives `lifetime_s`.
SSL_SESSION* session(long arrived_s, long lifetime_s = 3600, int version = TLS1_3_VERSION) {
    static unsigned int serial = 0;
    SSL_SESSION* s = SSL_SESSION_new();
    REQUIRE(s != nullptr);
    REQUIRE(SSL_SESSION_set_ex_data(s, counted_index(), &sessions_freed) == 1);
    ++sessions_made;
    ++serial;
    unsigned char id[4] = {static_cast<unsigned char>(serial), static_cast<unsigned char>(serial >> 8), 1, 2};
    REQUIRE(SSL_SESSION_set1_id(s, id, sizeof id) == 1);
    REQUIRE(SSL_SESSION_set_protocol_version(s, version) == 1);
    SSL_SESSION_set_time(s, arrived_s);
    SSL_SESSION_set_timeout(s, lifetime_s);
    return s;
}

// Takes a session and gives the caller's reference up again; returns what it was.
const SSL_SESSION* take(TicketCache& cache, int64_t now) {
    SSL_SESSION* s = cache.take(now);
    if (s != nullptr) SSL_SESSION_free(s);  // the cache (or the test's `held`) keeps it alive where needed
    return s;
}

}  // namespace

TEST_CASE("ticket cache: TLS 1.3 tickets come out newest first, each once") {
    Census census;
    TicketCache cache;
    SSL_SESSION* older = session(100);
    SSL_SESSION* newer = session(101);
    SSL_SESSION_up_ref(older);
    SSL_SESSION_up_ref(newer);
    cache.put(older, 150);
    cache.put(newer, 150);
    CHECK(cache.size() == 2);
    CHECK(take(cache, 150) == newer);
    CHECK(take(cache, 150) == older);  // not the newest again: that one is another dial's now
    CHECK(cache.take(150) == nullptr);
    CHECK(cache.empty());
    CHECK(census.freed() == 0);  // take() handed a reference over each time; the test's own keep both alive
    SSL_SESSION_free(older);
    SSL_SESSION_free(newer);
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: bounded; when full the oldest goes") {
    Census census;
    TicketCache cache(4);
    std::vector<SSL_SESSION*> made;
    for (long t = 100; t < 106; ++t) {
        made.push_back(session(t));
        SSL_SESSION_up_ref(made.back());
        cache.put(made.back(), 200);
    }
    CHECK(cache.size() == 4);
    CHECK(census.freed() == 0);  // the two pushed out kept the test's references
    for (size_t i = 5; i >= 2; --i) CHECK(take(cache, 200) == made[i]);
    CHECK(cache.take(200) == nullptr);
    for (SSL_SESSION* s : made) SSL_SESSION_free(s);
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: what it pushes out or refuses it frees once; the rest goes with it") {
    Census census;
    {
        TicketCache cache(2);
        for (long t = 100; t < 104; ++t) cache.put(session(t), 200);
        CHECK(census.freed() == 2);  // the two oldest, pushed out
        cache.put(session(90, 10), 200);  // expired on arrival
        CHECK(census.freed() == 3);
        SSL_SESSION* tls12 = session(105, 3600, TLS1_2_VERSION);
        cache.put(tls12, 200);
        CHECK(census.freed() == 4);  // pushed out the oldest of the two
        SSL_SESSION_up_ref(tls12);
        cache.put(tls12, 200);  // already here: the second reference is dropped, not kept
        CHECK(cache.size() == 2);
        CHECK(census.alive() == 2);
    }
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: expired sessions are dropped and never handed out") {
    Census census;
    TicketCache cache;
    cache.put(session(100, 10), 105);
    cache.put(session(90, 10), 105);  // expired on arrival (at 100): not kept
    CHECK(cache.size() == 1);
    CHECK(cache.take(110) == nullptr);  // 100 + 10: gone at 110
    CHECK(cache.empty());
    CHECK(census.alive() == 0);  // both freed, each once

    SSL_SESSION* fresh = session(100, 10);
    SSL_SESSION_up_ref(fresh);
    cache.put(session(100, 5), 101);
    cache.put(fresh, 101);
    CHECK(cache.size() == 2);
    CHECK(take(cache, 106) == fresh);  // the shorter-lived one expired first, though not the oldest
    CHECK(cache.empty());
    CHECK(census.alive() == 1);
    SSL_SESSION_free(fresh);
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: a TLS 1.2 session stays and is offered again") {
    Census census;
    TicketCache cache;
    SSL_SESSION* tls12 = session(100, 3600, TLS1_2_VERSION);
    cache.put(tls12, 100);
    SSL_SESSION* first = cache.take(100);
    SSL_SESSION* second = cache.take(100);
    CHECK(first == tls12);
    CHECK(second == tls12);
    CHECK(cache.size() == 1);
    // Handed back (a dial that never sent it), it is not kept twice.
    cache.put(first, 100);
    CHECK(cache.size() == 1);
    SSL_SESSION_free(second);
    CHECK(census.alive() == 1);  // the cache's own reference, no more
    cache.clear();
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: a ticket given back unused goes where its age puts it") {
    Census census;
    TicketCache cache;
    SSL_SESSION* a = session(100);
    SSL_SESSION* b = session(101);
    SSL_SESSION* c = session(102);
    for (SSL_SESSION* s : {a, b, c}) SSL_SESSION_up_ref(s);
    cache.put(a, 110);
    cache.put(b, 110);
    SSL_SESSION* taken = cache.take(110);
    CHECK(taken == b);
    cache.put(c, 110);
    cache.put(taken, 110);  // the caller's reference goes back with it
    CHECK(take(cache, 110) == c);
    CHECK(take(cache, 110) == b);
    CHECK(take(cache, 110) == a);
    CHECK(census.freed() == 0);
    for (SSL_SESSION* s : {a, b, c}) SSL_SESSION_free(s);
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: clear forgets everything") {
    Census census;
    TicketCache cache;
    cache.put(session(100), 100);
    cache.put(session(100, 3600, TLS1_2_VERSION), 100);
    cache.clear();
    CHECK(cache.empty());
    CHECK(cache.take(100) == nullptr);
    CHECK(census.alive() == 0);
}

TEST_CASE("ticket cache: erase forgets one session and leaves the caller's reference alone") {
    Census census;
    TicketCache cache;
    SSL_SESSION* tls12 = session(100, 3600, TLS1_2_VERSION);
    SSL_SESSION* other = session(101);
    cache.put(tls12, 110);
    cache.put(other, 110);
    SSL_SESSION* held = cache.take(110);  // the newest, the TLS 1.3 ticket: out of the cache now
    REQUIRE(held == other);
    CHECK_FALSE(cache.erase(held));  // not here: nothing freed
    CHECK(census.freed() == 0);
    SSL_SESSION* offered = cache.take(110);  // the TLS 1.2 session: still here too
    REQUIRE(offered == tls12);
    CHECK(cache.erase(offered));
    CHECK(cache.empty());
    CHECK(census.alive() == 2);  // the cache's reference went; the callers' stay
    CHECK_FALSE(cache.erase(offered));
    SSL_SESSION_free(offered);
    SSL_SESSION_free(held);
    CHECK(census.alive() == 0);
}

namespace {

loopgate::config::Route pin_only_route() {
    loopgate::config::Route route;
    route.name = "gw";
    loopgate::config::parse_upstream_url("wss://gateway.test", route.upstream);
    route.tls.verify = loopgate::config::TlsVerify::pin_only;
    return route;
}

struct NoAnchors final : loopgate::tls::TrustAnchors {
    loopgate::tls::TrustLoad load(SSL_CTX*, const loopgate::config::TlsSettings&) const override {
        return {false, "", "pin-only routes need none", nullptr};
    }
};

loopgate::tls::SslCtxPtr context() {
    std::string error;
    auto ctx = loopgate::tls::make_upstream_context(pin_only_route(), NoAnchors{}, error);
    REQUIRE_MESSAGE(ctx != nullptr, error);
    return ctx;
}

// What OpenSSL does with a ticket from the server: the context's new-session callback.
void receive(SSL_CTX* ctx, long arrived_s, int version = TLS1_3_VERSION) {
    SSL* ssl = SSL_new(ctx);
    SSL_SESSION* s = session(arrived_s, 3600, version);
    if (SSL_CTX_sess_get_new_cb(ctx)(ssl, s) == 0) SSL_SESSION_free(s);
    SSL_free(ssl);
}

SSL* dial(SSL_CTX* ctx) {
    std::string error;
    SSL* ssl = loopgate::tls::new_upstream_ssl(ctx, pin_only_route().upstream, error);
    REQUIRE_MESSAGE(ssl != nullptr, error);
    return ssl;
}

}  // namespace

TEST_CASE("tls context: concurrent dials each take a session of their own; an unused one comes back") {
    auto ctx = context();
    long now = static_cast<long>(std::time(nullptr));
    receive(ctx.get(), now - 1);
    receive(ctx.get(), now);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 2);

    SSL* first = dial(ctx.get());
    SSL* second = dial(ctx.get());
    SSL* third = dial(ctx.get());
    REQUIRE(SSL_get_session(first) != nullptr);
    REQUIRE(SSL_get_session(second) != nullptr);
    CHECK(SSL_get_session(first) != SSL_get_session(second));
    CHECK(SSL_SESSION_get_time(SSL_get_session(first)) == now);  // newest first
    CHECK(SSL_get_session(third) == nullptr);                    // none left: a full handshake
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 0);

    const SSL_SESSION* unused = SSL_get_session(first);
    loopgate::tls::give_back_session(first);  // its connect lost the race
    SSL_free(first);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 1);
    SSL* fourth = dial(ctx.get());
    CHECK(SSL_get_session(fourth) == unused);
    for (SSL* ssl : {second, third, fourth}) SSL_free(ssl);
}

TEST_CASE("tls context: a failed dial forgets the TLS 1.2 session it offered, and only that") {
    Census census;
    auto ctx = context();
    long now = static_cast<long>(std::time(nullptr));
    receive(ctx.get(), now - 2, TLS1_2_VERSION);
    receive(ctx.get(), now - 1, TLS1_2_VERSION);
    REQUIRE(loopgate::tls::cached_sessions(ctx.get()) == 2);

    SSL* failed = dial(ctx.get());
    const SSL_SESSION* offered = SSL_get_session(failed);
    REQUIRE(offered != nullptr);
    CHECK(SSL_SESSION_get_time(offered) == now - 1);
    // The server did not resume it: OpenSSL put a new session in its place.
    SSL_SESSION* fresh = SSL_SESSION_new();
    REQUIRE(SSL_set_session(failed, fresh) == 1);
    SSL_SESSION_free(fresh);
    loopgate::tls::forget_session(failed);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 1);
    SSL_free(failed);
    CHECK(census.alive() == 1);  // the offered one is freed, the other still cached

    SSL* next = dial(ctx.get());
    REQUIRE(SSL_get_session(next) != nullptr);
    CHECK(SSL_get_session(next) != offered);
    CHECK(SSL_SESSION_get_time(SSL_get_session(next)) == now - 2);
    SSL_free(next);
    ctx.reset();
    CHECK(census.alive() == 0);
}

TEST_CASE("tls context: a failed dial with a TLS 1.3 ticket leaves the other dials' tickets") {
    Census census;
    auto ctx = context();
    long now = static_cast<long>(std::time(nullptr));
    for (int i = 0; i < 3; ++i) receive(ctx.get(), now);
    SSL* failed = dial(ctx.get());
    SSL* racing = dial(ctx.get());
    REQUIRE(SSL_get_session(failed) != nullptr);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 1);
    loopgate::tls::forget_session(failed);  // its ticket is out of the cache already
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 1);
    SSL* without = SSL_new(ctx.get());  // a full handshake offers nothing: nothing to forget
    loopgate::tls::forget_session(without);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 1);
    for (SSL* ssl : {failed, racing, without}) SSL_free(ssl);
    CHECK(census.alive() == 1);
    ctx.reset();
    CHECK(census.alive() == 0);
}

TEST_CASE("tls context: a reload with the same trust shares the cache; a failed dial forgets its session for both") {
    auto before = context();
    auto after = context();
    long now = static_cast<long>(std::time(nullptr));
    receive(before.get(), now);
    receive(before.get(), now);
    REQUIRE(loopgate::tls::carry_session(before.get(), after.get()));
    CHECK(loopgate::tls::cached_sessions(after.get()) == 2);

    SSL* dial_after = dial(after.get());
    CHECK(SSL_get_session(dial_after) != nullptr);
    CHECK(loopgate::tls::cached_sessions(before.get()) == 1);  // gone for the old context's dials too
    receive(before.get(), now);  // a ticket still arriving on an old connection
    CHECK(loopgate::tls::cached_sessions(after.get()) == 2);

    // Once the two tickets are taken, a TLS 1.2 session is left; a dial on the
    // old context offers it and fails: it is gone for the new context too.
    receive(before.get(), now - 1, TLS1_2_VERSION);
    SSL* dial_1 = dial(after.get());
    SSL* dial_2 = dial(after.get());
    SSL* failed_before = dial(before.get());
    REQUIRE(SSL_get_session(failed_before) != nullptr);
    CHECK(SSL_SESSION_get_protocol_version(SSL_get_session(failed_before)) == TLS1_2_VERSION);
    REQUIRE(loopgate::tls::cached_sessions(after.get()) == 1);
    loopgate::tls::forget_session(failed_before);
    CHECK(loopgate::tls::cached_sessions(after.get()) == 0);
    for (SSL* ssl : {dial_after, dial_1, dial_2, failed_before}) SSL_free(ssl);

    auto fresh = context();
    CHECK_FALSE(loopgate::tls::carry_session(fresh.get(), context().get()));  // nothing to carry
}

TEST_CASE("tls context: a completed dial lets go of the session it offered") {
    Census census;
    auto ctx = context();
    long now = static_cast<long>(std::time(nullptr));
    receive(ctx.get(), now);
    SSL* done = dial(ctx.get());
    REQUIRE(SSL_get_session(done) != nullptr);
    // The server resumed it and OpenSSL put the connection's own copy in its place.
    SSL_SESSION* copy = SSL_SESSION_new();
    REQUIRE(SSL_set_session(done, copy) == 1);
    SSL_SESSION_free(copy);
    CHECK(census.alive() == 1);  // the offered ticket, kept only for forget_session
    loopgate::tls::release_offered_session(done);
    CHECK(census.alive() == 0);  // an idle session holds nothing it does not use
    loopgate::tls::release_offered_session(done);  // twice is harmless
    loopgate::tls::forget_session(done);           // and nothing is left to forget
    SSL_free(done);
    CHECK(census.alive() == 0);
}

TEST_CASE("tls context: a racing dial's give-back does not bring back a TLS 1.2 session another dial forgot") {
    Census census;
    auto ctx = context();
    long now = static_cast<long>(std::time(nullptr));
    receive(ctx.get(), now, TLS1_2_VERSION);
    SSL* failed = dial(ctx.get());
    SSL* racing = dial(ctx.get());  // the same TLS 1.2 session, offered again
    REQUIRE(SSL_get_session(racing) == SSL_get_session(failed));
    loopgate::tls::forget_session(failed);
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 0);
    loopgate::tls::give_back_session(racing);  // its connect lost the race
    CHECK(loopgate::tls::cached_sessions(ctx.get()) == 0);
    for (SSL* ssl : {failed, racing}) SSL_free(ssl);
    CHECK(census.alive() == 0);
}
