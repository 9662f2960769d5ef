// Where the daemon's log lines go: standard error, one write(2) per line so
// lines never interleave (launchd and systemd both keep a service's stderr).
// Installed for the thread that runs the loop while it lives. Given a
// RecentProblems, it also keeps every warning and error there, whatever the
// configured level (so `loopgate doctor` sees them even at log.level "error").
#pragma once

#include "log.hpp"
#include "recent_problems.hpp"

namespace loopgate {

class StderrLogSink final : public log::Sink {
public:
    explicit StderrLogSink(log::Level level, RecentProblems* recent = nullptr);
    ~StderrLogSink() override;
    StderrLogSink(const StderrLogSink&) = delete;
    StderrLogSink& operator=(const StderrLogSink&) = delete;

    void set_level(log::Level level) { level_ = level; }
    log::Level level() const override;
    void write(log::Level level, std::string_view line) override;

private:
    log::Level level_;
    RecentProblems* recent_;
    log::Sink* previous_;
};

}  // namespace loopgate
