// The real file system behind FileChecks (system_files.hpp): POSIX calls for
// files, directories and modes, OpenSSL for the client certificate and key.
#include "system_files.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

namespace loopgate::config {
namespace fs = std::filesystem;
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

std::unique_ptr<X509, X509Free> read_certificate(const fs::path& file) {
    std::unique_ptr<FILE, FileClose> f(std::fopen(file.c_str(), "r"));
    if (!f) return nullptr;
    return std::unique_ptr<X509, X509Free>(PEM_read_X509(f.get(), nullptr, nullptr, nullptr));
}

// A password callback that refuses: an encrypted key cannot be used by a
// daemon that starts unattended, so it is reported instead of prompted for.
int no_password(char*, int, int, void*) { return -1; }

std::unique_ptr<EVP_PKEY, PkeyFree> read_private_key(const fs::path& file) {
    std::unique_ptr<FILE, FileClose> f(std::fopen(file.c_str(), "r"));
    if (!f) return nullptr;
    return std::unique_ptr<EVP_PKEY, PkeyFree>(PEM_read_PrivateKey(f.get(), nullptr, no_password, nullptr));
}

}  // namespace

// The size cap keeps a config path pointing at /dev/zero from eating all memory.
int read_file(const fs::path& file, size_t max_bytes, std::string& out) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    out.clear();
    char buffer[8192];
    int result = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) result = errno;
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
        if (out.size() > max_bytes) {
            result = EFBIG;
            break;
        }
    }
    ::close(fd);
    return result;
}

std::optional<std::string> SystemFileChecks::cannot_read_file(const fs::path& file) const {
    std::string ignored;
    int err = read_file(file, 0, ignored);
    if (err == 0 || err == EFBIG) return std::nullopt;
    return std::strerror(err);
}

std::optional<std::string> SystemFileChecks::cannot_read_directory(const fs::path& dir) const {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
        return ec ? ec.message() : fs::exists(dir) ? "Not a directory" : "No such file or directory";
    }
    if (::access(dir.c_str(), R_OK | X_OK) != 0) return std::strerror(errno);
    return std::nullopt;
}

ClientPairVerdict SystemFileChecks::read_client_pair(const fs::path& cert, const fs::path& key) const {
    auto certificate = read_certificate(cert);
    auto private_key = read_private_key(key);
    ERR_clear_error();
    if (!certificate) return ClientPairVerdict::no_certificate;
    if (!private_key) return ClientPairVerdict::no_private_key;
    if (X509_check_private_key(certificate.get(), private_key.get()) != 1) {
        ERR_clear_error();
        return ClientPairVerdict::mismatch;
    }
    return ClientPairVerdict::usable;
}

std::optional<unsigned> SystemFileChecks::permissions(const fs::path& file) const {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) return std::nullopt;
    return static_cast<unsigned>(st.st_mode & 07777);
}

}  // namespace loopgate::config
