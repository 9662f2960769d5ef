// Loading the config file: the file part of load_config_file. Reads the text,
// parses it with the real file system behind FileChecks, and refuses inline
// secrets in a file others can read.
#include <cstring>

#include "config.hpp"
#include "file_modes.hpp"
#include "file_paths.hpp"
#include "system_files.hpp"

namespace loopgate::config {
namespace {
constexpr size_t kMaxConfigBytes = 16u << 20;
}  // namespace

LoadResult load_config_file(const std::filesystem::path& file) {
    std::string text;
    if (int err = read_file(file, kMaxConfigBytes, text)) {
        LoadResult result;
        result.errors.push_back("cannot read " + file.string() + ": " + std::strerror(err));
        return result;
    }
    LoadResult result = load_config_text(text, file);
    if (!result.secret_keys.empty()) refuse_if_others_can_read(file, SystemFileChecks().permissions(file), result);
    return result;
}

std::optional<ListenAddress> admin_listen_of_file(const std::filesystem::path& file) {
    std::string text;
    if (read_file(file, kMaxConfigBytes, text) != 0) return std::nullopt;
    return admin_listen_of(text, absolute_normal(file).parent_path());
}

LoadResult load_config_text(std::string_view text, const std::filesystem::path& file) {
    SystemFileChecks files;
    return parse_config(text, absolute_normal(file).parent_path(), files);
}

}  // namespace loopgate::config
