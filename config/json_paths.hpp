// JSON paths as config errors show them: routes[0].timeouts.connect_ms, with
// a key that is not a plain identifier quoted: routes[0]["max size"].
#pragma once

#include <cstddef>
#include <string>

namespace loopgate::config {

std::string member_path(const std::string& parent, const std::string& key);
std::string element_path(const std::string& parent, size_t index);

// The document itself has the empty path; errors call it "top level".
std::string shown_path(const std::string& path);

}  // namespace loopgate::config
