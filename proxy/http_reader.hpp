// Reading one HTTP/1.1 message head (and a bounded body) with llhttp, for
// both sides of the proxy: the app's upgrade request and the upstream's
// response. Bytes after the header block are never consumed: they belong to
// the WebSocket stream and are the caller's to forward.
//
// For HTTP forwarding the body is streamed instead: after the head,
// feed_body() says how many of the bytes given belong to this message's body
// (chunk framing and trailers included, to be forwarded as they are) and when
// the message ends, so the bytes behind it are the next message's.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loopgate::http {

struct Header {
    std::string name;
    std::string value;
};

class Headers {
public:
    void add(std::string name, std::string value) { list_.push_back({std::move(name), std::move(value)}); }
    // First value of a header, case-insensitive name.
    const std::string* find(std::string_view name) const;
    // All values of a header joined with ", " (RFC 9110 5.3); empty when absent.
    std::string joined(std::string_view name) const;
    size_t count(std::string_view name) const;
    // True when a comma-separated header lists `token` (case-insensitive).
    bool has_token(std::string_view name, std::string_view token) const;
    const std::vector<Header>& list() const { return list_; }
    std::vector<Header>& list() { return list_; }

private:
    std::vector<Header> list_;
};

struct Request {
    std::string method;
    std::string target;
    int version_major = 1;
    int version_minor = 1;
    Headers headers;
};

struct Response {
    int status = 0;
    std::string reason;
    int version_major = 1;
    int version_minor = 1;
    Headers headers;
    std::string body;           // at most the reader's body limit
    bool body_truncated = false;
};

class Reader {
public:
    enum class Kind { request, response };
    enum class Status { need_more, complete, error };

    // max_head_bytes bounds the request/status line plus headers; a response
    // body beyond max_body_bytes is read and dropped (body_truncated).
    // With stream_body, feed() stops at the end of every head (an interim
    // 1xx's too) and the body is the caller's, through feed_body().
    Reader(Kind kind, size_t max_head_bytes, size_t max_body_bytes = 0, bool stream_body = false);
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // Feeds bytes. On `complete`, `consumed` is the number of bytes of `data`
    // that belonged to the message; the rest are the peer's next bytes.
    Status feed(const char* data, size_t len, size_t& consumed);
    // The peer closed: a response body delimited by the connection end is complete.
    Status finish();

    // Streaming (after feed() gave a complete head): `consumed` bytes of data
    // belong to this message; complete when it ended with them.
    Status feed_body(const char* data, size_t len, size_t& consumed);
    // The answer to a HEAD request: a response without a body, whatever its
    // headers say (RFC 9110 9.3.2). Before the head is fed.
    void expect_no_body() { no_body_ = true; }
    // After the message: whether the connection may carry another one, and
    // whether this response's body ends only with the connection.
    bool keep_alive() const { return llhttp_should_keep_alive(&parser_) != 0; }
    bool body_until_close() const { return llhttp_message_needs_eof(&parser_) != 0; }
    uint64_t body_bytes() const { return body_bytes_; }
    // Forget everything read, for another message from a new connection.
    void reset();

    const Request& request() const { return request_; }
    // Moves the complete request out; the reader is spent.
    Request take_request() { return std::move(request_); }
    const Response& response() const { return response_; }
    // Set on error: 400 (malformed) or 431 (head too large), and why.
    int error_status() const { return error_status_; }
    const std::string& error_reason() const { return error_reason_; }
    size_t head_bytes() const { return head_bytes_; }

private:
    static int on_url(llhttp_t* p, const char* at, size_t len);
    static int on_status(llhttp_t* p, const char* at, size_t len);
    static int on_method(llhttp_t* p, const char* at, size_t len);
    static int on_header_field(llhttp_t* p, const char* at, size_t len);
    static int on_header_value(llhttp_t* p, const char* at, size_t len);
    static int on_headers_complete(llhttp_t* p);
    static int on_body(llhttp_t* p, const char* at, size_t len);
    static int on_message_complete(llhttp_t* p);

    Status fail(int status, std::string reason);

    Kind kind_;
    size_t max_head_bytes_;
    size_t max_body_bytes_;
    llhttp_settings_t settings_{};
    llhttp_t parser_{};
    Request request_;
    Response response_;
    Headers* headers_;
    bool in_value_ = false;
    bool head_done_ = false;
    bool done_ = false;
    bool too_many_headers_ = false;
    bool stream_body_ = false;
    bool no_body_ = false;
    bool paused_at_head_ = false;
    size_t head_bytes_ = 0;
    uint64_t body_bytes_ = 0;
    int error_status_ = 0;
    std::string error_reason_;
};

}  // namespace loopgate::http
