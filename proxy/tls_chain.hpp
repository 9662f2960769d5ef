// Who judges the chain and name of a "verify": "full" upstream: a seam inside
// the handshake's verify callback (tls_verify.cpp).
//
// OpenSSL's X509_verify_cert against the anchors the route's TrustAnchors put
// into its SSL_CTX is one verifier: on every platform for tls.ca_file /
// tls.ca_dir, and for the system store everywhere but macOS. On macOS the
// system store is the Keychain, judged by the Security framework
// (daemon/platform_trust_darwin.cpp). Whichever judges, its verdict is an
// X509_V_ERR_* code and the certificate at fault, so what a person reads
// (describe_failure) is worded the same. Pins are checked after the verdict,
// never by a verifier. See docs/tls.md.
#pragma once

#include <openssl/x509.h>

#include <memory>
#include <string>
#include <vector>

namespace loopgate::tls {

// What a verifier is asked, from inside the handshake.
struct ChainQuery {
    X509_STORE_CTX* store = nullptr;  // OpenSSL's context: the route's anchors and the SSL's expected name
    std::vector<X509*> sent;          // what the upstream sent, leaf first; owned by the handshake
    std::string host;                 // the name, or IPv4 literal, the leaf must be for ("" when none was set)
    bool host_is_ip = false;
};

// The query for this verification: the peer's chain and the name
// new_upstream_ssl set (SSL_set1_host, or the IP for an IP literal).
ChainQuery query_for(X509_STORE_CTX* store);

struct ChainVerdict {
    int error = X509_V_OK;       // X509_V_ERR_* when refused
    std::string failed_subject;  // the certificate at fault (RFC 2253), or what it is when it was not sent
    std::string detail;          // the verifier's own words when the code alone does not say why; "" from OpenSSL
    bool ok() const { return error == X509_V_OK; }
};

class ChainVerifier {
public:
    virtual ~ChainVerifier() = default;
    // Runs on the event loop, inside the handshake: must not block for long.
    virtual ChainVerdict verify(const ChainQuery& query) const = 0;
};

// X509_verify_cert: chain, dates and name against the anchors in the route's
// SSL_CTX store. One shared instance; it keeps no state.
std::shared_ptr<const ChainVerifier> openssl_chain_verifier();

// The leaf against query.host by OpenSSL's rules (X509_check_host with the
// SSL's host flags, or X509_check_ip_asc), as X509_verify_cert checks it. A
// verifier that matches names its own way runs this too, so the name rules
// are the same on every platform. An empty host is refused: a "full" route
// always has a name to check.
ChainVerdict check_name(const ChainQuery& query);

// RFC 2253 order and escaping, UTF-8 left readable: "CN=openclaw-gateway".
std::string name_text(const X509_NAME* name);

}  // namespace loopgate::tls
