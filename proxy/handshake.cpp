#include "handshake.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <random>

#include "http_text.hpp"

namespace loopgate::handshake {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

using http::iequals;
using http::trim;

std::vector<std::string_view> split_list(std::string_view value) {
    std::vector<std::string_view> items;
    while (!value.empty()) {
        size_t comma = value.find(',');
        std::string_view item = trim(value.substr(0, comma));
        if (!item.empty()) items.push_back(item);
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
    }
    return items;
}

// Headers that describe one hop, never forwarded (RFC 9110 7.6.1), plus the
// ones loopgate writes itself.
bool is_hop_by_hop(std::string_view name) {
    static constexpr std::array<std::string_view, 11> kNames = {
        "connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te",
        "trailer",    "transfer-encoding", "upgrade", "host", "content-length"};
    return std::any_of(kNames.begin(), kNames.end(), [&](std::string_view n) { return iequals(n, name); });
}

// Also hop-by-hop: any header the Connection header names.
bool named_by_connection(const http::Headers& headers, std::string_view name) {
    return !iequals(name, "upgrade") && headers.has_token("connection", name);
}

bool is_base64_key_of_16_bytes(std::string_view key) {
    // 16 bytes encode to 22 characters and "==".
    if (key.size() != 24 || key.substr(22) != "==") return false;
    auto is_b64 = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'; };
    if (!std::all_of(key.begin(), key.begin() + 22, is_b64)) return false;
    // The last character before the padding carries 2 bits; the rest must be zero.
    static constexpr std::string_view kLastChars = "AQgw";
    return kLastChars.find(key[21]) != std::string_view::npos;
}

std::string extension_name(std::string_view extension) {
    std::string_view name = trim(extension.substr(0, extension.find(';')));
    std::string out(name);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
}

std::string fresh_websocket_key() {
    unsigned char raw[16];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        // The key need only be a fresh nonce (RFC 6455 4.1), not a secret.
        std::random_device random;
        for (unsigned char& byte : raw) byte = static_cast<unsigned char>(random());
    }
    return config::base64_encode(raw, sizeof raw);
}

}  // namespace

std::string_view status_text(int status) {
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
    }
}

bool is_websocket_upgrade(const http::Request& request) { return request.headers.has_token("upgrade", "websocket"); }

std::optional<Refusal> check_app_request(const http::Request& req) {
    const auto& h = req.headers;
    if (!h.has_token("upgrade", "websocket")) {
        return Refusal{426, "loopgate only accepts WebSocket upgrades (no \"Upgrade: websocket\" header)",
                       {{"Upgrade", "websocket"}, {"Sec-WebSocket-Version", "13"}}};
    }
    if (req.method != "GET") return Refusal{400, "a WebSocket upgrade must use GET, not " + req.method, {}};
    if (req.version_major != 1 || req.version_minor < 1) {
        return Refusal{400, "a WebSocket upgrade needs HTTP/1.1", {}};
    }
    if (req.target.empty() || req.target.front() != '/') {
        return Refusal{400, "the request target must be a path starting with '/'", {}};
    }
    if (h.count("host") != 1) return Refusal{400, "the request must have exactly one Host header", {}};
    if (!h.has_token("connection", "upgrade")) {
        return Refusal{400, "the Connection header must include \"upgrade\"", {}};
    }
    const std::string* version = h.find("sec-websocket-version");
    if (version == nullptr) return Refusal{400, "missing Sec-WebSocket-Version header", {}};
    if (h.count("sec-websocket-version") != 1 || trim(*version) != "13") {
        return Refusal{426, "unsupported WebSocket version " + http::quoted_value(*version, 40) + "; loopgate speaks version 13",
                       {{"Sec-WebSocket-Version", "13"}}};
    }
    const std::string* key = h.find("sec-websocket-key");
    if (key == nullptr) return Refusal{400, "missing Sec-WebSocket-Key header", {}};
    if (h.count("sec-websocket-key") != 1 || !is_base64_key_of_16_bytes(trim(*key))) {
        return Refusal{400, "Sec-WebSocket-Key must be 16 bytes in base64", {}};
    }
    const std::string* length = h.find("content-length");
    if (h.find("transfer-encoding") != nullptr || (length != nullptr && trim(*length) != "0")) {
        return Refusal{400, "a WebSocket upgrade request must not have a body", {}};
    }
    return std::nullopt;
}

std::string accept_for_key(std::string_view key) {
    std::string input(trim(key));
    input += kWebSocketGuid;
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int digest_len = 0;
    EVP_Digest(input.data(), input.size(), digest, &digest_len, EVP_sha1(), nullptr);
    unsigned char encoded[64];
    int n = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_len));
    return std::string(reinterpret_cast<char*>(encoded), static_cast<size_t>(n));
}

std::string upstream_target(std::string_view base_path, std::string_view app_target) {
    if (base_path.empty()) return std::string(app_target);
    // "/" (with or without a query) means the base itself, not base + "/".
    if (app_target == "/" || app_target.substr(0, 2) == "/?") return std::string(base_path) + std::string(app_target.substr(1));
    return std::string(base_path) + std::string(app_target);
}

