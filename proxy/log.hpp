// Structured logging in logfmt: `ts=... level=info msg="..." key=value ...`.
// One write(2) per line so lines from one process never interleave.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loopgate::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

void set_level(Level level);
bool enabled(Level level);

// Output goes to stderr unless redirected (tests capture it through the fd).
void set_fd(int fd);

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
    std::string text_;
};

inline Line debug(std::string_view msg) { return Line(Level::debug, msg); }
inline Line info(std::string_view msg) { return Line(Level::info, msg); }
inline Line warn(std::string_view msg) { return Line(Level::warn, msg); }
inline Line error(std::string_view msg) { return Line(Level::error, msg); }

// Appends `value` to `out` quoted as logfmt needs (bare when it is safe).
void append_value(std::string& out, std::string_view value);

}  // namespace loopgate::log
