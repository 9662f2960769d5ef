#include "tls_files.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cstdio>
#include <memory>

namespace loopgate::config {
namespace {

struct FileClose {
    void operator()(FILE* f) const { std::fclose(f); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

std::unique_ptr<X509, X509Free> read_certificate(const std::filesystem::path& file) {
    std::unique_ptr<FILE, FileClose> f(std::fopen(file.c_str(), "r"));
    if (!f) return nullptr;
    return std::unique_ptr<X509, X509Free>(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

// A password callback that refuses: an encrypted key cannot be used by a
// daemon that starts unattended, so it is reported instead of prompted for.
int no_password(char*, int, int, void*) { return -1; }

std::unique_ptr<EVP_PKEY, PkeyFree> read_private_key(const std::filesystem::path& file) {
    std::unique_ptr<FILE, FileClose> f(std::fopen(file.c_str(), "r"));
    if (!f) return nullptr;
    return std::unique_ptr<EVP_PKEY, PkeyFree>(PEM_read_PrivateKey(f.get(), nullptr, no_password, nullptr));
}

bool readable_by_everyone(const std::filesystem::path& file) {
    struct stat st {};
    return ::stat(file.c_str(), &st) == 0 && (st.st_mode & S_IROTH) != 0;
}

}  // namespace

std::optional<ClientPairProblem> check_client_pair(const std::filesystem::path& cert,
                                                   const std::filesystem::path& key,
                                                   const std::string& cert_json_path) {
    auto certificate = read_certificate(cert);
    auto private_key = read_private_key(key);
    ERR_clear_error();
    if (!certificate) return ClientPairProblem{false, "no PEM certificate in " + cert.string()};
    if (!private_key) {
        return ClientPairProblem{true, "no unencrypted PEM private key in " + key.string() +
                                           " (encrypted keys are not supported)"};
    }
    if (readable_by_everyone(key)) {
        return ClientPairProblem{true, key.string() + " is readable by every user; restrict it (chmod 600)"};
    }
    if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
        ERR_clear_error();
        return ClientPairProblem{true, "does not match the certificate in " + cert_json_path + " (" +
                                           cert.string() + ")"};
    }
    return std::nullopt;
}

}  // namespace loopgate::config
