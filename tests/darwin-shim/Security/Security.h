// Stand-in for Apple's <Security/Security.h> (SecBase.h, SecCertificate.h,
// SecPolicy.h, SecTrust.h), declaring only what
// daemon/platform_trust_darwin.cpp uses. Linux has no such header. See README.md.
#ifndef LOOPGATE_DARWIN_SHIM_SECURITY_H
#define LOOPGATE_DARWIN_SHIM_SECURITY_H

#include <CoreFoundation/CoreFoundation.h>
#include <MacTypes.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

// SecBase.h: opaque Security framework objects (CF objects: CFRelease them).
typedef struct __SecCertificate* SecCertificateRef;
typedef struct __SecPolicy* SecPolicyRef;
typedef struct __SecTrust* SecTrustRef;

// SecBase.h, "Security Framework Result Codes": the OSStatus values
// loopgate tells apart (daemon/sectrust_verdict.hpp has the same numbers).
enum {
    errSecSuccess = 0,
    errSecCreateChainFailed = -25318,
    errSecHostNameMismatch = -67602,
    errSecInvalidExtendedKeyUsage = -67609,
    errSecTrustSettingDeny = -67654,
    errSecCertificateExpired = -67818,
    errSecCertificateNotValidYet = -67819,
    errSecCertificateRevoked = -67820,
    errSecNotTrusted = -67843,
    errSecCertificateValidityPeriodTooLong = -67901,
};

// SecCertificate.h: a certificate from its DER encoding (Create rule); NULL
// when `data` is not a DER X.509 certificate.
SecCertificateRef SecCertificateCreateWithData(CFAllocatorRef allocator, CFDataRef data);

// SecPolicy.h: the SSL policy (Create rule). server true: evaluating a
// server's certificate; `hostname` the name (or IP address) it must be for;
// NULL means no name is checked.
SecPolicyRef SecPolicyCreateSSL(Boolean server, CFStringRef hostname);

// SecTrust.h: a trust object (Create rule, *trust) for `certificates` (one
// SecCertificateRef or a CFArray of them, the one to verify first, then any
// that may help build the chain) under `policies` (one SecPolicyRef or a
// CFArray). Anchors are the system's, with its trust settings, unless
// SecTrustSetAnchorCertificates says otherwise.
OSStatus SecTrustCreateWithCertificates(CFTypeRef certificates, CFTypeRef policies, SecTrustRef* trust);

// SecTrust.h: whether evaluation may fetch over the network (missing
// intermediates by AIA, OCSP and CRL for revocation).
OSStatus SecTrustSetNetworkFetchAllowed(SecTrustRef trust, Boolean allowFetch);

// SecTrust.h (macOS 10.14): evaluates completely before it returns; true when
// trusted. On false, *error (when error is not NULL) is a CFError the caller
// owns, whose code is the OSStatus of the most serious failure. The header
// warns that it may block on network access (fetching intermediates,
// checking revocation) and so belongs off the main run loop.
bool SecTrustEvaluateWithError(SecTrustRef trust, CFErrorRef* error);

#ifdef __cplusplus
}
#endif

#endif
