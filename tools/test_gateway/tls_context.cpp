#include "tls_context.hpp"

#include <cstring>
#include <mutex>
#include <set>
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

// --single-use-tickets: each ticket carries a serial number (its app data, sealed inside the
// ticket); a serial seen before is refused, so the handshake falls back to a full one, as with a
// server that keeps TLS 1.3 tickets single use (RFC 8446 §8.1). OpenSSL's own stateless tickets
// resume any number of times, which would hide a client that offers one ticket twice.
struct TicketLedger {
    std::mutex mutex;
    uint64_t next_serial = 1;
    std::set<uint64_t> used;
};

TicketLedger& ledger() {
    static TicketLedger instance;
    return instance;
}

int stamp_ticket(SSL* ssl, void*) {
    uint64_t serial;
    {
        std::lock_guard<std::mutex> lock(ledger().mutex);
        serial = ledger().next_serial++;
    }
    return SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl), &serial, sizeof serial);
}

SSL_TICKET_RETURN admit_ticket(SSL*, SSL_SESSION* session, const unsigned char*, size_t, SSL_TICKET_STATUS status,
                               void*) {
    if (status != SSL_TICKET_SUCCESS && status != SSL_TICKET_SUCCESS_RENEW) return SSL_TICKET_RETURN_IGNORE_RENEW;
    // TLS 1.2 has no single-use rule: its sessions resume as often as the client likes.
    if (SSL_SESSION_get_protocol_version(session) < TLS1_3_VERSION)
        return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
    void* data = nullptr;
    size_t length = 0;
    uint64_t serial = 0;
    if (SSL_SESSION_get0_ticket_appdata(session, &data, &length) != 1 || length != sizeof serial)
        return SSL_TICKET_RETURN_IGNORE_RENEW;
    std::memcpy(&serial, data, sizeof serial);
    bool first_use;
    {
        std::lock_guard<std::mutex> lock(ledger().mutex);
        first_use = ledger().used.insert(serial).second;
    }
    if (first_use) return SSL_TICKET_RETURN_USE_RENEW;  // TLS 1.3 sends a fresh ticket anyway
    say("tls ticket refused: offered again (serial " + std::to_string(serial) + ")");
    return SSL_TICKET_RETURN_IGNORE_RENEW;
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
    if (options.tickets) SSL_CTX_set_num_tickets(ctx.get(), *options.tickets);
    if (options.single_use_tickets) SSL_CTX_set_session_ticket_cb(ctx.get(), stamp_ticket, admit_ticket, nullptr);
    return ctx;
}

}  // namespace test_gateway
