#include "http.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "text.hpp"

namespace test_gateway {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool is_token_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool has_forbidden_byte(std::string_view text) {
    return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::optional<std::string> parse_request_line(std::string_view line, HttpRequest& request) {
    auto parts = split(line, ' ');
    if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) return "malformed request line";
    request.method = parts[0];
    request.target = parts[1];
    request.version = parts[2];
    if (has_forbidden_byte(line)) return "malformed request line";
    if (request.target.front() != '/') return "request target must be a path";
    if (request.version != "HTTP/1.1") return "WebSocket needs HTTP/1.1, got " + request.version;
    return std::nullopt;
}

bool is_valid_websocket_key(std::string_view key) {
    // 16 random bytes in base64: 22 significant characters and "==".
    if (key.size() != 24 || key.substr(22) != "==") return false;
    return std::all_of(key.begin(), key.begin() + 22,
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; });
}

std::string websocket_accept(std::string_view key) {
    std::string input = std::string(key) + std::string(kWebSocketGuid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_length = 0;
    if (EVP_Digest(input.data(), input.size(), digest, &digest_length, EVP_sha1(), nullptr) != 1)
        throw std::runtime_error("SHA-1 failed");
    unsigned char encoded[64];
    int encoded_length = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_length));
    return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(encoded_length));
}

std::optional<std::string> first_offered_subprotocol(const HttpRequest& request) {
    const std::string* offered = request.header("sec-websocket-protocol");
    if (!offered) return std::nullopt;
    std::string_view first = trim(split(*offered, ',').front());
    if (first.empty()) return std::nullopt;
    return std::string(first);
}

const char* reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 418: return "I'm a teapot";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 511: return "Network Authentication Required";
    default: break;
    }
    if (status < 300) return "Success";
    if (status < 400) return "Redirection";
    if (status < 500) return "Client Error";
    return "Server Error";
}

}  // namespace

const std::string* HttpRequest::header(std::string_view name) const {
    for (const auto& [key, value] : headers)
        if (key == name) return &value;
    return nullptr;
}

std::string HttpRequest::header_or_dash(std::string_view name) const {
    const std::string* value = header(name);
    return value ? *value : "-";
}

void HttpRequest::add_header(std::string name, std::string_view value) {
    for (auto& [key, existing] : headers) {
        if (key == name) {
            existing += ", ";
            existing += value;
            return;
        }
    }
    headers.emplace_back(std::move(name), value);
}

std::optional<std::string> parse_request(std::string_view block, HttpRequest& request) {
    size_t line_end = block.find("\r\n");
    if (auto error = parse_request_line(block.substr(0, line_end), request)) return error;
    while (line_end != std::string_view::npos) {
        size_t start = line_end + 2;
        line_end = block.find("\r\n", start);
        std::string_view line = block.substr(start, line_end == std::string_view::npos ? line_end : line_end - start);
        size_t colon = line.find(':');
        if (colon == std::string_view::npos || colon == 0 || has_forbidden_byte(line)) return "malformed header line";
        std::string_view name = line.substr(0, colon);
        if (!std::all_of(name.begin(), name.end(), is_token_char)) return "malformed header name";
        request.add_header(lowercase(name), trim(line.substr(colon + 1)));
    }
    return std::nullopt;
}

std::optional<std::string> upgrade_problem(const HttpRequest& request) {
    if (request.method != "GET") return "a WebSocket upgrade must use GET, not " + request.method;
    if (!request.header("host")) return "the Host header is missing";
    const std::string* upgrade = request.header("upgrade");
    if (!upgrade || !list_has_token(*upgrade, "websocket"))
        return "this is a WebSocket server: Upgrade: websocket is missing";
    const std::string* connection = request.header("connection");
    if (!connection || !list_has_token(*connection, "upgrade"))
        return "the Connection header does not contain 'upgrade'";
    const std::string* version = request.header("sec-websocket-version");
    if (!version || trim(*version) != "13") return "unsupported Sec-WebSocket-Version (only 13 is spoken here)";
    const std::string* key = request.header("sec-websocket-key");
    if (!key || !is_valid_websocket_key(*key)) return "Sec-WebSocket-Key is missing or not 16 bytes of base64";
    return std::nullopt;
}

std::string upgrade_response(const HttpRequest& request, std::string_view extra_headers) {
    std::string response =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " + websocket_accept(*request.header("sec-websocket-key")) + "\r\n";
    if (auto subprotocol = first_offered_subprotocol(request))
        response += "Sec-WebSocket-Protocol: " + *subprotocol + "\r\n";
    return response + std::string(extra_headers) + "\r\n";
}

std::string date_header_line(int64_t unix_seconds) {
    std::time_t t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[64];
    // The C locale's %a and %b are the English names IMF-fixdate wants.
    std::strftime(text, sizeof text, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    return text;
}

std::string refusal_response(int status, const std::string& body, std::string_view extra_headers) {
    std::string response = "HTTP/1.1 " + std::to_string(status) + " " + reason_phrase(status) + "\r\n";
    response += "Content-Type: text/plain\r\n";
    bool body_allowed = status != 204 && status != 304;  // RFC 9110 6.4.1
    if (body_allowed) response += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    response += "Connection: close\r\n";
    response += std::string(extra_headers) + "\r\n";
    if (body_allowed) response += body;
    return response;
}

}  // namespace test_gateway
