// How often one route logs the same refusal. An app (or anything on the
// machine) that sends a flood of bad requests must not write a warning per
// request: the first kLinesPerWindow lines of a kind in a window of
// kWindowMs are written, the rest only counted, and one line says how many
// were left out. Like the kernel's printk_ratelimit, there is no timer (an
// idle daemon must not wake up for it): the summary of a window that has
// ended is written before the route's next logged connection or refusal, and
// every pending one when the route's listener stops (flush with UINT64_MAX).
// The /metrics counters are not this class's business: they count every
// refusal before it is asked.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace loopgate {

class RefusalLog {
public:
    static constexpr uint64_t kWindowMs = 1000;
    static constexpr uint32_t kLinesPerWindow = 10;
    // Kinds tracked at once per route; past that, new reasons share one kind
    // per message and status (a flood of ever different reasons stays bounded).
    static constexpr size_t kMaxKinds = 64;

    // Whether the line `msg` (with `status`, 0 for none, and `reason`) of
    // route `route` may be written at `now_ms`. Writes the summary lines of
    // windows that have ended first.
    bool admit(std::string_view route, std::string_view msg, int status, std::string_view reason, uint64_t now_ms);
    // Writes the summary lines of windows that have ended (a line not worth
    // limiting is about to be written).
    void flush(std::string_view route, uint64_t now_ms);

private:
    struct Window {
        std::string msg;
        int status = 0;
        std::string reason;
        uint64_t started_ms = 0;
        uint32_t written = 0;
        uint64_t suppressed = 0;
    };
    std::map<std::string, Window> windows_;
};

}  // namespace loopgate
