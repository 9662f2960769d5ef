// A fresh private directory per test, removed with everything in it when the
// test ends. Shared by the unit tests that need files on disk.
//
// The directory is /tmp/lg-test-PID-N, mode 0700: short, because unix socket
// paths are limited to about 100 bytes, and private, because loopgate refuses
// a socket directory others can enter. Files written with write() are 0600
// unless asked otherwise.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>

namespace loopgate::test {

class TempDir {
public:
    TempDir() {
        static std::atomic<int> counter{0};  // one counter for the whole test binary (inline function)
        path_ = std::filesystem::path("/tmp") /
                ("lg-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        std::filesystem::remove_all(path_);
        std::filesystem::create_directories(path_);
        std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::replace);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::filesystem::path& path() const { return path_; }

    // Writes `content` to `relative` (parent directories created) with `mode`.
    std::filesystem::path write(const std::filesystem::path& relative, const std::string& content,
                                mode_t mode = 0600) const {
        std::filesystem::path file = path_ / relative;
        std::filesystem::create_directories(file.parent_path());
        std::ofstream(file) << content;
        ::chmod(file.c_str(), mode);
        return file;
    }

private:
    std::filesystem::path path_;
};

}  // namespace loopgate::test
