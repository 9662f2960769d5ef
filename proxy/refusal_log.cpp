#include "refusal_log.hpp"

#include "log.hpp"

namespace loopgate {

bool RefusalLog::admit(std::string_view route, std::string_view msg, int status, std::string_view reason,
                       uint64_t now_ms) {
    flush(route, now_ms);
    std::string key = std::string(msg) + '\n' + std::to_string(status) + '\n';
    std::string exact = key + std::string(reason);
    bool known = windows_.count(exact) != 0;
    if (!known && windows_.size() >= kMaxKinds) reason = "(various)";
    else key = std::move(exact);
    auto [it, added] = windows_.try_emplace(key);
    Window& window = it->second;
    if (added) {
        window.msg = msg;
        window.status = status;
        window.reason = reason;
        window.started_ms = now_ms;
    }
    if (window.written < kLinesPerWindow) {
        ++window.written;
        return true;
    }
    ++window.suppressed;
    return false;
}

void RefusalLog::flush(std::string_view route, uint64_t now_ms) {
    for (auto it = windows_.begin(); it != windows_.end();) {
        const Window& window = it->second;
        if (now_ms - window.started_ms < kWindowMs) {
            ++it;
            continue;
        }
        if (window.suppressed != 0) {
            log::Line line(log::Level::warn, "more refusals like this were not logged");
            line.kv("route", route).kv("like", window.msg);
            if (window.status != 0) line.kv("status", window.status);
            line.kv("reason", window.reason)
                .kv("suppressed", window.suppressed)
                .kv("in_seconds", static_cast<uint64_t>(kWindowMs / 1000));
        }
        it = windows_.erase(it);
    }
}

}  // namespace loopgate
