// Parsing and strict validation of the loopgate config file.
//
// Validation never stops at the first problem: an admin fixing a config by
// hand should see every mistake in one run, each named by its JSON path.
#include "config.hpp"
#include "tls_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <set>
#include <span>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

namespace loopgate::config {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Text helpers

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_lower_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

std::string lowered(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Plain decimal digits only: no sign, no spaces, at most `max`.
std::optional<uint32_t> parse_decimal(std::string_view digits, uint32_t max) {
    if (digits.empty() || digits.size() > 10) return std::nullopt;
    uint64_t value = 0;
    for (char c : digits) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (value > max) return std::nullopt;
    return static_cast<uint32_t>(value);
}

// Strict dotted quad. Leading zeros are refused because inet_aton() and
// friends read "010" as octal 8, so such an address means different things
// to different tools.
std::optional<std::array<uint8_t, 4>> parse_ipv4(std::string_view text) {
    std::array<uint8_t, 4> octets{};
    for (size_t i = 0; i < octets.size(); ++i) {
        size_t dot = text.find('.');
        bool last = i + 1 == octets.size();
        if (last != (dot == std::string_view::npos)) return std::nullopt;
        std::string_view part = last ? text : text.substr(0, dot);
        if (part.size() > 1 && part[0] == '0') return std::nullopt;
        auto value = parse_decimal(part, 255);
        if (!value) return std::nullopt;
        octets[i] = static_cast<uint8_t>(*value);
        if (!last) text.remove_prefix(dot + 1);
    }
    return octets;
}

std::string quoted(const std::string& text) {
    return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string join(std::span<const std::string_view> words) {
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty()) out += ", ";
        out += word;
    }
    return out;
}

// ---------------------------------------------------------------------------
// JSON paths: routes[0].timeouts.connect_ms

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

// ---------------------------------------------------------------------------
// Files

// Returns 0 and the contents, or the errno that stopped the read. The size
// cap keeps a config path pointing at /dev/zero from eating all memory.
int read_file(const fs::path& file, size_t max_bytes, std::string& out) {
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    out.clear();
    char buffer[8192];
    int result = 0;
    for (;;) {
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) result = errno;
        if (n <= 0) break;
        out.append(buffer, static_cast<size_t>(n));
        if (out.size() > max_bytes) {
            result = EFBIG;
            break;
        }
    }
    ::close(fd);
    return result;
}

// Opening succeeds on a directory; reading one byte is what proves the
// daemon will be able to load the file later.
int check_readable(const fs::path& file) {
    std::string ignored;
    int err = read_file(file, 0, ignored);
    return err == EFBIG ? 0 : err;
}

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

bool follows_comma(std::string_view text, size_t index) {
    while (index > 0) {
        char c = text[--index];
        if (c == ',') return true;
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
    }
    return false;
}

std::string syntax_error(std::string_view text, const json::parse_error& error) {
    size_t last = std::min<size_t>(error.byte == 0 ? 0 : error.byte - 1, text.size());
    std::string explanation = short_explanation(error.what());
    if (explanation.rfind("unexpected ", 0) == 0) last = token_start(text, last);
    bool closing = last < text.size() && (text[last] == '}' || text[last] == ']');
    if (closing && explanation.rfind("unexpected '", 0) == 0 && follows_comma(text, last)) {
        explanation = std::string("trailing comma before '") + text[last] + "' is not allowed";
    }
    TextPosition pos = position_of(text, last);
    return "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) +
           ": syntax error: " + explanation;
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
    TextPosition pos = position_of(text, at);
    return "line " + std::to_string(pos.line) + ", column " + std::to_string(pos.column) + ": syntax error: " + message;
}

// ---------------------------------------------------------------------------
// Listen addresses: "127.0.0.1:18789"

std::optional<std::string> parse_listen(std::string_view text, ListenAddress& out) {
    const std::string host_port = "expected HOST:PORT with a port between 0 and 65535";
    if (!text.empty() && text[0] == '[') return "IPv6 listen addresses are not supported yet";
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return host_port;
    std::string_view host = text.substr(0, colon);
    if (host.find(':') != std::string_view::npos) return "IPv6 listen addresses are not supported yet";
    auto port = parse_decimal(text.substr(colon + 1), 65535);
    if (!port) return host_port;
    auto octets = parse_ipv4(host);
    if (!octets) return "host must be an IPv4 address such as 127.0.0.1";
    out.host = std::string(host);
    out.port = static_cast<uint16_t>(*port);
    out.is_loopback = (*octets)[0] == 127;
    return std::nullopt;
}

