// Interface addresses, the same way on Linux and macOS: getifaddrs(3).
#include <ifaddrs.h>
#include <netinet/in.h>

#include <cstring>

#include "routing_table.hpp"

namespace loopgate {

std::vector<InterfaceAddress> read_interface_addresses() {
    std::vector<InterfaceAddress> out;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return out;
    for (ifaddrs* at = list; at != nullptr; at = at->ifa_next) {
        if (at->ifa_addr == nullptr || at->ifa_name == nullptr) continue;
        InterfaceAddress address;
        address.interface = at->ifa_name;
        if (at->ifa_addr->sa_family == AF_INET) {
            std::memcpy(address.bytes.data(), &reinterpret_cast<const sockaddr_in*>(at->ifa_addr)->sin_addr, 4);
        } else if (at->ifa_addr->sa_family == AF_INET6) {
            address.ipv6 = true;
            std::memcpy(address.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(at->ifa_addr)->sin6_addr, 16);
        } else {
            continue;
        }
        out.push_back(std::move(address));
    }
    freeifaddrs(list);
    return out;
}

}  // namespace loopgate
