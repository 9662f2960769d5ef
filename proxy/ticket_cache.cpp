#include "ticket_cache.hpp"

#include <algorithm>

namespace loopgate::tls {

TicketCache::~TicketCache() { clear(); }

int64_t TicketCache::expiry_s(const SSL_SESSION* session) {
    int64_t lifetime = SSL_SESSION_get_timeout(session);
    // A ticket's lifetime is the server's word for how long it will take it back.
    uint64_t hint = SSL_SESSION_has_ticket(session) == 1 ? SSL_SESSION_get_ticket_lifetime_hint(session) : 0;
    if (hint > 0 && static_cast<int64_t>(hint) < lifetime) lifetime = static_cast<int64_t>(hint);
    return static_cast<int64_t>(SSL_SESSION_get_time(session)) + lifetime;
}

bool TicketCache::single_use(const SSL_SESSION* session) {
    return SSL_SESSION_get_protocol_version(session) >= TLS1_3_VERSION;
}

void TicketCache::drop_expired(int64_t now_s) {
    auto expired = [now_s](SSL_SESSION* s) {
        if (expiry_s(s) > now_s) return false;
        SSL_SESSION_free(s);
        return true;
    };
    sessions_.erase(std::remove_if(sessions_.begin(), sessions_.end(), expired), sessions_.end());
}

void TicketCache::put(SSL_SESSION* session, int64_t now_s) {
    drop_expired(now_s);
    bool known = std::find(sessions_.begin(), sessions_.end(), session) != sessions_.end();
    if (known || expiry_s(session) <= now_s || capacity_ == 0) {
        SSL_SESSION_free(session);
        return;
    }
    // Newest first by arrival; a ticket given back unused goes where its age puts it.
    long arrived = SSL_SESSION_get_time(session);
    auto place = std::find_if(sessions_.begin(), sessions_.end(),
                              [arrived](SSL_SESSION* s) { return SSL_SESSION_get_time(s) <= arrived; });
    sessions_.insert(place, session);
    if (sessions_.size() > capacity_) {
        SSL_SESSION_free(sessions_.back());
        sessions_.pop_back();
    }
}

SSL_SESSION* TicketCache::take(int64_t now_s) {
    drop_expired(now_s);
    if (sessions_.empty()) return nullptr;
    SSL_SESSION* newest = sessions_.front();
    if (single_use(newest)) {
        sessions_.erase(sessions_.begin());  // its reference goes to the caller
        return newest;
    }
    if (SSL_SESSION_up_ref(newest) != 1) return nullptr;
    return newest;
}

bool TicketCache::erase(const SSL_SESSION* session) {
    auto found = std::find(sessions_.begin(), sessions_.end(), session);
    if (found == sessions_.end()) return false;
    SSL_SESSION_free(*found);
    sessions_.erase(found);
    return true;
}

void TicketCache::clear() {
    for (SSL_SESSION* s : sessions_) SSL_SESSION_free(s);
    sessions_.clear();
}

}  // namespace loopgate::tls
