// TLS toward the upstream: one client SSL_CTX per route, one SSL per dial.
//
// The route's context carries its policy (verify mode, pins), its trust
// anchors, its client certificate and its session cache (ticket_cache.hpp):
// the sessions verified handshakes produced, each TLS 1.3 ticket offered to
// one dial, so reconnects and concurrent new sessions skip the full
// handshake. See docs/tls.md.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config.hpp"
#include "tls_chain.hpp"

namespace loopgate::tls {

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// What a route trusts, for the start log and probe, and who judges its chain.
struct TrustLoad {
    bool ok = false;
    std::string description;  // "system store: /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE, 140 certificates)"
    std::string error;        // when !ok: why the route has no usable trust anchor
    // Who checks chain and name (tls_chain.hpp). Null: OpenSSL, against the
    // anchors load() added to the SSL_CTX's store. The macOS Keychain path
    // sets its own and adds no anchors.
    std::shared_ptr<const ChainVerifier> verifier;
};

// Where the anchors of a "verify": "full" route come from, and who judges
// them: its ca_file / ca_dir or the system store, read from disk by the
// daemon, or the platform's own store (daemon/trust_store.hpp); a unit test
// may hand in its own.
class TrustAnchors {
public:
    virtual ~TrustAnchors() = default;
    // Adds the anchors for `settings` to ctx's store, or names the verifier
    // that holds them.
    virtual TrustLoad load(SSL_CTX* ctx, const config::TlsSettings& settings) const = 0;
};

// Verification per tls.verify (chain and name, then pins; or pins alone),
// the route's trust anchors (none for "pin-only"), TLS 1.2 or newer within min/max_version, the
// client certificate, ALPN http/1.1 and a client session cache. Returns null
// and sets error when it cannot be built, including when a "full" route has
// no usable trust anchor.
SslCtxPtr make_upstream_context(const config::Route& route, const TrustAnchors& anchors, std::string& error);

// What the route trusts, for the start log and probe:
// "system store: /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE, 140 certificates)".
const std::string& trust_description(SSL_CTX* ctx);

// A client SSL for one connection: SNI for names (never for IP literals), the
// name or IP the certificate must match, and a session from the route's
// cache if it has one (a TLS 1.3 ticket is then no other dial's).
SSL* new_upstream_ssl(SSL_CTX* ctx, const config::UpstreamUrl& upstream, std::string& error);

// After a reload that rebuilt a route's context with the same TLS settings:
// `to` shares the session cache of `from`, so the first dials after the reload
// resume instead of paying full handshakes. Only when both trust the same
// anchors (the same description) and present the same client certificate: a
// session is never carried across a change of identity or trust.
// Returns whether sessions were carried (shared and not empty).
bool carry_session(SSL_CTX* from, SSL_CTX* to);

// A connection that never sent its ClientHello (its TCP connect lost the race
// or failed) did not use its session: back into the route's cache with it.
void give_back_session(SSL* ssl);

// After a failed handshake: stop offering the session this connection offered
// (if any), so a session the server no longer accepts cannot make every later
// dial fail too. Only that one: the others are other dials' (a reset
// mid-handshake says nothing about them), and emptying the cache would make
// the next dials full handshakes.
void forget_session(SSL* ssl);

// After a completed handshake: the connection no longer needs to name the
// session it offered, so its reference goes (an idle session would otherwise
// keep a replaced session alive, ~1 KB, for as long as it lasts).
void release_offered_session(SSL* ssl);

// How many sessions the route's cache holds now (for /metrics).
size_t cached_sessions(SSL_CTX* ctx);

// One certificate as the upstream presented it.
struct CertSummary {
    std::string subject;     // RFC 2253, "CN=openclaw-gateway"
    std::string issuer;
    std::string names;       // subjectAltName: "DNS:a.test, IP:100.64.0.7", or ""
    std::string not_before;  // "2025-01-02T03:04:05Z"
    std::string not_after;
    std::string sha256_hex;  // SHA-256 of the DER, lowercase hex
    std::string spki_sha256_base64;  // SHA-256 of the SubjectPublicKeyInfo, base64
};

// What verification saw and decided, kept with each SSL.
struct PeerReport {
    std::vector<CertSummary> chain;  // as sent by the upstream, leaf first
    bool chain_checked = false;      // "full": chain and name were checked
    int chain_error = 0;             // X509_V_ERR_* of the failed check, 0 when it passed
    std::string chain_error_subject; // subject of the certificate that failed
    std::string chain_error_detail;  // the verifier's own words, when chain_error alone does not say why
    bool pins_checked = false;
    std::string matched_pin;         // canonical spelling of the pin that matched
    bool pin_mismatch = false;
    bool client_cert_requested = false;  // the server asked for one the route does not have
    int64_t verify_us = 0;           // time spent verifying
};

// Null when the handshake never reached verification (or was resumed: a
// resumed session was verified when it was first made).
const PeerReport* peer_report(const SSL* ssl);

// The pin spellings for a presented certificate.
std::string leaf_pin(const CertSummary& cert);  // "sha256:<hex>"
std::string spki_pin(const CertSummary& cert);  // "spki-sha256:<base64>"

// Why a handshake or read failed, in words for a person. Sets is_verify when
// the peer's certificate (chain, name or pin) was the problem.
std::string describe_failure(SSL* ssl, int ssl_error, bool& is_verify);

// A certificate error's text (describe_failure's) with its advice to add a
// CA "with tls.ca_file" naming `instead` as the way to add it: `loopgate
// setup` takes the CA as --ca-file. Any other text is returned as it is.
std::string with_ca_advice(std::string_view text, std::string_view instead);

// "TLSv1.3 TLS_AES_256_GCM_SHA384"
std::string describe_session(SSL* ssl);

}  // namespace loopgate::tls
