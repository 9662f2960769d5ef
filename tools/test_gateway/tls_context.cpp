#include "tls_context.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include "log.hpp"

namespace test_gateway {
namespace {

// Tailscale Serve and most TLS front ends negotiate http/1.1 by ALPN when offered; doing the same
// lets clients that insist on ALPN connect, and declining anything else keeps h2 clients honest.
int select_http11_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* offered,
                       unsigned int offered_length, void*) {
    static constexpr unsigned char kHttp11[] = "http/1.1";
    for (unsigned int i = 0; i < offered_length;) {
        unsigned int length = offered[i];
        if (i + 1 + length > offered_length) break;
        if (length == 8 && std::memcmp(offered + i + 1, kHttp11, 8) == 0) {
            *out = offered + i + 1;
            *out_length = 8;
            return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + length;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

// Mutual TLS: a client without a certificate from this CA fails the handshake (in TLS 1.3, after
// the client already thinks it is done, so it sees the alert on its first read).
void require_client_certificates(SSL_CTX* ctx, const std::string& ca_file) {
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1)
        throw std::runtime_error("cannot load client CA " + ca_file + ": " + openssl_error_text());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
    if (names != nullptr) SSL_CTX_set_client_CA_list(ctx, names);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // Without a session id context OpenSSL refuses to resume sessions whose client was verified.
    static constexpr unsigned char kContext[] = "loopgate-test-gateway";
    SSL_CTX_set_session_id_context(ctx, kContext, sizeof kContext - 1);
}

}  // namespace

SslCtxPtr make_tls_context(const Options& options) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throw std::runtime_error("cannot create TLS context: " + openssl_error_text());
    SSL_CTX_set_min_proto_version(ctx.get(), options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), options.cert_file.c_str()) != 1)
        throw std::runtime_error("cannot load certificate " + options.cert_file + ": " + openssl_error_text());
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)
        throw std::runtime_error("cannot load key " + options.key_file + ": " + openssl_error_text());
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
        throw std::runtime_error("key " + options.key_file + " does not match " + options.cert_file);
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_http11_alpn, nullptr);
    if (!options.client_ca_file.empty()) require_client_certificates(ctx.get(), options.client_ca_file);
    return ctx;
}

}  // namespace test_gateway
