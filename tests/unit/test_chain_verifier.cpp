// The seam between the handshake and whoever judges a "full" route's chain
// (proxy/tls_chain.hpp): what a verifier is asked, that its verdict decides
// (and becomes the SSL's verify result and the words), that pins still apply
// on top, which verifier SystemTrustAnchors picks (the platform's store, or
// OpenSSL for files), and the macOS Security framework's refusals put in
// OpenSSL's words (daemon/sectrust_verdict), compared with what the OpenSSL
// path says for the very same chain.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "platform_trust.hpp"
#include "sectrust_verdict.hpp"
#include "temp_dir.hpp"
#include "test_pki.hpp"
#include "tls_chain.hpp"
#include "tls_handshake.hpp"
#include "tls_pins.hpp"
#include "trust_store.hpp"

using loopgate::PlatformTrust;
using loopgate::SystemTrustAnchors;
using loopgate::config::TlsSettings;
using loopgate::tls::ChainQuery;
using loopgate::tls::ChainVerdict;
using namespace loopgate::test;
namespace sectrust = loopgate::sectrust;

namespace {

// Says what `judge` says, and remembers what it was asked.
class FakeVerifier final : public loopgate::tls::ChainVerifier {
public:
    explicit FakeVerifier(std::function<ChainVerdict(const ChainQuery&)> judge) : judge_(std::move(judge)) {}

    ChainVerdict verify(const ChainQuery& query) const override {
        ++calls;
        sent.clear();
        for (X509* cert : query.sent) sent.push_back(loopgate::tls::name_text(X509_get_subject_name(cert)));
        host = query.host;
        host_is_ip = query.host_is_ip;
        return judge_(query);
    }

    mutable int calls = 0;
    mutable std::vector<std::string> sent;
    mutable std::string host;
    mutable bool host_is_ip = false;

private:
    std::function<ChainVerdict(const ChainQuery&)> judge_;
};

std::shared_ptr<FakeVerifier> accepting() {
    return std::make_shared<FakeVerifier>([](const ChainQuery&) { return ChainVerdict{}; });
}

// A store of its own, as the macOS Keychain is: no anchors in the SSL_CTX.
class FakeAnchors final : public loopgate::tls::TrustAnchors {
public:
    explicit FakeAnchors(std::shared_ptr<const loopgate::tls::ChainVerifier> verifier) : verifier_(std::move(verifier)) {}
    loopgate::tls::TrustLoad load(SSL_CTX*, const TlsSettings&) const override {
        return {true, "fake store", "", verifier_};
    }

private:
    std::shared_ptr<const loopgate::tls::ChainVerifier> verifier_;
};

// What SecTrust would answer for a chain it refuses with `status`, as
// platform_trust_darwin.cpp turns it into a verdict.
FakeAnchors apple_refusing(int32_t status) {
    return FakeAnchors(std::make_shared<FakeVerifier>(
        [status](const ChainQuery& query) { return sectrust::verdict_for(status, "Apple's words", query); }));
}

loopgate::config::Pin pin_of(X509* cert) {
    loopgate::config::Pin pin;
    REQUIRE(loopgate::config::parse_pin(leaf_pin_text(cert), pin) == std::nullopt);
    return pin;
}

struct Pki {
    TempDir dir;
    Issued ca = make_ca("unit test CA");
    std::string ca_file = write_pem(dir, "ca.pem", ca.cert.get()).string();
    SystemTrustAnchors system{SystemTrustAnchors::Overrides{ca_file, (dir.path() / "no-dir").string()}};
};

ChainQuery query_of(const std::vector<const Issued*>& chain, const std::string& host, bool is_ip = false) {
    ChainQuery query;
    for (const Issued* cert : chain) query.sent.push_back(cert->cert.get());
    query.host = host;
    query.host_is_ip = is_ip;
    return query;
}

}  // namespace