// "unix:/run/user/501/loopgate.sock"; a relative path is relative to base_dir.
// A socket address holds 104 bytes on macOS (108 on Linux) with the final NUL.
std::optional<std::string> parse_unix_listen(std::string_view text, const fs::path& base_dir, ListenAddress& out) {
    constexpr size_t kMaxUnixPathBytes = 103;
    std::string_view given = text.substr(5);
    if (given.empty()) return "expected unix:/path/to/socket";
    bool has_control = std::any_of(given.begin(), given.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; });
    if (has_control) return "unix socket path contains a control character";
    fs::path path = fs::path(std::string(given));
    if (path.is_relative()) path = base_dir / path;
    path = path.lexically_normal();
    if (!path.has_filename()) return "unix socket path must name a file, not a directory";
    if (path.string().size() > kMaxUnixPathBytes) {
        return "unix socket path " + path.string() + " is " + std::to_string(path.string().size()) +
               " bytes long; the limit is " + std::to_string(kMaxUnixPathBytes);
    }
    out = ListenAddress{};
    out.unix_path = path;
    out.is_loopback = true;  // only processes on this machine can reach it
    return std::nullopt;
}

// ---------------------------------------------------------------------------
// Upstream URL pieces

// RFC 1123 host name: labels of letters, digits and inner hyphens.
bool is_dns_name(std::string_view host) {
    if (host.empty() || host.size() > 253) return false;
    for (;;) {
        size_t dot = host.find('.');
        std::string_view label = host.substr(0, dot);
        if (label.empty() || label.size() > 63) return false;
        if (label.front() == '-' || label.back() == '-') return false;
        if (!std::all_of(label.begin(), label.end(), [](char c) { return is_lower_alnum(c) || c == '-'; })) {
            return false;
        }
        if (dot == std::string_view::npos) return true;
        host.remove_prefix(dot + 1);
    }
}

bool looks_numeric(std::string_view host) {
    return std::all_of(host.begin(), host.end(), [](char c) { return is_digit(c) || c == '.'; });
}

std::optional<std::string> check_upstream_host(const std::string& host, UpstreamUrl& out) {
    if (host.empty()) return "host is missing";
    if (looks_numeric(host)) {
        if (!parse_ipv4(host)) return "host " + host + " is not a valid IPv4 address";
        out.host_is_ipv4_literal = true;
    } else if (!is_dns_name(host)) {
        return "host must be a DNS name (letters, digits, '-', '.') or an IPv4 address";
    }
    out.host = host;
    return std::nullopt;
}

bool is_path_char(char c) {
    static constexpr std::string_view allowed = "-._~!$&'()*+,;=:@/%";
    return is_alnum(c) || allowed.find(c) != std::string_view::npos;
}

// The base path ends up in the upgrade request line, so anything that
// could break that line (spaces, control characters) is refused here.
std::optional<std::string> check_base_path(std::string_view path, UpstreamUrl& out) {
    for (size_t i = 0; i < path.size(); ++i) {
        if (!is_path_char(path[i])) return "path contains a character that must be percent-encoded";
        bool bad_escape = path[i] == '%' && (i + 2 >= path.size() || !is_hex(path[i + 1]) || !is_hex(path[i + 2]));
        if (bad_escape) return "path contains a '%' that is not followed by two hex digits";
    }
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.base_path = std::string(path);
    return std::nullopt;
}

std::optional<std::string> check_authority(std::string_view authority, UpstreamUrl& out) {
    if (authority.find('@') != std::string_view::npos) return "credentials in the URL are not allowed";
    if (!authority.empty() && authority[0] == '[') {
        return "IPv6 literal addresses are not allowed: loopgate connects over IPv4 only";
    }
    size_t colon = authority.find(':');
    if (colon != authority.rfind(':')) {
        return "IPv6 literal addresses are not allowed: loopgate connects over IPv4 only";
    }
    out.port = out.tls ? 443 : 80;
    if (colon != std::string_view::npos) {
        auto port = parse_decimal(authority.substr(colon + 1), 65535);
        if (!port || *port == 0) return "port must be between 1 and 65535";
        out.port = static_cast<uint16_t>(*port);
    }
    return check_upstream_host(lowered(authority.substr(0, colon)), out);
}

// ---------------------------------------------------------------------------
// Validation of the parsed document

enum class Kind { object, array, string, integer, boolean };

std::string_view expected_text(Kind kind) {
    switch (kind) {
    case Kind::object: return "an object";
    case Kind::array: return "an array";
    case Kind::string: return "a string";
    case Kind::integer: return "an integer";
    case Kind::boolean: return "a boolean";
    }
    return "?";
}

bool has_kind(const json& value, Kind kind) {
    switch (kind) {
    case Kind::object: return value.is_object();
    case Kind::array: return value.is_array();
    case Kind::string: return value.is_string();
    case Kind::integer: return value.is_number_integer();
    case Kind::boolean: return value.is_boolean();
    }
    return false;
}

using KeyList = std::span<const std::string_view>;

