// The file behind a unix socket listener. Only the user loopgate runs as may
// connect: the socket is mode 0600 in a directory only that user can enter
// or write, so no other user can reach it, replace it or race its creation.
// A socket file left by a crash is replaced; a live one, or anything that is
// not a socket, is never touched.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

namespace loopgate {

class UnixSocketFile {
public:
    explicit UnixSocketFile(std::filesystem::path path) : path_(std::move(path)) {}
    ~UnixSocketFile() { remove(); }
    UnixSocketFile(const UnixSocketFile&) = delete;
    UnixSocketFile& operator=(const UnixSocketFile&) = delete;

    // Before bind: checks the directory and clears a stale socket file.
    // Returns why the path cannot be used. Sets removed_stale when it removed one.
    std::optional<std::string> prepare(bool& removed_stale);
    // After bind, before listen: mode 0600, and remember which file is ours.
    std::optional<std::string> claim();
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

// Who is at the other end of a connected unix socket, for logs:
// "unix:uid=501,pid=4242" (pid where the system tells it).
std::string describe_unix_peer(int fd);

}  // namespace loopgate
