// Inside tls_context: the per-route policy kept with each SSL_CTX, and the
// certificate verification that enforces it. Users include tls_context.hpp.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "ticket_cache.hpp"
#include "tls_chain.hpp"
#include "tls_context.hpp"

namespace loopgate::tls::detail {

struct RoutePolicy {
    config::TlsVerify verify = config::TlsVerify::full;
    std::vector<config::Pin> pins;
    bool has_client_cert = false;
    std::string trust;                     // trust_description()
    std::shared_ptr<const ChainVerifier> chain;  // judges chain and name for "full"
    // Sessions for the next dials; shared with the context a reload builds
    // with the same trust and identity (carry_session).
    std::shared_ptr<TicketCache> sessions = std::make_shared<TicketCache>();
};

// Replaces OpenSSL's chain check with the policy's verifier (for "full"),
// then the pins (or only the pins), and records a PeerReport on the SSL. Runs inside the handshake, so a
// peer that fails never sees a byte of HTTP.
void install_verifier(SSL_CTX* ctx, RoutePolicy* policy);

// What a certificate says, for reports: the peer's bytes (names) escaped,
// and at most 8 alternative names listed ("... and N more").
CertSummary summarize(X509* cert);

// The report of this SSL, created on first use.
PeerReport& report_for(SSL* ssl);

}  // namespace loopgate::tls::detail
