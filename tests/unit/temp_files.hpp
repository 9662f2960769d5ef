// Files for tests that need real ones: a fresh directory per test, removed
// afterwards, and a self-signed certificate with its key as PEM files.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace loopgate::testing {

class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

    // Writes path()/name with `content` and `mode`.
    std::filesystem::path write(const std::string& name, const std::string& content, mode_t mode = 0600) const;

private:
    std::filesystem::path path_;
};

struct KeyPair {
    std::filesystem::path cert;  // dir/NAME.pem
    std::filesystem::path key;   // dir/NAME.key, mode 0600
};

// A self-signed P-256 certificate (CN=name, valid for an hour) and its key.
KeyPair make_self_signed(const TempDir& dir, const std::string& name);

}  // namespace loopgate::testing
