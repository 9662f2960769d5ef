// Verifying the upstream's certificate (chain, name, pins), remembering what
// it presented, and saying in words what went wrong.
#include "tls_verify.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include <array>
#include <chrono>
#include <ctime>
#include <string_view>

#include "http_text.hpp"

namespace loopgate::tls {
namespace {

using Digest = std::array<uint8_t, 32>;

// How a certificate error's advice ends: where to add the CA that would vouch for the chain.
constexpr std::string_view kCaAdvice = " with tls.ca_file";

void free_report(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<PeerReport*>(ptr); }

int report_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_report);
    return index;
}

std::string time_text(const ASN1_TIME* time) {
    std::tm tm{};
    if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return text;
}

std::string ip_text(const ASN1_OCTET_STRING* ip) {
    char text[INET6_ADDRSTRLEN] = "?";
    int len = ASN1_STRING_length(ip);
    const unsigned char* bytes = ASN1_STRING_get0_data(ip);
    if (len == 4) inet_ntop(AF_INET, bytes, text, sizeof text);
    if (len == 16) inet_ntop(AF_INET6, bytes, text, sizeof text);
    return text;
}

std::string alt_names(X509* cert) {
    auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (names == nullptr) return "";
    // The peer chose these bytes: escaped, and only the first few named (a
    // certificate may list thousands; the reason reaches a 503 body and logs).
    constexpr int kShown = 8;
    std::string out;
    int listed = 0;
    int more = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names, i);
        if (name->type != GEN_DNS && name->type != GEN_IPADD) continue;  // email, URI...: not what a TLS client matches
        if (listed == kShown) {
            ++more;
            continue;
        }
        std::string item;
        if (name->type == GEN_DNS) {
            const ASN1_IA5STRING* dns = name->d.dNSName;
            item = "DNS:" + http::escaped_value(std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(dns)),
                                                                 static_cast<size_t>(ASN1_STRING_length(dns))), 100);
        } else {
            item = "IP:" + ip_text(name->d.iPAddress);
        }
        if (!out.empty()) out += ", ";
        out += item;
        ++listed;
    }
    GENERAL_NAMES_free(names);
    if (more > 0) out += " and " + std::to_string(more) + " more";
    return out;
}

Digest certificate_digest(X509* cert) {
    Digest digest{};
    unsigned int len = 0;
    X509_digest(cert, EVP_sha256(), digest.data(), &len);
    return digest;
}

// HPKP and Envoy pin the whole DER SubjectPublicKeyInfo (algorithm and key),
// not just the key bits that X509_pubkey_digest hashes.
Digest spki_digest(X509* cert) {
    Digest digest{};
    unsigned char* der = nullptr;
    int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (len > 0) SHA256(der, static_cast<size_t>(len), digest.data());
    OPENSSL_free(der);
    return digest;
}


void record_chain(const ChainQuery& query, PeerReport& report) {
    report.chain.clear();
    for (X509* cert : query.sent) report.chain.push_back(detail::summarize(cert));
}

// The route's verifier judges (OpenSSL's store, or the macOS Keychain); its
// code becomes the SSL's verify result, so the alert OpenSSL sends and
// describe_failure's words follow from it whoever judged.
bool check_chain(X509_STORE_CTX* store, const ChainQuery& query, const detail::RoutePolicy& policy,
                 PeerReport& report) {
    if (policy.verify != config::TlsVerify::full) return true;
    report.chain_checked = true;
    ChainVerdict verdict = policy.chain->verify(query);
    if (verdict.ok()) return true;
    X509_STORE_CTX_set_error(store, verdict.error);
    report.chain_error = verdict.error;
    report.chain_error_subject = verdict.failed_subject;
    report.chain_error_detail = verdict.detail;
    return false;
}

bool check_pins(X509_STORE_CTX* store, const detail::RoutePolicy& policy, PeerReport& report) {
    if (policy.pins.empty()) return true;
    report.pins_checked = true;
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    Digest leaf_digest = certificate_digest(leaf);
    Digest key_digest = spki_digest(leaf);
    for (const config::Pin& pin : policy.pins) {
        const Digest& seen = pin.kind == config::Pin::Kind::leaf_sha256 ? leaf_digest : key_digest;
        if (pin.digest != seen) continue;
        report.matched_pin = config::pin_text(pin);
        return true;
    }
    report.pin_mismatch = true;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return false;
}

