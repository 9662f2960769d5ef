// A self-signed P-256 certificate and its key as PEM files, for unit tests
// that need a real certificate: a client certificate, a trust anchor.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "temp_dir.hpp"

namespace loopgate::test {

struct KeyPair {
    std::filesystem::path cert;
    std::filesystem::path key;  // mode 0600
};

// NAME.pem and NAME.key in `dir`, CN=NAME, valid for an hour from now.
inline KeyPair make_self_signed(const TempDir& dir, const std::string& name) {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* subject = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(name.c_str()), -1,
                               -1, 0);
    X509_set_issuer_name(cert, subject);
    X509_sign(cert, key, EVP_sha256());
    KeyPair pair{dir.path() / (name + ".pem"), dir.path() / (name + ".key")};
    FILE* f = std::fopen(pair.cert.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(pair.key.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    ::chmod(pair.key.c_str(), 0600);
    X509_free(cert);
    EVP_PKEY_free(key);
    return pair;
}

}  // namespace loopgate::test
