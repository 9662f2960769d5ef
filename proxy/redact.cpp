#include "redact.hpp"

#include <algorithm>
#include <array>

namespace loopgate::redact {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decoded and lower-cased, so "%54oken" and "TOKEN" read as "token".
std::string normalized_name(std::string_view name) {
    std::string out;
    out.reserve(name.size());
    for (size_t i = 0; i < name.size(); ++i) {
        char c = name[i];
        if (c == '%' && i + 2 < name.size() && hex_value(name[i + 1]) >= 0 && hex_value(name[i + 2]) >= 0) {
            c = static_cast<char>(hex_value(name[i + 1]) * 16 + hex_value(name[i + 2]));
            i += 2;
        }
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        out += c;
    }
    return out;
}

bool is_named(std::string_view name, std::string_view lower_case) { return normalized_name(name) == lower_case; }

std::string redact_parameter(std::string_view parameter) {
    size_t equals = parameter.find('=');
    if (equals == std::string_view::npos || !looks_like_credential(parameter.substr(0, equals))) {
        return std::string(parameter);
    }
    return std::string(parameter.substr(0, equals + 1)) + std::string(kMark);
}

}  // namespace

bool looks_like_credential(std::string_view name) {
    // Broad on purpose: hiding a harmless value costs a little debugging
    // comfort; showing a token costs an account.
    static constexpr std::array<std::string_view, 14> kWords = {
        "token", "pass", "pwd",    "secret", "key",    "auth",   "session",
        "sig",   "cred", "jwt",    "bearer", "cookie", "ticket", "code"};
    std::string normalized = normalized_name(name);
    return std::any_of(kWords.begin(), kWords.end(),
                       [&](std::string_view word) { return normalized.find(word) != std::string::npos; });
}

bool is_secret_header(std::string_view name) {
    // Browsers cannot set headers on a WebSocket, so some apps carry a bearer
    // token as a subprotocol (Kubernetes does).
    return is_named(name, "authorization") || is_named(name, "proxy-authorization") || is_named(name, "cookie") ||
           is_named(name, "set-cookie") || is_named(name, "sec-websocket-protocol") || looks_like_credential(name);
}

std::string header_value(std::string_view name, std::string_view value) {
    return is_secret_header(name) ? std::string(kMark) : std::string(value);
}

std::string target(std::string_view request_target, size_t max_bytes) {
    size_t question = request_target.find('?');
    std::string out(request_target.substr(0, question));
    if (question != std::string_view::npos) {
        out += '?';
        std::string_view query = request_target.substr(question + 1);
        // '&' separates parameters; some servers also split on ';'.
        for (;;) {
            size_t end = query.find_first_of("&;");
            out += redact_parameter(query.substr(0, end));
            if (end == std::string_view::npos) break;
            out += query[end];
            query.remove_prefix(end + 1);
        }
    }
    if (out.size() > max_bytes) {
        out.resize(max_bytes);
        out += "...";
    }
    return out;
}

}  // namespace loopgate::redact
