// The system store a platform keeps outside OpenSSL's files, for
// SystemTrustAnchors (trust_store.hpp) to use when neither the route
// (tls.ca_file, tls.ca_dir) nor the environment (SSL_CERT_FILE,
// SSL_CERT_DIR) names certificate files:
//
//  - macOS (platform_trust_darwin.cpp): the Keychain with its trust settings
//    (system roots, roots an MDM profile installed, certificates a person
//    trusted in the login Keychain), judged by the Security framework
//    (SecTrust with an SSL policy for the host name), which OpenSSL never
//    reads.
//  - everywhere else (platform_trust_none.cpp): none; the system store is
//    OpenSSL's own default files.
#pragma once

#include <memory>
#include <string>

#include "tls_chain.hpp"

namespace loopgate {

struct PlatformTrust {
    std::shared_ptr<const tls::ChainVerifier> verifier;  // null: the platform has no store of its own
    std::string description;  // the route's trust, for the start log and probe: "system store: ..."
    explicit operator bool() const { return verifier != nullptr; }
};

PlatformTrust platform_system_trust();

}  // namespace loopgate
