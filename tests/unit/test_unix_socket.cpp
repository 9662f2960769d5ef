// daemon/unix_socket_file: the socket file of a unix socket listener. Its directory
// must be private, a stale file is replaced, a live socket or a regular file
// never, and only our own file is removed at the end.
#include <doctest/doctest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "temp_dir.hpp"
#include "unix_socket_file.hpp"

namespace fs = std::filesystem;
using loopgate::test::TempDir;

namespace {

bool listening_unix_socket(const fs::path& path, int& fd) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    return ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd, 4) == 0;
}

mode_t mode_of(const fs::path& path) {
    struct stat st{};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("unix socket: a private directory is accepted and the socket ends up 0600, removed when done") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    {
        loopgate::UnixSocketFile file(path);
        bool removed_stale = true;
        CHECK_FALSE(file.prepare(removed_stale).has_value());
        CHECK_FALSE(removed_stale);
        REQUIRE(listening_unix_socket(path, fd));
        CHECK_FALSE(file.claim().has_value());
        CHECK(mode_of(path) == 0600);
    }
    ::close(fd);
    CHECK_FALSE(fs::exists(fs::symlink_status(path)));
}

TEST_CASE("unix socket: a directory others can enter or write is refused with the fix") {
    TempDir dir;
    fs::permissions(dir.path(), fs::perms(0755), fs::perm_options::replace);
    loopgate::UnixSocketFile file(dir.path() / "lg.sock");
    bool removed_stale = false;
    CHECK(file.prepare(removed_stale).value_or("") ==
          "directory " + dir.path().string() + " can be entered or written by other users (mode 0755); only its owner "
          "may: chmod 700 " + dir.path().string());
    loopgate::UnixSocketFile missing(dir.path() / "nope" / "lg.sock");
    CHECK(missing.prepare(removed_stale).value_or("").find("(create it with: mkdir -m 700 ") != std::string::npos);
}

TEST_CASE("unix socket: a stale socket is replaced, a live one and a regular file are left alone") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    REQUIRE(listening_unix_socket(path, fd));
    loopgate::UnixSocketFile file(path);
    bool removed_stale = false;
    CHECK(file.prepare(removed_stale).value_or("") == "another process is already listening on " + path.string());
    CHECK(fs::exists(fs::symlink_status(path)));
    ::close(fd);  // the listener died without removing its file
    CHECK_FALSE(file.prepare(removed_stale).has_value());
    CHECK(removed_stale);
    CHECK_FALSE(fs::exists(fs::symlink_status(path)));

    std::ofstream(path) << "not a socket";
    CHECK(file.prepare(removed_stale).value_or("") ==
          path.string() + " exists and is not a socket; loopgate does not replace it (remove it if it is not needed)");
    CHECK(fs::is_regular_file(path));
}

TEST_CASE("unix socket: removal leaves a file that replaced ours alone") {
    TempDir dir;
    fs::path path = dir.path() / "lg.sock";
    int fd = -1;
    loopgate::UnixSocketFile file(path);
    bool removed_stale = false;
    REQUIRE_FALSE(file.prepare(removed_stale).has_value());
    REQUIRE(listening_unix_socket(path, fd));
    REQUIRE_FALSE(file.claim().has_value());
    ::close(fd);
    fs::remove(path);
    std::ofstream(path) << "someone else's";
    file.remove();
    CHECK(fs::is_regular_file(path));
}
