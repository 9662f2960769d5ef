// TLS toward the upstream: one client SSL_CTX per route, one SSL per dial.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "config.hpp"

namespace loopgate::tls {

struct SslCtxFree {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;

// Verification on, the system trust store plus the route's ca_file, TLS 1.2
// or newer, ALPN http/1.1. Returns null and sets error when it cannot be built.
SslCtxPtr make_upstream_context(const config::Route& route, std::string& error);

// A client SSL for one connection: SNI for names (never for IP literals) and
// the name or IP the certificate must match.
SSL* new_upstream_ssl(SSL_CTX* ctx, const config::UpstreamUrl& upstream, std::string& error);

// Why a handshake or read failed, in words for a person. Sets is_verify when
// the peer's certificate was the problem.
std::string describe_failure(SSL* ssl, int ssl_error, bool& is_verify);

// "TLSv1.3 TLS_AES_256_GCM_SHA384"
std::string describe_session(SSL* ssl);

}  // namespace loopgate::tls