TEST_CASE("chain verifier: is asked with the chain as sent, leaf first, and the name or IP to match") {
    Issued root = make_ca("root CA");
    Issued intermediate = issue({"intermediate CA", "", true}, &root);
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &intermediate);
    auto verifier = accepting();
    FakeAnchors anchors(verifier);
    HandshakeResult r = handshake(route_for("wss://gateway.test"), anchors, leaf, {&intermediate});
    INFO(r.reason);
    CHECK(r.ok);
    CHECK(verifier->calls == 1);
    CHECK(verifier->sent == std::vector<std::string>{"CN=gateway.test", "CN=intermediate CA"});
    CHECK(verifier->host == "gateway.test");
    CHECK_FALSE(verifier->host_is_ip);

    r = handshake(route_for("wss://127.0.0.1:18789"), anchors, leaf, {&intermediate});
    CHECK(r.ok);
    CHECK(verifier->host == "127.0.0.1");
    CHECK(verifier->host_is_ip);
}

TEST_CASE("chain verifier: its verdict decides, and a refusal is the SSL's verify result, in its words") {
    Issued self = issue({"gateway.test", "DNS:gateway.test"});  // OpenSSL with any store would refuse it
    auto verifier = accepting();
    FakeAnchors anchors(verifier);
    HandshakeResult r = handshake(route_for("wss://gateway.test"), anchors, self);
    INFO(r.reason);
    CHECK(r.ok);
    REQUIRE(r.report);
    CHECK(r.report->chain_checked);
    CHECK(r.report->chain_error == 0);

    FakeAnchors refusing(std::make_shared<FakeVerifier>([](const ChainQuery&) {
        return ChainVerdict{X509_V_ERR_CERT_REVOKED, "CN=gateway.test", "macOS: it is revoked (OSStatus -67820)"};
    }));
    r = handshake(route_for("wss://gateway.test"), refusing, self);
    CHECK_FALSE(r.ok);
    CHECK(r.is_verify);
    CHECK(r.verify_result == X509_V_ERR_CERT_REVOKED);
    REQUIRE(r.report);
    CHECK(r.report->chain_error == X509_V_ERR_CERT_REVOKED);
    CHECK(r.report->chain_error_detail == "macOS: it is revoked (OSStatus -67820)");
    CHECK(r.reason == "upstream certificate verify failed: certificate revoked (CN=gateway.test); macOS: it is "
                      "revoked (OSStatus -67820)");
}

TEST_CASE("chain verifier: pins still apply on top of its verdict, and pin-only never asks it") {
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"});
    Issued other = issue({"gateway.test", "DNS:gateway.test"});
    auto verifier = accepting();
    FakeAnchors anchors(verifier);
    TlsSettings tls;
    tls.pins.push_back(pin_of(other.cert.get()));
    HandshakeResult r = handshake(route_for("wss://gateway.test", tls), anchors, leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.is_verify);
    REQUIRE(r.report);
    CHECK(r.report->pin_mismatch);
    CHECK(r.reason.find("upstream certificate does not match any pin in tls.pins") == 0);

    tls.pins = {pin_of(leaf.cert.get())};
    r = handshake(route_for("wss://gateway.test", tls), anchors, leaf);
    CHECK(r.ok);
    REQUIRE(r.report);
    CHECK(r.report->matched_pin == leaf_pin_text(leaf.cert.get()));

    // A matching pin does not stand in for a refused chain.
    FakeAnchors refusing = apple_refusing(sectrust::kNotTrusted);
    r = handshake(route_for("wss://gateway.test", tls), refusing, leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.verify_result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);

    int before = verifier->calls;
    tls.verify = loopgate::config::TlsVerify::pin_only;
    r = handshake(route_for("wss://gateway.test", tls), anchors, leaf);
    CHECK(r.ok);
    CHECK(verifier->calls == before);
}