// Alphabetical, because these lists are printed in "unknown key" errors.
constexpr std::string_view kTopLevelKeys[] = {"log", "max_connections", "network", "routes", "shutdown_timeout_ms"};
constexpr std::string_view kLogKeys[] = {"level"};
constexpr std::string_view kRouteKeys[] = {"allow_non_loopback", "allow_plaintext_upstream", "allowed_hosts",
                                           "allowed_origins", "connect_to", "limits", "listen", "liveness",
                                           "max_connections", "name", "reconnect", "timeouts", "tls", "upstream",
                                           "upstream_headers"};
constexpr std::string_view kTlsKeys[] = {"ca_dir",      "ca_file",     "client_cert", "client_key",
                                         "max_version", "min_version", "pins",        "verify"};
constexpr std::string_view kTimeoutKeys[] = {"close_ms", "connect_ms", "handshake_ms", "idle_ms", "request_ms"};
constexpr std::string_view kLivenessKeys[] = {"ping_interval_ms", "ping_timeout_ms", "probe_timeout_ms"};
constexpr std::string_view kReconnectKeys[] = {"backoff_initial_ms", "backoff_max_ms", "hold_ms", "max_held"};
constexpr std::string_view kNetworkKeys[] = {"debounce_ms", "wake_check_interval_ms", "watch"};
constexpr std::string_view kLimitKeys[] = {"max_frame_bytes", "max_message_bytes", "max_request_header_bytes"};

// A route as read, with what the cross-route checks need to know.
struct RouteDraft {
    Route route;
    std::string path;
    bool name_valid = false;
    bool listen_valid = false;
};

struct TlsDraft {
    TlsSettings settings;
    bool any_given = false;  // some key other than null: an error on a ws:// upstream
};

class Validator {
public:
    explicit Validator(fs::path base_dir) : base_dir_(std::move(base_dir)) {}

    std::optional<Config> run(const json& root) {
        if (!expect(root, Kind::object, "")) return std::nullopt;
        reject_unknown_keys(root, "", kTopLevelKeys);
        Config config;
        std::vector<RouteDraft> drafts = read_routes(root);
        check_unique_names(drafts);
        check_unique_listen(drafts);
        config.log_level = read_log(root).value_or(LogLevel::info);
        config.shutdown_timeout_ms = read_uint<uint32_t>(root, "", "shutdown_timeout_ms", 5000, 0, 600000);
        config.network = read_network(root);
        config.max_connections = read_uint<uint32_t>(root, "", "max_connections", config.max_connections, 1, 100000);
        if (!errors_.empty()) return std::nullopt;
        for (RouteDraft& draft : drafts) config.routes.push_back(std::move(draft.route));
        return config;
    }

    std::vector<std::string>& errors() { return errors_; }
    std::vector<std::string>& secret_keys() { return secret_keys_; }

private:
    void error(const std::string& path, const std::string& message) {
        errors_.push_back(shown_path(path) + ": " + message);
    }

    bool expect(const json& value, Kind kind, const std::string& path) {
        if (has_kind(value, kind)) return true;
        error(path, std::string("expected ") + std::string(expected_text(kind)) + ", got " + value.type_name());
        return false;
    }

    void reject_unknown_keys(const json& object, const std::string& path, KeyList allowed) {
        for (const auto& item : object.items()) {
            if (std::find(allowed.begin(), allowed.end(), item.key()) != allowed.end()) continue;
            error(member_path(path, item.key()), "unknown key (expected one of: " + join(allowed) + ")");
        }
    }

    static const json* find(const json& object, const std::string& key) {
        auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }

    const json* find_required(const json& object, const std::string& path, const std::string& key) {
        const json* value = find(object, key);
        if (!value) error(member_path(path, key), "required key is missing");
        return value;
    }

    // nullopt when the value was given but is wrong, so that checks which
    // depend on the flag do not pile a second error on top.
    std::optional<bool> read_bool(const json& object, const std::string& path, const std::string& key) {
        const json* value = find(object, key);
        if (!value) return false;
        if (!expect(*value, Kind::boolean, member_path(path, key))) return std::nullopt;
        return value->get<bool>();
    }

    // Negative numbers are integers to nlohmann but always out of range here;
    // "-1" deserves the range message, not a type complaint.
    template <typename T>
    T read_uint(const json& object, const std::string& path, const std::string& key, T fallback, uint64_t min,
                uint64_t max) {
        const json* value = find(object, key);
        if (!value) return fallback;
        std::string where = member_path(path, key);
        if (!expect(*value, Kind::integer, where)) return fallback;
        if (value->is_number_unsigned()) {
            uint64_t number = value->get<uint64_t>();
            if (number >= min && number <= max) return static_cast<T>(number);
        }
        error(where, "must be between " + std::to_string(min) + " and " + std::to_string(max));
        return fallback;
    }

    // A duration in which 0 means "off": 0, or min..max milliseconds.
    uint32_t read_ms_or_off(const json& object, const std::string& path, const std::string& key, uint32_t fallback,
                            uint32_t min, uint32_t max) {
        const json* value = find(object, key);
        if (!value) return fallback;
        std::string where = member_path(path, key);
        if (!expect(*value, Kind::integer, where)) return fallback;
        if (value->is_number_unsigned()) {
            uint64_t number = value->get<uint64_t>();
            if (number == 0 || (number >= min && number <= max)) return static_cast<uint32_t>(number);
        }
        error(where, "must be 0 (off) or between " + std::to_string(min) + " and " + std::to_string(max));
        return fallback;
    }

