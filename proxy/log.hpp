// Structured logging in logfmt: `ts=... level=info msg="..." key=value ...`.
//
// The data path only builds lines; where they go, and from which level, is
// its owner's choice: the daemon installs a Sink (daemon/log_sink.hpp writes
// each line with one write(2) to stderr). The sink is per thread, so each
// event loop's data path logs where whoever runs that loop says; a thread with
// no sink drops every line (unit tests run quiet).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loopgate::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

class Sink {
public:
    virtual ~Sink() = default;
    // Lines below this level are never built.
    virtual Level level() const = 0;
    // One finished line, ending in '\n', of `level` (at least level()).
    virtual void write(Level level, std::string_view line) = 0;
};

// Installs the calling thread's sink (null: drop everything); returns the one
// it replaces. The sink must outlive its use.
Sink* use_sink(Sink* sink);
bool enabled(Level level);

// A log line under construction; written when it goes out of scope.
// A line below the current level costs almost nothing.
class Line {
public:
    Line(Level level, std::string_view msg);
    ~Line();
    Line(const Line&) = delete;
    Line& operator=(const Line&) = delete;

    Line& kv(std::string_view key, std::string_view value);
    Line& kv(std::string_view key, const std::string& value) { return kv(key, std::string_view(value)); }
    Line& kv(std::string_view key, const char* value) { return kv(key, std::string_view(value)); }
    Line& kv(std::string_view key, int64_t value);
    Line& kv(std::string_view key, uint64_t value);
    Line& kv(std::string_view key, int value) { return kv(key, static_cast<int64_t>(value)); }
    Line& kv(std::string_view key, unsigned value) { return kv(key, static_cast<uint64_t>(value)); }
    Line& kv(std::string_view key, bool value) { return kv(key, std::string_view(value ? "true" : "false")); }

private:
    bool on_;
    Level level_;
    std::string text_;
};

inline Line debug(std::string_view msg) { return Line(Level::debug, msg); }
inline Line info(std::string_view msg) { return Line(Level::info, msg); }
inline Line warn(std::string_view msg) { return Line(Level::warn, msg); }
inline Line error(std::string_view msg) { return Line(Level::error, msg); }

// Appends `value` to `out` quoted as logfmt needs (bare when it is safe).
void append_value(std::string& out, std::string_view value);

}  // namespace loopgate::log
