// Watching the machine's network for changes that can strand a connection:
// links going up or down, IPv4 addresses and routes appearing or vanishing
// (Wi-Fi switch, Tailscale reconnecting). One implementation per platform:
// netwatch_linux.cpp (NETLINK_ROUTE) and netwatch_darwin.cpp (PF_ROUTE and
// notify(3)), each a pollable fd on the loop.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

namespace loopgate {

class NetworkWatcher {
public:
    // One call per kernel message worth reacting to, e.g. "link veth0 down".
    using OnChange = std::function<void(const std::string& what)>;

    virtual ~NetworkWatcher() = default;

    // The platform's watcher, or null with `error` set when it cannot start.
    static std::unique_ptr<NetworkWatcher> create(uv_loop_t* loop, OnChange on_change, std::string& error);
};

}  // namespace loopgate