std::string build_upstream_request(const http::Request& app, const config::UpstreamUrl& upstream,
                                   std::span<const config::HeaderSetting> extra) {
    std::string out;
    out.reserve(512);
    out += "GET ";
    out += upstream_target(upstream.base_path, app.target);
    out += " HTTP/1.1\r\n";
    append_header(out, "Host", upstream.authority());
    append_header(out, "Upgrade", "websocket");
    append_header(out, "Connection", "Upgrade");
    auto replaced = [&](std::string_view name) {
        return std::any_of(extra.begin(), extra.end(), [&](const config::HeaderSetting& h) { return iequals(h.name, name); });
    };
    for (const auto& h : app.headers.list()) {
        if (is_hop_by_hop(h.name) || named_by_connection(app.headers, h.name) || replaced(h.name)) continue;
        append_header(out, h.name, h.value);
    }
    for (const auto& h : extra) append_header(out, h.name, h.value);
    out += "\r\n";
    return out;
}

std::optional<std::string> check_upstream_101(const http::Response& resp, const http::Request& app,
                                              Negotiated& negotiated) {
    const auto& h = resp.headers;
    if (!h.has_token("upgrade", "websocket")) return "upstream answered 101 without \"Upgrade: websocket\"";
    if (!h.has_token("connection", "upgrade")) return "upstream answered 101 without \"Connection: upgrade\"";
    const std::string* accept = h.find("sec-websocket-accept");
    const std::string* key = app.headers.find("sec-websocket-key");
    if (accept == nullptr || key == nullptr || trim(*accept) != accept_for_key(*key)) {
        return "upstream Sec-WebSocket-Accept does not match the key sent";
    }
    negotiated = {};
    if (const std::string* proto = h.find("sec-websocket-protocol")) {
        std::string offered_list = app.headers.joined("sec-websocket-protocol");  // split_list views into it
        auto offered = split_list(offered_list);
        std::string_view chosen = trim(*proto);
        if (std::find(offered.begin(), offered.end(), chosen) == offered.end()) {
            return "upstream selected subprotocol " + http::quoted_value(chosen, 100) + " which the app did not offer";
        }
        negotiated.protocol = chosen;
    }
    std::string extensions = h.joined("sec-websocket-extensions");
    if (!extensions.empty()) {
        std::vector<std::string> offered;
        std::string offered_list = app.headers.joined("sec-websocket-extensions");  // split_list views into it
        for (auto item : split_list(offered_list)) offered.push_back(extension_name(item));
        for (auto item : split_list(extensions)) {
            std::string name = extension_name(item);
            if (std::find(offered.begin(), offered.end(), name) == offered.end()) {
                return "upstream accepted extension " + http::quoted_value(name, 100) + " which the app did not offer";
            }
            // permessage-deflate uses RSV1 (RFC 7692); an extension we do not
            // know may use any RSV bit, and the endpoints enforce its rules.
            negotiated.allowed_rsv |= name == "permessage-deflate" ? 0x40 : 0x70;
        }
        negotiated.extensions = extensions;
    }
    return std::nullopt;
}

std::string build_app_101(const http::Response& upstream, const http::Request& app) {
    std::string out = "HTTP/1.1 101 Switching Protocols\r\n";
    append_header(out, "Upgrade", "websocket");
    append_header(out, "Connection", "Upgrade");
    append_header(out, "Sec-WebSocket-Accept", accept_for_key(*app.headers.find("sec-websocket-key")));
    for (const auto& h : upstream.headers.list()) {
        if (is_hop_by_hop(h.name) || named_by_connection(upstream.headers, h.name)) continue;
        if (iequals(h.name, "sec-websocket-accept")) continue;
        append_header(out, h.name, h.value);
    }
    out += "\r\n";
    return out;
}

std::string build_relayed_refusal(const http::Response& upstream) {
    if (upstream.status < 200) {
        // Only an interim response (100, 103...) and then nothing: not an
        // answer the app could read as final.
        return build_refusal({502, "upstream sent only an interim " + std::to_string(upstream.status) +
                                       " response before closing the connection", {}});
    }
    std::string out = "HTTP/1.1 " + std::to_string(upstream.status) + " ";
    out += upstream.reason.empty() ? std::string(status_text(upstream.status)) : upstream.reason;
    out += "\r\n";
    for (const auto& h : upstream.headers.list()) {
        if (is_hop_by_hop(h.name) || named_by_connection(upstream.headers, h.name)) continue;
        append_header(out, h.name, h.value);
    }
    append_header(out, "Content-Length", std::to_string(upstream.body.size()));
    append_header(out, "Connection", "close");
    out += "\r\n";
    out += upstream.body;
    return out;
}

std::string build_refusal(const Refusal& refusal) {
    std::string body = "loopgate: " + refusal.reason + "\n";
    std::string out = "HTTP/1.1 " + std::to_string(refusal.status) + " ";
    out += status_text(refusal.status);
    out += "\r\n";
    append_header(out, "Content-Type", "text/plain; charset=utf-8");
    append_header(out, "Content-Length", std::to_string(body.size()));
    append_header(out, "Cache-Control", "no-store");
    append_header(out, "Connection", "close");
    for (const auto& h : refusal.headers) append_header(out, h.name, h.value);
    out += "\r\n";
    out += body;
    return out;
}

http::Request new_client_request(std::string_view host, std::string_view target, std::string_view user_agent) {
    http::Request request;
    request.method = "GET";
    request.target = std::string(target);
    request.headers.add("Host", std::string(host));
    request.headers.add("Upgrade", "websocket");
    request.headers.add("Connection", "Upgrade");
    request.headers.add("Sec-WebSocket-Key", fresh_websocket_key());
    request.headers.add("Sec-WebSocket-Version", "13");
    request.headers.add("User-Agent", std::string(user_agent));
    return request;
}

}  // namespace loopgate::handshake