    const json* read_object(const json& object, const std::string& path, const std::string& key, KeyList allowed) {
        const json* value = find(object, key);
        if (!value || !expect(*value, Kind::object, member_path(path, key))) return nullptr;
        reject_unknown_keys(*value, member_path(path, key), allowed);
        return value;
    }

    std::optional<LogLevel> read_log(const json& root) {
        const json* log = read_object(root, "", "log", kLogKeys);
        const json* level = log ? find(*log, "level") : nullptr;
        if (!level || !expect(*level, Kind::string, "log.level")) return std::nullopt;
        for (LogLevel candidate : {LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
            if (level->get<std::string>() == log_level_name(candidate)) return candidate;
        }
        error("log.level", "must be one of debug, info, warn, error");
        return std::nullopt;
    }

    std::vector<RouteDraft> read_routes(const json& root) {
        std::vector<RouteDraft> drafts;
        const json* routes = find_required(root, "", "routes");
        if (!routes || !expect(*routes, Kind::array, "routes")) return drafts;
        if (routes->empty()) error("routes", "at least one route is required");
        for (size_t i = 0; i < routes->size(); ++i) {
            drafts.push_back(read_route((*routes)[i], element_path("routes", i)));
        }
        return drafts;
    }

    RouteDraft read_route(const json& value, const std::string& path) {
        RouteDraft draft;
        draft.path = path;
        if (!expect(value, Kind::object, path)) return draft;
        reject_unknown_keys(value, path, kRouteKeys);
        Route& route = draft.route;
        draft.name_valid = read_route_name(value, path, route.name);
        draft.listen_valid = read_listen(value, path, route.listen);
        std::optional<bool> allow_non_loopback = read_bool(value, path, "allow_non_loopback");
        bool upstream_valid = read_upstream(value, path, route.upstream);
        std::optional<bool> allow_plaintext = read_bool(value, path, "allow_plaintext_upstream");
        route.connect_to = read_connect_to(value, path);
        TlsDraft tls = read_tls(value, path);
        route.tls = tls.settings;
        route.timeouts = read_timeouts(value, path);
        route.limits = read_limits(value, path);
        route.liveness = read_liveness(value, path);
        route.reconnect = read_reconnect(value, path);
        read_access(value, path, route);
        route.allow_non_loopback = allow_non_loopback.value_or(false);
        route.allow_plaintext_upstream = allow_plaintext.value_or(false);
        if (draft.listen_valid && allow_non_loopback) check_loopback(route, path);
        if (upstream_valid && allow_plaintext) check_plaintext(route, path);
        if (upstream_valid && !route.upstream.tls && tls.any_given) {
            error(member_path(path, "tls"), "TLS settings have no effect on a ws:// upstream");
        }
        return draft;
    }

    bool read_route_name(const json& route, const std::string& path, std::string& out) {
        const json* value = find_required(route, path, "name");
        std::string where = member_path(path, "name");
        if (!value || !expect(*value, Kind::string, where)) return false;
        out = value->get<std::string>();
        bool valid_chars = std::all_of(out.begin(), out.end(),
                                       [](char c) { return is_alnum(c) || c == '_' || c == '.' || c == '-'; });
        if (!out.empty() && out.size() <= 64 && valid_chars) return true;
        error(where, "must be 1 to 64 characters of letters, digits, '_', '.' and '-'");
        return false;
    }

    bool read_listen(const json& route, const std::string& path, ListenAddress& out) {
        const json* value = find_required(route, path, "listen");
        std::string where = member_path(path, "listen");
        if (!value || !expect(*value, Kind::string, where)) return false;
        const std::string& text = value->get<std::string>();
        auto problem = text.rfind("unix:", 0) == 0 ? parse_unix_listen(text, base_dir_, out) : parse_listen(text, out);
        if (problem) error(where, *problem);
        return !problem;
    }

    bool read_upstream(const json& route, const std::string& path, UpstreamUrl& out) {
        const json* value = find_required(route, path, "upstream");
        std::string where = member_path(path, "upstream");
        if (!value || !expect(*value, Kind::string, where)) return false;
        auto problem = parse_upstream_url(value->get<std::string>(), out);
        if (problem) error(where, *problem);
        return !problem;
    }

    std::optional<std::string> read_connect_to(const json& route, const std::string& path) {
        const json* value = find(route, "connect_to");
        if (!value || value->is_null()) return std::nullopt;
        if (value->is_string() && parse_ipv4(value->get<std::string>())) return value->get<std::string>();
        error(member_path(path, "connect_to"), "must be an IPv4 address (loopgate connects over IPv4 only)");
        return std::nullopt;
    }

    TlsDraft read_tls(const json& route, const std::string& path) {
        TlsDraft draft;
        std::string where = member_path(path, "tls");
        const json* tls = read_object(route, path, "tls", kTlsKeys);
        if (!tls) return draft;
        TlsSettings& out = draft.settings;
        out.ca_file = read_tls_path(*tls, where, "ca_file", draft, "to use only the system trust store");
        out.ca_dir = read_tls_path(*tls, where, "ca_dir", draft, "to use only the system trust store");
        out.client_cert = read_tls_path(*tls, where, "client_cert", draft, "for no client certificate");
        out.client_key = read_tls_path(*tls, where, "client_key", draft, "for no client certificate");
        out.pins = read_pins(*tls, where, draft);
        out.verify = read_verify(*tls, where, draft);
        out.min_version = read_tls_version(*tls, where, "min_version", draft);
        out.max_version = read_tls_version(*tls, where, "max_version", draft);
        check_tls_combination(*tls, where, out);
        return draft;
    }

    // A file (or, for ca_dir, a directory) that must be readable now.
    std::optional<fs::path> read_tls_path(const json& tls, const std::string& tls_path, const std::string& key,
                                          TlsDraft& draft, const std::string& null_means) {
        const json* value = find(tls, key);
        if (!value || value->is_null()) return std::nullopt;
        draft.any_given = true;
        std::string where = member_path(tls_path, key);
        if (!value->is_string()) {
            error(where, std::string("expected a string or null, got ") + value->type_name());
            return std::nullopt;
        }
        const std::string& text = value->get_ref<const std::string&>();
        bool wants_directory = key == "ca_dir";
        if (text.empty()) {
            error(where, std::string("must be a ") + (wants_directory ? "directory" : "file") + " path, or null " +
                             null_means);
            return std::nullopt;
        }
        return wants_directory ? resolve_readable_directory(text, where) : resolve_readable_file(text, where);
    }

    std::optional<fs::path> resolve_readable_directory(const std::string& text, const std::string& where) {
        fs::path dir = fs::path(text).is_relative() ? base_dir_ / text : fs::path(text);
        dir = dir.lexically_normal();
        if (!dir.has_filename() && dir != dir.root_path()) dir = dir.parent_path();
        std::error_code ec;
        if (!fs::is_directory(dir, ec)) {
            error(where, "cannot read directory " + dir.string() + ": " +
                             (ec ? ec.message() : fs::exists(dir) ? "Not a directory" : "No such file or directory"));
            return std::nullopt;
        }
        if (::access(dir.c_str(), R_OK | X_OK) != 0) {
            error(where, "cannot read directory " + dir.string() + ": " + std::strerror(errno));
            return std::nullopt;
        }
        return dir;
    }

    std::vector<Pin> read_pins(const json& tls, const std::string& tls_path, TlsDraft& draft) {
        std::vector<Pin> pins;
        const json* list = find(tls, "pins");
        std::string where = member_path(tls_path, "pins");
        if (!list || !expect(*list, Kind::array, where)) return pins;
        if (!list->empty()) draft.any_given = true;
        for (size_t i = 0; i < list->size(); ++i) {
            std::string item_path = element_path(where, i);
            if (!expect((*list)[i], Kind::string, item_path)) continue;
            Pin pin;
            if (auto problem = parse_pin((*list)[i].get_ref<const std::string&>(), pin)) {
                error(item_path, *problem);
                continue;
            }
            pins.push_back(pin);
        }
        return pins;
    }

    TlsVerify read_verify(const json& tls, const std::string& tls_path, TlsDraft& draft) {
        const json* value = find(tls, "verify");
        std::string where = member_path(tls_path, "verify");
        if (!value || !expect(*value, Kind::string, where)) return TlsVerify::full;
        draft.any_given = true;
        const std::string& text = value->get_ref<const std::string&>();
        if (text == "full") return TlsVerify::full;
        if (text == "pin-only") return TlsVerify::pin_only;
        error(where, "must be \"full\" (chain, host name and any pins) or \"pin-only\" (only tls.pins)");
        return TlsVerify::full;
    }

    std::optional<TlsVersion> read_tls_version(const json& tls, const std::string& tls_path, const std::string& key,
                                               TlsDraft& draft) {
        const json* value = find(tls, key);
        if (!value || value->is_null()) return std::nullopt;
        draft.any_given = true;
        std::string where = member_path(tls_path, key);
        if (value->is_string() && value->get_ref<const std::string&>() == "1.2") return TlsVersion::tls1_2;
        if (value->is_string() && value->get_ref<const std::string&>() == "1.3") return TlsVersion::tls1_3;
        error(where, "must be \"1.2\" or \"1.3\" (older versions are never used)");
        return std::nullopt;
    }

    // Settings that are fine alone but contradict each other.
    void check_tls_combination(const json& tls, const std::string& where, const TlsSettings& out) {
        bool pins_valid = !find(tls, "pins") || out.pins.size() == find(tls, "pins")->size();
        if (out.verify == TlsVerify::pin_only) {
            if (out.pins.empty() && pins_valid) {
                error(member_path(where, "verify"),
                      "\"pin-only\" needs at least one pin in " + member_path(where, "pins"));
            }
            if (out.ca_file) pin_only_conflict(where, "ca_file");
            if (out.ca_dir) pin_only_conflict(where, "ca_dir");
        }
        check_client_files(where, out);
        if (out.min_version && out.max_version && *out.min_version > *out.max_version) {
            error(member_path(where, "min_version"), "1.3 is above " + member_path(where, "max_version") + " (1.2)");
        }
    }

    void pin_only_conflict(const std::string& where, const std::string& key) {
        error(member_path(where, key), "has no effect with \"verify\": \"pin-only\" (the pin alone authenticates "
                                       "the upstream); remove it, or use \"verify\": \"full\" to check the chain too");
    }

    void check_client_files(const std::string& where, const TlsSettings& out) {
        std::string cert_path = member_path(where, "client_cert");
        std::string key_path = member_path(where, "client_key");
        if (out.client_cert && !out.client_key) error(key_path, "required when " + cert_path + " is set");
        if (out.client_key && !out.client_cert) error(cert_path, "required when " + key_path + " is set");
        if (!out.client_cert || !out.client_key) return;
        if (auto problem = check_client_pair(*out.client_cert, *out.client_key, cert_path)) {
            error(problem->about_key ? key_path : cert_path, problem->message);
        }
    }

    std::optional<fs::path> resolve_readable_file(const std::string& text, const std::string& where) {
        fs::path file(text);
        if (file.is_relative()) file = base_dir_ / file;
        file = file.lexically_normal();
        if (!file.has_filename() && file != file.root_path()) file = file.parent_path();  // "dir/." -> "dir"
        if (int err = check_readable(file)) {
            error(where, "cannot read " + file.string() + ": " + std::strerror(err));
            return std::nullopt;
        }
        return file;
    }

    Timeouts read_timeouts(const json& route, const std::string& path) {
        Timeouts t;
        const json* object = read_object(route, path, "timeouts", kTimeoutKeys);
        if (!object) return t;
        std::string where = member_path(path, "timeouts");
        t.request_ms = read_uint<uint32_t>(*object, where, "request_ms", t.request_ms, 100, 3600000);
        t.connect_ms = read_uint<uint32_t>(*object, where, "connect_ms", t.connect_ms, 100, 600000);
        t.handshake_ms = read_uint<uint32_t>(*object, where, "handshake_ms", t.handshake_ms, 100, 600000);
        t.close_ms = read_uint<uint32_t>(*object, where, "close_ms", t.close_ms, 0, 600000);
        t.idle_ms = read_ms_or_off(*object, where, "idle_ms", t.idle_ms, 100, 86400000);
        return t;
    }

    Limits read_limits(const json& route, const std::string& path) {
        Limits l;
        const json* object = read_object(route, path, "limits", kLimitKeys);
        if (!object) return l;
        std::string where = member_path(path, "limits");
        l.max_request_header_bytes =
            read_uint<uint32_t>(*object, where, "max_request_header_bytes", l.max_request_header_bytes, 1024, 1048576);
        l.max_message_bytes = read_uint<uint64_t>(*object, where, "max_message_bytes", l.max_message_bytes, 1,
                                                  uint64_t{1} << 40);
        l.max_frame_bytes = read_uint<uint64_t>(*object, where, "max_frame_bytes", l.max_frame_bytes, 0,
                                                uint64_t{1} << 40);
        return l;
    }

    Liveness read_liveness(const json& route, const std::string& path) {
        Liveness l;
        const json* object = read_object(route, path, "liveness", kLivenessKeys);
        if (!object) return l;
        std::string where = member_path(path, "liveness");
        l.ping_interval_ms = read_ms_or_off(*object, where, "ping_interval_ms", l.ping_interval_ms, 100, 3600000);
        l.ping_timeout_ms = read_uint<uint32_t>(*object, where, "ping_timeout_ms", l.ping_timeout_ms, 100, 600000);
        l.probe_timeout_ms = read_uint<uint32_t>(*object, where, "probe_timeout_ms", l.probe_timeout_ms, 100, 600000);
        return l;
    }

    Reconnect read_reconnect(const json& route, const std::string& path) {
        Reconnect r;
        const json* object = read_object(route, path, "reconnect", kReconnectKeys);
        if (!object) return r;
        std::string where = member_path(path, "reconnect");
        r.hold_ms = read_uint<uint32_t>(*object, where, "hold_ms", r.hold_ms, 0, 600000);
        r.max_held = read_uint<uint32_t>(*object, where, "max_held", r.max_held, 0, 100000);
        r.backoff_initial_ms =
            read_uint<uint32_t>(*object, where, "backoff_initial_ms", r.backoff_initial_ms, 10, 600000);
        r.backoff_max_ms = read_uint<uint32_t>(*object, where, "backoff_max_ms", r.backoff_max_ms, 10, 3600000);
        if (r.backoff_max_ms < r.backoff_initial_ms) {
            error(member_path(where, "backoff_max_ms"), "must not be smaller than backoff_initial_ms");
        }
        return r;
    }

    Network read_network(const json& root) {
        Network n;
        const json* object = read_object(root, "", "network", kNetworkKeys);
        if (!object) return n;
        if (find(*object, "watch")) n.watch = read_bool(*object, "network", "watch").value_or(true);
        n.debounce_ms = read_uint<uint32_t>(*object, "network", "debounce_ms", n.debounce_ms, 0, 60000);
        n.wake_check_interval_ms =
            read_ms_or_off(*object, "network", "wake_check_interval_ms", n.wake_check_interval_ms, 100, 600000);
        return n;
    }

    // Host names, browser origins, the connection limit and injected headers.
    void read_access(const json& value, const std::string& path, Route& route) {
        route.allowed_hosts = read_rule_list<HostRule>(value, path, "allowed_hosts", [](std::string_view text, HostRule& out) {
            return parse_host_rule(text, out);
        });
        route.allowed_origins = read_rule_list<OriginRule>(value, path, "allowed_origins",
                                                           [](std::string_view text, OriginRule& out) {
                                                               return parse_origin(text, true, out);
                                                           });
        route.max_connections = read_uint<uint32_t>(value, path, "max_connections", route.max_connections, 1, 100000);
        route.upstream_headers = read_upstream_headers(value, path);
        if (route.listen.is_unix() && !route.allowed_hosts.empty()) {
            error(member_path(path, "allowed_hosts"),
                  "has no effect on a unix socket listener (the Host check guards TCP listeners against DNS "
                  "rebinding; browsers cannot reach unix sockets)");
        }
    }

    template <typename Rule, typename Parser>
    std::vector<Rule> read_rule_list(const json& object, const std::string& path, const std::string& key,
                                     Parser parse) {
        std::vector<Rule> rules;
        const json* list = find(object, key);
        std::string where = member_path(path, key);
        if (!list || !expect(*list, Kind::array, where)) return rules;
        for (size_t i = 0; i < list->size(); ++i) {
            std::string item_path = element_path(where, i);
            if (!expect((*list)[i], Kind::string, item_path)) continue;
            Rule rule;
            if (auto problem = parse((*list)[i].template get<std::string>(), rule)) {
                error(item_path, *problem);
                continue;
            }
            rules.push_back(std::move(rule));
        }
        return rules;
    }

    // Header values are never quoted in errors: they are usually secrets.
    std::vector<HeaderSetting> read_upstream_headers(const json& route, const std::string& path) {
        std::vector<HeaderSetting> headers;
        const json* object = find(route, "upstream_headers");
        std::string where = member_path(path, "upstream_headers");
        if (!object || !expect(*object, Kind::object, where)) return headers;
        for (const auto& item : object->items()) {
            std::string item_path = member_path(where, item.key());
            if (!expect(item.value(), Kind::string, item_path)) continue;
            const std::string& value = item.value().get_ref<const std::string&>();
            if (auto problem = check_upstream_header(item.key(), value)) {
                error(item_path, *problem);
                continue;
            }
            bool repeated = std::any_of(headers.begin(), headers.end(),
                                        [&](const HeaderSetting& h) { return lowered(h.name) == lowered(item.key()); });
            if (repeated) {
                error(item_path, "the same header is set twice (header names ignore case)");
                continue;
            }
            headers.push_back({item.key(), value});
            secret_keys_.push_back(item_path);
        }
        return headers;
    }

    void check_loopback(const Route& route, const std::string& path) {
        if (route.listen.is_loopback || route.allow_non_loopback) return;
        error(member_path(path, "listen"), route.listen.host + " is not a loopback address; set " +
                                               member_path(path, "allow_non_loopback") +
                                               " to true to listen on it");
    }

    void check_plaintext(const Route& route, const std::string& path) {
        if (route.upstream.tls || route.allow_plaintext_upstream) return;
        error(member_path(path, "upstream"), "ws:// is unencrypted; set " +
                                                 member_path(path, "allow_plaintext_upstream") +
                                                 " to true to allow it");
    }

    void check_unique_names(const std::vector<RouteDraft>& drafts) {
        for (size_t i = 0; i < drafts.size(); ++i) {
            for (size_t j = 0; j < i && drafts[i].name_valid; ++j) {
                if (!drafts[j].name_valid || drafts[j].route.name != drafts[i].route.name) continue;
                error(member_path(drafts[i].path, "name"), "duplicate route name " + quoted(drafts[i].route.name) +
                                                               " (also " + member_path(drafts[j].path, "name") + ")");
                break;
            }
        }
    }

    // 0.0.0.0:P and 127.0.0.1:P cannot both be bound, so they clash too.
    static bool listen_clash(const ListenAddress& a, const ListenAddress& b) {
        if (a.is_unix() || b.is_unix()) return a.unix_path == b.unix_path;
        if (a.port == 0 || a.port != b.port) return false;
        return a.host == b.host || a.host == "0.0.0.0" || b.host == "0.0.0.0";
    }

    void check_unique_listen(const std::vector<RouteDraft>& drafts) {
        for (size_t i = 0; i < drafts.size(); ++i) {
            for (size_t j = 0; j < i && drafts[i].listen_valid; ++j) {
                const ListenAddress& mine = drafts[i].route.listen;
                const ListenAddress& theirs = drafts[j].route.listen;
                if (!drafts[j].listen_valid || !listen_clash(mine, theirs)) continue;
                std::string message = mine.text() + " is already used by " + drafts[j].path;
                if (mine.host != theirs.host) message += " (" + theirs.text() + ")";
                error(member_path(drafts[i].path, "listen"), message);
                break;
            }
        }
    }

    fs::path base_dir_;
    std::vector<std::string> errors_;
    std::vector<std::string> secret_keys_;
};

fs::path absolute_normal(const fs::path& path) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    return (ec ? path : absolute).lexically_normal();
}

}  // namespace

