// From config text to a JSON document: comments allowed, every duplicate key
// reported by its path, and a syntax error reported by the line and column an
// editor shows.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace loopgate::config {

// The document, with one error per duplicate key added to `errors`; or, when
// the text is not JSON, nothing and `errors` holds only the syntax error
// (nothing found before it can be trusted).
std::optional<nlohmann::json> parse_json_text(std::string_view text, std::vector<std::string>& errors);

}  // namespace loopgate::config
