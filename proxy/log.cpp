#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "config.hpp"

namespace loopgate::log {
namespace {

thread_local Sink* t_sink = nullptr;

// A level is written as log.level spells it in the config: one table of names.
static_assert(static_cast<int>(Level::debug) == static_cast<int>(config::LogLevel::debug) &&
              static_cast<int>(Level::info) == static_cast<int>(config::LogLevel::info) &&
              static_cast<int>(Level::warn) == static_cast<int>(config::LogLevel::warn) &&
              static_cast<int>(Level::error) == static_cast<int>(config::LogLevel::error));

std::string_view level_name(Level level) { return config::log_level_name(static_cast<config::LogLevel>(level)); }

void append_timestamp(std::string& out) {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t secs = system_clock::to_time_t(now);
    auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(millis));
    out += buf;
}

bool needs_quotes(std::string_view value) {
    if (value.empty()) return true;
    for (unsigned char c : value) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f) return true;
    }
    return false;
}

}  // namespace

Sink* use_sink(Sink* sink) {
    Sink* previous = t_sink;
    t_sink = sink;
    return previous;
}

bool enabled(Level level) { return t_sink != nullptr && level >= t_sink->level(); }

void append_value(std::string& out, std::string_view value) {
    if (!needs_quotes(value)) {
        out += value;
        return;
    }
    out += '"';
    for (unsigned char c : value) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default:
            if (c < ' ' || c == 0x7f) {
                char buf[8];
                std::snprintf(buf, sizeof buf, "\\x%02x", c);
                out += buf;
            } else {
                out += static_cast<char>(c);
            }
        }
    }
    out += '"';
}

Line::Line(Level level, std::string_view msg) : on_(enabled(level)), level_(level) {
    if (!on_) return;
    text_.reserve(256);
    text_ += "ts=";
    append_timestamp(text_);
    text_ += " level=";
    text_ += level_name(level);
    text_ += " msg=";
    append_value(text_, msg);
}

Line& Line::kv(std::string_view key, std::string_view value) {
    if (!on_) return *this;
    text_ += ' ';
    text_ += key;
    text_ += '=';
    append_value(text_, value);
    return *this;
}

Line& Line::kv(std::string_view key, int64_t value) {
    // Numbers never need quoting.
    if (on_) text_.append(" ").append(key).append("=").append(std::to_string(value));
    return *this;
}

Line& Line::kv(std::string_view key, uint64_t value) {
    if (on_) text_.append(" ").append(key).append("=").append(std::to_string(value));
    return *this;
}

Line::~Line() {
    if (!on_) return;
    text_ += '\n';
    if (t_sink != nullptr) t_sink->write(level_, text_);
}

}  // namespace loopgate::log
