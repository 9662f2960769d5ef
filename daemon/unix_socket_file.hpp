// The file behind a unix socket listener. Only the user loopgate runs as may
// connect: the socket is mode 0600 in a directory only that user can enter
// or write, so no other user can reach it, replace it or race its creation.
// A socket file left by a crash is replaced; a live one, or anything that is
// not a socket, is never touched.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "socket_file.hpp"

namespace loopgate {

class UnixSocketFile final : public SocketFile {
public:
    explicit UnixSocketFile(std::filesystem::path path) : path_(std::move(path)) {}
    ~UnixSocketFile() override { remove(); }
    UnixSocketFile(const UnixSocketFile&) = delete;
    UnixSocketFile& operator=(const UnixSocketFile&) = delete;

    // Before bind: checks the directory and clears a stale socket file.
    // Returns why the path cannot be used. Sets removed_stale when it removed one.
    std::optional<std::string> prepare(bool& removed_stale) override;
    // After bind, before listen: mode 0600, and remember which file is ours.
    std::optional<std::string> claim() override;
    // Removes the socket file if it is still the one we created.
    void remove();

    const std::filesystem::path& path() const { return path_; }

private:
    std::optional<std::string> check_directory() const;
    std::optional<std::string> clear_stale(bool& removed_stale) const;

    std::filesystem::path path_;
    bool claimed_ = false;
    dev_t device_ = 0;
    ino_t inode_ = 0;
};

// The daemon's: each unix socket listener's file is a UnixSocketFile.
class UnixSocketFiles final : public SocketFiles {
public:
    std::unique_ptr<SocketFile> open(const std::filesystem::path& path) override {
        return std::make_unique<UnixSocketFile>(path);
    }
};

}  // namespace loopgate
