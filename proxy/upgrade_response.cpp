#include "upgrade_response.hpp"

namespace loopgate {
namespace {

constexpr size_t kMaxResponseHead = 64 * 1024;

}  // namespace

UpgradeResponse::UpgradeResponse(size_t max_body_bytes, std::string host, std::string peer)
    : reader_(http::Reader::Kind::response, kMaxResponseHead, max_body_bytes),
      host_(std::move(host)),
      peer_(std::move(peer)) {}

UpgradeResponse::Verdict UpgradeResponse::fail(std::string why) {
    failure_ = std::move(why);
    return Verdict::failed;
}

UpgradeResponse::Verdict UpgradeResponse::feed(const char* data, size_t len, const http::Request& request) {
    size_t consumed = 0;
    auto status = reader_.feed(data, len, consumed);
    if (status == http::Reader::Status::need_more) return Verdict::need_more;
    if (status == http::Reader::Status::error) {
        return fail("upstream " + peer_ + " did not answer with HTTP: " + reader_.error_reason());
    }
    if (reader_.response().status != 101) return Verdict::refused;
    if (auto why = handshake::check_upstream_101(reader_.response(), request, negotiated_)) return fail(*why);
    after_101_ = std::string_view(data + consumed, len - consumed);
    return Verdict::upgraded;
}

UpgradeResponse::Verdict UpgradeResponse::end(const Transport::End& end) {
    connection_lost_ = end.connection_lost;
    // A refusal whose body runs to the end of the connection is complete only now.
    if (reader_.finish() == http::Reader::Status::complete && reader_.response().status != 101) return Verdict::refused;
    if (end.kind == Transport::End::Kind::tls_error) {
        // TLS 1.3 servers refuse a client certificate only after the client's
        // handshake is done, so the alert lands here.
        return fail(end.detail + " (" + host_ + " at " + peer_ + ", before answering the WebSocket upgrade)");
    }
    std::string why = end.kind == Transport::End::Kind::eof ? "closed the connection" : end.detail;
    return fail("upstream " + peer_ + " " + why + " before answering the WebSocket upgrade");
}

}  // namespace loopgate
