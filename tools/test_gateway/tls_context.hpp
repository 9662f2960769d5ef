// The TLS server context: certificate chain and key, the TLS versions accepted, ALPN http/1.1,
// and, with --client-ca, mutual TLS.
#pragma once

#include <openssl/ssl.h>

#include <memory>

#include "options.hpp"

namespace test_gateway {

struct SslCtxDeleter {
    void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Throws with the reason when a file cannot be used.
SslCtxPtr make_tls_context(const Options& options);

}  // namespace test_gateway
