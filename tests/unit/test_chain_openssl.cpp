// The OpenSSL path of "verify": "full" (Linux's system store, and tls.ca_file
// / tls.ca_dir everywhere): real handshakes in memory against chains made
// here, and the exact words a person gets for each refusal. These use only
// what a route uses (SystemTrustAnchors, make_upstream_context,
// describe_failure), so they hold across a change of how the chain check is
// wired inside.
#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include <string>

#include "temp_dir.hpp"
#include "test_pki.hpp"
#include "tls_handshake.hpp"
#include "tls_pins.hpp"
#include "trust_store.hpp"
#include "tls_verify.hpp"

using loopgate::SystemTrustAnchors;
using loopgate::config::TlsSettings;
using namespace loopgate::test;

namespace {

// Only `ca` is trusted: as tls.ca_file, or as the system store (SSL_CERT_FILE).
struct Pki {
    TempDir dir;
    Issued ca = make_ca("unit test CA");
    std::string ca_file = write_pem(dir, "ca.pem", ca.cert.get()).string();
    SystemTrustAnchors system{SystemTrustAnchors::Overrides{ca_file, (dir.path() / "no-dir").string()}};

    TlsSettings with_ca_file() const {
        TlsSettings tls;
        tls.ca_file = ca_file;
        return tls;
    }
};

std::string not_after(const HandshakeResult& r) { return r.report ? r.report->chain.front().not_after : "?"; }
std::string not_before(const HandshakeResult& r) { return r.report ? r.report->chain.front().not_before : "?"; }

}  // namespace

TEST_CASE("openssl chain: a chain to a trusted CA for the right name passes, from the system store and from ca_file") {
    Pki pki;
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &pki.ca);
    for (const TlsSettings& tls : {TlsSettings{}, pki.with_ca_file()}) {
        HandshakeResult r = handshake(route_for("wss://gateway.test", tls), pki.system, leaf);
        INFO(r.reason);
        CHECK(r.ok);
        CHECK(r.verify_result == X509_V_OK);
        REQUIRE(r.report);
        CHECK(r.report->chain_checked);
        CHECK(r.report->chain_error == 0);
        CHECK(r.report->chain.size() == 1);
        CHECK(r.report->chain.front().subject == "CN=gateway.test");
    }
}

TEST_CASE("openssl chain: an IP literal upstream matches the certificate's IP address, and names the IP when not") {
    Pki pki;
    Issued leaf = issue({"gw", "IP:127.0.0.1"}, &pki.ca);
    HandshakeResult ok = handshake(route_for("wss://127.0.0.1:18789", pki.with_ca_file()), pki.system, leaf);
    INFO(ok.reason);
    CHECK(ok.ok);

    Issued other = issue({"gw", "IP:127.0.0.2"}, &pki.ca);
    HandshakeResult wrong = handshake(route_for("wss://127.0.0.1:18789", pki.with_ca_file()), pki.system, other);
    CHECK_FALSE(wrong.ok);
    CHECK(wrong.is_verify);
    CHECK(wrong.verify_result == X509_V_ERR_IP_ADDRESS_MISMATCH);
    CHECK(wrong.reason == "upstream certificate verify failed: IP address mismatch: wrong host name (the certificate "
                          "is for IP:127.0.0.2, not 127.0.0.1)");
}

TEST_CASE("openssl chain: wrong host name") {
    Pki pki;
    Issued leaf = issue({"other.test", "DNS:other.test"}, &pki.ca);
    HandshakeResult r = handshake(route_for("wss://gateway.test"), pki.system, leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.is_verify);
    CHECK(r.verify_result == X509_V_ERR_HOSTNAME_MISMATCH);
    REQUIRE(r.report);
    CHECK(r.report->chain_error == X509_V_ERR_HOSTNAME_MISMATCH);
    CHECK(r.reason == "upstream certificate verify failed: hostname mismatch: wrong host name (the certificate is for "
                      "DNS:other.test, not gateway.test)");
}

TEST_CASE("openssl chain: expired and not yet valid name the certificate and its dates") {
    Pki pki;
    Issued expired = issue({"gateway.test", "DNS:gateway.test", false, -7200, -3600}, &pki.ca);
    HandshakeResult r = handshake(route_for("wss://gateway.test"), pki.system, expired);
    CHECK_FALSE(r.ok);
    CHECK(r.is_verify);
    CHECK(r.verify_result == X509_V_ERR_CERT_HAS_EXPIRED);
    CHECK(r.reason == "upstream certificate verify failed: certificate has expired (CN=gateway.test was valid until " +
                          not_after(r) + ")");

    Issued early = issue({"gateway.test", "DNS:gateway.test", false, 3600, 7200}, &pki.ca);
    r = handshake(route_for("wss://gateway.test"), pki.system, early);
    CHECK_FALSE(r.ok);
    CHECK(r.verify_result == X509_V_ERR_CERT_NOT_YET_VALID);
    CHECK(r.reason == "upstream certificate verify failed: certificate is not yet valid (CN=gateway.test is valid from " +
                          not_before(r) + ")");
}

