// Small text rules of HTTP shared by the reader and the handshake code:
// header names compare case-insensitively, values lose optional whitespace.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

namespace loopgate::http {

inline bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// Strips optional whitespace (RFC 9110 5.6.3: spaces and tabs) at both ends.
inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// `text` with control and non-ASCII bytes (and each byte of `also`: by
// default quotes and backslashes) written as \xHH, cut at max_bytes ("..."
// then): for bytes a peer chose (a request's values, an upstream's headers, a
// certificate's names) in reasons, logs and what a terminal shows.
inline std::string escaped_value(std::string_view text, size_t max_bytes = 200, std::string_view also = "\"\\") {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (size_t i = 0; i < text.size() && i < max_bytes; ++i) {
        auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c >= 0x7f || also.find(static_cast<char>(c)) != std::string_view::npos) {
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
    if (text.size() > max_bytes) out += "...";
    return out;
}

// escaped_value in double quotes.
inline std::string quoted_value(std::string_view text, size_t max_bytes = 200) {
    return "\"" + escaped_value(text, max_bytes) + "\"";
}

}  // namespace loopgate::http
