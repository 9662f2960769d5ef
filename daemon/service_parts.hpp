// Inside the service managers (service_manager.hpp): the three of them, and
// the small text helpers they share. Nothing else includes this.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "service_manager.hpp"

namespace loopgate {

std::unique_ptr<ServiceManager> make_launchd_manager(const ServiceEnvironment& env, CommandRunner& runner,
                                                     std::ostream& out);
std::unique_ptr<ServiceManager> make_systemd_manager(const ServiceEnvironment& env, CommandRunner& runner,
                                                     std::ostream& out);
// `why`: why nobody starts loopgate here (--service none, or what auto found).
std::unique_ptr<ServiceManager> make_no_manager(const ServiceEnvironment& env, std::ostream& out, std::string why);

// argv as a shell reads it back: a word with anything but [A-Za-z0-9_./:=@%+,-] single-quoted.
std::string command_text(const std::vector<std::string>& argv);

// The file's text (at most `limit` bytes), or nothing when it cannot be read.
std::optional<std::string> read_text_file(const std::string& path, size_t limit = 1u << 20);

// The file's last `limit` bytes or fewer, starting at a line (a log's newest
// lines, however long it has grown), or nothing when it cannot be read.
std::optional<std::string> read_file_tail(const std::string& path, size_t limit);

// The last `count` lines of `text`.
std::string last_lines(std::string_view text, size_t count);

// The first line of a command's output, for an error message.
std::string first_line(std::string_view text);

}  // namespace loopgate
