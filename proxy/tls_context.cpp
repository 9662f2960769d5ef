#include "tls_context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>

#include "tls_verify.hpp"

namespace loopgate::tls {
namespace {

using detail::RoutePolicy;

std::string last_openssl_error() {
    unsigned long code = ERR_peek_last_error();
    if (code == 0) return "unknown error";
    const char* reason = ERR_reason_error_string(code);
    return reason != nullptr ? reason : "error " + std::to_string(code);
}

void free_policy(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<RoutePolicy*>(ptr);
}

int policy_index() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, free_policy);
    return index;
}

RoutePolicy* policy_of(SSL_CTX* ctx) { return static_cast<RoutePolicy*>(SSL_CTX_get_ex_data(ctx, policy_index())); }

// The session a connection offered, with a reference of its own: OpenSSL
// replaces the SSL's session when the server does not resume it, and a failed
// dial must still be able to name the one it offered (forget_session).
void free_offered(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    SSL_SESSION_free(static_cast<SSL_SESSION*>(ptr));
}

int offered_index() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_offered);
    return index;
}

// Sessions carry OpenSSL's wall-clock arrival time; the cache judges them by it.
int64_t now_s() { return static_cast<int64_t>(std::time(nullptr)); }

// A TLS 1.2 session arrives at the end of the handshake; TLS 1.3 tickets
// arrive after it, with the first records read, one call each. All are kept:
// each concurrent dial needs a ticket of its own.
int on_new_session(SSL* ssl, SSL_SESSION* session) {
    RoutePolicy* policy = policy_of(SSL_get_SSL_CTX(ssl));
    if (policy == nullptr || SSL_SESSION_is_resumable(session) != 1) return 0;
    policy->sessions->put(session, now_s());
    return 1;  // the reference is the cache's now
}

int protocol_number(config::TlsVersion version) {
    return version == config::TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
}

// OpenSSL's own default (its config file may already say 1.2) stands,
// except that nothing older than 1.2 is ever allowed.
void set_versions(SSL_CTX* ctx, const config::TlsSettings& settings) {
    if (settings.min_version) {
        SSL_CTX_set_min_proto_version(ctx, protocol_number(*settings.min_version));
    } else if (SSL_CTX_get_min_proto_version(ctx) < TLS1_2_VERSION) {
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    }
    if (settings.max_version) SSL_CTX_set_max_proto_version(ctx, protocol_number(*settings.max_version));
}

// A daemon has no one to type a passphrase; never let OpenSSL prompt.
int refuse_passphrase(char*, int, int, void*) { return -1; }

bool use_client_certificate(SSL_CTX* ctx, const config::TlsSettings& settings, std::string& error) {
    if (!settings.client_cert || !settings.client_key) return true;
    SSL_CTX_set_default_passwd_cb(ctx, refuse_passphrase);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, settings.client_cert->c_str()) != 1) {
        error = "cannot load tls.client_cert " + settings.client_cert->string() + ": " + last_openssl_error();
        return false;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, settings.client_key->c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        error = "cannot use tls.client_key " + settings.client_key->string() + ": " + last_openssl_error();
        return false;
    }
    return true;
}

}  // namespace

SslCtxPtr make_upstream_context(const config::Route& route, const TrustAnchors& anchors, std::string& error) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) {
        error = "cannot create TLS context: " + last_openssl_error();
        return nullptr;
    }
    auto* policy = new RoutePolicy{};
    policy->verify = route.tls.verify;
    policy->pins = route.tls.pins;
    policy->has_client_cert = route.tls.client_cert.has_value();
    SSL_CTX_set_ex_data(ctx.get(), policy_index(), policy);  // freed with the context
    SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    set_versions(ctx.get(), route.tls);
    TrustLoad trust = route.tls.verify == config::TlsVerify::pin_only
                          ? TrustLoad{true, "none: \"verify\": \"pin-only\" (only tls.pins authenticate the upstream)", "", nullptr}
                          : anchors.load(ctx.get(), route.tls);
    if (!trust.ok) {
        error = trust.error;
        return nullptr;
    }
    policy->trust = trust.description;
    policy->chain = trust.verifier != nullptr ? trust.verifier : openssl_chain_verifier();
    if (!use_client_certificate(ctx.get(), route.tls, error)) return nullptr;
    detail::install_verifier(ctx.get(), policy);
    static const unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx.get(), kAlpn, sizeof kAlpn);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), on_new_session);
    ERR_clear_error();
    return ctx;
}

