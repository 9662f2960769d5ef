#include "path_lookup.hpp"

#include <ifaddrs.h>
#include <net/if.h>

#include "address_text.hpp"

namespace loopgate {

unsigned PathLookup::interface_holding(const in_addr& address) {
    ifaddrs* all = nullptr;
    if (::getifaddrs(&all) != 0) return 0;
    unsigned index = 0;
    for (const ifaddrs* i = all; i != nullptr && index == 0; i = i->ifa_next) {
        if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
        if (reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr.s_addr == address.s_addr) {
            index = ::if_nametoindex(i->ifa_name);
        }
    }
    ::freeifaddrs(all);
    return index;
}

namespace {

// The route leaves by a named interface from another source than `local`:
// whether that interface still holds `local` decides.
bool source_moved(const KernelPath& path, const sockaddr_in& local) {
    return path.kind == KernelPath::Kind::route && path.source && path.source->s_addr != local.sin_addr.s_addr &&
           path.interface != 0;
}

}  // namespace

std::optional<std::string> path_gone(const KernelPath& path, const sockaddr_in& local, unsigned local_interface) {
    switch (path.kind) {
    case KernelPath::Kind::unreachable:
        return "no route to the upstream after network change (" + path.error + ")";
    case KernelPath::Kind::route:
        if (path.source && path.source->s_addr != local.sin_addr.s_addr &&
            (!source_moved(path, local) || local_interface != path.interface)) {
            sockaddr_in now{};
            now.sin_family = AF_INET;
            now.sin_addr = *path.source;
            return "route to the upstream changed: it now leaves from " + ipv4_text(now) + ", not from " +
                   ipv4_text(local);
        }
        return std::nullopt;
    case KernelPath::Kind::unknown: return std::nullopt;
    }
    return std::nullopt;
}

const KernelPath& PathCache::path_to(const in_addr& destination) {
    auto found = paths_.find(destination.s_addr);
    if (found != paths_.end()) return found->second;
    return paths_.emplace(destination.s_addr, lookup_.path_to(destination)).first->second;
}

std::optional<std::string> PathCache::gone(const sockaddr_in& local, const sockaddr_in& remote) {
    const KernelPath& path = path_to(remote.sin_addr);
    unsigned holder = 0;
    if (source_moved(path, local)) {
        auto found = holders_.find(local.sin_addr.s_addr);
        if (found == holders_.end()) {
            found = holders_.emplace(local.sin_addr.s_addr, lookup_.interface_holding(local.sin_addr)).first;
        }
        holder = found->second;
    }
    return path_gone(path, local, holder);
}

}  // namespace loopgate
