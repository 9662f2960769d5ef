// HTTP/1.1 for the opening handshake (RFC 6455 section 4): parsing the request header block,
// checking it is a WebSocket upgrade, and the responses (the 101, or a refusal).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace test_gateway {

struct HttpRequest {
    std::string method;
    std::string target;
    std::string version;
    // Lowercased names in order of first appearance; repeated headers joined with ", ".
    std::vector<std::pair<std::string, std::string>> headers;

    const std::string* header(std::string_view name) const;
    std::string header_or_dash(std::string_view name) const;
    void add_header(std::string name, std::string_view value);
};

// Parses a header block without its final empty line; returns an error message if it is not HTTP.
std::optional<std::string> parse_request(std::string_view block, HttpRequest& request);
// What keeps a parsed request from being a WebSocket upgrade we accept, or nothing.
std::optional<std::string> upgrade_problem(const HttpRequest& request);

// The whole 101 answer, blank line included, for a request without an upgrade_problem();
// `extra_headers` are complete lines.
std::string upgrade_response(const HttpRequest& request, std::string_view extra_headers = {});
// "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n" (RFC 9110 IMF-fixdate) for `unix_seconds`.
std::string date_header_line(int64_t unix_seconds);
// A whole answer other than 101: text/plain `body` (left out for 204 and 304), Connection: close,
// and `extra_headers` (complete lines).
std::string refusal_response(int status, const std::string& body, std::string_view extra_headers = {});

}  // namespace test_gateway
