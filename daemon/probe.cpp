#include "probe.hpp"

#include <uv.h>

#include <cstdio>
#include <vector>

#include "exit_status.hpp"
#include "log.hpp"
#include "log_sink.hpp"
#include "probe_report.hpp"
#include "route_probe.hpp"
#include "trust_store.hpp"

namespace loopgate {

int run_probe(const config::Config& config, const ProbeOptions& options) {
    std::vector<size_t> chosen;
    for (size_t i = 0; i < config.routes.size(); ++i) {
        if (!options.route || config.routes[i].name == *options.route) chosen.push_back(i);
    }
    if (chosen.empty()) {
        std::string names;
        for (const auto& route : config.routes) names += (names.empty() ? "" : ", ") + route.name;
        std::fprintf(stderr, "loopgate: no route named '%s' (routes: %s)\n", options.route->c_str(), names.c_str());
        return kExitUsage;
    }
    StderrLogSink log_sink(log::Level::error);  // the probe prints its own account of every step
    uv_loop_t loop{};
    if (int rc = uv_loop_init(&loop)) {
        std::fprintf(stderr, "loopgate: cannot start the event loop: %s\n", uv_strerror(rc));
        return kExitOsError;
    }
    SystemTrustAnchors anchors = SystemTrustAnchors::from_environment();
    bool all_ok = true;
    for (size_t n = 0; n < chosen.size(); ++n) {
        if (n > 0) std::printf("\n");
        RouteProbe probe(&loop, config.routes[chosen[n]], chosen[n], anchors);
        all_ok = probe.run() && all_ok;
        if (options.print_pin && probe.seen() && !probe.seen()->chain.empty()) {
            print_pin_lines(probe.seen()->chain.front(), probe.chain_verified(), probe.index());
        }
        std::fflush(stdout);
    }
    // Connections still ending get at most a second for their close_notify and FIN.
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) std::fprintf(stderr, "loopgate: handles still open at exit\n");
    return all_ok ? kExitOk : kExitFailure;
}

}  // namespace loopgate