TEST_CASE("trust: the platform's store is used only when neither the route nor SSL_CERT_* names files") {
    Pki pki;
    auto keychain = accepting();
    PlatformTrust platform{keychain, "system store: fake keychain"};
    Issued stranger = make_ca("stranger CA");
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &stranger);  // only the fake keychain accepts it

    SystemTrustAnchors plain({}, platform);
    std::string error;
    auto ctx = loopgate::tls::make_upstream_context(route_for("wss://gateway.test"), plain, error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) == "system store: fake keychain");
    HandshakeResult r = handshake(route_for("wss://gateway.test"), plain, leaf);
    CHECK(r.ok);
    CHECK(keychain->calls == 1);

    // tls.ca_file: OpenSSL with that CA alone, whatever the platform keeps.
    TlsSettings tls;
    tls.ca_file = pki.ca_file;
    r = handshake(route_for("wss://gateway.test", tls), plain, leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK(keychain->calls == 1);

    // SSL_CERT_FILE set: OpenSSL with that file.
    SystemTrustAnchors overridden(SystemTrustAnchors::Overrides{pki.ca_file, std::nullopt}, platform);
    ctx = loopgate::tls::make_upstream_context(route_for("wss://gateway.test"), overridden, error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()).find("system store: " + pki.ca_file + " (SSL_CERT_FILE, 1 certificate)") == 0);
    r = handshake(route_for("wss://gateway.test"), overridden, leaf);
    CHECK_FALSE(r.ok);
    CHECK(keychain->calls == 1);

    // Only macOS has a store of its own.
#if defined(__APPLE__)
    CHECK(loopgate::platform_system_trust());
#else
    CHECK_FALSE(loopgate::platform_system_trust());
#endif
}

TEST_CASE("sectrust: Apple's refusals read as OpenSSL's for the same chain (expired, wrong host, untrusted root)") {
    Pki pki;
    Issued stranger = make_ca("stranger CA");
    Issued good = issue({"gateway.test", "DNS:gateway.test"}, &pki.ca);
    Issued expired = issue({"gateway.test", "DNS:gateway.test", false, -7200, -3600}, &pki.ca);
    Issued early = issue({"gateway.test", "DNS:gateway.test", false, 3600, 7200}, &pki.ca);
    Issued other_host = issue({"other.test", "DNS:other.test"}, &pki.ca);
    Issued other_ip = issue({"gw", "IP:127.0.0.2"}, &pki.ca);
    Issued unknown = issue({"gateway.test", "DNS:gateway.test"}, &stranger);
    Issued self = issue({"openclaw-gateway", ""});

    struct Case {
        const char* what;
        const char* url;
        int32_t status;  // what SecTrust refuses such a chain with
        const Issued* leaf;
        std::vector<const Issued*> sent;
        bool confirmed;  // OpenSSL's own reading confirms the reason: no Apple words needed
    };
    std::vector<Case> cases = {
        {"expired", "wss://gateway.test", sectrust::kCertificateExpired, &expired, {}, true},
        {"expired, sent with its CA", "wss://gateway.test", sectrust::kCertificateExpired, &expired, {&pki.ca}, true},
        {"not yet valid", "wss://gateway.test", sectrust::kCertificateNotValidYet, &early, {}, true},
        {"wrong host", "wss://gateway.test", sectrust::kHostNameMismatch, &other_host, {}, true},
        {"wrong IP", "wss://127.0.0.1", sectrust::kHostNameMismatch, &other_ip, {}, true},
        {"unknown issuer", "wss://gateway.test", sectrust::kNotTrusted, &unknown, {}, false},
        {"untrusted root sent", "wss://gateway.test", sectrust::kNotTrusted, &unknown, {&stranger}, false},
        {"self-signed", "wss://gateway.test", sectrust::kNotTrusted, &self, {}, false},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        HandshakeResult openssl = handshake(route_for(c.url), pki.system, *c.leaf, c.sent);
        FakeAnchors apple = apple_refusing(c.status);
        HandshakeResult macos = handshake(route_for(c.url), apple, *c.leaf, c.sent);
        REQUIRE_FALSE(openssl.ok);
        REQUIRE_FALSE(macos.ok);
        CHECK(macos.is_verify);
        CHECK(macos.verify_result == openssl.verify_result);
        REQUIRE(macos.report);
        REQUIRE(openssl.report);
        CHECK(macos.report->chain_error == openssl.report->chain_error);  // what `loopgate setup` tells apart
        std::string apple_words = "; macOS: Apple's words (OSStatus " + std::to_string(c.status) + ")";
        CHECK(macos.reason == openssl.reason + (c.confirmed ? "" : apple_words));
    }
    HandshakeResult passes = handshake(route_for("wss://gateway.test"), pki.system, good);
    CHECK(passes.ok);  // the OpenSSL side of the comparison refuses for the reason named, not for any reason
}