TEST_CASE("openssl chain: an untrusted root, sent or not, and a self-signed leaf") {
    Pki pki;
    Issued stranger = make_ca("stranger CA");
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &stranger);

    HandshakeResult unknown = handshake(route_for("wss://gateway.test"), pki.system, leaf);
    CHECK_FALSE(unknown.ok);
    CHECK(unknown.is_verify);
    CHECK(unknown.verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    CHECK(unknown.reason == "upstream certificate verify failed: unable to get local issuer certificate: unknown issuer "
                            "(CN=gateway.test was issued by CN=stranger CA, which is not a trusted CA); add that CA "
                            "with tls.ca_file");

    HandshakeResult with_root = handshake(route_for("wss://gateway.test"), pki.system, leaf, {&stranger});
    CHECK_FALSE(with_root.ok);
    CHECK(with_root.verify_result == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN);
    CHECK(with_root.reason == "upstream certificate verify failed: self-signed certificate in certificate chain: the "
                              "chain ends in a CA that is not trusted (CN=stranger CA); add it with tls.ca_file");
    // setup takes the CA as --ca-file: the same descriptions, the advice naming that.
    CHECK(loopgate::tls::with_ca_advice(unknown.reason, "--ca-file") ==
          "upstream certificate verify failed: unable to get local issuer certificate: unknown issuer (CN=gateway.test "
          "was issued by CN=stranger CA, which is not a trusted CA); add that CA with --ca-file");
    CHECK(loopgate::tls::with_ca_advice(with_root.reason, "--ca-file").ends_with("(CN=stranger CA); add it with --ca-file"));
    CHECK(loopgate::tls::with_ca_advice("cannot load tls.ca_file /x.pem: No such file", "--ca-file") ==
          "cannot load tls.ca_file /x.pem: No such file");

    Issued self = issue({"openclaw-gateway", ""});
    HandshakeResult lone = handshake(route_for("wss://gateway.test"), pki.system, self);
    CHECK_FALSE(lone.ok);
    CHECK(lone.verify_result == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);
    REQUIRE(lone.report);
    const auto& seen = lone.report->chain.front();
    CHECK(lone.reason == "upstream certificate verify failed: self-signed certificate: the upstream presented a "
                         "self-signed certificate (CN=openclaw-gateway), sha256:" + seen.sha256_hex +
                             ", spki-sha256:" + seen.spki_sha256_base64 +
                             "; to trust exactly this certificate, check that fingerprint out of band and pin it "
                             "(loopgate probe --print-pin)");
}

TEST_CASE("openssl chain: with tls.ca_file only that CA is trusted, not the system store's") {
    Pki pki;
    TempDir other;
    Issued private_ca = make_ca("private CA");
    TlsSettings tls;
    tls.ca_file = write_pem(other, "private.pem", private_ca.cert.get());
    Issued public_leaf = issue({"gateway.test", "DNS:gateway.test"}, &pki.ca);  // trusted by the "system store"
    HandshakeResult r = handshake(route_for("wss://gateway.test", tls), pki.system, public_leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.verify_result == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);

    Issued private_leaf = issue({"gateway.test", "DNS:gateway.test"}, &private_ca);
    r = handshake(route_for("wss://gateway.test", tls), pki.system, private_leaf);
    INFO(r.reason);
    CHECK(r.ok);
}

TEST_CASE("openssl chain: pins are checked on top of a verified chain") {
    Pki pki;
    Issued leaf = issue({"gateway.test", "DNS:gateway.test"}, &pki.ca);
    Issued other = issue({"gateway.test", "DNS:gateway.test"}, &pki.ca);
    TlsSettings tls;
    loopgate::config::Pin pin;
    REQUIRE(loopgate::config::parse_pin(leaf_pin_text(other.cert.get()), pin) == std::nullopt);
    tls.pins.push_back(pin);
    HandshakeResult r = handshake(route_for("wss://gateway.test", tls), pki.system, leaf);
    CHECK_FALSE(r.ok);
    CHECK(r.is_verify);
    REQUIRE(r.report);
    CHECK(r.report->chain_error == 0);  // the chain passed; the pin did not
    CHECK(r.report->pin_mismatch);
    CHECK(r.reason.find("upstream certificate does not match any pin in tls.pins: it presented " +
                        leaf_pin_text(leaf.cert.get())) == 0);

    REQUIRE(loopgate::config::parse_pin(leaf_pin_text(leaf.cert.get()), tls.pins.front()) == std::nullopt);
    r = handshake(route_for("wss://gateway.test", tls), pki.system, leaf);
    INFO(r.reason);
    CHECK(r.ok);
    REQUIRE(r.report);
    CHECK(r.report->matched_pin == leaf_pin_text(leaf.cert.get()));
}

TEST_CASE("certificate summary: the peer's names are escaped, and only the first 8 are listed") {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    X509_set_pubkey(cert, key);
    GENERAL_NAMES* names = sk_GENERAL_NAME_new_null();
    auto add_dns = [&](const std::string& text) {
        GENERAL_NAME* name = GENERAL_NAME_new();
        ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
        ASN1_STRING_set(dns, text.data(), static_cast<int>(text.size()));
        GENERAL_NAME_set0_value(name, GEN_DNS, dns);
        sk_GENERAL_NAME_push(names, name);
    };
    add_dns("evil\x1b[31m.test\r\nX: y");  // a terminal escape and a line break, as a MITM might send
    for (int i = 1; i < 20; ++i) add_dns("n" + std::to_string(i) + ".test");
    REQUIRE(X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, 0) == 1);
    X509_sign(cert, key, EVP_sha256());
    loopgate::tls::CertSummary summary = loopgate::tls::detail::summarize(cert);
    CHECK(summary.names ==
          "DNS:evil\\x1b[31m.test\\x0d\\x0aX: y, DNS:n1.test, DNS:n2.test, DNS:n3.test, DNS:n4.test, DNS:n5.test, "
          "DNS:n6.test, DNS:n7.test and 12 more");
    GENERAL_NAMES_free(names);
    X509_free(cert);
    EVP_PKEY_free(key);
}
