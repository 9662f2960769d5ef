// macOS: the system store is the Keychain, with the trust settings of the
// system, the admin (roots an MDM profile installed) and the user
// (certificates trusted in the login Keychain), none of which OpenSSL reads.
// A "verify": "full" route without tls.ca_file / tls.ca_dir (and without
// SSL_CERT_FILE / SSL_CERT_DIR) hands the upstream's chain to the Security
// framework: SecTrustCreateWithCertificates with SecPolicyCreateSSL(true,
// host), then SecTrustEvaluateWithError, as curl's --with-apple-sectrust
// build does. OpenSSL's name check runs on top (the same rules as Linux), and
// the pins after that (tls_verify.cpp).
//
// The handshake runs on the event loop and SecTrustEvaluateWithError is
// synchronous, so network fetching is turned off
// (SecTrustSetNetworkFetchAllowed false): no AIA fetch of an intermediate
// the upstream did not send (OpenSSL does not fetch one either), no OCSP or
// CRL request. Revocation is then what macOS knows without asking the
// network (its own revocation data). What is left is an IPC round trip to
// trustd per full handshake; resumed sessions skip verification.
//
// Written from Apple's documentation of SecTrust, SecPolicy, SecCertificate
// and Core Foundation. Built only on macOS, which this project's CI does not
// have: UNTESTED on a Mac (docs/tls.md says so). CI compiles it against our
// stand-ins for Apple's headers (tools/check-darwin.sh, tests/darwin-shim/)
// and unit-tests its verdicts (sectrust_verdict.cpp) and the OpenSSL twin.
#include <CoreFoundation/CoreFoundation.h>
#include <Security/Security.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "platform_trust.hpp"
#include "sectrust_verdict.hpp"

namespace loopgate {
namespace {

// The numbers sectrust_verdict.cpp matches must be Apple's own.
static_assert(sectrust::kCreateChainFailed == errSecCreateChainFailed);
static_assert(sectrust::kHostNameMismatch == errSecHostNameMismatch);
static_assert(sectrust::kInvalidExtendedKeyUsage == errSecInvalidExtendedKeyUsage);
static_assert(sectrust::kTrustSettingDeny == errSecTrustSettingDeny);
static_assert(sectrust::kCertificateExpired == errSecCertificateExpired);
static_assert(sectrust::kCertificateNotValidYet == errSecCertificateNotValidYet);
static_assert(sectrust::kCertificateRevoked == errSecCertificateRevoked);
static_assert(sectrust::kNotTrusted == errSecNotTrusted);
static_assert(sectrust::kCertificateValidityPeriodTooLong == errSecCertificateValidityPeriodTooLong);

// One owner for one Core Foundation object from a Create or Copy function:
// released exactly once, when the holder goes. Never copied.
template <typename Ref>
class CfHolder {
public:
    CfHolder() = default;
    explicit CfHolder(Ref ref) : ref_(ref) {}
    ~CfHolder() { reset(); }
    CfHolder(const CfHolder&) = delete;
    CfHolder& operator=(const CfHolder&) = delete;
    CfHolder(CfHolder&& other) noexcept : ref_(std::exchange(other.ref_, nullptr)) {}
    CfHolder& operator=(CfHolder&& other) noexcept {
        if (this != &other) {
            reset();
            ref_ = std::exchange(other.ref_, nullptr);
        }
        return *this;
    }

    Ref get() const { return ref_; }
    explicit operator bool() const { return ref_ != nullptr; }
    // For an out parameter that hands over ownership (SecTrustCreateWithCertificates, SecTrustEvaluateWithError).
    Ref* out() {
        reset();
        return &ref_;
    }

private:
    void reset() {
        if (ref_ != nullptr) CFRelease(ref_);
        ref_ = nullptr;
    }

