// Small text rules of HTTP shared by the reader and the handshake code:
// header names compare case-insensitively, values lose optional whitespace.
#pragma once

#include <algorithm>
#include <cctype>
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

}  // namespace loopgate::http
