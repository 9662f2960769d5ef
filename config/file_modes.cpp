// Permission bits as the config judges them (file_modes.hpp).
#include "file_modes.hpp"

#include <sys/stat.h>

#include <cstdio>

namespace loopgate::config {

std::string mode_text(unsigned mode) {
    char text[8];
    std::snprintf(text, sizeof text, "%04o", mode & 07777u);
    return text;
}

bool readable_by_group_or_others(unsigned mode) { return (mode & (S_IRGRP | S_IROTH)) != 0; }

bool readable_by_everyone(unsigned mode) { return (mode & S_IROTH) != 0; }

// Refusing to start makes the admin fix the mode once, instead of a warning
// nobody reads.
void refuse_if_others_can_read(const std::filesystem::path& file, std::optional<unsigned> mode, LoadResult& result) {
    if (result.secret_keys.empty() || !mode || !readable_by_group_or_others(*mode)) return;
    for (const std::string& key : result.secret_keys) {
        result.errors.push_back(key + ": holds a secret, but " + file.string() + " is readable by other users (mode " +
                                mode_text(*mode) + "); run: chmod 600 " + file.string());
    }
    result.config.reset();
}

}  // namespace loopgate::config
