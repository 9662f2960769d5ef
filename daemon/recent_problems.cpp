#include "recent_problems.hpp"

namespace loopgate {

void RecentProblems::add(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    std::string& slot = ring_[total_ % kLines];
    if (line.size() <= kMaxLineBytes) {
        slot.assign(line);
    } else {
        constexpr std::string_view kCut = " ...(cut)";
        size_t keep = kMaxLineBytes - kCut.size();
        while (keep > 0 && (static_cast<unsigned char>(line[keep]) & 0xC0) == 0x80) --keep;  // not inside a UTF-8 character
        slot.assign(line.substr(0, keep));
        slot += kCut;
    }
    ++total_;
}

std::vector<std::string> RecentProblems::lines() const {
    std::vector<std::string> out;
    uint64_t first = total_ > kLines ? total_ - kLines : 0;
    for (uint64_t i = first; i < total_; ++i) out.push_back(ring_[i % kLines]);
    return out;
}

}  // namespace loopgate
