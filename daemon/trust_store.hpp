// Where a route's trust anchors come from (tls::TrustAnchors, for the
// daemon and `loopgate probe`).
//
// With tls.ca_file and/or tls.ca_dir those are the only anchors, checked by
// OpenSSL, on every platform. Otherwise the system store:
//  - with SSL_CERT_FILE and/or SSL_CERT_DIR set (read once, when the daemon
//    starts): OpenSSL with what they name, on every platform;
//  - else the platform's own store where it has one (platform_trust.hpp: on
//    macOS the Keychain, judged by the Security framework);
//  - else (Linux) what OpenSSL's own default paths name.
// Pins are checked on top of whichever judged the chain (tls_verify.cpp).
#pragma once

#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "platform_trust.hpp"
#include "tls_context.hpp"

namespace loopgate {

class SystemTrustAnchors final : public tls::TrustAnchors {
public:
    // Overrides of OpenSSL's default paths, as SSL_CERT_FILE and SSL_CERT_DIR give them.
    struct Overrides {
        std::optional<std::string> file;
        std::optional<std::string> dir;
    };

    // SSL_CERT_FILE, SSL_CERT_DIR and the platform's store (platform_system_trust()).
    static SystemTrustAnchors from_environment();
    // `platform`: the store used when there are no overrides and the route
    // names no CA files; none means OpenSSL's default paths.
    explicit SystemTrustAnchors(Overrides overrides, PlatformTrust platform = {})
        : overrides_(std::move(overrides)), platform_(std::move(platform)) {}

    tls::TrustLoad load(SSL_CTX* ctx, const config::TlsSettings& settings) const override;

private:
    tls::TrustLoad load_system(SSL_CTX* ctx) const;

    Overrides overrides_;
    PlatformTrust platform_;
};

// Why `file` cannot be a route's tls.ca_file, in the words load() would use
// ("No such file or directory", "not a regular file", "holds no PEM
// certificate", OpenSSL's reason), or nothing when it holds a certificate:
// `loopgate setup` checks its --ca-file with it before dialing.
std::optional<std::string> ca_file_problem(const std::string& file);

// Each route's TLS set up as `run` sets it up (its ca_file or the system
// store, its client certificate and key): one line per route it cannot be
// for, `routes[0] "gw": cannot prepare TLS: why`, as `check` and `setup` say it.
std::vector<std::string> route_tls_errors(const config::Config& config, const tls::TrustAnchors& anchors);

}  // namespace loopgate
