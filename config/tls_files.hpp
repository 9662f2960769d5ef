// Checks on the TLS files a route names, done when the config is loaded so a
// bad client certificate is a config error and not a surprise at the first
// connection.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace loopgate::config {

struct ClientPairProblem {
    bool about_key = false;  // the error belongs to client_key (else client_cert)
    std::string message;     // without the JSON path
};

// Both files are PEM, the key is unencrypted and not readable by every user,
// and the key belongs to the first certificate of the chain.
std::optional<ClientPairProblem> check_client_pair(const std::filesystem::path& cert,
                                                   const std::filesystem::path& key,
                                                   const std::string& cert_json_path);

}  // namespace loopgate::config
