// Which way the kernel would send a packet to an upstream's address now, and
// whether an upstream connection made earlier still leaves that way. After a
// network change (a link down, an address removed, the default route moved
// to another interface) a connection toward an address with no route at all,
// or whose source address is no longer the one the kernel would pick and not
// one of the outgoing interface's either, can carry nothing: it is closed
// 1012 at once instead of waiting out a probe. (A source-based policy rule,
// `ip rule from ...`, is not asked about: such a session is probed.)
//
// One implementation per platform, each asking the kernel about exactly one
// destination: Linux an RTM_GETROUTE request on NETLINK_ROUTE
// (path_lookup_linux.cpp, messages in rtnl_route.*), macOS an RTM_GET on a
// PF_ROUTE socket (path_lookup_darwin.cpp, messages in route_message.*). The
// daemon opens one and asks it once per distinct upstream address per
// network change (PathCache), never on the data path.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace loopgate {

// What the kernel says about one destination.
struct KernelPath {
    enum class Kind {
        route,        // a route: `source` (when the kernel names it) and `interface`
        unreachable,  // no route, or an unreachable/prohibit one: `error` says which
        unknown,      // the kernel could not be asked or did not say: `error` says why
    };
    Kind kind = Kind::unknown;
    std::optional<in_addr> source;  // the source address it would pick (RTA_PREFSRC; macOS: RTA_IFA)
    unsigned interface = 0;         // the outgoing interface's index (0: not said)
    std::string error;
};

class PathLookup {
public:
    virtual ~PathLookup() = default;
    virtual KernelPath path_to(const in_addr& destination) = 0;
    // The index of the interface that holds `address` now; 0 when none does
    // or it cannot be told. getifaddrs(3) by default, alike on both platforms.
    virtual unsigned interface_holding(const in_addr& address);
};

// This platform's way to ask, opened once per daemon; null and `error` when
// it cannot be had (network changes then only probe, as before).
std::unique_ptr<PathLookup> open_path_lookup(std::string& error);

// Why a connection from `local` can no longer carry traffic on `path` (close
// it now), or nullopt when it may (probe it as usual): no route at all, or a
// route whose source address is another one, unless `local` is still an
// address of the route's own interface (`local_interface`: the index of the
// interface holding `local`, 0 when none), whose packets still leave the
// right way (a second address on the link, a route given another `src`).
// A path the kernel could not tell closes nothing.
std::optional<std::string> path_gone(const KernelPath& path, const sockaddr_in& local, unsigned local_interface);

// The lookups of one network change: each destination and each local address
// asked once, however many sessions share them.
class PathCache {
public:
    explicit PathCache(PathLookup& lookup) : lookup_(lookup) {}
    const KernelPath& path_to(const in_addr& destination);
    // path_gone for a connection from `local` to `remote`; the interface
    // holding `local` is asked only when the route's source is another one.
    std::optional<std::string> gone(const sockaddr_in& local, const sockaddr_in& remote);
    size_t lookups() const { return paths_.size(); }

private:
    PathLookup& lookup_;
    std::map<uint32_t, KernelPath> paths_;  // by destination, network byte order
    std::map<uint32_t, unsigned> holders_;  // by local address: the interface holding it
};

}  // namespace loopgate
