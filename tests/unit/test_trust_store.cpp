// daemon/trust_store: the trust anchors a route ends up with when its TLS
// context is built (tls.ca_file, tls.ca_dir or the system store), the start
// error when there is none, and the description the start log and probe show.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "config.hpp"
#include "sample_pins.hpp"
#include "self_signed.hpp"
#include "temp_dir.hpp"
#include "tls_context.hpp"
#include "trust_store.hpp"

namespace fs = std::filesystem;
using loopgate::test::KeyPair;
using loopgate::test::kHex;
using loopgate::test::make_self_signed;
using loopgate::test::pin_ok;
using loopgate::test::TempDir;

namespace {

// Sets environment variables for one scope, then restores them.
class EnvOverride {
public:
    EnvOverride(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~EnvOverride() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    EnvOverride(const EnvOverride&) = delete;
    EnvOverride& operator=(const EnvOverride&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

loopgate::config::Route route_with_tls(const loopgate::config::TlsSettings& tls) {
    loopgate::config::Route route;
    route.name = "gw";
    loopgate::config::parse_upstream_url("wss://gateway.test", route.upstream);
    route.tls = tls;
    return route;
}

// A context built with the system store as `overrides` name it.
loopgate::tls::SslCtxPtr build(const loopgate::config::TlsSettings& tls, std::string& error,
                               loopgate::SystemTrustAnchors::Overrides overrides = {}) {
    return loopgate::tls::make_upstream_context(route_with_tls(tls), loopgate::SystemTrustAnchors(std::move(overrides)),
                                                error);
}

}  // namespace

TEST_CASE("trust: a ca_file without a certificate, or a ca_dir without hashed names, is a start error") {
    TempDir dir;
    loopgate::config::TlsSettings tls;
    tls.ca_file = dir.write("empty.pem", "not a certificate\n");
    std::string error;
    CHECK(build(tls, error) == nullptr);
    CHECK(error == "tls.ca_file " + tls.ca_file->string() + " holds no PEM certificate");

    KeyPair ca = make_self_signed(dir, "private-ca");
    tls.ca_file.reset();
    tls.ca_dir = dir.path();  // holds ca.pem files, but none named by subject hash
    error.clear();
    CHECK(build(tls, error) == nullptr);
    CHECK(error == "tls.ca_dir " + dir.path().string() + " holds no certificate named by subject hash (run: openssl "
                                                         "rehash " + dir.path().string() + ")");

    tls.ca_dir.reset();
    tls.ca_file = ca.cert;
    error.clear();
    auto ctx = build(tls, error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) == "tls.ca_file " + ca.cert.string() + " (1 certificate)");
}

TEST_CASE("trust: an empty system store is a start error for verify full, and no matter for pin-only") {
    TempDir dir;
    loopgate::SystemTrustAnchors::Overrides empty{(dir.path() / "none.pem").string(), dir.path().string()};
    std::string error;
    loopgate::config::TlsSettings tls;
    CHECK(build(tls, error, empty) == nullptr);
    CHECK(error.find("no usable trust anchor: the system store is empty (" + (dir.path() / "none.pem").string() +
                     " (SSL_CERT_FILE): No such file or directory; " + dir.path().string() +
                     " (SSL_CERT_DIR): no certificate named by subject hash)") == 0);
    CHECK(error.find("set tls.ca_file or tls.ca_dir, or pin the upstream with tls.pins and \"verify\": \"pin-only\"") !=
          std::string::npos);

    tls.verify = loopgate::config::TlsVerify::pin_only;
    tls.pins.push_back(pin_ok(kHex));
    error.clear();
    auto ctx = build(tls, error, empty);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) ==
          "none: \"verify\": \"pin-only\" (only tls.pins authenticate the upstream)");
}

TEST_CASE("trust: the system store is what SSL_CERT_FILE names when the daemon starts, and the description says so") {
    TempDir dir;
    KeyPair ca = make_self_signed(dir, "system-root");
    std::optional<loopgate::SystemTrustAnchors> anchors;
    {
        EnvOverride file("SSL_CERT_FILE", ca.cert.string());
        EnvOverride directory("SSL_CERT_DIR", (dir.path() / "nothing-here").string());
        anchors.emplace(loopgate::SystemTrustAnchors::from_environment());
    }
    std::string error;  // the environment is read once: what it says later does not matter
    auto ctx = loopgate::tls::make_upstream_context(route_with_tls({}), *anchors, error);
    REQUIRE(ctx != nullptr);
    CHECK(loopgate::tls::trust_description(ctx.get()) ==
          "system store: " + ca.cert.string() + " (SSL_CERT_FILE, 1 certificate)");
}
