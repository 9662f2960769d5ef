// The real file system behind FileChecks, and the reading of the config file
// itself: the only code in config/ that opens, reads or stats a path.
// load_config_file uses it; nothing else in config/ includes it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "file_checks.hpp"

namespace loopgate::config {

class SystemFileChecks final : public FileChecks {
public:
    // Reading one byte is what proves the daemon will be able to load the
    // file later (opening succeeds on a directory).
    std::optional<std::string> cannot_read_file(const std::filesystem::path& file) const override;
    std::optional<std::string> cannot_read_directory(const std::filesystem::path& dir) const override;
    // Both files are PEM, the key is unencrypted, and it belongs to the first
    // certificate of the chain; an encrypted key is reported, never prompted for.
    ClientPairVerdict read_client_pair(const std::filesystem::path& cert,
                                       const std::filesystem::path& key) const override;
    std::optional<unsigned> permissions(const std::filesystem::path& file) const override;
};

// Returns 0 and the contents, or the errno that stopped the read (EFBIG when
// the file holds more than max_bytes).
int read_file(const std::filesystem::path& file, size_t max_bytes, std::string& out);

}  // namespace loopgate::config
