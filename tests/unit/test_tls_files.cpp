// config/tls_files: the client certificate and key a route names, checked
// when the config is loaded: both PEM, the key unencrypted and private, and
// the key belonging to the certificate.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config.hpp"
#include "self_signed.hpp"
#include "temp_dir.hpp"

namespace fs = std::filesystem;
using loopgate::test::KeyPair;
using loopgate::test::make_self_signed;
using loopgate::test::TempDir;
using Errors = std::vector<std::string>;

namespace {

std::string route_config(const std::string& tls) {
    return R"({"routes": [{"name": "gw", "listen": "127.0.0.1:0", "upstream": "wss://gateway.test", "tls": )" + tls +
           "}]}";
}

Errors tls_errors(const std::string& tls) {
    auto result = loopgate::config::parse_config(route_config(tls), fs::temp_directory_path());
    INFO("tls: " << tls);
    CHECK(result.config.has_value() == result.errors.empty());
    return result.errors;
}

loopgate::config::TlsSettings tls_ok(const std::string& tls) {
    auto result = loopgate::config::parse_config(route_config(tls), fs::temp_directory_path());
    INFO("tls: " << tls);
    REQUIRE(result.errors == Errors{});
    return result.config->routes.at(0).tls;
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

}  // namespace

TEST_CASE("config tls: client certificate and key come together and must match") {
    TempDir dir;
    KeyPair mine = make_self_signed(dir, "loopgate-client");
    KeyPair other = make_self_signed(dir, "someone-else");
    auto tls = tls_ok(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.key) + "}");
    CHECK(tls.client_cert == mine.cert);
    CHECK(tls.client_key == mine.key);
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + "}") ==
          Errors{"routes[0].tls.client_key: required when routes[0].tls.client_cert is set"});
    CHECK(tls_errors(R"({"client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_cert: required when routes[0].tls.client_key is set"});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(other.key) + "}") ==
          Errors{"routes[0].tls.client_key: does not match the certificate in routes[0].tls.client_cert (" +
                 mine.cert.string() + ")"});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.key) + R"(, "client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_cert: no PEM certificate in " + mine.key.string()});
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.cert) + "}") ==
          Errors{"routes[0].tls.client_key: no unencrypted PEM private key in " + mine.cert.string() +
                 " (encrypted keys are not supported)"});
    ::chmod(mine.key.c_str(), 0644);
    CHECK(tls_errors(R"({"client_cert": )" + quoted(mine.cert) + R"(, "client_key": )" + quoted(mine.key) + "}") ==
          Errors{"routes[0].tls.client_key: " + mine.key.string() +
                 " is readable by every user; restrict it (chmod 600)"});
}
