// Certificates made in the test process for the unit tests of chain
// verification: a CA, leaves it signs (for a name or an IP address, within
// or outside their dates), self-signed leaves; as OpenSSL objects and as PEM
// files. P-256 keys, so making them is quick.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "temp_dir.hpp"

namespace loopgate::test {

struct X509Free {
    void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

struct Issued {
    std::unique_ptr<X509, X509Free> cert;
    std::unique_ptr<EVP_PKEY, KeyFree> key;
};

struct CertSpec {
    std::string cn;
    std::string alt_names;      // "DNS:gateway.test" or "IP:127.0.0.1", "" for none
    bool ca = false;
    long valid_from_s = -60;    // relative to now
    long valid_until_s = 3600;
};

inline void add_extension(X509* cert, X509* issuer, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

// Signed by `issuer`, or self-signed when it is null.
inline Issued issue(const CertSpec& spec, const Issued* issuer = nullptr) {
    static long serial = 1;
    Issued out{std::unique_ptr<X509, X509Free>(X509_new()), std::unique_ptr<EVP_PKEY, KeyFree>(EVP_EC_gen("P-256"))};
    X509* cert = out.cert.get();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
    X509_gmtime_adj(X509_getm_notBefore(cert), spec.valid_from_s);
    X509_gmtime_adj(X509_getm_notAfter(cert), spec.valid_until_s);
    X509_set_pubkey(cert, out.key.get());
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(spec.cn.c_str()),
                               -1, -1, 0);
    X509* signer = issuer != nullptr ? issuer->cert.get() : cert;
    X509_set_issuer_name(cert, X509_get_subject_name(signer));
    if (spec.ca) {
        add_extension(cert, signer, NID_basic_constraints, "critical,CA:TRUE");
        add_extension(cert, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    }
    add_extension(cert, signer, NID_subject_key_identifier, "hash");
    if (issuer != nullptr) add_extension(cert, signer, NID_authority_key_identifier, "keyid");
    if (!spec.alt_names.empty()) add_extension(cert, signer, NID_subject_alt_name, spec.alt_names);
    X509_sign(cert, issuer != nullptr ? issuer->key.get() : out.key.get(), EVP_sha256());
    return out;
}

inline Issued make_ca(const std::string& cn) { return issue({cn, "", true}); }

inline std::filesystem::path write_pem(const TempDir& dir, const std::string& name, X509* cert) {
    std::filesystem::path file = dir.path() / name;
    FILE* f = std::fopen(file.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    return file;
}

// "sha256:<hex>" of the certificate's DER, as a pin is written.
inline std::string leaf_pin_text(X509* cert) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    unsigned int len = 0;
    X509_digest(cert, EVP_sha256(), digest, &len);
    static const char* hex = "0123456789abcdef";
    std::string out = "sha256:";
    for (unsigned int i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

}  // namespace loopgate::test
