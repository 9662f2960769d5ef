// The real CommandRunner: posix_spawnp, an optional pipe for the output, and
// a deadline so a hung launchctl or systemctl cannot hang setup with it.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "service_manager.hpp"

extern char** environ;

namespace loopgate {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kCommandTimeout = std::chrono::seconds(60);
constexpr size_t kMaxOutput = 1u << 20;

int status_of(int wait_status) {
    if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
    if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
    return 1;
}

class ProcessRunner final : public CommandRunner {
public:
    Result run(const std::vector<std::string>& argv, bool capture) override {
        Result result;
        if (argv.empty()) return {127, "no command"};
        std::fflush(stdout);
        std::fflush(stderr);
        int pipe_fds[2] = {-1, -1};
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        if (capture) {
            if (::pipe(pipe_fds) != 0) {
                posix_spawn_file_actions_destroy(&actions);
                return {127, std::string("cannot make a pipe: ") + std::strerror(errno)};
            }
            ::fcntl(pipe_fds[0], F_SETFD, FD_CLOEXEC);
            posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
            posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
            posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);
        }
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        pid_t pid = 0;
        // Captured, it gets its own process group, so a timeout kills whatever
        // it started too. Not when it writes to our terminal: a background
        // group's writes may stop it there (stty tostop).
        posix_spawnattr_t attributes;
        posix_spawnattr_init(&attributes);
        if (capture) {
            posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
            posix_spawnattr_setpgroup(&attributes, 0);
        }
        int rc = ::posix_spawnp(&pid, args[0], &actions, &attributes, args.data(), environ);
        posix_spawnattr_destroy(&attributes);
        posix_spawn_file_actions_destroy(&actions);
        if (capture) ::close(pipe_fds[1]);
        if (rc != 0) {
            if (capture) ::close(pipe_fds[0]);
            return {127, argv[0] + ": " + std::strerror(rc)};
        }
        result.status = wait_for(pid, capture ? pipe_fds[0] : -1, argv[0], result.output);
        return result;
    }

private:
    // Waits for the child, reading its output (when fd >= 0) as it comes. A
    // grandchild that kept the pipe open does not hold this up: once the child
    // has exited, only what is already in the pipe is read.
    static int wait_for(pid_t pid, int fd, const std::string& name, std::string& out) {
        const auto deadline = Clock::now() + kCommandTimeout;
        int wait_status = 0;
        while (true) {
            if (fd >= 0) {
                if (drain(fd, 20, out) == Read::end) {
                    ::close(fd);
                    fd = -1;
                }
            } else {
                ::poll(nullptr, 0, 20);
            }
            pid_t done = ::waitpid(pid, &wait_status, WNOHANG);
            if (done == pid) break;
            if (done < 0 && errno != EINTR) {
                out += std::string("waitpid: ") + std::strerror(errno);
                wait_status = 127 << 8;
                break;
            }
            if (Clock::now() >= deadline) {
                ::kill(::getpgid(pid) == pid ? -pid : pid, SIGKILL);  // its group, when it leads its own
                while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
                }
                out += "\n(" + name + " did not finish within 60 s and was killed)";
                break;
            }
        }
        if (fd >= 0) {
            ::fcntl(fd, F_SETFL, O_NONBLOCK);
            // What is already in the pipe, bounded: a grandchild may write on.
            for (int i = 0; i < 1024 && drain(fd, 0, out) == Read::some; ++i) {
            }
            ::close(fd);
        }
        if (out.size() >= kMaxOutput) out += "\n(output cut at " + std::to_string(kMaxOutput) + " bytes)";
        return status_of(wait_status);
    }

    enum class Read { some, nothing, end };

    // Reads what the pipe has within wait_ms.
    static Read drain(int fd, int wait_ms, std::string& out) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, wait_ms) <= 0) return Read::nothing;
        char buffer[4096];
        ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0) return errno == EINTR || errno == EAGAIN ? Read::nothing : Read::end;
        if (n == 0) return Read::end;
        // Beyond the cap the output is read and dropped: the child never
        // blocks on a full pipe nor dies of SIGPIPE for talking too much.
        size_t room = out.size() < kMaxOutput ? kMaxOutput - out.size() : 0;
        out.append(buffer, std::min(static_cast<size_t>(n), room));
        return Read::some;
    }
};

}  // namespace

std::unique_ptr<CommandRunner> make_process_runner() { return std::make_unique<ProcessRunner>(); }

}  // namespace loopgate
