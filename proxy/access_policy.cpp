#include "access_policy.hpp"

#include <algorithm>

#include "http_text.hpp"

namespace loopgate {

AccessPolicy AccessPolicy::for_route(const config::Route& route, uint16_t bound_port) {
    AccessPolicy policy;
    policy.route_name_ = route.name;
    policy.origins_ = route.allowed_origins;
    policy.own_origin_ = route.http;
    if (route.listen.is_unix()) {
        policy.any_host_ = true;
        return policy;
    }
    policy.port_ = bound_port;
    // Without a port a rule means "this listener's port, or none".
    policy.hosts_ = {{"127.0.0.1", std::nullopt}, {"localhost", std::nullopt}};
    if (route.listen.host != "127.0.0.1") policy.hosts_.push_back({route.listen.host, std::nullopt});
    policy.hosts_.insert(policy.hosts_.end(), route.allowed_hosts.begin(), route.allowed_hosts.end());
    return policy;
}

std::string AccessPolicy::describe_hosts() const {
    std::string out;
    for (const auto& rule : hosts_) {
        if (!out.empty()) out += ", ";
        out += rule.port ? rule.text() : rule.host + ":" + std::to_string(port_);
    }
    return out;
}

std::optional<handshake::Refusal> AccessPolicy::check(const http::Request& request) const {
    if (!any_host_) {
        const std::string* host = request.headers.find("host");
        if (auto refusal = check_host(host ? *host : std::string())) return refusal;
    }
    return check_origin(request);
}

std::optional<handshake::Refusal> AccessPolicy::check_http(const http::Request& request) const {
    if (auto refusal = check(request)) return refusal;
    return check_fetch_site(request);
}

std::optional<handshake::Refusal> AccessPolicy::check_fetch_site(const http::Request& request) const {
    const std::string* site = request.headers.find("sec-fetch-site");
    if (site == nullptr || (*site != "cross-site" && *site != "same-site")) return std::nullopt;
    // A page from an allowed origin says so; the rest may only navigate here.
    if (request.headers.count("origin") == 1) {
        config::OriginRule origin;
        if (!config::parse_origin(*request.headers.find("origin"), false, origin) &&
            std::any_of(origins_.begin(), origins_.end(), [&](const config::OriginRule& r) { return r.matches(origin); })) {
            return std::nullopt;
        }
    }
    const std::string* mode = request.headers.find("sec-fetch-mode");
    if (mode != nullptr && *mode == "navigate" && request.method == "GET") return std::nullopt;
    return handshake::Refusal{403,
                              "a page on another site may only navigate to route \"" + route_name_ +
                                  "\", not fetch from it (Sec-Fetch-Site: " + http::quoted_value(*site) +
                                  ", Sec-Fetch-Mode: " + (mode ? http::quoted_value(*mode) : std::string("none")) +
                                  "); if you trust that page, add its origin to the route's allowed_origins",
                              {}};
}

bool AccessPolicy::is_own_origin(const config::OriginRule& origin) const {
    if (!own_origin_ || any_host_ || origin.scheme != "http") return false;
    uint16_t port = origin.port.value_or(80);
    return port == port_ && host_allowed(config::HostRule{origin.host, port});
}

bool AccessPolicy::host_allowed(const config::HostRule& host) const {
    return std::any_of(hosts_.begin(), hosts_.end(), [&](const config::HostRule& rule) {
        if (rule.host != host.host) return false;
        if (rule.port) return host.port == rule.port;
        return !host.port || *host.port == port_;
    });
}

std::optional<handshake::Refusal> AccessPolicy::check_host(const std::string& value) const {
    config::HostRule host;
    if (!config::parse_host_rule(value, host) && host_allowed(host)) return std::nullopt;
    return handshake::Refusal{403,
                              "Host " + http::quoted_value(value) + " is not a name of this listener (" + describe_hosts() +
                                  "); a web page that rebinds its DNS name to this machine looks like this. If the "
                                  "name is yours, add it to allowed_hosts of route \"" + route_name_ + "\"",
                              {}};
}

std::optional<handshake::Refusal> AccessPolicy::check_origin(const http::Request& request) const {
    size_t count = request.headers.count("origin");
    if (count == 0) return std::nullopt;  // not a browser: a native app
    if (count > 1) return handshake::Refusal{403, "more than one Origin header", {}};
    const std::string& value = *request.headers.find("origin");
    config::OriginRule origin;
    bool parsed = !config::parse_origin(value, false, origin);
    bool allowed = parsed && (is_own_origin(origin) ||
                              std::any_of(origins_.begin(), origins_.end(),
                                          [&](const config::OriginRule& rule) { return rule.matches(origin); }));
    if (allowed) return std::nullopt;
    std::string reason = "Origin " + http::quoted_value(value) + " is not allowed: a web page from there may not use route \"" +
                         route_name_ + "\"";
    if (parsed) reason += "; if you trust that page, add " + origin.text() + " to the route's allowed_origins";
    return handshake::Refusal{403, std::move(reason), {}};
}

}  // namespace loopgate