TEST_CASE("sectrust: refusals without an OpenSSL twin keep Apple's words and say what to do") {
    Issued ca = make_ca("unit test CA");
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &ca);
    ChainQuery query = query_of({&leaf, &ca}, "gateway.test");

    ChainVerdict v = sectrust::verdict_for(sectrust::kCertificateRevoked, "revoked", query);
    CHECK(v.error == X509_V_ERR_CERT_REVOKED);
    CHECK(v.failed_subject == "CN=gateway.test");
    CHECK(v.detail == "macOS: revoked (OSStatus -67820)");

    v = sectrust::verdict_for(sectrust::kTrustSettingDeny, "denied", query);
    CHECK(v.error == X509_V_ERR_CERT_REJECTED);
    CHECK(v.detail == "a certificate of the chain is set to \"Never Trust\" in the Keychain; macOS: denied (OSStatus -67654)");

    v = sectrust::verdict_for(sectrust::kInvalidExtendedKeyUsage, "eku", query);
    CHECK(v.error == X509_V_ERR_INVALID_PURPOSE);

    v = sectrust::verdict_for(sectrust::kCertificateValidityPeriodTooLong, "too long", query);
    CHECK(v.error == X509_V_ERR_UNSPECIFIED);
    CHECK(v.detail.find("valid for longer than it allows (825 days") != std::string::npos);
    CHECK(v.detail.find("trust its CA with tls.ca_file") != std::string::npos);

    v = sectrust::verdict_for(-1, "", query);
    CHECK(v.error == X509_V_ERR_UNSPECIFIED);
    CHECK(v.detail == "refused by the macOS Security framework; macOS: no description (OSStatus -1)");

    // Expired, yet every certificate sent is within its dates: a Keychain CA is at fault.
    v = sectrust::verdict_for(sectrust::kCertificateExpired, "expired root", query);
    CHECK(v.error == X509_V_ERR_CERT_HAS_EXPIRED);
    CHECK(v.failed_subject == "a CA certificate from the macOS Keychain");
    CHECK(v.detail == "macOS: expired root (OSStatus -67818)");

    // A name OpenSSL's rules accept but macOS refused: still refused, in Apple's words.
    v = sectrust::verdict_for(sectrust::kHostNameMismatch, "name", query);
    CHECK(v.error == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(v.detail == "macOS: name (OSStatus -67602)");

    v = sectrust::verdict_for(sectrust::kNotTrusted, "x", ChainQuery{});
    CHECK(v.error == X509_V_ERR_UNSPECIFIED);
    CHECK(v.detail == "the upstream sent no certificate");
}

TEST_CASE("check_name: OpenSSL's name rules for a verifier that has its own, and no name is no match") {
    Issued named = issue({"gw", "DNS:*.gateway.test"});
    Issued by_ip = issue({"gw", "IP:100.64.0.7"});
    CHECK(loopgate::tls::check_name(query_of({&named}, "a.gateway.test")).ok());
    CHECK(loopgate::tls::check_name(query_of({&named}, "gateway.test")).error == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(loopgate::tls::check_name(query_of({&by_ip}, "100.64.0.7", true)).ok());
    CHECK(loopgate::tls::check_name(query_of({&by_ip}, "100.64.0.8", true)).error == X509_V_ERR_IP_ADDRESS_MISMATCH);
    ChainVerdict none = loopgate::tls::check_name(query_of({&named}, ""));
    CHECK(none.error == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(none.detail == "no host name was set to check the certificate against");
}
