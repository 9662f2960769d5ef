#include "tls_chain.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>

namespace loopgate::tls {
namespace {

class OpenSslChainVerifier final : public ChainVerifier {
public:
    ChainVerdict verify(const ChainQuery& query) const override {
        ChainVerdict verdict;
        if (X509_verify_cert(query.store) == 1) return verdict;
        verdict.error = X509_STORE_CTX_get_error(query.store);
        // A failure without a code (out of memory inside OpenSSL) is still a refusal.
        if (verdict.error == X509_V_OK) verdict.error = X509_V_ERR_UNSPECIFIED;
        if (X509* failed = X509_STORE_CTX_get_current_cert(query.store)) {
            verdict.failed_subject = name_text(X509_get_subject_name(failed));
        }
        return verdict;
    }
};

}  // namespace

std::string name_text(const X509_NAME* name) {
    if (name == nullptr) return "";
    BIO* bio = BIO_new(BIO_s_mem());
    if (bio == nullptr) return "?";
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<size_t>(len));
    BIO_free(bio);
    return out;
}

ChainQuery query_for(X509_STORE_CTX* store) {
    ChainQuery query;
    query.store = store;
    if (STACK_OF(X509)* sent = X509_STORE_CTX_get0_untrusted(store)) {
        for (int i = 0; i < sk_X509_num(sent); ++i) query.sent.push_back(sk_X509_value(sent, i));
    }
    // The handshake puts the leaf first in the untrusted list; make sure of it.
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    if (leaf != nullptr && (query.sent.empty() || query.sent.front() != leaf)) query.sent.insert(query.sent.begin(), leaf);
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(store);
    if (const char* host = X509_VERIFY_PARAM_get0_host(param, 0)) {
        query.host = host;
    } else if (char* ip = X509_VERIFY_PARAM_get1_ip_asc(param)) {
        query.host = ip;
        query.host_is_ip = true;
        OPENSSL_free(ip);
    }
    return query;
}

std::shared_ptr<const ChainVerifier> openssl_chain_verifier() {
    static const auto verifier = std::make_shared<const OpenSslChainVerifier>();
    return verifier;
}

ChainVerdict check_name(const ChainQuery& query) {
    ChainVerdict verdict;
    X509* leaf = query.sent.empty() ? nullptr : query.sent.front();
    if (leaf == nullptr) {
        verdict.error = X509_V_ERR_UNSPECIFIED;
        verdict.detail = "the upstream sent no certificate";
        return verdict;
    }
    bool match = false;
    if (!query.host.empty()) {
        unsigned int flags = query.store != nullptr ? X509_VERIFY_PARAM_get_hostflags(X509_STORE_CTX_get0_param(query.store)) : 0;
        match = query.host_is_ip ? X509_check_ip_asc(leaf, query.host.c_str(), flags) == 1
                                 : X509_check_host(leaf, query.host.c_str(), query.host.size(), flags, nullptr) == 1;
    }
    if (match) return verdict;
    verdict.error = query.host_is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH;
    verdict.failed_subject = name_text(X509_get_subject_name(leaf));
    if (query.host.empty()) verdict.detail = "no host name was set to check the certificate against";
    return verdict;
}

}  // namespace loopgate::tls
