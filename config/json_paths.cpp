// JSON paths as config errors show them (json_paths.hpp).
#include "json_paths.hpp"

#include <algorithm>

#include "text.hpp"

namespace loopgate::config {

std::string member_path(const std::string& parent, const std::string& key) {
    bool plain = !key.empty() &&
                 std::all_of(key.begin(), key.end(), [](char c) { return is_alnum(c) || c == '_'; });
    if (!plain) return parent + "[" + quoted(key) + "]";
    return parent.empty() ? key : parent + "." + key;
}

std::string element_path(const std::string& parent, size_t index) {
    return parent + "[" + std::to_string(index) + "]";
}

std::string shown_path(const std::string& path) { return path.empty() ? "top level" : path; }

}  // namespace loopgate::config
