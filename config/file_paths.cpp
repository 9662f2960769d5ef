// File paths a config names (file_paths.hpp).
#include "file_paths.hpp"

#include <system_error>

namespace loopgate::config {
namespace fs = std::filesystem;

fs::path absolute_normal(const fs::path& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    return (ec ? path : absolute).lexically_normal();
}

fs::path resolve_config_path(const std::string& text, const fs::path& base_dir) {
    fs::path path(text);
    if (path.is_relative()) path = base_dir / path;
    path = path.lexically_normal();
    if (!path.has_filename() && path != path.root_path()) path = path.parent_path();
    return path;
}

}  // namespace loopgate::config
