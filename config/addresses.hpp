// Addresses a route names: IPv4 literals, listen addresses (HOST:PORT or
// unix:/path) and the upstream URL (parse_upstream_url, in config.hpp). Each
// parser returns why the text is not acceptable (without a JSON path), or
// nothing and fills `out`.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "config.hpp"

namespace loopgate::config {

// Strict dotted quad: "127.0.0.1"; no leading zeros.
std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view text);

// "127.0.0.1:18789"
std::optional<std::string> parse_listen(std::string_view text, ListenAddress& out);

// "unix:/run/user/501/loopgate.sock"; a relative path is relative to base_dir.
std::optional<std::string> parse_unix_listen(std::string_view text, const std::filesystem::path& base_dir,
                                             ListenAddress& out);

}  // namespace loopgate::config
