#include "log_sink.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace loopgate {

StderrLogSink::StderrLogSink(log::Level level, RecentProblems* recent)
    : level_(level), recent_(recent), previous_(log::use_sink(this)) {}

StderrLogSink::~StderrLogSink() { log::use_sink(previous_); }

log::Level StderrLogSink::level() const { return recent_ != nullptr ? std::min(level_, log::Level::warn) : level_; }

void StderrLogSink::write(log::Level level, std::string_view line) {
    if (recent_ != nullptr && level >= log::Level::warn) recent_->add(line);
    if (level < level_) return;
    const char* p = line.data();
    size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // logging must never take the daemon down
        p += n;
        left -= static_cast<size_t>(n);
    }
}

}  // namespace loopgate
