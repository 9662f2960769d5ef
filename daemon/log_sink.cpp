#include "log_sink.hpp"

#include <unistd.h>

#include <cerrno>

namespace loopgate {

StderrLogSink::StderrLogSink(log::Level level) : level_(level), previous_(log::use_sink(this)) {}

StderrLogSink::~StderrLogSink() { log::use_sink(previous_); }

void StderrLogSink::write(std::string_view line) {
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