const std::string& trust_description(SSL_CTX* ctx) {
    static const std::string kNone = "unknown";
    RoutePolicy* policy = policy_of(ctx);
    return policy != nullptr ? policy->trust : kNone;
}

SSL* new_upstream_ssl(SSL_CTX* ctx, const config::UpstreamUrl& upstream, std::string& error) {
    SSL* ssl = SSL_new(ctx);
    if (ssl == nullptr) {
        error = "cannot create TLS connection: " + last_openssl_error();
        return nullptr;
    }
    RoutePolicy* policy = policy_of(ctx);
    // "pin-only" checks no name: the self-signed gateways it is for have none.
    bool check_name = policy == nullptr || policy->verify == config::TlsVerify::full;
    bool ok = true;
    if (upstream.host_is_ipv4_literal) {
        // RFC 6066: no SNI for IP literals; the certificate must carry the IP.
        if (check_name) ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), upstream.host.c_str()) == 1;
    } else {
        ok = SSL_set_tlsext_host_name(ssl, upstream.host.c_str()) == 1 &&
             (!check_name || SSL_set1_host(ssl, upstream.host.c_str()) == 1);
    }
    if (!ok) {
        error = "cannot set the TLS server name " + upstream.host + ": " + last_openssl_error();
        SSL_free(ssl);
        return nullptr;
    }
    if (SSL_SESSION* session = policy != nullptr ? policy->sessions->take(now_s()) : nullptr) {
        SSL_set_session(ssl, session);  // takes a reference of its own
        // Ours goes to the SSL's record of what it offered, freed with it.
        if (SSL_set_ex_data(ssl, offered_index(), session) != 1) SSL_SESSION_free(session);
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

bool carry_session(SSL_CTX* from, SSL_CTX* to) {
    RoutePolicy* old_policy = policy_of(from);
    RoutePolicy* new_policy = policy_of(to);
    if (old_policy == nullptr || new_policy == nullptr) return false;
    if (old_policy->trust != new_policy->trust) return false;
    X509* old_cert = SSL_CTX_get0_certificate(from);
    X509* new_cert = SSL_CTX_get0_certificate(to);
    if ((old_cert == nullptr) != (new_cert == nullptr) || (old_cert != nullptr && X509_cmp(old_cert, new_cert) != 0)) {
        return false;
    }
    // One cache for both: a ticket either context hands out is gone for the
    // other, and tickets still arriving on the old context's connections feed the new one.
    new_policy->sessions = old_policy->sessions;
    return !new_policy->sessions->empty();
}

void give_back_session(SSL* ssl) {
    RoutePolicy* policy = policy_of(SSL_get_SSL_CTX(ssl));
    auto* offered = static_cast<SSL_SESSION*>(SSL_get_ex_data(ssl, offered_index()));
    // Only a TLS 1.3 ticket left the cache; a TLS 1.2 session never did, and
    // putting it back would undo another dial's forget_session.
    if (policy == nullptr || offered == nullptr || !TicketCache::single_use(offered)) return;
    SSL_set_ex_data(ssl, offered_index(), nullptr);
    policy->sessions->put(offered, now_s());  // the offered record's reference is the cache's now
}

void forget_session(SSL* ssl) {
    RoutePolicy* policy = policy_of(SSL_get_SSL_CTX(ssl));
    auto* offered = static_cast<const SSL_SESSION*>(SSL_get_ex_data(ssl, offered_index()));
    // A TLS 1.3 ticket left the cache when this dial took it; a TLS 1.2 session is still there.
    if (policy != nullptr && offered != nullptr) policy->sessions->erase(offered);
}

void release_offered_session(SSL* ssl) {
    auto* offered = static_cast<SSL_SESSION*>(SSL_get_ex_data(ssl, offered_index()));
    if (offered == nullptr) return;
    SSL_set_ex_data(ssl, offered_index(), nullptr);
    SSL_SESSION_free(offered);
}

size_t cached_sessions(SSL_CTX* ctx) {
    RoutePolicy* policy = policy_of(ctx);
    return policy != nullptr ? policy->sessions->size() : 0;
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
