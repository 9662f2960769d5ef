// From config text to a JSON document (json_text.hpp): duplicate keys, which
// nlohmann would keep silently, and syntax errors at the line and column of
// the token at fault.
#include "json_text.hpp"

#include <algorithm>
#include <cstddef>
#include <set>
#include <utility>

#include "json_paths.hpp"
#include "text.hpp"

namespace loopgate::config {
namespace {

using json = nlohmann::json;

// ---------------------------------------------------------------------------
// Duplicate keys: nlohmann keeps the last value silently, so the parser
// callback watches keys per object while tracking the path of each container.

class DuplicateKeyFinder {
public:
    explicit DuplicateKeyFinder(std::vector<std::string>& errors) : errors_(errors) {}

    bool on_event(json::parse_event_t event, const json& parsed) {
        switch (event) {
        case json::parse_event_t::object_start: enter(false); break;
        case json::parse_event_t::array_start: enter(true); break;
        case json::parse_event_t::object_end:
        case json::parse_event_t::array_end: stack_.pop_back(); break;
        case json::parse_event_t::key: on_key(parsed.get<std::string>()); break;
        case json::parse_event_t::value: next_child_path(); break;
        }
        return true;
    }

private:
    struct Container {
        std::string path;
        bool is_array = false;
        size_t next_index = 0;
        std::string last_key;
        std::set<std::string> keys;
    };

    std::string next_child_path() {
        if (stack_.empty()) return "";
        Container& parent = stack_.back();
        if (parent.is_array) return element_path(parent.path, parent.next_index++);
        return member_path(parent.path, parent.last_key);
    }

    void enter(bool is_array) {
        Container child;
        child.path = next_child_path();
        child.is_array = is_array;
        stack_.push_back(std::move(child));
    }

    void on_key(const std::string& key) {
        Container& object = stack_.back();
        object.last_key = key;
        if (!object.keys.insert(key).second) {
            errors_.push_back(shown_path(object.path) + ": duplicate key " + quoted(key));
        }
    }

    std::vector<Container> stack_;
    std::vector<std::string>& errors_;
};

// ---------------------------------------------------------------------------
// Syntax errors: nlohmann reports the byte offset of the last character it
// read; we turn that into the line and column an editor shows.

struct TextPosition {
    size_t line = 1;
    size_t column = 1;
};

TextPosition position_of(std::string_view text, size_t index) {
    TextPosition pos;
    size_t line_start = 0;
    for (size_t i = 0; i < index; ++i) {
        if (text[i] == '\n') {
            ++pos.line;
            line_start = i + 1;
        }
    }
    if (pos.line == 1 && text.substr(0, 3) == "\xEF\xBB\xBF") line_start = std::min<size_t>(3, index);
    for (size_t i = line_start; i < index; ++i) {
        bool utf8_continuation = (static_cast<unsigned char>(text[i]) & 0xC0) == 0x80;
        if (!utf8_continuation) ++pos.column;
    }
    return pos;
}

std::string at_position(std::string_view text, size_t index) {
    TextPosition pos = position_of(text, index);
    return "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column);
}

bool is_literal_char(char c) { return is_alnum(c) || c == '-' || c == '+' || c == '.'; }

// For "unexpected <token>" nlohmann points at the token's last character;
// people expect the column where the token begins.
size_t token_start(std::string_view text, size_t last) {
    if (last >= text.size()) return last;
    if (text[last] == '"') {
        for (size_t i = last; i-- > 0;) {
            size_t backslashes = 0;
            while (backslashes < i && text[i - 1 - backslashes] == '\\') ++backslashes;
            if (text[i] == '"' && backslashes % 2 == 0) return i;
        }
        return last;
    }
    size_t start = last;
    while (start > 0 && is_literal_char(text[start]) && is_literal_char(text[start - 1])) --start;
    return start;
}

void replace_all(std::string& text, std::string_view from, std::string_view to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
        text.replace(at, from.size(), to);
    }
}

// "[json.exception.parse_error.101] parse error at line 1, column 8: syntax
// error while parsing object key - unexpected '}'; expected string literal"
// becomes "unexpected '}'; expected string literal".
std::string short_explanation(std::string what) {
    size_t dash = what.find(" - ");
    if (dash != std::string::npos) what.erase(0, dash + 3);
    size_t last_read = what.find("; last read: '");
    if (last_read != std::string::npos) {
        size_t end = what.find("'; ", last_read + 14);
        what.erase(last_read, end == std::string::npos ? std::string::npos : end + 1 - last_read);
    }
    // nlohmann names only the closing bracket, but a missing comma is the
    // usual cause.
    replace_all(what, "; expected '}'", "; expected ',' or '}'");
    replace_all(what, "; expected ']'", "; expected ',' or ']'");
    // An unclosed comment swallows the rest of the file; what the parser
    // wanted next is beside the point.
    if (what.rfind("invalid comment", 0) == 0) what = what.substr(0, what.find("; expected"));
    return what;
}

// Where the comma is that only whitespace separates from text[index], or npos.
size_t comma_before(std::string_view text, size_t index) {
    while (index > 0) {
        char c = text[--index];
        if (c == ',') return index;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return std::string_view::npos;
    }
    return std::string_view::npos;
}

std::string syntax_error(std::string_view text, const json::parse_error& error) {
    size_t last = std::min<size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    std::string explanation = short_explanation(error.what());
    if (explanation.rfind("unexpected ", 0) == 0) last = token_start(text, last);
    bool closing = last < text.size() && (text[last] == '}' || text[last] == ']');
    size_t comma = closing && explanation.rfind("unexpected '", 0) == 0 ? comma_before(text, last) : std::string_view::npos;
    if (comma != std::string_view::npos) {  // pointed at where the comma is: that is what to delete
        explanation = std::string("trailing comma before '") + text[last] + "' is not allowed";
        last = comma;
    }
    return at_position(text, last) + ": syntax error: " + explanation;
}

// A number beyond the range of a double ("1e999") is an out_of_range from
// nlohmann, with no position; its message quotes the number, so point at the
// first place the text spells it.
std::string number_range_error(std::string_view text, const json::out_of_range& error) {
    std::string_view what = error.what();
    size_t open = what.find('\'');
    size_t close = what.rfind('\'');
    std::string_view number = open < close ? what.substr(open + 1, close - open - 1) : "";
    size_t at = number.empty() ? std::string_view::npos : text.find(number);
    std::string message = "number " + std::string(number) + " is too large";
    if (at == std::string_view::npos) return "syntax error: " + message;
    return at_position(text, at) + ": syntax error: " + message;
}

}  // namespace

std::optional<json> parse_json_text(std::string_view text, std::vector<std::string>& errors) {
    DuplicateKeyFinder duplicates(errors);
    auto callback = [&duplicates](int, json::parse_event_t event, json& parsed) {
        return duplicates.on_event(event, parsed);
    };
    try {
        return json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    } catch (const json::parse_error& error) {
        errors.assign(1, syntax_error(text, error));
    } catch (const json::out_of_range& error) {
        errors.assign(1, number_range_error(text, error));
    }
    return std::nullopt;
}

}  // namespace loopgate::config
