// Which certificates a route trusts as anchors, loaded into its SSL_CTX.
//
// With tls.ca_file and/or tls.ca_dir those are the only anchors. Otherwise
// the system store: what OpenSSL's own default paths name (SSL_CERT_FILE and
// SSL_CERT_DIR override them), and on macOS, where OpenSSL does not read the
// Keychain, Homebrew's and the system's PEM bundles when the defaults hold
// nothing. The description says which one was used, for the start log and
// `loopgate probe`.
#pragma once

#include <openssl/ssl.h>

#include <string>

#include "config.hpp"

namespace loopgate::tls {

struct TrustLoad {
    bool ok = false;
    std::string description;  // "system: /etc/ssl/certs/ca-certificates.crt (SSL_CERT_FILE, 140 certificates)"
    std::string error;        // when !ok: why the route has no usable trust anchor
};

TrustLoad load_trust_anchors(SSL_CTX* ctx, const config::TlsSettings& settings);

}  // namespace loopgate::tls
