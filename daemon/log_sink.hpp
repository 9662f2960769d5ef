// Where the daemon's log lines go: standard error, one write(2) per line so
// lines never interleave (launchd and systemd both keep a service's stderr).
// Installed for the thread that runs the loop while it lives.
#pragma once

#include "log.hpp"

namespace loopgate {

class StderrLogSink final : public log::Sink {
public:
    explicit StderrLogSink(log::Level level);
    ~StderrLogSink() override;
    StderrLogSink(const StderrLogSink&) = delete;
    StderrLogSink& operator=(const StderrLogSink&) = delete;

    void set_level(log::Level level) { level_ = level; }
    log::Level level() const override { return level_; }
    void write(std::string_view line) override;

private:
    log::Level level_;
    log::Sink* previous_;
};

}  // namespace loopgate
