// A route's TLS sessions for resumption: every session ticket its verified
// handshakes brought, newest first, at most kCapacity, expired ones dropped.
//
// A TLS 1.3 ticket is handed to one dial only and leaves the cache with it
// (RFC 8446 §C.4: a ticket offered twice lets an observer link the two
// connections, and a server that keeps single-use tickets refuses the second
// one). Concurrent dials therefore each need a ticket of their own, so the cache keeps
// all that arrive: a server sends several after a full handshake (OpenSSL: 2)
// and one after each resumption (OpenSSL: 1), so a resumed dial gives back what
// it took and every full handshake adds to the stock. A TLS 1.2 session (an ID
// or an RFC 5077 ticket, which servers do not renew on resumption) stays and is offered
// again: TLS 1.2 has no rule against it, and taking it out would leave nothing
// for the next dial.
//
// Time is the sessions' own: OpenSSL stamps each with the wall-clock second it
// arrived and a lifetime (for TLS 1.3 the server's ticket_lifetime), and the
// caller says what time it is now, so unit tests set the clock by hand.
#pragma once

#include <openssl/ssl.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace loopgate::tls {

class TicketCache {
public:
    static constexpr size_t kCapacity = 32;

    explicit TicketCache(size_t capacity = kCapacity) : capacity_(capacity) {}
    ~TicketCache();
    TicketCache(const TicketCache&) = delete;
    TicketCache& operator=(const TicketCache&) = delete;

    // Keeps `session` (the reference is the cache's now) unless it has expired
    // or is already here; when full, the oldest goes.
    void put(SSL_SESSION* session, int64_t now_s);
    // The newest unexpired session for one dial, with a reference the caller
    // owns, or null: then the dial does a full handshake. A TLS 1.3 ticket leaves
    // the cache; a TLS 1.2 session stays.
    SSL_SESSION* take(int64_t now_s);
    // Forgets `session` if it is here (the one a failed dial offered: see
    // tls::forget_session); the caller's own reference stays the caller's.
    // Returns whether it was here.
    bool erase(const SSL_SESSION* session);
    // Forgets every session.
    void clear();

    size_t size() const { return sessions_.size(); }
    bool empty() const { return sessions_.empty(); }

    // When `session` stops being usable: its arrival plus its lifetime.
    static int64_t expiry_s(const SSL_SESSION* session);
    static bool single_use(const SSL_SESSION* session);

private:
    void drop_expired(int64_t now_s);

    size_t capacity_;
    std::vector<SSL_SESSION*> sessions_;  // newest first; one reference each
};

}  // namespace loopgate::tls
