// Where a route's trust anchors come from (tls::TrustAnchors, for the
// daemon and `loopgate probe`).
//
// With tls.ca_file and/or tls.ca_dir those are the only anchors. Otherwise
// the system store: what OpenSSL's own default paths name, or what
// SSL_CERT_FILE and SSL_CERT_DIR say instead (read once, when the daemon
// starts), and on macOS, where OpenSSL does not read the Keychain,
// Homebrew's and the system's PEM bundles when those hold nothing.
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>

#include "config.hpp"
#include "tls_context.hpp"

namespace loopgate {

class SystemTrustAnchors final : public tls::TrustAnchors {
public:
    // Overrides of OpenSSL's default paths, as SSL_CERT_FILE and SSL_CERT_DIR give them.
    struct Overrides {
        std::optional<std::string> file;
        std::optional<std::string> dir;
    };

    static SystemTrustAnchors from_environment();
    explicit SystemTrustAnchors(Overrides overrides) : overrides_(std::move(overrides)) {}

    tls::TrustLoad load(SSL_CTX* ctx, const config::TlsSettings& settings) const override;

private:
    tls::TrustLoad load_system(SSL_CTX* ctx) const;

    Overrides overrides_;
};

}  // namespace loopgate
