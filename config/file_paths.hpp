// File paths a config names, resolved against the config file's directory and
// normalized. Text only: no file is looked at (absolute_normal reads the
// process's working directory, nothing else).
#pragma once

#include <filesystem>
#include <string>

namespace loopgate::config {

// `path` made absolute against the working directory, normalized.
std::filesystem::path absolute_normal(const std::filesystem::path& path);

// `text` resolved against base_dir when relative, normalized, with no
// trailing "." or "/" ("dir/." -> "dir"), except for the root itself.
std::filesystem::path resolve_config_path(const std::string& text, const std::filesystem::path& base_dir);

}  // namespace loopgate::config
