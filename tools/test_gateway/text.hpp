// Small string helpers: header tokens, numbers, random hex and JSON strings.
#pragma once

#include <charconv>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace test_gateway {

std::string lowercase(std::string_view text);
// Without the spaces and tabs at both ends.
std::string_view trim(std::string_view text);
std::vector<std::string_view> split(std::string_view text, char separator);
// Whether a comma-separated header list holds `token` (lowercase), in any case.
bool list_has_token(std::string_view list, std::string_view token);
// `bytes` random bytes as lowercase hex digits.
std::string random_hex(size_t bytes);
// `text` as a JSON string, quotes included. Bytes outside printable ASCII become \u00XX (their
// Latin-1 code points), so the result is always valid UTF-8 whatever `text` holds.
std::string json_string(std::string_view text);

// The whole of `text` as a decimal number, or nothing.
template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
    Number value{};
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return value;
}

}  // namespace test_gateway