// A secret in a file other users can read is no longer a secret. Refusing
// to start makes the admin fix the mode once, instead of a warning nobody reads.
void refuse_if_others_can_read(const fs::path& file, LoadResult& result) {
    struct stat st{};
    if (::stat(file.c_str(), &st) != 0 || (st.st_mode & (S_IRGRP | S_IROTH)) == 0) return;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    for (const std::string& key : result.secret_keys) {
        result.errors.push_back(key + ": holds a secret, but " + file.string() + " is readable by other users (mode " +
                                mode + "); run: chmod 600 " + file.string());
    }
    result.config.reset();
}

// ---------------------------------------------------------------------------
// Public API

std::string ListenAddress::text() const {
    return is_unix() ? "unix:" + unix_path.string() : host + ":" + std::to_string(port);
}

std::string UpstreamUrl::authority() const {
    uint16_t default_port = tls ? 443 : 80;
    return port == default_port ? host : host + ":" + std::to_string(port);
}

std::string UpstreamUrl::text() const { return std::string(tls ? "wss://" : "ws://") + authority() + base_path; }

std::optional<std::string> parse_upstream_url(std::string_view text, UpstreamUrl& out) {
    size_t scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos) return "expected a URL of the form wss://host[:port][/path]";
    std::string scheme = lowered(text.substr(0, scheme_end));
    if (scheme != "wss" && scheme != "ws") return "scheme must be wss:// (or ws:// with allow_plaintext_upstream)";
    UpstreamUrl url;
    url.tls = scheme == "wss";
    std::string_view rest = text.substr(scheme_end + 3);
    size_t authority_end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, authority_end);
    std::string_view path = authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
    if (auto problem = check_authority(authority, url)) return problem;
    if (path.find_first_of("?#") != std::string_view::npos) return "query and fragment are not allowed in upstream";
    if (auto problem = check_base_path(path, url)) return problem;
    out = std::move(url);
    return std::nullopt;
}

