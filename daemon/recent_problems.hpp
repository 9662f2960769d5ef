// The last warning and error lines the daemon logged, kept in memory for
// `loopgate doctor` (the admin endpoint's /status carries them): a log file
// may be anywhere (launchd's StandardErrorPath, the journal, a terminal), but
// the running process always knows what went wrong lately. A fixed ring of
// short lines, so a storm of failures costs a bounded amount of memory.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loopgate {

class RecentProblems {
public:
    static constexpr size_t kLines = 16;
    static constexpr size_t kMaxLineBytes = 512;

    // One finished log line; its trailing newline is dropped, a longer line is cut and marked.
    void add(std::string_view line);
    // Oldest first, at most kLines.
    std::vector<std::string> lines() const;
    // Every line ever added, also those the ring no longer holds.
    uint64_t total() const { return total_; }

private:
    std::array<std::string, kLines> ring_;
    uint64_t total_ = 0;
};

}  // namespace loopgate
