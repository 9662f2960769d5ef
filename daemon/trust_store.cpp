#include "trust_store.hpp"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

namespace loopgate {

using tls::TrustLoad;

namespace {

namespace fs = std::filesystem;

std::string openssl_reason() {
    unsigned long code = ERR_peek_last_error();
    const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
    return reason != nullptr ? reason : "no certificate could be read";
}

int store_size(SSL_CTX* ctx) { return sk_X509_OBJECT_num(X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx))); }

std::string plural(size_t n, const char* word) {
    return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

// Adds a PEM bundle's certificates to the store; returns how many, or -1
// (with why) when the file cannot be used.
int add_bundle(SSL_CTX* ctx, const std::string& file, std::string& why) {
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
        why = std::strerror(errno);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        why = "not a regular file";
        return -1;
    }
    int before = store_size(ctx);
    ERR_clear_error();
    if (SSL_CTX_load_verify_locations(ctx, file.c_str(), nullptr) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_NO_CERTIFICATE_OR_CRL_FOUND) {
            ERR_clear_error();
            return 0;
        }
        why = openssl_reason();
        ERR_clear_error();
        return -1;
    }
    return store_size(ctx) - before;
}

// OpenSSL reads a CA directory lazily, by subject hash: "5ad8a5d6.0". Only
// such names count as anchors; a directory of plain .pem files is empty to it.
size_t count_hashed_entries(const std::string& dir) {
    std::error_code ec;
    size_t count = 0;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        std::string name = entry.path().filename().string();
        size_t dot = name.find('.');
        if (dot != 8 || dot + 1 >= name.size()) continue;
        bool hex = std::all_of(name.begin(), name.begin() + 8, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
        bool digits = std::all_of(name.begin() + 9, name.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        if (hex && digits) ++count;
    }
    return count;
}

bool add_directory(SSL_CTX* ctx, const std::string& dir, size_t& entries) {
    entries = count_hashed_entries(dir);
    if (entries == 0) return false;
    ERR_clear_error();
    bool ok = SSL_CTX_load_verify_locations(ctx, nullptr, dir.c_str()) == 1;
    ERR_clear_error();
    return ok;
}

TrustLoad load_configured(SSL_CTX* ctx, const config::TlsSettings& settings) {
    TrustLoad result;
    std::vector<std::string> parts;
    if (settings.ca_file) {
        std::string file = settings.ca_file->string();
        std::string why;
        int added = add_bundle(ctx, file, why);
        if (added < 0) {
            result.error = "cannot load tls.ca_file " + file + ": " + why;
            return result;
        }
        if (added == 0) {
            result.error = "tls.ca_file " + file + " holds no PEM certificate";
            return result;
        }
        parts.push_back("tls.ca_file " + file + " (" + plural(static_cast<size_t>(added), "certificate") + ")");
    }
    if (settings.ca_dir) {
        std::string dir = settings.ca_dir->string();
        size_t entries = 0;
        if (!add_directory(ctx, dir, entries)) {
            result.error = "tls.ca_dir " + dir + " holds no certificate named by subject hash (run: openssl rehash " +
                           dir + ")";
            return result;
        }
        parts.push_back("tls.ca_dir " + dir + " (" + plural(entries, "hashed certificate") + ")");
    }
    for (size_t i = 0; i < parts.size(); ++i) result.description += (i ? ", " : "") + parts[i];
    result.ok = true;
    return result;
}

}  // namespace

std::optional<std::string> ca_file_problem(const std::string& file) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx) return "OpenSSL cannot set up a store to read it into";
    std::string why;
    int added = add_bundle(ctx.get(), file, why);
    if (added < 0) return why;
    if (added == 0) return "holds no PEM certificate";
    return std::nullopt;
}

TrustLoad SystemTrustAnchors::load_system(SSL_CTX* ctx) const {
    TrustLoad result;
    std::string file = overrides_.file.value_or(X509_get_default_cert_file());
    std::string dir = overrides_.dir.value_or(X509_get_default_cert_dir());
    std::string file_source = overrides_.file ? X509_get_default_cert_file_env() : "OpenSSL default";
    std::string dir_source = overrides_.dir ? X509_get_default_cert_dir_env() : "OpenSSL default";

    std::vector<std::string> parts, misses;
    std::string why;
    int added = add_bundle(ctx, file, why);
    if (added > 0) parts.push_back(file + " (" + file_source + ", " + plural(static_cast<size_t>(added), "certificate") + ")");
    else misses.push_back(file + " (" + file_source + "): " + (added == 0 ? "no PEM certificate" : why));
    size_t entries = 0;
    if (add_directory(ctx, dir, entries)) {
        parts.push_back(dir + " (" + dir_source + ", " + plural(entries, "hashed certificate") + ")");
    } else {
        misses.push_back(dir + " (" + dir_source + "): no certificate named by subject hash");
    }
    if (parts.empty()) {
        result.error = "no usable trust anchor: the system store is empty (";
        for (size_t i = 0; i < misses.size(); ++i) result.error += (i ? "; " : "") + misses[i];
        result.error += "); set tls.ca_file or tls.ca_dir, or pin the upstream with tls.pins and \"verify\": \"pin-only\"";
        return result;
    }
    result.description = "system store: ";
    for (size_t i = 0; i < parts.size(); ++i) result.description += (i ? ", " : "") + parts[i];
    result.ok = true;
    return result;
}

SystemTrustAnchors SystemTrustAnchors::from_environment() {
    Overrides overrides;
    if (const char* file = std::getenv(X509_get_default_cert_file_env())) overrides.file = file;
    if (const char* dir = std::getenv(X509_get_default_cert_dir_env())) overrides.dir = dir;
    return SystemTrustAnchors(std::move(overrides), platform_system_trust());
}

TrustLoad SystemTrustAnchors::load(SSL_CTX* ctx, const config::TlsSettings& settings) const {
    if (settings.ca_file || settings.ca_dir) return load_configured(ctx, settings);
    // Files named in the environment are as explicit as tls.ca_file: OpenSSL
    // reads them, on macOS too (and so the tests' own CA works there).
    if (platform_ && !overrides_.file && !overrides_.dir) {
        return TrustLoad{true, platform_.description, "", platform_.verifier};
    }
    return load_system(ctx);
}

std::vector<std::string> route_tls_errors(const config::Config& config, const tls::TrustAnchors& anchors) {
    std::vector<std::string> errors;
    for (size_t i = 0; i < config.routes.size(); ++i) {
        const config::Route& route = config.routes[i];
        if (!route.upstream.tls) continue;
        std::string error;
        if (!tls::make_upstream_context(route, anchors, error)) {
            errors.push_back("routes[" + std::to_string(i) + "] \"" + route.name + "\": cannot prepare TLS: " + error);
        }
    }
    return errors;
}

}  // namespace loopgate