int verify_upstream(X509_STORE_CTX* store, void* arg) {
    const auto& policy = *static_cast<const detail::RoutePolicy*>(arg);
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    PeerReport& report = detail::report_for(ssl);
    auto started = std::chrono::steady_clock::now();
    ChainQuery query = query_for(store);
    record_chain(query, report);
    bool ok = check_chain(store, query, policy, report) && check_pins(store, policy, report);
    auto spent = std::chrono::steady_clock::now() - started;
    report.verify_us = std::chrono::duration_cast<std::chrono::microseconds>(spent).count();
    return ok ? 1 : 0;
}

// Only installed when the route has no client certificate: then a request
// for one explains a later alert.
int note_client_cert_request(SSL* ssl, X509**, EVP_PKEY**) {
    detail::report_for(ssl).client_cert_requested = true;
    return 0;  // send none
}

std::string expected_name(SSL* ssl) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) return host;
    char* ip = X509_VERIFY_PARAM_get1_ip_asc(param);
    std::string out = ip != nullptr ? ip : "?";
    OPENSSL_free(ip);
    return out;
}

std::string fingerprints(const CertSummary& leaf) { return leaf_pin(leaf) + ", " + spki_pin(leaf); }

std::string verdict_words(SSL* ssl, long verify, const PeerReport* report) {
    std::string text = std::string("upstream certificate verify failed: ") + X509_verify_cert_error_string(verify);
    const CertSummary* leaf = report != nullptr && !report->chain.empty() ? &report->chain.front() : nullptr;
    std::string subject = report != nullptr && !report->chain_error_subject.empty() ? report->chain_error_subject
                          : leaf != nullptr                                        ? leaf->subject
                                                                                   : "?";
    switch (verify) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        if (leaf != nullptr && subject == leaf->subject) return text + " (" + subject + " was valid until " + leaf->not_after + ")";
        return text + " (" + subject + ")";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        if (leaf != nullptr && subject == leaf->subject) return text + " (" + subject + " is valid from " + leaf->not_before + ")";
        return text + " (" + subject + ")";
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return text + ": the upstream presented a self-signed certificate (" + subject + ")" +
               (leaf != nullptr ? ", " + fingerprints(*leaf) : "") +
               "; to trust exactly this certificate, check that fingerprint out of band and pin it "
               "(loopgate probe --print-pin)";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return text + ": the chain ends in a CA that is not trusted (" + subject + "); add it" + std::string(kCaAdvice);
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return text + ": unknown issuer (" + subject + " was issued by " + (leaf != nullptr ? leaf->issuer : "?") +
               ", which is not a trusted CA); add that CA" + std::string(kCaAdvice);
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH: {
        std::string names = leaf != nullptr && !leaf->names.empty() ? leaf->names : "no subjectAltName at all";
        return text + ": wrong host name (the certificate is for " + names + ", not " + expected_name(ssl) + ")";
    }
    default: return text + " (" + subject + ")";
    }
}

// What OpenSSL's code says, then what the verifier added in its own words
// (the macOS Security framework's reason, when OpenSSL's reading of the
// chain could not confirm it; never anything from OpenSSL's own path).
std::string certificate_error_text(SSL* ssl, long verify, const PeerReport* report) {
    std::string text = verdict_words(ssl, verify, report);
    if (report != nullptr && !report->chain_error_detail.empty()) text += "; " + report->chain_error_detail;
    return text;
}

std::string pin_mismatch_text(const PeerReport& report) {
    std::string text = "upstream certificate does not match any pin in tls.pins";
    if (report.chain.empty()) return text;
    const CertSummary& leaf = report.chain.front();
    return text + ": it presented " + fingerprints(leaf) + " (subject " + leaf.subject + ")";
}

// "tlsv13 alert certificate required" -> "certificate required"
std::string alert_text(unsigned long code) {
    const char* reason = ERR_reason_error_string(code);
    std::string text = reason != nullptr ? reason : "alert " + std::to_string(ERR_GET_REASON(code) - SSL_AD_REASON_OFFSET);
    size_t at = text.find("alert ");
    return at == std::string::npos ? text : text.substr(at + 6);
}

bool is_client_cert_alert(const std::string& alert) {
    for (const char* name : {"bad certificate", "unknown ca", "certificate unknown", "unsupported certificate",
                             "certificate revoked", "certificate expired", "access denied", "certificate required",
                             "decrypt error"}) {
        if (alert == name) return true;
    }
    return false;
}

std::string alert_failure_text(SSL* ssl, unsigned long code, const PeerReport* report) {
    std::string alert = alert_text(code);
    std::string text = "upstream sent TLS alert \"" + alert + "\"";
    bool has_client_cert = SSL_get_certificate(ssl) != nullptr;
    if (report != nullptr && report->client_cert_requested && !has_client_cert) {
        return text + ": it requires a client certificate; set tls.client_cert and tls.client_key";
    }
    if (has_client_cert && is_client_cert_alert(alert)) {
        return text + ": it did not accept loopgate's client certificate (tls.client_cert)";
    }
    if (alert == "protocol version") {
        return text + ": no TLS version that both sides allow (see tls.min_version and tls.max_version)";
    }
    return text;
}

