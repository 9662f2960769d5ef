// One TLS handshake in memory (a BIO pair, no socket, no loop): loopgate's
// client side exactly as a route builds it (make_upstream_context,
// new_upstream_ssl) against a server presenting a given chain. For the unit
// tests of chain verification: what the client decided, and in which words.
#pragma once

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <optional>
#include <string>
#include <vector>

#include "config.hpp"
#include "test_pki.hpp"
#include "tls_context.hpp"

namespace loopgate::test {

struct HandshakeResult {
    bool ok = false;
    std::string reason;       // describe_failure's words when !ok
    bool is_verify = false;   // the certificate (chain, name or pin) was the problem
    long verify_result = X509_V_OK;
    std::optional<tls::PeerReport> report;
};

inline config::Route route_for(const std::string& url, const config::TlsSettings& tls = {}) {
    config::Route route;
    route.name = "gw";
    REQUIRE(config::parse_upstream_url(url, route.upstream) == std::nullopt);
    route.tls = tls;
    return route;
}

// The server sends `chain` (leaf first) and holds `key`, the leaf's.
inline HandshakeResult handshake(const config::Route& route, const tls::TrustAnchors& anchors,
                                 const std::vector<X509*>& chain, EVP_PKEY* key) {
    std::string error;
    tls::SslCtxPtr client_ctx = tls::make_upstream_context(route, anchors, error);
    INFO("make_upstream_context: " << error);
    REQUIRE(client_ctx != nullptr);
    SSL* client = tls::new_upstream_ssl(client_ctx.get(), route.upstream, error);
    REQUIRE(client != nullptr);

    SSL_CTX* server_ctx = SSL_CTX_new(TLS_server_method());
    REQUIRE(server_ctx != nullptr);
    REQUIRE(SSL_CTX_use_certificate(server_ctx, chain.front()) == 1);
    for (size_t i = 1; i < chain.size(); ++i) REQUIRE(SSL_CTX_add1_chain_cert(server_ctx, chain[i]) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(server_ctx, key) == 1);
    SSL* server = SSL_new(server_ctx);
    REQUIRE(server != nullptr);

    BIO* client_bio = nullptr;
    BIO* server_bio = nullptr;
    REQUIRE(BIO_new_bio_pair(&client_bio, 0, &server_bio, 0) == 1);
    SSL_set_bio(client, client_bio, client_bio);
    SSL_set_bio(server, server_bio, server_bio);
    SSL_set_accept_state(server);

    ERR_clear_error();
    HandshakeResult result;
    int client_rc = 0;
    bool client_done = false;
    bool server_done = false;
    // Each round moves at least one flight; a TLS 1.3 handshake needs a few.
    for (int round = 0; round < 20 && !(client_done && server_done); ++round) {
        if (!client_done) {
            client_rc = SSL_do_handshake(client);
            int err = SSL_get_error(client, client_rc);
            if (client_rc == 1) {
                client_done = true;
            } else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                result.reason = tls::describe_failure(client, err, result.is_verify);
                break;
            }
        }
        if (!server_done) {
            int rc = SSL_do_handshake(server);
            int err = SSL_get_error(server, rc);
            if (rc == 1) server_done = true;
            else if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) break;  // the client's alert
        }
    }
    result.ok = client_done;
    result.verify_result = SSL_get_verify_result(client);
    if (const tls::PeerReport* report = tls::peer_report(client)) result.report = *report;
    ERR_clear_error();
    SSL_free(client);
    SSL_free(server);
    SSL_CTX_free(server_ctx);
    return result;
}

inline HandshakeResult handshake(const config::Route& route, const tls::TrustAnchors& anchors, const Issued& leaf,
                                 const std::vector<const Issued*>& intermediates = {}) {
    std::vector<X509*> chain{leaf.cert.get()};
    for (const Issued* cert : intermediates) chain.push_back(cert->cert.get());
    return handshake(route, anchors, chain, leaf.key.get());
}

}  // namespace loopgate::test
