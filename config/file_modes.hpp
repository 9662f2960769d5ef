// Permission bits as the config judges them: who else may read a file that
// holds a secret, and how a mode is written in messages ("0644"). Pure: the
// modes come from FileChecks::permissions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "config.hpp"

namespace loopgate::config {

// "0644": four octal digits of mode & 07777, as chmod takes them.
std::string mode_text(unsigned mode);

bool readable_by_group_or_others(unsigned mode);
bool readable_by_everyone(unsigned mode);

// A secret in a file other users can read is no longer a secret: when the
// config `file` (whose permission bits are `mode`, nothing if unknown) holds
// any of result.secret_keys and is readable by group or others, every such key
// gets an error and the config is dropped.
void refuse_if_others_can_read(const std::filesystem::path& file, std::optional<unsigned> mode, LoadResult& result);

}  // namespace loopgate::config
