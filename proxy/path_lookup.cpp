#include "path_lookup.hpp"

#include "address_text.hpp"

namespace loopgate {

std::optional<std::string> path_gone(const KernelPath& path, const sockaddr_in& local) {
    switch (path.kind) {
    case KernelPath::Kind::unreachable:
        return "no route to the upstream after network change (" + path.error + ")";
    case KernelPath::Kind::route:
        if (path.source && path.source->s_addr != local.sin_addr.s_addr) {
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

}  // namespace loopgate
