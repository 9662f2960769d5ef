// Text helpers shared by the config parsers: ASCII character classes, case
// folding, plain decimal numbers, quoting and lists. Locale-free on purpose:
// a config must mean the same thing on every machine.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace loopgate::config {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool starts_with_nocase(std::string_view text, std::string_view prefix);

// Takes the first line off `rest` and returns it without its '\n'; `rest`
// keeps what follows (empty after the last line). Loop while !rest.empty().
inline std::string_view take_line(std::string_view& rest) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    return line;
}

// Plain decimal digits only: no sign, no spaces, at most `max`.
std::optional<uint32_t> parse_decimal(std::string_view digits, uint32_t max);

// As a JSON string literal: "gw", "max size" (invalid UTF-8 replaced).
std::string quoted(const std::string& text);

// "a, b, c"
std::string join(std::span<const std::string_view> words);

}  // namespace loopgate::config