std::string ssl_failure_text(SSL* ssl, const PeerReport* report) {
    unsigned long code = ERR_peek_last_error();
    int reason = ERR_GET_REASON(code);
    if (code != 0 && ERR_GET_LIB(code) == ERR_LIB_SSL && reason >= SSL_AD_REASON_OFFSET) {
        return alert_failure_text(ssl, code, report);
    }
    const char* reason_text = code != 0 ? ERR_reason_error_string(code) : nullptr;
    std::string detail = reason_text != nullptr ? reason_text : "unknown error";
    if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
        (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
         reason == SSL_R_RECORD_LENGTH_MISMATCH || reason == SSL_R_UNEXPECTED_RECORD)) {
        return "upstream did not answer with TLS (" + detail + "): is it a plain ws:// server or another protocol?";
    }
    if (ERR_GET_LIB(code) == ERR_LIB_SSL &&
        (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_NO_PROTOCOLS_AVAILABLE)) {
        return "TLS handshake failed: " + detail +
               ": the upstream chose a TLS version loopgate does not allow (see tls.min_version and tls.max_version)";
    }
    return std::string(SSL_is_init_finished(ssl) ? "TLS error: " : "TLS handshake failed: ") + detail;
}

}  // namespace

std::string with_ca_advice(std::string_view text, std::string_view instead) {
    std::string out;
    for (size_t at = 0;;) {
        size_t found = text.find(kCaAdvice, at);
        out += text.substr(at, found == std::string_view::npos ? std::string_view::npos : found - at);
        if (found == std::string_view::npos) return out;
        out += " with ";
        out += instead;
        at = found + kCaAdvice.size();
    }
}

namespace detail {

CertSummary summarize(X509* cert) {
    CertSummary summary;
    summary.subject = name_text(X509_get_subject_name(cert));
    summary.issuer = name_text(X509_get_issuer_name(cert));
    summary.names = alt_names(cert);
    summary.not_before = time_text(X509_get0_notBefore(cert));
    summary.not_after = time_text(X509_get0_notAfter(cert));
    Digest leaf = certificate_digest(cert);
    Digest spki = spki_digest(cert);
    summary.sha256_hex = config::hex_lower(leaf.data(), leaf.size());
    summary.spki_sha256_base64 = config::base64_encode(spki.data(), spki.size());
    return summary;
}

PeerReport& report_for(SSL* ssl) {
    auto* report = static_cast<PeerReport*>(SSL_get_ex_data(ssl, report_index()));
    if (report == nullptr) {
        report = new PeerReport{};
        if (SSL_set_ex_data(ssl, report_index(), report) != 1) {
            // Out of memory: keep the details in a scratch report nobody reads
            // later rather than leak one per connection.
            delete report;
            thread_local PeerReport scratch;
            scratch = PeerReport{};
            return scratch;
        }
    }
    return *report;  // freed with the SSL
}

void install_verifier(SSL_CTX* ctx, RoutePolicy* policy) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_cert_verify_callback(ctx, verify_upstream, policy);
    if (!policy->has_client_cert) SSL_CTX_set_client_cert_cb(ctx, note_client_cert_request);
}

}  // namespace detail

const PeerReport* peer_report(const SSL* ssl) {
    return static_cast<const PeerReport*>(SSL_get_ex_data(ssl, report_index()));
}

std::string leaf_pin(const CertSummary& cert) { return "sha256:" + cert.sha256_hex; }
std::string spki_pin(const CertSummary& cert) { return "spki-sha256:" + cert.spki_sha256_base64; }

std::string describe_failure(SSL* ssl, int ssl_error, bool& is_verify) {
    is_verify = false;
    const PeerReport* report = peer_report(ssl);
    if (report != nullptr && report->pin_mismatch) {
        is_verify = true;
        return pin_mismatch_text(*report);
    }
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        is_verify = true;
        return certificate_error_text(ssl, verify, report);
    }
    if (ssl_error == SSL_ERROR_SSL) return ssl_failure_text(ssl, report);
    if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
        return SSL_is_init_finished(ssl) ? "upstream closed the TLS connection"
                                         : "upstream closed the connection during the TLS handshake";
    }
    return "TLS error " + std::to_string(ssl_error);
}

}  // namespace loopgate::tls
