// What a refusal by the macOS Security framework means in OpenSSL's terms.
//
// SecTrustEvaluateWithError refuses with a CFError whose code is an OSStatus
// (errSecCertificateExpired, errSecHostNameMismatch, errSecNotTrusted...).
// platform_trust_darwin.cpp hands that code here with the chain the upstream
// sent, and gets back the X509_V_ERR_* code and the certificate at fault that
// OpenSSL would have reported, so `loopgate probe`, the 502 reason and
// `loopgate setup` (which tells a self-signed gateway from any other failure
// by that code) read the same on both paths. Plain C++ and OpenSSL: built and
// unit-tested on every platform, although only macOS calls it.
#pragma once

#include <cstdint>
#include <string>

#include "tls_chain.hpp"

namespace loopgate::sectrust {

// OSStatus result codes, as Apple's <Security/SecBase.h> defines them
// ("Security Framework Result Codes"). platform_trust_darwin.cpp checks each
// against the header's own constant at compile time.
constexpr int32_t kCreateChainFailed = -25318;                // errSecCreateChainFailed
constexpr int32_t kHostNameMismatch = -67602;                 // errSecHostNameMismatch
constexpr int32_t kInvalidExtendedKeyUsage = -67609;          // errSecInvalidExtendedKeyUsage
constexpr int32_t kTrustSettingDeny = -67654;                 // errSecTrustSettingDeny
constexpr int32_t kCertificateExpired = -67818;               // errSecCertificateExpired
constexpr int32_t kCertificateNotValidYet = -67819;           // errSecCertificateNotValidYet
constexpr int32_t kCertificateRevoked = -67820;               // errSecCertificateRevoked
constexpr int32_t kNotTrusted = -67843;                       // errSecNotTrusted
constexpr int32_t kCertificateValidityPeriodTooLong = -67901; // errSecCertificateValidityPeriodTooLong

// The verdict for a refusal with `status` (0 when SecTrust gave no error
// object) and Apple's own description of it. Expired / not yet valid name the
// first sent certificate out of its dates; an untrusted chain is told apart
// by its shape as OpenSSL tells it: a lone self-signed leaf, a chain ending in
// a self-signed CA, or one whose issuer is unknown. Codes without an OpenSSL
// twin keep Apple's words in the verdict's detail.
tls::ChainVerdict verdict_for(int32_t status, const std::string& apple_text, const tls::ChainQuery& query);

}  // namespace loopgate::sectrust
