// CPU time of other processes, from /proc/PID/stat (utime + stime, every
// thread of the process): what the load client reads at the start and the end
// of its measured window, so the proxy's CPU is counted over exactly the
// interval the messages were.
#pragma once

#include <string>
#include <vector>

namespace bench {

struct Watched {
    std::string name;        // e.g. "proxy"
    std::vector<int> pids;   // all its processes (nginx: master and workers)
};

// Seconds of CPU used so far by all of `pids` (a process that is gone adds 0).
double cpu_seconds(const std::vector<int>& pids);
// The same for this process (getrusage).
double own_cpu_seconds();

}  // namespace bench
