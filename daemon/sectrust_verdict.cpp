#include "sectrust_verdict.hpp"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

namespace loopgate::sectrust {
namespace {

std::string subject_of(X509* cert) { return tls::name_text(X509_get_subject_name(cert)); }

std::string apple_words(int32_t status, const std::string& apple_text) {
    return "macOS: " + (apple_text.empty() ? std::string("no description") : apple_text) + " (OSStatus " +
           std::to_string(status) + ")";
}

// OpenSSL checks dates from the top of the chain down to the leaf and
// reports the first certificate out of them; so does this, over what was sent.
tls::ChainVerdict dates(int32_t status, const std::string& apple_text, const tls::ChainQuery& query) {
    tls::ChainVerdict verdict;
    for (auto it = query.sent.rbegin(); it != query.sent.rend(); ++it) {
        if (X509_cmp_current_time(X509_get0_notBefore(*it)) > 0) {
            verdict.error = X509_V_ERR_CERT_NOT_YET_VALID;
        } else if (X509_cmp_current_time(X509_get0_notAfter(*it)) < 0) {
            verdict.error = X509_V_ERR_CERT_HAS_EXPIRED;
        } else {
            continue;
        }
        verdict.failed_subject = subject_of(*it);
        return verdict;  // confirmed by OpenSSL's own reading of the dates: no need for Apple's words
    }
    // Every certificate sent is within its dates: the one at fault is a CA
    // certificate macOS took from the Keychain to complete the chain.
    verdict.error = status == kCertificateNotValidYet ? X509_V_ERR_CERT_NOT_YET_VALID : X509_V_ERR_CERT_HAS_EXPIRED;
    verdict.failed_subject = "a CA certificate from the macOS Keychain";
    verdict.detail = apple_words(status, apple_text);
    return verdict;
}

tls::ChainVerdict wrong_name(int32_t status, const std::string& apple_text, const tls::ChainQuery& query) {
    tls::ChainVerdict verdict = tls::check_name(query);
    if (!verdict.ok()) return verdict;  // OpenSSL's rules agree: the same words as on Linux
    verdict.error = query.host_is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
    verdict.failed_subject = subject_of(query.sent.front());
    verdict.detail = apple_words(status, apple_text);
    return verdict;
}

// Told apart as OpenSSL's chain building tells it. macOS does not say which
// case it met, so its own words go along.
tls::ChainVerdict untrusted(int32_t status, const std::string& apple_text, const tls::ChainQuery& query) {
    tls::ChainVerdict verdict;
    X509* last = query.sent.back();
    if (X509_self_signed(last, 0) == 1) {
        verdict.error = query.sent.size() == 1 ? X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
                                               : X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN;
    } else {
        verdict.error = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
    }
    verdict.failed_subject = subject_of(last);
    verdict.detail = apple_words(status, apple_text);
    return verdict;
}

tls::ChainVerdict refused(int error, std::string subject, std::string detail) {
    tls::ChainVerdict verdict;
    verdict.error = error;
    verdict.failed_subject = std::move(subject);
    verdict.detail = std::move(detail);
    return verdict;
}

}  // namespace

tls::ChainVerdict verdict_for(int32_t status, const std::string& apple_text, const tls::ChainQuery& query) {
    if (query.sent.empty()) return refused(X509_V_ERR_UNSPECIFIED, "?", "the upstream sent no certificate");
    std::string leaf = subject_of(query.sent.front());
    switch (status) {
    case kCertificateExpired:
    case kCertificateNotValidYet: return dates(status, apple_text, query);
    case kHostNameMismatch: return wrong_name(status, apple_text, query);
    case kNotTrusted:
    case kCreateChainFailed: return untrusted(status, apple_text, query);
    case kCertificateRevoked: return refused(X509_V_ERR_CERT_REVOKED, leaf, apple_words(status, apple_text));
    case kInvalidExtendedKeyUsage:
        return refused(X509_V_ERR_INVALID_PURPOSE, leaf,
                       "it is not for TLS servers (extended key usage); " + apple_words(status, apple_text));
    case kTrustSettingDeny:
        return refused(X509_V_ERR_CERT_REJECTED, leaf,
                       "a certificate of the chain is set to \"Never Trust\" in the Keychain; " +
                           apple_words(status, apple_text));
    case kCertificateValidityPeriodTooLong:
        return refused(X509_V_ERR_UNSPECIFIED, leaf,
                       "macOS refuses a TLS server certificate valid for longer than it allows (825 days, 398 for "
                       "a public CA): reissue it with a shorter life, or trust its CA with tls.ca_file, which "
                       "OpenSSL checks; " +
                           apple_words(status, apple_text));
    default:
        return refused(X509_V_ERR_UNSPECIFIED, leaf, "refused by the macOS Security framework; " +
                                                         apple_words(status, apple_text));
    }
}

}  // namespace loopgate::sectrust
