// Helpers for the config unit tests: parse a text as loopgate would read
// it (no file system: parse_config's default FileChecks), and compare error
// lists showing both in full when they differ.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config.hpp"

// Shows both lists when a check on errors fails.
namespace doctest {
template <>
struct StringMaker<std::vector<std::string>> {
    static String convert(const std::vector<std::string>& lines) {
        std::string out = "{";
        for (const auto& line : lines) out += "\n  \"" + line + "\"";
        return String((out + "}").c_str());
    }
};
}  // namespace doctest

namespace loopgate::test {

using Errors = std::vector<std::string>;

inline config::LoadResult parse(const std::string& text,
                                const std::filesystem::path& base_dir = std::filesystem::temp_directory_path()) {
    return config::parse_config(text, base_dir);
}

inline config::Config parse_ok(const std::string& text,
                               const std::filesystem::path& base_dir = std::filesystem::temp_directory_path()) {
    config::LoadResult result = parse(text, base_dir);
    INFO("text: " << text);
    REQUIRE(result.errors == Errors{});
    REQUIRE(result.config.has_value());
    return *result.config;
}

inline Errors parse_errors(const std::string& text) { return parse(text).errors; }

// One valid route plus `extra` members (each starting with a comma).
inline std::string route_config(const std::string& extra, const std::string& listen = "127.0.0.1:0") {
    return R"({"routes": [{"name": "gw", "listen": ")" + listen + R"(", "upstream": "wss://gateway.test")" + extra +
           "}]}";
}

// A route with `members` as its whole body.
inline std::string route_with(const std::string& members) { return R"({"routes": [{)" + members + "}]}"; }

inline void check_errors(const std::string& text, const Errors& expected) {
    config::LoadResult result = parse(text);
    INFO("text: " << text);
    CHECK(result.errors == expected);
    CHECK_FALSE(result.config.has_value());
}

inline void check_route_error(const std::string& extra, const std::string& expected) {
    check_errors(route_config(extra), {expected});
}

}  // namespace loopgate::test
