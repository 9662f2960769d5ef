#include "unix_socket_file.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "file_modes.hpp"

namespace loopgate {
namespace {

// True when something accepts connections on the socket file at `path`.
// Returns the errno of a failed attempt in `err` (ECONNREFUSED: nobody listens).
bool someone_listens(const std::string& path, int& err) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        err = errno;
        return false;
    }
    // Non-blocking, so a listener with a full backlog answers EAGAIN at once
    // instead of stalling the start.
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    int rc;
    do {
        rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    } while (rc != 0 && errno == EINTR);
    err = rc == 0 ? 0 : errno;
    ::close(fd);
    // A full backlog (EAGAIN) also means a live listener.
    return rc == 0 || err == EAGAIN;
}

}  // namespace

std::optional<std::string> UnixSocketFile::check_directory() const {
    std::string dir = path_.parent_path().string();
    struct stat st{};
    if (::stat(dir.c_str(), &st) != 0) {
        return "cannot use directory " + dir + ": " + std::strerror(errno) + " (create it with: mkdir -m 700 " + dir + ")";
    }
    if (!S_ISDIR(st.st_mode)) return dir + " is not a directory";
    if (st.st_uid != ::geteuid()) {
        return "directory " + dir + " belongs to uid " + std::to_string(st.st_uid) + ", not to the user loopgate runs as (uid " +
               std::to_string(::geteuid()) + "); use a directory of your own";
    }
    // Write access would let another user replace the socket; search access
    // would let them reach it on systems that ignore a socket's own mode.
    if ((st.st_mode & 0033) != 0) {
        return "directory " + dir + " can be entered or written by other users (mode " + config::mode_text(st.st_mode) +
               "); only its owner may: chmod 700 " + dir;
    }
    return std::nullopt;
}

std::optional<std::string> UnixSocketFile::clear_stale(bool& removed_stale) const {
    std::string path = path_.string();
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return std::nullopt;
        return "cannot inspect " + path + ": " + std::strerror(errno);
    }
    if (!S_ISSOCK(st.st_mode)) {
        return path + " exists and is not a socket; loopgate does not replace it (remove it if it is not needed)";
    }
    int err = 0;
    if (someone_listens(path, err)) return "another process is already listening on " + path;
    if (err != ECONNREFUSED) return "cannot tell whether " + path + " is in use: " + std::strerror(err);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return "cannot remove the stale socket " + path + ": " + std::strerror(errno);
    }
    removed_stale = true;
    return std::nullopt;
}

std::optional<std::string> UnixSocketFile::prepare(bool& removed_stale) {
    removed_stale = false;
    if (auto problem = check_directory()) return problem;
    return clear_stale(removed_stale);
}

std::optional<std::string> UnixSocketFile::claim() {
    // Nobody can connect between bind and listen, so tightening the mode here
    // leaves no window where the socket is open to others.
    std::string path = path_.string();
    struct stat st{};
    if (::chmod(path.c_str(), 0600) != 0 || ::lstat(path.c_str(), &st) != 0) {
        std::string why = std::strerror(errno);
        ::unlink(path.c_str());  // just bound by us: never leave it open to others
        return "cannot set mode 0600 on " + path + ": " + why;
    }
    claimed_ = true;
    device_ = st.st_dev;
    inode_ = st.st_ino;
    return std::nullopt;
}

void UnixSocketFile::remove() {
    if (!claimed_) return;
    claimed_ = false;
    struct stat st{};
    std::string path = path_.string();
    // Another loopgate may have replaced a socket we left; leave theirs alone.
    // (An inode number can be reused by a new file, hence the type check.)
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode) || st.st_dev != device_ || st.st_ino != inode_) {
        return;
    }
    ::unlink(path.c_str());
}

}  // namespace loopgate
