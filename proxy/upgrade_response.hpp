// The upstream's answer to a WebSocket upgrade request, read and judged the
// same way for a session and for `loopgate probe`: a valid 101 (with what it
// negotiated and the bytes behind it), a refusal to relay (any other final
// status), or a failure (not HTTP, a 101 that does not match the request,
// the connection ending first).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "handshake.hpp"
#include "http_reader.hpp"
#include "transport.hpp"

namespace loopgate {

class UpgradeResponse {
public:
    enum class Verdict { need_more, upgraded, refused, failed };

    // The refusal body kept for the app (or the probe's report) is bounded by max_body_bytes.
    // `host` is the upstream's name, `peer` the address answering ("100.64.0.7:443"): both for messages.
    UpgradeResponse(size_t max_body_bytes, std::string host, std::string peer);

    // Feeds the upstream's bytes. On `upgraded`, after_101() is what followed the head.
    Verdict feed(const char* data, size_t len, const http::Request& request);
    // The upstream's connection ended before a verdict.
    Verdict end(const Transport::End& end);

    const http::Response& response() const { return reader_.response(); }
    const handshake::Negotiated& negotiated() const { return negotiated_; }
    std::string_view after_101() const { return after_101_; }
    // Why, on `failed`: a sentence for a 502 body or the probe's step line.
    const std::string& failure() const { return failure_; }
    // On `failed`: the connection vanished before the answer (the path's fault, not the peer's word).
    bool connection_lost() const { return connection_lost_; }

private:
    Verdict fail(std::string why);

    http::Reader reader_;
    std::string host_;
    std::string peer_;
    handshake::Negotiated negotiated_;
    std::string_view after_101_;
    std::string failure_;
    bool connection_lost_ = false;
};

}  // namespace loopgate
