// The live connections, so that SIGTERM can wake every blocked connection thread and wait for it
// to finish.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

namespace test_gateway {

class LiveConnections {
public:
    void add(int fd) {
        std::lock_guard lock(mutex_);
        fds_.insert(fd);
        ++threads_;
    }

    // Called before the fd is closed, so shut_all() never touches a reused descriptor.
    void forget_socket(int fd) {
        std::lock_guard lock(mutex_);
        fds_.erase(fd);
    }

    void thread_done() {
        std::lock_guard lock(mutex_);
        --threads_;
        idle_.notify_all();
    }

    void shut_all() {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }

    bool wait_idle(std::chrono::steady_clock::duration limit) {
        std::unique_lock lock(mutex_);
        return idle_.wait_for(lock, limit, [&] { return threads_ == 0; });
    }

private:
    std::mutex mutex_;
    std::condition_variable idle_;
    std::set<int> fds_;
    int threads_ = 0;
};

inline LiveConnections g_live;

}  // namespace test_gateway