LoadResult parse_config(std::string_view text, const std::filesystem::path& base_dir) {
    LoadResult result;
    json root;
    DuplicateKeyFinder duplicates(result.errors);
    auto callback = [&duplicates](int, json::parse_event_t event, json& parsed) {
        return duplicates.on_event(event, parsed);
    };
    try {
        root = json::parse(text, callback, /*allow_exceptions=*/true, /*ignore_comments=*/true);
    } catch (const json::parse_error& error) {
        // The document is not JSON: nothing else found so far can be trusted.
        result.errors.assign(1, syntax_error(text, error));
        return result;
    } catch (const json::out_of_range& error) {
        result.errors.assign(1, number_range_error(text, error));
        return result;
    }
    Validator validator(absolute_normal(base_dir));
    std::optional<Config> config = validator.run(root);
    result.errors.insert(result.errors.end(), validator.errors().begin(), validator.errors().end());
    result.secret_keys = std::move(validator.secret_keys());
    if (result.errors.empty()) result.config = std::move(config);
    return result;
}

LoadResult load_config_file(const std::filesystem::path& file) {
    constexpr size_t kMaxConfigBytes = 16u << 20;
    std::string text;
    if (int err = read_file(file, kMaxConfigBytes, text)) {
        LoadResult result;
        result.errors.push_back("cannot read " + file.string() + ": " + std::strerror(err));
        return result;
    }
    LoadResult result = parse_config(text, absolute_normal(file).parent_path());
    if (!result.secret_keys.empty()) refuse_if_others_can_read(file, result);
    return result;
}

std::string_view log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
    }
    return "info";
}

}  // namespace loopgate::config