    Ref ref_ = nullptr;
};

std::string text_of(CFStringRef string) {
    if (string == nullptr) return "";
    CFIndex size = CFStringGetMaximumSizeForEncoding(CFStringGetLength(string), kCFStringEncodingUTF8) + 1;
    std::string out(static_cast<size_t>(size), '\0');
    if (!CFStringGetCString(string, out.data(), size, kCFStringEncodingUTF8)) return "";
    out.resize(std::char_traits<char>::length(out.c_str()));
    return out;
}

tls::ChainVerdict cannot_evaluate(const std::string& why) {
    tls::ChainVerdict verdict;
    verdict.error = X509_V_ERR_UNSPECIFIED;
    verdict.failed_subject = "?";
    verdict.detail = "the macOS Security framework could not evaluate the chain: " + why;
    return verdict;
}

// The certificate as the Security framework holds it; empty when it cannot read it.
CfHolder<SecCertificateRef> sec_certificate(X509* cert) {
    unsigned char* der = nullptr;
    int len = i2d_X509(cert, &der);
    if (len <= 0) return {};
    CfHolder<CFDataRef> data(CFDataCreate(kCFAllocatorDefault, der, len));
    OPENSSL_free(der);
    if (!data) return {};
    return CfHolder<SecCertificateRef>(SecCertificateCreateWithData(kCFAllocatorDefault, data.get()));
}

class KeychainVerifier final : public tls::ChainVerifier {
public:
    tls::ChainVerdict verify(const tls::ChainQuery& query) const override {
        if (query.sent.empty()) return cannot_evaluate("the upstream sent no certificate");
        // SecPolicyCreateSSL with no name checks none: a "full" route always has one.
        if (query.host.empty()) return tls::check_name(query);

        std::vector<CfHolder<SecCertificateRef>> held;
        std::vector<const void*> values;
        held.reserve(query.sent.size());
        for (size_t i = 0; i < query.sent.size(); ++i) {
            CfHolder<SecCertificateRef> cert = sec_certificate(query.sent[i]);
            if (!cert) return cannot_evaluate("it cannot read certificate " + std::to_string(i) + " the upstream sent");
            values.push_back(cert.get());
            held.push_back(std::move(cert));
        }
        // The array retains each certificate; `held` still releases its own reference.
        CfHolder<CFArrayRef> chain(CFArrayCreate(kCFAllocatorDefault, values.data(),
                                                 static_cast<CFIndex>(values.size()), &kCFTypeArrayCallBacks));
        CfHolder<CFStringRef> host(CFStringCreateWithCString(kCFAllocatorDefault, query.host.c_str(), kCFStringEncodingUTF8));
        if (!chain || !host) return cannot_evaluate("out of memory");
        CfHolder<SecPolicyRef> policy(SecPolicyCreateSSL(true, host.get()));
        if (!policy) return cannot_evaluate("SecPolicyCreateSSL failed");

        CfHolder<SecTrustRef> trust;
        OSStatus status = SecTrustCreateWithCertificates(chain.get(), policy.get(), trust.out());
        if (status != errSecSuccess || !trust) {
            return cannot_evaluate("SecTrustCreateWithCertificates returned OSStatus " + std::to_string(status));
        }
        // On the event loop: no OCSP, CRL or AIA request may hold every other connection up.
        status = SecTrustSetNetworkFetchAllowed(trust.get(), false);
        if (status != errSecSuccess) {
            return cannot_evaluate("SecTrustSetNetworkFetchAllowed returned OSStatus " + std::to_string(status));
        }

        CfHolder<CFErrorRef> error;
        if (SecTrustEvaluateWithError(trust.get(), error.out())) return tls::check_name(query);
        int32_t code = error ? static_cast<int32_t>(CFErrorGetCode(error.get())) : 0;
        CfHolder<CFStringRef> description(error ? CFErrorCopyDescription(error.get()) : nullptr);
        return sectrust::verdict_for(code, text_of(description.get()), query);
    }
};

}  // namespace

PlatformTrust platform_system_trust() {
    return PlatformTrust{std::make_shared<const KeychainVerifier>(),
                         "system store: the macOS Keychain and its trust settings (Security framework, "
                         "no network fetches)"};
}

}  // namespace loopgate
