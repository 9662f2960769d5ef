#include "config_edit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

namespace loopgate {
namespace {

bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '.' || c == '-';
}

// Binds 127.0.0.1:port as libuv's uv_tcp_bind does (SO_REUSEADDR: a port
// left in TIME_WAIT is free to listen on); 0, or the errno.
int try_bind(uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return errno;
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int err = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
    ::close(fd);
    return err;
}

// A scanner over JSONC text that steps over strings and comments.
class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    // Skips whitespace and comments; false at the end of the text (or in an unclosed comment).
    bool skip_blank() {
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                ++at_;
            } else if (text_.substr(at_, 2) == "//") {
                size_t end = text_.find('\n', at_);
                at_ = end == std::string_view::npos ? text_.size() : end + 1;
            } else if (text_.substr(at_, 2) == "/*") {
                size_t end = text_.find("*/", at_ + 2);
                if (end == std::string_view::npos) return false;
                at_ = end + 2;
            } else {
                return true;
            }
        }
        return false;
    }

    // At a '"': the string's contents (escapes kept as written); steps past it.
    std::optional<std::string_view> string() {
        size_t start = ++at_;
        while (at_ < text_.size()) {
            char c = text_[at_];
            if (c == '\\') {
                at_ += 2;
            } else if (c == '"') {
                return text_.substr(start, at_++ - start);
            } else {
                ++at_;
            }
        }
        return std::nullopt;
    }

    // Steps over one value (object, array, string, literal); false when the text ends first.
    bool skip_value() {
        if (!skip_blank()) return false;
        char c = text_[at_];
        if (c == '"') return string().has_value();
        if (c == '{' || c == '[') {
            int depth = 0;
            while (skip_blank()) {
                char d = text_[at_];
                if (d == '"') {
                    if (!string()) return false;
                    continue;
                }
                ++at_;
                if (d == '{' || d == '[') ++depth;
                if ((d == '}' || d == ']') && --depth == 0) return true;
            }
            return false;
        }
        while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) != 0 ||
                                      text_[at_] == '-' || text_[at_] == '+' || text_[at_] == '.')) {
            ++at_;
        }
        return true;
    }

    char peek() const { return text_[at_]; }
    void next() { ++at_; }
    size_t at() const { return at_; }

private:
    std::string_view text_;
    size_t at_ = 0;
};

}  // namespace

std::string derive_route_name(std::string_view host, bool host_is_ipv4_literal) {
    std::string_view label = host;
    if (!host_is_ipv4_literal) label = host.substr(0, host.find('.'));
    std::string name;
    for (char c : label) {
        if (name.size() == 64) break;
        name += name_char(c) ? c : '-';
    }
    return name.empty() ? "gateway" : name;
}

int port_bind_error(uint16_t port) { return port == 0 ? EINVAL : try_bind(port); }

uint16_t choose_listen_port(std::optional<uint16_t> requested, uint16_t upstream_port,
                            const std::set<uint16_t>& taken, const PortBindCheck& bind_error) {
    if (requested) return *requested;
    auto usable = [&](uint16_t port) { return port != 0 && !taken.contains(port) && bind_error(port) == 0; };
    if (usable(upstream_port)) return upstream_port;
    for (uint32_t port = kFirstSetupPort; port <= kLastSetupPort; ++port) {
        if (usable(static_cast<uint16_t>(port))) return static_cast<uint16_t>(port);
    }
    return 0;
}

std::optional<RoutesArray> find_routes_array(std::string_view text) {
    Scanner scan(text);
    if (!scan.skip_blank() || scan.peek() != '{') return std::nullopt;
    scan.next();
    while (scan.skip_blank()) {
        if (scan.peek() == '}') return std::nullopt;
        if (scan.peek() == ',') {
            scan.next();
            continue;
        }
        if (scan.peek() != '"') return std::nullopt;
        auto key = scan.string();
        if (!key || !scan.skip_blank() || scan.peek() != ':') return std::nullopt;
        scan.next();
        if (*key != "routes") {
            if (!scan.skip_value()) return std::nullopt;
            continue;
        }
        if (!scan.skip_blank() || scan.peek() != '[') return std::nullopt;
        scan.next();
        RoutesArray found;
        while (scan.skip_blank()) {
            char c = scan.peek();
            if (c == ']') {
                found.close = scan.at();
                return found;
            }
            if (c == ',') {
                scan.next();
                continue;
            }
            if (!scan.skip_value()) return std::nullopt;
            found.empty = false;
            found.last_value_end = scan.at();
        }
        return std::nullopt;
    }
    return std::nullopt;
}

std::optional<std::string> insert_route(std::string_view text, std::string_view route) {
    auto array = find_routes_array(text);
    if (!array) return std::nullopt;
    // The new element on lines of its own, indented one step deeper than the line of the ']'.
    size_t line_start = text.rfind('\n', array->close);
    line_start = line_start == std::string_view::npos ? 0 : line_start + 1;
    std::string_view before_close = text.substr(line_start, array->close - line_start);
    bool close_alone = before_close.find_first_not_of(" \t") == std::string_view::npos;
    std::string indent = close_alone ? std::string(before_close) + "    " : "    ";
    std::string element = indent;
    for (char c : route) {
        element += c;
        if (c == '\n') element += indent;
    }
    std::string out(text.substr(0, array->empty ? 0 : array->last_value_end));
    if (!array->empty) out += ',';
    size_t resume = array->empty ? 0 : array->last_value_end;
    if (close_alone) {
        out += text.substr(resume, line_start - resume);
        out += element + "\n";
        out += text.substr(line_start);
    } else {
        out += text.substr(resume, array->close - resume);
        out += "\n" + element + "\n";
        out += text.substr(array->close);
    }
    return out;
}

}  // namespace loopgate
