// Keeping credentials out of logs and error bodies. Apps put tokens in query
// strings (browsers cannot set headers on a WebSocket), in Authorization and
// in cookies; none of them may end up in a log file that support asks for.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace loopgate::redact {

inline constexpr std::string_view kMark = "REDACTED";

// A query parameter or header name that looks like it carries a credential:
// it contains token, password, secret, key, auth, session, signature, ...
// (case-insensitive, percent-decoded).
bool looks_like_credential(std::string_view name);

// Authorization, Cookie, Proxy-Authorization, Set-Cookie,
// Sec-WebSocket-Protocol, and any name that looks like a credential.
bool is_secret_header(std::string_view name);

// The value as a log line may show it: kMark for a secret header.
std::string header_value(std::string_view name, std::string_view value);

// The request target with the value of every credential-like query parameter
// replaced by kMark, cut at max_bytes: what a log line may show.
std::string target(std::string_view request_target, size_t max_bytes = 512);

}  // namespace loopgate::redact
