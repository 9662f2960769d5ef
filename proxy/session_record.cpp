#include "session_record.hpp"

#include "log.hpp"

namespace loopgate {

void SessionRecord::record_close(const char* by, uint16_t code, std::string_view reason) {
    if (std::string_view(closed_by) != "-") return;
    closed_by = by;
    close_code = code;
    close_reason = reason;
}

void SessionRecord::log(RefusalLog& refusals, uint64_t now_ms) const {
    auto elapsed = std::chrono::steady_clock::now() - started;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
    // A refusal is worth a warning (and is rate-limited); a relayed session, a
    // forwarded HTTP connection whatever its last status, or an app that
    // connected and left without a request (a port probe) is not.
    if (!refused) refusals.flush(route, now_ms);
    else if (!refusals.admit(route, "connection closed", http_status, refusal_reason, now_ms)) return;
    log::Line line(refused ? log::Level::warn : log::Level::info, "connection closed");
    line.kv("route", route)
        .kv("app", app_address)
        .kv("path", path.empty() ? std::string("-") : path)
        .kv("upstream", upstream_address)
        .kv("status", http_status)
        .kv("duration_ms", static_cast<int64_t>(ms))
        .kv("bytes_from_app", bytes_from_app)
        .kv("bytes_from_upstream", bytes_from_upstream);
    if (tls_resumed != nullptr) line.kv("tls_resumed", tls_resumed);
    if (http_status == 101) {
        line.kv("close_code", static_cast<unsigned>(close_code)).kv("close_reason", close_reason).kv("closed_by", closed_by);
    } else {
        line.kv("reason", refusal_reason);
    }
}

}  // namespace loopgate
