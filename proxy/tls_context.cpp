#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

namespace loopgate::tls {
namespace {

std::string last_openssl_error() {
    unsigned long code = ERR_peek_last_error();
    if (code == 0) return "unknown error";
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? reason : "error " + std::to_string(code);
}

}  // namespace

SslCtxPtr make_upstream_context(const config::Route& route, std::string& error) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        error = "cannot create TLS context: " + last_openssl_error();
        return nullptr;
    }
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
        error = "cannot load the system trust store: " + last_openssl_error();
        return nullptr;
    }
    if (route.tls.ca_file) {
        ERR_clear_error();
        if (SSL_CTX_load_verify_locations(ctx.get(), route.tls.ca_file->c_str(), nullptr) != 1) {
            error = "cannot load tls.ca_file " + route.tls.ca_file->string() + ": " + last_openssl_error();
            return nullptr;
        }
    }
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
    return ctx;
}

SSL* new_upstream_ssl(SSL_CTX* ctx, const config::UpstreamUrl& upstream, std::string& error) {
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) {
        error = "cannot create TLS connection: " + last_openssl_error();
        return nullptr;
    }
    bool ok;
    if (upstream.host_is_ipv4_literal) {
        // RFC 6066: no SNI for IP literals; the certificate must carry the IP.
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), upstream.host.c_str()) == 1;
    } else {
        ok = SSL_set_tlsext_host_name(ssl, upstream.host.c_str()) == 1 && SSL_set1_host(ssl, upstream.host.c_str()) == 1;
    }
    if (!ok) {
        error = "cannot set the TLS server name " + upstream.host + ": " + last_openssl_error();
        SSL_free(ssl);
        return nullptr;
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

std::string describe_failure(SSL* ssl, int ssl_error, bool& is_verify) {
    is_verify = false;
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
        is_verify = true;
        return std::string("upstream certificate verify failed: ") + X509_verify_cert_error_string(verify);
    }
    if (ssl_error == SSL_ERROR_SSL) return "TLS handshake failed: " + last_openssl_error();
    if (ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_ZERO_RETURN) {
        return "upstream closed the connection during the TLS handshake";
    }
    return "TLS error " + std::to_string(ssl_error) + ": " + last_openssl_error();
}

std::string describe_session(SSL* ssl) {
    const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
    std::string out = SSL_get_version(ssl);
    if (cipher != nullptr) {
        out += ' ';
        out += SSL_CIPHER_get_name(cipher);
    }
    return out;
}

}  // namespace loopgate::tls
